package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of a Health.
const (
	// DefaultFailThreshold is how many consecutive failures mark a
	// backend down.
	DefaultFailThreshold = 3
	// DefaultProbeInterval is the time between two probes of a backend.
	DefaultProbeInterval = 15 * time.Second
	// DefaultFallbackTimeout is how long a primary backend that has a
	// fallback gets to answer with its headers.
	DefaultFallbackTimeout = 10 * time.Second
)

// HealthOptions tune a Health. Zero values take the defaults.
type HealthOptions struct {
	// Threshold is the number of consecutive failures, of requests or
	// probes, that mark a backend down.
	Threshold int
	// Interval is the time between probes of each watched backend;
	// negative turns probing off.
	Interval time.Duration
	// Timeout bounds a probe, and the wait for the headers of a primary
	// backend that has a fallback (see Pair.Timeout).
	Timeout time.Duration
}

// Health keeps the health state of the backends that take part in a
// fallback: a rule's primary backend and its fallback. A backend is down
// after Threshold consecutive failures (connection errors, timeouts, 5xx
// answers) of the requests sent to it or of its probes, and up again at
// its first success. Only watched backends are tracked, so its size is
// bounded by the rules' backends. Reading a state takes no lock.
type Health struct {
	opts   HealthOptions
	mu     sync.Mutex // serializes Watch
	m      sync.Map   // Origin → *Status
	client *http.Client

	up       *prometheus.Desc
	fails    *prometheus.CounterVec
	changes  *prometheus.CounterVec
	probes   *prometheus.CounterVec
	fallback *prometheus.CounterVec
}

// NewHealth returns a Health whose probes go through t.
func NewHealth(t *Transport, o HealthOptions) *Health {
	if o.Threshold <= 0 {
		o.Threshold = DefaultFailThreshold
	}
	if o.Interval == 0 {
		o.Interval = DefaultProbeInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultFallbackTimeout
	}
	const ns = "portico"
	h := &Health{
		opts:   o,
		client: NewClient(t),
		up: prometheus.NewDesc(ns+"_backend_up", "Health of a backend that takes part in a fallback (a rule's primary or its fallback): 1 up, 0 down after --fallback-after consecutive failures.",
			[]string{"backend"}, nil),
		fails: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backend_failures_total",
			Help: "Failures (connection errors, timeouts, 5xx answers) of requests and probes to a backend that takes part in a fallback, by source (request, probe)."}, []string{"backend", "source"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backend_health_changes_total",
			Help: "Changes of a backend's health state, by the new state (up, down)."}, []string{"backend", "state"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backend_probes_total",
			Help: "Probes of backends that take part in a fallback, by result (ok, failed)."}, []string{"backend", "result"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backend_served_total",
			Help: "Requests of rules with a fallback, by the backend that served them and its role (primary, fallback)."}, []string{"backend", "role"}),
	}
	if t != nil {
		t.health = h
	}
	return h
}

// A Status is the health state of one backend origin.
type Status struct {
	label    string
	probeURL string
	// down is read on every request of a rule with a fallback.
	down      atomic.Bool
	failures  atomic.Int32
	threshold int32
	changes   [2]prometheus.Counter // up, down
	fails     [2]prometheus.Counter // request, probe
	probes    [2]prometheus.Counter // ok, failed
	served    [2]prometheus.Counter // primary, fallback
}

// Down reports whether the backend is marked down. A nil Status is up.
func (s *Status) Down() bool { return s != nil && s.down.Load() }

// Label names the backend as metrics do.
func (s *Status) Label() string {
	if s == nil {
		return ""
	}
	return s.label
}

const (
	sourceRequest = 0
	sourceProbe   = 1
)

// Success records an answer of the backend: it is up.
func (s *Status) Success() {
	if s == nil {
		return
	}
	if s.failures.Load() != 0 {
		s.failures.Store(0)
	}
	if s.down.CompareAndSwap(true, false) {
		s.changes[0].Inc()
	}
}

// Failure records a failure of a request to the backend.
func (s *Status) Failure() { s.fail(sourceRequest) }

func (s *Status) fail(source int) {
	if s == nil {
		return
	}
	s.fails[source].Inc()
	if s.failures.Add(1) >= s.threshold && s.down.CompareAndSwap(false, true) {
		s.changes[1].Inc()
	}
}

// Served counts a request the backend served, as the primary or the
// fallback of its rule.
func (s *Status) Served(fallback bool) {
	if s == nil {
		return
	}
	if fallback {
		s.served[1].Inc()
	} else {
		s.served[0].Inc()
	}
}

// Watch returns the status of the backend at baseURL, tracking it from
// now on and probing it at probeURL (a GET; any answer below 500 is a
// success) every Interval once Run is running. Watching the same origin
// again returns the same Status; the first probe URL stays.
func (h *Health) Watch(baseURL, probeURL string) (*Status, error) {
	o, err := ParseOrigin(baseURL)
	if err != nil {
		return nil, err
	}
	if s, ok := h.m.Load(o); ok {
		return s.(*Status), nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.m.Load(o); ok {
		return s.(*Status), nil
	}
	label := o.Host
	if o.Port != defaultPort(o.Scheme) {
		label = net.JoinHostPort(o.Host, strconv.Itoa(int(o.Port)))
	}
	s := &Status{label: label, probeURL: probeURL, threshold: int32(h.opts.Threshold)}
	s.changes = [2]prometheus.Counter{h.changes.WithLabelValues(label, "up"), h.changes.WithLabelValues(label, "down")}
	s.fails = [2]prometheus.Counter{h.fails.WithLabelValues(label, "request"), h.fails.WithLabelValues(label, "probe")}
	s.probes = [2]prometheus.Counter{h.probes.WithLabelValues(label, "ok"), h.probes.WithLabelValues(label, "failed")}
	s.served = [2]prometheus.Counter{h.fallback.WithLabelValues(label, "primary"), h.fallback.WithLabelValues(label, "fallback")}
	h.m.Store(o, s)
	return s, nil
}

// status returns the status of a watched origin, or nil.
func (h *Health) status(o Origin) *Status {
	if h == nil {
		return nil
	}
	if s, ok := h.m.Load(o); ok {
		return s.(*Status)
	}
	return nil
}

// Pair returns the pair of a rule's primary backend and its fallback,
// both watched, probed at their probe URLs.
func (h *Health) Pair(primaryURL, primaryProbe, fallbackURL, fallbackProbe string) (*Pair, error) {
	p, err := h.Watch(primaryURL, primaryProbe)
	if err != nil {
		return nil, err
	}
	f, err := h.Watch(fallbackURL, fallbackProbe)
	if err != nil {
		return nil, err
	}
	return &Pair{Primary: p, Fallback: f, timeout: h.opts.Timeout}, nil
}

// A Pair is a rule's primary backend and its fallback.
type Pair struct {
	Primary, Fallback *Status
	timeout           time.Duration
}

// UseFallback reports whether requests should go to the fallback first:
// the primary is down and the fallback is not.
func (p *Pair) UseFallback() bool {
	return p != nil && p.Primary.Down() && !p.Fallback.Down()
}

// Timeout is how long the first backend tried may take to answer with
// its headers before the request goes to the other.
func (p *Pair) Timeout() time.Duration {
	if p == nil || p.timeout <= 0 {
		return DefaultFallbackTimeout
	}
	return p.timeout
}

// Run probes the watched backends every Interval until ctx ends. With a
// negative Interval it returns at once.
func (h *Health) Run(ctx context.Context) {
	if h.opts.Interval < 0 {
		return
	}
	tick := time.NewTicker(h.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.ProbeAll(ctx)
		}
	}
}

// ProbeAll probes every watched backend once, concurrently, and returns
// when all are done.
func (h *Health) ProbeAll(ctx context.Context) {
	var wg sync.WaitGroup
	h.m.Range(func(_, v any) bool {
		s := v.(*Status)
		wg.Go(func() { h.probe(ctx, s) })
		return true
	})
	wg.Wait()
}

// probe sends one GET to s's probe URL under a policy that allows its
// origin only, and records the result. The transport leaves a probe's
// result to it (see observe).
func (h *Health) probe(ctx context.Context, s *Status) {
	pctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	err := h.get(pctx, s.probeURL)
	switch {
	case err == nil:
		s.probes[0].Inc()
		s.Success()
	case ctx.Err() != nil:
		// Shutting down: not the backend's failure.
	default:
		s.probes[1].Inc()
		s.fail(sourceProbe)
	}
}

// get sends a probe to rawURL: an answer below 500 is a success.
func (h *Health) get(ctx context.Context, rawURL string) error {
	ctx, err := WithBackend(ctx, rawURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(withProbe(ctx), http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "portico-probe")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return errors.New(resp.Status)
	}
	return nil
}

type probeKey struct{}

// withProbe marks a request as a probe, which records its own result.
func withProbe(ctx context.Context) context.Context {
	return context.WithValue(ctx, probeKey{}, true)
}

// observe records the result of a request to a rule's backend origin o
// in its status, if it is watched. The client going away, the outbound
// policy and the cap of requests in flight say nothing of the backend's
// health.
func (h *Health) observe(ctx context.Context, o Origin, resp *http.Response, err error) {
	s := h.status(o)
	if s == nil || ctx.Value(probeKey{}) != nil {
		return
	}
	if err == nil {
		if resp.StatusCode >= 500 {
			s.Failure()
		} else {
			s.Success()
		}
		return
	}
	switch classify(ctx, err) {
	case resultError, resultTimeout:
		s.Failure()
	}
}

// Failed reports whether an answer of a primary backend sends a request
// to its fallback: no answer (connection refused or reset, a timeout,
// the header timeout of WithHeaderTimeout) or a 5xx status. The client
// going away (ctx ended) and the outbound policy's refusals are not
// failures of the backend.
func Failed(ctx context.Context, resp *http.Response, err error) bool {
	if err == nil {
		return resp.StatusCode >= 500
	}
	switch classify(ctx, err) {
	case resultError, resultTimeout:
		return true
	}
	return false
}

// Describe implements prometheus.Collector.
func (h *Health) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.up
	h.fails.Describe(ch)
	h.changes.Describe(ch)
	h.probes.Describe(ch)
	h.fallback.Describe(ch)
}

// Collect implements prometheus.Collector.
func (h *Health) Collect(ch chan<- prometheus.Metric) {
	h.m.Range(func(_, v any) bool {
		s := v.(*Status)
		up := 1.0
		if s.Down() {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(h.up, prometheus.GaugeValue, up, s.label)
		return true
	})
	h.fails.Collect(ch)
	h.changes.Collect(ch)
	h.probes.Collect(ch)
	h.fallback.Collect(ch)
}

// headerTimeoutError is the cause of a request context that
// WithHeaderTimeout ended: a timeout.
type headerTimeoutError struct{ d time.Duration }

func (e *headerTimeoutError) Error() string {
	return "no response headers within " + e.d.String()
}
func (e *headerTimeoutError) Timeout() bool   { return true }
func (e *headerTimeoutError) Temporary() bool { return true }

// WithHeaderTimeout returns a context that ends d from now unless
// headers is called first (once the response headers are in), so that
// a backend that does not answer in time is given up on while one that
// answered may stream its body for as long as it takes. cancel releases
// the context; call it when the request is done.
func WithHeaderTimeout(parent context.Context, d time.Duration) (ctx context.Context, headers func(), cancel func()) {
	c, cancelCause := context.WithCancelCause(parent)
	timer := time.AfterFunc(d, func() { cancelCause(&headerTimeoutError{d: d}) })
	return c, func() { timer.Stop() }, func() { timer.Stop(); cancelCause(context.Canceled) }
}
