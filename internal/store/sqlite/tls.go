package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Automatic HTTPS's keys and values and its locks (migration 0006): the
// Backend of package tlsstore. Writes go through the one writer
// connection; a lock is a row, so that processes sharing the file share
// it.

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
	_, err := s.write.ExecContext(ctx, `INSERT INTO tls_data (key, value, modified) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`,
		key, value, time.Now().UnixMilli())
	return err
}

// GetTLS implements tlsstore.Backend.
func (s *Store) GetTLS(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.read.QueryRowContext(ctx, "SELECT value FROM tls_data WHERE key = ?", key).Scan(&v)
	if err != nil {
		return nil, storeError(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// StatTLS implements tlsstore.Backend.
func (s *Store) StatTLS(ctx context.Context, key string) (int64, time.Time, error) {
	var size, modified int64
	err := s.read.QueryRowContext(ctx, "SELECT length(value), modified FROM tls_data WHERE key = ?", key).Scan(&size, &modified)
	if err != nil {
		return 0, time.Time{}, storeError(err)
	}
	return size, time.UnixMilli(modified).UTC(), nil
}

// ListTLS implements tlsstore.Backend.
func (s *Store) ListTLS(ctx context.Context, dir string) ([]string, error) {
	q, args := "SELECT key FROM tls_data ORDER BY key", []any(nil)
	if dir != "" {
		from, to := under(dir)
		q, args = "SELECT key FROM tls_data WHERE key >= ? AND key < ? ORDER BY key", []any{from, to}
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// DeleteTLS implements tlsstore.Backend.
func (s *Store) DeleteTLS(ctx context.Context, key string) error {
	if err := s.writable("delete"); err != nil {
		return err
	}
	from, to := under(key)
	_, err := s.write.ExecContext(ctx, "DELETE FROM tls_data WHERE key = ? OR (key >= ? AND key < ?)", key, from, to)
	return err
}

// TryLockTLS implements tlsstore.Backend.
func (s *Store) TryLockTLS(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := s.writable("lock"); err != nil {
		return false, err
	}
	now := time.Now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO tls_locks (name, owner, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE tls_locks.expires <= ?`,
		name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
	return changed(res, err)
}

// RefreshLockTLS implements tlsstore.Backend.
func (s *Store) RefreshLockTLS(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := s.writable("refresh lock"); err != nil {
		return false, err
	}
	res, err := s.write.ExecContext(ctx, "UPDATE tls_locks SET expires = ? WHERE name = ? AND owner = ?",
		time.Now().Add(ttl).UnixMilli(), name, owner)
	return changed(res, err)
}

// UnlockTLS implements tlsstore.Backend.
func (s *Store) UnlockTLS(ctx context.Context, name, owner string) error {
	if err := s.writable("unlock"); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, "DELETE FROM tls_locks WHERE name = ? AND owner = ?", name, owner)
	return err
}

// changed reports whether a statement changed a row.
func changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
