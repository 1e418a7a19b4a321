package control

import (
	"errors"
	"fmt"
)

// A Kind says what went wrong in terms a client can act on; the API maps
// each to a status.
type Kind int8

// The kinds of Error.
const (
	// KindInvalid: the request is malformed or a value is not allowed.
	KindInvalid Kind = iota + 1
	// KindUnauthenticated: no valid credentials.
	KindUnauthenticated
	// KindForbidden: valid credentials that do not allow this.
	KindForbidden
	// KindNotFound: no such object, or none the principal may see.
	KindNotFound
	// KindConflict: the request contradicts what is stored (a name
	// taken, a domain served by another package, the last Owner).
	KindConflict
)

// Code returns the kind as the API writes it in error bodies.
func (k Kind) Code() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	}
	return "internal"
}

// Sentinels for errors.Is.
var (
	// ErrForbidden means the principal may not do what it asked.
	ErrForbidden = errors.New("not allowed")
	// ErrLastOwner refuses a change that would leave an organization
	// without an Owner.
	ErrLastOwner = errors.New("an organization's last owner can neither leave nor be demoted")
)

// An Error is a refusal a client is shown, with the request field it is
// about when there is one.
type Error struct {
	Kind Kind
	// Field is the request field at fault as a path ("rule.registry"),
	// or "".
	Field string
	// Message says what is wrong and, where it helps, what would be
	// right. It never holds secrets or internal detail.
	Message string
	// Err, when set, is the cause, for errors.Is.
	Err error
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid returns a KindInvalid error about field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a KindNotFound error saying what was not found.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Message: what + " not found"}
}

// Conflict returns a KindConflict error about field.
func Conflict(field, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Forbidden returns a KindForbidden error saying what is not allowed.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Message: fmt.Sprintf(format, args...), Err: ErrForbidden}
}

// KindOf returns the kind of err: that of the *Error it wraps, or 0 for
// an internal error.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return 0
}
