package control

import (
	"context"
	"time"
)

// A Store keeps the control plane's entities. Both analytics stores
// implement it (store/sqlite and store/postgres) and pass one contract
// suite (store/storetest). Lookups of missing rows return an error
// wrapping store.ErrNotFound; writes that break a uniqueness rule, one
// wrapping store.ErrConflict.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, serialized with every
	// other Update on the same database (across replicas too), and
	// commits if fn returns nil. If fn called Tx.RoutingChanged, the
	// commit also bumps the config version and tells the other replicas.
	Update(ctx context.Context, fn func(Tx) error) error
	// ConfigVersion returns the current config version: it grows with
	// every committed routing change.
	ConfigVersion(ctx context.Context) (int64, error)
}

// A Tx is one transaction over every entity.
type Tx interface {
	Users
	Orgs
	Members
	Packages
	Collections
	Domains
	Tokens
	Sessions
	// RoutingChanged marks the transaction as changing what the gateway
	// serves (packages, collections, domains, organization names).
	RoutingChanged()
}

// A Page selects one page of a list: the rows after the cursor After
// (a row's id, "" for the first page), at most Limit of them.
type Page struct {
	After string
	Limit int
}

// Users stores users.
type Users interface {
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	UpdateUser(ctx context.Context, u User) error
	ListUsers(ctx context.Context, p Page) ([]User, error)
}

// Orgs stores organizations.
type Orgs interface {
	CreateOrg(ctx context.Context, o Org) error
	Org(ctx context.Context, id string) (Org, error)
	OrgByName(ctx context.Context, name string) (Org, error)
	UpdateOrg(ctx context.Context, o Org) error
	// DeleteOrg deletes an organization with its memberships, packages,
	// collections and domains.
	DeleteOrg(ctx context.Context, id string) error
	// ListOrgs lists every organization, or with userID set those the
	// user has a role in or on one of whose packages it has a role.
	ListOrgs(ctx context.Context, userID string, p Page) ([]Org, error)
}

// Members stores roles, per organization and per package.
type Members interface {
	// SetOrgRole gives the user role r in the organization; RoleNone
	// removes the membership (and is not an error when there was none).
	SetOrgRole(ctx context.Context, orgID, userID string, r Role) error
	// OrgRole returns the user's role in the organization, RoleNone if
	// it has none.
	OrgRole(ctx context.Context, orgID, userID string) (Role, error)
	// OrgMembers lists the members of an organization, by user id.
	OrgMembers(ctx context.Context, orgID string, p Page) ([]Member, error)
	// CountOrgOwners returns how many Owners the organization has.
	CountOrgOwners(ctx context.Context, orgID string) (int, error)
	SetPackageRole(ctx context.Context, packageID, userID string, r Role) error
	PackageRole(ctx context.Context, packageID, userID string) (Role, error)
	PackageMembers(ctx context.Context, packageID string, p Page) ([]Member, error)
}

// A PackageFilter narrows a list of packages. Zero fields do not filter.
type PackageFilter struct {
	OrgID string
	// UserID keeps the packages the user may read: those of its
	// organizations and those it has a role on.
	UserID     string
	Collection string
	// Host keeps the packages that serve one host.
	Host string
}

// Packages stores package entries.
type Packages interface {
	// CreatePackage stores a new package; a name already used in the
	// organization (regardless of case) is a conflict.
	CreatePackage(ctx context.Context, p Package) error
	Package(ctx context.Context, id string) (Package, error)
	// PackageByName finds a package by organization and name, regardless
	// of the name's case.
	PackageByName(ctx context.Context, orgID, name string) (Package, error)
	UpdatePackage(ctx context.Context, p Package) error
	// DeletePackage deletes a package and its members.
	DeletePackage(ctx context.Context, id string) error
	ListPackages(ctx context.Context, f PackageFilter, p Page) ([]Package, error)
	// EachPackage calls fn for every package, in id order: what the
	// routing table is compiled from.
	EachPackage(ctx context.Context, fn func(Package) error) error
}

// Collections stores collections.
type Collections interface {
	CreateCollection(ctx context.Context, c Collection) error
	Collection(ctx context.Context, id string) (Collection, error)
	UpdateCollection(ctx context.Context, c Collection) error
	// DeleteCollection deletes a collection. The packages it created
	// stay, as packages of the API.
	DeleteCollection(ctx context.Context, id string) error
	// ListCollections lists the collections of one organization, or of
	// all when orgID is "".
	ListCollections(ctx context.Context, orgID string, p Page) ([]Collection, error)
}

// Domains stores domains.
type Domains interface {
	CreateDomain(ctx context.Context, d Domain) error
	Domain(ctx context.Context, name string) (Domain, error)
	UpdateDomain(ctx context.Context, d Domain) error
	DeleteDomain(ctx context.Context, name string) error
	// ListDomains lists the domains of one organization, or of all when
	// orgID is "", by name.
	ListDomains(ctx context.Context, orgID string, p Page) ([]Domain, error)
}

// Tokens stores API tokens.
type Tokens interface {
	CreateToken(ctx context.Context, t Token) error
	Token(ctx context.Context, id string) (Token, error)
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// ListTokens lists a user's tokens, revoked ones included.
	ListTokens(ctx context.Context, userID string, p Page) ([]Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken records a use of the token.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Sessions stores signed-in sessions and one-time sign-in links.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions signs a user out everywhere.
	DeleteUserSessions(ctx context.Context, userID string) error
	CreateSignInLink(ctx context.Context, l SignInLink) error
	// UseSignInLink returns the link and deletes it, so that it works
	// once.
	UseSignInLink(ctx context.Context, hash []byte) (SignInLink, error)
	// DeleteExpired removes sessions and links that expired before now.
	DeleteExpired(ctx context.Context, now time.Time) error
}
