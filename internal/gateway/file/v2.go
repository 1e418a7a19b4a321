package file

import (
	"net/http"
	"regexp"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/uritemplate"
)

// V2 serves a file-v2 rule: a regular expression searched in the raw path.
type V2 struct {
	packageID string
	re        *regexp.Regexp
	names     []string
	target    target // without a template: answer 200 without a redirect
	fallback  *fallback
}

// NewV2 compiles a file-v2 rule.
func NewV2(r *manifest.FileV2) *V2 {
	v := &V2{packageID: r.PackageID, re: r.Regexp, names: r.Regexp.SubexpNames()}
	if r.OutgoingURL != nil {
		v.target, _ = newTarget(r.OutgoingURL, r.AllowDotSegments)
	}
	return v
}

// Serve implements gateway.Rule.
func (v *V2) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	if !req.ValidPath() {
		return gateway.Result{}, false
	}
	m := v.firstNonEmptyMatch(req.RawPath)
	if m == nil {
		return gateway.Result{}, false
	}
	vars := v.bind(req.TVars[:0], req.RawPath, m)
	req.TVars = vars
	res := gateway.Result{Event: event.Event{Kind: event.KindFile, PackageID: v.packageID, Variables: copyVars(vars)}}
	if v.target.tmpl == nil {
		w.WriteHeader(http.StatusOK)
		res.Status, res.Outcome = http.StatusOK, event.OutcomeServe
		return res, true
	}
	loc, shared, ok := v.fallback.choose(&v.target).location(req, vars)
	if !ok {
		return gateway.Result{}, false
	}
	redirect(w, loc, shared)
	res.Status, res.Outcome = http.StatusTemporaryRedirect, event.OutcomeRedirect
	return res, true
}

// firstNonEmptyMatch returns the submatch indexes of the leftmost match
// that is not empty. Scarf's PCRE search refuses empty matches; RE2 has no
// such flag, so empty matches are skipped and the search goes on.
func (v *V2) firstNonEmptyMatch(s string) []int {
	m := v.re.FindStringSubmatchIndex(s)
	if m == nil || m[1] > m[0] {
		return m
	}
	for _, m := range v.re.FindAllStringSubmatchIndex(s, -1) {
		if m[1] > m[0] {
			return m
		}
	}
	return nil
}

// bind returns the named groups in group order. A group that did not take
// part in the match is bound to "" unless no later group took part, in
// which case it is left out, as PCRE reports groups.
func (v *V2) bind(dst []uritemplate.Var, s string, m []int) []uritemplate.Var {
	last := 0
	for g := 1; g < len(m)/2; g++ {
		if m[2*g] >= 0 {
			last = g
		}
	}
	for g := 1; g <= last; g++ {
		name := v.names[g]
		if name == "" {
			continue
		}
		val := ""
		if m[2*g] >= 0 {
			val = s[m[2*g]:m[2*g+1]]
		}
		dst = append(dst, uritemplate.Var{Name: name, Value: val})
	}
	return dst
}
