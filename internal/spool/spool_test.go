package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
	"portico/internal/store/sqlite"
)

// switchable wraps a real store with a switch that makes it fail, as an
// unreachable database does.
type switchable struct {
	store.Store
	down  atomic.Bool
	calls atomic.Int64
}

func (s *switchable) Append(ctx context.Context, batch []event.Event) error {
	s.calls.Add(1)
	if s.down.Load() {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.Append(ctx, batch)
}

func newStore(t *testing.T) *switchable {
	st, err := sqlite.Open(t.Context(), sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &switchable{Store: st}
}

var ids = event.NewIDSource()

func batch(n int, tag string) []event.Event {
	out := make([]event.Event, n)
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = event.Event{ID: ids.New(at), Time: at, Kind: event.KindFile, PackageID: "p", Domain: "dl.example.com",
			Method: "GET", Path: "/" + tag + "/" + fmt.Sprint(i), Status: 307, Outcome: event.OutcomeRedirect, Source: event.SourceHuman}
	}
	return out
}

func count(t *testing.T, st store.Store) (events int, distinct int) {
	t.Helper()
	seen := map[event.ID]bool{}
	if _, err := st.Export(context.Background(), store.ExportQuery{}, func(r store.ExportRow) error {
		events++
		seen[r.ID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return events, len(seen)
}

func requests(t *testing.T, st store.Store) int64 {
	t.Helper()
	rows, err := st.Aggregate(context.Background(), store.Query{Measure: store.Requests,
		Filter: store.Filter{From: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return 0
	}
	return rows[0].Value
}

// eventually waits, with a generous deadline, for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func open(t *testing.T, dir string, st store.Appender, cfg Config) *Spool {
	t.Helper()
	cfg.Dir, cfg.Store = dir, st
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 50 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	}
	sp, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestDelivers(t *testing.T) {
	st := newStore(t)
	dir := t.TempDir()
	sp := open(t, dir, st, Config{SegmentBytes: 16 << 10})
	const batches, size = 40, 25
	for i := range batches {
		if err := sp.Write(context.Background(), batch(size, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every event in the store", func() bool { n, _ := count(t, st); return n == batches*size })
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if n, d := count(t, st); n != batches*size || d != n {
		t.Errorf("store has %d events (%d distinct), want %d once each", n, d, batches*size)
	}
	if left := segments(t, dir); len(left) != 0 {
		t.Errorf("segments left after everything was committed: %v", left)
	}
	if st := sp.Stats(); st.PendingBytes != 0 || st.Committed != batches*size || !st.StoreUp {
		t.Errorf("stats %+v: want nothing pending, %d committed, store up", st, batches*size)
	}
}

// TestOutage takes the store down while batches keep coming, then brings
// it back: every event ends up in the store exactly once.
func TestOutage(t *testing.T) {
	st := newStore(t)
	dir := t.TempDir()
	sp := open(t, dir, st, Config{SegmentBytes: 8 << 10})
	defer sp.Close()
	write := func(n int, tag string) {
		for i := range n {
			if err := sp.Write(context.Background(), batch(10, fmt.Sprintf("%s-%d", tag, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(10, "before")
	eventually(t, "the first events in the store", func() bool { n, _ := count(t, st); return n == 100 })
	st.down.Store(true)
	write(200, "during") // far more than the committer's memory queue holds
	eventually(t, "the spool to notice the outage", func() bool { return !sp.Stats().StoreUp })
	if s := sp.Stats(); s.PendingBytes == 0 || s.Segments < 2 {
		t.Errorf("during the outage: stats %+v, want pending bytes in several segments", s)
	}
	if n, _ := count(t, st); n != 100 {
		t.Errorf("store has %d events during the outage, want the 100 from before", n)
	}
	st.down.Store(false)
	write(10, "after")
	eventually(t, "every event in the store", func() bool { n, _ := count(t, st); return n == 2200 })
	if n, d := count(t, st); d != n {
		t.Errorf("%d events stored, %d distinct", n, d)
	}
	if got := requests(t, st); got != 2200 {
		t.Errorf("rollups count %d requests, want 2200", got)
	}
	eventually(t, "committed segments deleted", func() bool { return len(segments(t, dir)) <= 2 })
	if s := sp.Stats(); s.Failures == 0 || !s.StoreUp || s.PendingBytes != 0 {
		t.Errorf("after the outage: stats %+v, want failures counted, store up, nothing pending", s)
	}
}

// TestRestart closes the spool while the store is down, then opens it
// again with the store back: what was spooled is replayed.
func TestRestart(t *testing.T) {
	st := newStore(t)
	dir := t.TempDir()
	st.down.Store(true)
	sp := open(t, dir, st, Config{DrainTimeout: 100 * time.Millisecond})
	for i := range 30 {
		if err := sp.Write(context.Background(), batch(10, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(t, st); n != 0 {
		t.Fatalf("store has %d events, want none while it is down", n)
	}
	if len(segments(t, dir)) == 0 {
		t.Fatal("nothing left in the spool after closing with the store down")
	}
	st.down.Store(false)
	sp = open(t, dir, st, Config{})
	eventually(t, "the replay", func() bool { n, _ := count(t, st); return n == 300 })
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if n, d := count(t, st); n != 300 || d != 300 {
		t.Errorf("after replay: %d events, %d distinct; want 300", n, d)
	}
	if left := segments(t, dir); len(left) != 0 {
		t.Errorf("segments left after the replay: %v", left)
	}
}

// TestReplayCommitted replays segments whose events are already in the
// store, as after a crash between a commit and the deletion of its
// segment: nothing is counted twice.
func TestReplayCommitted(t *testing.T) {
	st := newStore(t)
	dir := t.TempDir()
	var lines []byte
	for i := range 5 {
		b := batch(20, fmt.Sprint(i))
		if err := st.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b {
			lines = append(e.AppendJSON(lines), '\n')
		}
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 7, segmentSuffix)), lines, 0o600); err != nil {
		t.Fatal(err)
	}
	sp := open(t, dir, st, Config{})
	eventually(t, "the replay", func() bool { return sp.Stats().Committed >= 100 })
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(t, st); n != 100 {
		t.Errorf("store has %d events after replaying committed ones, want 100", n)
	}
	if got := requests(t, st); got != 100 {
		t.Errorf("rollups count %d requests after the replay, want 100", got)
	}
}

// TestDamagedSegment replays a segment with a line cut short by a crash
// and a line of garbage: the good events are stored, the rest counted.
func TestDamagedSegment(t *testing.T) {
	st := newStore(t)
	dir := t.TempDir()
	good := batch(3, "good")
	var b strings.Builder
	b.Write(good[0].AppendJSON(nil))
	b.WriteString("\nnot an event at all\n")
	b.Write(good[1].AppendJSON(nil))
	b.WriteString("\n")
	b.Write(good[2].AppendJSON(nil)[:40]) // cut short
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 3, segmentSuffix)), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sp := open(t, dir, st, Config{})
	eventually(t, "the replay", func() bool { n, _ := count(t, st); return n == 2 })
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if s := sp.Stats(); s.Corrupt != 2 {
		t.Errorf("corrupt = %d, want 2 (the garbage line and the cut one)", s.Corrupt)
	}
	// New segments continue after the highest old one.
	if left := segments(t, dir); len(left) != 0 {
		t.Errorf("segments left: %v", left)
	}
}

func TestOneProcessPerSpool(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t)
	sp := open(t, dir, st, Config{})
	if _, err := Open(Config{Dir: dir, Store: st}); err == nil || !strings.Contains(err.Error(), "in use by another portico process") {
		t.Errorf("a second spool on the same directory: %v, want an error saying it is in use", err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, dir, st, Config{})
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	sp := open(t, t.TempDir(), newStore(t), Config{})
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sp.Write(context.Background(), batch(1, "late")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := sp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func BenchmarkWrite(b *testing.B) {
	st, err := sqlite.Open(context.Background(), sqlite.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	sp, err := Open(Config{Dir: b.TempDir(), Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	events := batch(512, "bench")
	b.ReportAllocs()
	for b.Loop() {
		if err := sp.Write(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

// TestStoreLag checks the age of the oldest event the store has not
// taken: zero while the store keeps up, growing from the first event
// spooled during an outage (not the last), zero again once the store
// has caught up, and, after a restart, dated by the first event the
// previous run left.
func TestStoreLag(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t)
	sp := open(t, dir, st, Config{DrainTimeout: 100 * time.Millisecond})
	if err := sp.Write(context.Background(), batch(10, "up")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first batch stored", func() bool { return sp.Stats().PendingBytes == 0 })
	if o := sp.Stats().Oldest; !o.IsZero() {
		t.Errorf("Oldest = %v with nothing pending, want zero", o)
	}

	st.down.Store(true)
	outage := time.Now()
	if err := sp.Write(context.Background(), batch(5, "first")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := sp.Write(context.Background(), batch(5, "later")); err != nil {
		t.Fatal(err)
	}
	o := sp.Stats().Oldest
	if o.IsZero() || o.Before(outage.Add(-markSpan)) || o.After(outage.Add(markSpan)) {
		t.Errorf("Oldest = %v during the outage, want the first write's time %v (±%v)", o, outage, markSpan)
	}
	if lag := time.Since(o); lag < time.Second {
		t.Errorf("lag %v after 1.5s of outage", lag)
	}
	st.down.Store(false)
	eventually(t, "the spool drained", func() bool { return sp.Stats().PendingBytes == 0 })
	if o := sp.Stats().Oldest; !o.IsZero() {
		t.Errorf("Oldest = %v after catching up, want zero", o)
	}

	// Left for the next run: the lag counts from the events' own time.
	st.down.Store(true)
	if err := sp.Write(context.Background(), batch(3, "left")); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	sp = open(t, dir, st, Config{})
	if o, want := sp.Stats().Oldest, batch(1, "x")[0].Time; !o.Equal(want) {
		t.Errorf("Oldest after a restart = %v, want the first left event's %v", o, want)
	}
	st.down.Store(false)
	eventually(t, "the left events stored", func() bool { return sp.Stats().PendingBytes == 0 && sp.Stats().Oldest.IsZero() })
	sp.mu.Lock()
	kept := len(sp.marks)
	sp.mu.Unlock()
	if kept != 0 {
		t.Errorf("%d marks kept with nothing pending", kept)
	}
}
