package control

import (
	"errors"
	"fmt"
	"testing"
)

func TestAccessRole(t *testing.T) {
	for _, c := range []struct {
		a    Access
		want Role
	}{
		{Access{}, RoleNone},
		{Access{Org: RoleMember}, RoleMember},
		{Access{Org: RoleMember, Package: RoleAdmin}, RoleAdmin},
		// A package role adds to the organization's, never takes away.
		{Access{Org: RoleOwner, Package: RoleMember}, RoleOwner},
		{Access{ServerAdmin: true}, RoleOwner},
	} {
		if got := c.a.Role(); got != c.want {
			t.Errorf("%+v.Role() = %v, want %v", c.a, got, c.want)
		}
	}
}

func TestAccessRights(t *testing.T) {
	for _, r := range []Role{RoleNone, RoleMember, RoleAdmin, RoleOwner} {
		for _, s := range []Scope{ScopeRead, ScopeWrite} {
			a := Access{Org: r, Scope: s}
			name := fmt.Sprintf("%v/%v", r, s)
			if got, want := a.CanRead(), r >= RoleMember; got != want {
				t.Errorf("%s: CanRead = %v", name, got)
			}
			if got, want := a.CanEdit(), r >= RoleAdmin && s == ScopeWrite; got != want {
				t.Errorf("%s: CanEdit = %v", name, got)
			}
			if got, want := a.CanDelete(false), r >= RoleAdmin && s == ScopeWrite; got != want {
				t.Errorf("%s: CanDelete(package) = %v", name, got)
			}
			if got, want := a.CanDelete(true), r == RoleOwner && s == ScopeWrite; got != want {
				t.Errorf("%s: CanDelete(org) = %v", name, got)
			}
		}
	}
}

// TestCheckMemberChange walks every actor role, target role before and
// after, self or not and last owner or not, against the rules written
// out once more in plain terms.
func TestCheckMemberChange(t *testing.T) {
	roles := []Role{RoleNone, RoleMember, RoleAdmin, RoleOwner}
	for _, actor := range roles {
		for _, from := range roles {
			for _, to := range roles {
				for _, self := range []bool{false, true} {
					for _, last := range []bool{false, true} {
						if last && from != RoleOwner {
							continue
						}
						if self && from != actor {
							continue // one's own role is the role one acts with
						}
						c := MemberChange{Self: self, From: from, To: to, LastOwner: last}
						name := fmt.Sprintf("actor=%v from=%v to=%v self=%v last=%v", actor, from, to, self, last)
						got := Access{Org: actor, Scope: ScopeWrite}.CheckMemberChange(c)
						want := expectMemberChange(actor, c)
						if !errors.Is(got, want) || (got == nil) != (want == nil) {
							t.Errorf("%s: got %v, want %v", name, got, want)
						}
						if err := (Access{Org: actor, Scope: ScopeRead}).CheckMemberChange(c); !errors.Is(err, ErrForbidden) {
							t.Errorf("%s with a read token: got %v, want ErrForbidden", name, err)
						}
					}
				}
			}
		}
	}
}

func expectMemberChange(actor Role, c MemberChange) error {
	allowed := false
	switch {
	case c.From == c.To:
		allowed = c.Self && c.To != RoleNone || actor >= RoleAdmin
	case c.Self && c.To < c.From: // leaving or stepping down
		allowed = true
	case actor == RoleOwner:
		allowed = true
	case actor == RoleAdmin:
		allowed = c.To <= RoleAdmin && c.From <= RoleMember
	}
	switch {
	case !allowed:
		return ErrForbidden
	case c.LastOwner && c.To != RoleOwner:
		return ErrLastOwner
	}
	return nil
}

func TestAdminCannotRemoveAdmin(t *testing.T) {
	admin := Access{Org: RoleAdmin, Scope: ScopeWrite}
	for _, c := range []MemberChange{
		{From: RoleAdmin, To: RoleNone},
		{From: RoleAdmin, To: RoleMember},
		{From: RoleOwner, To: RoleNone},
		{From: RoleOwner, To: RoleAdmin},
		{From: RoleMember, To: RoleOwner},
		{From: RoleNone, To: RoleOwner},
	} {
		if err := admin.CheckMemberChange(c); !errors.Is(err, ErrForbidden) {
			t.Errorf("admin %+v: got %v, want ErrForbidden", c, err)
		}
	}
	for _, c := range []MemberChange{
		{From: RoleNone, To: RoleAdmin},
		{From: RoleMember, To: RoleAdmin},
		{From: RoleMember, To: RoleNone},
		{Self: true, From: RoleAdmin, To: RoleNone},
	} {
		if err := admin.CheckMemberChange(c); err != nil {
			t.Errorf("admin %+v: got %v, want nil", c, err)
		}
	}
	// An Admin trying to remove the last Owner is refused as an Admin:
	// who the last Owner is is not its business.
	if err := admin.CheckMemberChange(MemberChange{From: RoleOwner, To: RoleNone, LastOwner: true}); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin removing the last owner: got %v, want ErrForbidden", err)
	}
	owner := Access{Org: RoleOwner, Scope: ScopeWrite}
	if err := owner.CheckMemberChange(MemberChange{Self: true, From: RoleOwner, To: RoleNone, LastOwner: true}); !errors.Is(err, ErrLastOwner) {
		t.Errorf("last owner leaving: got %v", err)
	}
	if err := (Access{ServerAdmin: true, Scope: ScopeWrite}).CheckMemberChange(MemberChange{From: RoleOwner, To: RoleAdmin, LastOwner: true}); !errors.Is(err, ErrLastOwner) {
		t.Errorf("server admin demoting the last owner: got %v", err)
	}
}

// TestGrantable: what a client offers follows the role table.
func TestGrantable(t *testing.T) {
	owner := Access{Org: RoleOwner, Scope: ScopeWrite}
	admin := Access{Org: RoleAdmin, Scope: ScopeWrite}
	member := Access{Org: RoleMember, Scope: ScopeWrite}
	readOwner := Access{Org: RoleOwner, Scope: ScopeRead}
	if got := owner.Grantable(false, RoleNone); len(got) != 3 {
		t.Errorf("an Owner grants %v, want all three roles", got)
	}
	if got := admin.Grantable(false, RoleNone); len(got) != 2 || got[1] != RoleAdmin {
		t.Errorf("an Admin grants %v, want member and admin", got)
	}
	if got := member.Grantable(false, RoleNone); len(got) != 0 {
		t.Errorf("a Member grants %v, want nothing", got)
	}
	if got := readOwner.Grantable(false, RoleNone); len(got) != 0 {
		t.Errorf("a read token grants %v, want nothing", got)
	}
	if admin.CanRemove(false, RoleAdmin) || !admin.CanRemove(false, RoleMember) || !member.CanRemove(true, RoleMember) || member.CanRemove(false, RoleMember) {
		t.Error("CanRemove does not follow the role table")
	}
	v := PackageView{Role: RoleAdmin}
	if !v.Editable(Principal{Scope: ScopeWrite}) || v.Editable(Principal{Scope: ScopeRead}) {
		t.Error("an Admin's package is editable with a write credential only")
	}
	v.ReadOnly = true
	if v.Editable(Principal{Scope: ScopeWrite, User: User{ServerAdmin: true}}) {
		t.Error("a manifest package is editable")
	}
}
