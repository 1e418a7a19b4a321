package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// DecodeRule decodes one rule given on its own, as the API receives a
// package's rule and the store keeps it, with every check a manifest's
// rules get. When the rule has no "package-id", packageID stands for it
// (rules in the store are kept without one: the package's id is used);
// for docker-v2 rules, which have no package id, it stands for "rule-id".
// file names the rule's source in errors, which are *Error values as for
// Decode, with Rule 0.
func DecodeRule(file string, data []byte, packageID string) (Rule, error) {
	return decodeRule(&decoder{file: file}, data, packageID)
}

// A RuleDecoder decodes rules one by one as DecodeRule does, for a set
// of rules that are kept together, as a store's packages are in a
// table: rules with equal domain names share one string, as a
// manifest's do, and each backend origin is checked once. Use one per
// set; it is not safe for concurrent use.
type RuleDecoder struct {
	domains map[string]string
	origins map[string]error
}

// NewRuleDecoder returns a RuleDecoder with nothing seen yet.
func NewRuleDecoder() *RuleDecoder {
	return &RuleDecoder{domains: map[string]string{}, origins: map[string]error{}}
}

// Decode is DecodeRule, sharing what the rules decoded before had.
func (rd *RuleDecoder) Decode(file string, data []byte, packageID string) (Rule, error) {
	return decodeRule(&decoder{file: file, domains: rd.domains, origins: rd.origins}, data, packageID)
}

func decodeRule(d *decoder, data []byte, packageID string) (Rule, error) {
	file := d.file
	data = bytes.TrimSpace(data)
	if !json.Valid(data) {
		var v any
		return nil, d.documentError(data, json.Unmarshal(data, &v))
	}
	if jsonKind(data) != "object" {
		return nil, &Error{File: file, Rule: 0, Err: fmt.Errorf("a rule must be a JSON object, not %s", jsonKind(data))}
	}
	ms, ok := members(data, nil)
	if !ok {
		d.errorf(0, "", "", "cannot read the rule")
		return nil, errors.Join(d.errs...)
	}
	if idKey := idField(ms); packageID != "" && !hasMember(ms, idKey) {
		id, err := json.Marshal(packageID)
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{key: idKey, raw: id})
	}
	r := d.ruleOf(0, ms)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return r, nil
}

// HasID reports whether a rule given on its own names its own id: a
// "package-id", or a docker-v2 rule's "rule-id". DecodeRule fills in the
// id it is given otherwise, so only this tells a rule whose id happens to
// equal that value from one without an id.
func HasID(data []byte) bool {
	ms, ok := members(bytes.TrimSpace(data), nil)
	return ok && hasMember(ms, idField(ms))
}

// idField returns the key of the rule's identity: "rule-id" for
// docker-v2 rules, "package-id" for the others.
func idField(ms []member) string {
	for _, m := range ms {
		if m.key == "type" {
			if t, _ := jsonString(m.raw); t == TypeDockerV2 {
				return "rule-id"
			}
		}
	}
	return "package-id"
}

// hasMember reports whether ms has the key.
func hasMember(ms []member, key string) bool {
	for _, m := range ms {
		if m.key == key {
			return true
		}
	}
	return false
}

// EncodeRule writes one rule as compact JSON, as a manifest holds it.
// DecodeRule reads it back to an equal rule.
func EncodeRule(r Rule) ([]byte, error) {
	var b bytes.Buffer
	o := ruleObject(r)
	if err := o.writeTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ruleObject lays r out as a manifest holds it: type, domain, https-only
// when set, the rule's own fields, then its extensions.
func ruleObject(r Rule) *object {
	o := &object{}
	o.add("type", r.Type())
	c := r.Common()
	o.add("domain", c.Domain)
	if c.HTTPSOnly {
		o.add("https-only", true)
	}
	r.encode(o)
	for _, k := range sortedKeys(c.Extensions) {
		o.raw(k, c.Extensions[k])
	}
	return o
}

// PackageID returns the rule's package id ("" for pixel and scarf-js
// rules without one), or for a docker-v2 rule its rule id.
func PackageID(r Rule) string {
	switch r := r.(type) {
	case *DockerV2:
		return r.RuleID
	case *DockerV1:
		return r.PackageID
	case *FileV1:
		return r.PackageID
	case *FileV2:
		return r.PackageID
	case *CatchAll:
		return r.PackageID
	case *PythonV1:
		return r.PackageID
	case *PythonIndex:
		return r.PackageID
	case *NPM:
		return r.PackageID
	case *Telemetry:
		return r.PackageID
	case *Pixel:
		return r.PackageID
	case *ScarfJS:
		return r.PackageID
	}
	return ""
}

// SetPackageID sets the rule's package id, or a docker-v2 rule's rule
// id.
func SetPackageID(r Rule, id string) {
	switch r := r.(type) {
	case *DockerV2:
		r.RuleID = id
	case *DockerV1:
		r.PackageID = id
	case *FileV1:
		r.PackageID = id
	case *FileV2:
		r.PackageID = id
	case *CatchAll:
		r.PackageID = id
	case *PythonV1:
		r.PackageID = id
	case *PythonIndex:
		r.PackageID = id
	case *NPM:
		r.PackageID = id
	case *Telemetry:
		r.PackageID = id
	case *Pixel:
		r.PackageID = id
	case *ScarfJS:
		r.PackageID = id
	}
}

// EncodeRuleWithoutID writes one rule like EncodeRule, without its
// package id (or a docker-v2 rule's rule id): the form in which the store
// keeps the rules of packages, whose ids are the packages' own.
func EncodeRuleWithoutID(r Rule) ([]byte, error) {
	b, err := EncodeRule(r)
	if err != nil {
		return nil, err
	}
	key := "package-id"
	if r.Type() == TypeDockerV2 {
		key = "rule-id"
	}
	ms, ok := members(b, nil)
	if !ok {
		return nil, fmt.Errorf("encoded rule %s is not an object", b)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	n := 0
	for _, m := range ms {
		if m.key == key {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(m.raw)
		n++
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
