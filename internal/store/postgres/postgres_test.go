package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/internal/event"

	"portico/internal/store"
	"portico/internal/store/storetest"
	"portico/internal/testenv"
)

func open(t *testing.T, opts storetest.Options) store.Store {
	s, err := New(Config{URL: testenv.Postgres(t), Retention: opts.Retention})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, open) }

// TestReplicas runs three stores (three connection pools, as three
// gateway replicas have) on one database: they migrate at the same time,
// then write concurrently into the same rollup rows, downloaders and pull
// windows. Totals must be exact.
func TestReplicas(t *testing.T) {
	url := testenv.Postgres(t)
	const replicas = 3
	var stores [replicas]*Store
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for i := range replicas {
		s, err := New(Config{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
		wg.Go(func() { errs <- s.Migrate(t.Context()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migration: %v", err)
		}
	}
	var applied int
	if err := stores[0].pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if want := len(mustGlob(t)); applied != want {
		t.Fatalf("schema_migrations has %d rows after three replicas migrated, want %d", applied, want)
	}

	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	src := event.NewIDSource()
	var mu sync.Mutex
	newID := func(at time.Time) event.ID { mu.Lock(); defer mu.Unlock(); return src.New(at) }
	const clients, rounds = 40, 10
	// Every round, every client pulls a multi-platform image: the index
	// GET goes to one replica and the manifest GET to the next, and
	// downloads a file from a third.
	var batches [replicas][][]event.Event
	for r := range rounds {
		var per [replicas][]event.Event
		for c := range clients {
			at := day.Add(time.Duration(r)*time.Hour + time.Duration(c)*time.Second)
			hash := uint64(1000 + c)
			mk := func(ref, mt string, d time.Duration) event.Event {
				return event.Event{ID: newID(at.Add(d)), Time: at.Add(d), Kind: event.KindDocker, RuleID: "images", Domain: "cr.example.com",
					Method: "GET", Path: "/v2/acme/x/manifests/" + ref, Status: 200, Outcome: event.OutcomeProxy, Downloader: hash,
					Source: event.SourceHuman, Docker: event.Docker{Image: "acme/x", Reference: ref, Object: "manifest", MediaType: mt, Pull: true}}
			}
			per[c%replicas] = append(per[c%replicas], mk("1.0", "application/vnd.oci.image.index.v1+json", 0))
			per[(c+1)%replicas] = append(per[(c+1)%replicas], mk("sha256:m", "application/vnd.oci.image.manifest.v1+json", 300*time.Millisecond))
			per[(c+2)%replicas] = append(per[(c+2)%replicas], event.Event{ID: newID(at), Time: at, Kind: event.KindFile, PackageID: "bin",
				Domain: "dl.example.com", Method: "GET", Path: "/dl", Status: 307, Outcome: event.OutcomeRedirect, Downloader: hash, Source: event.SourceHuman})
		}
		for i := range replicas {
			batches[i] = append(batches[i], per[i])
		}
	}
	errs = make(chan error, replicas*rounds)
	for i := range replicas {
		wg.Go(func() {
			for _, b := range batches[i] {
				if err := stores[i].Append(t.Context(), b); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	f := store.Filter{From: day, To: day.Add(24 * time.Hour)}
	check := func(name string, q store.Query, want int64) {
		t.Helper()
		rows, err := stores[1].Aggregate(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for _, r := range rows {
			got += r.Value
		}
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	f.Kind = event.KindDocker
	check("docker pulls", store.Query{Filter: f}, clients*rounds)
	check("manifest GETs", store.Query{Filter: f, Measure: store.Requests}, 2*clients*rounds)
	f.Kind = event.KindFile
	check("file downloads", store.Query{Filter: f, Step: store.StepHour}, clients*rounds)
	u, err := stores[2].Uniques(t.Context(), store.Filter{From: day, To: day.Add(24 * time.Hour), Package: "bin"}, store.StepDay)
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].Value != clients {
		t.Errorf("unique downloaders of bin = %v, want %d on one day", u, clients)
	}
}

func mustGlob(t *testing.T) []string {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	return files
}

func TestSalt(t *testing.T) {
	url := testenv.Postgres(t)
	a, err := New(Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	today := store.Day(time.Now())
	sa, err := a.Salt(t.Context(), today)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Salt(t.Context(), today.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) != store.SaltSize || !bytes.Equal(sa, sb) {
		t.Fatalf("two replicas got salts %x and %x for one day, want the same %d bytes", sa, sb, store.SaltSize)
	}
	if _, err := a.Salt(t.Context(), today.Add(-3*24*time.Hour)); !errors.Is(err, store.ErrNoSalt) {
		t.Errorf("salt of a day long gone: %v, want ErrNoSalt", err)
	}
	// A salt is deleted once its day (and the grace period) is over.
	if _, err := a.pool.Exec(t.Context(), "INSERT INTO salts (day, salt) VALUES ($1, $2)", today.Add(-2*24*time.Hour), sa); err != nil {
		t.Fatal(err)
	}
	if err := a.Maintain(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	var days []time.Time
	rows, _ := a.pool.Query(t.Context(), "SELECT day FROM salts")
	days, err = pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || !days[0].Equal(today) {
		t.Errorf("salts kept after maintenance: %v, want only today's", days)
	}
}

// TestUnreachable checks that a store whose database is down fails calls
// with an error, and works once the database is there.
func TestUnreachable(t *testing.T) {
	s, err := New(Config{URL: "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := event.Event{ID: event.NewIDSource().New(time.Now()), Time: time.Now(), Kind: event.KindPixel, Method: "GET", Status: 200, Outcome: event.OutcomeServe}
	if err := s.Append(t.Context(), []event.Event{ev}); err == nil {
		t.Fatal("Append to an unreachable database succeeded")
	}
	if _, err := New(Config{URL: "mysql://nope"}); err == nil {
		t.Error("New accepted a URL that is not PostgreSQL's")
	}
}

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
				s, err := New(Config{URL: testenv.Postgres(b)})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if err := s.Migrate(context.Background()); err != nil {
					b.Fatal(err)
				}
				storetest.BenchmarkAppendCPU(b, s, size, warm, func() (time.Duration, bool) { return withServerCPU(s) })
			})
		}
	}
}

// TestExportAcrossDigitCounts pages through an export whose rows were
// inserted by transactions with ids of one to three digits. Transaction
// ids order as numbers: ordered as text ("10" < "9"), a page ends on a
// cursor past rows the next page then skips. A server's ids cross from
// one digit count to the next as it runs, so an export of a busy store
// meets this every time they do.
func TestExportAcrossDigitCounts(t *testing.T) {
	s := open(t, storetest.Options{}).(*Store)
	xids := []uint64{7, 9, 10, 99, 100, 700}
	at := time.Now().Add(-time.Hour)
	var want []event.ID
	for _, xid := range xids {
		batch := make([]event.Event, 5)
		for i := range batch {
			batch[i] = storetest.FileEvent(at, fmt.Sprint(xid))
			want = append(want, batch[i].ID)
		}
		if err := s.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		// Stand-ins for the ids the server gave: all below the oldest
		// running transaction, so every row is ready to export.
		ids := make([][16]byte, len(batch))
		for i, e := range batch {
			ids[i] = e.ID
		}
		if _, err := s.pool.Exec(t.Context(), "UPDATE events SET xid = $1::text::xid8 WHERE id = ANY($2)", fmt.Sprint(xid), ids); err != nil {
			t.Fatal(err)
		}
	}
	var xmin uint64
	if err := s.pool.QueryRow(t.Context(), "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8").Scan(&xmin); err != nil {
		t.Fatal(err)
	}
	if xmin <= xids[len(xids)-1] {
		t.Fatalf("the server's oldest running transaction is %d; the test needs it above %d", xmin, xids[len(xids)-1])
	}
	var got []event.ID
	cursor := ""
	for range len(want) {
		next, err := s.Export(t.Context(), store.ExportQuery{After: cursor, Limit: 4}, func(r store.ExportRow) error {
			got = append(got, r.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if next == cursor {
			break
		}
		cursor = next
	}
	if len(got) != len(want) {
		t.Fatalf("paged export listed %d of %d events", len(got), len(want))
	}
	// Within one transaction rows come by id; across them, by transaction.
	for i := 0; i < len(want); i += 5 {
		slices.SortFunc(want[i:i+5], func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged export order differs from transaction order:\n got %v\nwant %v", got, want)
	}
}

// withServerCPU is this process's CPU time plus that of the server
// processes of s's database, when the server runs on this machine (their
// /proc entries are readable): what an append costs the machine, which
// events/s under other load does not show.
func withServerCPU(s *Store) (time.Duration, bool) {
	own, ok := storetest.CPUTime()
	if !ok {
		return 0, false
	}
	rows, err := s.pool.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return 0, false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(pids) == 0 {
		return 0, false
	}
	hz := 100.0 // USER_HZ on Linux
	total := own
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		// utime and stime are fields 14 and 15, counted after the
		// ")" that closes the command name.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return 0, false
		}
		ut, err1 := strconv.ParseFloat(f[11], 64)
		st, err2 := strconv.ParseFloat(f[12], 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		total += time.Duration((ut + st) / hz * float64(time.Second))
	}
	return total, true
}
