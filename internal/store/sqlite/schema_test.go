package sqlite

import (
	"errors"
	"strings"
	"testing"

	"portico/internal/store"
)

// TestSchemaVersions: a new database gets every migration, and a
// database that a newer portico migrated is refused, for serving and for
// reading.
func TestSchemaVersions(t *testing.T) {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := Open(t.Context(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := s.read.QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil || applied != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", applied, err, len(ms))
	}
	if _, err := s.write.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)", len(ms)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, ro := range []bool{false, true} {
		if s, err := Open(t.Context(), Config{Dir: dir, ReadOnly: ro}); !errors.Is(err, store.ErrSchemaTooNew) {
			if err == nil {
				s.Close()
			}
			t.Errorf("Open (read-only %v) of a newer schema: %v, want ErrSchemaTooNew", ro, err)
		}
	}

}

// TestOlderSchema: a read-only open refuses a database that the serving
// gateway has not upgraded yet, and says what to do.
func TestOlderSchema(t *testing.T) {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := Open(t.Context(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(t.Context(), "DELETE FROM schema_migrations WHERE version = ?", len(ms)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), Config{Dir: dir, ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "portico serve upgrades it") {
		if err == nil {
			s.Close()
		}
		t.Errorf("read-only Open of an older schema: %v, want a request to run portico serve", err)
	}
}

func TestStoreError(t *testing.T) {
	s, err := Open(t.Context(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if _, err := s.write.ExecContext(ctx, "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "INSERT INTO names (id, name) VALUES (1, 'acme')"); err != nil {
		t.Fatal(err)
	}
	_, errUnique := s.write.ExecContext(ctx, "INSERT INTO names (id, name) VALUES (2, 'acme')")
	_, errKey := s.write.ExecContext(ctx, "INSERT INTO names (id, name) VALUES (1, 'other')")
	var name string
	errNone := s.write.QueryRowContext(ctx, "SELECT name FROM names WHERE id = 3").Scan(&name)
	_, errOther := s.write.ExecContext(ctx, "INSERT INTO nowhere VALUES (1)")
	for _, tc := range []struct {
		what string
		err  error
		want error
	}{
		{"a taken name", errUnique, store.ErrConflict},
		{"a taken key", errKey, store.ErrConflict},
		{"no row", errNone, store.ErrNotFound},
		{"a missing table", errOther, nil},
	} {
		got := storeError(tc.err)
		if tc.err == nil || !errors.Is(got, tc.err) {
			t.Errorf("%s: storeError(%v) = %v, want the driver's error kept", tc.what, tc.err, got)
		}
		for _, sentinel := range []error{store.ErrConflict, store.ErrNotFound} {
			if errors.Is(got, sentinel) != (sentinel == tc.want) {
				t.Errorf("%s: storeError(%v) = %v: errors.Is %v = %v", tc.what, tc.err, got, sentinel, !(sentinel == tc.want))
			}
		}
	}
}
