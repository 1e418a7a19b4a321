package manifest

import (
	"fmt"
	"strings"
	"time"
)

// DefaultNPMRegistry is the upstream registry of npm-v1 rules that name
// none.
const DefaultNPMRegistry = "https://registry.npmjs.org/"

// NPM serves one npm package, every package of a scope, or every package
// from an upstream registry: Portico serves the packuments with tarball
// URLs pointing to itself, and tarball requests redirect (or are proxied)
// to the upstream tarballs.
type NPM struct {
	Base
	// PackageName is "name", "@scope/name", "@scope/*" or "*".
	PackageName string
	PackageID   string
	// Registry is the upstream registry's base URL, ending in '/'.
	Registry string
	// RegistryText is the registry field as written; "" when absent.
	RegistryText string
	CacheTTL     time.Duration
	CacheTTLText string
	// AlwaysProxy streams tarballs through Portico instead of
	// redirecting.
	AlwaysProxy bool
	// AllowPublish forwards npm publish (PUT) to the registry.
	AllowPublish bool
	Owner        string
}

func (*NPM) Type() string { return TypeNPMV1 }

func (r *NPM) encode(o *object) {
	o.add("package-name", r.PackageName)
	o.add("package-id", r.PackageID)
	o.opt("registry", r.RegistryText)
	o.opt("cache-ttl", r.CacheTTLText)
	o.flag("always-proxy", r.AlwaysProxy)
	o.flag("allow-publish", r.AllowPublish)
	o.opt("owner", r.Owner)
}

func (f *fields) npm() Rule {
	r := &NPM{Base: f.base()}
	r.PackageName = f.nonEmpty("package-name")
	if r.PackageName != "" {
		if err := checkNPMPattern(r.PackageName); err != nil {
			f.fail("package-name", err)
		}
	}
	r.PackageID = f.str("package-id")
	r.RegistryText = f.optStr("registry")
	r.Registry = DefaultNPMRegistry
	if r.RegistryText != "" {
		u, err := ParseIndexURL(r.RegistryText, "/")
		if err != nil {
			f.fail("registry", err)
		}
		r.Registry = u
	}
	r.CacheTTL, r.CacheTTLText = f.ttl("cache-ttl")
	r.AlwaysProxy = f.flag("always-proxy")
	r.AllowPublish = f.flag("allow-publish")
	r.Owner = f.optStr("owner")
	return r
}

// checkNPMPattern accepts a package name ("left-pad", "@acme/skates"),
// a whole scope ("@acme/*") or "*".
func checkNPMPattern(s string) error {
	if s == "*" {
		return nil
	}
	if scope, ok := strings.CutSuffix(s, "/*"); ok {
		if !strings.HasPrefix(scope, "@") || !validNPMPart(scope[1:]) {
			return fmt.Errorf("invalid scope pattern %q: write \"@scope/*\"", s)
		}
		return nil
	}
	return CheckNPMName(s)
}

// CheckNPMName accepts npm package names: lower-case URL-safe
// characters, at most 214 long, optionally under an @scope.
func CheckNPMName(s string) error {
	if len(s) > 214 {
		return fmt.Errorf("invalid package name %q: longer than 214 characters", s)
	}
	name := s
	if strings.HasPrefix(s, "@") {
		scope, rest, ok := strings.Cut(s[1:], "/")
		if !ok || !validNPMPart(scope) {
			return fmt.Errorf("invalid package name %q: a scoped name is \"@scope/name\"", s)
		}
		name = rest
	}
	if !validNPMPart(name) || name[0] == '.' || name[0] == '_' {
		return fmt.Errorf("invalid package name %q: use lower-case letters, digits, '-', '.', '_' and '~', not starting with '.' or '_'", s)
	}
	return nil
}

func validNPMPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
