// Package metrics defines Portico's Prometheus metrics and records them
// without allocating or locking on the request path.
package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"portico/internal/event"
	"portico/internal/pipeline"
)

const namespace = "portico"

// Gateway holds the gateway's metrics.
type Gateway struct {
	Registry *prometheus.Registry

	requests *requestCounter
	latency  []prometheus.Observer // by event.Kind

	configGeneration prometheus.Gauge
	configRules      prometheus.Gauge
	configDomains    prometheus.Gauge
	configLoaded     prometheus.Gauge
	reloads          *prometheus.CounterVec
}

// New registers the gateway's metrics, plus the Go runtime and process
// collectors, in a new registry.
func New() *Gateway {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g := &Gateway{Registry: reg, requests: newRequestCounter()}
	reg.MustRegister(g.requests)

	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "request_duration_seconds",
		Help:      "Time to answer a gateway request, by kind of rule (none: no rule matched). Proxied requests include streaming the body.",
		Buckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"kind"})
	reg.MustRegister(lat)
	for _, k := range event.Kinds() {
		g.latency = append(g.latency, lat.WithLabelValues(k.String()))
	}

	g.configGeneration = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_generation",
		Help: "Generation of the routing table in use; it grows by one with every accepted configuration."})
	g.configRules = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_rules",
		Help: "Rules in the routing table in use."})
	g.configDomains = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_domains",
		Help: "Domains in the routing table in use."})
	g.configLoaded = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_last_success_timestamp_seconds",
		Help: "When the routing table in use was loaded."})
	g.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "config_reloads_total",
		Help: "Configuration loads, by result: ok (swapped in) or error (rejected; the previous table keeps serving)."}, []string{"result"})
	g.reloads.WithLabelValues("ok")
	g.reloads.WithLabelValues("error")
	reg.MustRegister(g.configGeneration, g.configRules, g.configDomains, g.configLoaded, g.reloads)
	return g
}

// Observe records one answered request. It does not allocate.
func (g *Gateway) Observe(kind event.Kind, outcome event.Outcome, status int, elapsed time.Duration) {
	g.requests.add(kind, outcome, status)
	if int(kind) < len(g.latency) {
		g.latency[kind].Observe(elapsed.Seconds())
	}
}

// ConfigLoaded records an accepted configuration.
func (g *Gateway) ConfigLoaded(generation uint64, rules, domains int, at time.Time) {
	g.configGeneration.Set(float64(generation))
	g.configRules.Set(float64(rules))
	g.configDomains.Set(float64(domains))
	g.configLoaded.Set(float64(at.UnixNano()) / 1e9)
	g.reloads.WithLabelValues("ok").Inc()
}

// ConfigRejected records a configuration that was rejected.
func (g *Gateway) ConfigRejected() { g.reloads.WithLabelValues("error").Inc() }

// WatchPipeline exports the pipeline's queue depth and counters.
func (g *Gateway) WatchPipeline(p *pipeline.Pipeline) {
	gauge := func(name, help string, f func(pipeline.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return f(p.Stats()) })
	}
	counter := func(name, help string, f func(pipeline.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return f(p.Stats()) })
	}
	g.Registry.MustRegister(
		gauge("events_queue_depth", "Events waiting for the event pipeline.", func(s pipeline.Stats) float64 { return float64(s.Queued) }),
		gauge("events_queue_capacity", "Size of the event queue.", func(s pipeline.Stats) float64 { return float64(s.Capacity) }),
		counter("events_emitted_total", "Events accepted into the queue.", func(s pipeline.Stats) float64 { return float64(s.Emitted) }),
		counter("events_dropped_total", "Events dropped because the queue was full; the requests were served.", func(s pipeline.Stats) float64 { return float64(s.Dropped) }),
		counter("events_written_total", "Events handed to the sinks.", func(s pipeline.Stats) float64 { return float64(s.Written) }),
		counter("events_sink_failures_total", "Events in batches that a sink failed to write.", func(s pipeline.Stats) float64 { return float64(s.Failed) }),
	)
}

// requestCounter counts requests by kind, outcome and status in a fixed
// array of atomics, so counting costs one atomic add and no label lookup.
type requestCounter struct {
	desc   *prometheus.Desc
	counts [][][]atomic.Uint64 // [kind][outcome][status-100]
}

const minStatus, maxStatus = 100, 599

func newRequestCounter() *requestCounter {
	c := &requestCounter{desc: prometheus.NewDesc(namespace+"_requests_total",
		"Gateway requests answered, by kind of rule (none: no rule matched), outcome and status.",
		[]string{"kind", "outcome", "status"}, nil)}
	c.counts = make([][][]atomic.Uint64, len(event.Kinds()))
	for k := range c.counts {
		c.counts[k] = make([][]atomic.Uint64, len(event.Outcomes()))
		for o := range c.counts[k] {
			c.counts[k][o] = make([]atomic.Uint64, maxStatus-minStatus+1)
		}
	}
	return c
}

func (c *requestCounter) add(kind event.Kind, outcome event.Outcome, status int) {
	if int(kind) >= len(c.counts) || int(outcome) >= len(c.counts[kind]) || status < minStatus || status > maxStatus {
		return
	}
	c.counts[kind][outcome][status-minStatus].Add(1)
}

// Describe implements prometheus.Collector.
func (c *requestCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *requestCounter) Collect(ch chan<- prometheus.Metric) {
	for k := range c.counts {
		for o := range c.counts[k] {
			for s := range c.counts[k][o] {
				if n := c.counts[k][o][s].Load(); n > 0 {
					ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n),
						event.Kind(k).String(), event.Outcome(o).String(), strconv.Itoa(s+minStatus))
				}
			}
		}
	}
}

// A CertExpiry is a certificate in use, for the expiry metric.
type CertExpiry struct {
	Name     string // the first name it covers
	Source   string // "file" or "acme"
	NotAfter time.Time
}

// TLSCounts are the HTTPS listener's counts since the start.
type TLSCounts struct {
	Refused, Obtained, Failed uint64
}

// WatchTLS exports the certificates in use and the HTTPS listener's
// counts, read from certs and counts at each scrape.
func (g *Gateway) WatchTLS(certs func() []CertExpiry, counts func() TLSCounts) {
	g.Registry.MustRegister(&tlsCollector{certs: certs, counts: counts,
		expiry: prometheus.NewDesc(namespace+"_tls_certificate_expiry_timestamp_seconds",
			"When each certificate in use expires, by the first name it covers and its source: file (--tls-cert) or acme.",
			[]string{"name", "source"}, nil),
		refused: prometheus.NewDesc(namespace+"_tls_handshakes_refused_total",
			"TLS handshakes refused because no file covers the name asked for and the gateway does not serve it.", nil, nil),
		orders: prometheus.NewDesc(namespace+"_tls_orders_total",
			"Certificate orders from the ACME CA, renewals included, by result: obtained or failed.", []string{"result"}, nil),
	})
}

type tlsCollector struct {
	certs                   func() []CertExpiry
	counts                  func() TLSCounts
	expiry, refused, orders *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *tlsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.expiry
	ch <- c.refused
	ch <- c.orders
}

// Collect implements prometheus.Collector.
func (c *tlsCollector) Collect(ch chan<- prometheus.Metric) {
	// Two certificates for one name (a renewal and the one it
	// replaces, both cached for a moment): the one that expires last is
	// the one served.
	last := map[[2]string]time.Time{}
	for _, e := range c.certs() {
		key := [2]string{e.Name, e.Source}
		if t, ok := last[key]; !ok || e.NotAfter.After(t) {
			last[key] = e.NotAfter
		}
	}
	for key, t := range last {
		ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue, float64(t.Unix()), key[0], key[1])
	}
	n := c.counts()
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n.Refused))
	ch <- prometheus.MustNewConstMetric(c.orders, prometheus.CounterValue, float64(n.Obtained), "obtained")
	ch <- prometheus.MustNewConstMetric(c.orders, prometheus.CounterValue, float64(n.Failed), "failed")
}
