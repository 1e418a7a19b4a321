package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
	"portico/internal/store/storetest"
)

func open(t *testing.T, opts storetest.Options) store.Store {
	s, err := Open(t.Context(), Config{Dir: t.TempDir(), Retention: opts.Retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, open) }

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{512, 5000, 50000} {
		for _, warm := range []int{0, 2_000_000} {
			name := fmt.Sprintf("batch=%d", size)
			if warm > 0 {
				if size < 50000 {
					continue
				}
				name += "-warm"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(context.Background(), Config{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				storetest.BenchmarkAppend(b, s, size, warm, true)
			})
		}
	}
}

// TestUniquesAcrossRestarts checks that a downloader counted before the
// store was closed is not counted again after it opens: the writer's set
// of downloaders is loaded back from the log. It also opens a database
// written by the first schema, whose downloaders were a keyed table.
func TestUniquesAcrossRestarts(t *testing.T) {
	day := time.Now().UTC().Truncate(24 * time.Hour)
	download := func(pkg string, downloader uint64, at time.Duration) event.Event {
		e := storetest.FileEvent(day.Add(at), pkg)
		e.Downloader = downloader
		return e
	}
	reopen := reopener(t, t.TempDir())
	uniques := func(s *Store, pkg string) int64 {
		t.Helper()
		return storetest.Uniques(t, s, store.Filter{From: day, To: day.Add(24 * time.Hour), Package: pkg})
	}

	s := reopen(nil)
	// Two downloads by downloader 1, one of them twice in a batch.
	if err := s.Append(t.Context(), []event.Event{download("p", 1, time.Minute), download("p", 1, 2*time.Minute), download("p", 2, 3*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s = reopen(s)
	if err := s.Append(t.Context(), []event.Event{download("p", 1, 4*time.Minute), download("p", 3, 5*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got := uniques(s, "p"); got != 3 {
		t.Errorf("after a restart, %d unique downloaders of p, want 3", got)
	}

	// The same day's downloaders as the first schema kept them.
	if _, err := s.write.ExecContext(t.Context(), `DROP TABLE downloader_log;
		CREATE TABLE downloaders (day INTEGER NOT NULL, key INTEGER NOT NULL, PRIMARY KEY (day, key)) WITHOUT ROWID;
		`+firstPullWindows+undoTLS+undoControl+`
		DELETE FROM schema_migrations WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	recs, _ := store.NewRecords([]event.Event{download("q", 9, time.Hour)}, nil, nil)
	old := store.Downloaders(recs)
	if _, err := s.write.ExecContext(t.Context(), "INSERT INTO downloaders (day, key) VALUES (?, ?)", old[0].Day, int64(old[0].Key)); err != nil {
		t.Fatal(err)
	}
	s = reopen(s)
	defer s.Close()
	if err := s.Append(t.Context(), []event.Event{download("q", 9, 2*time.Hour), download("q", 8, 3*time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// q's downloader 9 was counted by the old schema's writer, which
	// this test skipped: only downloader 8 is new.
	if got := uniques(s, "q"); got != 1 {
		t.Errorf("after migrating the downloaders table, %d new unique downloaders of q, want 1 (8; 9 was known)", got)
	}
}

// firstPullWindows turns pull_log back into the table that the first
// schema kept the pull windows in.
const firstPullWindows = `DROP TABLE pull_log;
	CREATE TABLE pull_windows (hash INTEGER NOT NULL, at INTEGER NOT NULL, type INTEGER NOT NULL, used INTEGER NOT NULL,
		PRIMARY KEY (hash, at)) WITHOUT ROWID;
	CREATE INDEX pull_windows_at ON pull_windows (at);`

// TestPullWindowsAcrossRestarts checks that the two GETs of one docker
// pull count once when the store is reopened between them, from the log
// and from the table of the first schema, and that Maintain forgets old
// windows in memory as in the log.
func TestPullWindowsAcrossRestarts(t *testing.T) {
	const (
		index    = "application/vnd.oci.image.index.v1+json"
		manifest = "application/vnd.docker.distribution.manifest.v2+json"
	)
	start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	ids := event.NewIDSource()
	pull := func(hash uint64, at time.Duration, mediaType string) event.Event {
		return event.Event{ID: ids.New(start.Add(at)), Kind: event.KindDocker, RuleID: "images", Time: start.Add(at), Domain: "cr.example.com",
			Method: "GET", Path: "/v2/acme/x/manifests/1.0", Status: 200, Outcome: event.OutcomeProxy, Downloader: hash,
			Source: event.SourceHuman, Docker: event.Docker{Image: "acme/x", Reference: "1.0", Object: "manifest", MediaType: mediaType, Pull: true}}
	}
	reopen := reopener(t, t.TempDir())
	pulls := func(s *Store) int64 {
		t.Helper()
		rows, err := s.Aggregate(t.Context(), store.Query{Filter: store.Filter{From: start.Add(-time.Hour), To: start.Add(3 * time.Hour), Kind: event.KindDocker}, Measure: store.Downloads})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("total docker pulls: %d rows, want 1", len(rows))
		}
		return rows[0].Value
	}
	appendAll := func(s *Store, es ...event.Event) {
		t.Helper()
		if err := s.Append(t.Context(), es); err != nil {
			t.Fatal(err)
		}
	}

	s := reopen(nil)
	appendAll(s, pull(1, 0, index))
	s = reopen(s)
	appendAll(s, pull(1, time.Second, manifest))
	if got := pulls(s); got != 1 {
		t.Errorf("an index GET, a restart, its manifest GET: %d pulls, want 1", got)
	}

	// A window as the first schema kept it: client 2's index GET.
	if _, err := s.write.ExecContext(t.Context(), firstPullWindows+undoTLS+undoControl+`
		INSERT INTO pull_windows (hash, at, type, used) VALUES (2, ?, ?, 0);
		DELETE FROM schema_migrations WHERE version > 2`, start.Add(time.Minute).UnixMilli(), store.PullIndex); err != nil {
		t.Fatal(err)
	}
	s = reopen(s)
	defer func() { s.Close() }()
	appendAll(s, pull(2, time.Minute+time.Second, manifest))
	if got := pulls(s); got != 1 {
		t.Errorf("after migrating pull_windows, the manifest GET of a stored index GET: %d pulls in all, want still 1", got)
	}

	// Client 3's index GET is forgotten by Maintain two days later; its
	// manifest GET, arriving late, is then a pull of its own, as it is
	// for a store reopened after Maintain.
	appendAll(s, pull(3, 10*time.Minute, index))
	if err := s.Maintain(t.Context(), start.Add(10*time.Minute+store.WindowRetention+time.Minute)); err != nil {
		t.Fatal(err)
	}
	var logged int
	if err := s.write.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM pull_log").Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged != 0 || len(s.windows) != 0 {
		t.Errorf("after Maintain, %d logged windows and %d remembered clients, want none", logged, len(s.windows))
	}
	appendAll(s, pull(3, 10*time.Minute+time.Second, manifest))
	if got := pulls(s); got != 3 {
		t.Errorf("a manifest GET after its index GET's window was forgotten: %d pulls in all, want 3", got)
	}
}

// reopener returns a function that closes s, unless it is nil, and opens
// the store in dir again.
func reopener(t *testing.T, dir string) func(s *Store) *Store {
	return func(s *Store) *Store {
		t.Helper()
		if s != nil {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(t.Context(), Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestPageSize checks that a new database gets 32 KiB pages in WAL mode
// with full syncs, and that a database made with 4 KiB pages, as earlier
// versions made them, keeps them and takes events.
func TestPageSize(t *testing.T) {
	settings := func(s *Store) (page int, journal string, sync int) {
		t.Helper()
		for q, dst := range map[string]any{"PRAGMA page_size": &page, "PRAGMA journal_mode": &journal, "PRAGMA synchronous": &sync} {
			if err := s.write.QueryRowContext(t.Context(), q).Scan(dst); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return page, journal, sync
	}
	s := reopener(t, t.TempDir())(nil)
	defer s.Close()
	if page, journal, sync := settings(s); page != 32768 || journal != "wal" || sync != 2 {
		t.Errorf("new database: page_size %d, journal_mode %s, synchronous %d; want 32768, wal, 2 (FULL)", page, journal, sync)
	}

	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=page_size(4096)&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(t.Context(), "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s = reopener(t, dir)(nil)
	defer s.Close()
	if page, journal, _ := settings(s); page != 4096 || journal != "wal" {
		t.Errorf("database made with 4 KiB pages: page_size %d, journal_mode %s after opening; want 4096, wal", page, journal)
	}
	e := storetest.FileEvent(time.Now().UTC(), "p")
	if err := s.Append(t.Context(), []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	if n := storetest.Total(t, s, store.Filter{From: day, To: day.Add(24 * time.Hour)}, store.Requests); n != 1 {
		t.Errorf("database with 4 KiB pages: total after one event = %d, want 1", n)
	}
}

// firstRollupKeys turns the rollup tables back into the keys of the
// first schema, before migration 0004.
var firstRollupKeys = func() string {
	var b strings.Builder
	for _, table := range []string{"rollup_hour", "rollup_day"} {
		fmt.Fprintf(&b, `CREATE TABLE old (package TEXT NOT NULL, bucket INTEGER NOT NULL, artifact TEXT NOT NULL, kind TEXT NOT NULL,
			bot INTEGER NOT NULL, source TEXT NOT NULL, dim TEXT NOT NULL, value TEXT NOT NULL, requests INTEGER NOT NULL,
			downloads INTEGER NOT NULL, PRIMARY KEY (package, bucket, artifact, kind, bot, source, dim, value)) WITHOUT ROWID;
		INSERT INTO old SELECT * FROM %[1]s;
		DROP TABLE %[1]s;
		ALTER TABLE old RENAME TO %[1]s;
		CREATE INDEX %[1]s_dim ON %[1]s (dim, bucket);
		`, table)
	}
	return b.String() + undoTLS + undoControl + "DELETE FROM schema_migrations WHERE version >= 4"
}()

// TestRollupKeysMigration checks that migration 0004, which rekeys the
// hourly and daily rollups, keeps every count: the same queries give the
// same rows before and after it, and the store goes on counting.
func TestRollupKeysMigration(t *testing.T) {
	now := time.Now().UTC()
	day := now.Truncate(24 * time.Hour)
	from := day.Add(-3 * 24 * time.Hour)
	syn := storetest.NewSynthetic(5, from, now.Sub(from), 8, 20_000)
	reopen := reopener(t, t.TempDir())
	s := reopen(nil)
	batch := make([]event.Event, 5_000)
	for range 4 {
		if err := s.Append(t.Context(), syn.Batch(batch)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Maintain(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	all := store.Filter{From: from, To: now.Add(time.Hour)}
	one := all
	one.Package = "pkg-000"
	queries := []store.Query{
		{Filter: all, Step: store.StepDay},
		{Filter: all, By: store.DimOrg, Limit: 10},
		{Filter: all, By: store.DimPackage, Measure: store.Requests},
		{Filter: one, Step: store.StepHour, By: store.DimVersion},
		{Filter: one, Step: store.StepDay, By: store.DimCountry, Limit: 3},
		{Filter: one, By: store.DimClient},
		{Filter: one, By: store.DimOrg, Limit: 5},
	}
	results := func() [][]store.Row {
		var out [][]store.Row
		for _, q := range queries {
			rows, err := s.Aggregate(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatalf("Aggregate(%+v): no rows; the test needs some", q)
			}
			out = append(out, rows)
		}
		return out
	}
	want := results()

	if _, err := s.write.ExecContext(t.Context(), firstRollupKeys); err != nil {
		t.Fatal(err)
	}
	s = reopen(s)
	defer s.Close()
	for table, key := range map[string]string{"rollup_hour": "PRIMARY KEY (dim, bucket, package", "rollup_day": "PRIMARY KEY (package, dim, bucket"} {
		var schema string
		if err := s.read.QueryRowContext(t.Context(), "SELECT sql FROM sqlite_master WHERE name = ?", table).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(schema, key) {
			t.Errorf("after the migration, %s is\n%s\nwant %s", table, schema, key)
		}
	}
	for i, got := range results() {
		if !slices.Equal(got, want[i]) {
			t.Errorf("Aggregate(%+v) after the migration:\n%v\nwant\n%v", queries[i], got, want[i])
		}
	}
	// Counting goes on: an event of a closed day and one of today.
	before := storetest.Total(t, s, one, store.Requests)
	if err := s.Append(t.Context(), []event.Event{storetest.FileEvent(from.Add(time.Hour), "pkg-000"), storetest.FileEvent(now, "pkg-000")}); err != nil {
		t.Fatal(err)
	}
	if after := storetest.Total(t, s, one, store.Requests); after != before+2 {
		t.Errorf("after two more events, %d requests, want %d", after, before+2)
	}
}

// TestRepeatedEventsCountOnce appends batches that repeat events, within
// a batch and from an earlier one, as a spool replayed after a crash can:
// each event is stored and counted once.
func TestRepeatedEventsCountOnce(t *testing.T) {
	s, err := Open(t.Context(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	a, b, c := storetest.FileEvent(at, "p"), storetest.FileEvent(at, "p"), storetest.FileEvent(at, "p")
	for _, batch := range [][]event.Event{{a}, {b, b, a, c}, {c, a}} {
		if err := s.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	f := store.Filter{From: at.Add(-time.Hour), To: at.Add(time.Hour), Bots: store.BotsInclude}
	if got := storetest.Total(t, s, f, store.Requests); got != 3 {
		t.Errorf("the rollups count %d requests, want 3", got)
	}
	var rows int
	if err := s.write.QueryRowContext(t.Context(), "SELECT count(*) FROM events").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 3 {
		t.Errorf("%d raw events stored, want 3", rows)
	}
}
