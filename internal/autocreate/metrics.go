package autocreate

import "github.com/prometheus/client_golang/prometheus"

// Collectors returns the creator's metrics, for the process's registry.
func (cr *Creator) Collectors() []prometheus.Collector {
	const help = "Downloads through collections handed to package creation, by result: created, existing (the package was there), " +
		"refused (for good: the collection is gone or at its limit), failed (retried), limited (over the collection's rate), dropped (queue full). " +
		"Every one of them was served and counted."
	count := func(result string, f func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Name: "autocreate_total", Help: help,
			ConstLabels: prometheus.Labels{"result": result}},
			func() float64 { return float64(f(cr.Stats())) })
	}
	return []prometheus.Collector{
		count("created", func(s Stats) uint64 { return s.Created }),
		count("existing", func(s Stats) uint64 { return s.Existing }),
		count("refused", func(s Stats) uint64 { return s.Refused }),
		count("failed", func(s Stats) uint64 { return s.Failed }),
		count("limited", func(s Stats) uint64 { return s.Limited }),
		count("dropped", func(s Stats) uint64 { return s.Dropped }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "portico", Name: "autocreate_retrying",
			Help: "Artifacts whose package creation failed and waits for a retry."},
			func() float64 { return float64(cr.Stats().Retrying) }),
	}
}
