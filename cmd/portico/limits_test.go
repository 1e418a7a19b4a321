package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// metricsText returns the gateway's /metrics.
func (g *gateway) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + g.opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRateLimit runs the binary with --rate-limit behind a trusted proxy:
// a client over its rate gets 429 with Retry-After while another is
// served, it is served again after waiting, the refusals are counted,
// and its address is written nowhere.
func TestRateLimit(t *testing.T) {
	g := start(t, telemetryManifest, "--rate-limit", "4", "--rate-limit-burst", "2", "--access-log", "--log-level", "debug")
	const client, other = "203.0.113.41", "203.0.113.42"
	base := "http://" + g.addr
	for i := range 2 {
		if code := get(t, base+"/dl/x", "t.test", "X-Forwarded-For", client).StatusCode; code != http.StatusTemporaryRedirect {
			t.Fatalf("request %d within the burst: %d", i+1, code)
		}
	}
	resp := get(t, base+"/dl/x", "t.test", "X-Forwarded-For", client)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the rate: %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
	if code := get(t, base+"/dl/x", "t.test", "X-Forwarded-For", other).StatusCode; code != http.StatusTemporaryRedirect {
		t.Errorf("another client: %d, want 307", code)
	}
	time.Sleep(300 * time.Millisecond)
	if code := get(t, base+"/dl/x", "t.test", "X-Forwarded-For", client).StatusCode; code != http.StatusTemporaryRedirect {
		t.Errorf("after waiting: %d, want 307", code)
	}
	m := g.metricsText(t)
	if !strings.Contains(m, "portico_rate_limited_total 1\n") || !strings.Contains(m, "portico_rate_limit_clients 2\n") {
		t.Errorf("metrics do not count one refusal of two clients:\n%s", grepLines(m, "rate_limit"))
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	if err := g.wait(t); err != nil {
		t.Fatal(err)
	}
	if n := len(g.events(t)); n != 4 {
		t.Errorf("%d events, want 4: the refused request is not a download", n)
	}
	if !strings.Contains(g.stderr.String(), "status=429") {
		t.Errorf("the access log has no line for the refused request:\n%s", g.stderr)
	}
	for name, out := range map[string]string{"stdout": g.stdout.String(), "stderr": g.stderr.String()} {
		for _, addr := range []string{client, other} {
			if strings.Contains(out, addr) {
				t.Errorf("%s contains the client address %s", name, addr)
			}
		}
	}
}

func grepLines(text, word string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// TestPprof: the profiler answers on the ops listener with --pprof only.
func TestPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		var args []string
		if on {
			args = append(args, "--pprof")
		}
		g := start(t, telemetryManifest, args...)
		resp, err := http.Get("http://" + g.opsAddr + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case on && (resp.StatusCode != 200 || !strings.Contains(string(b), "goroutine profile")):
			t.Errorf("with --pprof: %d %.80q, want a goroutine profile", resp.StatusCode, b)
		case !on && resp.StatusCode != http.StatusNotFound:
			t.Errorf("without --pprof: %d, want 404", resp.StatusCode)
		}
		if resp, err := http.Get("http://" + g.addr + "/debug/pprof/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Error("the profiler answers on the gateway listener")
			}
		}
	}
}
