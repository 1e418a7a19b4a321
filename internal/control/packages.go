package control

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"portico/internal/store"
)

// A PackageView is a package with the principal's access to it.
type PackageView struct {
	Package
	// Org is the name of the package's organization ("" for manifest
	// packages).
	Org string
	// Role is the principal's role on the package.
	Role Role
	// ReadOnly is set for packages that cannot be changed through the
	// API: those of the manifest file.
	ReadOnly bool
}

// ListPackages lists the packages the principal may read, of one
// organization when org is not "", by id. Server administrators also see
// the manifest's packages in an unfiltered list, merged into the same
// order, so that a cursor (the last id of a page) continues either kind.
func (s *Service) ListPackages(ctx context.Context, p Principal, org string, pg Page) ([]PackageView, error) {
	pg = page(pg)
	var out []PackageView
	err := s.store.View(ctx, func(tx Tx) error {
		var f PackageFilter
		if org != "" {
			o, _, err := readableOrg(ctx, tx, p, org)
			if err != nil {
				return err
			}
			f.OrgID = o.ID
		}
		if !p.User.ServerAdmin {
			if p.User.ID == "" {
				return nil
			}
			f.UserID = p.User.ID
		}
		pkgs, err := tx.ListPackages(ctx, f, page(pg))
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, pkg := range pkgs {
			v, err := s.packageView(ctx, tx, p, pkg, names)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.User.ServerAdmin && org == "" {
		out = mergeManifest(out, s.manifest(), pg)
	}
	return out, nil
}

// mergeManifest merges the manifest's packages that fall on page pg into
// stored, one page of the store's packages in id order, and returns at
// most pg.Limit of them in id order. Each source gave (or gives here)
// its first pg.Limit packages after the cursor, so the merge's first
// pg.Limit are the page's. A store package with a manifest package's id
// is listed alone, as GetPackage finds it first.
func mergeManifest(stored []PackageView, manifest []Package, pg Page) []PackageView {
	var extra []PackageView
	for _, pkg := range manifest {
		if pkg.ID > pg.After {
			extra = append(extra, PackageView{Package: pkg, Role: RoleOwner, ReadOnly: true})
		}
	}
	if len(extra) == 0 {
		return stored
	}
	slices.SortFunc(extra, func(a, b PackageView) int { return strings.Compare(a.ID, b.ID) })
	out := make([]PackageView, 0, min(len(stored)+len(extra), pg.Limit))
	for i, j := 0, 0; len(out) < pg.Limit && (i < len(stored) || j < len(extra)); {
		switch {
		case j == len(extra) || i < len(stored) && stored[i].ID <= extra[j].ID:
			if j < len(extra) && stored[i].ID == extra[j].ID {
				j++
			}
			out = append(out, stored[i])
			i++
		default:
			out = append(out, extra[j])
			j++
		}
	}
	return out
}

func (s *Service) packageView(ctx context.Context, tx Tx, p Principal, pkg Package, orgNames map[string]string) (PackageView, error) {
	a, err := packageAccess(ctx, tx, p, pkg)
	if err != nil {
		return PackageView{}, err
	}
	name, ok := orgNames[pkg.OrgID]
	if !ok {
		o, err := tx.Org(ctx, pkg.OrgID)
		if err != nil {
			return PackageView{}, err
		}
		name = o.Name
		if orgNames != nil {
			orgNames[pkg.OrgID] = name
		}
	}
	return PackageView{Package: pkg, Org: name, Role: a.Role()}, nil
}

// readablePackage finds a package p may read; one it may not is not
// found.
func readablePackage(ctx context.Context, tx Tx, p Principal, id string) (Package, Access, error) {
	pkg, err := tx.Package(ctx, id)
	if err != nil {
		return Package{}, Access{}, translate(err, "package "+quote(id))
	}
	a, err := packageAccess(ctx, tx, p, pkg)
	if err != nil {
		return Package{}, Access{}, err
	}
	if !a.CanRead() {
		return Package{}, Access{}, NotFound("package " + quote(id))
	}
	return pkg, a, nil
}

// PublishedPackage returns the package that the organization named org
// publishes as name, regardless of the name's case: what a badge URL
// names. Anyone may ask, since the answer goes no further than the
// badge drawn from it.
func (s *Service) PublishedPackage(ctx context.Context, org, name string) (Package, error) {
	var pkg Package
	err := s.store.View(ctx, func(tx Tx) error {
		o, err := tx.OrgByName(ctx, org)
		if err != nil {
			return translate(err, "organization "+quote(org))
		}
		pkg, err = tx.PackageByName(ctx, o.ID, name)
		return translate(err, "package "+quote(name))
	})
	return pkg, err
}

// GetPackage returns a package the principal may read.
func (s *Service) GetPackage(ctx context.Context, p Principal, id string) (PackageView, error) {
	var v PackageView
	err := s.store.View(ctx, func(tx Tx) error {
		pkg, _, err := readablePackage(ctx, tx, p, id)
		if err != nil {
			return err
		}
		v, err = s.packageView(ctx, tx, p, pkg, nil)
		return err
	})
	if KindOf(err) == KindNotFound && p.User.ServerAdmin {
		for _, pkg := range s.manifest() {
			if pkg.ID == id {
				return PackageView{Package: pkg, Role: RoleOwner, ReadOnly: true}, nil
			}
		}
	}
	return v, err
}

// NewPackage is what a package is created from.
type NewPackage struct {
	Org  string
	Name string
	Rule json.RawMessage
}

// CreatePackage creates a package entry in an organization whose
// configuration the principal may edit. Its rule must serve a domain the
// organization owns and that is verified (or the organization's domain
// under the base domain), and must not conflict with what that domain
// serves already.
func (s *Service) CreatePackage(ctx context.Context, p Principal, np NewPackage) (PackageView, error) {
	if err := needWrite(p); err != nil {
		return PackageView{}, err
	}
	if np.Org == "" {
		return PackageView{}, Invalid("org", "must name an organization")
	}
	if err := CheckPackageName(np.Name); err != nil {
		return PackageView{}, Invalid("name", "%v", err)
	}
	cr, err := s.checkRule(np.Rule)
	if err != nil {
		return PackageView{}, err
	}
	id := cr.ID
	if id == "" {
		id = NewID()
	} else if err := CheckPackageID(id); err != nil {
		return PackageView{}, Invalid("rule.package-id", "%v", err)
	}
	now := s.now().UTC()
	pkg := Package{ID: id, Name: np.Name, Host: cr.Host, Rule: cr.Canonical, Source: SourceAPI, Created: now, Updated: now}
	var v PackageView
	err = s.update(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, np.Org)
		if err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("creating packages takes an Admin or Owner of the organization")
		}
		pkg.OrgID = o.ID
		if err := s.checkPlacement(ctx, tx, o, pkg); err != nil {
			return err
		}
		if _, err := tx.Package(ctx, pkg.ID); err == nil {
			return Conflict("rule.package-id", "a package with the id %q exists", pkg.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.CreatePackage(ctx, pkg); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "organization %q has a package named %q", o.Name, pkg.Name)
			}
			return err
		}
		tx.RoutingChanged()
		v = PackageView{Package: pkg, Org: o.Name, Role: a.Role()}
		return nil
	})
	if err != nil {
		return PackageView{}, err
	}
	s.log.Info("package created", "package", pkg.ID, "org", v.Org, "host", pkg.Host)
	return v, nil
}

// checkRule validates a rule as received in the request field "rule".
func (s *Service) checkRule(raw json.RawMessage) (CheckedRule, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return CheckedRule{}, Invalid("rule", "is required: a manifest rule such as {\"type\":\"file-v1\",…}")
	}
	return s.rules.CheckRule("rule", raw)
}

// checkPlacement checks that pkg may serve its host: the host belongs to
// the organization and routes, and pkg does not conflict with the other
// rules of the host.
func (s *Service) checkPlacement(ctx context.Context, tx Tx, o Org, pkg Package) error {
	if !(s.base != "" && pkg.Host == o.Name+"."+s.base) {
		d, err := tx.Domain(ctx, pkg.Host)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || d.OrgID != o.ID || !d.Status.Routes() {
			return &Error{Kind: KindInvalid, Field: "rule.domain",
				Message: quote(pkg.Host) + " is not a verified domain of organization " + quote(o.Name) + ": add it to the organization and verify it first"}
		}
	}
	same, err := s.hostRules(ctx, tx, pkg.Host, pkg.ID)
	if err != nil {
		return err
	}
	return s.rules.CheckHost(pkg.Host, append(same, packageRule(pkg)))
}

// hostRules returns the store's packages and collections that serve
// host, but the one with id except.
func (s *Service) hostRules(ctx context.Context, tx Tx, host, except string) ([]HostRule, error) {
	var out []HostRule
	for pg := (Page{Limit: MaxLimit}); ; {
		pkgs, err := tx.ListPackages(ctx, PackageFilter{Host: host}, pg)
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			if p.ID != except {
				out = append(out, packageRule(p))
			}
		}
		if len(pkgs) < pg.Limit {
			break
		}
		pg.After = pkgs[len(pkgs)-1].ID
	}
	// Collections keep no host of their own: their rules say it. There
	// are few of them, and a domain may have changed hands since one
	// was made, so every organization's are looked at.
	for pg := (Page{Limit: MaxLimit}); ; {
		cs, err := tx.ListCollections(ctx, "", pg)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.ID == except {
				continue
			}
			if cr, err := s.rules.CheckCollection("rule", c.Rule); err == nil && cr.Host == host {
				out = append(out, collectionRule(c))
			}
		}
		if len(cs) < pg.Limit {
			break
		}
		pg.After = cs[len(cs)-1].ID
	}
	return out, nil
}

// PackagePatch is a change to a package; nil fields are kept.
type PackagePatch struct {
	Name *string
	Rule json.RawMessage
}

// UpdatePackage renames a package or replaces its rule. The package's id
// stays, and with it its analytics and its users' commands.
func (s *Service) UpdatePackage(ctx context.Context, p Principal, id string, patch PackagePatch) (PackageView, error) {
	if err := needWrite(p); err != nil {
		return PackageView{}, err
	}
	if patch.Name != nil {
		if err := CheckPackageName(*patch.Name); err != nil {
			return PackageView{}, Invalid("name", "%v", err)
		}
	}
	var cr CheckedRule
	if patch.Rule != nil {
		var err error
		if cr, err = s.checkRule(patch.Rule); err != nil {
			return PackageView{}, err
		}
	}
	var v PackageView
	err := s.update(ctx, func(tx Tx) error {
		pkg, a, err := readablePackage(ctx, tx, p, id)
		if err != nil {
			return s.manifestReadOnly(id, err)
		}
		if !a.CanEdit() {
			return Forbidden("changing a package takes an Admin or Owner")
		}
		o, err := tx.Org(ctx, pkg.OrgID)
		if err != nil {
			return err
		}
		if patch.Name != nil {
			pkg.Name = *patch.Name
		}
		if cr.Canonical != nil {
			if cr.ID != "" && cr.ID != pkg.ID {
				return Invalid("rule.package-id", "is the package's id, %q, which never changes", pkg.ID)
			}
			pkg.Rule, pkg.Host = cr.Canonical, cr.Host
			if err := s.checkPlacement(ctx, tx, o, pkg); err != nil {
				return err
			}
			tx.RoutingChanged()
		}
		pkg.Updated = s.now().UTC()
		if err := tx.UpdatePackage(ctx, pkg); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "organization %q has a package named %q", o.Name, pkg.Name)
			}
			return err
		}
		v = PackageView{Package: pkg, Org: o.Name, Role: a.Role()}
		return nil
	})
	return v, err
}

// manifestReadOnly turns "not found" for a manifest package into the
// reason it cannot be changed.
func (s *Service) manifestReadOnly(id string, err error) error {
	if KindOf(err) != KindNotFound {
		return err
	}
	for _, pkg := range s.manifest() {
		if pkg.ID == id {
			return Conflict("", "package %q comes from the manifest file: change it there, or import the manifest into the store", id)
		}
	}
	return err
}

// DeletePackage deletes a package. Its analytics stay.
func (s *Service) DeletePackage(ctx context.Context, p Principal, id string) error {
	if err := needWrite(p); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		pkg, a, err := readablePackage(ctx, tx, p, id)
		if err != nil {
			return s.manifestReadOnly(id, err)
		}
		if !a.CanDelete(false) {
			return Forbidden("deleting a package takes an Admin or Owner")
		}
		tx.RoutingChanged()
		return tx.DeletePackage(ctx, pkg.ID)
	})
}

// PackageMembers lists the users with a role on the package itself
// (members of its organization have theirs from the organization).
func (s *Service) PackageMembers(ctx context.Context, p Principal, id string, pg Page) ([]Member, error) {
	var ms []Member
	err := s.store.View(ctx, func(tx Tx) error {
		pkg, _, err := readablePackage(ctx, tx, p, id)
		if err != nil {
			return err
		}
		ms, err = tx.PackageMembers(ctx, pkg.ID, page(pg))
		return err
	})
	return ms, err
}

// SetPackageMember gives a user a role on a package (RoleNone removes
// it). The role adds to what the user has from the organization.
func (s *Service) SetPackageMember(ctx context.Context, p Principal, id, email string, role Role) (Member, error) {
	if err := needWrite(p); err != nil {
		return Member{}, err
	}
	var m Member
	err := s.update(ctx, func(tx Tx) error {
		pkg, a, err := readablePackage(ctx, tx, p, id)
		if err != nil {
			return err
		}
		u, err := userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		from, err := tx.PackageRole(ctx, pkg.ID, u.ID)
		if err != nil {
			return err
		}
		if from == RoleNone && role == RoleNone {
			return NotFound("member " + quote(u.Email))
		}
		c := MemberChange{Self: u.ID == p.User.ID, From: from, To: role}
		if err := a.CheckMemberChange(c); err != nil {
			return memberError(err, a, c)
		}
		m = Member{UserID: u.ID, Email: u.Email, Name: u.Name, Role: role}
		return tx.SetPackageRole(ctx, pkg.ID, u.ID, role)
	})
	return m, err
}
