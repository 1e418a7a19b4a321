package file

import (
	"net/http"
	"strings"

	"portico/internal/gateway"
	"portico/internal/uritemplate"
)

// target is a compiled outgoing URL.
type target struct {
	tmpl *uritemplate.Template
	// dots lets values form "." and ".." path segments
	// (allow-dot-segments); otherwise an expansion with one fails and
	// the rule declines the request, as for a path it does not match.
	dots bool
	// origin is the expanded scheme://authority, fixed text by manifest
	// validation; every expansion is checked to still start with it.
	origin string
	// For a target without variables, the URL and its header value are
	// built once.
	fixed    bool
	fixedURL string
	fixedLoc []string
	fixedURI absURI
	fixedOK  bool
}

func newTarget(t *uritemplate.Template, allowDots bool) *target {
	tg := &target{tmpl: t, dots: allowDots}
	lead := t.ExpandEmpty()
	if !t.HasVars() {
		tg.fixed = true
		tg.fixedURL = lead
		tg.fixedLoc = []string{lead}
		tg.fixedURI, tg.fixedOK = parseAbsURI(lead)
	}
	// The origin ends at the first '/', '?' or '#' after "://"; a
	// variable may only follow it through one of those (manifest
	// validation), so the empty expansion shows where it ends.
	if i := strings.Index(lead, "://"); i >= 0 {
		end := strings.IndexAny(lead[i+3:], "/?#")
		if end < 0 {
			tg.origin = lead
		} else {
			tg.origin = lead[:i+3+end]
		}
	}
	return tg
}

// location returns where to redirect: the target expanded with vars and
// merged with the request query. A target without variables and a request
// without a query give a header value built once (shared). ok is false
// when the target needs a variable that the match left undefined, or a
// value would put a dot segment into the path without allow-dot-segments.
func (tg *target) location(req *gateway.Request, vars []uritemplate.Var) (loc string, shared []string, ok bool) {
	items := req.Query()
	if tg.fixed {
		if len(items) == 0 || !tg.fixedOK {
			return "", tg.fixedLoc, true
		}
		var buf []byte
		buf, req.Items = appendMerged(req.Buf[:0], tg.fixedURI, items, req.Items)
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
