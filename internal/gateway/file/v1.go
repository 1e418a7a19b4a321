package file

import (
	"net/http"
	"strings"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/query"
	"portico/internal/uritemplate"
)

// V1 serves a file-v1 rule. It keeps the rule it was compiled from and
// what matching and redirecting need beyond it, in as little as it can:
// a gateway may hold a hundred thousand.
type V1 struct {
	rule *manifest.FileV1
	// extra is nil for the common rule: a package's rule (not a
	// collection's) with an incoming path with variables and no query
	// part matched item by item, and an outgoing URL, if any, with
	// variables and an origin that starts its leading literal.
	extra *v1Extra
	// originLen is the length of the target's origin at the start of
	// the outgoing URL's leading literal, unless extra holds the origin.
	originLen     uint16
	capturesQuery bool
}

// v1Extra is what a rule of a rarer shape needs.
type v1Extra struct {
	// static is set when the incoming path has no variables: it then
	// matches exactly one raw path, plus the parameters of its query.
	static      bool
	staticPath  string
	staticQuery []query.Item

	// With a query part that splits into items, the path and each
	// parameter are matched separately, so parameter order does not
	// matter (split). Otherwise the whole template is matched against
	// path+query, as Scarf does.
	split      bool
	pathT      *uritemplate.Template
	queryItems []uritemplate.QueryItem

	// fixed is the target's, when its URL has no variables.
	fixed *fixedTarget
	// origin is the target's when it does not start the leading literal
	// (ownOrigin).
	origin    string
	ownOrigin bool

	// collection is the id of the collection the rule was compiled from
	// (NewCollection), "" for a package's rule.
	collection string

	// fallback is set for a rule with a fallback URL (SetFallback).
	fallback *fallback
}

// NewV1 compiles a file-v1 rule.
func NewV1(r *manifest.FileV1) *V1 {
	v := &V1{rule: r, capturesQuery: r.IncomingPath.CapturesQuery()}
	var x v1Extra
	if r.OutgoingURL != nil {
		tg, own := newTarget(r.OutgoingURL, r.AllowDotSegments)
		x.fixed = tg.fixed
		if own {
			x.origin, x.ownOrigin = tg.origin, true
		} else {
			v.originLen = uint16(len(tg.origin))
		}
	}
	if !r.IncomingPath.HasVars() {
		// Without variables the leading literal is the whole path.
		path, q, _ := strings.Cut(r.IncomingPath.LeadingLiteral(), "?")
		x.static, x.staticPath = true, path
		if v.capturesQuery {
			x.staticQuery = query.Parse(q)
		}
	} else if v.capturesQuery {
		x.pathT, x.queryItems, x.split = r.IncomingPath.SplitQuery()
	}
	if x.static || x.split || x.fixed != nil || x.ownOrigin {
		// A copy, so that x stays on the stack for the common rule.
		v.extra = new(v1Extra)
		*v.extra = x
	}
	return v
}

// target returns the rule's outgoing URL.
func (v *V1) target() target {
	tg := target{tmpl: v.rule.OutgoingURL, dots: v.rule.AllowDotSegments}
	if tg.tmpl == nil {
		return tg
	}
	if x := v.extra; x != nil {
		tg.fixed = x.fixed
		if x.ownOrigin {
			tg.origin = x.origin
			return tg
		}
	}
	tg.origin = tg.tmpl.LeadingLiteral()[:v.originLen]
	return tg
}

// Serve implements gateway.Rule.
func (v *V1) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	if !req.ValidPath() {
		return gateway.Result{}, false
	}
	vars := req.TVars[:0]
	if x := v.extra; x != nil && x.static {
		if !x.staticMatch(req) {
			return gateway.Result{}, false
		}
	} else {
		var ok bool
		switch {
		case !v.capturesQuery:
			vars, ok = v.rule.IncomingPath.MatchAppend(vars, req.RawPath)
		case x != nil && x.split:
			vars, ok = x.matchSplit(vars, req)
		default:
			vars, ok = v.rule.IncomingPath.MatchAppend(vars, req.RawPath+req.RawQuery)
		}
		// A parse that binds nothing counts as no match, as in Scarf.
		if !ok || len(vars) == 0 {
			return gateway.Result{}, false
		}
	}
	req.TVars = vars

	var collected gateway.Collected
	if x := v.extra; x != nil && x.collection != "" {
		name, ok := varValue(vars, CollectionVar)
		if !ok || !collectionName(name) {
			// No package could be created for it: the collection
			// does not serve it.
			return gateway.Result{}, false
		}
		collected = gateway.Collected{Collection: x.collection, Artifact: name}
	}
	res := gateway.Result{
		Event:     event.Event{Kind: event.KindFile, PackageID: v.rule.PackageID, Variables: copyVars(vars)},
		Collected: collected,
	}
	if collected.Collection != "" {
		res.Event.PackageID = gateway.CollectionPackageID(collected.Collection, collected.Artifact)
		res.Event.RuleID = collected.Collection
	}
	tg := v.target()
	if tg.tmpl == nil {
		// The body is read before anything is written: HTTP/1 clients
		// may stop sending it once the response has begun.
		var err error
		if res.Payloads, err = readBodyObjects(w, req); err != nil {
			return bodyTimedOut(w, res), true
		}
		w.WriteHeader(http.StatusOK)
		res.Status, res.Outcome = http.StatusOK, event.OutcomeServe
		return res, true
	}
	if x := v.extra; x != nil && x.fallback != nil {
		tg = *x.fallback.choose(&tg)
	}
	loc, shared, ok := tg.location(req, vars)
	if !ok {
		return gateway.Result{}, false
	}
	var err error
	if res.Payloads, err = readBodyObjects(w, req); err != nil {
		return bodyTimedOut(w, res), true
	}
	redirect(w, loc, shared)
	res.Status, res.Outcome = http.StatusTemporaryRedirect, event.OutcomeRedirect
	return res, true
}

// staticMatch requires the exact raw path and, when the template has a
// query, each of its parameters with an equal value (in any order, extra
// parameters allowed; of repeated request parameters the last counts).
func (s *v1Extra) staticMatch(req *gateway.Request) bool {
	if req.RawPath != s.staticPath {
		return false
	}
	if len(s.staticQuery) == 0 {
		return true
	}
	got := req.Query()
	for _, want := range s.staticQuery {
		it, ok := lastItem(got, want.Key)
		if !ok || it.Value != want.Value {
			return false
		}
	}
	return true
}

// matchSplit matches the path template, then each query item against the
// raw value of its parameter.
func (s *v1Extra) matchSplit(vars []uritemplate.Var, req *gateway.Request) ([]uritemplate.Var, bool) {
	vars, ok := s.pathT.MatchAppend(vars, req.RawPath)
	if !ok {
		return vars, false
	}
	raw := rawParams(req.RawQuery, req.Items[:0])
	req.Items = raw
	for _, it := range s.queryItems {
		// The first occurrence counts, as when the request query is
		// merged into the redirect, so the two always agree.
		p, found := firstItem(raw, it.Key)
		if !found {
			if it.Optional {
				continue
			}
			return vars, false
		}
		if it.Value == nil {
			if p.HasValue {
				return vars, false
			}
			continue
		}
		if !p.HasValue {
			return vars, false
		}
		before := len(vars)
		vars, ok = it.Value.MatchAppend(vars, p.Value)
		if !ok || !consistent(vars, before) {
			return vars, false
		}
	}
	return vars, true
}

// rawParams splits a raw query into items whose keys are decoded and whose
// values stay encoded, for matching against value templates.
func rawParams(rawQuery string, dst []query.Item) []query.Item {
	q := strings.TrimPrefix(rawQuery, "?")
	for q != "" {
		i := strings.IndexAny(q, "&;")
		piece := q
		if i >= 0 {
			piece, q = q[:i], q[i+1:]
		} else {
			q = ""
		}
		k, val, hasValue := strings.Cut(piece, "=")
		dst = append(dst, query.Item{Key: query.Unescape(k), Value: val, HasValue: hasValue})
	}
	return dst
}

// consistent reports whether the variables bound from index from on agree
// with those bound before it; a name bound twice must have one value.
func consistent(vars []uritemplate.Var, from int) bool {
	for _, nv := range vars[from:] {
		for _, ov := range vars[:from] {
			if ov.Name == nv.Name && ov.Value != nv.Value {
				return false
			}
		}
	}
	return true
}

func firstItem(items []query.Item, key string) (query.Item, bool) {
	for _, it := range items {
		if it.Key == key {
			return it, true
		}
	}
	return query.Item{}, false
}

func lastItem(items []query.Item, key string) (query.Item, bool) {
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].Key == key {
			return items[i], true
		}
	}
	return query.Item{}, false
}

// copyVars copies matched variables into the event, keeping the first
// binding of a name bound more than once.
func copyVars(vars []uritemplate.Var) []event.Var {
	if len(vars) == 0 {
		return nil
	}
	out := make([]event.Var, 0, len(vars))
outer:
	for _, v := range vars {
		for _, o := range out {
			if o.Name == v.Name {
				continue outer
			}
		}
		out = append(out, event.Var{Name: v.Name, Value: v.Value})
	}
	return out
}
