package file

import (
	"portico/internal/manifest"
	"portico/internal/upstream"
	"portico/internal/uritemplate"
)

// fallback is where a rule with a fallback redirects while the host of
// its outgoing URL is down, as probes find it.
type fallback struct {
	target target
	pair   *upstream.Pair
}

// newFallback compiles the fallback template t of a rule whose outgoing
// URL is out, both watched by health (probed at their origins). It
// returns nil without health: nothing would ever mark the primary down.
func newFallback(out, t *uritemplate.Template, allowDots bool, health *upstream.Health) *fallback {
	if t == nil || out == nil || health == nil {
		return nil
	}
	primary, _ := newTarget(out, allowDots)
	tg, _ := newTarget(t, allowDots)
	pair, err := health.Pair(primary.origin, primary.origin+"/", tg.origin, tg.origin+"/")
	if err != nil {
		// The manifest checked both origins; an origin the outbound
		// policy cannot read has nothing to probe.
		return nil
	}
	return &fallback{target: tg, pair: pair}
}

// choose returns the fallback's target while it should take the rule's
// redirects, else primary.
func (f *fallback) choose(primary *target) *target {
	if f != nil && f.pair.UseFallback() {
		f.pair.Fallback.Served(true)
		return &f.target
	}
	if f != nil {
		f.pair.Primary.Served(false)
	}
	return primary
}

// SetFallback gives the rule its fallback URL, which takes its redirects
// while health finds the host of its outgoing URL down.
func (v *V1) SetFallback(health *upstream.Health) {
	fb := newFallback(v.rule.OutgoingURL, v.rule.Fallback, v.rule.AllowDotSegments, health)
	if fb == nil {
		return
	}
	if v.extra == nil {
		v.extra = new(v1Extra)
	}
	v.extra.fallback = fb
}

// SetFallback is V1's SetFallback for a file-v2 rule compiled from r.
func (v *V2) SetFallback(r *manifest.FileV2, health *upstream.Health) {
	v.fallback = newFallback(r.OutgoingURL, r.Fallback, r.AllowDotSegments, health)
}
