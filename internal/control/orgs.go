package control

import (
	"context"
	"errors"

	"portico/internal/store"
)

// An OrgView is an organization with the principal's role in it.
type OrgView struct {
	Org
	// Role is the principal's own role (RoleOwner for server
	// administrators), RoleNone when it only has roles on packages.
	Role Role
	// Domain is the organization's domain under the base domain, or "".
	Domain string
}

func (s *Service) view(o Org, a Access) OrgView {
	v := OrgView{Org: o, Role: a.Role()}
	if s.base != "" {
		v.Domain = o.Name + "." + s.base
	}
	return v
}

// ListOrgs lists the organizations the principal belongs to (all of
// them for server administrators), by id.
func (s *Service) ListOrgs(ctx context.Context, p Principal, pg Page) ([]OrgView, error) {
	var out []OrgView
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = s.listOrgsTx(ctx, tx, p, pg)
		return err
	})
	return out, err
}

// listOrgsTx is ListOrgs inside a transaction. The store also lists the
// organizations where the user only has roles on packages; they are
// left out, and further rows read, so that a short page still means the
// last one.
func (s *Service) listOrgsTx(ctx context.Context, tx Tx, p Principal, pg Page) ([]OrgView, error) {
	pg = page(pg)
	userID := p.User.ID
	if p.User.ServerAdmin {
		userID = ""
	} else if userID == "" {
		return nil, nil
	}
	var out []OrgView
	for {
		orgs, err := tx.ListOrgs(ctx, userID, pg)
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			a, err := orgAccess(ctx, tx, p, o.ID)
			if err != nil {
				return nil, err
			}
			if a.CanRead() {
				// Roles on packages alone show the packages, not
				// their organization.
				out = append(out, s.view(o, a))
				if len(out) == pg.Limit {
					return out, nil
				}
			}
		}
		if len(orgs) < pg.Limit {
			return out, nil
		}
		pg.After = orgs[len(orgs)-1].ID
	}
}

// readableOrgs returns every organization the principal may read.
func (s *Service) readableOrgs(ctx context.Context, tx Tx, p Principal) ([]Org, error) {
	var out []Org
	for pg := (Page{Limit: MaxLimit}); ; {
		views, err := s.listOrgsTx(ctx, tx, p, pg)
		if err != nil {
			return nil, err
		}
		for _, v := range views {
			out = append(out, v.Org)
		}
		if len(views) < pg.Limit {
			return out, nil
		}
		pg.After = views[len(views)-1].ID
	}
}

// CreateOrg creates an organization with the principal as its Owner.
func (s *Service) CreateOrg(ctx context.Context, p Principal, name, displayName string) (OrgView, error) {
	if err := needWrite(p); err != nil {
		return OrgView{}, err
	}
	if p.User.ID == "" {
		return OrgView{}, Forbidden("an organization needs an Owner: create it as a user")
	}
	if err := CheckOrgName(name); err != nil {
		return OrgView{}, Invalid("name", "%v", err)
	}
	if err := CheckDisplayName(displayName); err != nil {
		return OrgView{}, Invalid("display_name", "%v", err)
	}
	o := Org{ID: NewID(), Name: name, DisplayName: displayName, Created: s.now().UTC()}
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.CreateOrg(ctx, o); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "the name %q is taken", name)
			}
			return err
		}
		tx.RoutingChanged()
		return tx.SetOrgRole(ctx, o.ID, p.User.ID, RoleOwner)
	})
	if err != nil {
		return OrgView{}, err
	}
	return s.view(o, Access{Org: RoleOwner, Scope: p.Scope}), nil
}

// GetOrg returns an organization the principal may read.
func (s *Service) GetOrg(ctx context.Context, p Principal, name string) (OrgView, error) {
	var v OrgView
	err := s.store.View(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, name)
		v = s.view(o, a)
		return err
	})
	return v, err
}

// OrgPatch is a change to an organization; nil fields are kept.
type OrgPatch struct {
	Name        *string
	DisplayName *string
}

// UpdateOrg renames an organization or changes its display name. A new
// name moves the organization's domain under the base domain, at once.
func (s *Service) UpdateOrg(ctx context.Context, p Principal, name string, patch OrgPatch) (OrgView, error) {
	if err := needWrite(p); err != nil {
		return OrgView{}, err
	}
	var v OrgView
	err := s.update(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("changing an organization takes an Admin or Owner")
		}
		if patch.Name != nil && *patch.Name != o.Name {
			if err := CheckOrgName(*patch.Name); err != nil {
				return Invalid("name", "%v", err)
			}
			o.Name = *patch.Name
			tx.RoutingChanged()
		}
		if patch.DisplayName != nil {
			if err := CheckDisplayName(*patch.DisplayName); err != nil {
				return Invalid("display_name", "%v", err)
			}
			o.DisplayName = *patch.DisplayName
		}
		if err := tx.UpdateOrg(ctx, o); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "the name %q is taken", o.Name)
			}
			return err
		}
		v = s.view(o, a)
		return nil
	})
	return v, err
}

// DeleteOrg deletes an organization with everything it owns. It takes an
// Owner; a personal organization goes only with its user.
func (s *Service) DeleteOrg(ctx context.Context, p Principal, name string) error {
	if err := needWrite(p); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if !a.CanDelete(true) {
			return Forbidden("deleting an organization takes an Owner")
		}
		if o.PersonalOf != "" {
			return Conflict("", "%q is a personal organization: it is deleted with its user", o.Name)
		}
		tx.RoutingChanged()
		return tx.DeleteOrg(ctx, o.ID)
	})
}

// OrgMembers lists an organization's members.
func (s *Service) OrgMembers(ctx context.Context, p Principal, org string, pg Page) ([]Member, error) {
	var ms []Member
	err := s.store.View(ctx, func(tx Tx) error {
		o, _, err := readableOrg(ctx, tx, p, org)
		if err != nil {
			return err
		}
		ms, err = tx.OrgMembers(ctx, o.ID, page(pg))
		return err
	})
	return ms, err
}

// SetOrgMember gives the user with that address a role in the
// organization (RoleNone removes it), if the principal may.
func (s *Service) SetOrgMember(ctx context.Context, p Principal, org, email string, role Role) (Member, error) {
	if err := needWrite(p); err != nil {
		return Member{}, err
	}
	var m Member
	err := s.update(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, org)
		if err != nil {
			return err
		}
		u, err := userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		from, err := tx.OrgRole(ctx, o.ID, u.ID)
		if err != nil {
			return err
		}
		last := false
		if from == RoleOwner {
			n, err := tx.CountOrgOwners(ctx, o.ID)
			if err != nil {
				return err
			}
			last = n == 1
		}
		if from == RoleNone && role == RoleNone {
			return NotFound("member " + quote(u.Email))
		}
		c := MemberChange{Self: u.ID == p.User.ID, From: from, To: role, LastOwner: last}
		if err := a.CheckMemberChange(c); err != nil {
			return memberError(err, a, c)
		}
		m = Member{UserID: u.ID, Email: u.Email, Name: u.Name, Role: role}
		return tx.SetOrgRole(ctx, o.ID, u.ID, role)
	})
	return m, err
}

// memberError explains a refused membership change.
func memberError(err error, a Access, c MemberChange) error {
	switch {
	case errors.Is(err, ErrLastOwner):
		return &Error{Kind: KindConflict, Field: "role", Message: "this is the organization's only Owner: make another member Owner first", Err: err}
	case a.Scope != ScopeWrite:
		return Forbidden("a read token cannot change anything")
	case a.Role() < RoleAdmin:
		return Forbidden("granting access takes an Admin or Owner")
	case c.To == RoleOwner:
		return Forbidden("only an Owner can make Owners")
	default:
		return Forbidden("an Admin cannot remove or change another Admin or an Owner")
	}
}
