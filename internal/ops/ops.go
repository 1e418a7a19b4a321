// Package ops serves the operator endpoints on their own listener:
// /healthz (the process is alive), /readyz (it can serve traffic, and if
// not, why), /metrics (Prometheus) and, when asked for, /debug/pprof/.
package ops

import (
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// A Check reports whether one part of the gateway is ready, with a
// human-readable detail that is shown either way.
type Check func() (ready bool, detail string)

// Handler serves the operator endpoints.
type Handler struct {
	mux      *http.ServeMux
	checks   []Check
	draining atomic.Bool
}

// New returns the operator handler. checks are evaluated on every /readyz.
func New(reg *prometheus.Registry, checks ...Check) *Handler {
	h := &Handler{mux: http.NewServeMux(), checks: checks}
	h.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	h.mux.HandleFunc("/readyz", h.readyz)
	h.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return h
}

// ServePprof serves the Go profiler under /debug/pprof/: CPU and heap
// profiles, goroutines, execution traces. The operator turns it on
// (--pprof); it shows the process's internals, and a CPU profile or
// trace costs some CPU while it runs. Call it before serving.
func (h *Handler) ServePprof() {
	h.mux.HandleFunc("/debug/pprof/", pprof.Index)
	h.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	h.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	h.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	h.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// Drain makes /readyz fail from now on, so load balancers stop sending
// new requests while in-flight ones finish.
func (h *Handler) Drain() { h.draining.Store(true) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	ready := true
	var b strings.Builder
	if h.draining.Load() {
		ready = false
		b.WriteString("shutting down: finishing in-flight requests\n")
	}
	for _, c := range h.checks {
		ok, detail := c()
		if !ok {
			ready = false
		}
		b.WriteString(detail)
		if detail != "" && !strings.HasSuffix(detail, "\n") {
			b.WriteByte('\n')
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n" + b.String()))
		return
	}
	_, _ = w.Write([]byte("ready\n" + b.String()))
}
