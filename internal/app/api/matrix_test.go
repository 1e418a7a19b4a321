package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"portico/internal/control"
)

// The permission matrix: every kind of principal against every endpoint,
// on objects of its own organization and of another, with the expected
// answer worked out from the role table (see package control's
// documentation) by expect, independently of the code under test.

// principal names the kinds of principal a fixture holds.
type principal string

const (
	pServerAdmin principal = "server admin"
	pOrgOwner    principal = "org owner"
	pOrgAdmin    principal = "org admin"
	pOrgMember   principal = "org member"
	pPkgOwner    principal = "package owner"
	pPkgAdmin    principal = "package admin"
	pPkgMember   principal = "package member"
	pNobody      principal = "no role"
	pReadToken   principal = "read token of the org owner"
	pWriteToken  principal = "write token of the org admin"
	pExpired     principal = "expired token of the org owner"
	pRevoked     principal = "revoked token of the org owner"
)

var principals = []principal{pServerAdmin, pOrgOwner, pOrgAdmin, pOrgMember, pPkgOwner, pPkgAdmin, pPkgMember,
	pNobody, pReadToken, pWriteToken, pExpired, pRevoked}

// standing is what a principal holds on the fixture's own organization
// and its package.
type standing struct {
	org, pkg    control.Role
	serverAdmin bool
	write       bool
	valid       bool   // the credentials work at all
	email       string // the user's address, for changes to one's own role
}

// fixture is one set of objects: organization "own" with a package, and
// organization "other" with a package, and a token per principal.
type fixture struct {
	own, other       string // organization names
	ownPkg, otherPkg string // package ids
	tokens           map[principal]string
	standing         map[principal]standing
	emails           map[principal]string
	// otherEmails are the other organization's counterparts of the
	// principals whose roles actions change.
	otherEmails map[principal]string
	newbie      string // a user without roles, to grant roles to
}

var fixtureSeq int

func (e *env) fixture() *fixture {
	e.t.Helper()
	fixtureSeq++
	n := fixtureSeq
	ctx := context.Background()
	f := &fixture{own: fmt.Sprintf("own%d", n), other: fmt.Sprintf("other%d", n),
		tokens: map[principal]string{}, standing: map[principal]standing{}, emails: map[principal]string{}}
	users := map[principal]control.User{}
	for _, p := range []principal{pServerAdmin, pOrgOwner, pOrgAdmin, pOrgMember, pPkgOwner, pPkgAdmin, pPkgMember, pNobody} {
		email := fmt.Sprintf("u%d-%d@example.com", n, len(users))
		u, tok := e.user(email, p == pServerAdmin)
		users[p], f.tokens[p], f.emails[p] = u, tok, email
	}
	newbie, _ := e.user(fmt.Sprintf("newbie%d@example.com", n), false)
	f.newbie = newbie.Email
	otherOwner, otherTok := e.user(fmt.Sprintf("owner%d@example.com", n), false)
	f.otherEmails = map[principal]string{}
	for _, p := range []principal{pOrgAdmin, pOrgMember, pPkgAdmin} {
		u, _ := e.user(fmt.Sprintf("other%d-%d@example.com", n, len(f.otherEmails)), false)
		f.otherEmails[p] = u.Email
	}

	e.org(f.tokens[pOrgOwner], f.own)
	e.org(otherTok, f.other)
	for p, r := range map[principal]control.Role{pOrgAdmin: control.RoleAdmin, pOrgMember: control.RoleMember} {
		if _, err := e.svc.SetOrgMember(ctx, control.As(users[pOrgOwner]), f.own, users[p].Email, r); err != nil {
			e.t.Fatal(err)
		}
	}
	f.ownPkg = e.pkg(f.tokens[pOrgOwner], f.own, "pkg", fileRule(f.own+"."+baseDomain, "/p"))
	f.otherPkg = e.pkg(otherTok, f.other, "pkg", fileRule(f.other+"."+baseDomain, "/p"))
	for p, r := range map[principal]control.Role{pOrgAdmin: control.RoleAdmin, pOrgMember: control.RoleMember} {
		if _, err := e.svc.SetOrgMember(ctx, control.As(otherOwner), f.other, f.otherEmails[p], r); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.svc.SetPackageMember(ctx, control.As(otherOwner), f.otherPkg, f.otherEmails[pPkgAdmin], control.RoleAdmin); err != nil {
		e.t.Fatal(err)
	}
	for p, r := range map[principal]control.Role{pPkgOwner: control.RoleOwner, pPkgAdmin: control.RoleAdmin, pPkgMember: control.RoleMember} {
		if _, err := e.svc.SetPackageMember(ctx, control.As(users[pOrgOwner]), f.ownPkg, users[p].Email, r); err != nil {
			e.t.Fatal(err)
		}
	}
	f.tokens[pReadToken] = e.token(users[pOrgOwner], control.ScopeRead, 0)
	f.tokens[pWriteToken] = e.token(users[pOrgAdmin], control.ScopeWrite, 0)
	f.tokens[pExpired] = e.token(users[pOrgOwner], control.ScopeWrite, time.Millisecond)
	revoked, tok, err := e.svc.CreateToken(ctx, control.As(users[pOrgOwner]), control.NewToken{Scope: control.ScopeWrite})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.RevokeToken(ctx, control.As(users[pOrgOwner]), tok.ID); err != nil {
		e.t.Fatal(err)
	}
	f.tokens[pRevoked] = revoked
	time.Sleep(2 * time.Millisecond) // the expired token has expired

	f.standing = map[principal]standing{
		pServerAdmin: {serverAdmin: true, write: true, valid: true},
		pOrgOwner:    {org: control.RoleOwner, write: true, valid: true},
		pOrgAdmin:    {org: control.RoleAdmin, write: true, valid: true},
		pOrgMember:   {org: control.RoleMember, write: true, valid: true},
		pPkgOwner:    {pkg: control.RoleOwner, write: true, valid: true},
		pPkgAdmin:    {pkg: control.RoleAdmin, write: true, valid: true},
		pPkgMember:   {pkg: control.RoleMember, write: true, valid: true},
		pNobody:      {write: true, valid: true},
		pReadToken:   {org: control.RoleOwner, valid: true},
		pWriteToken:  {org: control.RoleAdmin, write: true, valid: true},
		pExpired:     {org: control.RoleOwner, write: true},
		pRevoked:     {org: control.RoleOwner, write: true},
	}
	for p, email := range map[principal]string{pReadToken: f.emails[pOrgOwner], pWriteToken: f.emails[pOrgAdmin]} {
		s := f.standing[p]
		s.email = email
		f.standing[p] = s
	}
	for p, email := range f.emails {
		s := f.standing[p]
		s.email = email
		f.standing[p] = s
	}
	return f
}

// need is what an endpoint requires of its principal.
type need int

const (
	needRead      need = iota // read the object
	needEdit                  // edit its configuration
	needDeleteOrg             // delete an organization: an Owner
	needGrant                 // change a member's role: see change
)

// level says whether an endpoint's object is an organization (only the
// organization role counts) or a package (both roles count).
type level int

const (
	orgLevel level = iota
	pkgLevel
)

// action is one endpoint exercised on a fixture.
type action struct {
	name  string
	level level
	need  need
	// member is the principal whose role a needGrant action changes
	// ("" for the fixture's newbie), from and to its role at the
	// action's level.
	member   principal
	from, to control.Role
	// destructive actions change the fixture when they succeed: the
	// next cell gets a new fixture.
	destructive bool
	ok          int // the status of success
	// do sends the request, on the fixture's own objects or the other
	// organization's.
	do func(e *env, f *fixture, c cred, other bool, n int) answer
}

func target(f *fixture, other bool) (org, pkg string) {
	if other {
		return f.other, f.otherPkg
	}
	return f.own, f.ownPkg
}

var actions = []action{
	{name: "GET org", level: orgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("GET", "/api/v1/orgs/"+org, c, nil)
	}},
	{name: "PATCH org", level: orgLevel, need: needEdit, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("PATCH", "/api/v1/orgs/"+org, c, map[string]any{"display_name": "Renamed"})
	}},
	{name: "DELETE org", level: orgLevel, need: needDeleteOrg, ok: 204, destructive: true, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("DELETE", "/api/v1/orgs/"+org, c, nil)
	}},
	{name: "GET org members", level: orgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("GET", "/api/v1/orgs/"+org+"/members", c, nil)
	}},
	{name: "GET org stats", level: orgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("GET", "/api/v1/orgs/"+org+"/stats", c, nil)
	}},
	{name: "PUT org member: add a member", level: orgLevel, need: needGrant, from: control.RoleNone, to: control.RoleMember, ok: 200,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("PUT", "/api/v1/orgs/"+org+"/members/"+f.newbie, c, map[string]string{"role": "member"})
		}},
	{name: "PUT org member: make an Owner", level: orgLevel, need: needGrant, member: pOrgMember, from: control.RoleMember, to: control.RoleOwner, ok: 200, destructive: true,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			return e.setMember(f, c, other, pOrgMember, "owner")
		}},
	{name: "PUT org member: demote an Admin", level: orgLevel, need: needGrant, member: pOrgAdmin, from: control.RoleAdmin, to: control.RoleMember, ok: 200, destructive: true,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			return e.setMember(f, c, other, pOrgAdmin, "member")
		}},
	{name: "DELETE org member: a Member", level: orgLevel, need: needGrant, member: pOrgMember, from: control.RoleMember, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			return e.removeMember(f, c, other, pOrgMember)
		}},
	{name: "DELETE org member: an Admin", level: orgLevel, need: needGrant, member: pOrgAdmin, from: control.RoleAdmin, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			return e.removeMember(f, c, other, pOrgAdmin)
		}},
	{name: "POST package", level: orgLevel, need: needEdit, ok: 201, do: func(e *env, f *fixture, c cred, other bool, n int) answer {
		org, _ := target(f, other)
		return e.call("POST", "/api/v1/packages", c, map[string]any{"org": org, "name": fmt.Sprintf("new%d", n), "rule": fileRule(org+"."+baseDomain, fmt.Sprintf("/new%d", n))})
	}},
	{name: "GET packages of org", level: orgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("GET", "/api/v1/packages?org="+org, c, nil)
	}},
	{name: "POST domain", level: orgLevel, need: needEdit, ok: 201, do: func(e *env, f *fixture, c cred, other bool, n int) answer {
		org, _ := target(f, other)
		return e.call("POST", "/api/v1/domains", c, map[string]any{"org": org, "name": fmt.Sprintf("d%d.%s.example", n, org)})
	}},
	{name: "GET domains of org", level: orgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("GET", "/api/v1/domains?org="+org, c, nil)
	}},
	{name: "POST collection", level: orgLevel, need: needEdit, ok: 201, do: func(e *env, f *fixture, c cred, other bool, n int) answer {
		org, _ := target(f, other)
		return e.call("POST", "/api/v1/collections", c, map[string]any{"org": org, "name": fmt.Sprintf("c%d", n),
			"rule": map[string]any{"type": "docker-v2", "domain": org + "." + baseDomain, "pattern": fmt.Sprintf("c%d/*", n), "registry": "ghcr.io"}})
	}},
	{name: "GET collections of org", level: orgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		org, _ := target(f, other)
		return e.call("GET", "/api/v1/collections?org="+org, c, nil)
	}},
	{name: "GET package", level: pkgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		_, pkg := target(f, other)
		return e.call("GET", "/api/v1/packages/"+pkg, c, nil)
	}},
	{name: "PATCH package", level: pkgLevel, need: needEdit, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		_, pkg := target(f, other)
		return e.call("PATCH", "/api/v1/packages/"+pkg, c, map[string]any{"name": "pkg"})
	}},
	{name: "DELETE package", level: pkgLevel, need: needEdit, ok: 204, destructive: true, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		_, pkg := target(f, other)
		return e.call("DELETE", "/api/v1/packages/"+pkg, c, nil)
	}},
	{name: "GET package members", level: pkgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		_, pkg := target(f, other)
		return e.call("GET", "/api/v1/packages/"+pkg+"/members", c, nil)
	}},
	{name: "PUT package member: add a member", level: pkgLevel, need: needGrant, from: control.RoleNone, to: control.RoleMember, ok: 200,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("PUT", "/api/v1/packages/"+pkg+"/members/"+f.newbie, c, map[string]string{"role": "member"})
		}},
	{name: "DELETE package member: an Admin", level: pkgLevel, need: needGrant, member: pPkgAdmin, from: control.RoleAdmin, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("DELETE", "/api/v1/packages/"+pkg+"/members/"+f.memberEmail(pPkgAdmin, other), c, nil)
		}},
	{name: "GET package stats", level: pkgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		_, pkg := target(f, other)
		return e.call("GET", "/api/v1/packages/"+pkg+"/stats", c, nil)
	}},
	{name: "GET package export", level: pkgLevel, need: needRead, ok: 200, do: func(e *env, f *fixture, c cred, other bool, _ int) answer {
		_, pkg := target(f, other)
		return e.call("GET", "/api/v1/packages/"+pkg+"/export", c, nil)
	}},
}

// memberEmail is the address of the member an action changes: the
// principal's in the own organization, its counterpart's in the other.
func (f *fixture) memberEmail(who principal, other bool) string {
	if other {
		return f.otherEmails[who]
	}
	return f.emails[who]
}

func (e *env) setMember(f *fixture, c cred, other bool, who principal, role string) answer {
	org, _ := target(f, other)
	return e.call("PUT", "/api/v1/orgs/"+org+"/members/"+f.memberEmail(who, other), c, map[string]string{"role": role})
}

func (e *env) removeMember(f *fixture, c cred, other bool, who principal) answer {
	org, _ := target(f, other)
	return e.call("DELETE", "/api/v1/orgs/"+org+"/members/"+f.memberEmail(who, other), c, nil)
}

// expect is the role table, written out once more.
func expect(a action, s standing, memberEmail string, other bool) int {
	if !s.valid {
		return http.StatusUnauthorized
	}
	mutates := a.need != needRead
	if mutates && !s.write {
		return http.StatusForbidden // a read token changes nothing, wherever
	}
	org, pkg := s.org, s.pkg
	if other {
		org, pkg = control.RoleNone, control.RoleNone
	}
	if s.serverAdmin {
		org = control.RoleOwner
	}
	role := org
	if a.level == pkgLevel {
		role = max(org, pkg)
	}
	if role < control.RoleMember {
		return http.StatusNotFound // what one may not read does not exist
	}
	granted := false
	switch a.need {
	case needRead:
		granted = true
	case needEdit:
		granted = role >= control.RoleAdmin
	case needDeleteOrg:
		granted = role == control.RoleOwner
	case needGrant:
		self := memberEmail != "" && memberEmail == s.email && !other
		switch {
		case self && a.to < a.from:
			granted = true // leaving or stepping down
		case role == control.RoleOwner:
			granted = true
		case role == control.RoleAdmin:
			granted = a.to <= control.RoleAdmin && a.from <= control.RoleMember
		}
	}
	if !granted {
		return http.StatusForbidden
	}
	return a.ok
}

func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	cells, n := 0, 0
	for _, a := range actions {
		for _, other := range []bool{false, true} {
			for _, p := range principals {
				n++
				memberEmail := ""
				if a.member != "" {
					memberEmail = f.memberEmail(a.member, other)
				}
				want := expect(a, f.standing[p], memberEmail, other)
				got := a.do(e, f, bearer(f.tokens[p]), other, n)
				where := "own"
				if other {
					where = "other"
				}
				if got.status != want {
					t.Errorf("%s on the %s organization by %s: %d, want %d: %s", a.name, where, p, got.status, want, got.body)
				}
				cells++
				if a.destructive && got.status/100 == 2 {
					f = e.fixture()
				}
			}
		}
	}
	t.Logf("%d cells", cells)
}

// TestLastOwner: the last Owner cannot leave or be demoted, by itself or
// by a server administrator; an Admin is refused as an Admin.
func TestLastOwner(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := "/api/v1/orgs/" + f.own + "/members/" + f.emails[pOrgOwner]
	for _, c := range []struct {
		who    principal
		method string
		want   int
	}{
		{pOrgOwner, "DELETE", http.StatusConflict},
		{pServerAdmin, "DELETE", http.StatusConflict},
		{pOrgAdmin, "DELETE", http.StatusForbidden},
		{pOrgMember, "DELETE", http.StatusForbidden},
		{pOrgOwner, "PUT", http.StatusConflict},
	} {
		var body any
		if c.method == "PUT" {
			body = map[string]string{"role": "admin"}
		}
		a := e.call(c.method, path, bearer(f.tokens[c.who]), body)
		if a.status != c.want {
			t.Errorf("%s the last owner by %s: %d, want %d: %s", c.method, c.who, a.status, c.want, a.body)
		}
	}
	// With a second Owner, the first may leave.
	if a := e.setMember(f, bearer(f.tokens[pOrgOwner]), false, pOrgAdmin, "owner"); a.status != http.StatusOK {
		t.Fatalf("making a second owner: %d %s", a.status, a.body)
	}
	if a := e.call("DELETE", path, bearer(f.tokens[pOrgOwner]), nil); a.status != http.StatusNoContent {
		t.Fatalf("an owner leaving beside another: %d %s", a.status, a.body)
	}
}
