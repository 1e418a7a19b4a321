// Package pipeline carries analytics events from the request path to the
// sinks that record them.
//
// Requests hand events to Emit, which never blocks: the queue is bounded
// and, when it is full, the event is dropped and counted, because serving
// the download matters more than recording it. One worker takes events off
// the queue in batches, gives each an ID, enriches it and then clears the
// client address, and writes the batch to every sink.
package pipeline

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"portico/internal/event"
)

// A Sink records batches of events. Write is called from one goroutine at
// a time; the batch is only valid during the call.
type Sink interface {
	Name() string
	Write(ctx context.Context, batch []event.Event) error
	// Close flushes what the sink buffers and releases it.
	Close() error
}

// An Enricher adds derived fields (client, origin) to events. It runs on
// the pipeline's worker, never on the request path, and sees the client
// address, which is cleared after it returns.
type Enricher interface {
	Enrich(e *event.Event)
}

// Config configures a Pipeline.
type Config struct {
	// QueueSize bounds the events waiting for the worker.
	QueueSize int
	// BatchSize bounds the events written to the sinks at once.
	BatchSize int
	// Linger is how long the worker waits for more events before writing
	// a batch that is not full. Batching turns one write per event into
	// one per batch, which matters most when the gateway has a single
	// core; events still reach the sinks within Linger.
	Linger   time.Duration
	Enricher Enricher
	Sinks    []Sink
	Logger   *slog.Logger
}

// Stats are the pipeline's counters.
type Stats struct {
	Queued   int    // waiting now
	Capacity int    // queue size
	Emitted  uint64 // accepted by Emit
	Dropped  uint64 // refused by Emit because the queue was full or closed
	Written  uint64 // handed to the sinks
	Failed   uint64 // sink writes that returned an error, counted per event
}

// Pipeline is a bounded event queue in front of sinks.
//
// The queue is a slice that Emit appends to under a mutex and that the
// worker swaps for an empty one, taking every waiting event at once. A
// request pays for one short critical section and one copy of the event;
// a channel would cost a copy in, a copy out and a select per event on the
// worker, which on a gateway with one core is CPU taken from requests.
type Pipeline struct {
	cfg Config

	mu      sync.Mutex
	pending []event.Event // cap QueueSize; guarded by mu
	closed  bool          // guarded by mu
	spare   []event.Event // the worker's other buffer

	// wake tells the worker that the queue went from empty to non-empty
	// or that a full batch is waiting. A stale signal is harmless.
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	emitted atomic.Uint64
	dropped atomic.Uint64
	written atomic.Uint64
	failed  atomic.Uint64

	// ctx is given to sinks; it ends when Close gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc
	// lastLog and unlogged rate-limit sink error logs, per sink; only the
	// worker touches them.
	lastLog  []time.Time
	unlogged []int
}

// New starts a pipeline. Stop it with Close.
func New(cfg Config) *Pipeline {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 16384
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 512
	}
	if cfg.Linger < 0 {
		cfg.Linger = 0
	} else if cfg.Linger == 0 {
		cfg.Linger = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{
		cfg: cfg,
		// Both buffers are allocated whole so that Emit never grows a
		// slice on the request path; the runtime maps their pages only
		// when events first fill them.
		pending:  make([]event.Event, 0, cfg.QueueSize),
		spare:    make([]event.Event, 0, cfg.QueueSize),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		lastLog:  make([]time.Time, len(cfg.Sinks)),
		unlogged: make([]int, len(cfg.Sinks)),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

// Emit queues e for the sinks and never blocks. When the queue is full the
// event is dropped and counted.
func (p *Pipeline) Emit(e event.Event) {
	p.mu.Lock()
	if p.closed || len(p.pending) == cap(p.pending) {
		p.mu.Unlock()
		p.dropped.Add(1)
		return
	}
	p.pending = append(p.pending, e)
	n := len(p.pending)
	p.mu.Unlock()
	p.emitted.Add(1)
	if n == 1 || n == p.cfg.BatchSize {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns the current counters.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	queued, capacity := len(p.pending), cap(p.pending)
	p.mu.Unlock()
	return Stats{
		Queued:   queued,
		Capacity: capacity,
		Emitted:  p.emitted.Load(),
		Dropped:  p.dropped.Load(),
		Written:  p.written.Load(),
		Failed:   p.failed.Load(),
	}
}

// Close stops accepting events, writes every queued event to the sinks
// and closes them. It returns early, leaving events unwritten, if ctx ends
// first.
func (p *Pipeline) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.stop)
	})
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancel()
		return ctx.Err()
	}
	p.cancel()
	var firstErr error
	for _, s := range p.cfg.Sinks {
		if err := s.Close(); err != nil {
			p.cfg.Logger.Error("closing event sink", "sink", s.Name(), "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (p *Pipeline) run() {
	defer close(p.done)
	ids := event.NewIDSource()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case <-p.wake:
			if p.cfg.Linger > 0 {
				p.gather(linger)
			}
			p.writeTaken(ids)
		case <-p.stop:
			// Emit refuses new events now: what is queued is all there
			// is.
			p.writeTaken(ids)
			return
		}
	}
}

// gather waits until a full batch is queued, the linger time has passed,
// or the pipeline is stopping.
func (p *Pipeline) gather(linger *time.Timer) {
	linger.Reset(p.cfg.Linger)
	defer linger.Stop()
	for p.queued() < p.cfg.BatchSize {
		select {
		case <-p.wake:
		case <-linger.C:
			return
		case <-p.stop:
			return
		}
	}
}

func (p *Pipeline) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// writeTaken takes every queued event and writes them in batches.
func (p *Pipeline) writeTaken(ids *event.IDSource) {
	p.mu.Lock()
	taken := p.pending
	p.pending = p.spare
	p.mu.Unlock()
	for rest := taken; len(rest) > 0; {
		n := min(len(rest), p.cfg.BatchSize)
		p.write(ids, rest[:n])
		rest = rest[n:]
	}
	p.spare = taken[:0]
}

func (p *Pipeline) write(ids *event.IDSource, batch []event.Event) {
	for i := range batch {
		e := &batch[i]
		if e.ID.IsZero() {
			e.ID = ids.New(e.Time)
		}
		if p.cfg.Enricher != nil {
			p.cfg.Enricher.Enrich(e)
		}
		// The address has served its purpose; no sink ever sees it.
		e.ClientAddr = netip.Addr{}
	}
	if len(p.cfg.Sinks) > 0 {
		encode(batch)
	}
	for i, s := range p.cfg.Sinks {
		if err := s.Write(p.ctx, batch); err != nil {
			p.failed.Add(uint64(len(batch)))
			p.sinkFailed(i, s, len(batch), err)
		}
	}
	p.written.Add(uint64(len(batch)))
	clear(batch) // drop references to request data until the slots are reused
}

// encode sets every event's Encoded, once for all sinks: the standard
// output, the spool and the store's rows would each encode it otherwise.
// The buffer is the batch's own, never reused, because a sink may keep
// the events after Write returns (the spool hands them to its
// committer).
func encode(batch []event.Event) {
	var buf []byte
	for i := range batch {
		e := &batch[i]
		e.Encoded = nil
		start := len(buf)
		buf = e.AppendJSON(buf)
		if i == 0 {
			// Size the buffer for the batch by its first event, and a
			// quarter more, rather than growing it by doubling.
			buf = slices.Grow(buf, len(buf)*(len(batch)-1)*5/4)
		}
		e.Encoded = buf[start:len(buf):len(buf)]
	}
	// Growing the buffer moved what the first events point into: point
	// every event into the final buffer.
	start := 0
	for i := range batch {
		n := len(batch[i].Encoded)
		batch[i].Encoded = buf[start : start+n : start+n]
		start += n
	}
}

// sinkErrorLogInterval bounds how often one sink's failures are logged: a
// sink that is down fails every batch, and the log must stay readable.
const sinkErrorLogInterval = 10 * time.Second

func (p *Pipeline) sinkFailed(i int, s Sink, events int, err error) {
	p.unlogged[i] += events
	now := time.Now()
	if now.Sub(p.lastLog[i]) < sinkErrorLogInterval {
		return
	}
	p.cfg.Logger.Error("writing events", "sink", s.Name(), "events", p.unlogged[i], "err", err)
	p.lastLog[i] = now
	p.unlogged[i] = 0
}
