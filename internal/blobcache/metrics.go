package blobcache

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	hits, misses, served, fetched, evictions prometheus.Counter
	rejected                                 *prometheus.CounterVec
	size, objects                            prometheus.GaugeFunc
}

func newMetrics(c *Cache) *metrics {
	const ns, sub = "portico", "cache"
	return &metrics{
		hits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "hits_total",
			Help: "Requests for proxied objects answered from the cache."}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "misses_total",
			Help: "Requests for proxied objects the cache did not hold: each started a transfer from the upstream or joined one in progress."}),
		served: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "served_bytes_total",
			Help: "Bytes of objects sent to clients from the cache (hits)."}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fetched_bytes_total",
			Help: "Bytes of objects received from upstreams into the cache, kept or not."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evictions_total",
			Help: "Objects removed to keep the cache under --cache-max-bytes."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rejected_total",
			Help: "Upstream objects not kept: verify (wrong hash or length, a body cut short or stalled) or io (the cache's disk failed)."}, []string{"reason"}),
		size: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "size_bytes",
			Help: "Bytes of the objects the cache holds."}, func() float64 { return float64(c.size.Load()) }),
		objects: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "objects",
			Help: "Objects the cache holds."}, func() float64 { return float64(c.count.Load()) }),
	}
}

// Collectors returns the cache's metrics, for a Prometheus registry.
func (c *Cache) Collectors() []prometheus.Collector {
	m := c.m
	return []prometheus.Collector{m.hits, m.misses, m.served, m.fetched, m.evictions, m.rejected, m.size, m.objects}
}
