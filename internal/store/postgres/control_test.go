package postgres

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/internal/control"
	"portico/internal/store/storetest"
	"portico/internal/testenv"
)

// TestControl runs the control plane's contract suite. Several stores on
// one database are what several replicas are: each its own pool.
func TestControl(t *testing.T) {
	storetest.Control(t, func(t *testing.T, n int) []control.Store {
		url := testenv.Postgres(t)
		stores := make([]control.Store, n)
		for i := range stores {
			stores[i] = openControl(t, url, nil)
		}
		return stores
	})
}

func openControl(t *testing.T, url string, log *slog.Logger) *Store {
	t.Helper()
	s, err := New(Config{URL: url, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWatchConfig checks that WatchConfig on one replica sees every
// routing change another replica commits, and goes on seeing them after
// its connection is killed. It logs how long a change took to arrive.
func TestWatchConfig(t *testing.T) {
	url := testenv.Postgres(t)
	var logs testenv.Buffer
	watcher := openControl(t, url, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	writer := openControl(t, url, nil)

	type seen struct {
		version int64
		at      time.Time
	}
	versions := make(chan seen, 1000)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watcher.WatchConfig(ctx, func(v int64) { versions <- seen{v, time.Now()} })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("WatchConfig did not return after its context ended")
		}
	})
	// waitFor returns when version v was seen; a generous bound only
	// keeps a broken watcher from hanging the test.
	waitFor := func(v int64) time.Time {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case s := <-versions:
				if s.version > v {
					t.Fatalf("saw config version %d while waiting for %d", s.version, v)
				}
				if s.version == v {
					return s.at
				}
			case <-deadline:
				t.Fatalf("config version %d never seen", v)
			}
		}
	}
	commit := func() {
		t.Helper()
		if err := writer.Update(t.Context(), func(tx control.Tx) error { tx.RoutingChanged(); return nil }); err != nil {
			t.Fatal(err)
		}
	}

	waitFor(0) // the version when it starts listening
	const changes = 50
	var sinceStart, sinceCommit []time.Duration
	for v := int64(1); v <= changes; v++ {
		start := time.Now()
		commit()
		committed := time.Now()
		got := waitFor(v)
		sinceStart = append(sinceStart, got.Sub(start))
		sinceCommit = append(sinceCommit, max(0, got.Sub(committed)))
	}
	slices.Sort(sinceStart)
	slices.Sort(sinceCommit)
	pct := func(ds []time.Duration, p int) time.Duration { return ds[(len(ds)-1)*p/100] }
	t.Logf("%d routing changes: from the start of Update to the notification p50 %v, p99 %v; from Update's return p50 %v, p99 %v",
		changes, pct(sinceStart, 50), pct(sinceStart, 99), pct(sinceCommit, 50), pct(sinceCommit, 99))

	// Kill the listening connection, and commit while it is down.
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	listeners := func() []int32 {
		t.Helper()
		rows, _ := admin.Query(t.Context(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", watchApp)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	old := listeners()
	if len(old) != 1 {
		t.Fatalf("%d listening connections, want 1", len(old))
	}
	var killed bool
	if err := admin.QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", old[0]).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the listening connection: %v, %v", killed, err)
	}
	commit()
	waitFor(changes + 1)
	// Listening again, on a new connection, it sees new changes.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if pids := listeners(); len(pids) == 1 && pids[0] != old[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("WatchConfig did not connect again")
		}
	}
	commit()
	waitFor(changes + 2)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "not listening for config changes") {
		t.Errorf("the lost connection was not logged as a warning; the log holds:\n%s", logs.String())
	}
}
