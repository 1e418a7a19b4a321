// Package upstreamtest records the connections an upstream.Transport
// opens, so that tests of hostile backends fail on any connection outside
// a rule's allowed set: to servers they run, and to addresses where
// nothing listens, which no server of theirs could count.
package upstreamtest

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"portico/internal/upstream"
)

// Dials records a transport's dial attempts.
type Dials struct {
	mu  sync.Mutex
	all []upstream.DialAttempt
}

// NewTransport returns a transport with o's settings whose dial attempts
// the returned Dials records; its idle connections are closed when the
// test ends.
func NewTransport(t testing.TB, o upstream.Options) (*upstream.Transport, *Dials) {
	t.Helper()
	d := &Dials{}
	o.OnDial = d.record
	tr := upstream.NewTransport(o)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, d
}

func (d *Dials) record(a upstream.DialAttempt) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, a)
}

// Attempts returns every attempt so far, in order.
func (d *Dials) Attempts() []upstream.DialAttempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.all)
}

// Check fails t for every connection opened to an address outside
// allowed, given as ip:port ("127.0.0.1:5000"), and returns the
// attempts the address check refused, for the test to look at: those
// sent nothing.
func (d *Dials) Check(t testing.TB, allowed ...string) (refused []upstream.DialAttempt) {
	t.Helper()
	set := make(map[netip.AddrPort]bool, len(allowed))
	for _, a := range allowed {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			t.Fatalf("allowed address %q: %v", a, err)
		}
		set[ap] = true
	}
	for _, a := range d.Attempts() {
		switch {
		case a.Err != nil:
			refused = append(refused, a)
		case !set[a.Addr]:
			t.Errorf("the gateway opened a connection to %s (for %s) outside the allowed set %s", a.Addr, a.Target, strings.Join(allowed, ", "))
		}
	}
	return refused
}

// Targets returns the targets of attempts, in order.
func Targets(attempts []upstream.DialAttempt) []string {
	out := make([]string, len(attempts))
	for i, a := range attempts {
		out[i] = a.Target
	}
	return out
}
