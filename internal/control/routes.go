package control

import (
	"context"
	"strings"
)

// Routing is what the gateway serves from the store: the packages and
// collections whose host routes for their organization.
type Routing struct {
	Packages    []Package
	Collections []Collection
	// CollectionHosts maps each collection's id to the host its rule serves, as
	// collections keep no host column.
	CollectionHosts map[string]string
	// Hosts are every host that routes, with packages or not: the
	// organizations' names under the base domain and the custom
	// domains that route, in no order. They get certificates.
	Hosts []RoutedHost
}

// A RoutedHost is a host that routes.
type RoutedHost struct {
	Name string
	// HTTPSOnly is the domain's setting; false for the names under the
	// base domain, which take it from their packages' rules.
	HTTPSOnly bool
}

// ReadRouting reads, in one transaction, what routes: a package or
// collection routes when its host is its organization's name under
// baseDomain (when set), or a domain of its organization that is
// verified or failing within its grace (DomainStatus.Routes). A package
// on a pending domain, or on one another organization owns, stays in the
// store and in the API but answers nothing.
func ReadRouting(ctx context.Context, tx Tx, baseDomain string, collectionHost func(Collection) string) (Routing, error) {
	var pkgs []Package
	r, err := EachRouting(ctx, tx, baseDomain, collectionHost, func(p Package) error {
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		return Routing{}, err
	}
	r.Packages = pkgs
	return r, nil
}

// EachRouting reads what routes as ReadRouting does, but calls fn for
// every package that routes, in id order, instead of holding them all:
// what a gateway compiles its table from. The Routing it returns has
// everything else: the hosts, and the collections when collectionHost
// is set.
func EachRouting(ctx context.Context, tx Tx, baseDomain string, collectionHost func(Collection) string, fn func(Package) error) (Routing, error) {
	owner, httpsOnly, err := routingOwners(ctx, tx, baseDomain)
	if err != nil {
		return Routing{}, err
	}
	var r Routing
	r.Hosts = make([]RoutedHost, 0, len(owner))
	for h := range owner {
		r.Hosts = append(r.Hosts, RoutedHost{Name: h, HTTPSOnly: httpsOnly[h]})
	}
	err = tx.EachPackage(ctx, func(p Package) error {
		if owner[p.Host] == p.OrgID && p.OrgID != "" {
			return fn(p)
		}
		return nil
	})
	if err != nil {
		return Routing{}, err
	}
	if collectionHost == nil {
		return r, nil
	}
	r.CollectionHosts = map[string]string{}
	err = eachPage(func(p Page) (int, string, error) {
		cs, err := tx.ListCollections(ctx, "", p)
		for _, c := range cs {
			h := collectionHost(c)
			if h != "" && owner[h] == c.OrgID {
				r.Collections = append(r.Collections, c)
				r.CollectionHosts[c.ID] = h
			}
		}
		return len(cs), lastID(cs, func(c Collection) string { return c.ID }), err
	})
	if err != nil {
		return Routing{}, err
	}
	return r, nil
}

// routingOwners maps every host that routes to the id of the
// organization whose packages it serves, and each custom domain among
// them to its https-only setting.
func routingOwners(ctx context.Context, tx Tx, baseDomain string) (owner map[string]string, httpsOnly map[string]bool, err error) {
	base := strings.ToLower(strings.TrimSuffix(baseDomain, "."))
	owner = map[string]string{}
	httpsOnly = map[string]bool{}
	if base != "" {
		if err := eachPage(func(p Page) (int, string, error) {
			orgs, err := tx.ListOrgs(ctx, "", p)
			for _, o := range orgs {
				owner[o.Name+"."+base] = o.ID
			}
			return len(orgs), lastID(orgs, func(o Org) string { return o.ID }), err
		}); err != nil {
			return nil, nil, err
		}
	}
	if err := eachPage(func(p Page) (int, string, error) {
		ds, err := tx.ListDomains(ctx, "", p)
		for _, d := range ds {
			if d.Status.Routes() {
				owner[d.Name] = d.OrgID
				httpsOnly[d.Name] = d.HTTPSOnly
			}
		}
		return len(ds), lastID(ds, func(d Domain) string { return d.Name }), err
	}); err != nil {
		return nil, nil, err
	}
	return owner, httpsOnly, nil
}

// eachPage calls list with successive pages until one is short. list
// returns the page's length and the cursor after it.
func eachPage(list func(Page) (int, string, error)) error {
	p := Page{Limit: MaxLimit}
	for {
		n, last, err := list(p)
		if err != nil || n < p.Limit {
			return err
		}
		p.After = last
	}
}

func lastID[T any](rows []T, id func(T) string) string {
	if len(rows) == 0 {
		return ""
	}
	return id(rows[len(rows)-1])
}
