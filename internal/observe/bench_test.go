package observe

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"portico/internal/clientip"
	"portico/internal/event"
)

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkObserve serves a redirect bare, with the access log (JSON, to
// nowhere), and with a sampled span per request, to show what each
// costs when it is on; off, Wrap returns the handler itself.
func BenchmarkObserve(b *testing.B) {
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(interface {
			RecordResult(string, event.Kind, event.Outcome)
		}); ok {
			rec.RecordResult("get.example.com", event.KindFile, event.OutcomeRedirect)
		}
		w.Header()["Location"] = []string{"https://dl.example.com/x"}
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"off", Options{Trusted: trusted}},
		{"access-log", Options{AccessLog: slog.New(slog.NewJSONHandler(io.Discard, nil)), Trusted: trusted}},
		{"tracing", Options{Tracer: tp.Tracer("bench"), Trusted: trusted}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := Wrap(redirect, c.o)
			req, _ := http.NewRequest("GET", "http://get.example.com/dl/x", nil)
			req.RequestURI = "/dl/x"
			req.RemoteAddr = "192.0.2.1:1234"
			w := &nopWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
