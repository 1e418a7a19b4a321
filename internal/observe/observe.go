// Package observe wraps the gateway's handler with what an operator can
// ask to see of each request beyond the metrics: a line in the access
// log (--access-log) and a trace span (OpenTelemetry). With neither,
// Wrap returns the handler untouched, so the request path pays nothing
// for them.
//
// Neither ever holds the client's address: an access line has the
// method, host, path (without the query, which may carry tokens), status,
// bytes sent, duration, rule kind, outcome and request id; a span has the
// same, and no client.address, user agent or forwarded header.
package observe

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"portico/internal/clientip"
	"portico/internal/event"
)

// Options say what to record.
type Options struct {
	// AccessLog receives one line per request; nil writes none.
	AccessLog *slog.Logger
	// Tracer starts a server span per request; nil traces nothing.
	Tracer trace.Tracer
	// Trusted are the proxies whose X-Request-Id and traceparent are
	// believed. From anyone else they are ignored: a client can neither
	// choose the id its request is logged under nor join, or force the
	// sampling of, a trace.
	Trusted *clientip.Trusted
}

// Wrap returns next with o's recording around it, or next itself when o
// records nothing.
func Wrap(next http.Handler, o Options) http.Handler {
	if o.AccessLog == nil && o.Tracer == nil {
		return next
	}
	if o.Trusted == nil {
		o.Trusted = &clientip.Trusted{}
	}
	return &handler{next: next, o: o}
}

type handler struct {
	next http.Handler
	o    Options
}

// RequestIDHeader carries a request's id: from a trusted proxy to the
// gateway, and from the gateway to the client when the access log is on.
const RequestIDHeader = "X-Request-Id"

var propagator = propagation.TraceContext{}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	trusted := h.o.Trusted.Contains(clientip.Peer(r))
	path, _, _ := strings.Cut(r.RequestURI, "?")
	var id string
	if trusted {
		id = validID(r.Header.Get(RequestIDHeader))
	}
	if id == "" && h.o.AccessLog != nil {
		id = newID()
	}
	if id != "" && h.o.AccessLog != nil {
		w.Header().Set(RequestIDHeader, id)
	}
	var span trace.Span
	if h.o.Tracer != nil {
		ctx := r.Context()
		if trusted {
			ctx = propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", path),
		}
		if id != "" {
			attrs = append(attrs, attribute.String("portico.request_id", id))
		}
		ctx, span = h.o.Tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		r = r.WithContext(ctx)
	}
	rec := &recorder{w: w, status: http.StatusOK}
	finished := false
	defer func() {
		// A panic goes on to the server, which answers 500 and logs
		// it; it is recorded as that 500.
		if !finished {
			rec.status = http.StatusInternalServerError
			h.finish(r, rec, span, id, path, start)
		}
	}()
	h.next.ServeHTTP(rec, r)
	finished = true
	h.finish(r, rec, span, id, path, start)
}

func (h *handler) finish(r *http.Request, rec *recorder, span trace.Span, id, path string, start time.Time) {
	host := rec.host
	if host == "" {
		// No rule was asked, or the host was refused as malformed:
		// the Host header as sent, which slog quotes.
		host = r.Host
	}
	kind, outcome := rec.kind.String(), rec.outcome.String()
	if span != nil {
		span.SetAttributes(
			attribute.String("server.address", host),
			attribute.Int("http.response.status_code", rec.status),
			attribute.Int64("http.response.body.size", rec.bytes),
			attribute.String("portico.kind", kind),
			attribute.String("portico.outcome", outcome),
		)
		if rec.recorded && rec.kind != event.KindNone {
			span.SetName(r.Method + " " + kind)
		}
		if rec.status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(rec.status))
		}
		span.End()
	}
	if h.o.AccessLog == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("host", host),
		slog.String("path", path),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("kind", kind),
		slog.String("outcome", outcome),
		slog.String("request_id", id),
	}
	if span != nil {
		if sc := span.SpanContext(); sc.HasTraceID() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
	}
	h.o.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// newID returns a random request id: 16 hex digits.
func newID() string {
	var b [16]byte
	const hex = "0123456789abcdef"
	v := rand.Uint64()
	for i := range b {
		b[i] = hex[v&15]
		v >>= 4
	}
	return string(b[:])
}

// validID returns a proxy's request id if it is one: 1 to 128 letters,
// digits, '-', '_', '.', ':' or '/'. Anything else would be written to
// the log as the proxy sent it.
func validID(s string) string {
	if len(s) == 0 || len(s) > 128 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:/", c) >= 0) {
			return ""
		}
	}
	return s
}

// recorder notes what was answered. It unwraps to the server's writer,
// so that http.ResponseController reaches flushing, deadlines and
// hijacking through it.
type recorder struct {
	w        http.ResponseWriter
	status   int
	wrote    bool
	bytes    int64
	recorded bool
	host     string
	kind     event.Kind
	outcome  event.Outcome
}

func (rec *recorder) Header() http.Header { return rec.w.Header() }

func (rec *recorder) WriteHeader(code int) {
	if !rec.wrote && code >= 200 {
		rec.status, rec.wrote = code, true
	}
	rec.w.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.wrote = true
	n, err := rec.w.Write(p)
	rec.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the server's own ReadFrom (sendfile from a file) for
// io.Copy.
func (rec *recorder) ReadFrom(src io.Reader) (int64, error) {
	rec.wrote = true
	var n int64
	var err error
	if rf, ok := rec.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(rec.w, src)
	}
	rec.bytes += n
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// RecordResult is told by the router what it made of the request.
func (rec *recorder) RecordResult(host string, kind event.Kind, outcome event.Outcome) {
	rec.recorded, rec.host, rec.kind, rec.outcome = true, host, kind, outcome
}
