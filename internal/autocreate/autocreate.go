// Package autocreate creates the packages of collections. The router
// hands it every download that a collection's rule served (Collect,
// which never blocks); one goroutine (Run) creates the artifact's
// package through the control plane, off the request path, so that a
// slow or unreachable store never holds a download up.
//
// The download itself was counted already, under the id the package
// will have (gateway.CollectionPackageID), so creating it late, or only
// on a later download, loses nothing from its analytics. That is what
// the limits rely on:
//
//   - duplicates are dropped: an artifact already created, found or
//     refused is not looked up again for SettleFor, and one waiting for
//     a retry is not queued again;
//   - each collection creates at most PerMinute packages a minute, in
//     bursts of as many; downloads beyond that are served and counted,
//     and their packages are created on a later download;
//   - the queue is bounded (QueueSize): when it is full, the download is
//     served and counted, and its package waits for a later download;
//   - a creation that failed for a reason that may pass (the store is
//     unreachable) is retried with a growing delay, up to MaxRetrying
//     artifacts at a time; one refused for good (the collection is gone,
//     or has created its limit of packages) is not.
//
// Settle waits for the creations queued before it, so that a request to
// the API made after a download's response lists its package.
package autocreate

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"portico/internal/gateway"
)

// Defaults and bounds.
const (
	// DefaultPerMinute is how many packages one collection may create a
	// minute by default.
	DefaultPerMinute = 10
	// DefaultQueueSize is how many downloads may wait for the creator.
	DefaultQueueSize = 1024
	// MaxRetrying bounds the artifacts whose creation waits for a
	// retry.
	MaxRetrying = 10000
	// SettleFor is how long an artifact whose package was created,
	// found or refused is not looked up again.
	SettleFor = 10 * time.Minute
	// createTimeout bounds one attempt, so that a store that stopped
	// answering holds the queue up for no longer.
	createTimeout = 10 * time.Second
	minRetry      = time.Second
	maxRetry      = time.Minute
	// maxSettled bounds the memory of settled artifacts, and of
	// collections' rates: past it, expired ones are forgotten, and all
	// of them if that is not enough.
	maxSettled = 100000
)

// Config configures a Creator.
type Config struct {
	// Create creates the package of one download, or finds it, and
	// reports whether it created it (control.Service.AutoCreate).
	Create func(ctx context.Context, c gateway.Collected) (created bool, err error)
	// Permanent reports whether an error of Create would stay the same
	// however often it was retried.
	Permanent func(err error) bool
	// PerMinute is how many packages one collection may create a
	// minute; 0 means DefaultPerMinute.
	PerMinute int
	// QueueSize bounds the downloads waiting; 0 means DefaultQueueSize.
	QueueSize int
	Logger    *slog.Logger
}

// Stats counts what the creator did.
type Stats struct {
	// Created counts packages created; Existing, downloads whose
	// package was there already (created by another replica, say).
	Created, Existing uint64
	// Refused counts creations refused for good; Failed, attempts that
	// failed and are retried.
	Refused, Failed uint64
	// Limited counts downloads whose collection had used its rate;
	// Dropped, downloads that found the queue full.
	Limited, Dropped uint64
	// Retrying is how many artifacts wait for a retry now.
	Retrying int
}

// A Creator creates the packages of collections' downloads.
type Creator struct {
	cfg     Config
	log     *slog.Logger
	queue   chan item
	stopped chan struct{}

	created, existing, refused, failed, limited, dropped atomic.Uint64
	retrying                                             atomic.Int64

	// Owned by Run's goroutine.
	settled  map[gateway.Collected]time.Time // until when to leave alone
	retry    map[gateway.Collected]*backoff
	due      time.Time                // of the earliest retry, or before it
	limiters map[string]*rate.Limiter // by collection id
}

type item struct {
	c gateway.Collected
	// barrier, when set, is closed once every item before it is
	// handled.
	barrier chan struct{}
}

type backoff struct {
	next  time.Time
	delay time.Duration
}

// New returns a creator; Run makes it work.
func New(cfg Config) *Creator {
	if cfg.PerMinute <= 0 {
		cfg.PerMinute = DefaultPerMinute
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Permanent == nil {
		cfg.Permanent = func(error) bool { return false }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Creator{
		cfg: cfg, log: log,
		queue:    make(chan item, cfg.QueueSize),
		stopped:  make(chan struct{}),
		settled:  map[gateway.Collected]time.Time{},
		retry:    map[gateway.Collected]*backoff{},
		limiters: map[string]*rate.Limiter{},
	}
}

// Collect queues the download of an artifact through a collection. It
// never blocks: when the queue is full, the download is dropped and
// counted.
func (cr *Creator) Collect(c gateway.Collected) {
	select {
	case cr.queue <- item{c: c}:
	default:
		cr.dropped.Add(1)
	}
}

// Settle returns once every download queued before it was handled: its
// package created or found, or its creation refused, failed once, or
// put off by the rate limit. It returns early with ctx's error, and at
// once, with nil, when Run has returned.
func (cr *Creator) Settle(ctx context.Context) error {
	b := make(chan struct{})
	select {
	case cr.queue <- item{barrier: b}:
	case <-cr.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-b:
		return nil
	case <-cr.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counts so far.
func (cr *Creator) Stats() Stats {
	return Stats{
		Created: cr.created.Load(), Existing: cr.existing.Load(),
		Refused: cr.refused.Load(), Failed: cr.failed.Load(),
		Limited: cr.limited.Load(), Dropped: cr.dropped.Load(),
		Retrying: int(cr.retrying.Load()),
	}
}

// Run creates packages until ctx ends. Downloads still queued then are
// dropped: their packages are created on a later download. Call it once.
func (cr *Creator) Run(ctx context.Context) {
	defer close(cr.stopped)
	var timer *time.Timer
	var fire <-chan time.Time
	armed := time.Time{}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-cr.queue:
			if it.barrier != nil {
				close(it.barrier)
				continue
			}
			cr.handle(ctx, it.c)
		case <-fire:
			fire, armed = nil, time.Time{}
			cr.retryDue(ctx)
		}
		// The timer is set for the earliest retry, and set again when
		// an earlier one comes.
		if len(cr.retry) > 0 && (fire == nil || cr.due.Before(armed)) {
			if timer != nil {
				timer.Stop()
			}
			timer = time.NewTimer(max(time.Until(cr.due), 0))
			fire, armed = timer.C, cr.due
		}
	}
}

// handle decides what to do with one download.
func (cr *Creator) handle(ctx context.Context, c gateway.Collected) {
	now := time.Now()
	if until, ok := cr.settled[c]; ok && now.Before(until) {
		return
	}
	if _, ok := cr.retry[c]; ok {
		return
	}
	if !cr.limiter(c.Collection).AllowN(now, 1) {
		if cr.limited.Add(1)%100 == 1 {
			cr.log.Warn("collection creates packages faster than its rate: downloads are served and counted, their packages created later",
				"collection", c.Collection, "per_minute", cr.cfg.PerMinute, "limited", cr.limited.Load())
		}
		return
	}
	cr.attempt(ctx, c, nil)
}

func (cr *Creator) limiter(collection string) *rate.Limiter {
	l, ok := cr.limiters[collection]
	if !ok {
		if len(cr.limiters) >= maxSettled {
			clear(cr.limiters)
		}
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(cr.cfg.PerMinute)), cr.cfg.PerMinute)
		cr.limiters[collection] = l
	}
	return l
}

// attempt tries to create c's package; b is its backoff when it is a
// retry.
func (cr *Creator) attempt(ctx context.Context, c gateway.Collected, b *backoff) {
	actx, cancel := context.WithTimeout(ctx, createTimeout)
	created, err := cr.cfg.Create(actx, c)
	cancel()
	if ctx.Err() != nil {
		return
	}
	switch {
	case err == nil:
		if created {
			cr.created.Add(1)
		} else {
			cr.existing.Add(1)
		}
		cr.settle(c)
	case cr.cfg.Permanent(err):
		cr.refused.Add(1)
		cr.log.Warn("collection did not create a package", "collection", c.Collection, "artifact", c.Artifact, "err", err)
		cr.settle(c)
	default:
		cr.failed.Add(1)
		if b == nil {
			if len(cr.retry) >= MaxRetrying {
				cr.log.Error("creating a collection's package failed, and too many wait for a retry: a later download retries it",
					"collection", c.Collection, "artifact", c.Artifact, "err", err)
				return
			}
			cr.log.Warn("creating a collection's package failed: retrying; its downloads are served and counted meanwhile",
				"collection", c.Collection, "artifact", c.Artifact, "err", err)
			b = &backoff{delay: minRetry}
			cr.retry[c] = b
			cr.retrying.Store(int64(len(cr.retry)))
		} else {
			cr.log.Debug("retrying a collection's package failed", "collection", c.Collection, "artifact", c.Artifact, "in", b.delay, "err", err)
		}
		b.next = time.Now().Add(b.delay)
		b.delay = min(2*b.delay, maxRetry)
		if cr.due.IsZero() || b.next.Before(cr.due) {
			cr.due = b.next
		}
	}
}

// settle leaves c alone for SettleFor.
func (cr *Creator) settle(c gateway.Collected) {
	if _, ok := cr.retry[c]; ok {
		delete(cr.retry, c)
		cr.retrying.Store(int64(len(cr.retry)))
	}
	now := time.Now()
	if len(cr.settled) >= maxSettled {
		for k, until := range cr.settled {
			if !now.Before(until) {
				delete(cr.settled, k)
			}
		}
		if len(cr.settled) >= maxSettled {
			clear(cr.settled)
		}
	}
	cr.settled[c] = now.Add(SettleFor)
}

// retryDue retries every creation whose delay has passed, and finds
// when the next one is due.
func (cr *Creator) retryDue(ctx context.Context) {
	now := time.Now()
	for c, b := range cr.retry {
		if ctx.Err() != nil {
			return
		}
		if !now.Before(b.next) {
			cr.attempt(ctx, c, b)
		}
	}
	cr.due = time.Time{}
	for _, b := range cr.retry {
		if cr.due.IsZero() || b.next.Before(cr.due) {
			cr.due = b.next
		}
	}
}
