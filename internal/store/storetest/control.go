package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/control"
	"portico/internal/store"
)

// A ControlOpener opens n stores on one new, empty database, each on its
// own, as n gateway replicas or processes would. It registers their
// cleanup with t.
type ControlOpener func(t *testing.T, n int) []control.Store

// Control runs the contract suite of control.Store: every method of
// every entity, the errors (store.ErrNotFound, store.ErrConflict),
// pagination, the config version and the transactions' guarantees.
//
// Beyond what control.Store documents, the suite holds the stores to:
// lists in key order (ids, domain names) bytewise, with Page.After the
// last key of the previous page and a Limit of 0 or less listing every
// row; times read back in UTC, to the millisecond or better, the zero
// time as zero; rules byte for byte; updates that keep the key, the
// creation time and the owner; references to missing users,
// organizations and packages refused with store.ErrNotFound; a
// transaction that stays usable after a write was refused; and a Tx
// that fails, without touching the database, once its function has
// returned.
func Control(t *testing.T, open ControlOpener) {
	one := func(t *testing.T) control.Store { return open(t, 1)[0] }
	t.Run("Users", func(t *testing.T) { testUsers(t, one(t)) })
	t.Run("Orgs", func(t *testing.T) { testOrgs(t, one(t)) })
	t.Run("ListOrgsOfUser", func(t *testing.T) { testListOrgsOfUser(t, one(t)) })
	t.Run("DeleteOrg", func(t *testing.T) { testDeleteOrg(t, one(t)) })
	t.Run("OrgMembers", func(t *testing.T) { testOrgMembers(t, one(t)) })
	t.Run("PackageMembers", func(t *testing.T) { testPackageMembers(t, one(t)) })
	t.Run("Packages", func(t *testing.T) { testPackages(t, one(t)) })
	t.Run("ListPackages", func(t *testing.T) { testListPackages(t, one(t)) })
	t.Run("Collections", func(t *testing.T) { testCollections(t, one(t)) })
	t.Run("Domains", func(t *testing.T) { testDomains(t, one(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, one(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, one(t)) })
	t.Run("SignInLinks", func(t *testing.T) { testSignInLinks(t, one(t)) })
	t.Run("Times", func(t *testing.T) { testTimes(t, one(t)) })
	t.Run("ConfigVersion", func(t *testing.T) { testConfigVersion(t, open(t, 2)) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, one(t)) })
	t.Run("RefusedWrites", func(t *testing.T) { testRefusedWrites(t, one(t)) })
	t.Run("TxAfterEnd", func(t *testing.T) { testTxAfterEnd(t, one(t)) })
	t.Run("ViewReadOnly", func(t *testing.T) { testViewReadOnly(t, one(t)) })
	t.Run("ViewSnapshot", func(t *testing.T) { testViewSnapshot(t, one(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { testConcurrentUpdates(t, open(t, 1)) })
	t.Run("ConcurrentUpdatesTwoStores", func(t *testing.T) { testConcurrentUpdates(t, open(t, 2)) })
}

// ctlBase is when the suite's entities are created: a fixed time, to the
// millisecond, which every store keeps exactly.
var ctlBase = time.Date(2026, 4, 1, 12, 30, 15, 123_000_000, time.UTC)

func at(d time.Duration) time.Time { return ctlBase.Add(d) }

func update(t *testing.T, s control.Store, fn func(control.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s control.Store, fn func(control.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// get reads one value in a View.
func get[T any](t *testing.T, s control.Store, fn func(control.Tx) (T, error)) T {
	t.Helper()
	var v T
	view(t, s, func(tx control.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v
}

// wantErr fails t unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %q", what, err, target)
	}
}

// wantNotFound checks that a lookup in a View is store.ErrNotFound.
func wantNotFound[T any](t *testing.T, s control.Store, what string, fn func(control.Tx) (T, error)) {
	t.Helper()
	err := s.View(t.Context(), func(tx control.Tx) error {
		_, err := fn(tx)
		return err
	})
	wantErr(t, what, err, store.ErrNotFound)
}

// tryUpdate runs fn in an Update and returns its error.
func tryUpdate(t *testing.T, s control.Store, fn func(control.Tx) error) error {
	return s.Update(t.Context(), fn)
}

// same fails t where got differs from want, field by field: times must
// be the same instant and in UTC, bytes and rules the same bytes.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	for _, d := range differences(reflect.ValueOf(got), reflect.ValueOf(want), what) {
		t.Error(d)
	}
}

func differences(g, w reflect.Value, path string) []string {
	switch wv := w.Interface().(type) {
	case time.Time:
		gv := g.Interface().(time.Time)
		if wv.IsZero() != gv.IsZero() || !gv.Equal(wv) || !gv.IsZero() && gv.Location() != time.UTC {
			return []string{fmt.Sprintf("%s = %v, want %v (in UTC)", path, gv, wv)}
		}
		return nil
	case []byte:
		if gv := g.Interface().([]byte); !bytes.Equal(gv, wv) {
			return []string{fmt.Sprintf("%s = %x, want %x", path, gv, wv)}
		}
		return nil
	case json.RawMessage:
		if gv := g.Interface().(json.RawMessage); !bytes.Equal(gv, wv) {
			return []string{fmt.Sprintf("%s = %q, want %q", path, gv, wv)}
		}
		return nil
	}
	if w.Kind() == reflect.Struct {
		var out []string
		for i := range w.NumField() {
			out = append(out, differences(g.Field(i), w.Field(i), path+"."+w.Type().Field(i).Name)...)
		}
		return out
	}
	if w.Kind() == reflect.Slice {
		if g.Len() != w.Len() {
			return []string{fmt.Sprintf("%s: %d elements, want %d: %v, want %v", path, g.Len(), w.Len(), g, w)}
		}
		var out []string
		for i := range w.Len() {
			out = append(out, differences(g.Index(i), w.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if !reflect.DeepEqual(g.Interface(), w.Interface()) {
		return []string{fmt.Sprintf("%s = %v, want %v", path, g, w)}
	}
	return nil
}

// walk pages through a list, limit rows a page, and returns every row.
// Pages must be full but the last, in strictly ascending key order
// across pages, which also means no row comes twice.
func walk[T any](t *testing.T, s control.Store, limit int, key func(T) string,
	list func(control.Tx, control.Page) ([]T, error)) []T {
	t.Helper()
	var all []T
	p := control.Page{Limit: limit}
	for range 1000 {
		var rows []T
		view(t, s, func(tx control.Tx) error {
			var err error
			rows, err = list(tx, p)
			return err
		})
		if len(rows) > limit {
			t.Fatalf("page after %q: %d rows, limit %d", p.After, len(rows), limit)
		}
		for _, r := range rows {
			if k := key(r); k <= p.After {
				t.Fatalf("page after %q holds %q: want keys in ascending order, each once", p.After, k)
			} else {
				p.After = k
			}
		}
		all = append(all, rows...)
		if len(rows) < limit {
			return all
		}
	}
	t.Fatal("a list with no end")
	return nil
}

// keys returns the keys of rows.
func keys[T any](rows []T, key func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = key(r)
	}
	return out
}

// sorted returns ss sorted, as lists come.
func sorted(ss ...string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func wantKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: %q, want %q", what, got, want)
	}
}

func userID(u control.User) string       { return u.ID }
func orgID(o control.Org) string         { return o.ID }
func memberID(m control.Member) string   { return m.UserID }
func packageID(p control.Package) string { return p.ID }
func domainName(d control.Domain) string { return d.Name }
func tokenID(k control.Token) string     { return k.ID }
func collID(c control.Collection) string { return c.ID }
func hashOf(s string) []byte             { h := sha256.Sum256([]byte(s)); return h[:] }
func userN(i int) string                 { return fmt.Sprintf("user%02d@example.com", i) }
func mkUser(email string) control.User {
	return control.User{ID: control.NewID(), Email: email, Created: ctlBase}
}
func mkOrg(name string) control.Org {
	return control.Org{ID: control.NewID(), Name: name, Created: ctlBase}
}
func fileRule(url string) json.RawMessage {
	return json.RawMessage(`{"type":"file-v1","outgoing-url":"` + url + `"}`)
}
func dockerRule(reg string) json.RawMessage {
	return json.RawMessage(`{"type":"docker-v2","registry":"` + reg + `"}`)
}

// mkPackage returns a package of the API in org, serving host.
func mkPackage(org, name, host string) control.Package {
	return control.Package{ID: control.NewID(), OrgID: org, Name: name, Host: host, Rule: fileRule("https://" + host + "/" + name),
		Source: control.SourceAPI, Created: ctlBase, Updated: ctlBase}
}

// seed creates users and organizations in one Update.
func seed(t *testing.T, s control.Store, users []control.User, orgs []control.Org) {
	t.Helper()
	update(t, s, func(tx control.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(t.Context(), u); err != nil {
				return err
			}
		}
		for _, o := range orgs {
			if err := tx.CreateOrg(t.Context(), o); err != nil {
				return err
			}
		}
		return nil
	})
}

func testUsers(t *testing.T, s control.Store) {
	ctx := t.Context()
	ann := control.User{ID: control.NewID(), Email: "Ann@example.com", Name: "Ann Lee", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		ServerAdmin: true, Created: ctlBase}
	bob := control.User{ID: control.NewID(), Email: "bob@example.com", Created: at(time.Hour)}
	seed(t, s, []control.User{ann, bob}, nil)

	same(t, "User", get(t, s, func(tx control.Tx) (control.User, error) { return tx.User(ctx, ann.ID) }), ann)
	same(t, "UserByEmail", get(t, s, func(tx control.Tx) (control.User, error) { return tx.UserByEmail(ctx, ann.Email) }), ann)
	same(t, "UserByEmail", get(t, s, func(tx control.Tx) (control.User, error) { return tx.UserByEmail(ctx, bob.Email) }), bob)
	wantNotFound(t, s, "User of an unknown id", func(tx control.Tx) (control.User, error) { return tx.User(ctx, control.NewID()) })
	wantNotFound(t, s, "UserByEmail of an unknown address", func(tx control.Tx) (control.User, error) {
		return tx.UserByEmail(ctx, "nobody@example.com")
	})

	dupEmail := mkUser(ann.Email)
	wantErr(t, "CreateUser with a taken address", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateUser(ctx, dupEmail) }), store.ErrConflict)
	dupID := mkUser("carl@example.com")
	dupID.ID = bob.ID
	wantErr(t, "CreateUser with a taken id", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateUser(ctx, dupID) }), store.ErrConflict)

	// Every field but the id and the creation time changes.
	changed := control.User{ID: ann.ID, Email: "ann.lee@example.org", Name: "Ann", PasswordHash: "", ServerAdmin: false, Created: at(48 * time.Hour)}
	update(t, s, func(tx control.Tx) error { return tx.UpdateUser(ctx, changed) })
	changed.Created = ann.Created
	same(t, "User after UpdateUser", get(t, s, func(tx control.Tx) (control.User, error) { return tx.User(ctx, ann.ID) }), changed)
	same(t, "UserByEmail of the new address", get(t, s, func(tx control.Tx) (control.User, error) {
		return tx.UserByEmail(ctx, changed.Email)
	}), changed)
	wantNotFound(t, s, "UserByEmail of the old address", func(tx control.Tx) (control.User, error) { return tx.UserByEmail(ctx, ann.Email) })

	taken := bob
	taken.Email = changed.Email
	wantErr(t, "UpdateUser to a taken address", tryUpdate(t, s, func(tx control.Tx) error { return tx.UpdateUser(ctx, taken) }), store.ErrConflict)
	same(t, "User after a refused UpdateUser", get(t, s, func(tx control.Tx) (control.User, error) { return tx.User(ctx, bob.ID) }), bob)
	wantErr(t, "UpdateUser of an unknown user", tryUpdate(t, s, func(tx control.Tx) error { return tx.UpdateUser(ctx, mkUser("x@example.com")) }),
		store.ErrNotFound)

	want := []string{ann.ID, bob.ID}
	for i := range 9 {
		u := mkUser(userN(i))
		seed(t, s, []control.User{u}, nil)
		want = append(want, u.ID)
	}
	want = sorted(want...)
	for _, limit := range []int{1, 4, 11, 100} {
		got := walk(t, s, limit, userID, func(tx control.Tx, p control.Page) ([]control.User, error) { return tx.ListUsers(ctx, p) })
		wantKeys(t, fmt.Sprintf("ListUsers by pages of %d", limit), keys(got, userID), want)
	}
	all := get(t, s, func(tx control.Tx) ([]control.User, error) { return tx.ListUsers(ctx, control.Page{}) })
	wantKeys(t, "ListUsers without a limit", keys(all, userID), want)
	for _, u := range all {
		if u.ID == bob.ID {
			same(t, "ListUsers row", u, bob)
		}
	}
}

func testOrgs(t *testing.T, s control.Store) {
	ctx := t.Context()
	u := mkUser("ann@example.com")
	acme := control.Org{ID: control.NewID(), Name: "acme", DisplayName: "Acme, Inc.", PersonalOf: "", Created: ctlBase}
	ann := control.Org{ID: control.NewID(), Name: "ann", PersonalOf: u.ID, Created: at(time.Minute)}
	seed(t, s, []control.User{u}, []control.Org{acme, ann})

	same(t, "Org", get(t, s, func(tx control.Tx) (control.Org, error) { return tx.Org(ctx, acme.ID) }), acme)
	same(t, "OrgByName", get(t, s, func(tx control.Tx) (control.Org, error) { return tx.OrgByName(ctx, "ann") }), ann)
	wantNotFound(t, s, "Org of an unknown id", func(tx control.Tx) (control.Org, error) { return tx.Org(ctx, control.NewID()) })
	wantNotFound(t, s, "OrgByName of an unknown name", func(tx control.Tx) (control.Org, error) { return tx.OrgByName(ctx, "nobody") })
	wantErr(t, "CreateOrg with a taken name", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateOrg(ctx, mkOrg("acme")) }), store.ErrConflict)

	renamed := control.Org{ID: acme.ID, Name: "acme-corp", DisplayName: "Acme Corporation", PersonalOf: "someone", Created: at(time.Hour)}
	update(t, s, func(tx control.Tx) error { return tx.UpdateOrg(ctx, renamed) })
	renamed.PersonalOf, renamed.Created = acme.PersonalOf, acme.Created
	same(t, "OrgByName after a rename", get(t, s, func(tx control.Tx) (control.Org, error) { return tx.OrgByName(ctx, "acme-corp") }), renamed)
	wantNotFound(t, s, "OrgByName of the old name", func(tx control.Tx) (control.Org, error) { return tx.OrgByName(ctx, "acme") })
	clash := ann
	clash.Name = "acme-corp"
	wantErr(t, "UpdateOrg to a taken name", tryUpdate(t, s, func(tx control.Tx) error { return tx.UpdateOrg(ctx, clash) }), store.ErrConflict)
	wantErr(t, "UpdateOrg of an unknown organization", tryUpdate(t, s, func(tx control.Tx) error { return tx.UpdateOrg(ctx, mkOrg("new")) }),
		store.ErrNotFound)
	// The old name is free again.
	seed(t, s, nil, []control.Org{mkOrg("acme")})

	var want []string
	for _, o := range get(t, s, func(tx control.Tx) ([]control.Org, error) { return tx.ListOrgs(ctx, "", control.Page{}) }) {
		want = append(want, o.ID)
	}
	for i := range 6 {
		o := mkOrg(fmt.Sprintf("org-%d", i))
		seed(t, s, nil, []control.Org{o})
		want = append(want, o.ID)
	}
	want = sorted(want...)
	if len(want) != 9 {
		t.Fatalf("%d organizations listed, want 9", len(want))
	}
	for _, limit := range []int{1, 2, 9, 10} {
		got := walk(t, s, limit, orgID, func(tx control.Tx, p control.Page) ([]control.Org, error) { return tx.ListOrgs(ctx, "", p) })
		wantKeys(t, fmt.Sprintf("ListOrgs by pages of %d", limit), keys(got, orgID), want)
	}
}

func testListOrgsOfUser(t *testing.T, s control.Store) {
	ctx := t.Context()
	u, other := mkUser("ann@example.com"), mkUser("bob@example.com")
	orgs := []control.Org{mkOrg("by-org-role"), mkOrg("by-package-role"), mkOrg("both"), mkOrg("none"), mkOrg("others")}
	seed(t, s, []control.User{u, other}, orgs)
	pkgs := make([]control.Package, len(orgs))
	update(t, s, func(tx control.Tx) error {
		for i, o := range orgs {
			pkgs[i] = mkPackage(o.ID, "p", o.Name+".example.com")
			if err := tx.CreatePackage(ctx, pkgs[i]); err != nil {
				return err
			}
		}
		return errors.Join(
			tx.SetOrgRole(ctx, orgs[0].ID, u.ID, control.RoleMember),
			tx.SetPackageRole(ctx, pkgs[1].ID, u.ID, control.RoleAdmin),
			tx.SetOrgRole(ctx, orgs[2].ID, u.ID, control.RoleOwner),
			tx.SetPackageRole(ctx, pkgs[2].ID, u.ID, control.RoleMember),
			tx.SetOrgRole(ctx, orgs[4].ID, other.ID, control.RoleOwner),
			tx.SetPackageRole(ctx, pkgs[4].ID, other.ID, control.RoleOwner),
		)
	})
	want := sorted(orgs[0].ID, orgs[1].ID, orgs[2].ID)
	for _, limit := range []int{1, 2, 3, 50} {
		got := walk(t, s, limit, orgID, func(tx control.Tx, p control.Page) ([]control.Org, error) { return tx.ListOrgs(ctx, u.ID, p) })
		wantKeys(t, fmt.Sprintf("ListOrgs of a user by pages of %d", limit), keys(got, orgID), want)
	}
	got := get(t, s, func(tx control.Tx) ([]control.Org, error) { return tx.ListOrgs(ctx, control.NewID(), control.Page{}) })
	wantKeys(t, "ListOrgs of a user without roles", keys(got, orgID), nil)

	// Without its package role, the organization is no longer the user's.
	update(t, s, func(tx control.Tx) error { return tx.SetPackageRole(ctx, pkgs[1].ID, u.ID, control.RoleNone) })
	got = get(t, s, func(tx control.Tx) ([]control.Org, error) { return tx.ListOrgs(ctx, u.ID, control.Page{}) })
	wantKeys(t, "ListOrgs of a user after a package role was removed", keys(got, orgID), sorted(orgs[0].ID, orgs[2].ID))
}

func testDeleteOrg(t *testing.T, s control.Store) {
	ctx := t.Context()
	u, v := mkUser("ann@example.com"), mkUser("bob@example.com")
	gone, kept := mkOrg("gone"), mkOrg("kept")
	seed(t, s, []control.User{u, v}, []control.Org{gone, kept})
	type owned struct {
		pkg  control.Package
		coll control.Collection
		dom  control.Domain
	}
	owns := func(o control.Org) owned {
		return owned{
			pkg:  mkPackage(o.ID, "rocket", "get."+o.Name+".example"),
			coll: control.Collection{ID: control.NewID(), OrgID: o.ID, Name: "images", Rule: dockerRule("ghcr.io"), Created: ctlBase, Updated: ctlBase},
			dom:  control.Domain{Name: "get." + o.Name + ".example", OrgID: o.ID, Status: control.DomainVerified, Challenge: "c", Created: ctlBase},
		}
	}
	g, k := owns(gone), owns(kept)
	update(t, s, func(tx control.Tx) error {
		for _, o := range []struct {
			org control.Org
			owned
		}{{gone, g}, {kept, k}} {
			if err := errors.Join(tx.CreatePackage(ctx, o.pkg), tx.CreateCollection(ctx, o.coll), tx.CreateDomain(ctx, o.dom)); err != nil {
				return err
			}
			if err := errors.Join(tx.SetOrgRole(ctx, o.org.ID, u.ID, control.RoleOwner), tx.SetPackageRole(ctx, o.pkg.ID, v.ID, control.RoleAdmin)); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx control.Tx) error { return tx.DeleteOrg(ctx, gone.ID) })

	wantNotFound(t, s, "Org after DeleteOrg", func(tx control.Tx) (control.Org, error) { return tx.Org(ctx, gone.ID) })
	wantNotFound(t, s, "its package", func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, g.pkg.ID) })
	wantNotFound(t, s, "its collection", func(tx control.Tx) (control.Collection, error) { return tx.Collection(ctx, g.coll.ID) })
	wantNotFound(t, s, "its domain", func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, g.dom.Name) })
	view(t, s, func(tx control.Tx) error {
		if r, err := tx.OrgRole(ctx, gone.ID, u.ID); err != nil || r != control.RoleNone {
			t.Errorf("OrgRole in a deleted organization = %v, %v; want none", r, err)
		}
		if r, err := tx.PackageRole(ctx, g.pkg.ID, v.ID); err != nil || r != control.RoleNone {
			t.Errorf("PackageRole on a package of a deleted organization = %v, %v; want none", r, err)
		}
		if ms, err := tx.OrgMembers(ctx, gone.ID, control.Page{}); err != nil || len(ms) != 0 {
			t.Errorf("OrgMembers of a deleted organization = %v, %v; want none", ms, err)
		}
		if ms, err := tx.PackageMembers(ctx, g.pkg.ID, control.Page{}); err != nil || len(ms) != 0 {
			t.Errorf("PackageMembers of a package of a deleted organization = %v, %v; want none", ms, err)
		}
		if orgs, err := tx.ListOrgs(ctx, v.ID, control.Page{}); err != nil || len(orgs) != 1 || orgs[0].ID != kept.ID {
			t.Errorf("ListOrgs of a user with package roles = %v, %v; want only %s", orgs, err, kept.Name)
		}
		return nil
	})
	// What the other organization owns stays.
	same(t, "the other organization's package", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, k.pkg.ID) }), k.pkg)
	same(t, "its collection", get(t, s, func(tx control.Tx) (control.Collection, error) { return tx.Collection(ctx, k.coll.ID) }), k.coll)
	same(t, "its domain", get(t, s, func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, k.dom.Name) }), k.dom)
	if r := get(t, s, func(tx control.Tx) (control.Role, error) { return tx.OrgRole(ctx, kept.ID, u.ID) }); r != control.RoleOwner {
		t.Errorf("OrgRole in the other organization = %v, want owner", r)
	}
	if r := get(t, s, func(tx control.Tx) (control.Role, error) { return tx.PackageRole(ctx, k.pkg.ID, v.ID) }); r != control.RoleAdmin {
		t.Errorf("PackageRole in the other organization = %v, want admin", r)
	}
	wantErr(t, "DeleteOrg of a deleted organization", tryUpdate(t, s, func(tx control.Tx) error { return tx.DeleteOrg(ctx, gone.ID) }), store.ErrNotFound)
	// Its names are free again.
	seed(t, s, nil, []control.Org{mkOrg("gone")})
}

func testOrgMembers(t *testing.T, s control.Store) {
	ctx := t.Context()
	o := mkOrg("acme")
	users := make([]control.User, 5)
	for i := range users {
		users[i] = mkUser(userN(i))
		users[i].Name = fmt.Sprintf("User %d", i)
	}
	seed(t, s, users, []control.Org{o})
	roles := []control.Role{control.RoleOwner, control.RoleAdmin, control.RoleMember, control.RoleMember}
	update(t, s, func(tx control.Tx) error {
		for i, r := range roles {
			if err := tx.SetOrgRole(ctx, o.ID, users[i].ID, r); err != nil {
				return err
			}
		}
		return nil
	})
	role := func(i int) control.Role {
		t.Helper()
		return get(t, s, func(tx control.Tx) (control.Role, error) { return tx.OrgRole(ctx, o.ID, users[i].ID) })
	}
	owners := func() int {
		t.Helper()
		return get(t, s, func(tx control.Tx) (int, error) { return tx.CountOrgOwners(ctx, o.ID) })
	}
	for i, want := range append(roles, control.RoleNone) {
		if got := role(i); got != want {
			t.Errorf("OrgRole of user %d = %v, want %v", i, got, want)
		}
	}
	if n := owners(); n != 1 {
		t.Errorf("CountOrgOwners = %d, want 1", n)
	}
	var want []control.Member
	for i, r := range roles {
		want = append(want, control.Member{UserID: users[i].ID, Email: users[i].Email, Name: users[i].Name, Role: r})
	}
	slices.SortFunc(want, func(a, b control.Member) int { return strings.Compare(a.UserID, b.UserID) })
	for _, limit := range []int{1, 3, 4} {
		got := walk(t, s, limit, memberID, func(tx control.Tx, p control.Page) ([]control.Member, error) { return tx.OrgMembers(ctx, o.ID, p) })
		same(t, fmt.Sprintf("OrgMembers by pages of %d", limit), got, want)
	}

	// A role changes in place; RoleNone removes it, twice without error.
	update(t, s, func(tx control.Tx) error { return tx.SetOrgRole(ctx, o.ID, users[1].ID, control.RoleOwner) })
	if got, n := role(1), owners(); got != control.RoleOwner || n != 2 {
		t.Errorf("after making an Admin Owner: role %v, %d owners; want owner, 2", got, n)
	}
	for range 2 {
		update(t, s, func(tx control.Tx) error { return tx.SetOrgRole(ctx, o.ID, users[2].ID, control.RoleNone) })
	}
	if got := role(2); got != control.RoleNone {
		t.Errorf("OrgRole after RoleNone = %v, want none", got)
	}
	ms := get(t, s, func(tx control.Tx) ([]control.Member, error) { return tx.OrgMembers(ctx, o.ID, control.Page{}) })
	if len(ms) != 3 || slices.ContainsFunc(ms, func(m control.Member) bool { return m.UserID == users[2].ID }) {
		t.Errorf("OrgMembers after a removal = %v, want three without user 2", ms)
	}
	update(t, s, func(tx control.Tx) error { return tx.SetOrgRole(ctx, o.ID, users[4].ID, control.RoleNone) })

	wantErr(t, "SetOrgRole in an unknown organization", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.SetOrgRole(ctx, control.NewID(), users[0].ID, control.RoleMember)
	}), store.ErrNotFound)
	wantErr(t, "SetOrgRole of an unknown user", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.SetOrgRole(ctx, o.ID, control.NewID(), control.RoleMember)
	}), store.ErrNotFound)
	if err := tryUpdate(t, s, func(tx control.Tx) error { return tx.SetOrgRole(ctx, o.ID, users[4].ID, control.Role(7)) }); err == nil {
		t.Error("SetOrgRole with role 7 succeeded")
	}
	if role(4) != control.RoleNone {
		t.Error("a refused SetOrgRole gave a role")
	}
	if n := get(t, s, func(tx control.Tx) (int, error) { return tx.CountOrgOwners(ctx, control.NewID()) }); n != 0 {
		t.Errorf("CountOrgOwners of an unknown organization = %d, want 0", n)
	}
	if r := get(t, s, func(tx control.Tx) (control.Role, error) { return tx.OrgRole(ctx, control.NewID(), users[0].ID) }); r != control.RoleNone {
		t.Errorf("OrgRole in an unknown organization = %v, want none", r)
	}
}

func testPackageMembers(t *testing.T, s control.Store) {
	ctx := t.Context()
	o := mkOrg("acme")
	users := []control.User{mkUser(userN(0)), mkUser(userN(1)), mkUser(userN(2))}
	seed(t, s, users, []control.Org{o})
	p, q := mkPackage(o.ID, "rocket", "get.acme.example"), mkPackage(o.ID, "other", "get.acme.example")
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreatePackage(ctx, p), tx.CreatePackage(ctx, q),
			tx.SetPackageRole(ctx, p.ID, users[0].ID, control.RoleOwner),
			tx.SetPackageRole(ctx, p.ID, users[1].ID, control.RoleMember),
			tx.SetPackageRole(ctx, q.ID, users[2].ID, control.RoleAdmin))
	})
	role := func(pkg string, i int) control.Role {
		t.Helper()
		return get(t, s, func(tx control.Tx) (control.Role, error) { return tx.PackageRole(ctx, pkg, users[i].ID) })
	}
	if r0, r1, r2 := role(p.ID, 0), role(p.ID, 1), role(p.ID, 2); r0 != control.RoleOwner || r1 != control.RoleMember || r2 != control.RoleNone {
		t.Errorf("PackageRole = %v, %v, %v; want owner, member, none", r0, r1, r2)
	}
	// Package roles are not organization roles.
	if r := get(t, s, func(tx control.Tx) (control.Role, error) { return tx.OrgRole(ctx, o.ID, users[0].ID) }); r != control.RoleNone {
		t.Errorf("OrgRole of a package member = %v, want none", r)
	}
	want := []control.Member{
		{UserID: users[0].ID, Email: users[0].Email, Role: control.RoleOwner},
		{UserID: users[1].ID, Email: users[1].Email, Role: control.RoleMember},
	}
	slices.SortFunc(want, func(a, b control.Member) int { return strings.Compare(a.UserID, b.UserID) })
	for _, limit := range []int{1, 2, 3} {
		got := walk(t, s, limit, memberID, func(tx control.Tx, pg control.Page) ([]control.Member, error) {
			return tx.PackageMembers(ctx, p.ID, pg)
		})
		same(t, fmt.Sprintf("PackageMembers by pages of %d", limit), got, want)
	}
	update(t, s, func(tx control.Tx) error { return tx.SetPackageRole(ctx, p.ID, users[1].ID, control.RoleAdmin) })
	if r := role(p.ID, 1); r != control.RoleAdmin {
		t.Errorf("PackageRole after a change = %v, want admin", r)
	}
	for range 2 {
		update(t, s, func(tx control.Tx) error { return tx.SetPackageRole(ctx, p.ID, users[0].ID, control.RoleNone) })
	}
	if r := role(p.ID, 0); r != control.RoleNone {
		t.Errorf("PackageRole after RoleNone = %v, want none", r)
	}
	wantErr(t, "SetPackageRole on an unknown package", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.SetPackageRole(ctx, control.NewID(), users[0].ID, control.RoleMember)
	}), store.ErrNotFound)
	wantErr(t, "SetPackageRole of an unknown user", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.SetPackageRole(ctx, p.ID, control.NewID(), control.RoleMember)
	}), store.ErrNotFound)
	if err := tryUpdate(t, s, func(tx control.Tx) error { return tx.SetPackageRole(ctx, p.ID, users[2].ID, control.Role(-1)) }); err == nil {
		t.Error("SetPackageRole with role -1 succeeded")
	}

	// DeletePackage removes its roles, and only its.
	update(t, s, func(tx control.Tx) error { return tx.DeletePackage(ctx, p.ID) })
	if r := role(p.ID, 1); r != control.RoleNone {
		t.Errorf("PackageRole on a deleted package = %v, want none", r)
	}
	if ms := get(t, s, func(tx control.Tx) ([]control.Member, error) { return tx.PackageMembers(ctx, p.ID, control.Page{}) }); len(ms) != 0 {
		t.Errorf("PackageMembers of a deleted package = %v, want none", ms)
	}
	if r := role(q.ID, 2); r != control.RoleAdmin {
		t.Errorf("PackageRole on another package after a delete = %v, want admin", r)
	}
}

func testPackages(t *testing.T, s control.Store) {
	ctx := t.Context()
	a, b := mkOrg("acme"), mkOrg("bolt")
	seed(t, s, nil, []control.Org{a, b})
	rocket := mkPackage(a.ID, "Rocket", "get.acme.example")
	// Not canonical: the store keeps whatever bytes it is given.
	rocket.Rule = json.RawMessage("{ \"type\": \"file-v1\",\n\t\"outgoing-url\":\"https://x.example/\\u00e9/é\" }")
	other := mkPackage(a.ID, "other", "get.acme.example")
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreatePackage(ctx, rocket), tx.CreatePackage(ctx, other))
	})

	same(t, "Package", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, rocket.ID) }), rocket)
	for _, name := range []string{"Rocket", "rocket", "ROCKET"} {
		same(t, "PackageByName "+name, get(t, s, func(tx control.Tx) (control.Package, error) { return tx.PackageByName(ctx, a.ID, name) }), rocket)
	}
	wantNotFound(t, s, "PackageByName in another organization", func(tx control.Tx) (control.Package, error) {
		return tx.PackageByName(ctx, b.ID, "rocket")
	})
	wantNotFound(t, s, "Package of an unknown id", func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, control.NewID()) })

	wantErr(t, "CreatePackage of a name taken in another case", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreatePackage(ctx, mkPackage(a.ID, "rocket", "get.acme.example"))
	}), store.ErrConflict)
	inB := mkPackage(b.ID, "rocket", "get.bolt.example")
	inB.Source, inB.Collection = control.SourceCollection, control.NewID()
	update(t, s, func(tx control.Tx) error { return tx.CreatePackage(ctx, inB) })
	same(t, "PackageByName of the same name in another organization", get(t, s, func(tx control.Tx) (control.Package, error) {
		return tx.PackageByName(ctx, b.ID, "Rocket")
	}), inB)
	wantErr(t, "CreatePackage in an unknown organization", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreatePackage(ctx, mkPackage(control.NewID(), "x", "x.example"))
	}), store.ErrNotFound)
	manifest := mkPackage(a.ID, "from-manifest", "get.acme.example")
	manifest.Source = control.SourceManifest
	if err := tryUpdate(t, s, func(tx control.Tx) error { return tx.CreatePackage(ctx, manifest) }); err == nil {
		t.Error("CreatePackage stored a package of the manifest")
	}

	// A rename to another case of the same name is no conflict; every
	// field but the id, organization and creation time changes.
	changed := control.Package{ID: rocket.ID, OrgID: b.ID, Name: "ROCKET", Host: "dl.acme.example", Rule: dockerRule("ghcr.io"),
		Source: control.SourceCollection, Collection: control.NewID(), Created: at(time.Hour), Updated: at(2 * time.Hour)}
	update(t, s, func(tx control.Tx) error { return tx.UpdatePackage(ctx, changed) })
	changed.OrgID, changed.Created = rocket.OrgID, rocket.Created
	same(t, "Package after UpdatePackage", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, rocket.ID) }), changed)
	clash := other
	clash.Name = "Rocket"
	wantErr(t, "UpdatePackage to a name taken in another case", tryUpdate(t, s, func(tx control.Tx) error { return tx.UpdatePackage(ctx, clash) }),
		store.ErrConflict)
	same(t, "Package after a refused rename", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, other.ID) }), other)
	wantErr(t, "UpdatePackage of an unknown package", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.UpdatePackage(ctx, mkPackage(a.ID, "new", "x.example"))
	}), store.ErrNotFound)

	update(t, s, func(tx control.Tx) error { return tx.DeletePackage(ctx, other.ID) })
	wantNotFound(t, s, "Package after DeletePackage", func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, other.ID) })
	wantErr(t, "DeletePackage of a deleted package", tryUpdate(t, s, func(tx control.Tx) error { return tx.DeletePackage(ctx, other.ID) }),
		store.ErrNotFound)
	// Its name is free again.
	update(t, s, func(tx control.Tx) error { return tx.CreatePackage(ctx, mkPackage(a.ID, "Other", "get.acme.example")) })

	// EachPackage visits every package in id order, and stops at fn's
	// error.
	var ids []string
	view(t, s, func(tx control.Tx) error {
		return tx.EachPackage(ctx, func(p control.Package) error {
			if p.ID == rocket.ID {
				same(t, "EachPackage row", p, changed)
			}
			ids = append(ids, p.ID)
			return nil
		})
	})
	all := get(t, s, func(tx control.Tx) ([]control.Package, error) {
		return tx.ListPackages(ctx, control.PackageFilter{}, control.Page{})
	})
	if len(all) != 3 {
		t.Errorf("ListPackages: %d packages, want 3", len(all))
	}
	wantKeys(t, "EachPackage", ids, sorted(keys(all, packageID)...))
	stop := errors.New("enough")
	calls := 0
	err := s.View(ctx, func(tx control.Tx) error {
		return tx.EachPackage(ctx, func(control.Package) error { calls++; return stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachPackage whose fn fails: %d calls, error %v; want 1 call and fn's error", calls, err)
	}
}

func testListPackages(t *testing.T, s control.Store) {
	ctx := t.Context()
	u, v := mkUser("ann@example.com"), mkUser("bob@example.com")
	a, b, c := mkOrg("acme"), mkOrg("bolt"), mkOrg("crux")
	seed(t, s, []control.User{u, v}, []control.Org{a, b, c})
	coll := control.NewID()
	const x, y = "x.example", "y.example"
	a1, a2 := mkPackage(a.ID, "a1", x), mkPackage(a.ID, "a2", y)
	b1, b2 := mkPackage(b.ID, "b1", x), mkPackage(b.ID, "b2", x)
	c1 := mkPackage(c.ID, "c1", x)
	a1.Source, a1.Collection = control.SourceCollection, coll
	b2.Source, b2.Collection = control.SourceCollection, coll
	update(t, s, func(tx control.Tx) error {
		for _, p := range []control.Package{a1, a2, b1, b2, c1} {
			if err := tx.CreatePackage(ctx, p); err != nil {
				return err
			}
		}
		// u: a member of acme, with a role on b1. v: an Owner of crux
		// only.
		return errors.Join(tx.SetOrgRole(ctx, a.ID, u.ID, control.RoleMember), tx.SetPackageRole(ctx, b1.ID, u.ID, control.RoleMember),
			tx.SetPackageRole(ctx, a1.ID, u.ID, control.RoleAdmin), tx.SetOrgRole(ctx, c.ID, v.ID, control.RoleOwner))
	})
	for _, tc := range []struct {
		f    control.PackageFilter
		want []control.Package
	}{
		{control.PackageFilter{}, []control.Package{a1, a2, b1, b2, c1}},
		{control.PackageFilter{OrgID: a.ID}, []control.Package{a1, a2}},
		{control.PackageFilter{UserID: u.ID}, []control.Package{a1, a2, b1}},
		{control.PackageFilter{UserID: v.ID}, []control.Package{c1}},
		{control.PackageFilter{UserID: control.NewID()}, nil},
		{control.PackageFilter{Host: x}, []control.Package{a1, b1, b2, c1}},
		{control.PackageFilter{Host: "z.example"}, nil},
		{control.PackageFilter{Collection: coll}, []control.Package{a1, b2}},
		{control.PackageFilter{UserID: u.ID, Host: x}, []control.Package{a1, b1}},
		{control.PackageFilter{OrgID: b.ID, UserID: u.ID}, []control.Package{b1}},
		{control.PackageFilter{OrgID: c.ID, UserID: u.ID}, nil},
		{control.PackageFilter{UserID: u.ID, Collection: coll}, []control.Package{a1}},
		{control.PackageFilter{OrgID: b.ID, Host: x, Collection: coll}, []control.Package{b2}},
		{control.PackageFilter{OrgID: a.ID, Host: y, UserID: u.ID}, []control.Package{a2}},
	} {
		for _, limit := range []int{1, 2, 10} {
			got := walk(t, s, limit, packageID, func(tx control.Tx, p control.Page) ([]control.Package, error) {
				return tx.ListPackages(ctx, tc.f, p)
			})
			want := slices.Clone(tc.want)
			slices.SortFunc(want, func(p, q control.Package) int { return strings.Compare(p.ID, q.ID) })
			if want == nil {
				want = []control.Package{}
			}
			if got == nil {
				got = []control.Package{}
			}
			same(t, fmt.Sprintf("ListPackages(%+v) by pages of %d", tc.f, limit), got, want)
		}
	}
}

func testCollections(t *testing.T, s control.Store) {
	ctx := t.Context()
	a, b := mkOrg("acme"), mkOrg("bolt")
	seed(t, s, nil, []control.Org{a, b})
	images := control.Collection{ID: control.NewID(), OrgID: a.ID, Name: "images",
		Rule: json.RawMessage(`{"type":"docker-v2", "image-pattern":"acme/*",  "registry":"ghcr.io"}`), Created: ctlBase, Updated: at(time.Second)}
	files := control.Collection{ID: control.NewID(), OrgID: b.ID, Name: "files", Rule: fileRule("https://dl.example/{x}"), Created: ctlBase}
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreateCollection(ctx, images), tx.CreateCollection(ctx, files))
	})
	same(t, "Collection", get(t, s, func(tx control.Tx) (control.Collection, error) { return tx.Collection(ctx, images.ID) }), images)
	wantNotFound(t, s, "Collection of an unknown id", func(tx control.Tx) (control.Collection, error) { return tx.Collection(ctx, control.NewID()) })
	wantErr(t, "CreateCollection with a taken id", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateCollection(ctx, images) }),
		store.ErrConflict)
	wantErr(t, "CreateCollection in an unknown organization", tryUpdate(t, s, func(tx control.Tx) error {
		c := files
		c.ID, c.OrgID = control.NewID(), control.NewID()
		return tx.CreateCollection(ctx, c)
	}), store.ErrNotFound)

	changed := control.Collection{ID: images.ID, OrgID: b.ID, Name: "containers", Rule: dockerRule("quay.io"), Created: at(time.Hour), Updated: at(time.Hour)}
	update(t, s, func(tx control.Tx) error { return tx.UpdateCollection(ctx, changed) })
	changed.OrgID, changed.Created = images.OrgID, images.Created
	same(t, "Collection after UpdateCollection", get(t, s, func(tx control.Tx) (control.Collection, error) {
		return tx.Collection(ctx, images.ID)
	}), changed)
	wantErr(t, "UpdateCollection of an unknown collection", tryUpdate(t, s, func(tx control.Tx) error {
		c := files
		c.ID = control.NewID()
		return tx.UpdateCollection(ctx, c)
	}), store.ErrNotFound)

	var inA []string
	update(t, s, func(tx control.Tx) error {
		for i := range 4 {
			c := control.Collection{ID: control.NewID(), OrgID: a.ID, Name: fmt.Sprint("c", i), Rule: fileRule("https://x.example/"), Created: ctlBase}
			inA = append(inA, c.ID)
			if err := tx.CreateCollection(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	inA = append(inA, images.ID)
	for _, limit := range []int{1, 2, 5} {
		got := walk(t, s, limit, collID, func(tx control.Tx, p control.Page) ([]control.Collection, error) {
			return tx.ListCollections(ctx, a.ID, p)
		})
		wantKeys(t, fmt.Sprintf("ListCollections of an organization by pages of %d", limit), keys(got, collID), sorted(inA...))
		got = walk(t, s, limit, collID, func(tx control.Tx, p control.Page) ([]control.Collection, error) {
			return tx.ListCollections(ctx, "", p)
		})
		wantKeys(t, fmt.Sprintf("ListCollections by pages of %d", limit), keys(got, collID), sorted(append(inA, files.ID)...))
	}

	// The packages a deleted collection created stay, as the API's.
	made, kept := mkPackage(a.ID, "made", "x.example"), mkPackage(a.ID, "kept", "x.example")
	made.Source, made.Collection = control.SourceCollection, images.ID
	kept.Source, kept.Collection = control.SourceCollection, inA[0]
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreatePackage(ctx, made), tx.CreatePackage(ctx, kept))
	})
	update(t, s, func(tx control.Tx) error { return tx.DeleteCollection(ctx, images.ID) })
	wantNotFound(t, s, "Collection after DeleteCollection", func(tx control.Tx) (control.Collection, error) { return tx.Collection(ctx, images.ID) })
	made.Source, made.Collection = control.SourceAPI, ""
	same(t, "a package of a deleted collection", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, made.ID) }), made)
	same(t, "a package of another collection", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, kept.ID) }), kept)
	wantErr(t, "DeleteCollection of a deleted collection", tryUpdate(t, s, func(tx control.Tx) error { return tx.DeleteCollection(ctx, images.ID) }),
		store.ErrNotFound)
}

func testDomains(t *testing.T, s control.Store) {
	ctx := t.Context()
	a, b := mkOrg("acme"), mkOrg("bolt")
	seed(t, s, nil, []control.Org{a, b})
	d := control.Domain{Name: "get.acme.example", OrgID: a.ID, Status: control.DomainPending, Challenge: "portico-abc", Created: ctlBase}
	update(t, s, func(tx control.Tx) error { return tx.CreateDomain(ctx, d) })
	same(t, "Domain", get(t, s, func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, d.Name) }), d)
	secure := control.Domain{Name: "secure.acme.example", OrgID: a.ID, Status: control.DomainVerified, Created: ctlBase, HTTPSOnly: true}
	update(t, s, func(tx control.Tx) error { return tx.CreateDomain(ctx, secure) })
	same(t, "Domain created HTTPS only", get(t, s, func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, secure.Name) }), secure)
	update(t, s, func(tx control.Tx) error { return tx.DeleteDomain(ctx, secure.Name) })
	wantNotFound(t, s, "Domain of an unknown name", func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, "nope.example") })
	wantErr(t, "CreateDomain of a name taken by another organization", tryUpdate(t, s, func(tx control.Tx) error {
		dup := d
		dup.OrgID = b.ID
		return tx.CreateDomain(ctx, dup)
	}), store.ErrConflict)
	wantErr(t, "CreateDomain in an unknown organization", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreateDomain(ctx, control.Domain{Name: "x.example", OrgID: control.NewID(), Status: control.DomainPending})
	}), store.ErrNotFound)
	if err := tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreateDomain(ctx, control.Domain{Name: "x.example", OrgID: a.ID})
	}); err == nil {
		t.Error("CreateDomain without a status succeeded")
	}

	failing := control.Domain{Name: d.Name, OrgID: b.ID, Status: control.DomainFailing, Challenge: "portico-def", LastCheck: at(time.Hour),
		LastError: "TXT _portico-challenge.get.acme.example does not hold portico-def", Verified: at(time.Minute), FailingSince: at(time.Hour),
		Created: at(time.Hour), HTTPSOnly: true}
	update(t, s, func(tx control.Tx) error { return tx.UpdateDomain(ctx, failing) })
	failing.OrgID, failing.Created = d.OrgID, d.Created
	same(t, "Domain after UpdateDomain", get(t, s, func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, d.Name) }), failing)
	// Times set back to zero read back as zero.
	pending := failing
	pending.Status, pending.FailingSince, pending.Verified, pending.LastError = control.DomainPending, time.Time{}, time.Time{}, ""
	update(t, s, func(tx control.Tx) error { return tx.UpdateDomain(ctx, pending) })
	same(t, "Domain after UpdateDomain with zero times", get(t, s, func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, d.Name) }), pending)
	wantErr(t, "UpdateDomain of an unknown domain", tryUpdate(t, s, func(tx control.Tx) error {
		u := pending
		u.Name = "nope.example"
		return tx.UpdateDomain(ctx, u)
	}), store.ErrNotFound)

	names := map[string][]string{a.ID: {d.Name}}
	update(t, s, func(tx control.Tx) error {
		for i, n := range []string{"b.example", "a.example", "z.example", "a.b.example", "m.example", "a-b.example"} {
			o := []control.Org{a, b}[i%2]
			names[o.ID] = append(names[o.ID], n)
			if err := tx.CreateDomain(ctx, control.Domain{Name: n, OrgID: o.ID, Status: control.DomainVerified, Created: ctlBase}); err != nil {
				return err
			}
		}
		return nil
	})
	for _, limit := range []int{1, 3, 7} {
		got := walk(t, s, limit, domainName, func(tx control.Tx, p control.Page) ([]control.Domain, error) { return tx.ListDomains(ctx, "", p) })
		wantKeys(t, fmt.Sprintf("ListDomains by pages of %d", limit), keys(got, domainName), sorted(append(names[a.ID], names[b.ID]...)...))
		got = walk(t, s, limit, domainName, func(tx control.Tx, p control.Page) ([]control.Domain, error) { return tx.ListDomains(ctx, b.ID, p) })
		wantKeys(t, fmt.Sprintf("ListDomains of an organization by pages of %d", limit), keys(got, domainName), sorted(names[b.ID]...))
	}

	update(t, s, func(tx control.Tx) error { return tx.DeleteDomain(ctx, d.Name) })
	wantNotFound(t, s, "Domain after DeleteDomain", func(tx control.Tx) (control.Domain, error) { return tx.Domain(ctx, d.Name) })
	wantErr(t, "DeleteDomain of a deleted domain", tryUpdate(t, s, func(tx control.Tx) error { return tx.DeleteDomain(ctx, d.Name) }), store.ErrNotFound)
}

func testTokens(t *testing.T, s control.Store) {
	ctx := t.Context()
	u, v := mkUser("ann@example.com"), mkUser("bob@example.com")
	seed(t, s, []control.User{u, v}, nil)
	forever := control.Token{ID: control.NewID(), UserID: u.ID, Name: "ci", Scope: control.ScopeRead, Hash: hashOf("t1"), Created: ctlBase}
	expiring := control.Token{ID: control.NewID(), UserID: u.ID, Name: "", Scope: control.ScopeWrite, Hash: hashOf("t2"), Created: ctlBase,
		Expires: at(30 * 24 * time.Hour)}
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreateToken(ctx, forever), tx.CreateToken(ctx, expiring))
	})
	same(t, "Token", get(t, s, func(tx control.Tx) (control.Token, error) { return tx.Token(ctx, forever.ID) }), forever)
	same(t, "TokenByHash", get(t, s, func(tx control.Tx) (control.Token, error) { return tx.TokenByHash(ctx, hashOf("t2")) }), expiring)
	wantNotFound(t, s, "Token of an unknown id", func(tx control.Tx) (control.Token, error) { return tx.Token(ctx, control.NewID()) })
	wantNotFound(t, s, "TokenByHash of an unknown hash", func(tx control.Tx) (control.Token, error) { return tx.TokenByHash(ctx, hashOf("t3")) })

	dup := forever
	dup.ID = control.NewID()
	wantErr(t, "CreateToken with a taken hash", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateToken(ctx, dup) }), store.ErrConflict)
	dup = forever
	dup.Hash = hashOf("t4")
	wantErr(t, "CreateToken with a taken id", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateToken(ctx, dup) }), store.ErrConflict)
	wantErr(t, "CreateToken of an unknown user", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreateToken(ctx, control.Token{ID: control.NewID(), UserID: control.NewID(), Scope: control.ScopeRead, Hash: hashOf("t5")})
	}), store.ErrNotFound)
	if err := tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreateToken(ctx, control.Token{ID: control.NewID(), UserID: u.ID, Hash: hashOf("t6")})
	}); err == nil {
		t.Error("CreateToken without a scope succeeded")
	}

	// The latest use is kept, whatever the order of the touches.
	touch := func(d time.Duration) {
		t.Helper()
		update(t, s, func(tx control.Tx) error { return tx.TouchToken(ctx, forever.ID, at(d)) })
	}
	lastUsed := func() time.Time {
		t.Helper()
		return get(t, s, func(tx control.Tx) (control.Token, error) { return tx.Token(ctx, forever.ID) }).LastUsed
	}
	touch(time.Hour)
	if got := lastUsed(); !got.Equal(at(time.Hour)) {
		t.Errorf("LastUsed after TouchToken = %v, want %v", got, at(time.Hour))
	}
	touch(time.Minute)
	if got := lastUsed(); !got.Equal(at(time.Hour)) {
		t.Errorf("LastUsed after an earlier TouchToken = %v, want still %v", got, at(time.Hour))
	}
	touch(2 * time.Hour)
	if got := lastUsed(); !got.Equal(at(2 * time.Hour)) {
		t.Errorf("LastUsed after a later TouchToken = %v, want %v", got, at(2*time.Hour))
	}
	wantErr(t, "TouchToken of an unknown token", tryUpdate(t, s, func(tx control.Tx) error { return tx.TouchToken(ctx, control.NewID(), ctlBase) }),
		store.ErrNotFound)

	// The first revocation is kept.
	update(t, s, func(tx control.Tx) error { return tx.RevokeToken(ctx, expiring.ID, at(3*time.Hour)) })
	update(t, s, func(tx control.Tx) error { return tx.RevokeToken(ctx, expiring.ID, at(4*time.Hour)) })
	revoked := get(t, s, func(tx control.Tx) (control.Token, error) { return tx.Token(ctx, expiring.ID) })
	if !revoked.Revoked.Equal(at(3*time.Hour)) || revoked.Usable(at(3*time.Hour)) {
		t.Errorf("a token revoked twice: Revoked %v, want the first time %v, and not usable", revoked.Revoked, at(3*time.Hour))
	}
	wantErr(t, "RevokeToken of an unknown token", tryUpdate(t, s, func(tx control.Tx) error { return tx.RevokeToken(ctx, control.NewID(), ctlBase) }),
		store.ErrNotFound)

	want := []string{forever.ID, expiring.ID}
	update(t, s, func(tx control.Tx) error {
		for i := range 5 {
			k := control.Token{ID: control.NewID(), UserID: u.ID, Scope: control.ScopeRead, Hash: hashOf(fmt.Sprint("more", i)), Created: ctlBase}
			want = append(want, k.ID)
			if err := tx.CreateToken(ctx, k); err != nil {
				return err
			}
		}
		return tx.CreateToken(ctx, control.Token{ID: control.NewID(), UserID: v.ID, Scope: control.ScopeWrite, Hash: hashOf("bob's"), Created: ctlBase})
	})
	for _, limit := range []int{1, 3, 7} {
		got := walk(t, s, limit, tokenID, func(tx control.Tx, p control.Page) ([]control.Token, error) { return tx.ListTokens(ctx, u.ID, p) })
		wantKeys(t, fmt.Sprintf("ListTokens, revoked ones included, by pages of %d", limit), keys(got, tokenID), sorted(want...))
	}
	if ks := get(t, s, func(tx control.Tx) ([]control.Token, error) {
		return tx.ListTokens(ctx, control.NewID(), control.Page{})
	}); len(ks) != 0 {
		t.Errorf("ListTokens of a user without tokens = %v, want none", ks)
	}
}

func testSessions(t *testing.T, s control.Store) {
	ctx := t.Context()
	u, v := mkUser("ann@example.com"), mkUser("bob@example.com")
	seed(t, s, []control.User{u, v}, nil)
	sess := func(name string, user control.User, expires time.Duration) control.Session {
		return control.Session{Hash: hashOf(name), UserID: user.ID, Created: ctlBase, Expires: at(expires)}
	}
	s1, s2, s3 := sess("s1", u, time.Hour), sess("s2", u, time.Hour), sess("s3", v, time.Hour)
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreateSession(ctx, s1), tx.CreateSession(ctx, s2), tx.CreateSession(ctx, s3))
	})
	same(t, "SessionByHash", get(t, s, func(tx control.Tx) (control.Session, error) { return tx.SessionByHash(ctx, s1.Hash) }), s1)
	wantNotFound(t, s, "SessionByHash of an unknown hash", func(tx control.Tx) (control.Session, error) { return tx.SessionByHash(ctx, hashOf("s4")) })
	wantErr(t, "CreateSession with a taken hash", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateSession(ctx, sess("s1", v, 0)) }),
		store.ErrConflict)
	wantErr(t, "CreateSession of an unknown user", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreateSession(ctx, control.Session{Hash: hashOf("s5"), UserID: control.NewID(), Expires: at(time.Hour)})
	}), store.ErrNotFound)

	update(t, s, func(tx control.Tx) error { return tx.DeleteSession(ctx, s1.Hash) })
	wantNotFound(t, s, "SessionByHash after DeleteSession", func(tx control.Tx) (control.Session, error) { return tx.SessionByHash(ctx, s1.Hash) })
	wantErr(t, "DeleteSession of a deleted session", tryUpdate(t, s, func(tx control.Tx) error { return tx.DeleteSession(ctx, s1.Hash) }),
		store.ErrNotFound)
	update(t, s, func(tx control.Tx) error { return tx.DeleteUserSessions(ctx, u.ID) })
	update(t, s, func(tx control.Tx) error { return tx.DeleteUserSessions(ctx, u.ID) })
	wantNotFound(t, s, "SessionByHash after DeleteUserSessions", func(tx control.Tx) (control.Session, error) {
		return tx.SessionByHash(ctx, s2.Hash)
	})
	same(t, "another user's session after DeleteUserSessions", get(t, s, func(tx control.Tx) (control.Session, error) {
		return tx.SessionByHash(ctx, s3.Hash)
	}), s3)

	// DeleteExpired removes what is no longer usable at now: expired
	// before now, or at now.
	now := at(24 * time.Hour)
	before, atNow, after := sess("before", u, 24*time.Hour-time.Millisecond), sess("at", u, 24*time.Hour), sess("after", u, 24*time.Hour+time.Millisecond)
	lBefore := control.SignInLink{Hash: hashOf("l-before"), UserID: u.ID, Expires: before.Expires}
	lAt := control.SignInLink{Hash: hashOf("l-at"), UserID: u.ID, Expires: now}
	lAfter := control.SignInLink{Hash: hashOf("l-after"), UserID: u.ID, Expires: after.Expires}
	update(t, s, func(tx control.Tx) error {
		return errors.Join(tx.CreateSession(ctx, before), tx.CreateSession(ctx, atNow), tx.CreateSession(ctx, after),
			tx.CreateSignInLink(ctx, lBefore), tx.CreateSignInLink(ctx, lAt), tx.CreateSignInLink(ctx, lAfter))
	})
	update(t, s, func(tx control.Tx) error { return tx.DeleteExpired(ctx, now) })
	for _, gone := range []control.Session{before, atNow} {
		wantNotFound(t, s, "a session expired at "+gone.Expires.String()+" after DeleteExpired at "+now.String(),
			func(tx control.Tx) (control.Session, error) { return tx.SessionByHash(ctx, gone.Hash) })
	}
	same(t, "a session still valid after DeleteExpired", get(t, s, func(tx control.Tx) (control.Session, error) {
		return tx.SessionByHash(ctx, after.Hash)
	}), after)
	err := s.Update(ctx, func(tx control.Tx) error {
		for _, gone := range []control.SignInLink{lBefore, lAt} {
			_, err := tx.UseSignInLink(ctx, gone.Hash)
			wantErr(t, "UseSignInLink of a link expired at "+gone.Expires.String()+" after DeleteExpired", err, store.ErrNotFound)
		}
		l, err := tx.UseSignInLink(ctx, lAfter.Hash)
		same(t, "a link still valid after DeleteExpired", l, lAfter)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testSignInLinks(t *testing.T, s control.Store) {
	ctx := t.Context()
	u := mkUser("ann@example.com")
	seed(t, s, []control.User{u}, nil)
	l := control.SignInLink{Hash: hashOf("link"), UserID: u.ID, Expires: at(time.Hour)}
	update(t, s, func(tx control.Tx) error { return tx.CreateSignInLink(ctx, l) })
	wantErr(t, "CreateSignInLink with a taken hash", tryUpdate(t, s, func(tx control.Tx) error { return tx.CreateSignInLink(ctx, l) }),
		store.ErrConflict)
	wantErr(t, "CreateSignInLink of an unknown user", tryUpdate(t, s, func(tx control.Tx) error {
		return tx.CreateSignInLink(ctx, control.SignInLink{Hash: hashOf("other"), UserID: control.NewID(), Expires: at(time.Hour)})
	}), store.ErrNotFound)
	var used control.SignInLink
	update(t, s, func(tx control.Tx) error {
		var err error
		used, err = tx.UseSignInLink(ctx, l.Hash)
		return err
	})
	same(t, "UseSignInLink", used, l)
	wantErr(t, "UseSignInLink a second time", tryUpdate(t, s, func(tx control.Tx) error {
		_, err := tx.UseSignInLink(ctx, l.Hash)
		return err
	}), store.ErrNotFound)
	// A use that is rolled back leaves the link.
	l2 := control.SignInLink{Hash: hashOf("link2"), UserID: u.ID, Expires: at(time.Hour)}
	update(t, s, func(tx control.Tx) error { return tx.CreateSignInLink(ctx, l2) })
	boom := errors.New("boom")
	_ = tryUpdate(t, s, func(tx control.Tx) error {
		if _, err := tx.UseSignInLink(ctx, l2.Hash); err != nil {
			return err
		}
		return boom
	})
	update(t, s, func(tx control.Tx) error {
		_, err := tx.UseSignInLink(ctx, l2.Hash)
		return err
	})
}

func testTimes(t *testing.T, s control.Store) {
	ctx := t.Context()
	// Nanoseconds, in another zone: read back in UTC, to the millisecond
	// or better.
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	fine := time.Date(2026, 4, 1, 18, 0, 15, 123_456_789, zone)
	u := mkUser("ann@example.com")
	u.Created = fine
	k := control.Token{ID: control.NewID(), UserID: u.ID, Scope: control.ScopeRead, Hash: hashOf("t"), Created: fine,
		Expires: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), LastUsed: time.Unix(0, 1e6).UTC()}
	update(t, s, func(tx control.Tx) error { return errors.Join(tx.CreateUser(ctx, u), tx.CreateToken(ctx, k)) })
	got := get(t, s, func(tx control.Tx) (control.User, error) { return tx.User(ctx, u.ID) }).Created
	if d := got.Sub(fine); d <= -time.Millisecond || d >= time.Millisecond || got.Location() != time.UTC {
		t.Errorf("Created %v read back as %v: want the same instant to the millisecond, in UTC", fine, got)
	}
	tok := get(t, s, func(tx control.Tx) (control.Token, error) { return tx.Token(ctx, k.ID) })
	if d := tok.Created.Sub(fine); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("Token.Created %v read back as %v", fine, tok.Created)
	}
	if !tok.Expires.Equal(k.Expires) || !tok.LastUsed.Equal(k.LastUsed) || !tok.Revoked.IsZero() {
		t.Errorf("token times read back as expires %v, last used %v, revoked %v; want %v, %v, zero",
			tok.Expires, tok.LastUsed, tok.Revoked, k.Expires, k.LastUsed)
	}
}

func testConfigVersion(t *testing.T, stores []control.Store) {
	ctx := t.Context()
	s, peer := stores[0], stores[1]
	version := func(s control.Store) int64 {
		t.Helper()
		v, err := s.ConfigVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v0 := version(s)
	step := func(what string, want int64, fn func(control.Tx) error, viewOnly bool) {
		t.Helper()
		if viewOnly {
			_ = s.View(ctx, fn)
		} else {
			_ = s.Update(ctx, fn)
		}
		if got := version(s); got != want {
			t.Errorf("%s: config version %d, want %d", what, got, want)
		}
		if got := version(peer); got != want {
			t.Errorf("%s: config version %d on another store of the database, want %d", what, got, want)
		}
	}
	step("an Update without RoutingChanged", v0, func(tx control.Tx) error { return tx.CreateOrg(ctx, mkOrg("a")) }, false)
	step("an Update that called RoutingChanged twice", v0+1, func(tx control.Tx) error {
		tx.RoutingChanged()
		tx.RoutingChanged()
		return tx.CreateOrg(ctx, mkOrg("b"))
	}, false)
	step("an Update that called RoutingChanged and failed", v0+1, func(tx control.Tx) error {
		tx.RoutingChanged()
		if err := tx.CreateOrg(ctx, mkOrg("c")); err != nil {
			return err
		}
		return errors.New("changed my mind")
	}, false)
	step("a View that called RoutingChanged", v0+1, func(tx control.Tx) error {
		tx.RoutingChanged()
		return nil
	}, true)
	step("an Update that called RoutingChanged and wrote nothing", v0+2, func(tx control.Tx) error {
		tx.RoutingChanged()
		return nil
	}, false)
	if err := peer.Update(ctx, func(tx control.Tx) error { tx.RoutingChanged(); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := version(s); got != v0+3 {
		t.Errorf("after a routing change through another store: config version %d, want %d", got, v0+3)
	}
	wantNotFound(t, s, "an organization of a failed Update", func(tx control.Tx) (control.Org, error) { return tx.OrgByName(ctx, "c") })
}

func testRollback(t *testing.T, s control.Store) {
	ctx := t.Context()
	u := mkUser("ann@example.com")
	o := mkOrg("acme")
	seed(t, s, []control.User{mkUser("other@example.com")}, nil)
	v0, err := s.ConfigVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx control.Tx) error {
		tx.RoutingChanged()
		if err := errors.Join(tx.CreateUser(ctx, u), tx.CreateOrg(ctx, o), tx.SetOrgRole(ctx, o.ID, u.ID, control.RoleOwner),
			tx.CreatePackage(ctx, mkPackage(o.ID, "p", "x.example"))); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update whose fn failed returned %v, want fn's error", err)
	}
	wantNotFound(t, s, "a user of a failed Update", func(tx control.Tx) (control.User, error) { return tx.User(ctx, u.ID) })
	wantNotFound(t, s, "an organization of a failed Update", func(tx control.Tx) (control.Org, error) { return tx.Org(ctx, o.ID) })
	view(t, s, func(tx control.Tx) error {
		ps, err := tx.ListPackages(ctx, control.PackageFilter{}, control.Page{})
		if len(ps) != 0 {
			t.Errorf("packages of a failed Update: %v", ps)
		}
		return err
	})

	// A panic in fn rolls back too, and leaves the store usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("fn's panic did not reach the caller of Update")
			}
		}()
		_ = s.Update(ctx, func(tx control.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	wantNotFound(t, s, "a user of an Update that panicked", func(tx control.Tx) (control.User, error) { return tx.User(ctx, u.ID) })
	seed(t, s, []control.User{u}, []control.Org{o})
	if v, err := s.ConfigVersion(ctx); err != nil || v != v0 {
		t.Errorf("config version after failed Updates = %d, %v; want %d", v, err, v0)
	}
}

// testRefusedWrites checks that a write refused with ErrConflict or
// ErrNotFound leaves the transaction usable, as the service expects when
// it reports a conflict and goes on.
func testRefusedWrites(t *testing.T, s control.Store) {
	ctx := t.Context()
	ann, o := mkUser("ann@example.com"), mkOrg("acme")
	seed(t, s, []control.User{ann}, []control.Org{o})
	p := mkPackage(o.ID, "rocket", "x.example")
	bob := mkUser("bob@example.com")
	update(t, s, func(tx control.Tx) error {
		wantErr(t, "CreateUser with a taken address", tx.CreateUser(ctx, mkUser(ann.Email)), store.ErrConflict)
		wantErr(t, "CreateOrg with a taken name", tx.CreateOrg(ctx, mkOrg("acme")), store.ErrConflict)
		taken := ann
		taken.ID = control.NewID()
		wantErr(t, "UpdateUser of an unknown user", tx.UpdateUser(ctx, taken), store.ErrNotFound)
		_, err := tx.User(ctx, control.NewID())
		wantErr(t, "User of an unknown id", err, store.ErrNotFound)
		if err := tx.CreatePackage(ctx, p); err != nil {
			return err
		}
		wantErr(t, "CreatePackage with a taken name", tx.CreatePackage(ctx, mkPackage(o.ID, "ROCKET", "x.example")), store.ErrConflict)
		if err := tx.CreateUser(ctx, bob); err != nil {
			return err
		}
		bob.Email = ann.Email
		wantErr(t, "UpdateUser to a taken address", tx.UpdateUser(ctx, bob), store.ErrConflict)
		bob.Email = "bob@example.com"
		return tx.SetOrgRole(ctx, o.ID, bob.ID, control.RoleAdmin)
	})
	same(t, "a user created after refused writes", get(t, s, func(tx control.Tx) (control.User, error) { return tx.User(ctx, bob.ID) }), bob)
	same(t, "a package created after refused writes", get(t, s, func(tx control.Tx) (control.Package, error) { return tx.Package(ctx, p.ID) }), p)
	if r := get(t, s, func(tx control.Tx) (control.Role, error) { return tx.OrgRole(ctx, o.ID, bob.ID) }); r != control.RoleAdmin {
		t.Errorf("a role given after refused writes = %v, want admin", r)
	}
}

func testTxAfterEnd(t *testing.T, s control.Store) {
	ctx := t.Context()
	u := mkUser("ann@example.com")
	var kept control.Tx
	update(t, s, func(tx control.Tx) error { kept = tx; return nil })
	if err := kept.CreateUser(ctx, u); err == nil {
		t.Error("CreateUser on the Tx of an ended Update succeeded")
	}
	view(t, s, func(tx control.Tx) error { kept = tx; return nil })
	if _, err := kept.ListUsers(ctx, control.Page{}); err == nil {
		t.Error("ListUsers on the Tx of an ended View succeeded")
	}
	wantNotFound(t, s, "a user created on an ended Tx", func(tx control.Tx) (control.User, error) { return tx.User(ctx, u.ID) })
}

func testViewReadOnly(t *testing.T, s control.Store) {
	ctx := t.Context()
	u := mkUser("ann@example.com")
	l := control.SignInLink{Hash: hashOf("link"), UserID: u.ID, Expires: at(time.Hour)}
	seed(t, s, []control.User{u}, nil)
	update(t, s, func(tx control.Tx) error { return tx.CreateSignInLink(ctx, l) })
	_ = s.View(ctx, func(tx control.Tx) error {
		if err := tx.CreateOrg(ctx, mkOrg("acme")); err == nil {
			t.Error("CreateOrg in a View succeeded")
		}
		return nil
	})
	_ = s.View(ctx, func(tx control.Tx) error {
		if _, err := tx.UseSignInLink(ctx, l.Hash); err == nil {
			t.Error("UseSignInLink in a View succeeded")
		}
		return nil
	})
	wantNotFound(t, s, "an organization created in a View", func(tx control.Tx) (control.Org, error) { return tx.OrgByName(ctx, "acme") })
	update(t, s, func(tx control.Tx) error {
		_, err := tx.UseSignInLink(ctx, l.Hash)
		return err
	})
}

// testViewSnapshot checks that a View reads one snapshot: an Update that
// commits while it runs is not seen.
func testViewSnapshot(t *testing.T, s control.Store) {
	ctx := t.Context()
	u := mkUser("ann@example.com")
	u.Name = "before"
	seed(t, s, []control.User{u}, nil)
	view(t, s, func(tx control.Tx) error {
		first, err := tx.User(ctx, u.ID)
		if err != nil {
			return err
		}
		changed := u
		changed.Name = "after"
		update(t, s, func(tx control.Tx) error {
			return errors.Join(tx.UpdateUser(ctx, changed), tx.CreateOrg(ctx, mkOrg("acme")))
		})
		again, err := tx.User(ctx, u.ID)
		if err != nil {
			return err
		}
		if first.Name != "before" || again.Name != "before" {
			t.Errorf("one View read the name as %q, then %q after an Update committed; want %q both times", first.Name, again.Name, "before")
		}
		if _, err := tx.OrgByName(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a View found an organization created after it started (%v)", err)
		}
		return nil
	})
	if got := get(t, s, func(tx control.Tx) (control.User, error) { return tx.User(ctx, u.ID) }); got.Name != "after" {
		t.Errorf("a View after the Update read the name as %q, want %q", got.Name, "after")
	}
}

// testConcurrentUpdates runs Updates that each read a counter and write
// it back incremented, from many goroutines over the stores: none may be
// lost.
func testConcurrentUpdates(t *testing.T, stores []control.Store) {
	ctx := t.Context()
	counter := mkUser("counter@example.com")
	counter.Name = "0"
	seed(t, stores[0], []control.User{counter}, nil)
	const goroutines, rounds = 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := range goroutines {
		s := stores[g%len(stores)]
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(ctx, func(tx control.Tx) error {
					u, err := tx.User(ctx, counter.ID)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(u.Name)
					if err != nil {
						return err
					}
					u.Name = strconv.Itoa(n + 1)
					tx.RoutingChanged()
					return tx.UpdateUser(ctx, u)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("concurrent Update: %v", err)
			}
		}
	}
	got := get(t, stores[len(stores)-1], func(tx control.Tx) (control.User, error) { return tx.User(ctx, counter.ID) })
	if want := strconv.Itoa(goroutines * rounds); got.Name != want {
		t.Errorf("after %d concurrent increments over %d store(s), the counter is %s, want %s (%d Updates failed)",
			goroutines*rounds, len(stores), got.Name, want, failed)
	}
	for i, s := range stores {
		if v, err := s.ConfigVersion(ctx); err != nil || v != goroutines*rounds {
			t.Errorf("config version on store %d after %d routing changes = %d, %v; want %d", i, goroutines*rounds, v, err, goroutines*rounds)
		}
	}
}
