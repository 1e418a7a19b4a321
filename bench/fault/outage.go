package main

import (
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"time"
)

// outage stops the gateway's PostgreSQL under load for a while, starts it
// again, and requires every answered download in the store exactly once:
// spooled during the outage, then replayed.
func outage(args []string) error {
	fs := flag.NewFlagSet("outage", flag.ExitOnError)
	down := fs.Duration("outage", 5*time.Minute, "how long PostgreSQL is down")
	workers := fs.Int("workers", 4, "clients")
	pause := fs.Duration("pause", 2*time.Millisecond, "pause between a client's requests")
	fs.Parse(args)

	pg, err := startPostgres()
	if err != nil {
		return err
	}
	defer pg.remove()
	dir := tempDir("outage")
	defer removeDir(dir)
	g, err := startGateway(dir, redirectManifest, "--data", filepath.Join(dir, "data"), "--database", pg.url(), "--events", "none")
	if err != nil {
		return err
	}
	defer g.kill()

	stop := make(chan struct{})
	l := startLoad(g.addr, *workers, *pause, stop)
	time.Sleep(5 * time.Second)
	if err := pg.stop(); err != nil {
		return err
	}
	log.Printf("PostgreSQL stopped for %v", *down)
	var maxSpool float64
	for t0 := time.Now(); time.Since(t0) < *down; time.Sleep(5 * time.Second) {
		maxSpool = max(maxSpool, g.mustMetric("portico_spool_pending_bytes"))
	}
	if err := pg.start(); err != nil {
		return err
	}
	log.Printf("PostgreSQL started again; spool peaked at %.1f MiB, store lag %.0fs", maxSpool/(1<<20), g.mustMetric("portico_store_lag_seconds"))
	time.Sleep(10 * time.Second)
	close(stop)
	l.wait()
	answered := int64(l.ok)
	got := waitForTotal(pg.url(), answered, 5*time.Minute)
	log.Printf("sent %d downloads: %d answered 307, %d failed; store counts %d (lost %d); append failures %.0f, queue drops %.0f, sink failures %.0f",
		answered+int64(len(l.failed)), answered, len(l.failed), got, answered-got,
		g.mustMetric("portico_store_append_failures_total"), g.mustMetric("portico_events_dropped_total"),
		g.mustMetric("portico_events_sink_failures_total"))
	if len(l.failed) > 0 {
		return fmt.Errorf("failed requests: %s", summarize(l.failed))
	}
	if got != answered {
		return fmt.Errorf("the store counts %d downloads, %d were answered", got, answered)
	}
	return g.stop()
}
