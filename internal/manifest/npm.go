package manifest

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"portico/internal/upstream"
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
	// Cache ("cache": true) keeps the tarballs the rule proxies in the
	// proxy cache, verified against their integrity; CacheMode ("mode":
	// "cache") also serves through it the tarballs it would redirect.
	Cache, CacheMode bool
	// TarballHosts are the origins besides the registry's that tarballs
	// may be proxied from, as "scheme://host[:port]" (a bare host in the
	// manifest means https); TarballHostsText is the field as written,
	// nil when absent.
	TarballHosts     []string
	TarballHostsText []string
	// Fallback is the registry's base URL, ending in '/', that serves
	// the rule while Registry fails; FallbackText is the field as
	// written. Both are "" when the rule has none.
	Fallback     string
	FallbackText string
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
	o.flag("cache", r.Cache)
	if r.CacheMode {
		o.add("mode", ModeCache)
	}
	if r.TarballHostsText != nil {
		o.add("tarball-hosts", r.TarballHostsText)
	}
	o.opt("fallback", r.FallbackText)
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
	r.Cache = f.flag("cache")
	r.CacheMode = f.cacheMode()
	r.TarballHostsText = f.optStrList("tarball-hosts", checkTarballHost)
	for _, h := range r.TarballHostsText {
		o, _ := parseTarballHost(h)
		r.TarballHosts = append(r.TarballHosts, o)
	}
	r.Fallback, r.FallbackText = f.fallbackIndex("/", r.Registry)
	r.Owner = f.optStr("owner")
	return r
}

func checkTarballHost(s string) error {
	_, err := parseTarballHost(s)
	return err
}

// parseTarballHost reads an entry of tarball-hosts: a bare host[:port],
// meaning https, or an origin URL (scheme, host and port, no path). It
// returns the origin as scheme://host[:port], in the form the outbound
// policy compares.
func parseTarballHost(s string) (string, error) {
	full := s
	if !strings.Contains(s, "://") {
		if _, err := HostKey(s); err != nil {
			return "", err
		}
		full = "https://" + s
	}
	if strings.ContainsFunc(full, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("invalid tarball host %q: contains white space or control characters", s)
	}
	u, err := url.Parse(full)
	if err != nil {
		return "", fmt.Errorf("invalid tarball host %q: %w", s, unwrapURLError(err))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("invalid tarball host %q: give a host, or a scheme, a host and a port, without a path", s)
	}
	o, err := upstream.OriginOf(u)
	if err != nil {
		return "", fmt.Errorf("invalid tarball host %q: %w", s, err)
	}
	return o.String(), nil
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
