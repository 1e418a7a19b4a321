package manifest

import (
	"errors"
	"fmt"
	"strings"

	"portico/internal/imagepattern"
)

// Docker rule modes: how a rule answers clients (see docs/docker.md).
const (
	DockerModeAuto     = "auto"     // redirect clients known to follow, proxy the rest
	DockerModeRedirect = "redirect" // always redirect
	DockerModeProxy    = "proxy"    // always proxy
	// DockerModeCache proxies, and serves blobs and manifests from the
	// proxy cache (--cache-dir).
	DockerModeCache = "cache"
)

// DockerOptions are the Portico extensions shared by docker-v1 and
// docker-v2 rules.
type DockerOptions struct {
	// Mode is DockerModeAuto, DockerModeRedirect or DockerModeProxy.
	// "always-proxy": true reads as DockerModeProxy.
	Mode string
	// ModeSet records that "mode" was written, so that encoding keeps
	// a Scarf manifest unchanged.
	ModeSet bool
	// Push lets clients push through the gateway: write methods are
	// proxied with their bodies instead of refused.
	Push bool
	// Cache ("cache": true) keeps the blobs and manifests the rule
	// proxies in the proxy cache; redirects stay redirects.
	Cache bool
	// CredentialsEnv and CredentialsFile name where the upstream
	// credentials ("user:password") are read from; at most one is set.
	// The credentials themselves never appear in a manifest.
	CredentialsEnv  string
	CredentialsFile string
	// Fallback is the registry that serves the rule while its registry
	// fails; its Text is "" when the rule has none.
	Fallback Backend
}

// Cached reports whether the rule's proxied objects go through the
// proxy cache.
func (o *DockerOptions) Cached() bool { return o.Cache || o.Mode == DockerModeCache }

// HasCredentials reports whether the rule authenticates upstream.
func (o *DockerOptions) HasCredentials() bool {
	return o.CredentialsEnv != "" || o.CredentialsFile != ""
}

// DockerV1 serves one or more named container images from a registry.
type DockerV1 struct {
	Base
	PackageID      string
	RepositoryName string
	// UpstreamRepository is the image's name on the registry when it
	// differs from RepositoryName, the name clients pull; "" when equal.
	UpstreamRepository string
	Registry           Backend
	AlwaysProxy        bool
	PackageName        string
	Owner              string
	DockerOptions
}

func (*DockerV1) Type() string { return TypeDockerV1 }

func (r *DockerV1) encode(o *object) {
	o.add("package-id", r.PackageID)
	o.add("repository-name", r.RepositoryName)
	o.opt("upstream-repository", r.UpstreamRepository)
	o.add("registry", r.Registry.Text)
	o.flag("always-proxy", r.AlwaysProxy)
	r.DockerOptions.encode(o)
	o.add("package-name", r.PackageName)
	o.add("owner", r.Owner)
}

// DockerV2 serves every image whose name matches a pattern ("collection",
// automatic package creation).
type DockerV2 struct {
	Base
	// UpstreamPrefix, when set, replaces the pattern's fixed leading
	// segments in the name used on the registry: with pattern "acme/*"
	// and prefix "acme-corp/tools", acme/rocket is served from
	// acme-corp/tools/rocket.
	UpstreamPrefix string
	Pattern        *imagepattern.Pattern
	PatternText    string
	RuleID         string
	Registry       Backend
	AlwaysProxy    bool
	Owner          string
	DockerOptions
}

func (*DockerV2) Type() string { return TypeDockerV2 }

func (r *DockerV2) encode(o *object) {
	o.add("pattern", r.PatternText)
	o.add("rule-id", r.RuleID)
	o.opt("upstream-prefix", r.UpstreamPrefix)
	o.add("registry", r.Registry.Text)
	o.flag("always-proxy", r.AlwaysProxy)
	r.DockerOptions.encode(o)
	o.opt("owner", r.Owner)
}

func (d *DockerOptions) encode(o *object) {
	if d.ModeSet {
		o.add("mode", d.Mode)
	}
	o.flag("push", d.Push)
	o.flag("cache", d.Cache)
	o.opt("credentials-env", d.CredentialsEnv)
	o.opt("credentials-file", d.CredentialsFile)
	o.opt("fallback", d.Fallback.Text)
}

func (f *fields) dockerV1() Rule {
	r := &DockerV1{Base: f.base()}
	r.PackageID = f.str("package-id")
	r.RepositoryName = f.nonEmpty("repository-name")
	if r.RepositoryName != "" {
		if err := checkRepositoryName(r.RepositoryName); err != nil {
			f.fail("repository-name", err)
		}
	}
	if up, ok := f.optStrPresent("upstream-repository"); ok {
		if err := checkUpstreamRepository(up); err != nil {
			f.fail("upstream-repository", err)
		} else if up != r.RepositoryName {
			r.UpstreamRepository = up
		}
	}
	r.Registry = f.backend("registry")
	r.AlwaysProxy = f.flag("always-proxy")
	r.PackageName = f.optStr("package-name")
	r.Owner = f.optStr("owner")
	r.DockerOptions = f.dockerOptions(r.AlwaysProxy)
	r.Fallback = f.fallbackBackend(r.Registry)
	return r
}

func (f *fields) dockerV2() Rule {
	r := &DockerV2{Base: f.base()}
	var ok bool
	if r.PatternText, ok = f.strOK("pattern"); ok {
		p, err := imagepattern.Parse(r.PatternText)
		if err != nil {
			f.fail("pattern", err)
		}
		r.Pattern = p
	}
	r.RuleID = f.str("rule-id")
	if up, ok := f.optStrPresent("upstream-prefix"); ok {
		if err := checkUpstreamRepository(up); err != nil {
			f.fail("upstream-prefix", err)
		}
		r.UpstreamPrefix = up
	}
	r.Registry = f.backend("registry")
	r.AlwaysProxy = f.flag("always-proxy")
	r.Owner = f.optStr("owner")
	r.DockerOptions = f.dockerOptions(r.AlwaysProxy)
	r.Fallback = f.fallbackBackend(r.Registry)
	return r
}

func (f *fields) dockerOptions(alwaysProxy bool) DockerOptions {
	o := DockerOptions{Mode: DockerModeAuto}
	if alwaysProxy {
		o.Mode = DockerModeProxy
	}
	if m, ok := f.optStrPresent("mode"); ok {
		o.ModeSet = true
		switch m {
		case DockerModeAuto, DockerModeRedirect, DockerModeProxy, DockerModeCache:
			if alwaysProxy && m != DockerModeProxy && m != DockerModeCache {
				f.errorf("mode", "%q contradicts \"always-proxy\": true; drop one of them", m)
			}
			o.Mode = m
		default:
			f.errorf("mode", "unknown mode %q (known modes: auto, redirect, proxy, cache)", m)
		}
	}
	o.Push = f.flag("push")
	o.Cache = f.flag("cache")
	if env, ok := f.optStrPresent("credentials-env"); ok {
		if err := checkEnvName(env); err != nil {
			f.fail("credentials-env", err)
		}
		o.CredentialsEnv = env
	}
	if file, ok := f.optStrPresent("credentials-file"); ok {
		if file == "" {
			f.errorf("credentials-file", "must not be empty")
		}
		o.CredentialsFile = file
	}
	if o.CredentialsEnv != "" && o.CredentialsFile != "" {
		f.errorf("credentials-file", "give either credentials-env or credentials-file, not both")
	}
	return o
}

// checkUpstreamRepository accepts a registry repository name: lower-case
// path components of letters, digits and single separators, as the OCI
// distribution specification defines them.
func checkUpstreamRepository(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > 255 {
		return fmt.Errorf("invalid repository %q: longer than 255 characters", s)
	}
	for _, comp := range strings.Split(s, "/") {
		if comp == "" {
			return fmt.Errorf("invalid repository %q: empty path segment", s)
		}
		if !validComponent(comp) {
			return fmt.Errorf("invalid repository %q: %q is not a repository path component (lower-case letters and digits, separated by '.', '_', '__' or dashes)", s, comp)
		}
	}
	return nil
}

func validComponent(c string) bool {
	alnum := func(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }
	if !alnum(c[0]) || !alnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if alnum(c[i]) {
			i++
			continue
		}
		// A separator: ".", "_", "__" or one or more "-".
		j := i
		switch c[i] {
		case '.':
			j++
		case '_':
			j++
			if j < len(c) && c[j] == '_' {
				j++
			}
		case '-':
			for j < len(c) && c[j] == '-' {
				j++
			}
		default:
			return false
		}
		if j >= len(c) || !alnum(c[j]) {
			return false
		}
		i = j
	}
	return true
}

// checkEnvName accepts a POSIX environment variable name.
func checkEnvName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return fmt.Errorf("invalid environment variable name %q", s)
		}
	}
	return nil
}

// checkDockerPush refuses "push": true without credentials on a domain
// where Portico runs the registry auth handshake (see docs/docker.md; the
// conditions are those of the docker handler). There Portico hands out
// its own tokens and goes upstream with the rule's credentials, so it
// must know who may push: only a client that logs in with the rule's
// credentials gets a token that allows pushing. Without credentials there
// is nobody to allow, and an anonymous push would have nowhere to go.
// On a pass-through domain the registry authenticates pushers itself.
func (d *decoder) checkDockerPush(rules []Rule) {
	type domain struct {
		reason     string // why Portico runs the handshake, "" when it does not
		registries map[string]bool
		push       []Rule // rules with push and no credentials
	}
	domains := make(map[string]*domain)
	var order []string
	for _, r := range rules {
		var o *DockerOptions
		var renames bool
		var registry Backend
		switch r := r.(type) {
		case *DockerV1:
			o, renames, registry = &r.DockerOptions, r.UpstreamRepository != "", r.Registry
		case *DockerV2:
			o, renames, registry = &r.DockerOptions, r.UpstreamPrefix != "", r.Registry
		default:
			continue
		}
		b := r.Common()
		dom := domains[b.Host]
		if dom == nil {
			dom = &domain{registries: make(map[string]bool)}
			domains[b.Host] = dom
			order = append(order, b.Host)
		}
		dom.registries[registry.URL()] = true
		switch {
		case dom.reason != "":
		case renames:
			dom.reason = fmt.Sprintf("rules[%d] serves an image under another name", b.Index)
		case o.HasCredentials():
			dom.reason = fmt.Sprintf("rules[%d] names upstream credentials", b.Index)
		}
		if o.Push && !o.HasCredentials() {
			dom.push = append(dom.push, r)
		}
	}
	for _, host := range order {
		dom := domains[host]
		if dom.reason == "" && len(dom.registries) > 1 {
			dom.reason = "its docker rules use more than one registry"
		}
		if dom.reason == "" {
			continue
		}
		for _, r := range dom.push {
			d.errorf(r.Common().Index, r.Type(), "push",
				"needs credentials-env or credentials-file: Portico runs the registry auth handshake on %s (%s), so only clients that log in with the rule's credentials may push, and pushes go upstream with them", host, dom.reason)
		}
	}
}
