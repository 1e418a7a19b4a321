package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"portico/internal/control"
	"portico/internal/store"
)

// The control plane's entities (migration 0002). Every Update takes one
// advisory lock first, so the Updates of all replicas run one at a time;
// the transaction is READ COMMITTED, so that each statement sees what
// the Update before it committed (a REPEATABLE READ snapshot would be
// taken when the lock was asked for, before that commit). A View reads
// one REPEATABLE READ snapshot. When an Update changed routing, its
// commit bumps the config version and sends it on ConfigChannel.

var _ control.Store = (*Store)(nil)

// lockControl is the control lock, in the key space of the store's other
// advisory locks (lockClass).
const lockControl = 5

// ConfigChannel is the notification channel that carries every new
// config version, as decimal text.
const ConfigChannel = "portico_config"

// View implements control.Store.
func (s *Store) View(ctx context.Context, fn func(control.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("control view: %w", err)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("control view: %w", err)
	}
	t := &ctlTx{tx: tx}
	defer func() {
		t.done = true
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	return fn(t)
}

// Update implements control.Store. fn's error is returned as it is.
func (s *Store) Update(ctx context.Context, fn func(control.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("control update: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("control update: %w", err)
	}
	t := &ctlTx{tx: tx}
	defer func() {
		// Also when fn panics. After a commit, a no-op.
		t.done = true
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", lockClass, lockControl); err != nil {
		return fmt.Errorf("control update: lock: %w", err)
	}
	if err := fn(t); err != nil {
		return err
	}
	if t.routing {
		var v int64
		if err := tx.QueryRow(ctx, "UPDATE config_version SET version = version + 1 RETURNING version").Scan(&v); err != nil {
			return fmt.Errorf("control update: bump config version: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", ConfigChannel, strconv.FormatInt(v, 10)); err != nil {
			return fmt.Errorf("control update: notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("control update: commit: %w", err)
	}
	return nil
}

// ConfigVersion implements control.Store.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, fmt.Errorf("config version: %w", err)
	}
	var v int64
	if err := s.pool.QueryRow(ctx, "SELECT version FROM config_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("config version: %w", err)
	}
	return v, nil
}

// Backoff between attempts to listen again.
const (
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 10 * time.Second
)

// watchApp is the application_name of WatchConfig's connection, which
// tells it apart in pg_stat_activity.
const watchApp = "portico-config-watch"

// WatchConfig calls fn with the new config version whenever an Update of
// any replica commits a routing change, until ctx ends. It listens on a
// connection of its own, outside the pool. Each time it starts listening
// (the first time, and after a lost connection) it also calls fn with the
// current version, so that changes committed while it was not listening
// are not missed; fn may thus see a version more than once. A lost
// connection is logged and tried again, with a growing delay. fn runs on
// WatchConfig's goroutine.
func (s *Store) WatchConfig(ctx context.Context, fn func(version int64)) {
	delay := watchMinBackoff
	for {
		err := s.listen(ctx, fn, func() { delay = watchMinBackoff })
		if ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("not listening for config changes; trying again", "store", s.desc, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, watchMaxBackoff)
	}
}

// listen listens for config versions until its connection fails or ctx
// ends. It calls listening once it listens.
func (s *Store) listen(ctx context.Context, fn func(int64), listening func()) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	cc := s.pool.Config().ConnConfig
	cc.RuntimeParams["application_name"] = watchApp
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ConfigChannel}.Sanitize()); err != nil {
		return err
	}
	var v int64
	if err := conn.QueryRow(ctx, "SELECT version FROM config_version").Scan(&v); err != nil {
		return err
	}
	listening()
	fn(v)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			s.cfg.Logger.Warn("ignoring a config notification that is no version", "store", s.desc, "payload", n.Payload)
			continue
		}
		fn(v)
	}
}

// ctlTx is a control.Tx over one PostgreSQL transaction.
type ctlTx struct {
	tx      pgx.Tx
	routing bool
	// done is set when the transaction has ended: a Tx kept past its
	// function fails rather than run statements outside it.
	done bool
}

var errTxDone = errors.New("control transaction used after it ended")

func (t *ctlTx) RoutingChanged() { t.routing = true }

// exec runs a statement and returns how many rows it changed.
func (t *ctlTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.done {
		return 0, errTxDone
	}
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, conflict(err)
	}
	return tag.RowsAffected(), nil
}

// insert runs an INSERT … ON CONFLICT DO NOTHING: no row inserted is a
// conflict. Unlike a unique violation, that leaves the transaction
// usable, as it is in the SQLite store.
func (t *ctlTx) insert(ctx context.Context, query string, args ...any) error {
	n, err := t.exec(ctx, query+" ON CONFLICT DO NOTHING", args...)
	if err == nil && n == 0 {
		return store.ErrConflict
	}
	return err
}

// one runs a query for one row; no row is store.ErrNotFound.
func (t *ctlTx) one(ctx context.Context, query string, args []any, dest ...any) error {
	if t.done {
		return errTxDone
	}
	err := t.tx.QueryRow(ctx, query, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// list runs a query and scans every row it returns.
func list[T any](ctx context.Context, t *ctlTx, query string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	var out []T
	err := each(ctx, t, query, args, func(r pgx.Row) error {
		v, err := scan(r)
		out = append(out, v)
		return err
	})
	return out, err
}

// each runs a query and calls fn for every row, stopping at its first
// error.
func each(ctx context.Context, t *ctlTx, query string, args []any, fn func(pgx.Row) error) error {
	if t.done {
		return errTxDone
	}
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exists returns store.ErrNotFound, naming what, unless query finds a row.
func (t *ctlTx) exists(ctx context.Context, what, id, query string) error {
	var one int
	if err := t.one(ctx, query, []any{id}, &one); err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	return nil
}

// updateUnique runs an UPDATE of the row with id that changes nothing
// if its new values are taken, as its NOT EXISTS condition says: a
// unique violation would abort the whole transaction. When no row
// changed, it tells a missing row (exists finds none) from a conflict.
func (t *ctlTx) updateUnique(ctx context.Context, exists, id, query string, args ...any) error {
	n, err := t.exec(ctx, query, args...)
	if err != nil || n > 0 {
		return err
	}
	var one int
	if err := t.one(ctx, exists, []any{id}, &one); err != nil {
		return err
	}
	return store.ErrConflict
}

// mustChange turns a statement that changed no row into store.ErrNotFound.
func mustChange(n int64, err error) error {
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// conflict wraps unique violations in store.ErrConflict.
func conflict(err error) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == uniqueViolation {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// wrap adds what failed to err, if any.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// limit is a page's LIMIT: NULL is none.
func limit(p control.Page) any {
	if p.Limit <= 0 {
		return nil
	}
	return p.Limit
}

// ts is a time's column value: NULL for the zero time.
func ts(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }

// tsTime scans a time column written by ts, in UTC.
type tsTime struct{ t *time.Time }

func (d tsTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*d.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return fmt.Errorf("infinite time %v", v.InfinityModifier)
	default:
		*d.t = v.Time.UTC()
	}
	return nil
}

// checkRole refuses values that are no role.
func checkRole(r control.Role) error {
	if r < control.RoleMember || r > control.RoleOwner {
		return fmt.Errorf("role %d is none of member, admin and owner", r)
	}
	return nil
}
