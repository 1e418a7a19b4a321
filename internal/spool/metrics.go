package spool

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the Prometheus metrics of the spool and of the store
// behind it, to be registered by the caller.
func (s *Spool) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func(Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "portico", Name: name, Help: help},
			func() float64 { return f(s.Stats()) })
	}
	counter := func(name, help string, f func(Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Name: name, Help: help},
			func() float64 { return f(s.Stats()) })
	}
	return []prometheus.Collector{
		gauge("spool_pending_bytes", "Bytes of events in the spool that the analytics store has not taken yet.",
			func(st Stats) float64 { return float64(st.PendingBytes) }),
		gauge("spool_segments", "Segment files in the spool directory.",
			func(st Stats) float64 { return float64(st.Segments) }),
		counter("spool_corrupt_total", "Spooled events that could not be read back (damaged by a crash).",
			func(st Stats) float64 { return float64(st.Corrupt) }),
		counter("store_events_committed_total", "Events the analytics store has taken.",
			func(st Stats) float64 { return float64(st.Committed) }),
		counter("store_append_failures_total", "Failed attempts to write a batch to the analytics store; the batch stays spooled and is retried.",
			func(st Stats) float64 { return float64(st.Failures) }),
		gauge("store_up", "1 when the last write to the analytics store succeeded, else 0.",
			func(st Stats) float64 {
				if st.StoreUp {
					return 1
				}
				return 0
			}),
		gauge("store_lag_seconds", "Age of the oldest event that the analytics store has not taken yet (to within a second); 0 when it has them all.",
			func(st Stats) float64 {
				if st.Oldest.IsZero() {
					return 0
				}
				return max(0, time.Since(st.Oldest).Seconds())
			}),
		gauge("store_last_commit_timestamp_seconds", "When the analytics store last took a batch.",
			func(st Stats) float64 {
				if st.LastCommit.IsZero() {
					return 0
				}
				return float64(st.LastCommit.UnixMilli()) / 1e3
			}),
	}
}
