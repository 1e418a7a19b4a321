// Package npm serves npm registries built from npm-v1 rules: package
// documents (packuments, full and abbreviated, and version documents)
// read from an upstream registry through a cache and rewritten so that
// every tarball URL points to Portico, and tarball downloads redirected
// (or proxied) to the upstream tarballs and counted.
package npm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portico/internal/blobcache"
	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/stream"
	"portico/internal/upstream"
)

// Options are what a registry needs at request time.
type Options struct {
	// Cache keeps upstream packuments; it outlives routing tables.
	// Required.
	Cache *doccache.Cache
	// Client proxies tarballs and publishes, under each rule's outbound
	// policy. Required.
	Client *http.Client
	// Logger receives warnings about refused upstream requests.
	// Required.
	Logger *slog.Logger
	// MaxPackument bounds the size of an upstream packument; a larger
	// one is refused (the cached copy is served, or 502). 0 means
	// DefaultMaxPackument.
	MaxPackument int64
	// StallTimeout bounds how long a proxied tarball or publish may
	// make no progress, either way; 0 means stream.DefaultStall.
	StallTimeout time.Duration
	// Blobs is the proxy cache, when the process has one: rules that
	// ask for it serve tarballs through it.
	Blobs *blobcache.Cache
	// Health, when set, keeps the health of the registries of rules
	// with a fallback: it decides which one is asked first, and where
	// tarball redirects go.
	Health *upstream.Health
}

// Validate reports the first required field of o that is unset.
func (o *Options) Validate() error {
	switch {
	case o.Cache == nil:
		return errors.New("npm: Options.Cache is required")
	case o.Client == nil:
		return errors.New("npm: Options.Client is required")
	case o.Logger == nil:
		return errors.New("npm: Options.Logger is required")
	}
	return nil
}

// DefaultMaxPackument bounds an upstream packument when Options do not.
// Full documents of the most published packages on the npm registry are
// 30-40 MB (abbreviated ones, which installers ask for, a few MB); the
// registry itself refuses documents over 100 MB. Rewriting a document
// allocates about twelve times its size, so the bound keeps a margin over
// today's largest without letting one upstream take gigabytes.
const DefaultMaxPackument = 64 << 20

// Registry serves the npm-v1 rules of one domain.
type Registry struct {
	rules    []*rule
	fallback string // registry of the first rule
	cache    *doccache.Cache
	client   *http.Client
	log      *slog.Logger
	stall    time.Duration
	blobs    *blobcache.Cache
}

type rule struct {
	exact        string // a package name, or "" for scope and "*" rules
	scope        string // "@scope/" for scope rules
	packageID    string
	registry     string // base URL ending in '/'
	ttl          time.Duration
	maxDoc       int64
	cacheControl []string
	alwaysProxy  bool
	allowPublish bool
	// cache: tarballs proxied go through the proxy cache; cacheMode:
	// tarballs that would be redirected too.
	cache, cacheMode bool
	// fb is the fallback registry's base URL, "" without one; pair
	// holds the health of both registries (nil without Health).
	fb   string
	pair *upstream.Pair
	// policy allows the registry's origin and the rule's tarball-hosts;
	// storage also any https host, for redirects of tarball downloads.
	policy, storage *upstream.Policy
	// fixed holds the cache requests of an exact-name rule (full,
	// abbreviated), built once; other rules keep those of the names
	// they served in requests (up to maxRequestMemo names).
	fixed     [2]*doccache.Request
	requests  sync.Map // name → *[2]doccache.Request
	memoCount atomic.Int64
}

// maxRequestMemo bounds the names a scope or "*" rule remembers cache
// requests for; past it, requests are built each time.
const maxRequestMemo = 10000

// New builds the registry of one domain from its npm-v1 rules, in
// manifest order: the first rule that takes a package serves it.
func New(rules []*manifest.NPM, opts Options) (*Registry, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	reg := &Registry{cache: opts.Cache, client: opts.Client, log: opts.Logger, stall: opts.StallTimeout, blobs: opts.Blobs}
	maxDoc := opts.MaxPackument
	if maxDoc <= 0 {
		maxDoc = DefaultMaxPackument
	}
	for _, r := range rules {
		policy, err := upstream.NewPolicy(r.Registry, r.TarballHosts...)
		if err == nil && r.Fallback != "" {
			policy, err = policy.WithFallback(r.Fallback)
		}
		if err != nil {
			return nil, fmt.Errorf("rules[%d] (npm-v1): %w", r.Index, err)
		}
		ru := &rule{
			packageID: r.PackageID, registry: r.Registry, ttl: r.CacheTTL, maxDoc: maxDoc,
			cacheControl: []string{"max-age=" + strconv.Itoa(int(r.CacheTTL/time.Second)) + ", public"},
			alwaysProxy:  r.AlwaysProxy, allowPublish: r.AllowPublish,
			cache: r.Cache, cacheMode: r.CacheMode,
			policy: policy, storage: policy.ForStorage(),
			fb: r.Fallback,
		}
		if r.Fallback != "" && opts.Health != nil {
			// A registry answers its root (a document or a 404) when
			// it works.
			if ru.pair, err = opts.Health.Pair(r.Registry, r.Registry, r.Fallback, r.Fallback); err != nil {
				return nil, fmt.Errorf("rules[%d] (npm-v1): %w", r.Index, err)
			}
		}
		switch {
		case r.PackageName == "*":
		case strings.HasSuffix(r.PackageName, "/*"):
			ru.scope = strings.TrimSuffix(r.PackageName, "*")
		default:
			ru.exact = r.PackageName
			for i, abbrev := range [...]bool{false, true} {
				dr := ru.newDocRequest(ru.exact, abbrev)
				ru.fixed[i] = &dr
			}
		}
		reg.rules = append(reg.rules, ru)
	}
	if len(reg.rules) > 0 {
		reg.fallback = reg.rules[0].registry
	}
	return reg, nil
}

func (reg *Registry) ruleFor(name string) *rule {
	for _, r := range reg.rules {
		switch {
		case r.exact != "":
			if r.exact == name {
				return r
			}
		case r.scope != "":
			if strings.HasPrefix(name, r.scope) {
				return r
			}
		default:
			return r
		}
	}
	return nil
}

// request is a registry request taken apart.
type request struct {
	name string
	rest []string // path segments after the name
}

// parsePath finds the package name in the decoded segments: "name",
// "@scope/name" written as one segment ("@scope%2fname") or two.
func parsePath(rawPath string, segs []string) (request, bool) {
	if len(segs) == 0 || segs[0] == "" {
		return request{}, false
	}
	first := segs[0]
	var r request
	switch {
	case strings.HasPrefix(first, "@") && strings.Contains(first, "/"):
		r.name, r.rest = first, segs[1:]
	case strings.HasPrefix(first, "@"):
		if len(segs) < 2 || segs[1] == "" {
			return request{}, false
		}
		r.name, r.rest = joinScoped(rawPath, first, segs[1]), segs[2:]
	default:
		r.name, r.rest = first, segs[1:]
	}
	if !validName(r.name) {
		return request{}, false
	}
	if len(r.rest) == 1 && r.rest[0] == "" {
		r.rest = nil // a trailing slash
	}
	return r, true
}

// joinScoped returns scope + "/" + name, sliced from the raw path when it
// holds them literally, so that the common case does not allocate.
func joinScoped(rawPath, scope, name string) string {
	if n := 1 + len(scope) + 1 + len(name); len(rawPath) >= n && rawPath[0] == '/' {
		if lit := rawPath[1:n]; lit[:len(scope)] == scope && lit[len(scope)] == '/' && lit[len(scope)+1:] == name {
			return lit
		}
	}
	return scope + "/" + name
}

// validName accepts the names registries serve, including legacy ones
// with capital letters.
func validName(name string) bool {
	if len(name) > 214 {
		return false
	}
	n := name
	if strings.HasPrefix(n, "@") {
		scope, rest, ok := strings.Cut(n[1:], "/")
		if !ok || !validPart(scope) {
			return false
		}
		n = rest
	}
	return validPart(n) && n[0] != '.' && n[0] != '_'
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '*' || c == '\'' || c == '(' || c == ')') {
			return false
		}
	}
	return true
}

// Serve implements gateway.Rule.
func (reg *Registry) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	segs := req.Segments()
	if len(segs) > 0 && segs[0] == "-" {
		return reg.serveSpecial(w, req, segs), true
	}
	pr, ok := parsePath(req.RawPath, segs)
	if !ok {
		return gateway.Result{}, false
	}
	m := req.Method()
	ev := event.Event{Kind: event.KindNPM}
	ev.NPM.Package = pr.name
	ru := reg.ruleFor(pr.name)
	if ru == nil {
		return reg.serveUnknown(w, req, pr, ev)
	}
	ev.PackageID = ru.packageID
	switch {
	case len(pr.rest) == 0 && (m == http.MethodGet || m == http.MethodHead):
		ev.NPM.Object = "packument"
		return reg.servePackument(w, req, ru, pr.name, ev), true
	case len(pr.rest) == 0 && m == http.MethodPut:
		return reg.publish(w, req, ru, pr.name), true
	case len(pr.rest) == 1 && (m == http.MethodGet || m == http.MethodHead):
		ev.NPM.Object = "version"
		return reg.serveVersion(w, req, ru, pr.name, pr.rest[0], ev), true
	case len(pr.rest) == 2 && pr.rest[0] == "-" && (m == http.MethodGet || m == http.MethodHead):
		ev.NPM.Object = "tarball"
		return reg.serveTarball(w, req, ru, pr.name, pr.rest[1], ev), true
	case m != http.MethodGet && m != http.MethodHead:
		return refuse(w, req, http.StatusMethodNotAllowed, "changing packages ("+m+" "+req.RawPath+") is not possible through this registry; use the upstream registry "+ru.registry), true
	}
	return refuse(w, req, http.StatusNotFound, "not found: "+req.RawPath+" (this registry serves package documents and tarballs)"), true
}

// serveSpecial answers the registry's own endpoints (/-/...): ping
// answers, everything else (search, audit, login, tokens) is not
// offered.
func (reg *Registry) serveSpecial(w http.ResponseWriter, req *gateway.Request, segs []string) gateway.Result {
	m := req.Method()
	if len(segs) == 2 && segs[1] == "ping" && (m == http.MethodGet || m == http.MethodHead) {
		writeJSON(w, req, http.StatusOK, []byte("{}\n"))
		return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Uncounted: true}
	}
	if m != http.MethodGet && m != http.MethodHead {
		return refuse(w, req, http.StatusMethodNotAllowed, m+" "+req.RawPath+" is not offered by this registry (it serves package documents and tarballs only)")
	}
	return refuse(w, req, http.StatusNotFound, req.RawPath+" is not offered by this registry (it serves package documents and tarballs only)")
}

// serveUnknown sends requests for packages no rule takes to the
// fallback registry, so that dependencies resolve.
func (reg *Registry) serveUnknown(w http.ResponseWriter, req *gateway.Request, pr request, ev event.Event) (gateway.Result, bool) {
	m := req.Method()
	if reg.fallback == "" {
		return gateway.Result{}, false
	}
	if m != http.MethodGet && m != http.MethodHead {
		return refuse(w, req, http.StatusMethodNotAllowed, "package "+pr.name+" is not served by this registry; publish it to its own registry"), true
	}
	target := reg.fallback + upstreamPath(pr.name)
	for _, s := range pr.rest {
		target += "/" + url.PathEscape(s)
	}
	ev.NPM.Object = "packument"
	if len(pr.rest) == 2 && pr.rest[0] == "-" {
		ev.NPM.Object = "tarball"
	}
	w.Header()["Location"] = []string{target}
	w.WriteHeader(http.StatusTemporaryRedirect)
	return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}, true
}

// wantsAbbreviated reports whether the client asked for the abbreviated
// document (npm, yarn and pnpm do when installing).
func wantsAbbreviated(accept []string) bool {
	for _, a := range accept {
		for item := range strings.SplitSeq(a, ",") {
			mt, params, _ := strings.Cut(item, ";")
			if strings.EqualFold(strings.TrimSpace(mt), ctypeAbbrev) && !zeroQ(params) {
				return true
			}
		}
	}
	return false
}

func zeroQ(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.TrimSpace(k) == "q" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && f <= 0
		}
	}
	return false
}

// docRequest is the cache request for a package's document.
func (ru *rule) docRequest(name string, abbreviated bool) doccache.Request {
	i := 0
	if abbreviated {
		i = 1
	}
	if ru.fixed[i] != nil {
		return *ru.fixed[i]
	}
	if v, ok := ru.requests.Load(name); ok {
		return v.(*[2]doccache.Request)[i]
	}
	if ru.memoCount.Load() >= maxRequestMemo {
		return ru.newDocRequest(name, abbreviated)
	}
	both := &[2]doccache.Request{ru.newDocRequest(name, false), ru.newDocRequest(name, true)}
	if _, loaded := ru.requests.LoadOrStore(name, both); !loaded {
		ru.memoCount.Add(1)
	}
	return both[i]
}

func (ru *rule) newDocRequest(name string, abbreviated bool) doccache.Request {
	u := ru.registry + upstreamPath(name)
	key, accept := "npm full "+u, ctypeJSON
	if abbreviated {
		key, accept = "npm abbreviated "+u, ctypeAbbrev+"; q=1.0, "+ctypeJSON+"; q=0.8"
	}
	fallback := ""
	if ru.fb != "" {
		fallback = ru.fb + upstreamPath(name)
	}
	return doccache.Request{
		Key: key, URL: u, Fallback: fallback, Pair: ru.pair, Accept: accept, TTL: ru.ttl, MaxDocument: ru.maxDoc,
		Parse: func(_ context.Context, _ *url.URL, header http.Header, body []byte) (any, int64, error) {
			p, err := parsePackument(name, abbreviated, header, body)
			if err != nil {
				return nil, 0, err
			}
			return p, int64(p.size), nil
		},
	}
}

func (reg *Registry) servePackument(w http.ResponseWriter, req *gateway.Request, ru *rule, name string, ev event.Event) gateway.Result {
	abbrev := wantsAbbreviated(req.HTTP.Header["Accept"])
	doc, state, err := reg.cache.Get(req.HTTP.Context(), ru.docRequest(name, abbrev))
	if err != nil {
		return upstreamFailed(w, req, err, ev)
	}
	if doc.Missing {
		return refuse(w, req, http.StatusNotFound, "package "+name+" is not on the upstream registry "+ru.registry)
	}
	p := doc.Value.(*packument)
	req.Buf = reg.appendBase(req.Buf[:0], req)
	rendered := p.forBase(req.Buf, abbrev)
	h := w.Header()
	h["Etag"] = rendered.etag
	h["Cache-Control"] = ru.cacheControl
	h["Vary"] = varyAccept
	h["X-Portico-Cache"] = stateHeader[state]
	if inm := req.HTTP.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm[0], rendered.etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return gateway.Result{Status: http.StatusNotModified, Outcome: event.OutcomeNotModified, Event: ev}
	}
	h["Content-Type"] = ctypeJSONHeader
	if abbrev {
		h["Content-Type"] = ctypeAbbrevHeader
	}
	h["Content-Length"] = rendered.length
	w.WriteHeader(http.StatusOK)
	if req.Method() != http.MethodHead {
		_ = p.writeTo(w, rendered.base)
	}
	return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Event: ev}
}

var (
	ctypeJSONHeader   = []string{ctypeJSON}
	ctypeAbbrevHeader = []string{ctypeAbbrev}
	stateHeader       = func() (h [5][]string) {
		for i := range h {
			h[i] = []string{doccache.State(i).String()}
		}
		return h
	}()
)

// appendBase appends the base URL clients reach this registry by, as it
// must appear inside a JSON string: the router's parsed host and port,
// which hold nothing JSON would need to escape.
func (reg *Registry) appendBase(dst []byte, req *gateway.Request) []byte {
	return req.AppendOrigin(dst)
}

var varyAccept = []string{"Accept"}

func (reg *Registry) serveVersion(w http.ResponseWriter, req *gateway.Request, ru *rule, name, spec string, ev event.Event) gateway.Result {
	doc, _, err := reg.cache.Get(req.HTTP.Context(), ru.docRequest(name, false))
	if err != nil {
		return upstreamFailed(w, req, err, ev)
	}
	if doc.Missing {
		return refuse(w, req, http.StatusNotFound, "package "+name+" is not on the upstream registry "+ru.registry)
	}
	p := doc.Value.(*packument)
	body, version, ok := p.version(spec, reg.appendBase(nil, req))
	if !ok {
		return refuse(w, req, http.StatusNotFound, "version not found: "+name+"@"+spec)
	}
	ev.NPM.Version = version
	w.Header()["Cache-Control"] = ru.cacheControl
	writeJSON(w, req, http.StatusOK, body)
	return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Event: ev}
}

func (reg *Registry) serveTarball(w http.ResponseWriter, req *gateway.Request, ru *rule, name, file string, ev event.Event) gateway.Result {
	// A download must not wait on a revalidation: any cached document
	// that lists the tarball will do.
	tb, ok := reg.peekTarball(ru, name, file)
	if !ok {
		doc, _, err := reg.cache.Get(req.HTTP.Context(), ru.docRequest(name, true))
		if err != nil {
			return upstreamFailed(w, req, err, ev)
		}
		if doc.Missing {
			return refuse(w, req, http.StatusNotFound, "package "+name+" is not on the upstream registry "+ru.registry)
		}
		if tb, ok = doc.Value.(*packument).tarballs[file]; !ok {
			return refuse(w, req, http.StatusNotFound, "tarball "+file+" is not listed in the document of "+name)
		}
	}
	ev.NPM.Version = tb.version
	first, second := ru.tarballURLs(tb.location[0])
	if reg.blobs != nil && !tb.digest.IsZero() && (ru.cacheMode || ru.cache && ru.alwaysProxy) {
		status, outcome := reg.cachedTarball(w, req, ru, tb, first, second)
		return gateway.Result{Status: status, Outcome: outcome, Event: ev}
	}
	if ru.alwaysProxy || ru.cacheMode {
		status := reg.proxyTarball(w, req, ru, first, second)
		outcome := event.OutcomeProxy
		if status >= 500 || status == 499 {
			outcome = event.OutcomeError
		}
		return gateway.Result{Status: status, Outcome: outcome, Event: ev}
	}
	if first != tb.location[0] {
		w.Header()["Location"] = []string{first}
	} else {
		w.Header()["Location"] = tb.location
	}
	w.WriteHeader(http.StatusTemporaryRedirect)
	return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}
}

func (reg *Registry) peekTarball(ru *rule, name, file string) (tarball, bool) {
	for _, abbrev := range [...]bool{true, false} {
		if doc := reg.cache.Peek(ru.docRequest(name, abbrev).Key); doc != nil && !doc.Missing {
			if tb, ok := doc.Value.(*packument).tarballs[file]; ok {
				return tb, true
			}
		}
	}
	return tarball{}, false
}

// maxTarballRedirects bounds the redirects followed for one tarball.
const maxTarballRedirects = 5

// tarballURLs returns where to fetch a tarball listed at target: first
// the rule's registry, then its fallback, while health finds the
// registry up, or the other way round. A tarball on neither (on a
// tarball host) has no second URL.
func (ru *rule) tarballURLs(target string) (first, second string) {
	if ru.fb == "" {
		return target, ""
	}
	var onPrimary, onFallback string
	if rest, ok := strings.CutPrefix(target, ru.registry); ok {
		onPrimary, onFallback = target, ru.fb+rest
	} else if rest, ok := strings.CutPrefix(target, ru.fb); ok {
		onPrimary, onFallback = ru.registry+rest, target
	} else {
		return target, ""
	}
	if ru.pair.UseFallback() {
		return onFallback, onPrimary
	}
	return onPrimary, onFallback
}

// proxyTarball streams a tarball from the upstream, from first or, when
// first fails before anything is written, from second (see
// openTarballs).
func (reg *Registry) proxyTarball(w http.ResponseWriter, req *gateway.Request, ru *rule, first, second string) int {
	// Stopping the copy of a stalled transfer cancels the request.
	ctx, cancel := context.WithCancel(req.HTTP.Context())
	defer cancel()
	resp, err := reg.openTarballs(ctx, ru, first, second, req.Method())
	if err != nil {
		return reg.tarballFailure(w, req, ru, err)
	}
	defer resp.Body.Close()
	h := w.Header()
	for _, k := range [...]string{"Content-Type", "Content-Length", "Etag", "Last-Modified", "Cache-Control"} {
		if v := resp.Header[k]; len(v) > 0 {
			h[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	if req.Method() != http.MethodHead {
		// A client that stops reading releases the upstream
		// connection after the stall timeout.
		_, _ = stream.Copy(w, resp.Body, resp.ContentLength, reg.stall, cancel)
	}
	return resp.StatusCode
}

// tarballFailure answers a tarball request whose upstream request
// failed.
func (reg *Registry) tarballFailure(w http.ResponseWriter, req *gateway.Request, ru *rule, err error) int {
	if _, ok := errors.AsType[*upstream.RefusedError](err); ok {
		return reg.refuseTarball(w, req, ru, err)
	}
	if errors.Is(err, context.Canceled) {
		return 499
	}
	status := http.StatusBadGateway
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	return writeProxyError(w, req, status, err)
}

// openTarballs requests a tarball from first and returns the answer
// that is no redirect. With a second URL (the same tarball on the
// rule's other registry), a first registry that fails (no answer, no
// headers within the fallback timeout, a 5xx answer) is given up on,
// before anything reaches the client or the proxy cache, and the
// tarball is requested from second.
func (reg *Registry) openTarballs(ctx context.Context, ru *rule, first, second, method string) (*http.Response, error) {
	if second == "" {
		return reg.openTarball(ctx, ru, first, method)
	}
	tctx, headers, stop := upstream.WithHeaderTimeout(ctx, ru.pair.Timeout())
	resp, err := reg.openTarball(tctx, ru, first, method)
	headers()
	if !upstream.Failed(tctx, resp, err) {
		if err != nil {
			stop()
			return nil, err
		}
		// The body is read after this returns, by the proxy or by
		// the cache's transfer: the context ends when it is closed.
		resp.Body = &upstream.StopBody{ReadCloser: resp.Body, Stop: stop}
		return resp, nil
	}
	if err == nil {
		resp.Body.Close()
		err = &upstreamStatus{resp.StatusCode}
	}
	stop()
	reg.log.Info("registry failed, asking the other", "registry", ru.registry, "tarball", first, "other", second, "err", err)
	return reg.openTarball(ctx, ru, second, method)
}

// openTarball requests a tarball from the upstream and returns the
// answer that is no redirect. The tarball URL comes from the upstream's
// document, so it is checked like a redirect: it must be on the
// registry's origin or one the rule lists in tarball-hosts. Redirects
// are followed there, and to storage on other https hosts (public
// addresses only); no client header is ever sent.
func (reg *Registry) openTarball(ctx context.Context, ru *rule, target, method string) (*http.Response, error) {
	u, err := url.Parse(target)
	if err == nil {
		_, err = ru.policy.Check(u)
	}
	if err != nil {
		return nil, err
	}
	policy := ru.policy
	for hop := 0; ; hop++ {
		out, err := http.NewRequestWithContext(upstream.WithPolicy(ctx, policy), method, u.String(), nil)
		if err != nil {
			return nil, err
		}
		out.Header.Set("User-Agent", "portico")
		resp, err := reg.client.Do(out)
		if err != nil {
			return nil, err
		}
		if !isRedirect(resp.StatusCode) {
			return resp, nil
		}
		resp.Body.Close()
		next, err := upstream.Resolve(u, resp.Header.Get("Location"))
		if err == nil && hop >= maxTarballRedirects {
			err = &upstream.RefusedError{Target: next.Host, Reason: "too many redirects"}
		}
		if err != nil {
			return nil, err
		}
		policy = ru.policy
		if !ru.policy.Allows(next) {
			// Storage elsewhere (a CDN, signed object storage): https
			// only, and the transport dials it on public addresses
			// only.
			if next.Scheme != "https" {
				o, _ := upstream.OriginOf(next)
				return nil, &upstream.RefusedError{Target: o.String(), Reason: "tarball redirects leave the registry's and tarball-hosts' origins only for https"}
			}
			policy = ru.storage
		}
		u = next
	}
}

// cachedTarball serves a tarball through the proxy cache, verified
// against the integrity its document gives.
func (reg *Registry) cachedTarball(w http.ResponseWriter, req *gateway.Request, ru *rule, tb tarball, first, second string) (int, event.Outcome) {
	res, err := reg.blobs.Serve(w, req.HTTP, tb.digest, "application/octet-stream", nil, func(ctx context.Context) (io.ReadCloser, int64, error) {
		resp, err := reg.openTarballs(ctx, ru, first, second, http.MethodGet)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, 0, &upstreamStatus{resp.StatusCode}
		}
		return resp.Body, resp.ContentLength, nil
	})
	if res.Status == 0 {
		var us *upstreamStatus
		if errors.As(err, &us) {
			status := us.status
			if status < 400 || status >= 500 {
				status = http.StatusBadGateway
			}
			writeJSON(w, req, status, errorBody("portico: the upstream registry answered "+strconv.Itoa(us.status)+" for the tarball"))
			if status == http.StatusNotFound {
				return status, event.OutcomeNotFound
			}
			return status, event.OutcomeError
		}
		status := reg.tarballFailure(w, req, ru, err)
		return status, event.OutcomeError
	}
	if err != nil {
		return res.Status, event.OutcomeError
	}
	return res.Status, event.OutcomeProxy
}

// upstreamStatus is an upstream's answer other than the tarball.
type upstreamStatus struct{ status int }

func (e *upstreamStatus) Error() string { return "the upstream answered " + strconv.Itoa(e.status) }

// listable reports whether listing origin in tarball-hosts could make
// it reachable: not for an address that is refused anyway.
func listable(origin string) bool {
	o, err := upstream.ParseOrigin(origin)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(o.Host)
	return err != nil || upstream.Classify(a) == upstream.Public
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// refuseTarball answers a tarball request the outbound policy stopped: a
// 502 naming the refused host, and a warning (which, like the answer,
// says nothing of the client).
func (reg *Registry) refuseTarball(w http.ResponseWriter, req *gateway.Request, ru *rule, err error) int {
	re, ok := errors.AsType[*upstream.RefusedError](err)
	if ok {
		// The transport's wrapping ("Get …: dial tcp …:") repeats
		// what the refusal says.
		err = re
	}
	reg.log.Warn("outbound request refused", "registry", ru.registry, "err", err)
	msg := "portico: the upstream tarball was not fetched: " + err.Error()
	if ok && strings.HasPrefix(re.Reason, "not the rule's backend") && listable(re.Target) {
		msg += "; list the host in the rule's tarball-hosts to allow it"
	}
	writeJSON(w, req, http.StatusBadGateway, errorBody(msg))
	return http.StatusBadGateway
}

func writeProxyError(w http.ResponseWriter, req *gateway.Request, status int, err error) int {
	writeJSON(w, req, status, errorBody("portico: the upstream tarball could not be fetched: "+err.Error()))
	return status
}

// publishHeaders are the client headers a publish takes to the rule's
// registry, and only there (publishes follow no redirect), and why:
//   - Authorization: the publisher's token, for the registry it is
//     meant for;
//   - Npm-Otp: the one-time password of accounts with two-factor
//     authentication; Npm-Auth-Type and Npm-Command: how npm
//     authenticates and which command runs, which the registry uses to
//     choose its answer (a web login, an OTP prompt);
//   - Content-Type, with Content-Length set from the body: the
//     document being published;
//   - Accept and User-Agent: the answer's format, the client's name.
//
// The client's address, cookies and every other header stay behind.
var publishHeaders = []string{"Authorization", "Npm-Otp", "Npm-Auth-Type", "Npm-Command", "Content-Type", "Accept", "User-Agent"}

// publish forwards npm publish to the upstream when the rule allows it,
// and refuses it otherwise.
func (reg *Registry) publish(w http.ResponseWriter, req *gateway.Request, ru *rule, name string) gateway.Result {
	if !ru.allowPublish {
		return refuse(w, req, http.StatusMethodNotAllowed, "publishing "+name+" through this registry is not allowed; publish to "+ru.registry+" instead")
	}
	in := req.HTTP
	ctx, cancel := context.WithCancel(upstream.WithPolicy(in.Context(), ru.policy))
	defer cancel()
	body := stream.Upload(w, in.Body, reg.stall)
	out, err := http.NewRequestWithContext(ctx, http.MethodPut, ru.registry+upstreamPath(name), body)
	if err != nil {
		return refuse(w, req, http.StatusBadGateway, "invalid upstream request")
	}
	out.ContentLength = in.ContentLength
	upstream.CopyHeaders(out.Header, in.Header, publishHeaders)
	resp, err := reg.client.Do(out)
	if err != nil {
		if _, ok := errors.AsType[*upstream.RefusedError](err); ok {
			reg.log.Warn("outbound request refused", "registry", ru.registry, "err", err)
		}
		return refuse(w, req, http.StatusBadGateway, "the upstream registry could not be reached: "+err.Error())
	}
	defer resp.Body.Close()
	for _, k := range [...]string{"Content-Type", "Content-Length", "Www-Authenticate", "Npm-Notice"} {
		if v := resp.Header[k]; len(v) > 0 {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = stream.Copy(w, resp.Body, resp.ContentLength, reg.stall, cancel)
	// A publish is not a download and is not counted.
	return gateway.Result{Status: resp.StatusCode, Outcome: event.OutcomeProxy, Uncounted: true}
}

// refuse answers with an npm-style JSON error, which npm prints. Refusals
// are not counted.
func refuse(w http.ResponseWriter, req *gateway.Request, status int, msg string) gateway.Result {
	if status == http.StatusMethodNotAllowed {
		w.Header()["Allow"] = []string{"GET, HEAD"}
	}
	writeJSON(w, req, status, errorBody(msg))
	return gateway.Result{Status: status, Outcome: event.OutcomeError, Uncounted: true}
}

func errorBody(msg string) []byte {
	return append(mustMarshal(map[string]string{"error": msg}), '\n')
}

// upstreamFailed answers when the upstream failed and nothing is cached.
func upstreamFailed(w http.ResponseWriter, req *gateway.Request, err error, ev event.Event) gateway.Result {
	status, ok := doccache.FailureStatus(req.HTTP.Context(), err)
	if !ok {
		return gateway.Result{Status: 499, Outcome: event.OutcomeError, Uncounted: true}
	}
	writeJSON(w, req, status, errorBody("portico: the upstream registry could not be read and no copy is cached: "+err.Error()))
	return gateway.Result{Status: status, Outcome: event.OutcomeError, Event: ev}
}

func writeJSON(w http.ResponseWriter, req *gateway.Request, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{ctypeJSON}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	if req.Method() != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches evaluates If-None-Match with weak comparison; "*" matches.
func etagMatches(header, etag string) bool {
	for piece := range strings.SplitSeq(header, ",") {
		piece = strings.TrimPrefix(strings.TrimSpace(piece), "W/")
		if piece == "*" || piece == etag {
			return true
		}
	}
	return false
}
