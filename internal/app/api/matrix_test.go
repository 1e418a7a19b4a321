package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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

// Members whose roles actions change, and that never act themselves: an
// Admin beside the acting one, so that an Admin removing an Admin is not
// the Admin leaving.
const (
	mOrgAdmin2 principal = "another org admin"
	mPkgAdmin2 principal = "another package admin"
)

var principals = []principal{pServerAdmin, pOrgOwner, pOrgAdmin, pOrgMember, pPkgOwner, pPkgAdmin, pPkgMember,
	pNobody, pReadToken, pWriteToken, pExpired, pRevoked}

// users are the principals that are users of their own; the tokens act
// for one of them (actorOf).
var users = []principal{pServerAdmin, pOrgOwner, pOrgAdmin, pOrgMember, pPkgOwner, pPkgAdmin, pPkgMember, pNobody}

// userOf is the user a principal acts for.
func actorOf(p principal) principal {
	switch p {
	case pReadToken, pExpired, pRevoked:
		return pOrgOwner
	case pWriteToken:
		return pOrgAdmin
	}
	return p
}

// standing is what a principal holds on the fixture's own organization
// and its package.
type standing struct {
	org, pkg    control.Role
	serverAdmin bool
	write       bool
	valid       bool   // the credentials work at all
	email       string // the user's address, for changes to one's own role
}

// fixture is one set of objects: organization "own" and organization
// "other", each with a package, a collection and a pending custom
// domain, and a token per principal.
type fixture struct {
	own, other             string // organization names
	ownPkg, otherPkg       string // package ids
	ownColl, otherColl     string // collection ids
	ownDomain, otherDomain string // custom domain names
	tokens                 map[principal]string
	standing               map[principal]standing
	emails                 map[principal]string
	// spare holds, per user, the id of a token the user has besides
	// the one it acts with, for the token endpoints to list and revoke;
	// otherSpare is one of the other organization's Owner.
	spare      map[principal]string
	otherSpare string
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
		tokens: map[principal]string{}, standing: map[principal]standing{}, emails: map[principal]string{},
		spare: map[principal]string{}, otherEmails: map[principal]string{}}
	us := map[principal]control.User{}
	for _, p := range users {
		email := fmt.Sprintf("u%d-%d@example.com", n, len(us))
		u, tok := e.user(email, p == pServerAdmin)
		us[p], f.tokens[p], f.emails[p] = u, tok, email
		_, t, err := e.svc.CreateToken(ctx, control.As(u), control.NewToken{Name: "spare", Scope: control.ScopeWrite})
		if err != nil {
			e.t.Fatal(err)
		}
		f.spare[p] = t.ID
	}
	newbie, _ := e.user(fmt.Sprintf("newbie%d@example.com", n), false)
	f.newbie = newbie.Email
	otherOwner, otherTok := e.user(fmt.Sprintf("owner%d@example.com", n), false)
	f.otherEmails[pOrgOwner] = otherOwner.Email
	_, spare, err := e.svc.CreateToken(ctx, control.As(otherOwner), control.NewToken{Name: "spare", Scope: control.ScopeWrite})
	if err != nil {
		e.t.Fatal(err)
	}
	f.otherSpare = spare.ID
	for _, p := range []principal{pOrgAdmin, pOrgMember, pPkgOwner, pPkgAdmin, pPkgMember, mOrgAdmin2, mPkgAdmin2} {
		u, _ := e.user(fmt.Sprintf("other%d-%d@example.com", n, len(f.otherEmails)), false)
		f.otherEmails[p] = u.Email
	}
	for _, p := range []principal{mOrgAdmin2, mPkgAdmin2} {
		u, _ := e.user(fmt.Sprintf("admin%d-%d@example.com", n, len(f.emails)), false)
		f.emails[p] = u.Email
	}

	e.org(f.tokens[pOrgOwner], f.own)
	e.org(otherTok, f.other)
	f.ownPkg = e.pkg(f.tokens[pOrgOwner], f.own, "pkg", fileRule(f.own+"."+baseDomain, "/p"))
	f.otherPkg = e.pkg(otherTok, f.other, "pkg", fileRule(f.other+"."+baseDomain, "/p"))
	f.ownColl = e.collection(f.tokens[pOrgOwner], f.own, "coll")
	f.otherColl = e.collection(otherTok, f.other, "coll")
	f.ownDomain = e.domain(f.tokens[pOrgOwner], f.own, fmt.Sprintf("get.own%d.example", n))
	f.otherDomain = e.domain(otherTok, f.other, fmt.Sprintf("get.other%d.example", n))
	for _, side := range []struct {
		owner  control.User
		org    string
		pkg    string
		emails map[principal]string
	}{{us[pOrgOwner], f.own, f.ownPkg, f.emails}, {otherOwner, f.other, f.otherPkg, f.otherEmails}} {
		for p, r := range map[principal]control.Role{pOrgAdmin: control.RoleAdmin, pOrgMember: control.RoleMember, mOrgAdmin2: control.RoleAdmin} {
			if _, err := e.svc.SetOrgMember(ctx, control.As(side.owner), side.org, side.emails[p], r); err != nil {
				e.t.Fatal(err)
			}
		}
		for p, r := range map[principal]control.Role{pPkgOwner: control.RoleOwner, pPkgAdmin: control.RoleAdmin, pPkgMember: control.RoleMember, mPkgAdmin2: control.RoleAdmin} {
			if _, err := e.svc.SetPackageMember(ctx, control.As(side.owner), side.pkg, side.emails[p], r); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	f.tokens[pReadToken] = e.token(us[pOrgOwner], control.ScopeRead, 0)
	f.tokens[pWriteToken] = e.token(us[pOrgAdmin], control.ScopeWrite, 0)
	f.tokens[pExpired] = e.token(us[pOrgOwner], control.ScopeWrite, time.Millisecond)
	revoked, tok, err := e.svc.CreateToken(ctx, control.As(us[pOrgOwner]), control.NewToken{Scope: control.ScopeWrite})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.RevokeToken(ctx, control.As(us[pOrgOwner]), tok.ID); err != nil {
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
	for _, p := range principals {
		s := f.standing[p]
		s.email = f.emails[actorOf(p)]
		f.standing[p] = s
	}
	return f
}

// need is what an endpoint requires of its principal.
type need int

const (
	needRead      need = iota // read the object
	needEdit                  // edit its configuration (or delete it)
	needDeleteOrg             // delete an organization: an Owner
	needGrant                 // change a member's role: see change
	needWrite                 // change one's own things: a write credential
)

// level says what an endpoint's object is, and so which roles count.
type level int

const (
	// orgLevel objects belong to an organization (the organization
	// itself, its members, domains and collections): only the
	// organization role counts.
	orgLevel level = iota
	// pkgLevel objects are a package and what hangs off it: both
	// roles count.
	pkgLevel
	// userLevel objects are the principal's own (itself, its
	// tokens); the other organization's side is another user's.
	userLevel
	// openLevel endpoints need no credentials and ignore them.
	openLevel
)

// action is one endpoint exercised on a fixture.
type action struct {
	name string
	// route is the endpoint's pattern as routes lists it.
	route string
	level level
	need  need
	// member is the principal whose role a needGrant action changes
	// ("" for the fixture's newbie), from and to its role at the
	// action's level.
	member   principal
	from, to control.Role
	// lastOwner is set when member is the organization's only Owner.
	lastOwner bool
	// adminReach is set for userLevel actions that server
	// administrators may take on other users' objects.
	adminReach bool
	// own is set for actions that have no other organization's side.
	own bool
	// destructive actions change the fixture when they succeed: the
	// next cell gets a new fixture.
	destructive bool
	ok          int // the status of success
	// do sends the request, on the fixture's own objects or the other
	// organization's. List endpoints answer 404 in the matrix when the
	// object is missing from the list, and 200 when it is there.
	do func(e *env, f *fixture, p principal, other bool, n int) answer
}

func target(f *fixture, other bool) (org, pkg string) {
	if other {
		return f.other, f.otherPkg
	}
	return f.own, f.ownPkg
}

func pick(other bool, own, others string) string {
	if other {
		return others
	}
	return own
}

// as returns the principal's credentials.
func (f *fixture) as(p principal) cred { return bearer(f.tokens[p]) }

// listed pages through a list endpoint (path has no query, or ends in
// one) and says whether an item's field key holds want: as answer 200 if
// it does, 404 if it does not, or the answer that refused the list.
func (e *env) listed(path string, c cred, key, want string) answer {
	e.t.Helper()
	sep := "?"
	if u, err := url.Parse(path); err == nil && u.RawQuery != "" {
		sep = "&"
	}
	cursor := ""
	for pages := 0; pages < 100; pages++ {
		p := path + sep + "limit=1000"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		a := e.call("GET", p, c, nil)
		if a.status != http.StatusOK {
			return a
		}
		var l struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		a.json(e.t, &l)
		for _, it := range l.Items {
			if it[key] == want {
				return a
			}
		}
		if l.NextCursor == "" {
			return answer{status: http.StatusNotFound, header: a.header, body: []byte(fmt.Sprintf("%s %q is not listed", key, want))}
		}
		cursor = l.NextCursor
	}
	e.t.Fatalf("the pages of %s do not end", path)
	return answer{}
}

var actions = []action{
	{name: "GET openapi.json", route: "GET /api/v1/openapi.json", level: openLevel, own: true, ok: 200,
		do: func(e *env, f *fixture, p principal, _ bool, _ int) answer {
			return e.call("GET", "/api/v1/openapi.json", f.as(p), nil)
		}},
	{name: "POST session", route: "POST /api/v1/session", level: openLevel, own: true, ok: 201,
		do: func(e *env, f *fixture, p principal, _ bool, n int) answer {
			// Credentials sent along are not looked at: the body signs in.
			email := fmt.Sprintf("signin%d@example.com", n)
			if _, _, err := e.svc.CreateUser(context.Background(), control.Operator, control.NewUser{Email: email, Password: "correct horse battery"}); err != nil {
				e.t.Fatal(err)
			}
			return e.call("POST", "/api/v1/session", f.as(p), map[string]string{"email": email, "password": "correct horse battery"})
		}},
	{name: "DELETE session", route: "DELETE /api/v1/session", level: openLevel, own: true, ok: 204,
		do: func(e *env, f *fixture, p principal, _ bool, _ int) answer {
			return e.call("DELETE", "/api/v1/session", f.as(p), nil)
		}},
	{name: "GET me", route: "GET /api/v1/me", level: userLevel, need: needRead, own: true, ok: 200,
		do: func(e *env, f *fixture, p principal, _ bool, _ int) answer {
			return e.call("GET", "/api/v1/me", f.as(p), nil)
		}},
	{name: "PATCH me", route: "PATCH /api/v1/me", level: userLevel, need: needWrite, own: true, ok: 200,
		do: func(e *env, f *fixture, p principal, _ bool, _ int) answer {
			return e.call("PATCH", "/api/v1/me", f.as(p), map[string]any{"name": "Renamed"})
		}},
	{name: "GET tokens (listed)", route: "GET /api/v1/tokens", level: userLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.listed("/api/v1/tokens", f.as(p), "id", pick(other, f.spare[actorOf(p)], f.otherSpare))
		}},
	{name: "POST token", route: "POST /api/v1/tokens", level: userLevel, need: needWrite, own: true, ok: 201,
		do: func(e *env, f *fixture, p principal, _ bool, _ int) answer {
			return e.call("POST", "/api/v1/tokens", f.as(p), map[string]any{"name": "new", "scope": "read"})
		}},
	{name: "DELETE token", route: "DELETE /api/v1/tokens/{id}", level: userLevel, need: needWrite, adminReach: true, ok: 204,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			// Revoking is idempotent: a revoked spare answers 204 again.
			return e.call("DELETE", "/api/v1/tokens/"+pick(other, f.spare[actorOf(p)], f.otherSpare), f.as(p), nil)
		}},
	{name: "GET orgs (listed)", route: "GET /api/v1/orgs", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.listed("/api/v1/orgs", f.as(p), "name", org)
		}},
	{name: "POST org", route: "POST /api/v1/orgs", level: userLevel, need: needWrite, own: true, ok: 201,
		do: func(e *env, f *fixture, p principal, _ bool, n int) answer {
			return e.call("POST", "/api/v1/orgs", f.as(p), map[string]any{"name": fmt.Sprintf("new%d", n)})
		}},
	{name: "GET org", route: "GET /api/v1/orgs/{org}", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("GET", "/api/v1/orgs/"+org, f.as(p), nil)
		}},
	{name: "PATCH org", route: "PATCH /api/v1/orgs/{org}", level: orgLevel, need: needEdit, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("PATCH", "/api/v1/orgs/"+org, f.as(p), map[string]any{"display_name": "Renamed"})
		}},
	{name: "DELETE org", route: "DELETE /api/v1/orgs/{org}", level: orgLevel, need: needDeleteOrg, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("DELETE", "/api/v1/orgs/"+org, f.as(p), nil)
		}},
	{name: "GET org members", route: "GET /api/v1/orgs/{org}/members", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("GET", "/api/v1/orgs/"+org+"/members", f.as(p), nil)
		}},
	{name: "GET org stats", route: "GET /api/v1/orgs/{org}/stats", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("GET", "/api/v1/orgs/"+org+"/stats", f.as(p), nil)
		}},
	{name: "PUT org member: add a member", route: "PUT /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		from: control.RoleNone, to: control.RoleMember, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("PUT", "/api/v1/orgs/"+org+"/members/"+f.newbie, f.as(p), map[string]string{"role": "member"})
		}},
	{name: "PUT org member: make an Owner", route: "PUT /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: pOrgMember, from: control.RoleMember, to: control.RoleOwner, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setMember(f, f.as(p), other, pOrgMember, "owner")
		}},
	{name: "PUT org member: demote an Admin", route: "PUT /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: pOrgAdmin, from: control.RoleAdmin, to: control.RoleMember, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setMember(f, f.as(p), other, pOrgAdmin, "member")
		}},
	{name: "PUT org member: demote another Admin", route: "PUT /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: mOrgAdmin2, from: control.RoleAdmin, to: control.RoleMember, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setMember(f, f.as(p), other, mOrgAdmin2, "member")
		}},
	{name: "PUT org member: demote the last Owner", route: "PUT /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: pOrgOwner, from: control.RoleOwner, to: control.RoleAdmin, lastOwner: true, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setMember(f, f.as(p), other, pOrgOwner, "admin")
		}},
	{name: "DELETE org member: a Member", route: "DELETE /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: pOrgMember, from: control.RoleMember, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removeMember(f, f.as(p), other, pOrgMember)
		}},
	{name: "DELETE org member: an Admin", route: "DELETE /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: pOrgAdmin, from: control.RoleAdmin, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removeMember(f, f.as(p), other, pOrgAdmin)
		}},
	{name: "DELETE org member: another Admin", route: "DELETE /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: mOrgAdmin2, from: control.RoleAdmin, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removeMember(f, f.as(p), other, mOrgAdmin2)
		}},
	{name: "DELETE org member: the last Owner", route: "DELETE /api/v1/orgs/{org}/members/{email}", level: orgLevel, need: needGrant,
		member: pOrgOwner, from: control.RoleOwner, to: control.RoleNone, lastOwner: true, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removeMember(f, f.as(p), other, pOrgOwner)
		}},
	{name: "POST package", route: "POST /api/v1/packages", level: orgLevel, need: needEdit, ok: 201,
		do: func(e *env, f *fixture, p principal, other bool, n int) answer {
			org, _ := target(f, other)
			return e.call("POST", "/api/v1/packages", f.as(p), map[string]any{"org": org, "name": fmt.Sprintf("new%d", n), "rule": fileRule(org+"."+baseDomain, fmt.Sprintf("/new%d", n))})
		}},
	{name: "GET packages of org", route: "GET /api/v1/packages", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("GET", "/api/v1/packages?org="+org, f.as(p), nil)
		}},
	{name: "GET packages (listed)", route: "GET /api/v1/packages", level: pkgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.listed("/api/v1/packages", f.as(p), "id", pkg)
		}},
	{name: "GET package", route: "GET /api/v1/packages/{id}", level: pkgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("GET", "/api/v1/packages/"+pkg, f.as(p), nil)
		}},
	{name: "PATCH package", route: "PATCH /api/v1/packages/{id}", level: pkgLevel, need: needEdit, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("PATCH", "/api/v1/packages/"+pkg, f.as(p), map[string]any{"name": "pkg"})
		}},
	{name: "DELETE package", route: "DELETE /api/v1/packages/{id}", level: pkgLevel, need: needEdit, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("DELETE", "/api/v1/packages/"+pkg, f.as(p), nil)
		}},
	{name: "GET package members", route: "GET /api/v1/packages/{id}/members", level: pkgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("GET", "/api/v1/packages/"+pkg+"/members", f.as(p), nil)
		}},
	{name: "PUT package member: add a member", route: "PUT /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		from: control.RoleNone, to: control.RoleMember, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("PUT", "/api/v1/packages/"+pkg+"/members/"+f.newbie, f.as(p), map[string]string{"role": "member"})
		}},
	{name: "PUT package member: make an Owner", route: "PUT /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: pPkgMember, from: control.RoleMember, to: control.RoleOwner, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setPackageMember(f, f.as(p), other, pPkgMember, "owner")
		}},
	{name: "PUT package member: demote an Admin", route: "PUT /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: pPkgAdmin, from: control.RoleAdmin, to: control.RoleMember, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setPackageMember(f, f.as(p), other, pPkgAdmin, "member")
		}},
	{name: "PUT package member: demote another Admin", route: "PUT /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: mPkgAdmin2, from: control.RoleAdmin, to: control.RoleMember, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setPackageMember(f, f.as(p), other, mPkgAdmin2, "member")
		}},
	{name: "PUT package member: demote an Owner", route: "PUT /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: pPkgOwner, from: control.RoleOwner, to: control.RoleAdmin, ok: 200, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.setPackageMember(f, f.as(p), other, pPkgOwner, "admin")
		}},
	{name: "DELETE package member: a Member", route: "DELETE /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: pPkgMember, from: control.RoleMember, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removePackageMember(f, f.as(p), other, pPkgMember)
		}},
	{name: "DELETE package member: an Admin", route: "DELETE /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: pPkgAdmin, from: control.RoleAdmin, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removePackageMember(f, f.as(p), other, pPkgAdmin)
		}},
	{name: "DELETE package member: another Admin", route: "DELETE /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: mPkgAdmin2, from: control.RoleAdmin, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removePackageMember(f, f.as(p), other, mPkgAdmin2)
		}},
	{name: "DELETE package member: an Owner", route: "DELETE /api/v1/packages/{id}/members/{email}", level: pkgLevel, need: needGrant,
		member: pPkgOwner, from: control.RoleOwner, to: control.RoleNone, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.removePackageMember(f, f.as(p), other, pPkgOwner)
		}},
	{name: "GET package stats", route: "GET /api/v1/packages/{id}/stats", level: pkgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("GET", "/api/v1/packages/"+pkg+"/stats", f.as(p), nil)
		}},
	{name: "GET package export", route: "GET /api/v1/packages/{id}/export", level: pkgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			_, pkg := target(f, other)
			return e.call("GET", "/api/v1/packages/"+pkg+"/export", f.as(p), nil)
		}},
	{name: "POST domain", route: "POST /api/v1/domains", level: orgLevel, need: needEdit, ok: 201,
		do: func(e *env, f *fixture, p principal, other bool, n int) answer {
			org, _ := target(f, other)
			return e.call("POST", "/api/v1/domains", f.as(p), map[string]any{"org": org, "name": fmt.Sprintf("d%d.%s.example", n, org)})
		}},
	{name: "GET domains of org", route: "GET /api/v1/domains", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("GET", "/api/v1/domains?org="+org, f.as(p), nil)
		}},
	{name: "GET domains (listed)", route: "GET /api/v1/domains", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.listed("/api/v1/domains", f.as(p), "name", pick(other, f.ownDomain, f.otherDomain))
		}},
	{name: "GET domain", route: "GET /api/v1/domains/{name}", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.call("GET", "/api/v1/domains/"+pick(other, f.ownDomain, f.otherDomain), f.as(p), nil)
		}},
	{name: "POST domain verify", route: "POST /api/v1/domains/{name}/verify", level: orgLevel, need: needEdit, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.call("POST", "/api/v1/domains/"+pick(other, f.ownDomain, f.otherDomain)+"/verify", f.as(p), nil)
		}},
	{name: "PATCH domain", route: "PATCH /api/v1/domains/{name}", level: orgLevel, need: needEdit, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, n int) answer {
			return e.call("PATCH", "/api/v1/domains/"+pick(other, f.ownDomain, f.otherDomain), f.as(p), map[string]any{"https_only": n%2 == 0})
		}},
	{name: "DELETE domain", route: "DELETE /api/v1/domains/{name}", level: orgLevel, need: needEdit, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.call("DELETE", "/api/v1/domains/"+pick(other, f.ownDomain, f.otherDomain), f.as(p), nil)
		}},
	{name: "POST collection", route: "POST /api/v1/collections", level: orgLevel, need: needEdit, ok: 201,
		do: func(e *env, f *fixture, p principal, other bool, n int) answer {
			org, _ := target(f, other)
			return e.call("POST", "/api/v1/collections", f.as(p), map[string]any{"org": org, "name": fmt.Sprintf("c%d", n),
				"rule": map[string]any{"type": "docker-v2", "domain": org + "." + baseDomain, "pattern": fmt.Sprintf("c%d/*", n), "registry": "ghcr.io"}})
		}},
	{name: "GET collections of org", route: "GET /api/v1/collections", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			org, _ := target(f, other)
			return e.call("GET", "/api/v1/collections?org="+org, f.as(p), nil)
		}},
	{name: "GET collections (listed)", route: "GET /api/v1/collections", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.listed("/api/v1/collections", f.as(p), "id", pick(other, f.ownColl, f.otherColl))
		}},
	{name: "GET collection", route: "GET /api/v1/collections/{id}", level: orgLevel, need: needRead, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.call("GET", "/api/v1/collections/"+pick(other, f.ownColl, f.otherColl), f.as(p), nil)
		}},
	{name: "PATCH collection", route: "PATCH /api/v1/collections/{id}", level: orgLevel, need: needEdit, ok: 200,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.call("PATCH", "/api/v1/collections/"+pick(other, f.ownColl, f.otherColl), f.as(p), map[string]any{"name": "coll"})
		}},
	{name: "DELETE collection", route: "DELETE /api/v1/collections/{id}", level: orgLevel, need: needEdit, ok: 204, destructive: true,
		do: func(e *env, f *fixture, p principal, other bool, _ int) answer {
			return e.call("DELETE", "/api/v1/collections/"+pick(other, f.ownColl, f.otherColl), f.as(p), nil)
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

func (e *env) setPackageMember(f *fixture, c cred, other bool, who principal, role string) answer {
	_, pkg := target(f, other)
	return e.call("PUT", "/api/v1/packages/"+pkg+"/members/"+f.memberEmail(who, other), c, map[string]string{"role": role})
}

func (e *env) removePackageMember(f *fixture, c cred, other bool, who principal) answer {
	_, pkg := target(f, other)
	return e.call("DELETE", "/api/v1/packages/"+pkg+"/members/"+f.memberEmail(who, other), c, nil)
}

// expect is the role table, written out once more.
func expect(a action, s standing, memberEmail string, other bool) int {
	if a.level == openLevel {
		return a.ok
	}
	if !s.valid {
		return http.StatusUnauthorized
	}
	mutates := a.need != needRead
	if mutates && !s.write {
		return http.StatusForbidden // a read token changes nothing, wherever
	}
	if a.level == userLevel {
		if other && !(s.serverAdmin && a.adminReach) {
			return http.StatusNotFound // another user's things
		}
		return a.ok
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
	if a.lastOwner {
		return http.StatusConflict // the last Owner stays, whoever asks
	}
	return a.ok
}

func TestPermissionMatrix(t *testing.T) { runMatrix(t, newEnv(t)) }

// TestPermissionMatrixPostgres runs the matrix on PostgreSQL, whose
// queries for roles and lists are its own.
func TestPermissionMatrixPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("the matrix on PostgreSQL is not short")
	}
	runMatrix(t, newPostgresEnv(t))
}

// TestMatrixCoversEveryRoute fails when the API serves a route that the
// matrix does not exercise, or the matrix names one it does not serve.
func TestMatrixCoversEveryRoute(t *testing.T) {
	covered := map[string]bool{}
	for _, a := range actions {
		covered[a.route] = true
	}
	served := New(Config{}).Routes()
	for _, r := range served {
		if !covered[r] {
			t.Errorf("the permission matrix does not exercise %s", r)
		}
	}
	for r := range covered {
		if !slices.Contains(served, r) {
			t.Errorf("the permission matrix names %s, which is not served", r)
		}
	}
}

func runMatrix(t *testing.T, e *env) {
	f := e.fixture()
	cells, n := 0, 0
	for _, a := range actions {
		for _, other := range []bool{false, true} {
			if other && a.own {
				continue
			}
			for _, p := range principals {
				n++
				memberEmail := ""
				if a.member != "" {
					memberEmail = f.memberEmail(a.member, other)
				}
				want := expect(a, f.standing[p], memberEmail, other)
				got := a.do(e, f, p, other, n)
				where := "own"
				if other {
					where = "other"
				}
				if got.status != want {
					t.Errorf("%s on the %s side by %s: %d, want %d: %s", a.name, where, p, got.status, want, got.body)
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
