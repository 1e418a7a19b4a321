package ops

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestReadyz(t *testing.T) {
	ready := true
	h := New(prometheus.NewRegistry(), func() (bool, string) { return ready, "manifest: generation 3" })
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "generation 3") {
		t.Errorf("/readyz = %d %q, want 200 with the detail", code, body)
	}
	ready = false
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "generation 3") {
		t.Errorf("/readyz when a check fails = %d %q, want 503 with the detail", code, body)
	}
	ready = true
	h.Drain()
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz while draining = %d %q, want 503 saying why", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200 even while draining", code)
	}
	if code, _ := get("/metrics"); code != 200 {
		t.Errorf("/metrics = %d", code)
	}
}
