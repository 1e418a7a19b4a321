package manifest

import "strings"

// PythonV1 is one distribution file of a Python project; all python-v1
// rules of a domain form one simple repository.
type PythonV1 struct {
	Base
	PackageName string
	FileName    string
	Version     string
	BackendURL  string
	PackageID   string
	HashValue   *Hash
	GPGSig      *bool
	// RequiresPython is nil when absent or null.
	RequiresPython        *string
	BackendSimpleIndexURL string
	Owner                 string
}

func (*PythonV1) Type() string { return TypePythonV1 }

func (r *PythonV1) encode(o *object) {
	o.add("package-name", r.PackageName)
	o.add("file-name", r.FileName)
	o.add("version", r.Version)
	o.add("backend-url", r.BackendURL)
	o.add("package-id", r.PackageID)
	if r.HashValue != nil {
		o.add("hash-value", r.HashValue)
	}
	if r.GPGSig != nil {
		o.add("gpg-sig", *r.GPGSig)
	}
	if r.RequiresPython != nil {
		o.add("requires-python", *r.RequiresPython)
	}
	o.add("backend-simple-index-url", r.BackendSimpleIndexURL)
	o.opt("owner", r.Owner)
}

// Hash is a python-v1 file hash, rendered as "#type=hash" in links.
type Hash struct {
	Type string `json:"type"`
	Hash string `json:"hash"`
}

func (f *fields) pythonV1() Rule {
	r := &PythonV1{Base: f.base()}
	r.PackageName = f.nonEmpty("package-name")
	r.FileName = f.nonEmpty("file-name")
	if strings.ContainsAny(r.FileName, "/\\") {
		f.errorf("file-name", "must be a file name, not a path: %q", r.FileName)
	}
	r.Version = f.str("version")
	if u, ok := f.strOK("backend-url"); ok {
		if err := checkAbsoluteURL(u); err != nil {
			f.fail("backend-url", err)
		}
		r.BackendURL = u
	}
	r.PackageID = f.str("package-id")
	r.HashValue = f.hash("hash-value")
	r.GPGSig = f.optBool("gpg-sig")
	if s, ok := f.optStrPresent("requires-python"); ok {
		r.RequiresPython = &s
	}
	r.BackendSimpleIndexURL = f.optStr("backend-simple-index-url")
	r.Owner = f.optStr("owner")
	return r
}

func (f *fields) hash(name string) *Hash {
	raw, ok := f.take(name)
	if !ok || jsonKind(raw) == "null" {
		return nil
	}
	if jsonKind(raw) != "object" {
		f.errorf(name, "must be an object {\"type\": ..., \"hash\": ...} or null, not %s", jsonKind(raw))
		return nil
	}
	ms, ok := members(raw, nil)
	if !ok {
		f.errorf(name, "cannot read the object")
		return nil
	}
	sub := &fields{d: f.d, rule: f.rule, typ: f.typ, m: ms}
	h := &Hash{}
	for _, k := range []string{"type", "hash"} {
		v, ok := sub.take(k)
		if !ok {
			f.errorf(name+"."+k, "missing")
			continue
		}
		s, ok := jsonString(v)
		if !ok || s == "" {
			f.errorf(name+"."+k, "must be a non-empty string")
			continue
		}
		if k == "type" {
			h.Type = s
		} else {
			h.Hash = s
		}
	}
	for _, mb := range sub.m {
		f.errorf(name+"."+mb.key, "unknown field")
	}
	return h
}
