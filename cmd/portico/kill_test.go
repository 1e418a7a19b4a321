package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"portico/internal/store"
)

// TestKill9Default kills the gateway in the configuration the README
// starts (enrichment from GeoIP databases, events on standard output,
// the SQLite store) with SIGKILL under load, twice: the second time soon
// after a restart, while the spool of the first run may still be
// replaying. After a last start, every download answered more than the
// flush interval before a kill is stored, none is stored twice, and the
// rollups count exactly the stored events.
func TestKill9Default(t *testing.T) {
	const flush = time.Second
	dir := filepath.Join(t.TempDir(), "data")
	args := append([]string{"--data", dir, "--app-listen", "off", "--event-flush-interval", flush.String()}, geoDBs(t)...)

	done := map[int]time.Time{} // request number: when it was answered
	var kills []time.Time
	first := 0
	for round, load := range []time.Duration{3 * time.Second, 500 * time.Millisecond} {
		g := start(t, analyticsManifest, args...)
		l := startLoad([]string{g.addr}, 16, first, 0)
		time.Sleep(load)
		kills = append(kills, time.Now())
		if err := g.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		g.wait(t)
		answered := l.finish()
		if len(answered) < 50 {
			t.Fatalf("run %d: only %d requests were answered before the kill; the test needs more", round+1, len(answered))
		}
		for n, at := range answered {
			done[n] = at
			first = max(first, n)
		}
		first += 1000 // the numbers of the requests cut by the kill are never reused
	}
	// mustHave is whether download n was answered long enough before the
	// kill that ended its run to be on disk.
	mustHave := func(n int, at time.Time) bool {
		for _, k := range kills {
			if !at.After(k) {
				return k.Sub(at) > flush
			}
		}
		return false
	}

	g := start(t, analyticsManifest, args...)
	st := openSQLite(t, dir)
	var missing []int
	waitFor(t, "the spool replayed", 60*time.Second, func() bool {
		got := versionsIn(t, st)
		missing = missing[:0]
		for n, at := range done {
			if mustHave(n, at) && got[n] == 0 {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0
	})
	// Wait for the spool to be empty, so that the rollups and the raw
	// events are read at a point where they must agree.
	waitFor(t, "the spool emptied", 60*time.Second, func() bool {
		return slices.Contains(strings.Split(g.metricsText(t), "\n"), "portico_spool_pending_bytes 0")
	})
	got := versionsIn(t, st)
	stored, kept := 0, 0
	for n, c := range got {
		stored += c
		if c != 1 {
			t.Errorf("download %d stored %d times", n, c)
		}
		if _, ok := done[n]; ok {
			kept++
		}
	}
	if stored == 0 {
		t.Fatal("nothing was stored")
	}
	all := today()
	all.Bots = store.BotsInclude
	if n := total(t, st, all, store.Requests); n != int64(stored) {
		t.Errorf("the rollups count %d requests for %d stored events", n, stored)
	}
	t.Logf("%d downloads answered over two runs killed with SIGKILL; %d of them stored after the restarts (%d stored in all)", len(done), kept, stored)
}
