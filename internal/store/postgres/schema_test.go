package postgres

import (
	"errors"
	"strings"
	"testing"

	"portico/internal/store"
	"portico/internal/testenv"
)

// TestSchemaVersions: Open migrates a new database, and a database that
// a newer portico migrated is refused, for serving and for reading; a
// read-only open of a database that is behind asks for portico serve.
func TestSchemaVersions(t *testing.T) {
	ms, err := store.ReadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	url := testenv.Postgres(t)
	s, err := Open(t.Context(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var applied int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil || applied != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", applied, err, len(ms))
	}
	if _, err := s.pool.Exec(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", len(ms)+1); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		if s, err := Open(t.Context(), Config{URL: url, ReadOnly: ro}); !errors.Is(err, store.ErrSchemaTooNew) {
			if err == nil {
				s.Close()
			}
			t.Errorf("Open (read-only %v) of a newer schema: %v, want ErrSchemaTooNew", ro, err)
		}
	}
	if _, err := s.pool.Exec(t.Context(), "DELETE FROM schema_migrations WHERE version >= $1", len(ms)); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), Config{URL: url, ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "portico serve upgrades it") {
		if err == nil {
			s.Close()
		}
		t.Errorf("read-only Open of an older schema: %v, want a request to run portico serve", err)
	}
	if s, err := Open(t.Context(), Config{URL: "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2"}); err == nil {
		s.Close()
		t.Error("Open of an unreachable database succeeded")
	}
}

func TestStoreError(t *testing.T) {
	s, err := Open(t.Context(), Config{URL: testenv.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if _, err := s.pool.Exec(ctx, "CREATE TABLE names (id int PRIMARY KEY, name text NOT NULL UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "INSERT INTO names (id, name) VALUES (1, 'acme')"); err != nil {
		t.Fatal(err)
	}
	_, errUnique := s.pool.Exec(ctx, "INSERT INTO names (id, name) VALUES (2, 'acme')")
	_, errKey := s.pool.Exec(ctx, "INSERT INTO names (id, name) VALUES (1, 'other')")
	var name string
	errNone := s.pool.QueryRow(ctx, "SELECT name FROM names WHERE id = 3").Scan(&name)
	_, errOther := s.pool.Exec(ctx, "INSERT INTO nowhere VALUES (1)")
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
