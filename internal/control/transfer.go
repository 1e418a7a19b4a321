package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"portico/internal/manifest"
	"portico/internal/store"
)

// NameExtension is the rule field that carries a package's name in a
// manifest that "portico export" writes and "portico import" reads: an
// extension field, which serving the manifest ignores. It is written
// only when the name is not the one ImportName derives.
const NameExtension = "x-portico-name"

// ErrDomainMissing marks an import problem that adding the domain would
// solve: a rule serves a domain that no organization has.
var ErrDomainMissing = errors.New("no organization has it")

// An ImportRule is one rule of a manifest being imported.
type ImportRule struct {
	// Index is the rule's position in the manifest's "rules".
	Index int
	// Rule is the rule as the manifest holds it, its package-id (or a
	// docker-v2 rule's rule-id) included.
	Rule json.RawMessage
	// Name is the package's name; "" derives it from its id (see
	// ImportName).
	Name string
}

// An Import loads a manifest's rules into an organization as packages.
type Import struct {
	// File names the manifest in problems.
	File  string
	Org   string
	Rules []ImportRule
	// AddDomains adds the domains the rules serve that no organization
	// has to the organization, verified without a check, as the operator
	// trusts them. Without it, such a domain is a problem.
	AddDomains bool
	// DryRun checks everything and writes nothing.
	DryRun bool
}

// ImportResult is what an import stored (or, dry, would store).
type ImportResult struct {
	Org      string
	Packages []Package
	// Domains are the domains added for AddDomains.
	Domains []string
}

// errDryRun ends a dry run's transaction without committing it.
var errDryRun = errors.New("dry run")

// ImportPackages creates a package of the organization for every rule,
// in one transaction: if any rule cannot be imported, nothing is. A
// package keeps its rule's package-id (a docker-v2 rule's rule-id) as
// its id, so that it goes on counting under the id its events have;
// a rule without one gets a new id. Every rule is checked as the API
// checks a new package: the rule itself, its domain (one that routes for
// the organization), and against the other rules of its domain, already
// stored or imported before it. The problems are *manifest.Error
// values, one per problem, located at the rule; for server
// administrators only.
func (s *Service) ImportPackages(ctx context.Context, p Principal, im Import) (ImportResult, error) {
	if !p.User.ServerAdmin || p.Scope != ScopeWrite {
		return ImportResult{}, Forbidden("only server administrators import manifests")
	}
	var res ImportResult
	err := s.update(ctx, func(tx Tx) error {
		o, _, err := readableOrg(ctx, tx, p, im.Org)
		if err != nil {
			return err
		}
		imp := &importer{s: s, tx: tx, im: im, org: o, hosts: map[string]func(HostRule) error{}, names: map[string]bool{}}
		pkgs, err := imp.packages(ctx)
		if err != nil {
			return err
		}
		if err := imp.domains(ctx, pkgs); err != nil {
			return err
		}
		if len(imp.problems) > 0 {
			return errors.Join(imp.problems...)
		}
		for _, pkg := range pkgs {
			if err := imp.place(ctx, pkg); err != nil {
				return err
			}
		}
		if len(imp.problems) > 0 {
			return errors.Join(imp.problems...)
		}
		tx.RoutingChanged()
		res = ImportResult{Org: o.Name, Domains: imp.added}
		for _, pkg := range pkgs {
			res.Packages = append(res.Packages, pkg.Package)
		}
		if im.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return ImportResult{}, err
	}
	if !im.DryRun {
		s.log.Info("manifest imported", "file", im.File, "org", res.Org, "packages", len(res.Packages), "domains_added", len(res.Domains))
	}
	return res, nil
}

// importPkg is a package to import, with the rule it comes from.
type importPkg struct {
	Package
	rule int // index into Import.Rules
	typ  string
}

// importer holds one import's transaction and what it found so far.
type importer struct {
	s        *Service
	tx       Tx
	im       Import
	org      Org
	problems []error
	// hosts holds the check of each host the import touches, which
	// knows the packages stored and those imported.
	hosts map[string]func(HostRule) error
	// names holds the lower-case names the import has given.
	names map[string]bool
	added []string
}

// problem records a problem of the i-th imported rule.
func (imp *importer) problem(i int, typ, field string, err error) {
	imp.problems = append(imp.problems, &manifest.Error{File: imp.im.File, Rule: imp.im.Rules[i].Index, Type: typ, Field: field, Err: err})
}

// packages checks each rule, its id and its name, and returns the
// packages to create, in the manifest's order. Problems are recorded;
// the error is for what went wrong inside.
func (imp *importer) packages(ctx context.Context) ([]importPkg, error) {
	now := imp.s.now().UTC()
	out := make([]importPkg, 0, len(imp.im.Rules))
	ids := map[string]int{} // id → index into imp.im.Rules
	for i, ir := range imp.im.Rules {
		typ := ruleType(ir.Rule)
		cr, err := imp.s.rules.CheckRule("rule", ir.Rule)
		if err != nil {
			if err := imp.ruleProblem(i, typ, err); err != nil {
				return nil, err
			}
			continue
		}
		idField := "package-id"
		if typ == manifest.TypeDockerV2 {
			idField = "rule-id"
		}
		id := cr.ID
		if id == "" {
			id = NewID()
		} else if err := CheckPackageID(id); err != nil {
			imp.problem(i, typ, idField, fmt.Errorf("%q cannot be a package's id in the store: %w", id, err))
			continue
		}
		if j, dup := ids[id]; dup {
			imp.problem(i, typ, idField, fmt.Errorf("%q is also the id of rules[%d]: packages need ids of their own", id, imp.im.Rules[j].Index))
			continue
		}
		ids[id] = i
		switch other, err := imp.tx.Package(ctx, id); {
		case err == nil:
			imp.problem(i, typ, idField, fmt.Errorf("%q is the id of package %q of organization %q already", id, other.Name, imp.orgName(ctx, other.OrgID)))
			continue
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		name, err := imp.name(ctx, ir, id, cr.Host, typ)
		if err != nil {
			if KindOf(err) == 0 {
				return nil, err
			}
			imp.problem(i, typ, NameExtension, err)
			continue
		}
		out = append(out, importPkg{rule: i, typ: typ, Package: Package{ID: id, OrgID: imp.org.ID, Name: name, Host: cr.Host,
			Rule: cr.Canonical, Source: SourceAPI, Created: now, Updated: now}})
	}
	return out, nil
}

// name returns the package name of an imported rule: the one it names,
// or one derived from its id that no package of the organization has.
func (imp *importer) name(ctx context.Context, ir ImportRule, id, host, typ string) (string, error) {
	taken := func(name string) (bool, error) {
		if imp.names[strings.ToLower(name)] {
			return true, nil
		}
		_, err := imp.tx.PackageByName(ctx, imp.org.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	if ir.Name != "" {
		if err := CheckPackageName(ir.Name); err != nil {
			return "", &Error{Kind: KindInvalid, Message: err.Error()}
		}
		switch t, err := taken(ir.Name); {
		case err != nil:
			return "", err
		case t:
			return "", &Error{Kind: KindConflict, Message: fmt.Sprintf("organization %q has a package named %q already", imp.org.Name, ir.Name)}
		}
		imp.names[strings.ToLower(ir.Name)] = true
		return ir.Name, nil
	}
	base := ImportName(id, typ, host)
	for n := 1; ; n++ {
		name := base
		if n > 1 {
			suffix := fmt.Sprintf("-%d", n)
			name = base[:min(len(base), MaxPackageName-len(suffix))] + suffix
		}
		t, err := taken(name)
		if err != nil {
			return "", err
		}
		if !t {
			imp.names[strings.ToLower(name)] = true
			return name, nil
		}
	}
}

// ImportName is the name an imported package gets when its rule names
// none: its id when that is a valid package name; otherwise the id with
// every run of other characters made one '-' (an id of a new package,
// given to a rule without one, is a UUID and needs none of this, but
// says nothing to people: such a package is named after its rule's type
// and domain, "pixel-static.acme.dev"). A name another package of the
// organization has gets "-2", "-3"… added.
func ImportName(id, typ, host string) string {
	if IsUUID(id) {
		name := strings.TrimSuffix(typ, "-v1") + "-" + host
		name = name[:min(len(name), MaxPackageName)]
		if CheckPackageName(name) == nil {
			return name
		}
	}
	if CheckPackageName(id) == nil {
		return id
	}
	var b strings.Builder
	dash := false
	for i := 0; i < len(id) && b.Len() < MaxPackageName; i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || (c == '.' || c == '_' || c == '-') && b.Len() > 0 {
			b.WriteByte(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		return "package"
	}
	return name
}

// IsUUID reports whether s is in the textual form of a UUID, as the ids
// NewID makes are.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// domains checks that every host the packages serve routes for the
// organization, adding the missing ones with AddDomains. One problem
// is recorded per host, at the first rule that serves it.
func (imp *importer) domains(ctx context.Context, pkgs []importPkg) error {
	first := map[string]importPkg{}
	count := map[string]int{}
	var hosts []string
	for _, pkg := range pkgs {
		if _, ok := first[pkg.Host]; !ok {
			first[pkg.Host] = pkg
			hosts = append(hosts, pkg.Host)
		}
		count[pkg.Host]++
	}
	for _, host := range hosts {
		if imp.s.base != "" && host == imp.org.Name+"."+imp.s.base {
			continue
		}
		more := ""
		if n := count[host] - 1; n > 0 {
			more = fmt.Sprintf(" (and %d more rule(s))", n)
		}
		at := first[host]
		d, err := imp.tx.Domain(ctx, host)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !imp.im.AddDomains {
				imp.problem(at.rule, at.typ, "domain", fmt.Errorf("%q%s is not a domain of organization %q: %w", host, more, imp.org.Name, ErrDomainMissing))
				continue
			}
			if err := imp.addDomain(ctx, host); err != nil {
				e, ok := errors.AsType[*Error](err)
				if !ok {
					return err
				}
				imp.problem(at.rule, at.typ, "domain", fmt.Errorf("%q cannot be added: %s", host, e.Message))
			}
		case err != nil:
			return err
		case d.OrgID != imp.org.ID:
			imp.problem(at.rule, at.typ, "domain", fmt.Errorf("%q%s belongs to organization %q, not %q", host, more, imp.orgName(ctx, d.OrgID), imp.org.Name))
		case !d.Status.Routes():
			imp.problem(at.rule, at.typ, "domain", fmt.Errorf("%q%s is a domain of organization %q that is %s: verify it first (POST /api/v1/domains/%s/verify)", host, more, imp.org.Name, d.Status, host))
		}
	}
	return nil
}

// addDomain adds host to the organization as a domain the operator
// trusts, as "portico domains add --verified" does.
func (imp *importer) addDomain(ctx context.Context, host string) error {
	name, err := CheckDomainName(host)
	if err != nil {
		return Invalid("domain", "%v", err)
	}
	if b := imp.s.base; b != "" && (name == b || strings.HasSuffix(name, "."+b)) {
		return Invalid("domain", "it is under the base domain %q, whose names belong to the organizations of the same name", b)
	}
	now := imp.s.now().UTC()
	if err := imp.tx.CreateDomain(ctx, Domain{Name: name, OrgID: imp.org.ID, Status: DomainVerified, Verified: now, Created: now}); err != nil {
		return err
	}
	imp.added = append(imp.added, name)
	return nil
}

// place checks pkg against the other rules of its host and stores it,
// unless a problem was found: then the import fails, and place only
// looks for more problems.
func (imp *importer) place(ctx context.Context, pkg importPkg) error {
	check, ok := imp.hosts[pkg.Host]
	if !ok {
		stored, err := imp.s.hostRules(ctx, imp.tx, pkg.Host, "")
		if err != nil {
			return err
		}
		if check, err = imp.s.rules.HostCheck(pkg.Host, stored); err != nil {
			return err
		}
		imp.hosts[pkg.Host] = check
	}
	if err := check(packageRule(pkg.Package)); err != nil {
		return imp.ruleProblem(pkg.rule, pkg.typ, err)
	}
	if len(imp.problems) > 0 {
		return nil
	}
	if err := imp.tx.CreatePackage(ctx, pkg.Package); err != nil {
		return fmt.Errorf("import package %s: %w", pkg.ID, err)
	}
	return nil
}

// ruleProblem records the rule checker's refusal of the i-th rule as a
// problem, and returns other errors. The checker names request fields
// ("rule.registry"); in a manifest, the rule is the location.
func (imp *importer) ruleProblem(i int, typ string, err error) error {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return err
	}
	field := strings.TrimPrefix(strings.TrimPrefix(e.Field, "rule"), ".")
	imp.problem(i, typ, field, errors.New(e.Message))
	return nil
}

// orgName returns the name of the organization with this id, or its id.
func (imp *importer) orgName(ctx context.Context, id string) string {
	if o, err := imp.tx.Org(ctx, id); err == nil {
		return o.Name
	}
	return id
}

// ruleType returns a rule's "type", "" if it has none.
func ruleType(raw json.RawMessage) string {
	var r struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &r)
	return r.Type
}

// ExportPackages returns the store's packages that the principal may
// read, of one organization when org is not "", in id order: the order
// in which the gateway routes them. The manifest's packages are not
// included: they are in their file already.
func (s *Service) ExportPackages(ctx context.Context, p Principal, org string) ([]PackageView, error) {
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
		names := map[string]string{}
		return eachPage(func(pg Page) (int, string, error) {
			pkgs, err := tx.ListPackages(ctx, f, pg)
			for _, pkg := range pkgs {
				if err != nil {
					break
				}
				var v PackageView
				v, err = s.packageView(ctx, tx, p, pkg, names)
				out = append(out, v)
			}
			return len(pkgs), lastID(pkgs, func(p Package) string { return p.ID }), err
		})
	})
	return out, err
}
