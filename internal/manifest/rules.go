package manifest

import (
	"strings"

	"portico/internal/upstream"
	"portico/internal/uritemplate"
)

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
	return f.outgoingNamed("outgoing-url", src)
}

func (f *fields) outgoingNamed(name, src string) *uritemplate.Template {
	t := f.template(name, src)
	if t == nil {
		return nil
	}
	if err := checkOutgoing(t, f.d.origins); err != nil {
		f.fail(name, err)
		return nil
	}
	return t
}

// fallbackBackend reads the optional fallback of a docker rule: a
// registry as "registry" takes it, other than primary.
func (f *fields) fallbackBackend(primary Backend) Backend {
	s, ok := f.optStrPresent("fallback")
	if !ok {
		return Backend{}
	}
	b, err := ParseBackend(s)
	if err != nil {
		f.fail("fallback", err)
		return Backend{}
	}
	if primary.Host != "" && strings.EqualFold(b.URL(), primary.URL()) {
		f.errorf("fallback", "is the rule's registry (%s): a fallback must be another registry", primary.URL())
		return Backend{}
	}
	return b
}

// fallbackIndex reads the optional fallback of a python-index-v1 or
// npm-v1 rule: an index or registry URL as the rule's own field takes it
// (defaultPath completing a bare host), on another origin than primary.
func (f *fields) fallbackIndex(defaultPath, primary string) (u, text string) {
	text, ok := f.optStrPresent("fallback")
	if !ok {
		return "", ""
	}
	u, err := ParseIndexURL(text, defaultPath)
	if err != nil {
		f.fail("fallback", err)
		return "", ""
	}
	if po, err := upstream.ParseOrigin(primary); err == nil {
		if fo, err := upstream.ParseOrigin(u); err == nil && fo == po {
			f.errorf("fallback", "is on the same host as the rule's own (%s): a fallback must be another host", po)
			return "", ""
		}
	}
	return u, text
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
