package route

import (
	"net/http"
	"slices"
	"time"

	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/query"
)

// A Table is an immutable routing snapshot. Build one with Compile and
// never modify it.
type Table struct {
	domains map[string]*Domain
	// served holds every host of the table's sources, with rules or
	// not, and whether it is HTTPS only.
	served map[string]bool
	rules  int
}

// Domain returns the rules of host, a key made by ParseHost, or nil.
func (t *Table) Domain(host string) *Domain { return t.domains[host] }

// Serves reports whether a source of the table serves host, a key made
// by ParseHost (a lower-case name without port or trailing dot): a host
// of its rules, or one a source names without rules yet. It is the test
// a host passes to get a certificate: one map lookup.
func (t *Table) Serves(host string) bool {
	_, ok := t.served[host]
	return ok
}

// HTTPSOnly reports whether host's plain HTTP requests are redirected to
// HTTPS.
func (t *Table) HTTPSOnly(host string) bool { return t.served[host] }

// Domains returns the number of hosts the table serves.
func (t *Table) Domains() int { return len(t.domains) }

// Only returns the table's domain when it has exactly one, else nil.
func (t *Table) Only() *Domain {
	if len(t.domains) != 1 {
		return nil
	}
	for _, d := range t.domains {
		return d
	}
	return nil
}

// DomainNames returns the hosts the table serves, sorted.
func (t *Table) DomainNames() []string {
	names := make([]string, 0, len(t.domains))
	for h := range t.domains {
		names = append(names, h)
	}
	slices.Sort(names)
	return names
}

// Rules returns the number of manifest rules the table was compiled
// from, collections' rules included. Rules that share one handler (a
// domain's docker, Python or npm rules) each count, so the number is the
// one `portico check` reports.
func (t *Table) Rules() int { return t.rules }

// A Domain is the compiled rules of one host.
type Domain struct {
	Name string
	// src and colls are the rules and collections the domain was
	// compiled from, in their order: a table compiled after a change
	// takes the domains whose rules, collections and httpsOnly are the
	// same from the table before it.
	src   []manifest.Rule
	colls []Collection
	rules []gateway.Rule // in precedence order
	// Candidate rules for a request, as positions into rules:
	// prefixes holds the template rules under the literal prefix their
	// raw path must start with; segs maps a decoded first path segment
	// to the rules that need it, and segRules lists all of those; wild
	// holds the rules any request may reach.
	prefixes radix
	segs     map[string][]int32
	segRules []int32
	wild     []int32
	// bodyTimeout is Options.BodyTimeout, handed to rules with each
	// request.
	bodyTimeout time.Duration
	// httpsOnly redirects plain HTTP requests to HTTPS.
	httpsOnly bool
	// plain is set when every rule of the domain is a file rule, which
	// answers with a redirect or a not-found and never proxies.
	plain bool
}

// HTTPSOnly reports whether the domain's plain HTTP requests are
// redirected to HTTPS.
func (d *Domain) HTTPSOnly() bool { return d.httpsOnly }

// Serve offers req to the candidate rules in precedence order and reports
// the result of the first that takes it. A query of more parameters than
// query.MaxItems is refused first, so that no rule's work on it grows
// without bound.
func (d *Domain) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	if query.TooMany(req.RawQuery) {
		return gateway.TooManyParams(w, req), true
	}
	cands := d.prefixes.collect(req.Cands[:0], req.RawPath)
	if seg, plain := gateway.FirstSegment(req.RawPath); plain {
		cands = append(cands, d.segs[seg]...)
	} else {
		// An escape in the first segment could decode to any of them.
		cands = append(cands, d.segRules...)
	}
	cands = append(cands, d.wild...)
	slices.Sort(cands)
	req.Cands = cands
	req.BodyTimeout = d.bodyTimeout
	for _, k := range cands {
		if res, ok := d.rules[k].Serve(w, req); ok {
			return res, true
		}
	}
	return gateway.Result{}, false
}
