package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// A backend is what the transport keeps for one rule backend origin: the
// slots that cap the requests in flight on its behalf, and its metrics.
// Requests count against the backend of the policy they carry, wherever
// they go (its token service, its storage): so the label set of the
// metrics, and the number of backends, is bounded by the rules'
// backends, never by what a request or a redirect names.
type backend struct {
	label string
	// slots holds one token per request in flight; nil without a cap.
	slots    chan struct{}
	inFlight atomic.Int64
	latency  [destCount]prometheus.Observer
	results  [destCount][resultCount]prometheus.Counter
	wait     prometheus.Observer
	bodyErrs prometheus.Counter
}

const destCount = int(DestStorage) + 1

// Results of a request, as the metrics count them.
const (
	result1xx = iota
	result2xx
	result3xx
	result4xx
	result5xx
	resultError    // no answer: connection refused or reset, TLS, DNS
	resultTimeout  // no answer in time
	resultRefused  // stopped by the outbound policy or the address check
	resultCanceled // the request's own context ended: the client went away
	resultBusy     // no slot within the wait: the backend's cap was reached
	resultCount
)

var resultNames = [resultCount]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error", "timeout", "refused", "canceled", "busy"}

func (d Dest) String() string {
	switch d {
	case DestBackend:
		return "backend"
	case DestRealm:
		return "realm"
	case DestNamed:
		return "named"
	case DestStorage:
		return "storage"
	}
	return "none"
}

// backends holds the per-backend state of a transport and its metrics.
type backends struct {
	max  int           // slots per backend; 0 is no cap
	wait time.Duration // longest wait for a slot
	m    sync.Map      // Origin → *backend

	latency  *prometheus.HistogramVec
	results  *prometheus.CounterVec
	waits    *prometheus.HistogramVec
	bodyErrs *prometheus.CounterVec
	inFlight *prometheus.Desc
	// A cache in front of the transport would report its hits, misses,
	// bytes and evictions per backend beside these.
}

func newBackends(max int, wait time.Duration) *backends {
	const ns = "portico"
	return &backends{
		max:  max,
		wait: wait,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "upstream_request_duration_seconds",
			Help:    "Time from sending a request to a backend to its response headers, by rule backend and destination (backend, realm, named, storage); streaming the body is not included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"backend", "dest"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_requests_total",
			Help: "Requests to backends, by rule backend, destination and result: the status class, or error, timeout, refused (outbound policy), canceled (the client went away) or busy (no slot under --upstream-max-conns)."},
			[]string{"backend", "dest", "result"}),
		waits: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "upstream_slot_wait_seconds",
			Help:    "Time requests waited for a slot because a rule backend had --upstream-max-conns requests in flight; its count is the number of waits.",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"backend"}),
		bodyErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_body_errors_total",
			Help: "Backend response bodies that ended in an error (reset, stalled, cut short) other than the client going away."}, []string{"backend"}),
		inFlight: prometheus.NewDesc(ns+"_upstream_in_flight", "Requests to a rule backend holding a slot: from sending until their body is closed.", []string{"backend"}, nil),
	}
}

// get returns the state of backend o, creating it on first use.
func (bs *backends) get(o Origin) *backend {
	if b, ok := bs.m.Load(o); ok {
		return b.(*backend)
	}
	label := o.Host
	if o.Port != defaultPort(o.Scheme) {
		label = net.JoinHostPort(o.Host, strconv.Itoa(int(o.Port)))
	}
	b := &backend{label: label, wait: bs.waits.WithLabelValues(label), bodyErrs: bs.bodyErrs.WithLabelValues(label)}
	if bs.max > 0 {
		b.slots = make(chan struct{}, bs.max)
	}
	for d := DestBackend; int(d) < destCount; d++ {
		b.latency[d] = bs.latency.WithLabelValues(label, d.String())
		for r := range resultCount {
			b.results[d][r] = bs.results.WithLabelValues(label, d.String(), resultNames[r])
		}
	}
	actual, _ := bs.m.LoadOrStore(o, b)
	return actual.(*backend)
}

// Describe implements prometheus.Collector.
func (bs *backends) Describe(ch chan<- *prometheus.Desc) {
	bs.latency.Describe(ch)
	bs.results.Describe(ch)
	bs.waits.Describe(ch)
	bs.bodyErrs.Describe(ch)
	ch <- bs.inFlight
}

// Collect implements prometheus.Collector.
func (bs *backends) Collect(ch chan<- prometheus.Metric) {
	bs.latency.Collect(ch)
	bs.results.Collect(ch)
	bs.waits.Collect(ch)
	bs.bodyErrs.Collect(ch)
	bs.m.Range(func(_, v any) bool {
		b := v.(*backend)
		ch <- prometheus.MustNewConstMetric(bs.inFlight, prometheus.GaugeValue, float64(b.inFlight.Load()), b.label)
		return true
	})
}

// BusyError is returned when a request found its backend at its cap of
// requests in flight and no slot freed up in time. It is a timeout.
type BusyError struct {
	Backend string
	Max     int
	Waited  time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%d requests to %s in flight (--upstream-max-conns): no slot freed up in %s", e.Max, e.Backend, e.Waited)
}

// Timeout reports true: the request was not answered in time.
func (e *BusyError) Timeout() bool { return true }

// Temporary reports true, as for every timeout.
func (e *BusyError) Temporary() bool { return true }

var _ net.Error = (*BusyError)(nil)

// acquire takes a slot of b, waiting at most bs.wait and while ctx lasts.
func (bs *backends) acquire(ctx context.Context, b *backend) error {
	if b.slots == nil {
		b.inFlight.Add(1)
		return nil
	}
	select {
	case b.slots <- struct{}{}:
		b.inFlight.Add(1)
		return nil
	default:
	}
	start := time.Now()
	timer := time.NewTimer(bs.wait)
	defer timer.Stop()
	select {
	case b.slots <- struct{}{}:
		b.wait.Observe(time.Since(start).Seconds())
		b.inFlight.Add(1)
		return nil
	case <-ctx.Done():
		b.wait.Observe(time.Since(start).Seconds())
		return ctx.Err()
	case <-timer.C:
		b.wait.Observe(time.Since(start).Seconds())
		return &BusyError{Backend: b.label, Max: bs.max, Waited: bs.wait}
	}
}

func (b *backend) release() {
	b.inFlight.Add(-1)
	if b.slots != nil {
		<-b.slots
	}
}

// record counts the result of one round trip.
func (b *backend) record(d Dest, ctx context.Context, resp *http.Response, err error, elapsed time.Duration) {
	if int(d) >= destCount {
		d = DestBackend
	}
	if err == nil {
		b.latency[d].Observe(elapsed.Seconds())
		class := resp.StatusCode/100 - 1
		if class < result1xx || class > result5xx {
			class = resultError
		}
		b.results[d][class].Inc()
		return
	}
	b.results[d][classify(ctx, err)].Inc()
}

func classify(ctx context.Context, err error) int {
	var busy *BusyError
	var refused *RefusedError
	var ne net.Error
	switch {
	case errors.As(err, &busy):
		return resultBusy
	case errors.As(err, &refused):
		return resultRefused
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// WithHeaderTimeout ends the context of a backend that took
		// too long to answer: a timeout, not the client going away.
		var hte *headerTimeoutError
		if errors.As(context.Cause(ctx), &hte) {
			return resultTimeout
		}
		return resultCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return resultTimeout
	}
	return resultError
}

// slotBody holds a backend slot until the response body is closed, and
// counts a body that ends in an error.
type slotBody struct {
	io.ReadCloser
	b      *backend
	ctx    context.Context
	closed atomic.Bool
	failed bool
	span   trace.Span // nil when not traced
}

func (s *slotBody) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if err != nil && err != io.EOF && !s.failed && s.ctx.Err() == nil {
		s.failed = true
		s.b.bodyErrs.Inc()
		if s.span != nil {
			s.span.RecordError(err)
			s.span.SetStatus(codes.Error, "body: "+err.Error())
		}
	}
	return n, err
}

func (s *slotBody) Close() error {
	err := s.ReadCloser.Close()
	if s.closed.CompareAndSwap(false, true) {
		s.b.release()
		if s.span != nil {
			s.span.End()
		}
	}
	return err
}
