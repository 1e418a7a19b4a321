package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValues gathers c and returns each sample as
// "name{label=value,…}" → value; histograms give their _count.
func metricValues(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// open sends a GET under p and returns the response with its body open.
func open(t *testing.T, c *http.Client, p *Policy, rawURL string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(WithPolicy(context.Background(), p), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

// TestMaxConnsPerBackend sends more concurrent requests to one backend
// than its cap: the backend never sees more than the cap at once, the
// others wait for a slot (and are counted), and all are answered.
func TestMaxConnsPerBackend(t *testing.T) {
	const limit, clients = 2, 6
	var now, peak atomic.Int64
	release := make(chan struct{})
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		now.Add(-1)
		_, _ = io.WriteString(w, "ok")
	})
	tr := NewTransport(Options{MaxConnsPerBackend: limit})
	t.Cleanup(tr.CloseIdleConnections)
	c := NewClient(tr)
	p, _ := NewPolicy(srv.URL)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			resp, err := open(t, c, p, srv.URL+"/x")
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "ok" {
				errs <- fmt.Errorf("body %q, %v", b, err)
			}
		})
	}
	label := "127.0.0.1:" + srv.port()
	waiting := "portico_upstream_slot_wait_seconds{backend=" + label + "}"
	inFlight := "portico_upstream_in_flight{backend=" + label + "}"
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := metricValues(t, tr.Collector())
		if now.Load() == limit && m[inFlight] == limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend has %d requests, %v in flight; want %d", now.Load(), m[inFlight], limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The rest are queued behind the cap, not at the backend.
	time.Sleep(50 * time.Millisecond)
	if n := now.Load(); n != limit {
		t.Errorf("%d requests at the backend at once, want the cap %d", n, limit)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency at the backend = %d, want %d", p, limit)
	}
	m := metricValues(t, tr.Collector())
	if got := m[waiting]; got < clients-limit {
		t.Errorf("%s = %v, want at least %d waits", waiting, got, clients-limit)
	}
	if got := m[inFlight]; got != 0 {
		t.Errorf("%s = %v after every body was closed, want 0", inFlight, got)
	}
	ok := "portico_upstream_requests_total{backend=" + label + ",dest=backend,result=2xx}"
	if got := m[ok]; got != clients {
		t.Errorf("%s = %v, want %d", ok, got, clients)
	}
}

// TestBusyBackend holds the only slot of a backend by leaving a body
// open: the next request gives up after the wait with a timeout that
// names the cap, and closing the body frees the slot.
func TestBusyBackend(t *testing.T) {
	srv := newServer(t, false, nil)
	tr := NewTransport(Options{MaxConnsPerBackend: 1, HeaderTimeout: 100 * time.Millisecond})
	t.Cleanup(tr.CloseIdleConnections)
	c := NewClient(tr)
	p, _ := NewPolicy(srv.URL)
	held, err := open(t, c, p, srv.URL+"/a")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := open(t, c, p, srv.URL+"/b")
	if err == nil {
		resp.Body.Close()
	}
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second request: %v, want a *BusyError", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v is not a timeout: the gateway would not answer 504", err)
	}
	if !strings.Contains(err.Error(), "1 requests to 127.0.0.1:"+srv.port()) {
		t.Errorf("error %q does not name the cap and the backend", err)
	}
	// Reading to the end does not free the slot; closing does, once.
	_, _ = io.ReadAll(held.Body)
	held.Body.Close()
	held.Body.Close()
	resp, err = open(t, c, p, srv.URL+"/c")
	if err != nil {
		t.Fatalf("after the body was closed: %v", err)
	}
	resp.Body.Close()
	m := metricValues(t, tr.Collector())
	busyKey := "portico_upstream_requests_total{backend=127.0.0.1:" + srv.port() + ",dest=backend,result=busy}"
	if m[busyKey] != 1 {
		t.Errorf("%s = %v, want 1", busyKey, m[busyKey])
	}
	if got := srv.requests(); len(got) != 2 {
		t.Errorf("backend saw %v, want /a and /c only", got)
	}
}

// TestBackendMetrics checks the labels and results counted per backend:
// answers by status class, refusals, connection errors and requests the
// client abandoned, each under the rule's backend.
func TestBackendMetrics(t *testing.T) {
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusBadGateway)
		case "/slow":
			<-r.Context().Done()
		case "/reset":
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "short")
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()

	tr := NewTransport(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	c := NewClient(tr)
	p, _ := NewPolicy(srv.URL)
	for _, path := range []string{"/ok", "/ok", "/fail", "/reset"} {
		if resp, err := open(t, c, p, srv.URL+path); err == nil {
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	if _, err := open(t, c, p, "http://elsewhere.test/x"); err == nil {
		t.Error("a request off the policy was sent")
	}
	dead, _ := NewPolicy("http://" + deadAddr)
	if _, err := open(t, c, dead, "http://"+deadAddr+"/x"); err == nil {
		t.Error("a request to a closed port succeeded")
	}
	ctx, cancel := context.WithTimeout(WithPolicy(context.Background(), p), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
	if _, err := c.Do(req); err == nil {
		t.Error("the slow request did not time out")
	}
	ctx2, cancel2 := context.WithCancel(WithPolicy(context.Background(), p))
	req, _ = http.NewRequestWithContext(ctx2, "GET", srv.URL+"/slow", nil)
	time.AfterFunc(50*time.Millisecond, cancel2)
	if _, err := c.Do(req); err == nil {
		t.Error("the abandoned request succeeded")
	}

	m := metricValues(t, tr.Collector())
	b := "backend=127.0.0.1:" + srv.port()
	for key, want := range map[string]float64{
		"portico_upstream_requests_total{" + b + ",dest=backend,result=2xx}":                  3, // /ok twice and /reset's headers
		"portico_upstream_requests_total{" + b + ",dest=backend,result=5xx}":                  1,
		"portico_upstream_requests_total{" + b + ",dest=backend,result=refused}":              1,
		"portico_upstream_requests_total{" + b + ",dest=backend,result=timeout}":              1,
		"portico_upstream_requests_total{" + b + ",dest=backend,result=canceled}":             1,
		"portico_upstream_request_duration_seconds{" + b + ",dest=backend}":                   4,
		"portico_upstream_body_errors_total{" + b + "}":                                       1,
		"portico_upstream_in_flight{" + b + "}":                                               0,
		"portico_upstream_requests_total{backend=" + deadAddr + ",dest=backend,result=error}": 1,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	for key := range m {
		if strings.Contains(key, "elsewhere") {
			t.Errorf("a host the request named became a label: %s", key)
		}
	}
}
