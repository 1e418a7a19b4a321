package observe

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"portico/internal/clientip"
	"portico/internal/event"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(s.b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// gateway stands in for the router: it answers, streams through the
// response controller, and tells the recorder what it made of the
// request.
var gateway = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if rec, ok := w.(interface {
		RecordResult(string, event.Kind, event.Outcome)
	}); ok {
		rec.RecordResult("dl.example.com", event.KindFile, event.OutcomeServe)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "hello, ")
	if err := http.NewResponseController(w).Flush(); err != nil {
		panic("flush through the recorder: " + err.Error())
	}
	_, _ = io.Copy(w, strings.NewReader("world"))
})

func TestOffIsTheHandlerItself(t *testing.T) {
	next := http.NewServeMux()
	if h := Wrap(next, Options{}); h != next {
		t.Error("with nothing to record, Wrap did not return the handler itself")
	}
}

// TestAccessLog sends requests from a trusted proxy and from a client
// to a real server: one JSON line each with the answer's facts, the
// proxy's request id believed and the client's replaced, the query and
// the client address left out.
func TestAccessLog(t *testing.T) {
	var logs syncBuffer
	trusted, _ := clientip.ParseTrusted("127.0.0.1/32")
	srv := httptest.NewServer(Wrap(gateway, Options{AccessLog: slog.New(slog.NewJSONHandler(&logs, nil)), Trusted: trusted}))
	t.Cleanup(srv.Close)
	send := func(id string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/dl/app.tar.gz?token=secret", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set(RequestIDHeader, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello, world" {
			t.Fatalf("body %q", b)
		}
		return resp
	}
	resp := send("edge-42")
	if got := resp.Header.Get(RequestIDHeader); got != "edge-42" {
		t.Errorf("response request id %q, want the trusted proxy's edge-42", got)
	}
	send("bad id; rm -rf")
	lines := logs.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2", len(lines))
	}
	want := map[string]any{"msg": "request", "level": "INFO", "method": "GET", "host": "dl.example.com", "path": "/dl/app.tar.gz",
		"status": float64(200), "bytes": float64(12), "kind": "file", "outcome": "serve", "request_id": "edge-42"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("%s = %v, want %v", k, lines[0][k], v)
		}
	}
	if d, ok := lines[0]["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", lines[0]["duration_ms"])
	}
	if id, _ := lines[1]["request_id"].(string); len(id) != 16 || id == "edge-42" {
		t.Errorf("an invalid id was kept or not replaced: %q", id)
	}
	logs.mu.Lock()
	text := logs.b.String()
	logs.mu.Unlock()
	for _, leak := range []string{"203.0.113.9", "127.0.0.1", "secret"} {
		if strings.Contains(text, leak) {
			t.Errorf("the access log holds %q:\n%s", leak, text)
		}
	}
}

// TestUntrustedRequestID: from a peer that is not a trusted proxy,
// X-Request-Id and traceparent are ignored.
func TestUntrustedHeaders(t *testing.T) {
	var logs syncBuffer
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	nobody, _ := clientip.ParseTrusted("")
	srv := httptest.NewServer(Wrap(gateway, Options{AccessLog: slog.New(slog.NewJSONHandler(&logs, nil)), Tracer: tp.Tracer("test"), Trusted: nobody}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set(RequestIDHeader, "chosen-by-client")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// The line is written before the answer ends.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["request_id"] == "chosen-by-client" {
		t.Fatalf("access lines %v: the client chose its request id", lines)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Parent.IsValid() || s.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the client's traceparent was followed: parent %v trace %v", s.Parent, s.SpanContext.TraceID())
	}
	if s.Name != "GET file" {
		t.Errorf("span name %q, want GET file", s.Name)
	}
	if lines[0]["trace_id"] != s.SpanContext.TraceID().String() {
		t.Errorf("access line trace_id %v, want the span's %v", lines[0]["trace_id"], s.SpanContext.TraceID())
	}
	for _, a := range s.Attributes {
		if strings.HasPrefix(string(a.Key), "client.") || strings.Contains(a.Value.Emit(), "127.0.0.1") {
			t.Errorf("span attribute %s=%s names the client", a.Key, a.Value.Emit())
		}
	}
}

// TestPanicRecorded: a handler that panics is logged as the 500 the
// server answers, and the panic goes on to the server.
func TestPanicRecorded(t *testing.T) {
	var logs syncBuffer
	h := Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), Options{AccessLog: slog.New(slog.NewJSONHandler(&logs, nil))})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	}()
	if lines := logs.lines(t); len(lines) != 1 || lines[0]["status"] != float64(500) {
		t.Errorf("access lines after a panic: %v", lines)
	}
}
