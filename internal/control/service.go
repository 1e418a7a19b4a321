package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"portico/internal/store"
)

// A RuleChecker validates package rules with the same code that reads
// manifests, and decides whether rules can be served together. Package
// route provides it; control only stores what it accepts.
type RuleChecker interface {
	// CheckRule decodes a rule as a client sent it, at field (the
	// location in the request, "rule"). Problems are *Error values with
	// located fields.
	CheckRule(field string, raw json.RawMessage) (CheckedRule, error)
	// CheckHost reports whether rules, the store's packages and
	// collections serving host with the candidate last, can be served
	// together with every other source's rules for host: a rule that
	// answers exactly what another answers, or a second registry on a
	// docker domain, is a conflict naming the other package or
	// collection.
	CheckHost(host string, rules []HostRule) error
	// HostCheck is CheckHost for many candidates: the function it
	// returns checks a candidate against every other source's rules for
	// host, rules, and the candidates it accepted before, and accepts it
	// when it passes.
	HostCheck(host string, rules []HostRule) (func(HostRule) error, error)
	// CheckCollection decodes a collection's rule like CheckRule: a
	// docker-v2 rule, or a file-v1 rule whose template has a {package}
	// variable naming the packages it creates.
	CheckCollection(field string, raw json.RawMessage) (CheckedRule, error)
	// CollectionRule returns the rule of the package that a collection
	// whose rule is raw (as stored) creates for artifact: a docker image
	// name, or a {package} value. An artifact the collection does not
	// serve is an *Error.
	CollectionRule(raw json.RawMessage, artifact string) (CheckedRule, error)
}

// A HostRule is one of the store's rules for a host, as CheckHost
// compares them.
type HostRule struct {
	// Kind is "package" or "collection"; Name and ID name it in
	// conflicts.
	Kind, Name, ID string
	Rule           json.RawMessage
}

func packageRule(p Package) HostRule {
	return HostRule{Kind: "package", Name: p.Name, ID: p.ID, Rule: p.Rule}
}

func collectionRule(c Collection) HostRule {
	return HostRule{Kind: "collection", Name: c.Name, ID: c.ID, Rule: c.Rule}
}

// A CheckedRule is a valid rule.
type CheckedRule struct {
	// Canonical is the rule as the store keeps it: encoded by package
	// manifest, without "package-id" (or a docker-v2 rule's "rule-id").
	Canonical json.RawMessage
	// Host is the host the rule serves, lower case and without a port.
	Host string
	// ID is the id the rule itself named, "" if none.
	ID string
}

// Config configures a Service.
type Config struct {
	Store Store
	Rules RuleChecker
	// Domains says how custom domains are verified.
	Domains DomainPolicy
	// BaseDomain, when set, gives every organization the domain
	// <org>.<BaseDomain>, verified by construction.
	BaseDomain string
	// SessionTTL is how long a browser stays signed in.
	SessionTTL time.Duration
	// Manifest returns the packages of the manifest file, shown
	// read-only. Nil when there is none.
	Manifest func() []Package
	// CollectionPackages is how many packages one collection may have
	// created at most (counting those that still exist); 0 means
	// DefaultCollectionPackages.
	CollectionPackages int
	// Routed, when set, is called after every committed change to what
	// the gateway serves, before the call that made it returns: the
	// process reloads its routing table there, so that a change routes
	// on the replica that took it by the time its client hears back.
	Routed func(ctx context.Context)
	Logger *slog.Logger
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// DefaultSessionTTL is how long a sign-in lasts by default.
const DefaultSessionTTL = 14 * 24 * time.Hour

// DefaultCollectionPackages is how many packages one collection creates
// at most by default.
const DefaultCollectionPackages = 1000

// Page sizes of lists.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// A Service is the control plane's business: it checks every request
// against the principal's roles and the entities' rules, and keeps the
// store consistent. Its methods return *Error values for what a client
// did wrong, and other errors for what went wrong inside.
type Service struct {
	store    Store
	rules    RuleChecker
	base     string
	domains  DomainPolicy
	ttl      time.Duration
	manifest func() []Package
	routed   func(ctx context.Context)
	collMax  int
	log      *slog.Logger
	now      func() time.Time
}

// New returns a service over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, rules: cfg.Rules, base: strings.ToLower(strings.TrimSuffix(cfg.BaseDomain, ".")),
		domains: cfg.Domains, ttl: cfg.SessionTTL, manifest: cfg.Manifest, routed: cfg.Routed, collMax: cfg.CollectionPackages,
		log: cfg.Logger, now: cfg.Now}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.collMax <= 0 {
		s.collMax = DefaultCollectionPackages
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.manifest == nil {
		s.manifest = func() []Package { return nil }
	}
	return s
}

// update runs fn in a read-write transaction of the store, and calls the
// Routed hook once it committed a routing change.
func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	var routing bool
	err := s.store.Update(ctx, func(tx Tx) error { return fn(routingTx{tx, &routing}) })
	if err == nil && routing && s.routed != nil {
		s.routed(ctx)
	}
	return err
}

// routingTx notes whether a transaction changed routing.
type routingTx struct {
	Tx
	changed *bool
}

func (t routingTx) RoutingChanged() {
	*t.changed = true
	t.Tx.RoutingChanged()
}

// A Principal is who a request acts for: a user, through a session or a
// token.
type Principal struct {
	User  User
	Scope Scope
	// Token is the id of the token used, "" for a session.
	Token string
}

// Operator is the principal of the server's own command line: a server
// administrator that is no user.
var Operator = Principal{User: User{ServerAdmin: true}, Scope: ScopeWrite}

// page clamps a requested page. One row more than MaxLimit may be asked
// for, so that a caller can tell whether another page follows.
func page(p Page) Page {
	if p.Limit <= 0 {
		p.Limit = DefaultLimit
	}
	p.Limit = min(p.Limit, MaxLimit+1)
	return p
}

// translate turns the stores' sentinel errors into client errors.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return &Error{Kind: KindNotFound, Message: what + " not found", Err: err}
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: KindConflict, Message: what + " already exists", Err: err}
	}
	return err
}

// needWrite refuses read-scoped principals.
func needWrite(p Principal) error {
	if p.Scope != ScopeWrite {
		return Forbidden("a read token cannot change anything")
	}
	return nil
}

// orgAccess returns p's access to the organization.
func orgAccess(ctx context.Context, tx Tx, p Principal, orgID string) (Access, error) {
	a := Access{ServerAdmin: p.User.ServerAdmin, Scope: p.Scope}
	if p.User.ID == "" {
		return a, nil
	}
	r, err := tx.OrgRole(ctx, orgID, p.User.ID)
	a.Org = r
	return a, err
}

// packageAccess returns p's access to the package.
func packageAccess(ctx context.Context, tx Tx, p Principal, pkg Package) (Access, error) {
	a, err := orgAccess(ctx, tx, p, pkg.OrgID)
	if err != nil || p.User.ID == "" {
		return a, err
	}
	a.Package, err = tx.PackageRole(ctx, pkg.ID, p.User.ID)
	return a, err
}

// readableOrg finds an organization by name that p may read. One p may
// not read is not found, so that names of others' organizations do not
// leak.
func readableOrg(ctx context.Context, tx Tx, p Principal, name string) (Org, Access, error) {
	o, err := tx.OrgByName(ctx, name)
	if err != nil {
		return Org{}, Access{}, translate(err, "organization "+quote(name))
	}
	a, err := orgAccess(ctx, tx, p, o.ID)
	if err != nil {
		return Org{}, Access{}, err
	}
	if !a.CanRead() {
		return Org{}, Access{}, NotFound("organization " + quote(name))
	}
	return o, a, nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// userByEmail finds the user a membership request names.
func userByEmail(ctx context.Context, tx Tx, email string) (User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return User{}, Invalid("email", "%v", err)
	}
	u, err := tx.UserByEmail(ctx, norm)
	if err != nil {
		return User{}, translate(err, "user "+quote(norm))
	}
	return u, nil
}
