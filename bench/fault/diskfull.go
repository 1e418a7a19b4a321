package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// diskFull puts the spool on a small tmpfs and stops PostgreSQL under
// load, so that the spool fills the file system. Downloads must keep
// being answered, the events that could not be spooled must be counted
// as dropped, and every other one must reach the store once PostgreSQL
// is back: store + dropped == answered.
func diskFull(args []string) error {
	fs := flag.NewFlagSet("diskfull", flag.ExitOnError)
	size := fs.String("size", "16m", "size of the spool's file system: more than twice the spool's 4 MiB segments, so that the store's return frees room for a whole segment")
	down := fs.Duration("outage", time.Minute, "how long PostgreSQL is down")
	workers := fs.Int("workers", 4, "clients")
	pause := fs.Duration("pause", 2*time.Millisecond, "pause between a client's requests")
	fs.Parse(args)

	pg, err := startPostgres()
	if err != nil {
		return err
	}
	defer pg.remove()
	dir := tempDir("diskfull")
	defer removeDir(dir)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+*size, "tmpfs", data).CombinedOutput(); err != nil {
		return fmt.Errorf("mounting a tmpfs (needs root): %v: %s", err, out)
	}
	defer exec.Command("umount", "-l", data).Run()

	g, err := startGateway(dir, redirectManifest, "--data", data, "--database", pg.url(), "--events", "none")
	if err != nil {
		return err
	}
	defer g.kill()

	stop := make(chan struct{})
	l := startLoad(g.addr, *workers, *pause, stop)
	time.Sleep(3 * time.Second)
	if err := pg.stop(); err != nil {
		return err
	}
	log.Printf("PostgreSQL stopped for %v; the spool is on a %s tmpfs", *down, *size)
	var full time.Time
	for t0 := time.Now(); time.Since(t0) < *down; time.Sleep(time.Second) {
		if full.IsZero() && g.mustMetric("portico_events_sink_failures_total") > 0 {
			full = time.Now()
			log.Printf("the spool's file system is full: %.1f MiB spooled", g.mustMetric("portico_spool_pending_bytes")/(1<<20))
		}
	}
	if err := pg.start(); err != nil {
		return err
	}
	atReturn := g.mustMetric("portico_events_sink_failures_total")
	log.Printf("PostgreSQL started again; %.0f events not spooled so far", atReturn)
	// Until the replay has deleted a segment, the disk stays full.
	returned, last, lastDrop := time.Now(), atReturn, time.Duration(0)
	for time.Since(returned) < 15*time.Second {
		time.Sleep(250 * time.Millisecond)
		if v := g.mustMetric("portico_events_sink_failures_total"); v > last {
			last, lastDrop = v, time.Since(returned)
		}
	}
	log.Printf("events not spooled after PostgreSQL's return: %.0f, the last %v after it", last-atReturn, lastDrop.Round(250*time.Millisecond))
	close(stop)
	l.wait()
	answered := int64(l.ok)
	time.Sleep(2 * time.Second) // the pipeline's last batches
	dropped := int64(g.mustMetric("portico_events_sink_failures_total") + g.mustMetric("portico_events_dropped_total"))
	got := waitForTotal(pg.url(), answered-dropped, 3*time.Minute)
	log.Printf("sent %d downloads: %d answered 307, %d failed; events not spooled (counted in portico_events_sink_failures_total): %d; store counts %d; answered - dropped - stored = %d; corrupt spool lines %.0f",
		answered+int64(len(l.failed)), answered, len(l.failed), dropped, got, answered-dropped-got,
		g.mustMetric("portico_spool_corrupt_total"))
	if len(l.failed) > 0 {
		return fmt.Errorf("failed requests: %s", summarize(l.failed))
	}
	if full.IsZero() {
		return fmt.Errorf("the spool never filled its file system; make -size smaller or -outage longer")
	}
	if got != answered-dropped {
		return fmt.Errorf("the store counts %d downloads; %d answered, %d counted as dropped", got, answered, dropped)
	}
	return g.stop()
}
