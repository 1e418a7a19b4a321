package control

import "fmt"

// A Role is what a member may do in an organization or on a package.
// Roles are ordered: each one can do everything the ones below it can.
type Role int8

// The roles, from none to Owner.
const (
	RoleNone Role = iota
	RoleMember
	RoleAdmin
	RoleOwner
)

// ParseRole reads a role as the API writes it: "owner", "admin" or
// "member".
func ParseRole(s string) (Role, error) {
	switch s {
	case "owner":
		return RoleOwner, nil
	case "admin":
		return RoleAdmin, nil
	case "member":
		return RoleMember, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q: want owner, admin or member", s)
}

// String returns the role as the API writes it, "" for RoleNone.
func (r Role) String() string {
	switch r {
	case RoleOwner:
		return "owner"
	case RoleAdmin:
		return "admin"
	case RoleMember:
		return "member"
	}
	return ""
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) {
	if r == RoleNone {
		return nil, fmt.Errorf("no role to marshal")
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// A Scope narrows what a credential may do on behalf of its user.
type Scope int8

// The scopes. A signed-in browser session has ScopeWrite.
const (
	ScopeRead Scope = iota + 1
	ScopeWrite
)

// ParseScope reads "read" or "write".
func ParseScope(s string) (Scope, error) {
	switch s {
	case "read":
		return ScopeRead, nil
	case "write":
		return ScopeWrite, nil
	}
	return 0, fmt.Errorf("unknown scope %q: want read or write", s)
}

// String returns "read" or "write".
func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeWrite:
		return "write"
	}
	return ""
}

// MarshalText implements encoding.TextMarshaler.
func (s Scope) MarshalText() ([]byte, error) {
	if s.String() == "" {
		return nil, fmt.Errorf("no scope to marshal")
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Scope) UnmarshalText(b []byte) error {
	v, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
