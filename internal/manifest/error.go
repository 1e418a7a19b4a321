package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// An Error is one problem in a manifest, located precisely enough to fix.
type Error struct {
	File  string // as given to Decode
	Rule  int    // index into "rules"; -1 for a problem with the document itself
	Type  string // rule type, when known
	Field string // JSON key, e.g. "incoming-path"; "" when the whole rule is at fault
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteString(": ")
	if e.Rule >= 0 {
		fmt.Fprintf(&b, "rules[%d]", e.Rule)
		if e.Type != "" {
			fmt.Fprintf(&b, " (%s)", e.Type)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors returns the individual problems in an error returned by Decode,
// in the order Decode reports them.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if e, ok := errors.AsType[*Error](err); ok {
			out = append(out, e)
		}
	}
	walk(err)
	return out
}
