package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestShutdownReleasesUpstreamWaiters sends SIGTERM while a request waits
// for an upstream index that does not answer: the request is answered
// with a 503 at once and the process exits 0, long before either the
// fetch timeout or the shutdown timeout would have ended the wait.
func TestShutdownReleasesUpstreamWaiters(t *testing.T) {
	var asked atomic.Int64
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	g := start(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"py.test","package-name":"slow","package-id":"p","index-url":%q}]}`, up.URL+"/simple/"),
		"--shutdown-timeout", "5m", "--data", "none")

	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+g.addr+"/simple/slow/", nil)
		req.Host = "py.test"
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			answers <- answer{err: err}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers <- answer{status: resp.StatusCode, body: string(body)}
	}()
	waitFor(t, "the upstream to be asked", 10*time.Second, func() bool { return asked.Load() > 0 })
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-answers
	if a.err != nil || a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "shutting down") {
		t.Fatalf("request waiting on the upstream at SIGTERM: %d %q %v, want 503 saying the gateway is shutting down", a.status, a.body, a.err)
	}
	if err := g.wait(t); err != nil {
		t.Fatalf("exit: %v, want status 0", err)
	}
}
