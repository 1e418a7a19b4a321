package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFallbackProbes runs the gateway with a file rule that has a
// fallback: the probes it starts (--probe-interval) find the rule's host
// failing and send the redirects to the fallback, find it working again
// and send them back, and /metrics shows the state.
func TestFallbackProbes(t *testing.T) {
	var failing atomic.Bool
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer primary.Close()
	mirror := httptest.NewServer(http.NotFoundHandler())
	defer mirror.Close()

	cfg := testConfig(t)
	js := `{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":"/dl/{file}","outgoing-url":"` + primary.URL + `/{file}","fallback":"` + mirror.URL + `/m/{file}","package-id":"p"}]}`
	if err := os.WriteFile(cfg.Manifest, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.ProbeInterval = 20 * time.Millisecond
	cfg.FallbackAfter = 2
	a, err := New(t.Context(), cfg, io.Discard, newTestLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	location := func() string {
		req, _ := http.NewRequest("GET", "http://"+a.gw.Addr().String()+"/dl/x.tgz", nil)
		req.Host = "a.test"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Location")
	}
	metric := func(line string) bool {
		resp, err := http.Get("http://" + a.ops.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), line)
	}
	host := strings.TrimPrefix(primary.URL, "http://")
	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := location(); got != primary.URL+"/x.tgz" {
		t.Fatalf("Location %q with the host up", got)
	}
	await("a probe of the host", func() bool { return metric(`portico_backend_probes_total{backend="` + host + `",result="ok"}`) })
	failing.Store(true)
	await("the redirect to the fallback", func() bool { return location() == mirror.URL+"/m/x.tgz" })
	if !metric(`portico_backend_up{backend="` + host + `"} 0`) {
		t.Error("/metrics does not show the host down")
	}
	failing.Store(false)
	await("the redirect back to the host", func() bool { return location() == primary.URL+"/x.tgz" })
	if !metric(`portico_backend_up{backend="`+host+`"} 1`) || !metric(`portico_backend_served_total{backend="`+strings.TrimPrefix(mirror.URL, "http://")+`",role="fallback"}`) {
		t.Error("/metrics does not show the host up again, or nothing served by the fallback")
	}
}
