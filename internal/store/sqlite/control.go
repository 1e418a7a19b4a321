package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"portico/internal/control"
	"portico/internal/store"
)

// The control plane's entities live in the same file as the analytics
// (migration 0005): Update writes them on the one writer connection, in
// an IMMEDIATE transaction, so that it takes the write lock before it
// reads and a second process on the same file ("portico import") waits
// for it instead of failing or overwriting what it read; View reads one
// snapshot on a read-only connection.

var _ control.Store = (*Store)(nil)

// View implements control.Store.
func (s *Store) View(ctx context.Context, fn func(control.Tx) error) error {
	sqlTx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("control view: %w", err)
	}
	t := &ctlTx{q: sqlTx}
	defer func() {
		t.done = true
		_ = sqlTx.Rollback()
	}()
	return fn(t)
}

// Update implements control.Store. fn's error is returned as it is.
func (s *Store) Update(ctx context.Context, fn func(control.Tx) error) error {
	if s.cfg.ReadOnly {
		return errors.New("control update: the store is open read-only")
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("control update: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("control update: %w", err)
	}
	t := &ctlTx{q: conn}
	committed := false
	defer func() {
		// Also when fn panics: the connection goes back to the pool
		// without a transaction open.
		t.done = true
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.routing {
		if _, err := conn.ExecContext(ctx, "UPDATE config_version SET version = version + 1"); err != nil {
			return fmt.Errorf("control update: bump config version: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("control update: commit: %w", err)
	}
	committed = true
	return nil
}

// ConfigVersion implements control.Store. It reads the file, so it sees
// what other processes committed too: gateways poll it.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.read.QueryRowContext(ctx, "SELECT version FROM config_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("config version: %w", err)
	}
	return v, nil
}

// querier is what a transaction runs statements on: a *sql.Tx, or the
// writer's *sql.Conn inside BEGIN IMMEDIATE.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ctlTx is a control.Tx over one SQLite transaction.
type ctlTx struct {
	q       querier
	routing bool
	// done is set when the transaction has ended: a Tx kept past its
	// function must not run statements on a connection that has moved on.
	done bool
}

var errTxDone = errors.New("control transaction used after it ended")

func (t *ctlTx) RoutingChanged() { t.routing = true }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// exec runs a statement and returns how many rows it changed.
func (t *ctlTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.done {
		return 0, errTxDone
	}
	res, err := t.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, conflict(err)
	}
	return res.RowsAffected()
}

// one runs a query for one row; no row is store.ErrNotFound.
func (t *ctlTx) one(ctx context.Context, query string, args []any, scan func(scanner) error) error {
	if t.done {
		return errTxDone
	}
	err := scan(t.q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return conflict(err)
}

// list runs a query and scans every row it returns.
func list[T any](ctx context.Context, t *ctlTx, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := each(ctx, t, query, args, func(sc scanner) error {
		v, err := scan(sc)
		out = append(out, v)
		return err
	})
	return out, err
}

// each runs a query and calls fn for every row, stopping at its first
// error.
func each(ctx context.Context, t *ctlTx, query string, args []any, fn func(scanner) error) error {
	if t.done {
		return errTxDone
	}
	rows, err := t.q.QueryContext(ctx, query, args...)
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
	err := t.one(ctx, query, []any{id}, func(sc scanner) error { var one int; return sc.Scan(&one) })
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	return nil
}

// mustChange turns a statement that changed no row into store.ErrNotFound.
func mustChange(n int64, err error) error {
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// conflict wraps SQLite's uniqueness violations in store.ErrConflict.
func conflict(err error) error {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
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

// limit is a page's LIMIT: SQLite reads -1 as none.
func limit(p control.Page) int {
	if p.Limit <= 0 {
		return -1
	}
	return p.Limit
}

// ms is a time's column value: Unix milliseconds, NULL for the zero time.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// msTime scans a time column written by ms.
type msTime struct{ t *time.Time }

func (m msTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*m.t = time.Time{}
	case int64:
		*m.t = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want an integer", src)
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
