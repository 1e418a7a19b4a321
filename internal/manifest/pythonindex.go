package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
)

// DefaultPythonIndex is the upstream index of python-index-v1 rules that
// name none.
const DefaultPythonIndex = "https://pypi.org/simple/"

// DefaultCacheTTL is how long python-index-v1 and npm-v1 rules keep an
// upstream page before asking again.
const DefaultCacheTTL = 5 * time.Minute

// maxCacheTTL bounds cache-ttl: a week-old index is almost surely wrong.
const maxCacheTTL = 7 * 24 * time.Hour

// PythonIndex serves one Python project, or every project whose
// normalized name matches a glob, from an upstream simple index: Portico
// reads the upstream project page and lists its files with links to
// itself, which redirect to the upstream files.
type PythonIndex struct {
	Base
	// PackageName is a project name or a glob (*, ?, [...]) over
	// PEP 503 normalized names, as written.
	PackageName string
	PackageID   string
	// IndexURL is the upstream index's base URL, ending in '/'.
	IndexURL string
	// IndexText is the index-url field as written; "" when absent.
	IndexText string
	CacheTTL  time.Duration
	// CacheTTLText is the cache-ttl field as written; "" when absent.
	CacheTTLText string
	// CacheMode ("mode": "cache") serves the files through the proxy
	// cache, verified against the index's hash, instead of
	// redirecting to them.
	CacheMode bool
	// Fallback is the index's base URL, ending in '/', that serves the
	// rule while IndexURL fails; FallbackText is the field as written.
	// Both are "" when the rule has none.
	Fallback     string
	FallbackText string
	Owner        string
}

func (*PythonIndex) Type() string { return TypePythonIndexV1 }

func (r *PythonIndex) encode(o *object) {
	o.add("package-name", r.PackageName)
	o.add("package-id", r.PackageID)
	o.opt("index-url", r.IndexText)
	o.opt("cache-ttl", r.CacheTTLText)
	if r.CacheMode {
		o.add("mode", ModeCache)
	}
	o.opt("fallback", r.FallbackText)
	o.opt("owner", r.Owner)
}

func (f *fields) pythonIndex() Rule {
	r := &PythonIndex{Base: f.base()}
	r.PackageName = f.nonEmpty("package-name")
	if r.PackageName != "" {
		if err := checkProjectPattern(r.PackageName); err != nil {
			f.fail("package-name", err)
		}
	}
	r.PackageID = f.str("package-id")
	r.IndexText = f.optStr("index-url")
	r.IndexURL = DefaultPythonIndex
	if r.IndexText != "" {
		u, err := ParseIndexURL(r.IndexText, "/simple/")
		if err != nil {
			f.fail("index-url", err)
		}
		r.IndexURL = u
	}
	r.CacheTTL, r.CacheTTLText = f.ttl("cache-ttl")
	r.CacheMode = f.cacheMode()
	r.Fallback, r.FallbackText = f.fallbackIndex("/simple/", r.IndexURL)
	r.Owner = f.optStr("owner")
	return r
}

// ModeCache is the "mode" of npm-v1 and python-index-v1 rules that serve
// files through the proxy cache.
const ModeCache = "cache"

// cacheMode reads the optional "mode" of npm-v1 and python-index-v1
// rules: "redirect", the default, or "cache".
func (f *fields) cacheMode() bool {
	m, ok := f.optStrPresent("mode")
	if !ok {
		return false
	}
	switch m {
	case ModeCache:
		return true
	case "redirect":
	default:
		f.errorf("mode", "unknown mode %q (known modes: redirect, cache)", m)
	}
	return false
}

// checkProjectPattern accepts a project name or glob: letters, digits,
// '-', '_', '.', and the glob characters '*', '?', '[', ']', '!'.
func checkProjectPattern(s string) error {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-_.*?[]!^", c)) {
			return fmt.Errorf("invalid project name or pattern %q: character %q is not allowed", s, c)
		}
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("invalid pattern %q: %w", s, err)
	}
	return nil
}

// ttl reads an optional duration such as "90s", "10m" or "1h".
func (f *fields) ttl(name string) (time.Duration, string) {
	s := f.optStr(name)
	if s == "" {
		return DefaultCacheTTL, ""
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		f.errorf(name, "invalid duration %q: write it like \"30s\", \"10m\" or \"1h\"", s)
	case d < 0:
		f.errorf(name, "must not be negative: %q", s)
	case d > maxCacheTTL:
		f.errorf(name, "at most %s: %q", maxCacheTTL, s)
	}
	return d, s
}

// ParseIndexURL reads the base URL of an upstream package index: an
// http(s) URL, or a bare host with an optional path, meaning https.
// Without a path, defaultPath is used. The result ends in '/'.
func ParseIndexURL(s, defaultPath string) (string, error) {
	full := s
	if !strings.Contains(s, "://") {
		full = "https://" + s
	}
	if strings.ContainsFunc(full, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("invalid URL %q: contains white space or control characters", s)
	}
	u, err := url.Parse(full)
	if err != nil {
		return "", fmt.Errorf("invalid URL %q: %w", s, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("invalid URL %q: scheme must be http or https", s)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("invalid URL %q: give a scheme, a host and a path, without user, query or fragment", s)
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if _, err := HostKey(u.Host); err != nil {
		return "", err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = defaultPath, ""
	}
	out := u.String()
	if !strings.HasSuffix(out, "/") {
		out += "/"
	}
	return out, nil
}
