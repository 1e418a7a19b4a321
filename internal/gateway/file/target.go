package file

import (
	"net/http"
	"strings"

	"portico/internal/gateway"
	"portico/internal/uritemplate"
)

// target is a compiled outgoing URL.
type target struct {
	tmpl *uritemplate.Template // nil: no outgoing URL
	// origin is the expanded scheme://authority, fixed text by manifest
	// validation; every expansion is checked to still start with it. It
	// is part of the template's own text where it can be.
	origin string
	// fixed holds, for a target without variables, the URL and its
	// header value, built once.
	fixed *fixedTarget
	// dots lets values form "." and ".." path segments
	// (allow-dot-segments); otherwise an expansion with one fails and
	// the rule declines the request, as for a path it does not match.
	dots bool
}

type fixedTarget struct {
	url string
	loc []string
	uri absURI
	ok  bool
}

// newTarget compiles an outgoing URL. ownOrigin reports that the origin
// is not a prefix of the template's leading literal, where it usually
// is.
func newTarget(t *uritemplate.Template, allowDots bool) (tg target, ownOrigin bool) {
	tg = target{tmpl: t, dots: allowDots}
	lead := t.LeadingLiteral()
	if !t.HasVars() {
		// The leading literal is the whole URL.
		tg.fixed = &fixedTarget{url: lead, loc: []string{lead}}
		tg.fixed.uri, tg.fixed.ok = parseAbsURI(lead)
	}
	// The origin ends at the first '/', '?' or '#' after "://"; a
	// variable may only follow it through one of those (manifest
	// validation), so the empty expansion shows where it ends. Where the
	// leading literal shows it, the empty expansion is not needed.
	tg.origin = originOf(lead)
	if tg.origin == "" || tg.origin == lead && t.HasVars() {
		o := originOf(t.ExpandEmpty())
		if !strings.HasPrefix(lead, o) {
			return target{tmpl: t, origin: o, fixed: tg.fixed, dots: allowDots}, true
		}
		tg.origin = lead[:len(o)]
	}
	return tg, false
}

// originOf returns the scheme://authority that url starts with: up to
// the first '/', '?' or '#' after "://", or all of it; "" without
// "://".
func originOf(url string) string {
	i := strings.Index(url, "://")
	if i < 0 {
		return ""
	}
	if end := strings.IndexAny(url[i+3:], "/?#"); end >= 0 {
		return url[:i+3+end]
	}
	return url
}

// location returns where to redirect: the target expanded with vars and
// merged with the request query. A target without variables and a request
// without a query give a header value built once (shared). ok is false
// when the target needs a variable that the match left undefined, or a
// value would put a dot segment into the path without allow-dot-segments.
func (tg *target) location(req *gateway.Request, vars []uritemplate.Var) (loc string, shared []string, ok bool) {
	items := req.Query()
	if f := tg.fixed; f != nil {
		if len(items) == 0 || !f.ok {
			return "", f.loc, true
		}
		var buf []byte
		buf, req.Items = appendMerged(req.Buf[:0], f.uri, items, req.Items)
		req.Buf = buf
		return string(buf), nil, true
	}
	var expanded []byte
	if tg.dots {
		expanded, ok = tg.tmpl.AppendExpand(req.Buf[:0], vars)
	} else {
		expanded, ok = tg.tmpl.AppendExpandNoDots(req.Buf[:0], vars)
	}
	req.Buf = expanded
	if !ok || !sameOrigin(expanded, tg.origin) {
		return "", nil, false
	}
	loc = string(expanded)
	if len(items) > 0 {
		if u, ok := parseAbsURI(loc); ok {
			var buf []byte
			buf, req.Items = appendMerged(expanded[:0], u, items, req.Items)
			req.Buf = buf
			loc = string(buf)
		}
	}
	return loc, nil, true
}

// redirect writes the 307 for a location returned by location.
func redirect(w http.ResponseWriter, loc string, shared []string) {
	if shared != nil {
		gateway.RedirectShared(w, shared)
		return
	}
	gateway.Redirect(w, loc)
}

// sameOrigin reports whether url starts with origin followed by the end of
// the URL or a '/', '?' or '#'. Manifest validation already guarantees it;
// checking costs nothing and keeps a redirect on its host whatever a
// future change to expansion does.
func sameOrigin(url []byte, origin string) bool {
	if origin == "" || len(url) < len(origin) || string(url[:len(origin)]) != origin {
		return false
	}
	if len(url) == len(origin) {
		return true
	}
	switch url[len(origin)] {
	case '/', '?', '#':
		return true
	}
	return false
}
