package control

// Access is what one principal holds on one object: its role in the
// object's organization and, for a package, on the package itself.
type Access struct {
	// Org is the principal's role in the organization, Package its role
	// on the package (RoleNone for objects of the organization as a
	// whole).
	Org, Package Role
	// ServerAdmin is set for the server's administrators, who act as
	// Owners of every organization.
	ServerAdmin bool
	// Scope is the scope of the credential the principal used.
	Scope Scope
}

// Role returns the role that applies: a package role adds to the
// organization role and never takes from it.
func (a Access) Role() Role {
	if a.ServerAdmin {
		return RoleOwner
	}
	return max(a.Org, a.Package)
}

// CanRead reports whether the principal may read the object's
// configuration and its download data.
func (a Access) CanRead() bool { return a.Role() >= RoleMember }

// CanEdit reports whether the principal may change the object's
// configuration: a package's rule, an organization's settings, its
// domains and collections.
func (a Access) CanEdit() bool { return a.Scope == ScopeWrite && a.Role() >= RoleAdmin }

// CanDelete reports whether the principal may delete the object. Deleting
// an organization takes an Owner; deleting anything in it, an Admin.
func (a Access) CanDelete(org bool) bool {
	if org {
		return a.Scope == ScopeWrite && a.Role() == RoleOwner
	}
	return a.CanEdit()
}

// A MemberChange is a change to one member's role at one level (an
// organization or a package).
type MemberChange struct {
	// Self is set when the principal changes its own role.
	Self bool
	// From and To are the member's role at this level before and after;
	// RoleNone for From adds a member, for To removes one.
	From, To Role
	// LastOwner is set when the member is the only Owner of the
	// organization (organization level only).
	LastOwner bool
}

// CheckMemberChange decides whether the principal may make the change.
// It returns nil, ErrForbidden or ErrLastOwner; the last Owner is only
// mentioned to those who could otherwise make the change.
func (a Access) CheckMemberChange(c MemberChange) error {
	if err := a.mayChangeMember(c); err != nil {
		return err
	}
	if c.LastOwner && c.From == RoleOwner && c.To != RoleOwner {
		return ErrLastOwner
	}
	return nil
}

// mayChangeMember applies the role table to a change, leaving the last
// Owner aside.
func (a Access) mayChangeMember(c MemberChange) error {
	if a.Scope != ScopeWrite {
		return ErrForbidden
	}
	if c.From == c.To {
		// Setting a role to what it is changes nothing, but is still
		// granting access: only those who may grant may do it.
		if c.Self && c.To != RoleNone || a.Role() >= RoleAdmin {
			return nil
		}
		return ErrForbidden
	}
	if c.Self && c.To < c.From {
		// Anyone may leave or step down.
		return nil
	}
	switch a.Role() {
	case RoleOwner:
		return nil
	case RoleAdmin:
		// An Admin grants up to Admin, and cannot touch the role of
		// another Admin or an Owner.
		if c.To == RoleOwner || c.From >= RoleAdmin {
			return ErrForbidden
		}
		return nil
	}
	return ErrForbidden
}

// Access returns what the principal holds on the package, so that a
// client can offer only what it may do. The service checks again on
// every change.
func (v PackageView) Access(p Principal) Access {
	return Access{Org: v.Role, ServerAdmin: p.User.ServerAdmin, Scope: p.Scope}
}

// Editable reports whether the principal may change the package: the
// role allows it and the package is not the manifest's.
func (v PackageView) Editable(p Principal) bool { return !v.ReadOnly && v.Access(p).CanEdit() }

// Access returns what the principal holds on the organization, so that
// a client can offer only what it may do.
func (v OrgView) Access(p Principal) Access {
	return Access{Org: v.Role, ServerAdmin: p.User.ServerAdmin, Scope: p.Scope}
}

// Grantable returns the roles the principal may give a member whose
// role at this level is from (RoleNone for a new member), in order; a
// member who is the principal itself is self.
func (a Access) Grantable(self bool, from Role) []Role {
	var out []Role
	for _, to := range []Role{RoleMember, RoleAdmin, RoleOwner} {
		if to != from && a.CheckMemberChange(MemberChange{Self: self, From: from, To: to}) == nil {
			out = append(out, to)
		}
	}
	return out
}

// CanRemove reports whether the principal may take a member's role at
// this level away (the last Owner aside, which the service refuses).
func (a Access) CanRemove(self bool, from Role) bool {
	return a.CheckMemberChange(MemberChange{Self: self, From: from, To: RoleNone}) == nil
}
