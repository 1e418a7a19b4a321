package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/event"
)

// blockingSink holds every Write until released, to fill the queue.
type blockingSink struct {
	release chan struct{}
	mu      sync.Mutex
	got     []event.Event
}

func (s *blockingSink) Name() string { return "blocking" }
func (s *blockingSink) Write(_ context.Context, batch []event.Event) error {
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, batch...)
	s.mu.Unlock()
	return nil
}
func (s *blockingSink) Close() error { return nil }

func TestEmitNeverBlocks(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	p := New(Config{QueueSize: 4, BatchSize: 2, Sinks: []Sink{sink}})
	done := make(chan struct{})
	go func() {
		for range 1000 {
			p.Emit(event.Event{Kind: event.KindFile})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Emit blocked while the sink was stuck")
	}
	st := p.Stats()
	if st.Dropped == 0 || st.Emitted+st.Dropped != 1000 {
		t.Fatalf("stats %+v: want drops, and emitted + dropped = 1000", st)
	}
	close(sink.release)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := uint64(len(sink.got)); got != st.Emitted {
		t.Errorf("sink got %d events, want every one accepted (%d)", got, st.Emitted)
	}
}

type recordSink struct {
	mu     sync.Mutex
	events []event.Event
	closed bool
}

func (s *recordSink) Name() string { return "record" }
func (s *recordSink) Write(_ context.Context, batch []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, batch...)
	return nil
}
func (s *recordSink) Close() error { s.closed = true; return nil }

type enricher struct{ sawAddr []netip.Addr }

func (e *enricher) Enrich(ev *event.Event) {
	e.sawAddr = append(e.sawAddr, ev.ClientAddr)
	ev.Origin.Country = "ZZ"
}

func TestCloseDrainsAndClearsAddresses(t *testing.T) {
	sink := &recordSink{}
	en := &enricher{}
	p := New(Config{QueueSize: 1000, Sinks: []Sink{sink}, Enricher: en})
	addr := netip.MustParseAddr("203.0.113.5")
	for range 500 {
		p.Emit(event.Event{Kind: event.KindFile, Time: time.Now(), ClientAddr: addr})
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 500 || !sink.closed {
		t.Fatalf("sink got %d events (closed %v), want all 500 and closed", len(sink.events), sink.closed)
	}
	ids := map[event.ID]bool{}
	for _, e := range sink.events {
		if e.ClientAddr.IsValid() {
			t.Fatal("a sink saw the client address")
		}
		if e.Origin.Country != "ZZ" {
			t.Fatal("event not enriched")
		}
		if e.ID.IsZero() || ids[e.ID] {
			t.Fatalf("event ID %v missing or repeated", e.ID)
		}
		ids[e.ID] = true
	}
	if len(en.sawAddr) != 500 || en.sawAddr[0] != addr {
		t.Errorf("enricher saw %d addresses, want the client address for each of 500", len(en.sawAddr))
	}
	p.Emit(event.Event{Kind: event.KindFile})
	if st := p.Stats(); st.Dropped != 1 {
		t.Errorf("Emit after Close: dropped = %d, want 1", st.Dropped)
	}
}

type failingSink struct{}

func (failingSink) Name() string                               { return "failing" }
func (failingSink) Write(context.Context, []event.Event) error { return errors.New("disk full") }
func (failingSink) Close() error                               { return nil }

func TestSinkFailureIsCounted(t *testing.T) {
	rec := &recordSink{}
	p := New(Config{Sinks: []Sink{failingSink{}, rec}})
	p.Emit(event.Event{Kind: event.KindPixel})
	_ = p.Close(context.Background())
	if st := p.Stats(); st.Failed != 1 || len(rec.events) != 1 {
		t.Errorf("stats %+v, other sink got %d: want one failure and the other sink still written", st, len(rec.events))
	}
}

func TestLineSink(t *testing.T) {
	var buf bytes.Buffer
	s := NewLineSink(&buf)
	batch := []event.Event{{Kind: event.KindPixel, Outcome: event.OutcomeServe, PixelID: "a"}, {Kind: event.KindPixel, Outcome: event.OutcomeServe, PixelID: "b"}}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("wrote %d lines, want 2: %q", len(lines), buf.String())
	}
	for i, l := range lines {
		e, err := event.Parse([]byte(l))
		if err != nil || e.PixelID != batch[i].PixelID {
			t.Errorf("line %d = %q (%v), want pixel %q", i, l, err, batch[i].PixelID)
		}
	}
}

func BenchmarkEmit(b *testing.B) {
	p := New(Config{QueueSize: 1 << 16, Sinks: []Sink{NewLineSink(discard{})}})
	defer p.Close(context.Background())
	e := event.Event{Kind: event.KindFile, Domain: "get.acme.dev", Path: "/x", Variables: []event.Var{{Name: "a", Value: "b"}}}
	b.ReportAllocs()
	for b.Loop() {
		p.Emit(e)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// TestConcurrentEmitLosesNothing emits from many goroutines into a small
// queue with a slow sink, so that the worker keeps swapping buffers while
// requests append: every accepted event must reach the sink exactly once.
func TestConcurrentEmitLosesNothing(t *testing.T) {
	sink := &slowSink{}
	p := New(Config{QueueSize: 64, BatchSize: 16, Linger: time.Millisecond, Sinks: []Sink{sink}})
	const emitters, each = 8, 5000
	var wg sync.WaitGroup
	for g := range emitters {
		wg.Go(func() {
			for i := range each {
				p.Emit(event.Event{Kind: event.KindPixel, PixelID: fmt.Sprintf("%d-%d", g, i)})
				if i%100 == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
		})
	}
	wg.Wait()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Emitted+st.Dropped != emitters*each {
		t.Fatalf("stats %+v: emitted + dropped != %d", st, emitters*each)
	}
	if st.Emitted == 0 || st.Written != st.Emitted || st.Queued != 0 {
		t.Fatalf("stats %+v: want every accepted event written and none left queued", st)
	}
	seen := make(map[string]bool, len(sink.ids))
	for _, id := range sink.ids {
		if seen[id] {
			t.Fatalf("event %s written twice", id)
		}
		seen[id] = true
	}
	if uint64(len(seen)) != st.Emitted {
		t.Fatalf("sink got %d distinct events, want %d", len(seen), st.Emitted)
	}
}

// slowSink records event identities and takes a little time per batch.
type slowSink struct{ ids []string }

func (s *slowSink) Name() string { return "slow" }
func (s *slowSink) Write(_ context.Context, batch []event.Event) error {
	for _, e := range batch {
		s.ids = append(s.ids, e.PixelID)
	}
	time.Sleep(50 * time.Microsecond)
	return nil
}
func (s *slowSink) Close() error { return nil }

// BenchmarkEmitAndWrite measures an event's whole cost on one core, the
// request's Emit and the worker's share, with the emitter yielding now
// and then as a server's goroutines do. Run it with -cpu 1.
func BenchmarkEmitAndWrite(b *testing.B) {
	p := New(Config{QueueSize: 16384, Sinks: []Sink{NewLineSink(discard{})}})
	e := event.Event{Kind: event.KindFile, Domain: "get.acme.dev", Path: "/x", Variables: []event.Var{{Name: "a", Value: "b"}}}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		p.Emit(e)
		if i++; i%32 == 0 {
			runtime.Gosched()
		}
	}
	if err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := p.Stats(); st.Dropped > 0 {
		b.Fatalf("%d events dropped: the benchmark would measure drops", st.Dropped)
	}
}

// TestEncodedOnce checks that sinks get every event encoded once, after
// enrichment, exactly as AppendJSON writes it, and that the encodings of
// a batch do not overlap.
func TestEncodedOnce(t *testing.T) {
	sink := &recordSink{}
	p := New(Config{Sinks: []Sink{sink}, Enricher: &enricher{}})
	for i := range 100 {
		p.Emit(event.Event{Time: time.Now(), Kind: event.KindFile, Domain: "get.test", Path: fmt.Sprintf("/f/%d", i), Status: 307, Outcome: event.OutcomeRedirect})
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.events
	if len(got) != 100 {
		t.Fatalf("sink got %d events, want 100", len(got))
	}
	for i := range got {
		e := got[i]
		if e.Encoded == nil {
			t.Fatalf("event %d reached the sink unencoded", i)
		}
		enc := e.Encoded
		e.Encoded = nil
		if want := e.AppendJSON(nil); string(enc) != string(want) {
			t.Fatalf("event %d encoded as\n%s\nwant\n%s", i, enc, want)
		}
		if !strings.Contains(string(enc), `"country":"ZZ"`) {
			t.Errorf("event %d was encoded before enrichment: %s", i, enc)
		}
		if cap(enc) != len(enc) {
			t.Errorf("event %d: an append to its encoding would overwrite the next one", i)
		}
	}
}
