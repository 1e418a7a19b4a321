package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"portico/internal/store"
)

// SQLite's extended result codes for a broken uniqueness rule.
const (
	constraintPrimaryKey = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	constraintUnique     = 2067 // SQLITE_CONSTRAINT_UNIQUE
)

// storeError maps the driver's errors to the store's sentinels, so that
// callers test for store.ErrNotFound and store.ErrConflict whatever the
// backend. The driver's error stays in the chain, for the logs.
func storeError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var se interface{ Code() int }
	if errors.As(err, &se) && (se.Code() == constraintUnique || se.Code() == constraintPrimaryKey) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}
