package manifest

import (
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
	t := f.template("outgoing-url", src)
	if t == nil {
		return nil
	}
	if err := checkOutgoing(t, f.d.origins); err != nil {
		f.fail("outgoing-url", err)
		return nil
	}
	return t
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
