package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portico/internal/control"
	"portico/internal/store"
)

// The methods of control.Tx. Updates write every field but the key, the
// creation time and the owner (an organization's PersonalOf, a
// package's, collection's or domain's OrgID), which never change.
// References are checked when they are written: a membership, package,
// collection, domain, token, session or link of a missing user or
// organization is store.ErrNotFound.

// Users.

const userCols = "id, email, name, password_hash, server_admin, created"

func scanUser(sc scanner) (control.User, error) {
	var u control.User
	err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.ServerAdmin, msTime{&u.Created})
	return u, err
}

func (t *ctlTx) CreateUser(ctx context.Context, u control.User) error {
	_, err := t.exec(ctx, "INSERT INTO users ("+userCols+") VALUES (?, ?, ?, ?, ?, ?)",
		u.ID, u.Email, u.Name, u.PasswordHash, u.ServerAdmin, ms(u.Created))
	return wrap(err, "create user %s", u.Email)
}

func (t *ctlTx) User(ctx context.Context, id string) (control.User, error) {
	return t.user(ctx, "id", id)
}

func (t *ctlTx) UserByEmail(ctx context.Context, email string) (control.User, error) {
	return t.user(ctx, "email", email)
}

func (t *ctlTx) user(ctx context.Context, column, value string) (u control.User, err error) {
	err = t.one(ctx, "SELECT "+userCols+" FROM users WHERE "+column+" = ?", []any{value}, func(sc scanner) error {
		u, err = scanUser(sc)
		return err
	})
	return u, wrap(err, "user %s", value)
}

func (t *ctlTx) UpdateUser(ctx context.Context, u control.User) error {
	err := mustChange(t.exec(ctx, "UPDATE users SET email = ?, name = ?, password_hash = ?, server_admin = ? WHERE id = ?",
		u.Email, u.Name, u.PasswordHash, u.ServerAdmin, u.ID))
	return wrap(err, "update user %s", u.ID)
}

func (t *ctlTx) ListUsers(ctx context.Context, p control.Page) ([]control.User, error) {
	us, err := list(ctx, t, "SELECT "+userCols+" FROM users WHERE id > ? ORDER BY id LIMIT ?", []any{p.After, limit(p)}, scanUser)
	return us, wrap(err, "list users")
}

// Organizations.

const orgCols = "id, name, display_name, personal_of, created"

func scanOrg(sc scanner) (control.Org, error) {
	var o control.Org
	err := sc.Scan(&o.ID, &o.Name, &o.DisplayName, &o.PersonalOf, msTime{&o.Created})
	return o, err
}

func (t *ctlTx) CreateOrg(ctx context.Context, o control.Org) error {
	_, err := t.exec(ctx, "INSERT INTO orgs ("+orgCols+") VALUES (?, ?, ?, ?, ?)",
		o.ID, o.Name, o.DisplayName, o.PersonalOf, ms(o.Created))
	return wrap(err, "create organization %s", o.Name)
}

func (t *ctlTx) Org(ctx context.Context, id string) (control.Org, error) {
	return t.org(ctx, "id", id)
}

func (t *ctlTx) OrgByName(ctx context.Context, name string) (control.Org, error) {
	return t.org(ctx, "name", name)
}

func (t *ctlTx) org(ctx context.Context, column, value string) (o control.Org, err error) {
	err = t.one(ctx, "SELECT "+orgCols+" FROM orgs WHERE "+column+" = ?", []any{value}, func(sc scanner) error {
		o, err = scanOrg(sc)
		return err
	})
	return o, wrap(err, "organization %s", value)
}

func (t *ctlTx) UpdateOrg(ctx context.Context, o control.Org) error {
	err := mustChange(t.exec(ctx, "UPDATE orgs SET name = ?, display_name = ? WHERE id = ?", o.Name, o.DisplayName, o.ID))
	return wrap(err, "update organization %s", o.ID)
}

// DeleteOrg deletes the organization first, so that a missing one is not
// found before anything else is touched.
func (t *ctlTx) DeleteOrg(ctx context.Context, id string) error {
	if err := mustChange(t.exec(ctx, "DELETE FROM orgs WHERE id = ?", id)); err != nil {
		return wrap(err, "delete organization %s", id)
	}
	for _, q := range []string{
		"DELETE FROM package_members WHERE package_id IN (SELECT id FROM packages WHERE org_id = ?)",
		"DELETE FROM packages WHERE org_id = ?",
		"DELETE FROM collections WHERE org_id = ?",
		"DELETE FROM domains WHERE org_id = ?",
		"DELETE FROM org_members WHERE org_id = ?",
	} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return wrap(err, "delete organization %s", id)
		}
	}
	return nil
}

func (t *ctlTx) ListOrgs(ctx context.Context, userID string, p control.Page) ([]control.Org, error) {
	q, args := "SELECT "+orgCols+" FROM orgs WHERE id > ?", []any{p.After}
	if userID != "" {
		q += ` AND (id IN (SELECT org_id FROM org_members WHERE user_id = ?)
			OR id IN (SELECT p.org_id FROM package_members m JOIN packages p ON p.id = m.package_id WHERE m.user_id = ?))`
		args = append(args, userID, userID)
	}
	orgs, err := list(ctx, t, q+" ORDER BY id LIMIT ?", append(args, limit(p)), scanOrg)
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
		_, err := t.exec(ctx, "DELETE FROM "+table+" WHERE "+column+" = ? AND user_id = ?", objectID, userID)
		return err
	}
	if err := checkRole(r); err != nil {
		return err
	}
	if table == "org_members" {
		if err := t.exists(ctx, "organization", objectID, "SELECT 1 FROM orgs WHERE id = ?"); err != nil {
			return err
		}
	} else if err := t.exists(ctx, "package", objectID, "SELECT 1 FROM packages WHERE id = ?"); err != nil {
		return err
	}
	if err := t.exists(ctx, "user", userID, "SELECT 1 FROM users WHERE id = ?"); err != nil {
		return err
	}
	_, err := t.exec(ctx, "INSERT INTO "+table+" ("+column+", user_id, role) VALUES (?, ?, ?) ON CONFLICT ("+column+", user_id) DO UPDATE SET role = excluded.role",
		objectID, userID, int(r))
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

func (t *ctlTx) role(ctx context.Context, table, column, objectID, userID string) (r control.Role, err error) {
	err = t.one(ctx, "SELECT role FROM "+table+" WHERE "+column+" = ? AND user_id = ?", []any{objectID, userID},
		func(sc scanner) error { return sc.Scan(&r) })
	if errors.Is(err, store.ErrNotFound) {
		return control.RoleNone, nil
	}
	return r, err
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
		" WHERE m."+column+" = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?", []any{objectID, p.After, limit(p)},
		func(sc scanner) (m control.Member, err error) {
			err = sc.Scan(&m.UserID, &m.Email, &m.Name, &m.Role)
			return m, err
		})
}

func (t *ctlTx) CountOrgOwners(ctx context.Context, orgID string) (n int, err error) {
	err = t.one(ctx, "SELECT count(*) FROM org_members WHERE org_id = ? AND role = ?", []any{orgID, int(control.RoleOwner)},
		func(sc scanner) error { return sc.Scan(&n) })
	return n, wrap(err, "count owners of organization %s", orgID)
}

// Packages.

const packageCols = "id, org_id, name, host, rule, source, collection, created, updated"

func scanPackage(sc scanner) (control.Package, error) {
	var p control.Package
	err := sc.Scan(&p.ID, &p.OrgID, &p.Name, &p.Host, (*[]byte)(&p.Rule), &p.Source, &p.Collection, msTime{&p.Created}, msTime{&p.Updated})
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
	if err := t.exists(ctx, "organization", p.OrgID, "SELECT 1 FROM orgs WHERE id = ?"); err != nil {
		return wrap(err, "create package %s", p.Name)
	}
	_, err := t.exec(ctx, "INSERT INTO packages ("+packageCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		p.ID, p.OrgID, p.Name, p.Host, string(p.Rule), int(p.Source), p.Collection, ms(p.Created), ms(p.Updated))
	return wrap(err, "create package %s", p.Name)
}

func (t *ctlTx) Package(ctx context.Context, id string) (p control.Package, err error) {
	err = t.one(ctx, "SELECT "+packageCols+" FROM packages WHERE id = ?", []any{id}, func(sc scanner) error {
		p, err = scanPackage(sc)
		return err
	})
	return p, wrap(err, "package %s", id)
}

func (t *ctlTx) PackageByName(ctx context.Context, orgID, name string) (p control.Package, err error) {
	err = t.one(ctx, "SELECT "+packageCols+" FROM packages WHERE org_id = ? AND lower(name) = lower(?)", []any{orgID, name},
		func(sc scanner) error {
			p, err = scanPackage(sc)
			return err
		})
	return p, wrap(err, "package %s in organization %s", name, orgID)
}

func (t *ctlTx) UpdatePackage(ctx context.Context, p control.Package) error {
	if err := checkSource(p.Source); err != nil {
		return wrap(err, "update package %s", p.ID)
	}
	err := mustChange(t.exec(ctx, "UPDATE packages SET name = ?, host = ?, rule = ?, source = ?, collection = ?, updated = ? WHERE id = ?",
		p.Name, p.Host, string(p.Rule), int(p.Source), p.Collection, ms(p.Updated), p.ID))
	return wrap(err, "update package %s", p.ID)
}

func (t *ctlTx) DeletePackage(ctx context.Context, id string) error {
	err := mustChange(t.exec(ctx, "DELETE FROM packages WHERE id = ?", id))
	if err == nil {
		_, err = t.exec(ctx, "DELETE FROM package_members WHERE package_id = ?", id)
	}
	return wrap(err, "delete package %s", id)
}

func (t *ctlTx) ListPackages(ctx context.Context, f control.PackageFilter, p control.Page) ([]control.Package, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	add("id > ?", p.After)
	if f.OrgID != "" {
		add("org_id = ?", f.OrgID)
	}
	if f.Collection != "" {
		add("collection = ?", f.Collection)
	}
	if f.Host != "" {
		add("host = ?", f.Host)
	}
	if f.UserID != "" {
		add(`(org_id IN (SELECT org_id FROM org_members WHERE user_id = ?)
			OR id IN (SELECT package_id FROM package_members WHERE user_id = ?))`, f.UserID, f.UserID)
	}
	ps, err := list(ctx, t, "SELECT "+packageCols+" FROM packages WHERE "+strings.Join(where, " AND ")+" ORDER BY id LIMIT ?",
		append(args, limit(p)), scanPackage)
	return ps, wrap(err, "list packages")
}

func (t *ctlTx) EachPackage(ctx context.Context, fn func(control.Package) error) error {
	return each(ctx, t, "SELECT "+packageCols+" FROM packages ORDER BY id", nil, func(sc scanner) error {
		p, err := scanPackage(sc)
		if err != nil {
			return wrap(err, "read packages")
		}
		return fn(p)
	})
}

// Collections.

const collectionCols = "id, org_id, name, rule, created, updated"

func scanCollection(sc scanner) (control.Collection, error) {
	var c control.Collection
	err := sc.Scan(&c.ID, &c.OrgID, &c.Name, (*[]byte)(&c.Rule), msTime{&c.Created}, msTime{&c.Updated})
	return c, err
}

func (t *ctlTx) CreateCollection(ctx context.Context, c control.Collection) error {
	if err := t.exists(ctx, "organization", c.OrgID, "SELECT 1 FROM orgs WHERE id = ?"); err != nil {
		return wrap(err, "create collection %s", c.Name)
	}
	_, err := t.exec(ctx, "INSERT INTO collections ("+collectionCols+") VALUES (?, ?, ?, ?, ?, ?)",
		c.ID, c.OrgID, c.Name, string(c.Rule), ms(c.Created), ms(c.Updated))
	return wrap(err, "create collection %s", c.Name)
}

func (t *ctlTx) Collection(ctx context.Context, id string) (c control.Collection, err error) {
	err = t.one(ctx, "SELECT "+collectionCols+" FROM collections WHERE id = ?", []any{id}, func(sc scanner) error {
		c, err = scanCollection(sc)
		return err
	})
	return c, wrap(err, "collection %s", id)
}

func (t *ctlTx) UpdateCollection(ctx context.Context, c control.Collection) error {
	err := mustChange(t.exec(ctx, "UPDATE collections SET name = ?, rule = ?, updated = ? WHERE id = ?",
		c.Name, string(c.Rule), ms(c.Updated), c.ID))
	return wrap(err, "update collection %s", c.ID)
}

// DeleteCollection keeps the packages the collection created, as
// packages of the API.
func (t *ctlTx) DeleteCollection(ctx context.Context, id string) error {
	err := mustChange(t.exec(ctx, "DELETE FROM collections WHERE id = ?", id))
	if err == nil {
		_, err = t.exec(ctx, "UPDATE packages SET source = ?, collection = '' WHERE collection = ?", int(control.SourceAPI), id)
	}
	return wrap(err, "delete collection %s", id)
}

func (t *ctlTx) ListCollections(ctx context.Context, orgID string, p control.Page) ([]control.Collection, error) {
	q, args := "SELECT "+collectionCols+" FROM collections WHERE id > ?", []any{p.After}
	if orgID != "" {
		q += " AND org_id = ?"
		args = append(args, orgID)
	}
	cs, err := list(ctx, t, q+" ORDER BY id LIMIT ?", append(args, limit(p)), scanCollection)
	return cs, wrap(err, "list collections")
}

// Domains.

const domainCols = "name, org_id, status, challenge, last_check, last_error, verified, failing_since, created, https_only"

func scanDomain(sc scanner) (control.Domain, error) {
	var d control.Domain
	err := sc.Scan(&d.Name, &d.OrgID, &d.Status, &d.Challenge, msTime{&d.LastCheck}, &d.LastError,
		msTime{&d.Verified}, msTime{&d.FailingSince}, msTime{&d.Created}, &d.HTTPSOnly)
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
	if err := t.exists(ctx, "organization", d.OrgID, "SELECT 1 FROM orgs WHERE id = ?"); err != nil {
		return wrap(err, "create domain %s", d.Name)
	}
	_, err := t.exec(ctx, "INSERT INTO domains ("+domainCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.Name, d.OrgID, int(d.Status), d.Challenge, ms(d.LastCheck), d.LastError, ms(d.Verified), ms(d.FailingSince), ms(d.Created), d.HTTPSOnly)
	return wrap(err, "create domain %s", d.Name)
}

func (t *ctlTx) Domain(ctx context.Context, name string) (d control.Domain, err error) {
	err = t.one(ctx, "SELECT "+domainCols+" FROM domains WHERE name = ?", []any{name}, func(sc scanner) error {
		d, err = scanDomain(sc)
		return err
	})
	return d, wrap(err, "domain %s", name)
}

func (t *ctlTx) UpdateDomain(ctx context.Context, d control.Domain) error {
	if err := checkStatus(d.Status); err != nil {
		return wrap(err, "update domain %s", d.Name)
	}
	err := mustChange(t.exec(ctx, `UPDATE domains SET status = ?, challenge = ?, last_check = ?, last_error = ?, verified = ?,
		failing_since = ?, https_only = ? WHERE name = ?`,
		int(d.Status), d.Challenge, ms(d.LastCheck), d.LastError, ms(d.Verified), ms(d.FailingSince), d.HTTPSOnly, d.Name))
	return wrap(err, "update domain %s", d.Name)
}

func (t *ctlTx) DeleteDomain(ctx context.Context, name string) error {
	return wrap(mustChange(t.exec(ctx, "DELETE FROM domains WHERE name = ?", name)), "delete domain %s", name)
}

func (t *ctlTx) ListDomains(ctx context.Context, orgID string, p control.Page) ([]control.Domain, error) {
	q, args := "SELECT "+domainCols+" FROM domains WHERE name > ?", []any{p.After}
	if orgID != "" {
		q += " AND org_id = ?"
		args = append(args, orgID)
	}
	ds, err := list(ctx, t, q+" ORDER BY name LIMIT ?", append(args, limit(p)), scanDomain)
	return ds, wrap(err, "list domains")
}

// Tokens.

const tokenCols = "id, user_id, name, scope, hash, created, expires, last_used, revoked"

func scanToken(sc scanner) (control.Token, error) {
	var k control.Token
	err := sc.Scan(&k.ID, &k.UserID, &k.Name, &k.Scope, &k.Hash, msTime{&k.Created}, msTime{&k.Expires},
		msTime{&k.LastUsed}, msTime{&k.Revoked})
	return k, err
}

func (t *ctlTx) CreateToken(ctx context.Context, k control.Token) error {
	if k.Scope.String() == "" {
		return fmt.Errorf("create token %s: scope %d is neither read nor write", k.ID, k.Scope)
	}
	if err := t.exists(ctx, "user", k.UserID, "SELECT 1 FROM users WHERE id = ?"); err != nil {
		return wrap(err, "create token %s", k.ID)
	}
	_, err := t.exec(ctx, "INSERT INTO tokens ("+tokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		k.ID, k.UserID, k.Name, int(k.Scope), k.Hash, ms(k.Created), ms(k.Expires), ms(k.LastUsed), ms(k.Revoked))
	return wrap(err, "create token %s", k.ID)
}

func (t *ctlTx) Token(ctx context.Context, id string) (k control.Token, err error) {
	err = t.one(ctx, "SELECT "+tokenCols+" FROM tokens WHERE id = ?", []any{id}, func(sc scanner) error {
		k, err = scanToken(sc)
		return err
	})
	return k, wrap(err, "token %s", id)
}

func (t *ctlTx) TokenByHash(ctx context.Context, hash []byte) (k control.Token, err error) {
	err = t.one(ctx, "SELECT "+tokenCols+" FROM tokens WHERE hash = ?", []any{hash}, func(sc scanner) error {
		k, err = scanToken(sc)
		return err
	})
	return k, wrap(err, "token by hash")
}

func (t *ctlTx) ListTokens(ctx context.Context, userID string, p control.Page) ([]control.Token, error) {
	ks, err := list(ctx, t, "SELECT "+tokenCols+" FROM tokens WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?",
		[]any{userID, p.After, limit(p)}, scanToken)
	return ks, wrap(err, "list tokens of user %s", userID)
}

// RevokeToken keeps the time of the first revocation.
func (t *ctlTx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke token %s: no time given", id)
	}
	err := mustChange(t.exec(ctx, "UPDATE tokens SET revoked = coalesce(revoked, ?) WHERE id = ?", ms(at), id))
	return wrap(err, "revoke token %s", id)
}

// TouchToken keeps the latest use: requests that end out of order do not
// move it back.
func (t *ctlTx) TouchToken(ctx context.Context, id string, at time.Time) error {
	err := mustChange(t.exec(ctx, "UPDATE tokens SET last_used = CASE WHEN last_used IS NULL OR last_used < ?1 THEN ?1 ELSE last_used END WHERE id = ?2",
		ms(at), id))
	return wrap(err, "touch token %s", id)
}

// Sessions and sign-in links.

func (t *ctlTx) CreateSession(ctx context.Context, s control.Session) error {
	if err := t.exists(ctx, "user", s.UserID, "SELECT 1 FROM users WHERE id = ?"); err != nil {
		return wrap(err, "create session")
	}
	_, err := t.exec(ctx, "INSERT INTO sessions (hash, user_id, created, expires) VALUES (?, ?, ?, ?)",
		s.Hash, s.UserID, ms(s.Created), ms(s.Expires))
	return wrap(err, "create session")
}

func (t *ctlTx) SessionByHash(ctx context.Context, hash []byte) (s control.Session, err error) {
	err = t.one(ctx, "SELECT hash, user_id, created, expires FROM sessions WHERE hash = ?", []any{hash}, func(sc scanner) error {
		return sc.Scan(&s.Hash, &s.UserID, msTime{&s.Created}, msTime{&s.Expires})
	})
	return s, wrap(err, "session")
}

func (t *ctlTx) DeleteSession(ctx context.Context, hash []byte) error {
	return wrap(mustChange(t.exec(ctx, "DELETE FROM sessions WHERE hash = ?", hash)), "delete session")
}

func (t *ctlTx) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := t.exec(ctx, "DELETE FROM sessions WHERE user_id = ?", userID)
	return wrap(err, "delete sessions of user %s", userID)
}

func (t *ctlTx) CreateSignInLink(ctx context.Context, l control.SignInLink) error {
	if err := t.exists(ctx, "user", l.UserID, "SELECT 1 FROM users WHERE id = ?"); err != nil {
		return wrap(err, "create sign-in link")
	}
	_, err := t.exec(ctx, "INSERT INTO sign_in_links (hash, user_id, expires) VALUES (?, ?, ?)", l.Hash, l.UserID, ms(l.Expires))
	return wrap(err, "create sign-in link")
}

func (t *ctlTx) UseSignInLink(ctx context.Context, hash []byte) (l control.SignInLink, err error) {
	err = t.one(ctx, "DELETE FROM sign_in_links WHERE hash = ? RETURNING hash, user_id, expires", []any{hash}, func(sc scanner) error {
		return sc.Scan(&l.Hash, &l.UserID, msTime{&l.Expires})
	})
	return l, wrap(err, "use sign-in link")
}

// DeleteExpired deletes what expired at now or before: a session is not
// usable from its expiry on. Without an expiry, a session or link was
// never usable.
func (t *ctlTx) DeleteExpired(ctx context.Context, now time.Time) error {
	for _, table := range []string{"sessions", "sign_in_links"} {
		if _, err := t.exec(ctx, "DELETE FROM "+table+" WHERE expires IS NULL OR expires <= ?", now.UnixMilli()); err != nil {
			return wrap(err, "delete expired %s", strings.ReplaceAll(table, "_", " "))
		}
	}
	return nil
}
