package control

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"portico/internal/gateway"
	"portico/internal/store"
)

// A CollectionView is a collection with its organization's name.
type CollectionView struct {
	Collection
	Org string
	// Host is the host the collection's rule serves.
	Host string
}

// NewCollection is what a collection is created from.
type NewCollection struct {
	Org  string
	Name string
	Rule json.RawMessage
}

func (s *Service) checkCollectionRule(raw json.RawMessage) (CheckedRule, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return CheckedRule{}, Invalid("rule", "is required: a docker-v2 rule, or a file-v1 or file-v2 rule whose template has a {package} variable")
	}
	return s.rules.CheckCollection("rule", raw)
}

// ListCollections lists the collections of the organizations the
// principal may read, or of one, by id.
func (s *Service) ListCollections(ctx context.Context, p Principal, org string, pg Page) ([]CollectionView, error) {
	pg = page(pg)
	var out []CollectionView
	err := s.store.View(ctx, func(tx Tx) error {
		var orgs []Org
		var cs []Collection
		switch {
		case org != "":
			o, _, err := readableOrg(ctx, tx, p, org)
			if err != nil {
				return err
			}
			orgs = []Org{o}
			if cs, err = tx.ListCollections(ctx, o.ID, pg); err != nil {
				return err
			}
		case p.User.ServerAdmin:
			var err error
			if cs, err = tx.ListCollections(ctx, "", pg); err != nil {
				return err
			}
		default:
			// A user belongs to few organizations: each gives its
			// first page after the cursor, and the merge's first page
			// is the page.
			var err error
			if orgs, err = s.readableOrgs(ctx, tx, p); err != nil {
				return err
			}
			for _, o := range orgs {
				some, err := tx.ListCollections(ctx, o.ID, pg)
				if err != nil {
					return err
				}
				cs = append(cs, some...)
			}
			slices.SortFunc(cs, func(a, b Collection) int { return strings.Compare(a.ID, b.ID) })
			cs = cs[:min(len(cs), pg.Limit)]
		}
		names := make(map[string]string, len(orgs))
		for _, o := range orgs {
			names[o.ID] = o.Name
		}
		for _, c := range cs {
			name, ok := names[c.OrgID]
			if !ok {
				o, err := tx.Org(ctx, c.OrgID)
				if err != nil {
					return err
				}
				name = o.Name
				names[c.OrgID] = name
			}
			out = append(out, s.collectionView(c, name))
		}
		return nil
	})
	return out, err
}

func (s *Service) collectionView(c Collection, org string) CollectionView {
	v := CollectionView{Collection: c, Org: org}
	if cr, err := s.rules.CheckCollection("rule", c.Rule); err == nil {
		v.Host = cr.Host
	}
	return v
}

func readableCollection(ctx context.Context, tx Tx, p Principal, id string) (Collection, Org, Access, error) {
	c, err := tx.Collection(ctx, id)
	if err != nil {
		return Collection{}, Org{}, Access{}, translate(err, "collection "+quote(id))
	}
	a, err := orgAccess(ctx, tx, p, c.OrgID)
	if err != nil {
		return Collection{}, Org{}, Access{}, err
	}
	if !a.CanRead() {
		return Collection{}, Org{}, Access{}, NotFound("collection " + quote(id))
	}
	o, err := tx.Org(ctx, c.OrgID)
	return c, o, a, err
}

// GetCollection returns a collection the principal may read.
func (s *Service) GetCollection(ctx context.Context, p Principal, id string) (CollectionView, error) {
	var v CollectionView
	err := s.store.View(ctx, func(tx Tx) error {
		c, o, _, err := readableCollection(ctx, tx, p, id)
		v = s.collectionView(c, o.Name)
		return err
	})
	return v, err
}

// CreateCollection creates a collection in an organization whose
// configuration the principal may edit, on one of its verified domains.
func (s *Service) CreateCollection(ctx context.Context, p Principal, nc NewCollection) (CollectionView, error) {
	if err := needWrite(p); err != nil {
		return CollectionView{}, err
	}
	if nc.Org == "" {
		return CollectionView{}, Invalid("org", "must name an organization")
	}
	if err := CheckPackageName(nc.Name); err != nil {
		return CollectionView{}, Invalid("name", "%v", err)
	}
	cr, err := s.checkCollectionRule(nc.Rule)
	if err != nil {
		return CollectionView{}, err
	}
	host := cr.Host
	now := s.now().UTC()
	c := Collection{ID: NewID(), Name: nc.Name, Rule: cr.Canonical, Created: now, Updated: now}
	var v CollectionView
	err = s.update(ctx, func(tx Tx) error {
		o, a, err := readableOrg(ctx, tx, p, nc.Org)
		if err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("creating collections takes an Admin or Owner of the organization")
		}
		c.OrgID = o.ID
		if err := s.checkOwnedHost(ctx, tx, o, host); err != nil {
			return err
		}
		if err := collectionNameFree(ctx, tx, o, c); err != nil {
			return err
		}
		if err := s.checkCollectionHost(ctx, tx, host, c); err != nil {
			return err
		}
		if err := tx.CreateCollection(ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "organization %q has a collection named %q", o.Name, c.Name)
			}
			return err
		}
		tx.RoutingChanged()
		v = CollectionView{Collection: c, Org: o.Name, Host: host}
		return nil
	})
	return v, err
}

// checkOwnedHost checks that host is a routing domain of the
// organization.
func (s *Service) checkOwnedHost(ctx context.Context, tx Tx, o Org, host string) error {
	if s.base != "" && host == o.Name+"."+s.base {
		return nil
	}
	d, err := tx.Domain(ctx, host)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err != nil || d.OrgID != o.ID || !d.Status.Routes() {
		return &Error{Kind: KindInvalid, Field: "rule.domain",
			Message: quote(host) + " is not a verified domain of organization " + quote(o.Name) + ": add it to the organization and verify it first"}
	}
	return nil
}

// checkCollectionHost checks that c's rule can serve host beside the
// other rules of host: the packages c creates will serve there, so a
// second registry on a docker domain is refused here already.
func (s *Service) checkCollectionHost(ctx context.Context, tx Tx, host string, c Collection) error {
	others, err := s.hostRules(ctx, tx, host, c.ID)
	if err != nil {
		return err
	}
	return s.rules.CheckHost(host, append(others, collectionRule(c)))
}

// collectionNameFree refuses c's name if another collection of the
// organization has it, regardless of case, as package names are. The
// store keeps no index on collection names: the check holds because
// updates are serialized.
func collectionNameFree(ctx context.Context, tx Tx, o Org, c Collection) error {
	for pg := (Page{Limit: MaxLimit}); ; {
		cs, err := tx.ListCollections(ctx, o.ID, pg)
		if err != nil {
			return err
		}
		for _, other := range cs {
			if other.ID != c.ID && strings.EqualFold(other.Name, c.Name) {
				return Conflict("name", "organization %q has a collection named %q", o.Name, other.Name)
			}
		}
		if len(cs) < pg.Limit {
			return nil
		}
		pg.After = cs[len(cs)-1].ID
	}
}

// CollectionPatch is a change to a collection; nil fields are kept.
type CollectionPatch struct {
	Name *string
	Rule json.RawMessage
}

// UpdateCollection renames a collection or replaces its rule. Packages it
// created already keep their own rules.
func (s *Service) UpdateCollection(ctx context.Context, p Principal, id string, patch CollectionPatch) (CollectionView, error) {
	if err := needWrite(p); err != nil {
		return CollectionView{}, err
	}
	if patch.Name != nil {
		if err := CheckPackageName(*patch.Name); err != nil {
			return CollectionView{}, Invalid("name", "%v", err)
		}
	}
	var cr CheckedRule
	if patch.Rule != nil {
		var err error
		if cr, err = s.checkCollectionRule(patch.Rule); err != nil {
			return CollectionView{}, err
		}
	}
	var v CollectionView
	err := s.update(ctx, func(tx Tx) error {
		c, o, a, err := readableCollection(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if !a.CanEdit() {
			return Forbidden("changing a collection takes an Admin or Owner")
		}
		if patch.Name != nil {
			c.Name = *patch.Name
			if err := collectionNameFree(ctx, tx, o, c); err != nil {
				return err
			}
		}
		if cr.Canonical != nil {
			if err := s.checkOwnedHost(ctx, tx, o, cr.Host); err != nil {
				return err
			}
			c.Rule = cr.Canonical
			if err := s.checkCollectionHost(ctx, tx, cr.Host, c); err != nil {
				return err
			}
			tx.RoutingChanged()
		}
		c.Updated = s.now().UTC()
		if err := tx.UpdateCollection(ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("name", "organization %q has a collection named %q", o.Name, c.Name)
			}
			return err
		}
		v = s.collectionView(c, o.Name)
		return nil
	})
	return v, err
}

// DeleteCollection deletes a collection. The packages it created stay.
func (s *Service) DeleteCollection(ctx context.Context, p Principal, id string) error {
	if err := needWrite(p); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		c, _, a, err := readableCollection(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if !a.CanDelete(false) {
			return Forbidden("deleting a collection takes an Admin or Owner")
		}
		tx.RoutingChanged()
		return tx.DeleteCollection(ctx, c.ID)
	})
}

// AutoCreate creates the package that a download of artifact (a docker
// image name, or a file template's {package} value) through a collection
// makes, unless it exists. Its id is gateway.CollectionPackageID of the
// two, the id the gateway counted the download under already; its rule
// is the collection's rule for that artifact (RuleChecker.CollectionRule);
// its name is the artifact's, made a package name, with a number added
// when the organization has one of that name. It returns the package and
// whether this call created it.
//
// Several replicas may see the same first download: their Updates run
// one at a time, and the later ones find the package and return it, as
// they do when a store reports the id taken.
//
// What retrying would not change is refused with an *Error: a collection
// that is gone, an artifact it does not serve (its rule changed), a
// domain that is no longer its organization's, or a collection that has
// created its limit of packages (Config.CollectionPackages).
func (s *Service) AutoCreate(ctx context.Context, collectionID, artifact string) (Package, bool, error) {
	id := gateway.CollectionPackageID(collectionID, artifact)
	var pkg Package
	created := false
	err := s.update(ctx, func(tx Tx) error {
		created = false
		if p, err := tx.Package(ctx, id); err == nil {
			pkg = p
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c, err := tx.Collection(ctx, collectionID)
		if err != nil {
			return translate(err, "collection "+quote(collectionID))
		}
		cr, err := s.rules.CollectionRule(c.Rule, artifact)
		if err != nil {
			return err
		}
		o, err := tx.Org(ctx, c.OrgID)
		if err != nil {
			return err
		}
		if err := s.checkOwnedHost(ctx, tx, o, cr.Host); err != nil {
			return err
		}
		n, err := countCollectionPackages(ctx, tx, c.ID, s.collMax)
		if err != nil {
			return err
		}
		if n >= s.collMax {
			return Conflict("", "collection %q has created %d packages, its limit: %q is served and counted, but gets no package until some are deleted or the limit is raised", c.Name, n, artifact)
		}
		now := s.now().UTC()
		pkg = Package{ID: id, OrgID: c.OrgID, Host: cr.Host, Rule: cr.Canonical, Source: SourceCollection, Collection: c.ID, Created: now, Updated: now}
		if pkg.Name, err = freePackageName(ctx, tx, c.OrgID, artifact); err != nil {
			return err
		}
		if err := tx.CreatePackage(ctx, pkg); err != nil {
			return err
		}
		tx.RoutingChanged()
		created = true
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		// Taken meanwhile, by a store that lets Updates overlap: the
		// package that took the id is the one.
		var verr error
		if verr = s.store.View(ctx, func(tx Tx) error {
			var err error
			pkg, err = tx.Package(ctx, id)
			return err
		}); verr == nil {
			return pkg, false, nil
		}
	}
	if err != nil {
		return Package{}, false, err
	}
	if created {
		s.log.Info("package created by collection", "package", id, "collection", collectionID, "name", pkg.Name)
	}
	return pkg, created, nil
}

// countCollectionPackages counts the packages a collection created that
// still exist, up to limit.
func countCollectionPackages(ctx context.Context, tx Tx, collectionID string, limit int) (int, error) {
	n := 0
	p := Page{Limit: min(limit, MaxLimit)}
	for n < limit {
		pkgs, err := tx.ListPackages(ctx, PackageFilter{Collection: collectionID}, p)
		if err != nil {
			return 0, err
		}
		n += len(pkgs)
		if len(pkgs) < p.Limit {
			break
		}
		p.After = pkgs[len(pkgs)-1].ID
	}
	return n, nil
}

// freePackageName makes a package name of an artifact name (an image
// "acme/rocket" becomes "acme-rocket"), with a number added if the
// organization has one of that name.
func freePackageName(ctx context.Context, tx Tx, orgID, artifact string) (string, error) {
	b := []byte(artifact)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	base := string(b)
	if len(base) > MaxPackageName-6 {
		base = base[:MaxPackageName-6]
	}
	if CheckPackageName(base) != nil {
		base = "p-" + base
	}
	for n := 1; n < 1000; n++ {
		name := base
		if n > 1 {
			name = base + "-" + strconv.Itoa(n)
		}
		_, err := tx.PackageByName(ctx, orgID, name)
		if errors.Is(err, store.ErrNotFound) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", Conflict("name", "no free package name for %q", artifact)
}
