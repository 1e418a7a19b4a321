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

// V1 serves a file-v1 rule.
type V1 struct {
	packageID string
	incoming  *uritemplate.Template
	target    *target // nil: answer 200 without a redirect
	// collection is the id of the collection the rule was compiled from
	// (NewCollection), "" for a package's rule.
	collection string

	// static is set when the incoming path has no variables: it then
	// matches exactly one raw path, plus the parameters of its query.
	static      bool
	staticPath  string
	staticQuery []query.Item

	capturesQuery bool
	// With a query part that splits into items, the path and each
	// parameter are matched separately, so parameter order does not
	// matter. Otherwise the whole template is matched against
	// path+query, as Scarf does.
	split      bool
	pathT      *uritemplate.Template
	queryItems []uritemplate.QueryItem
}

// NewV1 compiles a file-v1 rule.
func NewV1(r *manifest.FileV1) *V1 {
	v := &V1{packageID: r.PackageID, incoming: r.IncomingPath}
	if r.OutgoingURL != nil {
		v.target = newTarget(r.OutgoingURL, r.AllowDotSegments)
	}
	v.capturesQuery = r.IncomingPath.CapturesQuery()
	if !r.IncomingPath.HasVars() {
		v.static = true
		lit := r.IncomingPath.ExpandEmpty()
		path, q, _ := strings.Cut(lit, "?")
		v.staticPath = path
		if v.capturesQuery {
			v.staticQuery = query.Parse(q)
		}
		return v
	}
	if v.capturesQuery {
		v.pathT, v.queryItems, v.split = r.IncomingPath.SplitQuery()
	}
	return v
}

// Serve implements gateway.Rule.
func (v *V1) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	if !req.ValidPath() {
		return gateway.Result{}, false
	}
	vars := req.TVars[:0]
	if v.static {
		if !v.staticMatch(req) {
			return gateway.Result{}, false
		}
	} else {
		var ok bool
		switch {
		case !v.capturesQuery:
			vars, ok = v.incoming.MatchAppend(vars, req.RawPath)
		case v.split:
			vars, ok = v.matchSplit(vars, req)
		default:
			vars, ok = v.incoming.MatchAppend(vars, req.RawPath+req.RawQuery)
		}
		// A parse that binds nothing counts as no match, as in Scarf.
		if !ok || len(vars) == 0 {
			return gateway.Result{}, false
		}
	}
	req.TVars = vars

	var collected gateway.Collected
	if v.collection != "" {
		name, ok := varValue(vars, CollectionVar)
		if !ok || !collectionName(name) {
			// No package could be created for it: the collection
			// does not serve it.
			return gateway.Result{}, false
		}
		collected = gateway.Collected{Collection: v.collection, Artifact: name}
	}
	res := gateway.Result{
		Event:     event.Event{Kind: event.KindFile, PackageID: v.packageID, Variables: copyVars(vars)},
		Collected: collected,
	}
	if v.collection != "" {
		res.Event.PackageID = gateway.CollectionPackageID(v.collection, collected.Artifact)
		res.Event.RuleID = v.collection
	}
	if v.target == nil {
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
	loc, shared, ok := v.target.location(req, vars)
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
func (v *V1) staticMatch(req *gateway.Request) bool {
	if req.RawPath != v.staticPath {
		return false
	}
	if len(v.staticQuery) == 0 {
		return true
	}
	got := req.Query()
	for _, want := range v.staticQuery {
		it, ok := lastItem(got, want.Key)
		if !ok || it.Value != want.Value {
			return false
		}
	}
	return true
}

// matchSplit matches the path template, then each query item against the
// raw value of its parameter.
func (v *V1) matchSplit(vars []uritemplate.Var, req *gateway.Request) ([]uritemplate.Var, bool) {
	vars, ok := v.pathT.MatchAppend(vars, req.RawPath)
	if !ok {
		return vars, false
	}
	raw := rawParams(req.RawQuery, req.Items[:0])
	req.Items = raw
	for _, it := range v.queryItems {
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
