// Package spool makes events durable on local disk on their way to the
// analytics store, so that an event the gateway emitted is either in the
// store or in the spool, and a store outage, a restart or a crash loses
// nothing.
//
// The spool is a pipeline sink. Write appends each batch to the active
// segment file (JSON lines, the event stream format) with one write call:
// from then on the batch survives the process being killed, since the
// data is in the operating system's hands. The segment is synced to disk
// every sync interval (1s by default), which bounds what a machine crash
// can lose.
//
// A committer goroutine moves the spooled events into the store. Normally
// it takes each batch straight from memory, so the store sees it within
// milliseconds. When the store fails, the committer retries with backoff
// while the spool keeps growing on disk; when the store is back, it reads
// the segments from where it stopped and commits them in order. Segments
// are deleted once committed. On start, segments left by a previous run
// are replayed the same way. Stores skip events whose id they already
// have, so a batch committed twice (the process died between the commit
// and the deletion of its segment) counts once.
package spool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"portico/internal/event"
	"portico/internal/store"
)

// Config configures a Spool.
type Config struct {
	// Dir holds the segment files; it is created if missing.
	Dir string
	// Store receives the events.
	Store store.Appender
	// SyncInterval is how often the active segment is synced to disk;
	// default 1s.
	SyncInterval time.Duration
	// SegmentBytes is the size past which a new segment is started;
	// default 4 MiB.
	SegmentBytes int64
	// ReplayBatch bounds the events committed at once, when reading
	// segments back or taking several queued batches together, and
	// twice it bounds the events waiting in memory for the committer;
	// default 4096. An event on its way to the store takes about 2 KiB
	// (the event, its JSON and the store's row), so this bounds the
	// spool's memory to about 25 MiB; larger batches cost the store less
	// per event, up to a point (docs/scaling.md).
	ReplayBatch int
	// GatherWait is how long the committer waits for more batches
	// before it hands what it has to the store; default 250ms. It adds
	// up to that much to the store's lag, and under load it makes the
	// store's batches larger, which costs it less CPU per event.
	GatherWait time.Duration
	// RetryMin and RetryMax bound the wait between failed commits;
	// defaults 250ms and 10s.
	RetryMin, RetryMax time.Duration
	// DrainTimeout is how long Close waits for the store to take what is
	// spooled; the rest stays on disk for the next start. Default 5s.
	DrainTimeout time.Duration
	Logger       *slog.Logger
	// Tracer, when set, gives every append to the store a span.
	Tracer trace.Tracer
}

// Stats are the spool's counters.
type Stats struct {
	PendingBytes int64     // spooled, not yet in the store
	Segments     int       // segment files on disk
	Committed    uint64    // events handed to the store successfully
	Failures     uint64    // failed store appends
	Corrupt      uint64    // spooled lines that could not be read back
	StoreUp      bool      // the last store append succeeded
	LastCommit   time.Time // when the store last took a batch
	LastError    string    // the last store error, when StoreUp is false
	// Oldest is when the oldest event not yet in the store was spooled
	// (to within markSpan), zero when the store has every event.
	// Events a previous run left are dated by the first event of their
	// segment.
	Oldest time.Time
}

// Spool is a durable sink in front of a store.
type Spool struct {
	cfg Config

	mu       sync.Mutex
	segs     []*segment // in order; the last is the active one
	file     *os.File   // the active segment, open for appending
	dirty    bool       // written since the last sync
	closed   bool
	buf      []byte
	pending  atomic.Int64 // bytes written but not committed
	writeErr error        // the last write failure, for the log
	// marks date the spooled bytes not yet committed, oldest first;
	// cursor is how far the committer has come.
	marks  []mark
	cursor position

	items   chan item
	handed  atomic.Int64  // events in items
	stop    chan struct{} // Close was called
	drained chan struct{} // the committer has returned
	cancel  context.CancelFunc
	ctx     context.Context

	committed  atomic.Uint64
	failures   atomic.Uint64
	corrupt    atomic.Uint64
	storeUp    atomic.Bool
	lastCommit atomic.Int64
	lastErr    atomic.Value // string
	syncDone   chan struct{}
	unlock     func() error

	// replayed and lines are the committer's buffers for events read
	// back from segments.
	replayed []event.Event
	lines    []byte
	// gathered is the committer's buffer for batches taken together
	// from memory.
	gathered []event.Event
}

// replayLinesBytes is the size of the buffers that hold the lines of
// replayed events for the store.
const replayLinesBytes = 1 << 20

type segment struct {
	seq    uint64
	path   string
	size   int64 // bytes written; read under Spool.mu
	closed bool  // no more writes; read under Spool.mu
	// created is when the segment was started, for rotation.
	created time.Time
}

// position is a place in the spool: a byte offset in a segment.
type position struct {
	seq uint64
	off int64
}

func (p position) before(q position) bool {
	return p.seq < q.seq || p.seq == q.seq && p.off < q.off
}

// A mark says that the bytes of segment seq up to end, after those of
// the mark before, were spooled at or after at (unix nanoseconds). Writes
// within markSpan of a mark extend it rather than add one, which bounds
// the marks to one per markSpan whatever the rate, and the store lag's
// error to markSpan.
type mark struct {
	seq uint64
	end int64
	at  int64
}

const markSpan = time.Second

// item is a batch handed to the committer from memory: the events that
// were written to seg at [start, end).
type item struct {
	seg        *segment
	start, end int64
	events     []event.Event
}

const segmentSuffix = ".jsonl"

// Open opens the spool in cfg.Dir and starts its committer, which begins
// by replaying what a previous run left there.
func Open(cfg Config) (*Spool, error) {
	if cfg.Store == nil {
		return nil, errors.New("spool: no store")
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Second
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 4 << 20
	}
	if cfg.ReplayBatch <= 0 {
		cfg.ReplayBatch = 4096
	}
	if cfg.GatherWait <= 0 {
		cfg.GatherWait = 250 * time.Millisecond
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 250 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(10*time.Second, cfg.RetryMin)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		unlock:   unlock,
		cfg:      cfg,
		items:    make(chan item, 64),
		stop:     make(chan struct{}),
		drained:  make(chan struct{}),
		syncDone: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.storeUp.Store(true)
	if err := s.load(); err != nil {
		_ = unlock()
		return nil, err
	}
	if err := s.startSegment(); err != nil {
		_ = unlock()
		return nil, err
	}
	if n := len(s.segs) - 1; n > 0 {
		cfg.Logger.Info("replaying spooled events", "dir", cfg.Dir, "segments", n, "bytes", s.pending.Load())
	}
	go s.commit()
	go s.syncLoop()
	return s, nil
}

// load finds the segments left by a previous run.
func (s *Spool) load() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segmentSuffix) || e.IsDir() {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		seg := &segment{seq: seq, path: filepath.Join(s.cfg.Dir, name), size: info.Size(), closed: true}
		s.segs = append(s.segs, seg)
		s.pending.Add(info.Size())
		if seg.size > 0 {
			s.marks = append(s.marks, mark{seq: seq, end: seg.size, at: firstEventTime(seg.path, info.ModTime()).UnixNano()})
		}
	}
	slices.SortFunc(s.segs, func(a, b *segment) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	slices.SortFunc(s.marks, func(a, b mark) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return nil
}

// firstEventTime returns the time of the first event in a segment left
// by a previous run, or fallback when it cannot be read.
func firstEventTime(path string, fallback time.Time) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return fallback
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadSlice('\n')
	if err != nil {
		return fallback
	}
	e, err := event.Parse(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil || e.Time.IsZero() || e.Time.After(fallback) {
		return fallback
	}
	return e.Time
}

// startSegment starts a new active segment. The caller holds s.mu or has
// the spool to itself.
func (s *Spool) startSegment() error {
	seq := uint64(1)
	if n := len(s.segs); n > 0 {
		seq = s.segs[n-1].seq + 1
	}
	path := filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d%s", seq, segmentSuffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		_ = f.Close()
		return fmt.Errorf("spool: %w", err)
	}
	s.file = f
	s.segs = append(s.segs, &segment{seq: seq, path: path, created: time.Now()})
	return nil
}

// rotate closes the active segment and starts the next. The caller holds
// s.mu.
func (s *Spool) rotate() error {
	active := s.segs[len(s.segs)-1]
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("spool: sync %s: %w", active.path, err)
	}
	if err := s.file.Close(); err != nil {
		return fmt.Errorf("spool: close %s: %w", active.path, err)
	}
	s.file = nil
	s.dirty = false
	active.closed = true
	return s.startSegment()
}

// Name implements pipeline.Sink.
func (s *Spool) Name() string { return "store" }

// Write implements pipeline.Sink: it appends batch to the active segment
// and hands it to the committer.
func (s *Spool) Write(_ context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("spool: closed")
	}
	b := s.buf[:0]
	for i := range batch {
		b = batch[i].AppendEncoded(b)
		b = append(b, '\n')
	}
	if cap(b) <= 4<<20 {
		s.buf = b
	}
	active := s.segs[len(s.segs)-1]
	if active.size > 0 && (active.size+int64(len(b)) > s.cfg.SegmentBytes || s.idle(active)) {
		if err := s.rotate(); err != nil {
			s.mu.Unlock()
			return err
		}
		active = s.segs[len(s.segs)-1]
	}
	n, err := s.file.Write(b)
	start := active.size
	active.size += int64(n)
	s.pending.Add(int64(n))
	s.markWritten(active, time.Now())
	s.dirty = s.dirty || n > 0
	if err != nil {
		// A partial line may now end the segment; start a new one so
		// the next batch begins on a line of its own. The reader skips
		// the broken line.
		_ = s.rotate()
		s.mu.Unlock()
		return fmt.Errorf("spool: write %s: %w", active.path, err)
	}
	s.mu.Unlock()
	// The events handed over in memory are bounded, which bounds the
	// spool's memory; past the bound, or with the committer's queue full,
	// the committer is behind (the store is slow or down) and will read
	// this batch back from the segment.
	if s.handed.Add(int64(len(batch))) <= int64(handedBatches*s.cfg.ReplayBatch) {
		select {
		case s.items <- item{seg: active, start: start, end: start + int64(n), events: slices.Clone(batch)}:
			return nil
		default:
		}
	}
	s.handed.Add(-int64(len(batch)))
	return nil
}

// handedBatches is how many of the store's batches (ReplayBatch) may wait
// in memory for the committer.
const handedBatches = 2

// markWritten dates the bytes of active written last. The caller holds
// s.mu.
func (s *Spool) markWritten(active *segment, now time.Time) {
	at := now.UnixNano()
	if k := len(s.marks); k > 0 {
		if m := &s.marks[k-1]; m.seq == active.seq && at-m.at < int64(markSpan) {
			m.end = active.size
			return
		}
	}
	s.marks = append(s.marks, mark{seq: active.seq, end: active.size, at: at})
}

// advance records that the store has everything up to p, and forgets
// the marks of what it has.
func (s *Spool) advance(p position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursor = p
	i := 0
	for i < len(s.marks) && !p.before(position{s.marks[i].seq, s.marks[i].end}) {
		i++
	}
	if i > 0 {
		s.marks = slices.Delete(s.marks, 0, i)
	}
}

// idle reports whether the active segment has been fully committed for a
// while, so that starting a new one lets the committer delete it, and a
// restart has little to replay. The caller holds s.mu.
func (s *Spool) idle(active *segment) bool {
	return s.pending.Load() == 0 && time.Since(active.created) > 10*s.cfg.SyncInterval
}

// syncLoop syncs the active segment every SyncInterval.
func (s *Spool) syncLoop() {
	defer close(s.syncDone)
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.sync()
		case <-s.stop:
			return
		}
	}
}

func (s *Spool) sync() {
	s.mu.Lock()
	f := s.file
	if !s.dirty || f == nil {
		s.mu.Unlock()
		return
	}
	s.dirty = false
	s.mu.Unlock()
	// Sync without the lock, so that writes go on meanwhile. A rotation
	// may close the file under us; it syncs it first.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		s.cfg.Logger.Error("syncing the event spool", "err", err)
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
}

// Close stops the spool: it syncs the active segment, gives the
// committer DrainTimeout to move what is spooled into the store, and
// leaves the rest on disk for the next start.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.file != nil {
		active := s.segs[len(s.segs)-1]
		err = errors.Join(s.file.Sync(), s.file.Close())
		s.file = nil
		active.closed = true
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.syncDone
	select {
	case <-s.drained:
	case <-time.After(s.cfg.DrainTimeout):
		s.cancel()
		<-s.drained
	}
	s.cancel()
	if left := s.pending.Load(); left > 0 {
		s.cfg.Logger.Warn("events left in the spool for the next start", "dir", s.cfg.Dir, "bytes", left)
	}
	return errors.Join(err, s.unlock())
}

// Stats returns the current counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	segs := len(s.segs)
	var oldest int64
	for _, m := range s.marks {
		if s.cursor.before(position{m.seq, m.end}) {
			oldest = m.at
			break
		}
	}
	s.mu.Unlock()
	st := Stats{
		PendingBytes: s.pending.Load(),
		Segments:     segs,
		Committed:    s.committed.Load(),
		Failures:     s.failures.Load(),
		Corrupt:      s.corrupt.Load(),
		StoreUp:      s.storeUp.Load(),
	}
	if ms := s.lastCommit.Load(); ms != 0 {
		st.LastCommit = time.UnixMilli(ms)
	}
	if oldest != 0 && st.PendingBytes > 0 {
		st.Oldest = time.Unix(0, oldest)
	}
	if !st.StoreUp {
		st.LastError, _ = s.lastErr.Load().(string)
	}
	return st
}

// errStopped ends the committer when Close gives up waiting.
var errStopped = errors.New("spool stopped")

// commit is the committer goroutine. Its cursor (seg, off) marks how far
// the segments are in the store.
func (s *Spool) commit() {
	defer close(s.drained)
	s.mu.Lock()
	cur := s.segs[0]
	s.mu.Unlock()
	var off int64
	tick := time.NewTicker(s.cfg.SyncInterval)
	defer tick.Stop()
	catchUp := func() error {
		var err error
		cur, off, err = s.catchUp(cur, off)
		return err
	}
	// Replay what a previous run left.
	if err := catchUp(); err != nil {
		return
	}
	var held *item // taken from the channel, not yet handled
	for {
		var it item
		if held != nil {
			it, held = *held, nil
		} else {
			select {
			case it = <-s.items:
				s.handed.Add(-int64(len(it.events)))
			case <-tick.C:
				if err := catchUp(); err != nil {
					return
				}
				continue
			case <-s.stop:
				// Writes have ended and every segment is closed: commit
				// what is left, until Close gives up.
				_ = catchUp()
				return
			}
		}
		switch {
		case it.seg.seq < cur.seq || (it.seg == cur && it.end <= off):
			// Already read back from the segment.
		case it.seg == cur && it.start == off:
			// Take the batches that follow this one within GatherWait
			// too: at high rates one large append costs the store far
			// less than many small ones (a commit, a parse of each
			// statement and an update of each rollup row per batch).
			batch, end := it.events, it.end
			gatherUntil := time.NewTimer(s.cfg.GatherWait)
		gather:
			for len(batch) < s.cfg.ReplayBatch {
				select {
				case <-gatherUntil.C:
					break gather
				case <-s.stop:
					break gather
				case next := <-s.items:
					s.handed.Add(-int64(len(next.events)))
					if next.seg != cur || next.start != end {
						held = &next
						break gather
					}
					if len(batch) == len(it.events) {
						// The first batch is the writer's copy: gather
						// into the committer's own buffer.
						batch = append(s.gathered[:0], batch...)
					}
					batch = append(batch, next.events...)
					end = next.end
				}
			}
			gatherUntil.Stop()
			err := s.store(batch)
			if len(batch) > len(it.events) {
				clear(batch)
				s.gathered = batch[:0]
			}
			if err != nil {
				return
			}
			s.pending.Add(-(end - off))
			off = end
			s.advance(position{cur.seq, off})
		default:
			// Batches were skipped: read them, and this one, back.
			if err := catchUp(); err != nil {
				return
			}
		}
	}
}

// catchUp commits the segments from (cur, off) to the end of what has
// been written, deleting each closed segment once it is committed, and
// returns the new cursor.
func (s *Spool) catchUp(cur *segment, off int64) (*segment, int64, error) {
	for {
		s.mu.Lock()
		size, closed := cur.size, cur.closed
		var next *segment
		if closed {
			if i := slices.Index(s.segs, cur); i >= 0 && i+1 < len(s.segs) {
				next = s.segs[i+1]
			}
		}
		s.mu.Unlock()
		if off < size {
			n, err := s.replay(cur, off, size)
			off += n
			s.advance(position{cur.seq, off})
			if err != nil {
				return cur, off, err
			}
			continue
		}
		if !closed {
			return cur, off, nil
		}
		// Fully committed and closed: it is no longer needed.
		if err := os.Remove(cur.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.cfg.Logger.Error("deleting a committed spool segment", "path", cur.path, "err", err)
		}
		s.mu.Lock()
		s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == cur })
		s.mu.Unlock()
		if next == nil {
			// Only after Close: there is no active segment any more.
			return cur, off, nil
		}
		cur, off = next, 0
		s.advance(position{cur.seq, 0})
	}
}

// replay commits the events of seg between off and end, in batches, and
// returns how many bytes it consumed.
func (s *Spool) replay(seg *segment, off, end int64) (int64, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		// The segment cannot be read back; without it the spool would
		// stall forever. Count it as lost and move on.
		s.cfg.Logger.Error("reading a spool segment", "path", seg.path, "err", err)
		s.corrupt.Add(1)
		s.pending.Add(-(end - off))
		return end - off, nil
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), 256<<10)
	var consumed, batchBytes int64
	// The batch's slots and its lines' copies are the committer's, reused
	// from one batch to the next: only the committer replays.
	batch := s.replayed[:0]
	lines := s.lines[:0]
	defer func() {
		clear(batch[:cap(batch)])
		s.replayed = batch[:0]
		s.lines = lines[:0]
	}()
	flush := func() error {
		if len(batch) > 0 {
			if err := s.store(batch); err != nil {
				return err
			}
		}
		consumed += batchBytes
		s.pending.Add(-batchBytes)
		s.advance(position{seg.seq, off + consumed})
		batch, batchBytes, lines = batch[:0], 0, lines[:0]
		return nil
	}
	for n := 1; ; n++ {
		if n%256 == 0 {
			// Decoding is the committer's costliest step: let request
			// handlers run in between, as the store does between its
			// statements.
			runtime.Gosched()
		}
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// No event is this long: skip to the end of the line.
			skipped := int64(len(line))
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				skipped += int64(len(line))
			}
			s.corrupt.Add(1)
			batchBytes += skipped
			continue
		}
		if len(line) > 0 {
			batchBytes += int64(len(line))
			text := bytes.TrimSuffix(line, []byte("\n"))
			if e, perr := event.Parse(text); perr == nil {
				// The store keeps the line as it was spooled rather than
				// encoding the event again. Copies share one buffer; when
				// it must grow, the earlier lines keep the old one.
				if cap(lines)-len(lines) < len(text) {
					lines = make([]byte, 0, max(len(text), replayLinesBytes))
				}
				start := len(lines)
				lines = append(lines, text...)
				e.Encoded = lines[start:len(lines):len(lines)]
				batch = append(batch, e)
			} else if line[len(line)-1] == '\n' || seg.closed {
				// A line cut short by a crash, or damaged on disk.
				s.corrupt.Add(1)
				s.cfg.Logger.Warn("skipping an unreadable spooled event", "path", seg.path, "err", perr)
			}
		}
		if len(batch) >= s.cfg.ReplayBatch {
			if err := flush(); err != nil {
				return consumed, err
			}
		}
		if err != nil {
			break
		}
	}
	if err := flush(); err != nil {
		return consumed, err
	}
	return consumed, nil
}

// store appends events to the store, retrying with backoff until it
// succeeds or the spool stops.
func (s *Spool) store(events []event.Event) error {
	wait := s.cfg.RetryMin
	var lastLog time.Time
	for {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		var span trace.Span
		if s.cfg.Tracer != nil {
			ctx, span = s.cfg.Tracer.Start(ctx, "store append", trace.WithAttributes(attribute.Int("portico.events", len(events))))
		}
		err := s.cfg.Store.Append(ctx, events)
		cancel()
		if span != nil {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "the store did not take the batch; it stays spooled")
			}
			span.End()
		}
		if err == nil {
			s.committed.Add(uint64(len(events)))
			s.lastCommit.Store(time.Now().UnixMilli())
			if !s.storeUp.Swap(true) {
				s.cfg.Logger.Info("analytics store is back; committing spooled events", "pending_bytes", s.pending.Load())
			}
			return nil
		}
		s.failures.Add(1)
		s.lastErr.Store(err.Error())
		if s.storeUp.Swap(false) || time.Since(lastLog) > time.Minute {
			s.cfg.Logger.Error("analytics store unavailable; events stay in the spool", "err", err, "pending_bytes", s.pending.Load(), "retry_in", wait)
			lastLog = time.Now()
		}
		select {
		case <-time.After(wait):
		case <-s.ctx.Done():
			return errStopped
		}
		wait = min(2*wait, s.cfg.RetryMax)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
