package docker

import (
	"net/http"
	"slices"
	"strings"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/imagepattern"
	"portico/internal/manifest"
)

// Options are what docker rules need at request time.
type Options struct {
	// Proxy streams requests to backend registries. Nil uses a default
	// proxy with Portico's timeouts.
	Proxy *Proxy
}

// Rule serves the images of one docker-v1 or docker-v2 rule.
type Rule struct {
	packageID   string // docker-v1
	ruleID      string // docker-v2
	image       []string
	pattern     *imagepattern.Pattern
	backend     manifest.Backend
	alwaysProxy bool
	proxy       *Proxy
}

// NewV1 compiles a docker-v1 rule.
func NewV1(r *manifest.DockerV1, opts Options) *Rule {
	return &Rule{
		packageID:   r.PackageID,
		image:       strings.Split(r.RepositoryName, "/"),
		backend:     r.Registry,
		alwaysProxy: r.AlwaysProxy,
		proxy:       opts.proxy(),
	}
}

// NewV2 compiles a docker-v2 rule.
func NewV2(r *manifest.DockerV2, opts Options) *Rule {
	return &Rule{
		ruleID:      r.RuleID,
		pattern:     r.Pattern,
		backend:     r.Registry,
		alwaysProxy: r.AlwaysProxy,
		proxy:       opts.proxy(),
	}
}

func (o Options) proxy() *Proxy {
	if o.Proxy != nil {
		return o.Proxy
	}
	return defaultProxy()
}

// Serve implements gateway.Rule.
func (r *Rule) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	p, ok := parsePath(req.RawPath, req.Segments())
	if !ok {
		return gateway.Result{}, false
	}
	ev := event.Event{Kind: event.KindDocker, Docker: event.Docker{Object: p.object, Backend: r.backend.Host}}
	switch p.object {
	case objCatalog:
		// Portico never lists repositories: a rule's images are not
		// necessarily all the registry holds.
		w.WriteHeader(http.StatusNotFound)
		return gateway.Result{Status: http.StatusNotFound, Outcome: event.OutcomeNotFound, Event: ev}, true
	case objPing:
	default:
		if !r.takes(p.image) {
			return gateway.Result{}, false
		}
		ev.PackageID, ev.RuleID = r.packageID, r.ruleID
		ev.Docker.Image = imageName(p.image)
		ev.Docker.Reference = p.reference
		ev.Docker.Pull = p.object == objManifest && req.Method() == http.MethodGet
	}
	if r.shouldProxy(req.HTTP) {
		status := r.proxy.serve(w, req, r.backend)
		outcome := event.OutcomeProxy
		if status >= 500 && status <= 504 && status != http.StatusNotImplemented {
			outcome = event.OutcomeError
		}
		return gateway.Result{Status: status, Outcome: outcome, Event: ev}, true
	}
	// The query is kept: tag-list pagination depends on it.
	gateway.Redirect(w, r.backend.URL()+req.RawPath+req.RawQuery)
	return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}, true
}

func (r *Rule) takes(image []string) bool {
	if r.pattern != nil {
		return r.pattern.Match(image)
	}
	return slices.Equal(image, r.image)
}

// shouldProxy decides as Scarf Gateway does: always-proxy rules and Basic
// credentials are proxied, clients known to follow redirects are
// redirected, everyone else is proxied.
func (r *Rule) shouldProxy(req *http.Request) bool {
	if r.alwaysProxy {
		return true
	}
	if auth := req.Header["Authorization"]; len(auth) > 0 && strings.HasPrefix(auth[0], "Basic") {
		return true
	}
	ua := ""
	if v := req.Header["User-Agent"]; len(v) > 0 {
		ua = v[0]
	}
	return !followsRedirects(ua)
}

// followsRedirects is Scarf Gateway's list of clients that follow a
// registry redirect with their credentials.
func followsRedirects(ua string) bool {
	return strings.HasPrefix(ua, "docker/") ||
		strings.Contains(ua, "Docker-Client") ||
		strings.Contains(ua, "containerd/1.4.9") ||
		strings.Contains(ua, "containerd/1.5.5") ||
		strings.Contains(ua, "containerd/1.6") ||
		ua == "Watchtower (Docker)"
}
