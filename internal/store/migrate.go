package store

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
)

// A Migration is one step of a store's schema: an SQL file named
// NNNN_what.sql, applied once, in order, and recorded in the
// schema_migrations table.
type Migration struct {
	Version int    // NNNN: 1 for the first, without gaps
	Name    string // the file name without ".sql"
	SQL     string
}

// ReadMigrations reads the migrations/*.sql files of fsys (a backend's
// embedded files) in order, and checks that they are numbered 1, 2, 3, …
func ReadMigrations(fsys fs.FS) ([]Migration, error) {
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	ms := make([]Migration, 0, len(files))
	for i, f := range files {
		version := i + 1
		name := strings.TrimSuffix(path.Base(f), ".sql")
		// Work on two branches can each add the next migration: the
		// second to land must take the next free number. Migrations
		// are written not to depend on one another beyond the schema
		// they find, so renumbering one changes nothing else.
		if i > 0 && len(name) >= 4 && strings.HasPrefix(ms[i-1].Name, name[:4]) {
			return nil, fmt.Errorf("migrations %s and %s share the number %s: give the newer one the next free number", ms[i-1].Name, name, name[:4])
		}
		// NNNN, and nothing shorter.
		if n, err := strconv.Atoi(name[:min(4, len(name))]); err != nil || n != version || len(name) < 4 {
			return nil, fmt.Errorf("migration %s is out of sequence", f)
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(body)})
	}
	return ms, nil
}

// A Migrator is a backend's side of migrating one database. Before
// Migrate calls it, the backend makes the run exclusive (PostgreSQL takes
// an advisory lock; SQLite holds one IMMEDIATE transaction) and creates
// the schema_migrations table if it is missing.
type Migrator interface {
	// SchemaVersion returns the version of the last migration applied,
	// 0 for none.
	SchemaVersion(ctx context.Context) (int, error)
	// ApplyMigration runs m and records it in schema_migrations.
	ApplyMigration(ctx context.Context, m Migration) error
}

// Migrate applies the migrations of ms that the database lacks, in order.
// A database at a version beyond ms was migrated by a newer portico: the
// result is ErrSchemaTooNew and nothing is applied. desc names the
// database in errors; each migration applied is logged on log, which
// should carry the store's attributes.
func Migrate(ctx context.Context, db Migrator, ms []Migration, desc string, log *slog.Logger) error {
	current, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", desc, err)
	}
	if current > len(ms) {
		return fmt.Errorf("migrate %s: at version %d, this portico knows %d: %w", desc, current, len(ms), ErrSchemaTooNew)
	}
	for _, m := range ms[current:] {
		if err := db.ApplyMigration(ctx, m); err != nil {
			return fmt.Errorf("migrate %s: apply %s: %w", desc, m.Name, err)
		}
		log.Info("store migrated", "version", m.Version, "name", m.Name)
	}
	return nil
}
