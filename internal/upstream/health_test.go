package upstream

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatusTransitions walks one backend through its states: down only
// after the threshold of consecutive failures, a success in between
// starting the count again, up at the first success, each change
// counted once.
func TestStatusTransitions(t *testing.T) {
	h := NewHealth(nil, HealthOptions{Threshold: 3, Interval: -1})
	s, err := h.Watch("http://primary.test:5000", "http://primary.test:5000/v2/")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		fail bool
		down bool
	}{
		{true, false}, {true, false}, {false, false}, // reset by the success
		{true, false}, {true, false}, {true, true}, // third in a row
		{true, true}, {false, false}, {true, false},
	}
	for i, st := range steps {
		if st.fail {
			s.Failure()
		} else {
			s.Success()
		}
		if s.Down() != st.down {
			t.Fatalf("step %d: Down() = %v, want %v", i, s.Down(), st.down)
		}
	}
	m := metricValues(t, h)
	for key, want := range map[string]float64{
		`portico_backend_health_changes_total{backend=primary.test:5000,state=down}`: 1,
		`portico_backend_health_changes_total{backend=primary.test:5000,state=up}`:   1,
		`portico_backend_failures_total{backend=primary.test:5000,source=request}`:   7,
		`portico_backend_up{backend=primary.test:5000}`:                              1,
	} {
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
	again, _ := h.Watch("http://PRIMARY.test:5000/other/", "")
	if again != s {
		t.Error("watching the same origin again gave another status")
	}
	var none *Status
	if none.Down() {
		t.Error("a nil status is down")
	}
}

// TestPairUseFallback checks the choice of the first backend: the
// fallback only while the primary is down and the fallback is not.
func TestPairUseFallback(t *testing.T) {
	h := NewHealth(nil, HealthOptions{Threshold: 1, Interval: -1})
	p, err := h.Pair("https://a.test", "https://a.test/", "https://b.test", "https://b.test/")
	if err != nil {
		t.Fatal(err)
	}
	if p.UseFallback() {
		t.Fatal("fallback used with both up")
	}
	p.Primary.Failure()
	if !p.UseFallback() {
		t.Fatal("fallback not used with the primary down")
	}
	p.Fallback.Failure()
	if p.UseFallback() {
		t.Fatal("fallback used with both down")
	}
	p.Primary.Success()
	p.Fallback.Success()
	if p.UseFallback() {
		t.Fatal("fallback used after the primary recovered")
	}
	if _, err := h.Pair("ftp://a.test", "", "https://b.test", ""); err == nil {
		t.Fatal("a pair with an ftp primary was accepted")
	}
}

// TestHealthPassiveAndProbe runs real backends through the transport:
// 5xx answers and refused connections of requests mark a backend down,
// a client that goes away does not, and probes bring it back up (or
// keep it down) by what the backend answers.
func TestHealthPassiveAndProbe(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusUnauthorized) // what /v2/ of a registry with auth answers: up
	})
	tr := NewTransport(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	h := NewHealth(tr, HealthOptions{Threshold: 2, Interval: -1, Timeout: 2 * time.Second})
	s, err := h.Watch(srv.URL, srv.URL+"/v2/")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(tr)
	p, _ := NewPolicy(srv.URL)
	for range 2 {
		resp, err := open(t, c, p, srv.URL+"/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !Failed(context.Background(), resp, nil) {
			t.Fatal("a 503 is not a failure")
		}
	}
	if !s.Down() {
		t.Fatal("two 503 answers did not mark the backend down")
	}
	h.ProbeAll(context.Background())
	if !s.Down() {
		t.Fatal("a probe answered 503 marked the backend up")
	}
	failing.Store(false)
	h.ProbeAll(context.Background())
	if s.Down() {
		t.Fatal("a probe answered 401 left the backend down")
	}

	// A client that goes away is no failure of the backend.
	ctx, cancel := context.WithCancel(WithPolicy(context.Background(), p))
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
	for range 3 {
		if _, err := c.Do(req); err == nil {
			t.Fatal("a canceled request was answered")
		} else if Failed(ctx, nil, err) {
			t.Fatalf("a canceled request counts as a failure: %v", err)
		}
	}
	if s.Down() {
		t.Fatal("canceled requests marked the backend down")
	}

	// Nothing listening: connection refused, twice.
	srv.Close()
	for range 2 {
		resp, err := open(t, c, p, srv.URL+"/x")
		if err == nil {
			resp.Body.Close()
			t.Fatal("a closed server answered")
		}
		if !Failed(context.Background(), nil, err) {
			t.Fatalf("a refused connection is not a failure: %v", err)
		}
	}
	if !s.Down() {
		t.Fatal("refused connections did not mark the backend down")
	}
	h.ProbeAll(context.Background())
	m := metricValues(t, h)
	label := s.Label()
	for key, want := range map[string]float64{
		"portico_backend_probes_total{backend=" + label + ",result=ok}":      1,
		"portico_backend_probes_total{backend=" + label + ",result=failed}":  2,
		"portico_backend_failures_total{backend=" + label + ",source=probe}": 2,
		"portico_backend_up{backend=" + label + "}":                          0,
	} {
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
}

// TestWithHeaderTimeout checks that a backend that sends no headers in
// time is given up on, counted as a timeout and a failure, while one that
// answered in time streams its body past the timeout.
func TestWithHeaderTimeout(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond)
		_, _ = w.Write([]byte("late body"))
	})
	tr := NewTransport(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	h := NewHealth(tr, HealthOptions{Threshold: 1, Interval: -1})
	s, _ := h.Watch(srv.URL, srv.URL)
	c := NewClient(tr)
	p, _ := NewPolicy(srv.URL)

	ctx, _, cancel := WithHeaderTimeout(WithPolicy(context.Background(), p), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hang", nil)
	_, err := c.Do(req)
	if err == nil {
		t.Fatal("a hanging backend answered")
	}
	if !Failed(ctx, nil, err) || classify(ctx, err) != resultTimeout {
		t.Fatalf("header timeout: not a failure, or not a timeout: %v", err)
	}
	if !s.Down() {
		t.Fatal("the header timeout did not count as a failure")
	}

	ctx2, headers2, cancel2 := WithHeaderTimeout(WithPolicy(context.Background(), p), 100*time.Millisecond)
	defer cancel2()
	req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, srv.URL+"/slow-body", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	headers2()
	body := make([]byte, 64)
	n, _ := readFull(resp.Body, body)
	resp.Body.Close()
	if string(body[:n]) != "late body" {
		t.Fatalf("body = %q after the header timeout was stopped", body[:n])
	}
	if s.Down() {
		t.Fatal("an answer did not mark the backend up")
	}
}

func readFull(r interface{ Read([]byte) (int, error) }, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPolicyWithFallback checks that a rule's fallback is a backend of
// its policy, measured as its own, and that nothing else becomes one.
func TestPolicyWithFallback(t *testing.T) {
	primary := newServer(t, false, nil)
	fallback := newServer(t, false, nil)
	p, err := NewPolicy(primary.URL, fallback.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err = p.WithFallback(fallback.URL + "/registry/")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{primary.URL + "/a", fallback.URL + "/b"} {
		if d, err := p.Check(mustURL(t, u)); err != nil || d != DestBackend {
			t.Errorf("Check(%s) = %v, %v; want a backend", u, d, err)
		}
	}
	if _, err := p.Check(mustURL(t, "http://other.test/")); err == nil {
		t.Error("another origin is allowed")
	}
	if _, err := p.WithFallback("ftp://x.test"); err == nil {
		t.Error("an ftp fallback is accepted")
	}
	tr := NewTransport(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	c := NewClient(tr)
	for _, u := range []string{primary.URL + "/a", fallback.URL + "/b", fallback.URL + "/c"} {
		resp, err := open(t, c, p, u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	m := metricValues(t, tr.Collector())
	for srv, want := range map[*server]float64{primary: 1, fallback: 2} {
		key := "portico_upstream_requests_total{backend=" + mustURL(t, srv.URL).Host + ",dest=backend,result=2xx}"
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
