package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Automatic HTTPS's keys and values and its locks (migration 0003): the
// Backend of package tlsstore, shared by every replica. A lock is a row
// rather than an advisory lock, which lives as long as one connection of
// the pool: a row outlives a connection the pool recycles, and expires
// by the database's clock when its holder stops refreshing it.

// under returns the bounds of the keys under dir: "dir/" and the string
// just past every "dir/…", "dir0" ('0' follows '/' in bytewise order).
func under(dir string) (from, to string) { return dir + "/", dir + "0" }

func (s *Store) writable(what string) error {
	if s.cfg.ReadOnly {
		return fmt.Errorf("%s: the store is open read-only", what)
	}
	return nil
}

// PutTLS implements tlsstore.Backend.
func (s *Store) PutTLS(ctx context.Context, key string, value []byte) error {
	if err := s.writable("put"); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tls_data (key, value, modified) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`, key, value)
	return err
}

// GetTLS implements tlsstore.Backend.
func (s *Store) GetTLS(ctx context.Context, key string) ([]byte, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var v []byte
	if err := s.pool.QueryRow(ctx, "SELECT value FROM tls_data WHERE key = $1", key).Scan(&v); err != nil {
		return nil, storeError(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// StatTLS implements tlsstore.Backend.
func (s *Store) StatTLS(ctx context.Context, key string) (int64, time.Time, error) {
	if err := s.ready(ctx); err != nil {
		return 0, time.Time{}, err
	}
	var size int64
	var modified time.Time
	err := s.pool.QueryRow(ctx, "SELECT octet_length(value), modified FROM tls_data WHERE key = $1", key).Scan(&size, &modified)
	if err != nil {
		return 0, time.Time{}, storeError(err)
	}
	return size, modified.UTC(), nil
}

// ListTLS implements tlsstore.Backend.
func (s *Store) ListTLS(ctx context.Context, dir string) ([]string, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q, args := "SELECT key FROM tls_data ORDER BY key", []any(nil)
	if dir != "" {
		from, to := under(dir)
		q, args = "SELECT key FROM tls_data WHERE key >= $1 AND key < $2 ORDER BY key", []any{from, to}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// DeleteTLS implements tlsstore.Backend.
func (s *Store) DeleteTLS(ctx context.Context, key string) error {
	if err := s.writable("delete"); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	from, to := under(key)
	_, err := s.pool.Exec(ctx, "DELETE FROM tls_data WHERE key = $1 OR (key >= $2 AND key < $3)", key, from, to)
	return err
}

// TryLockTLS implements tlsstore.Backend.
func (s *Store) TryLockTLS(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := s.writable("lock"); err != nil {
		return false, err
	}
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO tls_locks (name, owner, expires)
		VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE tls_locks.expires <= now()`, name, owner, ttl.Milliseconds())
	return rowChanged(tag, err)
}

// RefreshLockTLS implements tlsstore.Backend.
func (s *Store) RefreshLockTLS(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := s.writable("refresh lock"); err != nil {
		return false, err
	}
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, "UPDATE tls_locks SET expires = now() + $3 * interval '1 millisecond' WHERE name = $1 AND owner = $2",
		name, owner, ttl.Milliseconds())
	return rowChanged(tag, err)
}

// UnlockTLS implements tlsstore.Backend.
func (s *Store) UnlockTLS(ctx context.Context, name, owner string) error {
	if err := s.writable("unlock"); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, "DELETE FROM tls_locks WHERE name = $1 AND owner = $2", name, owner)
	return err
}

// rowChanged reports whether a statement changed a row.
func rowChanged(tag pgconn.CommandTag, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}
