package store

import "errors"

// Errors of the control plane's entities, shared by the stores.
var (
	// ErrNotFound is returned for a row that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned for a write that would break a uniqueness
	// rule.
	ErrConflict = errors.New("already exists")
)
