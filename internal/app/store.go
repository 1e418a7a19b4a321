package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"portico/internal/config"
	"portico/internal/store"
	"portico/internal/store/postgres"
	"portico/internal/store/sqlite"
)

// StoreOptions say what a store is opened for.
type StoreOptions struct {
	// ReadOnly opens an existing store for reading ("portico stats"):
	// nothing is created or migrated. Otherwise the store is the
	// gateway's: created and migrated as needed.
	ReadOnly bool
	// Retention is how long the gateway's store keeps raw events.
	Retention time.Duration
	Logger    *slog.Logger
}

// migrateTimeout bounds the migration of a PostgreSQL store at start:
// past it, the gateway starts anyway and spools events.
const migrateTimeout = 15 * time.Second

// OpenStore opens the analytics store at loc: PostgreSQL when
// loc.Database is set, SQLite in loc.Data otherwise.
//
// For the gateway, a PostgreSQL server that does not answer is not an
// error: events wait in the spool, and the store migrates when the
// server is back. A schema newer than this portico is.
func OpenStore(ctx context.Context, loc config.StoreLocation, opts StoreOptions) (store.Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReadOnly {
		return openForReading(ctx, loc)
	}
	if loc.Database != "" {
		pg, err := postgres.New(postgres.Config{URL: loc.Database, Retention: opts.Retention, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		mctx, cancel := context.WithTimeout(ctx, migrateTimeout)
		defer cancel()
		if err := pg.Migrate(mctx); err != nil {
			if errors.Is(err, store.ErrSchemaTooNew) {
				pg.Close()
				return nil, err
			}
			opts.Logger.Error("analytics store unreachable at start; events are spooled until it answers", "store", pg.Describe(), "err", err)
		}
		return pg, nil
	}
	if loc.Data == config.NoStore {
		return nil, errors.New("--data none: there is no store to open")
	}
	lite, err := sqlite.Open(ctx, sqlite.Config{Dir: loc.Data, Retention: opts.Retention, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return lite, nil
}

// openForReading opens the store that "serve" writes, without creating
// one.
func openForReading(ctx context.Context, loc config.StoreLocation) (store.Store, error) {
	if loc.Database != "" {
		pg, err := postgres.Open(ctx, postgres.Config{URL: loc.Database, MaxConns: 4, ReadOnly: true})
		if err != nil {
			return nil, err
		}
		return pg, nil
	}
	if loc.Data == config.NoStore {
		return nil, errors.New("--data none: there is no store to read")
	}
	lite, err := sqlite.Open(ctx, sqlite.Config{Dir: loc.Data, ReadOnly: true})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no analytics store in %s (run portico serve with --data %s first, or point --data or --database at the store)", loc.Data, loc.Data)
	}
	if err != nil {
		return nil, err
	}
	return lite, nil
}
