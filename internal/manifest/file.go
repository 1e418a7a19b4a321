package manifest

import (
	"portico/internal/uritemplate"
	"regexp"
	"strings"
)

// FileV1 redirects paths that match an RFC 6570 template.
type FileV1 struct {
	Base
	IncomingPath *uritemplate.Template
	// OutgoingURL is nil when the manifest has null: matching requests
	// are answered 200 without a redirect.
	OutgoingURL *uritemplate.Template
	// AllowDotSegments lets variables put "." and ".." segments into
	// the outgoing URL's path; without it such a request matches no
	// rule.
	AllowDotSegments bool
	// Fallback is where requests are redirected while OutgoingURL's
	// host fails its probes; nil when the rule has none.
	Fallback    *uritemplate.Template
	PackageID   string
	PackageName string
	Owner       string
}

func (*FileV1) Type() string { return TypeFileV1 }

func (r *FileV1) encode(o *object) {
	o.add("incoming-path", r.IncomingPath.String())
	if r.OutgoingURL != nil {
		o.add("outgoing-url", r.OutgoingURL.String())
	} else {
		o.add("outgoing-url", nil)
	}
	o.flag("allow-dot-segments", r.AllowDotSegments)
	if r.Fallback != nil {
		o.add("fallback", r.Fallback.String())
	}
	o.add("package-id", r.PackageID)
	o.opt("package-name", r.PackageName)
	o.opt("owner", r.Owner)
}

// FileV2 redirects paths that match a regular expression.
type FileV2 struct {
	Base
	// IncomingPath is the expression as written; Regexp is compiled from
	// it with surrounding white space trimmed.
	IncomingPath string
	Regexp       *regexp.Regexp
	OutgoingURL  *uritemplate.Template
	// AllowDotSegments is as for FileV1.
	AllowDotSegments bool
	// Fallback is as for FileV1.
	Fallback    *uritemplate.Template
	PackageID   string
	PackageName string
	Owner       string
}

func (*FileV2) Type() string { return TypeFileV2 }

func (r *FileV2) encode(o *object) {
	o.add("incoming-path", r.IncomingPath)
	if r.OutgoingURL != nil {
		o.add("outgoing-url", r.OutgoingURL.String())
	} else {
		o.add("outgoing-url", nil)
	}
	o.flag("allow-dot-segments", r.AllowDotSegments)
	if r.Fallback != nil {
		o.add("fallback", r.Fallback.String())
	}
	o.add("package-id", r.PackageID)
	o.opt("package-name", r.PackageName)
	o.opt("owner", r.Owner)
}

// CatchAll takes every request of its domain that no other rule took.
type CatchAll struct {
	Base
	PackageID string
	// RedirectTargetDomain is a host, optionally with a port and a path
	// prefix; "" answers 200 without a redirect.
	RedirectTargetDomain string
	PackageName          string
	Owner                string
}

func (*CatchAll) Type() string { return TypeCatchAllV1 }

func (r *CatchAll) encode(o *object) {
	o.add("package-id", r.PackageID)
	o.opt("redirect-target-domain", r.RedirectTargetDomain)
	o.opt("package-name", r.PackageName)
	o.opt("owner", r.Owner)
}

func (f *fields) fileV1() Rule {
	r := &FileV1{Base: f.base()}
	if src, ok := f.strOK("incoming-path"); ok {
		r.IncomingPath = f.template("incoming-path", src)
		if r.IncomingPath != nil && !strings.HasPrefix(src, "/") {
			f.errorf("incoming-path", "must start with '/'")
		}
	}
	var bound func(string) bool
	if r.IncomingPath != nil {
		bound = r.IncomingPath.HasVar
	}
	r.OutgoingURL = f.outgoingURL(bound, "incoming-path does not bind")
	r.AllowDotSegments = f.allowDotSegments(r.OutgoingURL)
	r.Fallback = f.fallbackURL(r.OutgoingURL, bound, "incoming-path does not bind")
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
	var bound func(string) bool
	if r.Regexp != nil {
		groups := r.Regexp.SubexpNames()
		bound = func(v string) bool { return contains(groups, v) }
	}
	r.OutgoingURL = f.outgoingURL(bound, "is not a named group of incoming-path")
	r.AllowDotSegments = f.allowDotSegments(r.OutgoingURL)
	r.Fallback = f.fallbackURL(r.OutgoingURL, bound, "is not a named group of incoming-path")
	r.PackageID = f.str("package-id")
	r.PackageName = f.optStr("package-name")
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

// outgoingURL reads the required, nullable outgoing-url: nil for null.
// When the incoming path compiled (bound is not nil), every variable the
// URL uses must be bound; unbound explains the problem otherwise.
func (f *fields) outgoingURL(bound func(string) bool, unbound string) *uritemplate.Template {
	src, isNull := f.nullableStr("outgoing-url")
	if isNull {
		return nil
	}
	return f.boundOutgoing("outgoing-url", src, bound, unbound)
}

// boundOutgoing compiles the outgoing URL template src of field name and
// checks that every variable it uses is bound.
func (f *fields) boundOutgoing(name, src string, bound func(string) bool, unbound string) *uritemplate.Template {
	t := f.outgoingNamed(name, src)
	if t == nil || bound == nil {
		return t
	}
	for _, v := range t.Vars() {
		if !bound(v) {
			f.errorf(name, "uses variable %q, which %s", v, unbound)
		}
	}
	return t
}

// fallbackURL reads the optional fallback of a file rule: an outgoing
// URL template checked as outgoing-url is, with the same variables, on
// another origin.
func (f *fields) fallbackURL(out *uritemplate.Template, bound func(string) bool, unbound string) *uritemplate.Template {
	src, ok := f.optStrPresent("fallback")
	if !ok {
		return nil
	}
	if out == nil {
		f.errorf("fallback", "has no effect: the rule has no outgoing-url to fall back from")
		return nil
	}
	t := f.boundOutgoing("fallback", src, bound, unbound)
	if t == nil {
		return nil
	}
	if originOfTemplate(t) == originOfTemplate(out) {
		f.errorf("fallback", "is on the same host as outgoing-url (%s): a fallback must be another host", originOfTemplate(out))
		return nil
	}
	return t
}

// originOfTemplate returns the scheme://authority of an outgoing URL
// template, which validation keeps fixed, in lower case.
func originOfTemplate(t *uritemplate.Template) string {
	u := t.ExpandEmpty()
	i := strings.Index(u, "://")
	if i < 0 {
		return strings.ToLower(u)
	}
	if end := strings.IndexAny(u[i+3:], "/?#"); end >= 0 {
		u = u[:i+3+end]
	}
	return strings.ToLower(u)
}

// allowDotSegments reads the optional allow-dot-segments flag, which only
// means something for an outgoing URL with variables (null, or one that
// failed to compile, is reported elsewhere or has nothing to allow).
func (f *fields) allowDotSegments(out *uritemplate.Template) bool {
	allow := f.flag("allow-dot-segments")
	if allow && out != nil && !out.HasVars() {
		f.errorf("allow-dot-segments", "has no effect: outgoing-url has no variables")
	}
	return allow
}
