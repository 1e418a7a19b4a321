package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"portico/internal/control"
	"portico/internal/store"
)

// The methods of control.Tx. Updates write every field but the key, the
// creation time and the owner (an organization's PersonalOf, a
// package's, collection's or domain's OrgID), which never change.
// References are checked when they are written: a membership, package,
// collection, domain, token, session or link of a missing user or
// organization is store.ErrNotFound. A write that fails on a uniqueness
// rule or a missing row leaves the transaction usable.

// Users.

const userCols = "id, email, name, password_hash, server_admin, created"

func scanUser(r pgx.Row) (control.User, error) {
	var u control.User
	err := r.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.ServerAdmin, tsTime{&u.Created})
	return u, err
}

func (t *ctlTx) CreateUser(ctx context.Context, u control.User) error {
	err := t.insert(ctx, "INSERT INTO users ("+userCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		u.ID, u.Email, u.Name, u.PasswordHash, u.ServerAdmin, ts(u.Created))
	return wrap(err, "create user %s", u.Email)
}

func (t *ctlTx) User(ctx context.Context, id string) (control.User, error) {
	return t.user(ctx, "id", id)
}

func (t *ctlTx) UserByEmail(ctx context.Context, email string) (control.User, error) {
	return t.user(ctx, "email", email)
}

func (t *ctlTx) user(ctx context.Context, column, value string) (control.User, error) {
	us, err := list(ctx, t, "SELECT "+userCols+" FROM users WHERE "+column+" = $1", []any{value}, scanUser)
	return first(us, err, "user %s", value)
}

// first returns the one row a lookup found: none is store.ErrNotFound.
func first[T any](rows []T, err error, format string, args ...any) (T, error) {
	var zero T
	if err == nil && len(rows) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return zero, wrap(err, format, args...)
	}
	return rows[0], nil
}

func (t *ctlTx) UpdateUser(ctx context.Context, u control.User) error {
	err := t.updateUnique(ctx, "SELECT 1 FROM users WHERE id = $1", u.ID, `UPDATE users SET email = $1, name = $2, password_hash = $3,
		server_admin = $4 WHERE id = $5 AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = $1 AND o.id <> $5)`,
		u.Email, u.Name, u.PasswordHash, u.ServerAdmin, u.ID)
	return wrap(err, "update user %s", u.ID)
}

func (t *ctlTx) ListUsers(ctx context.Context, p control.Page) ([]control.User, error) {
	us, err := list(ctx, t, "SELECT "+userCols+" FROM users WHERE id > $1 ORDER BY id LIMIT $2", []any{p.After, limit(p)}, scanUser)
	return us, wrap(err, "list users")
}

// Organizations.

const orgCols = "id, name, display_name, personal_of, created"

func scanOrg(r pgx.Row) (control.Org, error) {
	var o control.Org
	err := r.Scan(&o.ID, &o.Name, &o.DisplayName, &o.PersonalOf, tsTime{&o.Created})
	return o, err
}

func (t *ctlTx) CreateOrg(ctx context.Context, o control.Org) error {
	err := t.insert(ctx, "INSERT INTO orgs ("+orgCols+") VALUES ($1, $2, $3, $4, $5)",
		o.ID, o.Name, o.DisplayName, o.PersonalOf, ts(o.Created))
	return wrap(err, "create organization %s", o.Name)
}

func (t *ctlTx) Org(ctx context.Context, id string) (control.Org, error) {
	return t.org(ctx, "id", id)
}

func (t *ctlTx) OrgByName(ctx context.Context, name string) (control.Org, error) {
	return t.org(ctx, "name", name)
}

func (t *ctlTx) org(ctx context.Context, column, value string) (control.Org, error) {
	orgs, err := list(ctx, t, "SELECT "+orgCols+" FROM orgs WHERE "+column+" = $1", []any{value}, scanOrg)
	return first(orgs, err, "organization %s", value)
}

func (t *ctlTx) UpdateOrg(ctx context.Context, o control.Org) error {
	err := t.updateUnique(ctx, "SELECT 1 FROM orgs WHERE id = $1", o.ID, `UPDATE orgs SET name = $1, display_name = $2
		WHERE id = $3 AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.name = $1 AND o.id <> $3)`, o.Name, o.DisplayName, o.ID)
	return wrap(err, "update organization %s", o.ID)
}

// DeleteOrg deletes the organization first, so that a missing one is not
// found before anything else is touched.
func (t *ctlTx) DeleteOrg(ctx context.Context, id string) error {
	if err := mustChange(t.exec(ctx, "DELETE FROM orgs WHERE id = $1", id)); err != nil {
		return wrap(err, "delete organization %s", id)
	}
	for _, q := range []string{
		"DELETE FROM package_members WHERE package_id IN (SELECT id FROM packages WHERE org_id = $1)",
		"DELETE FROM packages WHERE org_id = $1",
		"DELETE FROM collections WHERE org_id = $1",
		"DELETE FROM domains WHERE org_id = $1",
		"DELETE FROM org_members WHERE org_id = $1",
	} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return wrap(err, "delete organization %s", id)
		}
	}
	return nil
}

func (t *ctlTx) ListOrgs(ctx context.Context, userID string, p control.Page) ([]control.Org, error) {
	q, args := "SELECT "+orgCols+" FROM orgs WHERE id > $1", []any{p.After, limit(p)}
	if userID != "" {
		q += ` AND (id IN (SELECT org_id FROM org_members WHERE user_id = $3)
			OR id IN (SELECT p.org_id FROM package_members m JOIN packages p ON p.id = m.package_id WHERE m.user_id = $3))`
		args = append(args, userID)
	}
	orgs, err := list(ctx, t, q+" ORDER BY id LIMIT $2", args, scanOrg)
	return orgs, wrap(err, "list organizations")
}

// Members.

func (t *ctlTx) SetOrgRole(ctx context.Context, orgID, userID string, r control.Role) error {
	return wrap(t.setRole(ctx, "org_members", "org_id", orgID, userID, r), "set role in organization %s", orgID)
}

func (t *ctlTx) SetPackageRole(ctx context.Context, packageID, userID string, r control.Role) error {
	return wrap(t.setRole(ctx, "package_members", "package_id", packageID, userID, r), "set role on package %s", packageID)
}

// setRole gives userID role r in a members table, whose object column
// is column.
func (t *ctlTx) setRole(ctx context.Context, table, column, objectID, userID string, r control.Role) error {
	if r == control.RoleNone {
		_, err := t.exec(ctx, "DELETE FROM "+table+" WHERE "+column+" = $1 AND user_id = $2", objectID, userID)
		return err
	}
	if err := checkRole(r); err != nil {
		return err
	}
	if table == "org_members" {
		if err := t.exists(ctx, "organization", objectID, "SELECT 1 FROM orgs WHERE id = $1"); err != nil {
			return err
		}
	} else if err := t.exists(ctx, "package", objectID, "SELECT 1 FROM packages WHERE id = $1"); err != nil {
		return err
	}
	if err := t.exists(ctx, "user", userID, "SELECT 1 FROM users WHERE id = $1"); err != nil {
		return err
	}
	_, err := t.exec(ctx, "INSERT INTO "+table+" ("+column+", user_id, role) VALUES ($1, $2, $3) ON CONFLICT ("+column+", user_id) DO UPDATE SET role = excluded.role",
		objectID, userID, int16(r))
	return err
}

func (t *ctlTx) OrgRole(ctx context.Context, orgID, userID string) (control.Role, error) {
	r, err := t.role(ctx, "org_members", "org_id", orgID, userID)
	return r, wrap(err, "role in organization %s", orgID)
}

func (t *ctlTx) PackageRole(ctx context.Context, packageID, userID string) (control.Role, error) {
	r, err := t.role(ctx, "package_members", "package_id", packageID, userID)
	return r, wrap(err, "role on package %s", packageID)
}

func (t *ctlTx) role(ctx context.Context, table, column, objectID, userID string) (control.Role, error) {
	var r int16
	err := t.one(ctx, "SELECT role FROM "+table+" WHERE "+column+" = $1 AND user_id = $2", []any{objectID, userID}, &r)
	if errors.Is(err, store.ErrNotFound) {
		return control.RoleNone, nil
	}
	return control.Role(r), err
}

func (t *ctlTx) OrgMembers(ctx context.Context, orgID string, p control.Page) ([]control.Member, error) {
	ms, err := t.members(ctx, "org_members", "org_id", orgID, p)
	return ms, wrap(err, "members of organization %s", orgID)
}

func (t *ctlTx) PackageMembers(ctx context.Context, packageID string, p control.Page) ([]control.Member, error) {
	ms, err := t.members(ctx, "package_members", "package_id", packageID, p)
	return ms, wrap(err, "members of package %s", packageID)
}

func (t *ctlTx) members(ctx context.Context, table, column, objectID string, p control.Page) ([]control.Member, error) {
	return list(ctx, t, "SELECT m.user_id, u.email, u.name, m.role FROM "+table+" m JOIN users u ON u.id = m.user_id"+
		" WHERE m."+column+" = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3", []any{objectID, p.After, limit(p)},
		func(r pgx.Row) (m control.Member, err error) {
			var role int16
			err = r.Scan(&m.UserID, &m.Email, &m.Name, &role)
			m.Role = control.Role(role)
			return m, err
		})
}

func (t *ctlTx) CountOrgOwners(ctx context.Context, orgID string) (int, error) {
	var n int
	err := t.one(ctx, "SELECT count(*) FROM org_members WHERE org_id = $1 AND role = $2", []any{orgID, int16(control.RoleOwner)}, &n)
	return n, wrap(err, "count owners of organization %s", orgID)
}

// Packages.

const packageCols = "id, org_id, name, host, rule, source, collection, created, updated"

func scanPackage(r pgx.Row) (control.Package, error) {
	var p control.Package
	var source int16
	err := r.Scan(&p.ID, &p.OrgID, &p.Name, &p.Host, (*[]byte)(&p.Rule), &source, &p.Collection, tsTime{&p.Created}, tsTime{&p.Updated})
	p.Source = control.Source(source)
	return p, err
}

// checkSource refuses sources the store does not keep.
func checkSource(s control.Source) error {
	if s != control.SourceAPI && s != control.SourceCollection {
		return fmt.Errorf("a package of source %d (%q) is not stored", s, s.String())
	}
	return nil
}

func (t *ctlTx) CreatePackage(ctx context.Context, p control.Package) error {
	if err := checkSource(p.Source); err != nil {
		return wrap(err, "create package %s", p.Name)
	}
	if err := t.exists(ctx, "organization", p.OrgID, "SELECT 1 FROM orgs WHERE id = $1"); err != nil {
		return wrap(err, "create package %s", p.Name)
	}
	err := t.insert(ctx, "INSERT INTO packages ("+packageCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		p.ID, p.OrgID, p.Name, p.Host, string(p.Rule), int16(p.Source), p.Collection, ts(p.Created), ts(p.Updated))
	return wrap(err, "create package %s", p.Name)
}

func (t *ctlTx) Package(ctx context.Context, id string) (control.Package, error) {
	ps, err := list(ctx, t, "SELECT "+packageCols+" FROM packages WHERE id = $1", []any{id}, scanPackage)
	return first(ps, err, "package %s", id)
}

func (t *ctlTx) PackageByName(ctx context.Context, orgID, name string) (control.Package, error) {
	ps, err := list(ctx, t, "SELECT "+packageCols+" FROM packages WHERE org_id = $1 AND lower(name) = lower($2)",
		[]any{orgID, name}, scanPackage)
	return first(ps, err, "package %s in organization %s", name, orgID)
}

func (t *ctlTx) UpdatePackage(ctx context.Context, p control.Package) error {
	if err := checkSource(p.Source); err != nil {
		return wrap(err, "update package %s", p.ID)
	}
	err := t.updateUnique(ctx, "SELECT 1 FROM packages WHERE id = $1", p.ID, `UPDATE packages SET name = $1, host = $2, rule = $3,
		source = $4, collection = $5, updated = $6 WHERE id = $7 AND NOT EXISTS (
			SELECT 1 FROM packages o WHERE o.org_id = packages.org_id AND lower(o.name) = lower($1) AND o.id <> $7)`,
		p.Name, p.Host, string(p.Rule), int16(p.Source), p.Collection, ts(p.Updated), p.ID)
	return wrap(err, "update package %s", p.ID)
}

func (t *ctlTx) DeletePackage(ctx context.Context, id string) error {
	err := mustChange(t.exec(ctx, "DELETE FROM packages WHERE id = $1", id))
	if err == nil {
		_, err = t.exec(ctx, "DELETE FROM package_members WHERE package_id = $1", id)
	}
	return wrap(err, "delete package %s", id)
}

func (t *ctlTx) ListPackages(ctx context.Context, f control.PackageFilter, p control.Page) ([]control.Package, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where = append(where, "id > "+arg(p.After))
	if f.OrgID != "" {
		where = append(where, "org_id = "+arg(f.OrgID))
	}
	if f.Collection != "" {
		where = append(where, "collection = "+arg(f.Collection))
	}
	if f.Host != "" {
		where = append(where, "host = "+arg(f.Host))
	}
	if f.UserID != "" {
		u := arg(f.UserID)
		where = append(where, "(org_id IN (SELECT org_id FROM org_members WHERE user_id = "+u+
			") OR id IN (SELECT package_id FROM package_members WHERE user_id = "+u+"))")
	}
	q := "SELECT " + packageCols + " FROM packages WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT " + arg(limit(p))
	ps, err := list(ctx, t, q, args, scanPackage)
	return ps, wrap(err, "list packages")
}

func (t *ctlTx) EachPackage(ctx context.Context, fn func(control.Package) error) error {
	return each(ctx, t, "SELECT "+packageCols+" FROM packages ORDER BY id", nil, func(r pgx.Row) error {
		p, err := scanPackage(r)
		if err != nil {
			return wrap(err, "read packages")
		}
		return fn(p)
	})
}

// Collections.

const collectionCols = "id, org_id, name, rule, created, updated"

func scanCollection(r pgx.Row) (control.Collection, error) {
	var c control.Collection
	err := r.Scan(&c.ID, &c.OrgID, &c.Name, (*[]byte)(&c.Rule), tsTime{&c.Created}, tsTime{&c.Updated})
	return c, err
}

func (t *ctlTx) CreateCollection(ctx context.Context, c control.Collection) error {
	if err := t.exists(ctx, "organization", c.OrgID, "SELECT 1 FROM orgs WHERE id = $1"); err != nil {
		return wrap(err, "create collection %s", c.Name)
	}
	err := t.insert(ctx, "INSERT INTO collections ("+collectionCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		c.ID, c.OrgID, c.Name, string(c.Rule), ts(c.Created), ts(c.Updated))
	return wrap(err, "create collection %s", c.Name)
}

func (t *ctlTx) Collection(ctx context.Context, id string) (control.Collection, error) {
	cs, err := list(ctx, t, "SELECT "+collectionCols+" FROM collections WHERE id = $1", []any{id}, scanCollection)
	return first(cs, err, "collection %s", id)
}

func (t *ctlTx) UpdateCollection(ctx context.Context, c control.Collection) error {
	err := mustChange(t.exec(ctx, "UPDATE collections SET name = $1, rule = $2, updated = $3 WHERE id = $4",
		c.Name, string(c.Rule), ts(c.Updated), c.ID))
	return wrap(err, "update collection %s", c.ID)
}

// DeleteCollection keeps the packages the collection created, as
// packages of the API.
func (t *ctlTx) DeleteCollection(ctx context.Context, id string) error {
	err := mustChange(t.exec(ctx, "DELETE FROM collections WHERE id = $1", id))
	if err == nil {
		_, err = t.exec(ctx, "UPDATE packages SET source = $1, collection = '' WHERE collection = $2", int16(control.SourceAPI), id)
	}
	return wrap(err, "delete collection %s", id)
}

func (t *ctlTx) ListCollections(ctx context.Context, orgID string, p control.Page) ([]control.Collection, error) {
	q, args := "SELECT "+collectionCols+" FROM collections WHERE id > $1", []any{p.After, limit(p)}
	if orgID != "" {
		q += " AND org_id = $3"
		args = append(args, orgID)
	}
	cs, err := list(ctx, t, q+" ORDER BY id LIMIT $2", args, scanCollection)
	return cs, wrap(err, "list collections")
}

// Domains.

const domainCols = "name, org_id, status, challenge, last_check, last_error, verified, failing_since, created, https_only"

func scanDomain(r pgx.Row) (control.Domain, error) {
	var d control.Domain
	var status int16
	err := r.Scan(&d.Name, &d.OrgID, &status, &d.Challenge, tsTime{&d.LastCheck}, &d.LastError,
		tsTime{&d.Verified}, tsTime{&d.FailingSince}, tsTime{&d.Created}, &d.HTTPSOnly)
	d.Status = control.DomainStatus(status)
	return d, err
}

func checkStatus(s control.DomainStatus) error {
	if s.String() == "" {
		return fmt.Errorf("domain status %d is none of pending, verified and failing", s)
	}
	return nil
}

func (t *ctlTx) CreateDomain(ctx context.Context, d control.Domain) error {
	if err := checkStatus(d.Status); err != nil {
		return wrap(err, "create domain %s", d.Name)
	}
	if err := t.exists(ctx, "organization", d.OrgID, "SELECT 1 FROM orgs WHERE id = $1"); err != nil {
		return wrap(err, "create domain %s", d.Name)
	}
	err := t.insert(ctx, "INSERT INTO domains ("+domainCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		d.Name, d.OrgID, int16(d.Status), d.Challenge, ts(d.LastCheck), d.LastError, ts(d.Verified), ts(d.FailingSince), ts(d.Created), d.HTTPSOnly)
	return wrap(err, "create domain %s", d.Name)
}

func (t *ctlTx) Domain(ctx context.Context, name string) (control.Domain, error) {
	ds, err := list(ctx, t, "SELECT "+domainCols+" FROM domains WHERE name = $1", []any{name}, scanDomain)
	return first(ds, err, "domain %s", name)
}

func (t *ctlTx) UpdateDomain(ctx context.Context, d control.Domain) error {
	if err := checkStatus(d.Status); err != nil {
		return wrap(err, "update domain %s", d.Name)
	}
	err := mustChange(t.exec(ctx, `UPDATE domains SET status = $1, challenge = $2, last_check = $3, last_error = $4, verified = $5,
		failing_since = $6, https_only = $7 WHERE name = $8`,
		int16(d.Status), d.Challenge, ts(d.LastCheck), d.LastError, ts(d.Verified), ts(d.FailingSince), d.HTTPSOnly, d.Name))
	return wrap(err, "update domain %s", d.Name)
}

func (t *ctlTx) DeleteDomain(ctx context.Context, name string) error {
	return wrap(mustChange(t.exec(ctx, "DELETE FROM domains WHERE name = $1", name)), "delete domain %s", name)
}

func (t *ctlTx) ListDomains(ctx context.Context, orgID string, p control.Page) ([]control.Domain, error) {
	q, args := "SELECT "+domainCols+" FROM domains WHERE name > $1", []any{p.After, limit(p)}
	if orgID != "" {
		q += " AND org_id = $3"
		args = append(args, orgID)
	}
	ds, err := list(ctx, t, q+" ORDER BY name LIMIT $2", args, scanDomain)
	return ds, wrap(err, "list domains")
}

// Tokens.

const tokenCols = "id, user_id, name, scope, hash, created, expires, last_used, revoked"

func scanToken(r pgx.Row) (control.Token, error) {
	var k control.Token
	var scope int16
	err := r.Scan(&k.ID, &k.UserID, &k.Name, &scope, &k.Hash, tsTime{&k.Created}, tsTime{&k.Expires},
		tsTime{&k.LastUsed}, tsTime{&k.Revoked})
	k.Scope = control.Scope(scope)
	return k, err
}

func (t *ctlTx) CreateToken(ctx context.Context, k control.Token) error {
	if k.Scope.String() == "" {
		return fmt.Errorf("create token %s: scope %d is neither read nor write", k.ID, k.Scope)
	}
	if err := t.exists(ctx, "user", k.UserID, "SELECT 1 FROM users WHERE id = $1"); err != nil {
		return wrap(err, "create token %s", k.ID)
	}
	err := t.insert(ctx, "INSERT INTO tokens ("+tokenCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		k.ID, k.UserID, k.Name, int16(k.Scope), k.Hash, ts(k.Created), ts(k.Expires), ts(k.LastUsed), ts(k.Revoked))
	return wrap(err, "create token %s", k.ID)
}

func (t *ctlTx) Token(ctx context.Context, id string) (control.Token, error) {
	ks, err := list(ctx, t, "SELECT "+tokenCols+" FROM tokens WHERE id = $1", []any{id}, scanToken)
	return first(ks, err, "token %s", id)
}

func (t *ctlTx) TokenByHash(ctx context.Context, hash []byte) (control.Token, error) {
	ks, err := list(ctx, t, "SELECT "+tokenCols+" FROM tokens WHERE hash = $1", []any{hash}, scanToken)
	return first(ks, err, "token by hash")
}

func (t *ctlTx) ListTokens(ctx context.Context, userID string, p control.Page) ([]control.Token, error) {
	ks, err := list(ctx, t, "SELECT "+tokenCols+" FROM tokens WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
		[]any{userID, p.After, limit(p)}, scanToken)
	return ks, wrap(err, "list tokens of user %s", userID)
}

// RevokeToken keeps the time of the first revocation.
func (t *ctlTx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke token %s: no time given", id)
	}
	err := mustChange(t.exec(ctx, "UPDATE tokens SET revoked = coalesce(revoked, $1) WHERE id = $2", ts(at), id))
	return wrap(err, "revoke token %s", id)
}

// TouchToken keeps the latest use: requests that end out of order do not
// move it back.
func (t *ctlTx) TouchToken(ctx context.Context, id string, at time.Time) error {
	err := mustChange(t.exec(ctx, "UPDATE tokens SET last_used = greatest(last_used, $1) WHERE id = $2", ts(at), id))
	return wrap(err, "touch token %s", id)
}

// Sessions and sign-in links.

func (t *ctlTx) CreateSession(ctx context.Context, s control.Session) error {
	if err := t.exists(ctx, "user", s.UserID, "SELECT 1 FROM users WHERE id = $1"); err != nil {
		return wrap(err, "create session")
	}
	err := t.insert(ctx, "INSERT INTO sessions (hash, user_id, created, expires) VALUES ($1, $2, $3, $4)",
		s.Hash, s.UserID, ts(s.Created), ts(s.Expires))
	return wrap(err, "create session")
}

func (t *ctlTx) SessionByHash(ctx context.Context, hash []byte) (control.Session, error) {
	ss, err := list(ctx, t, "SELECT hash, user_id, created, expires FROM sessions WHERE hash = $1", []any{hash},
		func(r pgx.Row) (s control.Session, err error) {
			err = r.Scan(&s.Hash, &s.UserID, tsTime{&s.Created}, tsTime{&s.Expires})
			return s, err
		})
	return first(ss, err, "session")
}

func (t *ctlTx) DeleteSession(ctx context.Context, hash []byte) error {
	return wrap(mustChange(t.exec(ctx, "DELETE FROM sessions WHERE hash = $1", hash)), "delete session")
}

func (t *ctlTx) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := t.exec(ctx, "DELETE FROM sessions WHERE user_id = $1", userID)
	return wrap(err, "delete sessions of user %s", userID)
}

func (t *ctlTx) CreateSignInLink(ctx context.Context, l control.SignInLink) error {
	if err := t.exists(ctx, "user", l.UserID, "SELECT 1 FROM users WHERE id = $1"); err != nil {
		return wrap(err, "create sign-in link")
	}
	err := t.insert(ctx, "INSERT INTO sign_in_links (hash, user_id, expires) VALUES ($1, $2, $3)", l.Hash, l.UserID, ts(l.Expires))
	return wrap(err, "create sign-in link")
}

func (t *ctlTx) UseSignInLink(ctx context.Context, hash []byte) (control.SignInLink, error) {
	ls, err := list(ctx, t, "DELETE FROM sign_in_links WHERE hash = $1 RETURNING hash, user_id, expires", []any{hash},
		func(r pgx.Row) (l control.SignInLink, err error) {
			err = r.Scan(&l.Hash, &l.UserID, tsTime{&l.Expires})
			return l, err
		})
	return first(ls, err, "use sign-in link")
}

// DeleteExpired deletes what expired at now or before: a session is not
// usable from its expiry on. Without an expiry, a session or link was
// never usable.
func (t *ctlTx) DeleteExpired(ctx context.Context, now time.Time) error {
	for _, table := range []string{"sessions", "sign_in_links"} {
		if _, err := t.exec(ctx, "DELETE FROM "+table+" WHERE expires IS NULL OR expires <= $1", now); err != nil {
			return wrap(err, "delete expired %s", strings.ReplaceAll(table, "_", " "))
		}
	}
	return nil
}
