package manifest

import (
	"encoding/json"
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
	// Portico's package-level rules.
	TypePythonIndexV1 = "python-index-v1"
	TypeNPMV1         = "npm-v1"
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
	// encode writes the rule's own fields, after type and domain.
	encode(o *object)
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
	// HTTPSOnly is "https-only": when any rule of a domain sets it, the
	// gateway redirects every plain HTTP request to the domain to HTTPS.
	HTTPSOnly bool
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

// Domains returns the number of distinct hosts the manifest serves.
func (m *Manifest) Domains() int {
	seen := make(map[string]struct{})
	for _, r := range m.Rules {
		seen[r.Common().Host] = struct{}{}
	}
	return len(seen)
}
