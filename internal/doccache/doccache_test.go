package doccache

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a time source that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin is an upstream whose document, validators and health tests set.
type origin struct {
	mu       sync.Mutex
	body     string
	etag     string
	lastMod  string
	down     bool
	requests atomic.Int64
	cond     atomic.Int64 // requests that carried a validator
	gate     chan struct{}
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.requests.Add(1)
	if o.gate != nil {
		<-o.gate
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		http.Error(w, "boom", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/missing" {
		http.NotFound(w, r)
		return
	}
	if r.URL.Path == "/elsewhere" {
		w.Header().Set("Location", "http://192.0.2.1/doc")
		w.WriteHeader(http.StatusFound)
		return
	}
	if r.URL.Path == "/moved" {
		w.Header().Set("Location", "/doc")
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
	if inm != "" || ims != "" {
		o.cond.Add(1)
	}
	if (o.etag != "" && inm == o.etag) || (o.etag == "" && o.lastMod != "" && ims == o.lastMod) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if o.etag != "" {
		w.Header().Set("ETag", o.etag)
	}
	if o.lastMod != "" {
		w.Header().Set("Last-Modified", o.lastMod)
	}
	_, _ = w.Write([]byte(o.body))
}

func (o *origin) set(f func(o *origin)) { o.mu.Lock(); f(o); o.mu.Unlock() }

var parses atomic.Int64

func upper(_ *url.URL, _ http.Header, body []byte) (any, int64, error) {
	parses.Add(1)
	if strings.HasPrefix(string(body), "bad") {
		return nil, 0, errors.New("not a document")
	}
	return strings.ToUpper(string(body)), 0, nil
}

func setup(t *testing.T, o *origin) (*Cache, *clock, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(Options{Now: clk.now, RetryAfter: 10 * time.Second}), clk, srv
}

func get(t *testing.T, c *Cache, u string) (*Doc, State, error) {
	t.Helper()
	return c.Get(context.Background(), Request{Key: u, URL: u, TTL: time.Minute, Parse: upper})
}

func TestFreshThenRevalidatedWithETag(t *testing.T) {
	o := &origin{body: "one", etag: `"v1"`}
	c, clk, srv := setup(t, o)
	u := srv.URL + "/doc"
	d, st, err := get(t, c, u)
	if err != nil || st != Fetched || d.Value != "ONE" {
		t.Fatalf("first get: %v %v %v", d, st, err)
	}
	clk.add(30 * time.Second)
	if d, st, _ = get(t, c, u); st != Fresh || d.Value != "ONE" {
		t.Fatalf("within TTL: state %v value %v", st, d.Value)
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("upstream saw %d requests within the TTL, want 1", n)
	}
	clk.add(time.Minute)
	before := parses.Load()
	if d, st, _ = get(t, c, u); st != Revalidated || d.Value != "ONE" {
		t.Fatalf("after TTL, unchanged: state %v value %v", st, d.Value)
	}
	if o.cond.Load() != 1 || parses.Load() != before {
		t.Errorf("revalidation: %d conditional requests, %d parses; want 1 and 0", o.cond.Load(), parses.Load()-before)
	}
	if d, st, _ = get(t, c, u); st != Fresh {
		t.Errorf("after a 304 the document is fresh again, got %v", st)
	}
	o.set(func(o *origin) { o.body, o.etag = "two", `"v2"` })
	clk.add(2 * time.Minute)
	if d, st, _ = get(t, c, u); st != Refreshed || d.Value != "TWO" || d.ETag != `"v2"` {
		t.Errorf("after a change: state %v value %v etag %s", st, d.Value, d.ETag)
	}
}

func TestRevalidatedWithLastModified(t *testing.T) {
	o := &origin{body: "one", lastMod: "Mon, 02 Jan 2006 15:04:05 GMT"}
	c, clk, srv := setup(t, o)
	u := srv.URL + "/doc"
	if _, _, err := get(t, c, u); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Minute)
	if _, st, err := get(t, c, u); err != nil || st != Revalidated {
		t.Fatalf("state %v err %v, want revalidated", st, err)
	}
}

func TestStaleWhenUpstreamFails(t *testing.T) {
	o := &origin{body: "one", etag: `"v1"`}
	c, clk, srv := setup(t, o)
	u := srv.URL + "/doc"
	if _, _, err := get(t, c, u); err != nil {
		t.Fatal(err)
	}
	o.set(func(o *origin) { o.down = true })
	clk.add(2 * time.Minute)
	d, st, err := get(t, c, u)
	if err != nil || st != Stale || d.Value != "ONE" {
		t.Fatalf("upstream 503: got %v %v %v, want the stale copy", d, st, err)
	}
	n := o.requests.Load()
	if _, st, _ := get(t, c, u); st != Stale || o.requests.Load() != n {
		t.Errorf("while failing, the upstream is left alone: state %v, %d new requests", st, o.requests.Load()-n)
	}
	srv.Close() // now unreachable, not just failing
	clk.add(11 * time.Second)
	if d, st, err := get(t, c, u); err != nil || st != Stale || d.Value != "ONE" {
		t.Errorf("upstream unreachable: got %v %v %v, want the stale copy", d, st, err)
	}
	if s := c.Stats(); s.Stale < 2 || s.Failures < 2 {
		t.Errorf("stats %+v: want stale and failures counted", s)
	}
}

func TestColdFailureIsAnError(t *testing.T) {
	o := &origin{down: true}
	c, _, srv := setup(t, o)
	_, _, err := get(t, c, srv.URL+"/doc")
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != http.StatusBadGateway || !strings.Contains(err.Error(), "503") {
		t.Fatalf("cold cache, upstream 503: err %v, want *Error with 502 naming the 503", err)
	}
	srv.Close()
	_, _, err = get(t, c, srv.URL+"/doc")
	if !errors.As(err, &ue) || ue.Status != http.StatusBadGateway {
		t.Fatalf("cold cache, upstream down: err %v, want *Error with 502", err)
	}
	if c.Stats().Documents != 0 {
		t.Error("a failure must not be cached")
	}
}

func TestUnparsableIsAnError(t *testing.T) {
	o := &origin{body: "bad document"}
	c, _, srv := setup(t, o)
	if _, _, err := get(t, c, srv.URL+"/doc"); err == nil || !strings.Contains(err.Error(), "not a document") {
		t.Fatalf("err %v, want the parse error", err)
	}
}

func TestMissingIsCached(t *testing.T) {
	o := &origin{}
	c, _, srv := setup(t, o)
	for range 3 {
		d, _, err := get(t, c, srv.URL+"/missing")
		if err != nil || !d.Missing {
			t.Fatalf("got %+v %v, want a missing document", d, err)
		}
	}
	if n := o.requests.Load(); n != 1 {
		t.Errorf("upstream asked %d times for a missing document within its TTL, want 1", n)
	}
}

func TestRedirects(t *testing.T) {
	o := &origin{body: "one"}
	c, _, srv := setup(t, o)
	d, _, err := get(t, c, srv.URL+"/moved")
	if err != nil || d.Value != "ONE" || d.URL.Path != "/doc" {
		t.Fatalf("same-host redirect: %+v %v", d, err)
	}
	_, _, err = get(t, c, srv.URL+"/elsewhere")
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("cross-host redirect: err %v, want it refused", err)
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	o := &origin{body: "one", gate: make(chan struct{})}
	c, _, srv := setup(t, o)
	u := srv.URL + "/doc"
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			d, _, err := get(t, c, u)
			if err == nil && d.Value != "ONE" {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	// Let the one fetch through once it has started.
	for o.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(o.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := o.requests.Load(); n != 1 {
		t.Errorf("20 concurrent misses made %d upstream requests, want 1", n)
	}
}

func TestBoundedSize(t *testing.T) {
	o := &origin{body: strings.Repeat("x", 1000)}
	srv := httptest.NewServer(o)
	defer srv.Close()
	c := New(Options{MaxBytes: 5000})
	for i := range 20 {
		u := srv.URL + "/doc?n=" + string(rune('a'+i))
		if _, _, err := get(t, c, u); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Stats()
	if s.Bytes > 5000 || s.Documents == 0 || s.Documents >= 20 {
		t.Errorf("stats %+v: want at most 5000 bytes kept and older documents evicted", s)
	}
	if c.Peek(srv.URL+"/doc?n=t") == nil {
		t.Error("the most recent document was evicted")
	}
	if c.Peek(srv.URL+"/doc?n=a") != nil {
		t.Error("the least recently used document was kept")
	}
}

func TestCallerCancelDoesNotCancelFetch(t *testing.T) {
	o := &origin{body: "one", gate: make(chan struct{})}
	c, _, srv := setup(t, o)
	u := srv.URL + "/doc"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, _, err := c.Get(ctx, Request{Key: u, URL: u, TTL: time.Minute, Parse: upper})
		done <- err
	}()
	for o.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	close(o.gate)
	d, _, err := get(t, c, u)
	if err != nil || d.Value != "ONE" {
		t.Fatalf("%v %v", d, err)
	}
	if n := o.requests.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want the abandoned fetch to complete and be reused", n)
	}
}
