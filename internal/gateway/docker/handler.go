package docker

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/imagepattern"
	"portico/internal/manifest"
	"portico/internal/upstream"
)

// rule is one compiled docker-v1 or docker-v2 rule.
type rule struct {
	packageID string // docker-v1
	ruleID    string // docker-v2
	name      string // docker-v1: the public image name
	upstream  string // docker-v1: the registry's name for it, when renamed
	pattern   *imagepattern.Pattern
	// docker-v2 renames: the pattern's first fixed segments are replaced
	// by upstreamPrefix on the registry.
	upstreamPrefix string
	fixed          int
	backend        manifest.Backend
	base           string // backend.URL()
	hub            bool   // the backend is Docker Hub: single names get library/
	mode           string
	push           bool
	cache          bool // "cache": true or "mode": "cache"
	creds          credentials
	policy         *upstream.Policy // nil if the backend URL is unusable
	// fallback is the registry that serves the rule while its own
	// fails, nil when it has none; pair holds the health of both.
	fallback *registry
	pair     *upstream.Pair
	// collection is the id of the collection a docker-v2 rule was
	// compiled from: its downloads count under the package the
	// collection creates for each image (gateway.CollectionPackageID).
	collection string
}

// Handler serves the registry API of one domain: all of its docker-v1
// and docker-v2 rules, merged so that finding an image's rule costs one
// map lookup (docker-v1) plus one match per docker-v2 pattern, however
// many images the domain serves.
type Handler struct {
	v1    map[string]*rule // public image name → first docker-v1 rule
	v2    []*rule          // manifest order
	colls []*rule          // collections' docker-v2 rules, tried last
	first *rule            // answers /v2/ in pass-through mode
	// owned: Portico runs the auth handshake for this domain, because
	// a rule renames an image, authenticates upstream, or the domain's
	// rules use more than one registry.
	owned bool
	// pushers are the rules that allow pushes with credentials: on an
	// owned domain, the only ones whose clients may get push tokens.
	pushers []*rule
	opts    Options
}

// New compiles the docker rules of one domain, each list in manifest
// order. As in Scarf Gateway, docker-v1 rules take precedence over
// docker-v2 rules, and the domain's first docker rule answers /v2/.
// collections are the docker-v2 rules of the domain's collections, each
// with its collection's id as RuleID: they are tried after every other
// rule, so that an image with a package of its own is served by it. It
// fails only when opts lack a required field.
func New(v1 []*manifest.DockerV1, v2 []*manifest.DockerV2, collections []*manifest.DockerV2, opts Options) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{v1: make(map[string]*rule, len(v1)), opts: opts}
	registries := make(map[string]bool)
	for _, m := range v1 {
		r := &rule{
			packageID: m.PackageID,
			name:      m.RepositoryName,
			upstream:  m.UpstreamRepository,
		}
		r.setCommon(m.Registry, &m.DockerOptions, opts.Health)
		if _, dup := h.v1[r.name]; !dup {
			h.v1[r.name] = r
		}
		if h.first == nil {
			h.first = r
		}
		h.owned = h.owned || r.upstream != "" || r.creds.set() || h.caches(r)
		registries[r.base] = true
		h.addPusher(r)
	}
	addV2 := func(m *manifest.DockerV2, collection string) *rule {
		r := &rule{ruleID: m.RuleID, collection: collection, pattern: m.Pattern, upstreamPrefix: m.UpstreamPrefix, fixed: m.Pattern.FixedPrefix()}
		r.setCommon(m.Registry, &m.DockerOptions, opts.Health)
		if h.first == nil {
			h.first = r
		}
		h.owned = h.owned || r.upstreamPrefix != "" || r.creds.set() || h.caches(r)
		registries[r.base] = true
		h.addPusher(r)
		return r
	}
	for _, m := range v2 {
		h.v2 = append(h.v2, addV2(m, ""))
	}
	for _, m := range collections {
		h.colls = append(h.colls, addV2(m, m.RuleID))
	}
	h.owned = h.owned || len(registries) > 1
	return h, nil
}

// caches reports whether r's reads go through the proxy cache. Portico
// then runs the auth handshake of the rule's domain: a cached object is
// served without asking the registry, so the gateway decides who gets
// it, and fetches it with its own credentials.
func (h *Handler) caches(r *rule) bool { return r.cache && h.opts.Proxy.cache != nil }

func (h *Handler) addPusher(r *rule) {
	if r.push && r.creds.set() {
		h.pushers = append(h.pushers, r)
	}
}

// registry is a fallback registry of a rule.
type registry struct {
	backend manifest.Backend
	base    string
	policy  *upstream.Policy
}

func (r *rule) setCommon(b manifest.Backend, o *manifest.DockerOptions, health *upstream.Health) {
	r.backend = b
	r.base = b.URL()
	// The manifest checked the backend; a nil policy, which the proxy
	// refuses, could only come from a host it let through by mistake.
	r.policy, _ = upstream.NewPolicy(r.base)
	if o.Fallback.Host != "" {
		fb := &registry{backend: o.Fallback, base: o.Fallback.URL()}
		fb.policy, _ = upstream.NewPolicy(fb.base)
		r.fallback = fb
		if health != nil {
			// Probed at /v2/, which answers 200 or 401 on a working
			// registry.
			r.pair, _ = health.Pair(r.base, r.base+"/v2/", fb.base, fb.base+"/v2/")
		}
	}
	r.hub = isDockerHub(b.Host)
	r.mode = o.Mode
	if r.mode == "" {
		r.mode = manifest.DockerModeAuto
	}
	r.push = o.Push
	r.cache = o.Cached()
	r.creds = credentials{env: o.CredentialsEnv, file: o.CredentialsFile}
}

// isDockerHub reports whether host, with or without a port, serves
// Docker Hub's registry API, where single-name images live under
// library/.
func isDockerHub(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch strings.ToLower(host) {
	case "docker.io", "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com":
		return true
	}
	return false
}

// OwnsAuth reports whether Portico runs the auth handshake for the
// domain.
func (h *Handler) OwnsAuth() bool { return h.owned }

// match is a request's image resolved to its rule.
type match struct {
	r        *rule
	public   string // the image name as recorded: library/ added on Docker Hub
	upstream string // the repository name on the registry
}

// lookup finds the rule that serves image: docker-v1 by exact name, then
// docker-v2 patterns in manifest order, then, for a single name, the same
// again with library/ in front, against Docker Hub rules only. The
// collections' patterns come after all of those, in the same two steps,
// so that an image a package serves never reaches its collection.
func (h *Handler) lookup(image []string) (match, bool) {
	name := imageName(image)
	if r, ok := h.v1[name]; ok {
		return r.matched(name), true
	}
	if r := matchPattern(h.v2, image, false); r != nil {
		return r.matched(name), true
	}
	single := len(image) == 1 && image[0] != ""
	var lib string
	var libImage []string
	if single {
		lib = "library/" + name
		if r, ok := h.v1[lib]; ok && r.hub {
			return r.matched(lib), true
		}
		libImage = []string{"library", image[0]}
		if r := matchPattern(h.v2, libImage, true); r != nil {
			return r.matched(lib), true
		}
	}
	if len(h.colls) == 0 {
		return match{}, false
	}
	if r := matchPattern(h.colls, image, false); r != nil {
		return r.matched(name), true
	}
	if single {
		if r := matchPattern(h.colls, libImage, true); r != nil {
			return r.matched(lib), true
		}
	}
	return match{}, false
}

// matchPattern returns the first of rules whose pattern matches image,
// of Docker Hub rules only when hubOnly is set.
func matchPattern(rules []*rule, image []string, hubOnly bool) *rule {
	for _, r := range rules {
		if (!hubOnly || r.hub) && r.pattern.Match(image) {
			return r
		}
	}
	return nil
}

func (r *rule) matched(name string) match {
	m := match{r: r, public: name, upstream: name}
	if r.hub && !strings.Contains(name, "/") {
		m.public = "library/" + name
		m.upstream = m.public
	}
	if r.upstream != "" {
		m.upstream = r.upstream
	}
	if r.upstreamPrefix != "" {
		rest := strings.SplitN(m.public, "/", r.fixed+1)
		m.upstream = r.upstreamPrefix
		if len(rest) > r.fixed {
			m.upstream += "/" + rest[r.fixed]
		}
	}
	return m
}

// Serve implements gateway.Rule.
func (h *Handler) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	p, ok := parsePath(req.RawPath, req.Segments())
	if !ok {
		if h.owned && req.RawPath == "/v2/token" {
			return h.serveToken(w, req), true
		}
		return gateway.Result{}, false
	}
	ev := event.Event{Kind: event.KindDocker, Docker: event.Docker{Object: p.object}}
	switch p.object {
	case objCatalog:
		// Portico never lists repositories: a rule's images are not
		// necessarily all the registry holds.
		ev.Docker.Backend = h.first.backend.Host
		status := writeError(w, http.StatusNotFound, codeUnsupported, "this registry does not list its repositories")
		return gateway.Result{Status: status, Outcome: event.OutcomeNotFound, Event: ev}, true
	case objPing:
		if !readMethod(req.Method()) {
			return methodNotAllowed(w, ev, false), true
		}
		if h.owned {
			return h.servePing(w, req, ev), true
		}
		r := h.first
		ev.Docker.Backend = r.backend.Host
		return h.forward(w, req, ev, r, r.base+req.RawPath+req.RawQuery, nil, false), true
	}
	if code, msg, ok := checkPath(req.RawPath, p); !ok {
		// Not recorded: the name belongs to no rule, and it is text
		// the client chose.
		status := writeError(w, http.StatusBadRequest, code, msg)
		return gateway.Result{Status: status, Outcome: event.OutcomeError, Uncounted: true}, true
	}
	m, ok := h.lookup(p.image)
	if !ok {
		return gateway.Result{}, false
	}
	r := m.r
	ev.PackageID, ev.RuleID = r.countedAs(m.public), r.ruleID
	ev.Docker.Image = m.public
	ev.Docker.Reference = p.reference
	ev.Docker.Backend = r.backend.Host
	write := !readMethod(req.Method())
	if write && !r.push {
		return methodNotAllowed(w, ev, r.push), true
	}
	if (p.object == objManifest || p.object == objBlob) && isDigest(p.reference) {
		ev.Docker.Digest = p.reference
	}
	upPath := req.RawPath
	if m.upstream != imageName(p.image) {
		upPath = "/v2/" + escapeRepository(m.upstream) + p.rest
	}
	upURL := r.base + upPath + req.RawQuery
	var key *upstreamKey
	if h.owned {
		if res, ok := h.authorize(w, req, m, write, ev); !ok {
			return res, true
		}
		key = &upstreamKey{base: r.base, repo: m.upstream, creds: r.creds, push: write}
	}
	var res gateway.Result
	if !write && (p.object == objBlob || p.object == objManifest) && h.caches(r) && (r.mode == manifest.DockerModeCache || !h.redirects(req, r, key)) {
		t := &target{base: r.base, path: strings.TrimPrefix(upURL, r.base), policy: r.policy, key: key, blob: p.object == objBlob}
		if r.fallback != nil {
			// A miss is fetched as a proxied read is: from the
			// rule's other registry when this one fails.
			fb := *t
			fb.base, fb.policy, fb.key, fb.fallback = r.fallback.base, r.fallback.policy, key.on(r.fallback.base), true
			t.next, t.pair = &fb, r.pair
		}
		var from fetchedFrom
		res = h.cached(w, req, ev, t, p.reference, &from)
		switch from.Load() {
		case fromFallback:
			res.Event.Docker.Backend = r.fallback.backend.Host
			if res.Outcome == event.OutcomeProxy {
				r.pair.Fallback.Served(true)
			}
		case fromPrimary:
			if r.pair != nil && res.Outcome == event.OutcomeProxy {
				r.pair.Primary.Served(false)
			}
		}
		res.Event.Docker.Pull = p.object == objManifest && req.Method() == http.MethodGet && res.Outcome == event.OutcomeProxy && res.Status < 400
	} else {
		res = h.forward(w, req, ev, r, upURL, key, write)
	}
	if r.collection != "" {
		res.Collected = gateway.Collected{Collection: r.collection, Artifact: m.public}
	}
	return res, true
}

// countedAs returns the package id that the rule's downloads of image
// count under.
func (r *rule) countedAs(image string) string {
	if r.collection != "" {
		return gateway.CollectionPackageID(r.collection, image)
	}
	return r.packageID
}

// forward redirects or proxies a request the domain takes, and completes
// its event.
func (h *Handler) forward(w http.ResponseWriter, req *gateway.Request, ev event.Event, r *rule, upURL string, key *upstreamKey, write bool) gateway.Result {
	pull := ev.Docker.Object == objManifest && req.Method() == http.MethodGet
	path := strings.TrimPrefix(upURL, r.base)
	// While the rule's registry is down and its fallback is not,
	// redirects go to the fallback, and proxied reads ask it first.
	useFallback := r.fallback != nil && r.pair.UseFallback()
	if !write {
		rkey, base := key, r.base
		if useFallback {
			rkey, base = key.on(r.fallback.base), r.fallback.base
		}
		if h.redirects(req, r, rkey) {
			// The query is kept: tag-list pagination depends on it.
			gateway.Redirect(w, base+path)
			ev.Docker.Pull = pull
			if useFallback {
				ev.Docker.Backend = r.fallback.backend.Host
				r.pair.Fallback.Served(true)
			} else if r.pair != nil {
				r.pair.Primary.Served(false)
			}
			return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}
		}
	}
	t := &target{base: r.base, path: path, policy: r.policy, key: key, body: write, blob: ev.Docker.Object == objBlob}
	if key != nil && key.repo != ev.Docker.Image {
		t.rename = [2]string{"/v2/" + key.repo + "/", "/v2/" + ev.Docker.Image + "/"}
	}
	if r.fallback != nil && !write {
		fb := *t
		fb.base, fb.policy, fb.key, fb.fallback = r.fallback.base, r.fallback.policy, key.on(r.fallback.base), true
		t.next, t.pair = &fb, r.pair
		if useFallback {
			fb.next, fb.pair, t.next = t, r.pair, nil
			t = &fb
		}
	}
	out := h.opts.Proxy.serve(w, req.HTTP, t)
	if out.fallback {
		ev.Docker.Backend = r.fallback.backend.Host
	}
	if r.pair != nil && out.outcome == event.OutcomeProxy {
		if out.fallback {
			r.pair.Fallback.Served(true)
		} else {
			r.pair.Primary.Served(false)
		}
	}
	if ev.Docker.Object == objManifest || ev.Docker.Object == objReferrers {
		ev.Docker.MediaType = out.mediaType
	}
	if out.digest != "" && ev.Docker.Object != objTags && ev.Docker.Object != objPing {
		ev.Docker.Digest = out.digest
	}
	// A pull is a manifest GET that was served: a refused, failed or
	// abandoned request downloaded nothing.
	ev.Docker.Pull = pull && out.outcome == event.OutcomeProxy && out.status < 400
	return gateway.Result{Status: out.status, Outcome: out.outcome, Event: ev}
}

// redirects decides between redirect and proxy for a read request.
func (h *Handler) redirects(req *gateway.Request, r *rule, key *upstreamKey) bool {
	switch r.mode {
	case manifest.DockerModeProxy, manifest.DockerModeCache:
		return false
	case manifest.DockerModeAuto:
		if basicAuth(req.HTTP) || !followsRedirects(userAgent(req.HTTP)) {
			if key == nil {
				return false
			}
		}
	}
	if key != nil {
		// The client holds a Portico token, which the registry would
		// not accept: redirect only to a registry that needs no
		// credentials.
		need, err := h.opts.Proxy.auth.needsAuth(req.HTTP.Context(), key.base)
		return err == nil && !need
	}
	return true
}

func readMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

var allowRead = []string{"GET, HEAD"}
var allowAll = []string{"GET, HEAD, POST, PUT, PATCH, DELETE"}

// methodNotAllowed refuses a method the rule does not serve.
func methodNotAllowed(w http.ResponseWriter, ev event.Event, push bool) gateway.Result {
	if push {
		w.Header()["Allow"] = allowAll
	} else {
		w.Header()["Allow"] = allowRead
	}
	status := writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "this registry serves pulls only (GET and HEAD)")
	return gateway.Result{Status: status, Outcome: event.OutcomeError, Event: ev}
}

// realm returns the token endpoint URL and service name of the domain as
// the client addressed it. The URL is built from the parsed host and
// port, never from header text.
func (h *Handler) realm(req *gateway.Request) (realm, service string) {
	return string(req.AppendOrigin(nil)) + "/v2/token", req.Domain
}

// challenge answers 401 with Portico's Bearer challenge. insufficient
// says that the client's token is valid but does not grant the access
// the request needs: as distribution's registry does (RFC 6750 section
// 3.1), the challenge then says so, and clients that see it twice for
// the same request stop asking for new tokens.
func (h *Handler) challenge(w http.ResponseWriter, req *gateway.Request, scopeName string, push, insufficient bool) int {
	realm, service := h.realm(req)
	v := `Bearer realm="` + realm + `",service="` + service + `"`
	if scopeName != "" {
		actions := "pull"
		if push {
			actions = "pull,push"
		}
		v += `,scope="repository:` + scopeName + `:` + actions + `"`
	}
	if insufficient {
		v += `,error="insufficient_scope"`
	}
	w.Header().Set("Www-Authenticate", v)
	return writeError(w, http.StatusUnauthorized, codeUnauthorized, "authentication required")
}

// authorize checks the client's Portico token for m's image.
func (h *Handler) authorize(w http.ResponseWriter, req *gateway.Request, m match, push bool, ev event.Event) (gateway.Result, bool) {
	c, err := h.opts.Signer.verify(bearer(req.HTTP.Header["Authorization"]), req.Domain)
	if err == nil && c.allows(m.public, push) {
		return gateway.Result{}, true
	}
	status := h.challenge(w, req, m.public, push, err == nil)
	return gateway.Result{Status: status, Outcome: event.OutcomeError, Event: ev}, false
}

func (h *Handler) servePing(w http.ResponseWriter, req *gateway.Request, ev event.Event) gateway.Result {
	if _, err := h.opts.Signer.verify(bearer(req.HTTP.Header["Authorization"]), req.Domain); err != nil {
		status := h.challenge(w, req, "", false, false)
		return gateway.Result{Status: status, Outcome: event.OutcomeError, Event: ev}
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", "2")
	hd.Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(http.StatusOK)
	if req.Method() != http.MethodHead {
		_, _ = w.Write([]byte("{}"))
	}
	return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Event: ev}
}

// maxTokenForm bounds the body of a POST token request.
const maxTokenForm = 64 << 10

// serveToken is the token endpoint of Portico's auth handshake
// (/v2/token): it grants each requested repository the domain serves
// what Options.Authorize allows of the request, where push is only ever
// asked by a client that logged in with the rule's credentials on a rule
// that allows pushes (see pushAuth). Token requests are not downloads
// and are not recorded.
func (h *Handler) serveToken(w http.ResponseWriter, req *gateway.Request) gateway.Result {
	r := req.HTTP
	res := gateway.Result{Outcome: event.OutcomeServe, Uncounted: true, Event: event.Event{Kind: event.KindDocker, Docker: event.Docker{Object: objToken}}}
	var scopes []string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		scopes = r.URL.Query()["scope"]
	case http.MethodPost:
		err := req.ReadBody(w, func(body io.ReadCloser) error {
			r.Body = http.MaxBytesReader(w, body, maxTokenForm)
			return r.ParseForm()
		})
		if errors.Is(err, gateway.ErrBodyTimeout) {
			w.Header().Set("Connection", "close")
			res.Status, res.Outcome = writeError(w, http.StatusRequestTimeout, codeUnsupported, "the request body did not arrive in time"), event.OutcomeError
			return res
		}
		if err != nil {
			res.Status, res.Outcome = writeError(w, http.StatusBadRequest, "UNSUPPORTED", "invalid token request"), event.OutcomeError
			return res
		}
		scopes = r.PostForm["scope"]
	default:
		w.Header()["Allow"] = []string{"GET, HEAD, POST"}
		res.Status, res.Outcome = writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "token requests use GET or POST"), event.OutcomeError
		return res
	}
	auth := h.pushAuth(r)
	if auth.presented && len(h.pushers) > 0 && !auth.any(h.pushers) {
		// Credentials only serve to push here: wrong ones are refused,
		// so that a login with them fails instead of a later push.
		res.Status, res.Outcome = writeError(w, http.StatusUnauthorized, codeUnauthorized, "invalid username or password"), event.OutcomeError
		return res
	}
	c := claims{Aud: req.Domain}
	for _, sc := range parseScopes(scopes) {
		m, ok := h.lookup(strings.Split(sc.name, "/"))
		if !ok {
			continue
		}
		tr := TokenRequest{Domain: req.Domain, Repository: m.public, PackageID: m.r.countedAs(m.public), RuleID: m.r.ruleID, Push: sc.push && auth.allows(m.r)}
		access, err := h.opts.Authorize(r.Context(), tr)
		if err != nil {
			h.opts.Logger.Warn("token request failed: the access policy could not decide", "domain", req.Domain, "repository", m.public, "err", err)
			res.Status, res.Outcome = writeError(w, http.StatusServiceUnavailable, codeUnavailable, "access cannot be decided now, try again later"), event.OutcomeError
			return res
		}
		if !access.Pull {
			// Left out, not refused: the token specification has the
			// token server grant the intersection of what was asked
			// and what is allowed, and the registry refuse the rest.
			continue
		}
		g := grant{Name: m.public, Push: tr.Push && access.Push}
		if i := slices.IndexFunc(c.Grants, func(x grant) bool { return x.Name == g.Name }); i >= 0 {
			c.Grants[i].Push = c.Grants[i].Push || g.Push
			continue
		}
		c.Grants = append(c.Grants, g)
		if m.public != sc.name {
			// The client names the image as it asked ("hello-world");
			// grant that spelling too.
			c.Grants = append(c.Grants, grant{Name: sc.name, Push: g.Push})
		}
	}
	tok, ttl := h.opts.Signer.issue(c)
	body, _ := json.Marshal(struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}{tok, tok, int(ttl.Seconds())})
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	res.Status = http.StatusOK
	return res
}
