package control

import (
	"testing"
	"time"
)

// TestNextStatus walks a domain through its checks: failures of a
// verified domain keep it routing (failing) until they have lasted the
// grace, from the first of them; a success at any point verifies it
// again and forgets the failures.
func TestNextStatus(t *testing.T) {
	const grace = 72 * time.Hour
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d := Domain{Name: "get.example.org", Status: DomainPending}
	steps := []struct {
		after   time.Duration // since t0
		problem string
		status  DomainStatus
		since   time.Duration // FailingSince after t0, -1 for none
	}{
		{0, "no TXT", DomainPending, -1},    // pending stays pending
		{time.Hour, "", DomainVerified, -1}, // verified
		{2 * time.Hour, "no TXT", DomainFailing, 2 * time.Hour},
		{3 * time.Hour, "timeout", DomainFailing, 2 * time.Hour}, // the first failure counts
		{4 * time.Hour, "", DomainVerified, -1},                  // recovered
		{5 * time.Hour, "no TXT", DomainFailing, 5 * time.Hour},  // a new run of failures
		{5*time.Hour + grace - time.Second, "no TXT", DomainFailing, 5 * time.Hour},
		{5*time.Hour + grace, "no TXT", DomainPending, -1}, // past the grace: unrouted
		{6*time.Hour + grace, "", DomainVerified, -1},
	}
	for i, s := range steps {
		now := t0.Add(s.after)
		d = nextStatus(d, s.problem, now, grace)
		wantSince := time.Time{}
		if s.since >= 0 {
			wantSince = t0.Add(s.since)
		}
		if d.Status != s.status || !d.FailingSince.Equal(wantSince) || !d.LastCheck.Equal(now) || d.LastError != s.problem {
			t.Fatalf("step %d: %+v; want status %v, failing since %v, checked at %v, error %q", i, d, s.status, wantSince, now, s.problem)
		}
		if s.status.Routes() && s.status != DomainVerified && d.Verified.IsZero() {
			t.Fatalf("step %d: a failing domain lost the time it was verified", i)
		}
	}
}
