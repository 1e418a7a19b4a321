package autocreate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"portico/internal/gateway"
)

var (
	errDown    = errors.New("store unreachable")
	errRefused = errors.New("collection at its limit")
)

// packages stands in for the control plane: it keeps the packages
// created and records every attempt, and can be down or refuse
// artifacts.
type packages struct {
	mu      sync.Mutex
	made    map[gateway.Collected]bool
	calls   []time.Time
	down    bool
	refuse  map[string]bool
	perColl map[string]int
}

func newPackages() *packages {
	return &packages{made: map[gateway.Collected]bool{}, refuse: map[string]bool{}, perColl: map[string]int{}}
}

func (p *packages) create(_ context.Context, c gateway.Collected) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, time.Now())
	switch {
	case p.down:
		return false, errDown
	case p.refuse[c.Artifact]:
		return false, errRefused
	case p.made[c]:
		return false, nil
	}
	p.made[c] = true
	p.perColl[c.Collection]++
	return true, nil
}

func (p *packages) setDown(v bool) {
	p.mu.Lock()
	p.down = v
	p.mu.Unlock()
}

func (p *packages) attempts() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.calls...)
}

func (p *packages) created(coll string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.perColl[coll]
}

// start runs a creator over p until the returned function stops it.
func start(t *testing.T, p *packages, perMinute int) (*Creator, func()) {
	t.Helper()
	cr := New(Config{Create: p.create, Permanent: func(err error) bool { return errors.Is(err, errRefused) }, PerMinute: perMinute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cr.Run(ctx)
		close(done)
	}()
	return cr, func() {
		cancel()
		<-done
	}
}

func settle(t *testing.T, cr *Creator) {
	t.Helper()
	if err := cr.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func art(coll, name string) gateway.Collected {
	return gateway.Collected{Collection: coll, Artifact: name}
}

// TestDuplicates: many downloads of one artifact create its package
// once, and it is not looked up again until SettleFor has passed.
func TestDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPackages()
		cr, stop := start(t, p, 10)
		defer stop()
		for range 50 {
			cr.Collect(art("c", "rocket"))
		}
		settle(t, cr)
		if n := len(p.attempts()); n != 1 {
			t.Fatalf("%d attempts for one artifact, want 1", n)
		}
		time.Sleep(SettleFor - time.Second)
		cr.Collect(art("c", "rocket"))
		settle(t, cr)
		if n := len(p.attempts()); n != 1 {
			t.Fatalf("%d attempts within SettleFor, want 1", n)
		}
		time.Sleep(2 * time.Second)
		cr.Collect(art("c", "rocket"))
		settle(t, cr)
		if s := cr.Stats(); len(p.attempts()) != 2 || s.Created != 1 || s.Existing != 1 {
			t.Fatalf("after SettleFor: %d attempts, %+v; want 2 attempts, 1 created, 1 existing", len(p.attempts()), s)
		}
	})
}

// TestRatePerCollection: a collection creates at most PerMinute packages
// a minute; another collection is not held up by it, and the downloads
// put off create their packages when they come again.
func TestRatePerCollection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPackages()
		cr, stop := start(t, p, 5)
		defer stop()
		names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		for _, n := range names {
			cr.Collect(art("flood", n))
		}
		for _, n := range names[:3] {
			cr.Collect(art("other", n))
		}
		settle(t, cr)
		if got, other, s := p.created("flood"), p.created("other"), cr.Stats(); got != 5 || other != 3 || s.Limited != 3 {
			t.Fatalf("created %d and %d, limited %d; want 5, 3 and 3", got, other, s.Limited)
		}
		time.Sleep(time.Minute)
		for _, n := range names {
			cr.Collect(art("flood", n))
		}
		settle(t, cr)
		if got := p.created("flood"); got != len(names) {
			t.Fatalf("a minute later %d created, want %d", got, len(names))
		}
	})
}

// TestRetryUntilTheStoreAnswers: a creation that fails is retried, with
// a growing delay and without new downloads, until the store answers.
func TestRetryUntilTheStoreAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPackages()
		p.setDown(true)
		cr, stop := start(t, p, 10)
		defer stop()
		start := time.Now()
		cr.Collect(art("c", "rocket"))
		settle(t, cr)
		if s := cr.Stats(); s.Failed != 1 || s.Retrying != 1 {
			t.Fatalf("after a failure: %+v", s)
		}
		// More downloads meanwhile add no attempts.
		for range 10 {
			cr.Collect(art("c", "rocket"))
		}
		settle(t, cr)
		if n := len(p.attempts()); n != 1 {
			t.Fatalf("%d attempts right after the failure, want 1", n)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		calls := p.attempts()
		// 0, 1, 3, 7 and 15 seconds after the download.
		if len(calls) != 5 {
			t.Fatalf("%d attempts in 20 s, want 5", len(calls))
		}
		for i, want := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second} {
			if got := calls[i].Sub(start); got != want {
				t.Errorf("attempt %d at %v, want %v", i, got, want)
			}
		}
		p.setDown(false)
		time.Sleep(time.Minute)
		synctest.Wait()
		if s := cr.Stats(); s.Created != 1 || s.Retrying != 0 || p.created("c") != 1 {
			t.Fatalf("once the store answers: %+v", s)
		}
		n := len(p.attempts())
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if len(p.attempts()) != n {
			t.Errorf("attempts went on after the creation")
		}
	})
}

// TestRefusedIsNotRetried: a creation refused for good is not retried,
// and the artifact's downloads do not ask again for SettleFor.
func TestRefusedIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPackages()
		p.refuse["rocket"] = true
		cr, stop := start(t, p, 10)
		defer stop()
		cr.Collect(art("c", "rocket"))
		settle(t, cr)
		time.Sleep(5 * time.Minute)
		cr.Collect(art("c", "rocket"))
		settle(t, cr)
		if s := cr.Stats(); len(p.attempts()) != 1 || s.Refused != 1 || s.Retrying != 0 {
			t.Fatalf("%d attempts, %+v; want one refusal", len(p.attempts()), s)
		}
	})
}

// TestCollectNeverBlocks: with the queue full, downloads are dropped and
// counted; Settle gives up with its context, and returns once the
// creator has stopped.
func TestCollectNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPackages()
		cr := New(Config{Create: p.create, QueueSize: 2})
		for i := range 10 {
			cr.Collect(art("c", string(rune('a'+i))))
		}
		if s := cr.Stats(); s.Dropped != 8 {
			t.Fatalf("dropped %d, want 8", s.Dropped)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := cr.Settle(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Settle without Run = %v, want the context's deadline", err)
		}
		rctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			cr.Run(rctx)
			close(done)
		}()
		settle(t, cr)
		if len(p.attempts()) != 2 {
			t.Errorf("%d attempts for the 2 queued downloads", len(p.attempts()))
		}
		stop()
		<-done
		if err := cr.Settle(context.Background()); err != nil {
			t.Errorf("Settle after Run returned = %v", err)
		}
	})
}
