package manifest

import (
	"encoding/json"
	"regexp"

	"portico/internal/imagepattern"
	"portico/internal/uritemplate"
)

// The rule types, as written in "type".
const (
	TypeDockerV1    = "docker-v1"
	TypeDockerV2    = "docker-v2"
	TypeFileV1      = "file-v1"
	TypeFileV2      = "file-v2"
	TypePythonV1    = "python-v1"
	TypeCatchAllV1  = "catch-all-v1"
	TypeTelemetryV1 = "telemetry-v1"
	TypePixelV1     = "pixel-v1"
	TypeScarfJSV1   = "scarf-js-v1"
)

// A Manifest is a decoded, validated manifest.
type Manifest struct {
	Rules []Rule
	// Extensions holds the document's "x-" fields, kept for Encode.
	Extensions map[string]json.RawMessage
}

// A Rule is one of the rule types of this package: *DockerV1, *DockerV2,
// *FileV1, *FileV2, *PythonV1, *CatchAll, *Telemetry, *Pixel or *ScarfJS.
type Rule interface {
	// Type returns the rule type as written in the manifest.
	Type() string
	// Common returns the fields every rule has.
	Common() *Base
}

// Base holds the fields every rule has.
type Base struct {
	// Index is the rule's position in "rules".
	Index int
	// Domain is the public host name as written.
	Domain string
	// Host is Domain lower-cased and without a port: the key requests are
	// routed by.
	Host string
	// Extensions holds the rule's "x-" fields, kept for Encode.
	Extensions map[string]json.RawMessage
}

// Common implements Rule.
func (b *Base) Common() *Base { return b }

// A Backend is a host that serves the bytes: a bare host ("ghcr.io",
// meaning https) or, as a Portico extension, a URL with a scheme
// ("http://127.0.0.1:5000").
type Backend struct {
	// Text is the value as written, after Scarf's rewrite of
	// registry.hub.docker.com to registry-1.docker.io.
	Text string
	// Scheme is "https" or "http".
	Scheme string
	// Host is the host with its port, if any.
	Host string
}

// URL returns the backend's base URL, e.g. "https://ghcr.io".
func (b Backend) URL() string { return b.Scheme + "://" + b.Host }

// DockerV1 serves one or more named container images from a registry.
type DockerV1 struct {
	Base
	PackageID      string
	RepositoryName string
	Registry       Backend
	AlwaysProxy    bool
	PackageName    string
	Owner          string
}

// DockerV2 serves every image whose name matches a pattern ("collection",
// automatic package creation).
type DockerV2 struct {
	Base
	Pattern     *imagepattern.Pattern
	PatternText string
	RuleID      string
	Registry    Backend
	AlwaysProxy bool
	Owner       string
}

// FileV1 redirects paths that match an RFC 6570 template.
type FileV1 struct {
	Base
	IncomingPath *uritemplate.Template
	// OutgoingURL is nil when the manifest has null: matching requests
	// are answered 200 without a redirect.
	OutgoingURL *uritemplate.Template
	PackageID   string
	PackageName string
	Owner       string
}

// FileV2 redirects paths that match a regular expression.
type FileV2 struct {
	Base
	// IncomingPath is the expression as written; Regexp is compiled from
	// it with surrounding white space trimmed.
	IncomingPath string
	Regexp       *regexp.Regexp
	OutgoingURL  *uritemplate.Template
	PackageID    string
	PackageName  string
	Owner        string
}

// PythonV1 is one distribution file of a Python project; all python-v1
// rules of a domain form one simple repository.
type PythonV1 struct {
	Base
	PackageName string
	FileName    string
	Version     string
	BackendURL  string
	PackageID   string
	HashValue   *Hash
	GPGSig      *bool
	// RequiresPython is nil when absent or null.
	RequiresPython        *string
	BackendSimpleIndexURL string
	Owner                 string
}

// Hash is a python-v1 file hash, rendered as "#type=hash" in links.
type Hash struct {
	Type string `json:"type"`
	Hash string `json:"hash"`
}

// CatchAll takes every request of its domain that no other rule took.
type CatchAll struct {
	Base
	PackageID string
	// RedirectTargetDomain is a host, optionally with a port and a path
	// prefix; "" answers 200 without a redirect.
	RedirectTargetDomain string
	PackageName          string
	Owner                string
}

// Telemetry accepts JSON events posted to a path.
type Telemetry struct {
	Base
	IncomingPath string
	PackageID    string
	// AccessTokens is nil when anyone may post; an empty, non-nil list
	// lets nobody post. Entries are plain tokens or "sha256:<hex>".
	AccessTokens []string
}

// Pixel serves a tracking pixel at /a.png?x-pxid=ID.
type Pixel struct {
	Base
	PackageID string
}

// ScarfJS accepts install events at /package-event/install.
type ScarfJS struct {
	Base
	PackageID string
}

func (*DockerV1) Type() string  { return TypeDockerV1 }
func (*DockerV2) Type() string  { return TypeDockerV2 }
func (*FileV1) Type() string    { return TypeFileV1 }
func (*FileV2) Type() string    { return TypeFileV2 }
func (*PythonV1) Type() string  { return TypePythonV1 }
func (*CatchAll) Type() string  { return TypeCatchAllV1 }
func (*Telemetry) Type() string { return TypeTelemetryV1 }
func (*Pixel) Type() string     { return TypePixelV1 }
func (*ScarfJS) Type() string   { return TypeScarfJSV1 }

// Domains returns the number of distinct hosts the manifest serves.
func (m *Manifest) Domains() int {
	seen := make(map[string]struct{})
	for _, r := range m.Rules {
		seen[r.Common().Host] = struct{}{}
	}
	return len(seen)
}
