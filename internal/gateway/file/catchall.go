package file

import (
	"net/http"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/query"
)

// CatchAll serves a catch-all-v1 rule: every request of the domain that no
// other rule took, redirected to the same path on another host or
// answered 200.
type CatchAll struct {
	packageID string
	prefix    string // "https://" + redirect-target-domain, or "" for 200
}

// NewCatchAll compiles a catch-all-v1 rule.
func NewCatchAll(r *manifest.CatchAll) *CatchAll {
	c := &CatchAll{packageID: r.PackageID}
	if r.RedirectTargetDomain != "" {
		c.prefix = "https://" + r.RedirectTargetDomain
	}
	return c
}

// Serve implements gateway.Rule.
func (c *CatchAll) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	res := gateway.Result{Event: event.Event{Kind: event.KindFile, PackageID: c.packageID}}
	if c.prefix == "" {
		w.WriteHeader(http.StatusOK)
		res.Status, res.Outcome = http.StatusOK, event.OutcomeServe
		return res, true
	}
	// Each decoded segment is re-encoded so that only unreserved
	// characters stay as they are: no segment can reach the authority.
	b := append(req.Buf[:0], c.prefix...)
	for _, seg := range req.Segments() {
		b = append(b, '/')
		b = query.AppendEscape(b, seg)
	}
	b = query.AppendRender(b, req.Query())
	req.Buf = b
	gateway.Redirect(w, string(b))
	res.Status, res.Outcome = http.StatusTemporaryRedirect, event.OutcomeRedirect
	return res, true
}
