package control

import (
	"encoding/json"
	"time"
)

// A User is a person who signs in to manage packages.
type User struct {
	ID    string
	Email string // normalized, unique
	Name  string // display name, may be empty
	// PasswordHash is the PHC string of the password's argon2id hash,
	// or "" for a user who signs in with one-time links only.
	PasswordHash string
	// ServerAdmin users act as Owners of every organization.
	ServerAdmin bool
	Created     time.Time
}

// An Org is an organization: it owns packages, collections and domains,
// and its members' roles cover all of them.
type Org struct {
	ID          string
	Name        string // unique; see CheckOrgName
	DisplayName string
	// PersonalOf is the id of the user whose personal organization this
	// is (as a user name's namespace), or "".
	PersonalOf string
	Created    time.Time
}

// A Member is a user's role in an organization or on a package.
type Member struct {
	UserID string
	Email  string
	Name   string
	Role   Role
}

// A Source says where a package's configuration comes from.
type Source int8

// The sources of packages.
const (
	// SourceAPI packages were created through the API or the CLI.
	SourceAPI Source = iota + 1
	// SourceCollection packages were created by a collection, on the
	// first download that matched it.
	SourceCollection
	// SourceManifest packages come from the manifest file: they are
	// shown by the API, read-only, and not kept in the store.
	SourceManifest
)

// String returns "api", "collection" or "manifest".
func (s Source) String() string {
	switch s {
	case SourceAPI:
		return "api"
	case SourceCollection:
		return "collection"
	case SourceManifest:
		return "manifest"
	}
	return ""
}

// A Package is a package entry: one routing rule, in the manifest's JSON
// form, with its organization and name. Its id is its identity in events
// and analytics: it never changes when the rule does, so a package can
// move to another backend without losing its history.
type Package struct {
	ID    string
	OrgID string
	Name  string // unique within the organization, regardless of case
	// Host is the host the rule serves: its domain in lower case,
	// without a port.
	Host string
	// Rule is the manifest rule, as the manifest would hold it but
	// without "package-id" (the package's id is used). It is canonical:
	// encoded by package manifest.
	Rule   json.RawMessage
	Source Source
	// Collection is the id of the collection that created the package,
	// for SourceCollection.
	Collection string
	Created    time.Time
	Updated    time.Time
}

// A Collection creates packages: the first download that matches its rule
// and no package creates a package entry for what was downloaded.
type Collection struct {
	ID    string
	OrgID string
	Name  string
	// Rule is a docker-v2 rule (an image pattern with its registry) or a
	// file-v1 rule (a template with a {package} variable and its
	// outgoing URL), in the manifest's JSON form.
	Rule    json.RawMessage
	Created time.Time
	Updated time.Time
}

// A DomainStatus says whether a domain routes.
type DomainStatus int8

// The states of a domain. Only verified domains route and get
// certificates; a verified domain whose check fails becomes failing and
// keeps routing.
const (
	DomainPending DomainStatus = iota + 1
	DomainVerified
	DomainFailing
)

// String returns "pending", "verified" or "failing".
func (s DomainStatus) String() string {
	switch s {
	case DomainPending:
		return "pending"
	case DomainVerified:
		return "verified"
	case DomainFailing:
		return "failing"
	}
	return ""
}

// Routes reports whether a domain in this state is served.
func (s DomainStatus) Routes() bool { return s == DomainVerified || s == DomainFailing }

// A Domain is a host name an organization serves its packages on.
type Domain struct {
	Name   string // normalized host name, unique
	OrgID  string
	Status DomainStatus
	// Challenge is the value the TXT record _portico-challenge.<name>
	// must hold for the domain to be verified.
	Challenge string
	// LastCheck is when the records were last looked up, and LastError
	// what was wrong then ("" when the check passed).
	LastCheck time.Time
	LastError string
	// Verified is when the domain was first verified.
	Verified time.Time
	// FailingSince is when a verified domain's checks started failing.
	FailingSince time.Time
	Created      time.Time
	// HTTPSOnly makes the gateway redirect every plain HTTP request to
	// the domain to HTTPS.
	HTTPSOnly bool
}

// Trusted reports whether the operator added the domain verified: it has
// no challenge, and is never checked.
func (d Domain) Trusted() bool { return d.Challenge == "" && d.Status == DomainVerified }

// A Token is an API token. Only a hash of its secret is kept: the secret
// is shown once, when the token is created.
type Token struct {
	ID     string
	UserID string
	Name   string
	Scope  Scope
	// Hash is the SHA-256 of the secret. Secrets are random and long, so
	// a fast hash is as good as a slow one and keeps checking cheap.
	Hash     []byte
	Created  time.Time
	Expires  time.Time // zero: never
	LastUsed time.Time // zero: never used
	Revoked  time.Time // zero: not revoked
}

// Usable reports whether the token may be used at now.
func (t Token) Usable(now time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}

// A Session is a signed-in browser. Like tokens, only the hash of its
// secret (the cookie's value) is kept, so that the store cannot be used
// to sign in.
type Session struct {
	Hash    []byte
	UserID  string
	Created time.Time
	Expires time.Time
}

// A SignInLink lets a user sign in once without a password (a user
// created without one, or one who lost it).
type SignInLink struct {
	Hash    []byte
	UserID  string
	Expires time.Time
}
