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

func upper(_ context.Context, _ *url.URL, _ http.Header, body []byte) (any, int64, error) {
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

func TestSizeLimit(t *testing.T) {
	o := &origin{body: strings.Repeat("x", 2000)}
	c, clk, srv := setup(t, o)
	u := srv.URL + "/doc"
	r := Request{Key: u, URL: u, TTL: time.Minute, Parse: upper, MaxDocument: 1000}
	_, _, err := c.Get(context.Background(), r)
	var ue *Error
	var se *SizeError
	if !errors.As(err, &ue) || ue.Status != http.StatusBadGateway || !errors.As(err, &se) || se.Limit != 1000 || se.Size != 2000 ||
		!strings.Contains(err.Error(), "exceeds the size limit of 1000 bytes") {
		t.Fatalf("announced body over the limit: err %v, want a 502 *Error with a *SizeError naming the limit", err)
	}

	// Without a Content-Length the body is cut off at the limit.
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for range 40 {
			_, _ = w.Write([]byte(strings.Repeat("y", 100)))
			w.(http.Flusher).Flush()
		}
	}))
	defer chunked.Close()
	cr := Request{Key: chunked.URL, URL: chunked.URL, TTL: time.Minute, Parse: upper, MaxDocument: 2 << 20}
	if _, _, err := c.Get(context.Background(), cr); err != nil {
		t.Fatalf("a 4000-byte streamed body under a 2 MiB limit: %v", err)
	}
	clk.add(2 * time.Minute)
	cr.MaxDocument = 1 << 10
	d, st, err := c.Get(context.Background(), cr)
	if err != nil || st != Stale || d.Value != strings.Repeat("Y", 4000) {
		t.Fatalf("streamed body over the limit with a copy cached: %v %v, want the stale copy", st, err)
	}
	delete(c.entries, chunked.URL)
	_, _, err = c.Get(context.Background(), cr)
	if !errors.As(err, &se) || se.Size != -1 || !strings.Contains(err.Error(), "exceeds the size limit of 1024 bytes") {
		t.Fatalf("streamed body over the limit, nothing cached: err %v", err)
	}
	if e := (&SizeError{Limit: 64 << 20, Size: -1}).Error(); !strings.Contains(e, "64 MiB (67108864 bytes)") {
		t.Errorf("SizeError for 64 MiB reads %q", e)
	}
}

// stuckParse is a Parse that ignores its context until release is closed.
func stuckParse(release chan struct{}) func(context.Context, *url.URL, http.Header, []byte) (any, int64, error) {
	return func(_ context.Context, _ *url.URL, _ http.Header, body []byte) (any, int64, error) {
		<-release
		return string(body), 0, nil
	}
}

// TestParseCannotOutliveFetchTimeout: a parse that never looks at its
// context is abandoned when the fetch timeout passes, and the flight
// ends with a 504 or the stale copy.
func TestParseCannotOutliveFetchTimeout(t *testing.T) {
	o := &origin{body: "one"}
	srv := httptest.NewServer(o)
	defer srv.Close()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := New(Options{Now: clk.now, FetchTimeout: 500 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	u := srv.URL + "/doc"
	_, _, err := c.Get(context.Background(), Request{Key: u, URL: u, TTL: time.Minute, Parse: stuckParse(release)})
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != http.StatusGatewayTimeout {
		t.Fatalf("stuck parse, nothing cached: err %v, want a 504 *Error", err)
	}
	if _, _, err := get(t, c, u); err != nil {
		t.Fatalf("the next fetch must not wait behind the abandoned one: %v", err)
	}
	clk.add(2 * time.Minute)
	d, st, err := c.Get(context.Background(), Request{Key: u, URL: u, TTL: time.Minute, Parse: stuckParse(release)})
	if err != nil || st != Stale || d.Value != "ONE" {
		t.Fatalf("stuck parse with a copy cached: %v %v %v, want the stale copy", d, st, err)
	}
}

// TestParseGetsDeadline: the context given to Parse ends with the fetch
// timeout.
func TestParseGetsDeadline(t *testing.T) {
	o := &origin{body: "one"}
	c, _, srv := setup(t, o)
	u := srv.URL + "/doc"
	var deadline bool
	_, _, err := c.Get(context.Background(), Request{Key: u, URL: u, TTL: time.Minute,
		Parse: func(ctx context.Context, _ *url.URL, _ http.Header, body []byte) (any, int64, error) {
			_, deadline = ctx.Deadline()
			return string(body), 0, nil
		}})
	if err != nil || !deadline {
		t.Fatalf("err %v, deadline %v: want the parse to run under the fetch deadline", err, deadline)
	}
}

// TestWaiterStopsAtOwnDeadline: callers waiting on a slow fetch stop at
// their own deadline with the stale copy or a 504, while the fetch goes
// on for others.
func TestWaiterStopsAtOwnDeadline(t *testing.T) {
	o := &origin{body: "one"}
	c, clk, srv := setup(t, o)
	u := srv.URL + "/doc"
	if _, _, err := get(t, c, u); err != nil {
		t.Fatal(err)
	}
	o.set(func(o *origin) { o.gate = make(chan struct{}) })
	defer close(o.gate)
	clk.add(2 * time.Minute)
	for _, key := range []string{u, u + "?cold"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		d, st, err := c.Get(ctx, Request{Key: key, URL: key, TTL: time.Minute, Parse: upper})
		cancel()
		var ue *Error
		switch {
		case key == u && (err != nil || st != Stale || d.Value != "ONE"):
			t.Errorf("slow revalidation: %v %v %v, want the stale copy at the caller's deadline", d, st, err)
		case key != u && (!errors.As(err, &ue) || ue.Status != http.StatusGatewayTimeout):
			t.Errorf("slow first fetch: err %v, want a 504 *Error at the caller's deadline", err)
		}
	}
}

// TestClose: closing the cache releases waiting callers and refuses new
// fetches; fresh documents are still served.
func TestClose(t *testing.T) {
	o := &origin{body: "one"}
	c, clk, srv := setup(t, o)
	fresh := srv.URL + "/doc?fresh"
	if _, _, err := get(t, c, fresh); err != nil {
		t.Fatal(err)
	}
	o.set(func(o *origin) { o.gate = make(chan struct{}) })
	defer close(o.gate)
	u := srv.URL + "/doc"
	done := make(chan error, 1)
	go func() {
		_, _, err := get(t, c, u)
		done <- err
	}()
	for o.requests.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	c.Close()
	var ue *Error
	if err := <-done; !errors.As(err, &ue) || ue.Status != http.StatusServiceUnavailable {
		t.Fatalf("waiting caller after Close: err %v, want a 503 *Error", err)
	}
	if _, st, err := get(t, c, fresh); err != nil || st != Fresh {
		t.Errorf("fresh document after Close: %v %v", st, err)
	}
	clk.add(2 * time.Minute)
	if _, st, err := get(t, c, fresh); err != nil || st != Stale {
		t.Errorf("expired document after Close: %v %v, want the stale copy without a fetch", st, err)
	}
	if _, _, err := get(t, c, u+"?new"); !errors.As(err, &ue) || ue.Status != http.StatusServiceUnavailable {
		t.Errorf("new document after Close: err %v, want a 503 *Error", err)
	}
}
