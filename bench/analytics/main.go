// Command analytics measures the analytics stores at scale: it loads
// synthetic events (10 million by default, 90 days of a project with 50
// packages) through the same Append the gateway uses, reports the ingest
// rate, closes the days, and then times dashboard-shaped queries: on
// SQLite, once on a read-only handle, which reads the database every
// time, and once with the cache of ended hours and days that the
// gateway's handle keeps.
//
//	go run ./bench/analytics -store sqlite -dir /tmp/portico-10m
//	go run ./bench/analytics -store postgres -database postgres://postgres@127.0.0.1/bench10m
//
// The PostgreSQL database must exist and be empty, or hold a previous
// load (-reuse). See docs/scaling.md for results.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"portico/internal/event"
	"portico/internal/stats"
	"portico/internal/store"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
	"portico/internal/store/storetest"
)

func main() {
	kind := flag.String("store", "sqlite", "sqlite or postgres")
	dir := flag.String("dir", "", "data directory (sqlite)")
	database := flag.String("database", "", "database URL (postgres)")
	events := flag.Int("events", 10_000_000, "events to load")
	batch := flag.Int("batch", 50_000, "events per append")
	days := flag.Int("days", 90, "days the events span, ending now")
	packages := flag.Int("packages", 50, "packages")
	runs := flag.Int("runs", 20, "times each query runs")
	reuse := flag.Bool("reuse", false, "skip loading: query what a previous run loaded")
	only := flag.String("only", "", "run only the queries whose name contains this")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the queries to this file")
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	var st store.Store
	switch *kind {
	case "sqlite":
		if *dir == "" {
			log.Fatal("-dir is required for sqlite")
		}
		s, err := sqlite.Open(ctx, sqlite.Config{Dir: *dir})
		if err != nil {
			log.Fatal(err)
		}
		st = s
	case "postgres":
		s, err := postgres.New(postgres.Config{URL: *database})
		if err != nil {
			log.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			log.Fatal(err)
		}
		st = s
	default:
		log.Fatalf("-store %q: want sqlite or postgres", *kind)
	}
	defer st.Close()

	now := time.Now().UTC().Truncate(time.Hour)
	from := now.Add(-time.Duration(*days) * 24 * time.Hour)
	syn := storetest.NewSynthetic(7, from, now.Sub(from), *packages, *events)
	if !*reuse {
		load(ctx, st, syn, *events, *batch)
	}
	t0 := time.Now()
	if err := st.Maintain(ctx, now.Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("closing %d days: %v\n\n", *days, time.Since(t0).Round(time.Millisecond))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	// The SQLite store keeps the sums of ended hours and days in memory
	// once read: the queries are timed on a handle opened read-only,
	// which keeps none, and then, as "cached", on the gateway's.
	var uncached store.Reader = st
	var cached store.Reader
	if *kind == "sqlite" {
		ro, err := sqlite.Open(ctx, sqlite.Config{Dir: *dir, ReadOnly: true})
		if err != nil {
			log.Fatal(err)
		}
		defer ro.Close()
		uncached, cached = ro, st
	}
	query(ctx, uncached, cached, syn, now, *runs, *only)
}

func load(ctx context.Context, st store.Store, syn *storetest.Synthetic, n, size int) {
	b := make([]event.Event, size)
	start := time.Now()
	var appendTime time.Duration
	for done := 0; done < n; {
		k := min(size, n-done)
		syn.Batch(b[:k])
		t := time.Now()
		if err := st.Append(ctx, b[:k]); err != nil {
			log.Fatal(err)
		}
		appendTime += time.Since(t)
		done += k
		if done%1_000_000 < k {
			fmt.Fprintf(os.Stderr, "%d events, %.0f events/s in Append\n", done, float64(done)/appendTime.Seconds())
		}
	}
	fmt.Printf("loaded %d events in batches of %d: %.0f events/s in Append (%.0f events/s with generation), %v\n",
		n, size, float64(n)/appendTime.Seconds(), float64(n)/time.Since(start).Seconds(), time.Since(start).Round(time.Second))
}

type namedQuery struct {
	name string
	run  func(context.Context) error
}

// query times dashboard-shaped queries on st, runs times each, and, when
// cached is set, again on cached after a first run that fills its cache.
func query(ctx context.Context, st, cached store.Reader, syn *storetest.Synthetic, now time.Time, runs int, only string) {
	for _, r := range []store.Reader{st, cached} {
		if r == nil {
			continue
		}
		if r == cached {
			fmt.Printf("\ncached (after a first run)\n")
		}
		queries(ctx, stats.New(r), syn, now, runs, only, r == cached)
	}
}

func queries(ctx context.Context, s *stats.Stats, syn *storetest.Synthetic, now time.Time, runs int, only string, warm bool) {
	top, byKind := syn.Top()
	// Dashboards show whole days up to now: "the last 30 days" starts at
	// midnight 30 days ago and ends with today so far.
	today := store.Day(now)
	end := now.Add(time.Hour)
	month := stats.Query{Filter: store.Filter{From: today.AddDate(0, 0, -30), To: end, Package: top}}
	quarter := stats.Query{Filter: store.Filter{From: today.AddDate(0, 0, -90), To: end, Package: top}}
	all := stats.Query{Filter: store.Filter{From: today.AddDate(0, 0, -90), To: end}}
	allMonth := stats.Query{Filter: store.Filter{From: today.AddDate(0, 0, -30), To: end}}
	twoDays := stats.Query{Filter: store.Filter{From: now.Add(-48 * time.Hour), To: end, Package: top}}
	docker := stats.Query{Filter: store.Filter{From: today.AddDate(0, 0, -30), To: end, Package: byKind[event.KindDocker]}}
	breakdown := func(q stats.Query, d store.Dim) func(context.Context) error {
		return func(ctx context.Context) error { _, err := s.Breakdown(ctx, q, d, 10); return err }
	}
	queries := []namedQuery{
		{"total, top package, 30 days", func(ctx context.Context) error { _, err := s.Total(ctx, month); return err }},
		{"daily series, top package, 30 days", func(ctx context.Context) error { _, err := s.Series(ctx, month, stats.Day); return err }},
		{"hourly series, top package, 48 hours", func(ctx context.Context) error { _, err := s.Series(ctx, twoDays, stats.Hour); return err }},
		{"weekly series, top package, 90 days", func(ctx context.Context) error { _, err := s.Series(ctx, quarter, stats.Week); return err }},
		{"monthly series, all packages, 90 days", func(ctx context.Context) error { _, err := s.Series(ctx, all, stats.Month); return err }},
		{"top 10 versions, top package, 30 days", breakdown(month, store.DimVersion)},
		{"top 10 countries, top package, 30 days", breakdown(month, store.DimCountry)},
		{"top 10 organizations, top package, 30 days", breakdown(month, store.DimOrg)},
		{"clients, top package, 30 days", breakdown(month, store.DimClient)},
		{"operating systems, top package, 30 days", breakdown(month, store.DimOS)},
		{"cloud/CI/human, top package, 30 days", breakdown(month, store.DimSource)},
		{"top 10 countries, top package, 90 days", breakdown(quarter, store.DimCountry)},
		{"top 10 packages, all, 30 days", breakdown(allMonth, store.DimPackage)},
		{"top 10 organizations, all, 30 days", breakdown(allMonth, store.DimOrg)},
		{"unique downloaders per day, top package, 30 days", func(ctx context.Context) error { _, _, err := s.Uniques(ctx, month, stats.Day); return err }},
		{"docker pulls per day, 30 days", func(ctx context.Context) error { _, _, err := s.DockerPulls(ctx, docker, stats.Day); return err }},
		{"versions over time (top 5, weekly), 90 days", func(ctx context.Context) error {
			_, err := s.SeriesBy(ctx, quarter, stats.Week, store.DimVersion, 5)
			return err
		}},
	}
	fmt.Printf("%-52s %9s %9s %9s\n", "query", "median", "p95", "max")
	for _, q := range queries {
		if !strings.Contains(q.name, only) {
			continue
		}
		if warm {
			if err := q.run(ctx); err != nil {
				log.Fatalf("%s: %v", q.name, err)
			}
		}
		var took []time.Duration
		for range runs {
			t := time.Now()
			if err := q.run(ctx); err != nil {
				log.Fatalf("%s: %v", q.name, err)
			}
			took = append(took, time.Since(t))
		}
		slices.Sort(took)
		fmt.Printf("%-52s %9s %9s %9s\n", q.name, ms(took[len(took)/2]), ms(took[len(took)*95/100]), ms(took[len(took)-1]))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
