package manifest

import (
	"strings"

	"portico/internal/imagepattern"
	"portico/internal/uritemplate"
)

func (f *fields) dockerV1() Rule {
	r := &DockerV1{Base: f.base()}
	r.PackageID = f.str("package-id")
	r.RepositoryName = f.nonEmpty("repository-name")
	if r.RepositoryName != "" {
		if err := checkRepositoryName(r.RepositoryName); err != nil {
			f.fail("repository-name", err)
		}
	}
	r.Registry = f.backend("registry")
	r.AlwaysProxy = f.flag("always-proxy")
	r.PackageName = f.optStr("package-name")
	r.Owner = f.optStr("owner")
	return r
}

func (f *fields) dockerV2() Rule {
	r := &DockerV2{Base: f.base()}
	var ok bool
	if r.PatternText, ok = f.strOK("pattern"); ok {
		p, err := imagepattern.Parse(r.PatternText)
		if err != nil {
			f.fail("pattern", err)
		}
		r.Pattern = p
	}
	r.RuleID = f.str("rule-id")
	r.Registry = f.backend("registry")
	r.AlwaysProxy = f.flag("always-proxy")
	r.Owner = f.optStr("owner")
	return r
}

func (f *fields) fileV1() Rule {
	r := &FileV1{Base: f.base()}
	if src, ok := f.strOK("incoming-path"); ok {
		r.IncomingPath = f.template("incoming-path", src)
		if r.IncomingPath != nil && !strings.HasPrefix(src, "/") {
			f.errorf("incoming-path", "must start with '/'")
		}
	}
	if src, isNull := f.nullableStr("outgoing-url"); !isNull {
		r.OutgoingURL = f.outgoing(src)
		if r.OutgoingURL != nil && r.IncomingPath != nil {
			bound := r.IncomingPath.Vars()
			for _, v := range r.OutgoingURL.Vars() {
				if !contains(bound, v) {
					f.errorf("outgoing-url", "uses variable %q, which incoming-path does not bind", v)
				}
			}
		}
	}
	r.PackageID = f.str("package-id")
	r.PackageName = f.optStr("package-name")
	r.Owner = f.optStr("owner")
	return r
}

func (f *fields) fileV2() Rule {
	r := &FileV2{Base: f.base()}
	var ok bool
	if r.IncomingPath, ok = f.strOK("incoming-path"); ok {
		re, err := compileRegexp(r.IncomingPath)
		if err != nil {
			f.fail("incoming-path", err)
		}
		r.Regexp = re
	}
	if src, isNull := f.nullableStr("outgoing-url"); !isNull {
		r.OutgoingURL = f.outgoing(src)
		if r.OutgoingURL != nil && r.Regexp != nil {
			groups := r.Regexp.SubexpNames()
			for _, v := range r.OutgoingURL.Vars() {
				if !contains(groups, v) {
					f.errorf("outgoing-url", "uses variable %q, which is not a named group of incoming-path", v)
				}
			}
		}
	}
	r.PackageID = f.str("package-id")
	r.PackageName = f.optStr("package-name")
	r.Owner = f.optStr("owner")
	return r
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

func (f *fields) catchAll() Rule {
	r := &CatchAll{Base: f.base()}
	r.PackageID = f.str("package-id")
	r.RedirectTargetDomain = f.optStr("redirect-target-domain")
	if r.RedirectTargetDomain != "" {
		if err := checkTargetDomain(r.RedirectTargetDomain); err != nil {
			f.fail("redirect-target-domain", err)
		}
	}
	r.PackageName = f.optStr("package-name")
	r.Owner = f.optStr("owner")
	return r
}

func (f *fields) telemetry() Rule {
	r := &Telemetry{Base: f.base()}
	if p, ok := f.strOK("incoming-path"); ok {
		if !strings.HasPrefix(p, "/") {
			f.errorf("incoming-path", "must start with '/'")
		}
		r.IncomingPath = p
	}
	r.PackageID = f.str("package-id")
	// Absent and null both let anyone post; [] lets nobody post.
	r.AccessTokens = f.optStrList("access-tokens", checkToken)
	return r
}

// flag reads an optional boolean that defaults to false.
func (f *fields) flag(name string) bool {
	b := f.optBool(name)
	return b != nil && *b
}

func (f *fields) backend(name string) Backend {
	s, ok := f.strOK(name)
	if !ok {
		return Backend{}
	}
	b, err := ParseBackend(s)
	if err != nil {
		f.fail(name, err)
	}
	return b
}

func (f *fields) template(name, src string) *uritemplate.Template {
	t, err := uritemplate.Parse(src)
	if err != nil {
		f.fail(name, err)
		return nil
	}
	return t
}

func (f *fields) outgoing(src string) *uritemplate.Template {
	t := f.template("outgoing-url", src)
	if t == nil {
		return nil
	}
	if err := CheckOutgoing(t); err != nil {
		f.fail("outgoing-url", err)
		return nil
	}
	return t
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
