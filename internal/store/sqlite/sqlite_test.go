package sqlite

import (
	"context"
	"fmt"
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
				storetest.BenchmarkAppend(b, s, size, warm)
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
	dir := t.TempDir()
	reopen := func(s *Store) *Store {
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
