package docker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"portico/internal/blobcache"
	"portico/internal/event"
	"portico/internal/stream"
	"portico/internal/upstream"
)

// maxInternalRedirects bounds the redirects within the registry's origin
// that the proxy follows for one request.
const maxInternalRedirects = 10

// Proxy streams registry requests to backends. One Proxy serves every
// request of the process: it holds the connection pool and the upstream
// token cache, which outlive manifest reloads.
type Proxy struct {
	client *http.Client
	auth   *upstreamAuth
	stall  time.Duration
	log    *slog.Logger
	// The proxy cache, when the process has one (SetCache).
	cache  *blobcache.Cache
	tagTTL time.Duration
	tags   tags
}

// NewProxy returns a proxy sending through transport, or upstream's
// default transport when nil, logging to log (nil discards). A proxied
// body, either way, that makes no progress for stall (stream.DefaultStall
// when 0) is abandoned.
func NewProxy(transport *upstream.Transport, log *slog.Logger, stall time.Duration) *Proxy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if stall <= 0 {
		stall = stream.DefaultStall
	}
	c := upstream.NewClient(transport)
	return &Proxy{client: c, auth: newUpstreamAuth(c), stall: stall, log: log}
}

// target is where and how one request is proxied.
type target struct {
	base string // backend URL: scheme://host[:port]
	path string // raw path and query to request there
	// policy is the rule's outbound policy: the registry's origin.
	policy *upstream.Policy
	// blob is set for blob downloads, whose redirects to storage on
	// another host go back to the client.
	blob bool
	// key is set on domains where Portico owns the auth handshake: the
	// client's Authorization is then replaced by the gateway's own
	// upstream credentials for key.
	key *upstreamKey
	// body forwards the request body (pushes).
	body bool
	// rename maps the upstream repository path prefix in Location
	// headers back to the public one: {"/v2/acme-corp/rs/",
	// "/v2/acme/rocket-skates/"}.
	rename [2]string
	// next is where a read goes when this registry fails before any
	// byte went to the client: the rule's other registry, or nil.
	// pair holds the health of both.
	next *target
	pair *upstream.Pair
	// fallback is set on the target of a rule's fallback registry.
	fallback bool
}

// outcome is what a proxied request came to.
type outcome struct {
	status    int
	outcome   event.Outcome
	mediaType string
	digest    string
	// fallback is set when the rule's fallback registry answered.
	fallback bool
	// retry says that the registry failed and nothing was written.
	retry bool
}

// hopByHop are the headers that describe one connection, never forwarded
// in either direction (RFC 9110 section 7.6.1), plus Proxy-Authorization,
// which is for the gateway, not the registry.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// serve proxies the request to t and streams the answer to w. A read
// that t fails (no answer, no headers in time, a 5xx answer) goes to
// t.next, when there is one, before anything is written.
func (p *Proxy) serve(w http.ResponseWriter, in *http.Request, t *target) outcome {
	retry := t.next != nil && (in.Method == http.MethodGet || in.Method == http.MethodHead)
	out := p.serveOne(w, in, t, retry)
	last := t
	if out.retry {
		p.log.Info("registry failed, asking the other", "registry", t.base, "other", t.next.base)
		last = t.next
		out = p.serveOne(w, in, last, false)
	}
	// The event names the registry that answered, or the last one
	// asked.
	out.fallback = last.fallback
	return out
}

// serveOne proxies the request to t. With retry, a failure of t before
// anything was written is not answered: the outcome says to retry.
func (p *Proxy) serveOne(w http.ResponseWriter, in *http.Request, t *target, retry bool) outcome {
	if t.policy == nil {
		return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "invalid registry URL"), outcome: event.OutcomeError}
	}
	u, err := url.Parse(t.base + t.path)
	if err != nil {
		return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "invalid upstream URL"), outcome: event.OutcomeError}
	}
	ctx, cancel := context.WithCancel(upstream.WithPolicy(in.Context(), t.policy))
	defer cancel()
	headers := func() {}
	if t.next != nil {
		// A registry with another to go to gets a bounded time to
		// answer; once it has, its body may take as long as it takes.
		var stop func()
		ctx, headers, stop = upstream.WithHeaderTimeout(ctx, t.pair.Timeout())
		defer stop()
	}
	fail := func(err error, doing string) outcome {
		if retry && upstream.Failed(ctx, nil, err) && !errors.Is(err, errRefused) && !errors.Is(err, errNoCredentials) {
			p.log.Warn("registry failed", "registry", t.base, "doing", doing, "err", err)
			return outcome{retry: true}
		}
		return p.upstreamFailure(w, in, err, doing)
	}

	var authz string
	if t.key != nil {
		if authz, err = p.auth.authorization(ctx, *t.key); err != nil {
			return fail(err, "authenticating to the registry")
		}
	}
	withBody := t.body && in.Body != nil && in.Body != http.NoBody
	var upload io.Reader
	if withBody {
		// A pusher that stops sending fails the upstream request
		// rather than holding its connection.
		up := stream.Upload(w, in.Body, p.stall)
		defer up.Close()
		upload = up
	}
	var resp *http.Response
	var loc *url.URL // the redirect passed back to the client
	retried := false
	for hop := 0; ; {
		var body io.Reader
		if withBody {
			body = upload
		}
		out, err := http.NewRequestWithContext(ctx, in.Method, u.String(), body)
		if err != nil {
			return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "invalid upstream request"), outcome: event.OutcomeError}
		}
		if withBody {
			out.ContentLength = in.ContentLength
		}
		// Where Portico owns the handshake, the client's Authorization
		// is Portico's own token: the registry gets the gateway's. A
		// fallback never gets the client's: it was issued for the
		// rule's own registry.
		copyRequestHeaders(out.Header, in.Header, t.key == nil && !t.fallback)
		if authz != "" {
			out.Header.Set("Authorization", authz)
		}
		resp, err = p.client.Do(out)
		if err != nil {
			return fail(err, "sending the request")
		}
		if t.key != nil && resp.StatusCode == http.StatusUnauthorized && !retried && !withBody {
			// The upstream token may have been revoked or expired
			// early: fetch a new one once.
			drain(resp.Body)
			retried = true
			p.auth.forget(*t.key)
			if authz, err = p.auth.authorization(ctx, *t.key); err != nil {
				return fail(err, "authenticating to the registry")
			}
			continue
		}
		if !isRedirect(resp.StatusCode) {
			break
		}
		next, follow, err := redirect(resp, in.Method, u, t, withBody)
		if err != nil {
			drain(resp.Body)
			return p.refused(w, err, t)
		}
		if !follow {
			loc = next
			break
		}
		drain(resp.Body)
		if hop++; hop > maxInternalRedirects {
			return p.refused(w, &upstream.RefusedError{Target: next.Host, Reason: "too many redirects"}, t)
		}
		u = next
	}
	headers()
	if retry && resp.StatusCode >= 500 {
		drain(resp.Body)
		p.log.Warn("registry failed", "registry", t.base, "status", resp.StatusCode)
		return outcome{retry: true}
	}
	defer resp.Body.Close()

	if t.key != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		// The client is authorized by Portico; a refusal now is the
		// registry refusing Portico's credentials.
		drain(resp.Body)
		p.log.Warn("registry refused the gateway's credentials", "registry", t.base, "repository", t.key.repo, "credentials", t.key.creds.String(), "status", resp.StatusCode)
		return outcome{status: writeError(w, http.StatusForbidden, codeDenied, "the registry refused access to this repository"), outcome: event.OutcomeError}
	}

	h := w.Header()
	copyResponseHeaders(h, resp.Header)
	if t.key != nil {
		h.Del("Www-Authenticate")
	}
	if loc != nil {
		h.Set("Location", loc.String())
	} else if l := resp.Header.Get("Location"); l != "" {
		h.Set("Location", p.location(l, t))
	}
	res := outcome{status: resp.StatusCode, outcome: event.OutcomeProxy}
	if resp.StatusCode >= 500 {
		res.outcome = event.OutcomeError
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res.mediaType = mediaType(resp.Header.Get("Content-Type"))
		res.digest = resp.Header.Get("Docker-Content-Digest")
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Redirects to blob storage are passed on without their body.
		h.Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		return res
	}
	w.WriteHeader(resp.StatusCode)
	if in.Method == http.MethodHead {
		return res
	}
	if _, err := stream.Copy(w, resp.Body, resp.ContentLength, p.stall, cancel); err != nil {
		// Headers are out, so the client sees a truncated body; the
		// transfer did not complete and is not a pull.
		res.outcome = event.OutcomeError
	}
	return res
}

// redirect decides what to do with a redirect the registry answered the
// request to from with: follow it (a read that stays on the registry's
// own origin), pass it back to the client (next, absolute), or refuse it
// (err, a 502 for the client). Blob downloads are the only requests
// whose redirects may leave the registry: to the storage that serves the
// bytes, which the client fetches itself, without Portico and without
// the registry's credentials.
func redirect(resp *http.Response, method string, from *url.URL, t *target, withBody bool) (next *url.URL, follow bool, err error) {
	next, err = upstream.Resolve(from, resp.Header.Get("Location"))
	if err != nil {
		return nil, false, err
	}
	if t.policy.IsBackend(next) {
		// A blob redirect to a path outside the API is the registry's
		// own storage: the client fetches it there, as from any
		// storage.
		read := !withBody && (method == http.MethodGet || method == http.MethodHead)
		api := next.Path == "/v2" || strings.HasPrefix(next.Path, "/v2/")
		return next, read && (api || !t.blob), nil
	}
	if t.blob {
		return next, false, nil
	}
	o, _ := upstream.OriginOf(next)
	return nil, false, &upstream.RefusedError{Target: o.String(), Reason: "the registry redirected to another host; only blob downloads may leave the registry's origin"}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// refused answers a request the outbound policy stopped, naming the
// refused host (never the client's address) in the OCI error and the log.
func (p *Proxy) refused(w http.ResponseWriter, err error, t *target) outcome {
	p.log.Warn("outbound request refused", "registry", t.base, "err", err)
	return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "the gateway refused to follow the registry: "+err.Error()), outcome: event.OutcomeError}
}

// location rewrites the Location header of an answer that is not a
// redirect (uploads, 201/202). An upload URL that points at the registry
// is made relative, so that the client keeps going through the gateway,
// and renamed repositories get their public name.
func (p *Proxy) location(loc string, t *target) string {
	if rest, ok := strings.CutPrefix(loc, t.base); ok && strings.HasPrefix(rest, "/") {
		loc = rest
	}
	if t.rename[0] != "" {
		if rest, ok := strings.CutPrefix(loc, t.rename[0]); ok {
			loc = t.rename[1] + rest
		}
	}
	return loc
}

// upstreamFailure answers a request the registry did not answer.
func (p *Proxy) upstreamFailure(w http.ResponseWriter, in *http.Request, err error, doing string) outcome {
	if in.Context().Err() != nil {
		// The client went away first: nothing can be sent, and the
		// request was not served.
		return outcome{status: statusClientClosed, outcome: event.OutcomeError}
	}
	if re, ok := errors.AsType[*upstream.RefusedError](err); ok {
		p.log.Warn("outbound request refused", "doing", doing, "err", re)
		return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "the gateway refused a request while "+doing+": "+re.Error()), outcome: event.OutcomeError}
	}
	if errors.Is(err, errRefused) {
		p.log.Warn("registry refused the gateway's credentials", "doing", doing, "err", err)
		return outcome{status: writeError(w, http.StatusForbidden, codeDenied, "the registry refused access to this repository"), outcome: event.OutcomeError}
	}
	if errors.Is(err, errNoCredentials) {
		p.log.Error("registry credentials missing", "err", err)
		return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "the gateway has no valid credentials for this registry"), outcome: event.OutcomeError}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		p.log.Warn("registry timed out", "doing", doing, "err", err)
		return outcome{status: writeError(w, http.StatusGatewayTimeout, codeUnavailable, "the registry did not answer in time"), outcome: event.OutcomeError}
	}
	p.log.Warn("registry unreachable", "doing", doing, "err", err)
	return outcome{status: writeError(w, http.StatusBadGateway, codeUnavailable, "the registry could not be reached"), outcome: event.OutcomeError}
}

// statusClientClosed records a request the client abandoned before it
// was answered (the status nginx logs for it).
const statusClientClosed = 499

// forwardedHeaders are the client headers a registry gets, and why:
//   - Accept: manifest media types; the registry picks the manifest's
//     form (index, OCI, Docker schema 2) from it.
//   - Range, If-Range: partial blob downloads, which containerd uses to
//     resume; If-None-Match, If-Modified-Since: conditional requests
//     with the ETag the registry gave.
//   - User-Agent: registries classify clients by it (and Docker Hub
//     applies its pull limits by client); it names no person.
//   - Content-Type: the media type of a pushed manifest, the type of an
//     uploaded blob chunk; Content-Range: the offset of a chunk in a
//     chunked upload (PATCH). Content-Length is set from the body.
//
// Nothing else goes: no cookie (the registry API uses none), no
// X-Registry-Auth (the Docker Engine API's credentials header, meant for
// the client's daemon), no X-Forwarded-For or any other header carrying
// the client's address, no header the registry API does not define.
// Authorization is added separately, only where the client
// authenticates to the registry itself.
var forwardedHeaders = []string{"Accept", "User-Agent", "Content-Type", "Content-Range"}

// copyRequestHeaders copies the headers a registry gets from the client's
// request. The client's Authorization goes along when auth is set: the
// pass-through mode, where the client holds the registry's own token.
func copyRequestHeaders(dst, src http.Header, auth bool) {
	upstream.CopyHeaders(dst, src, forwardedHeaders, upstream.ConditionalHeaders)
	if auth {
		upstream.CopyHeaders(dst, src, authorization)
	}
	if v := src["Accept-Encoding"]; len(v) > 0 {
		dst["Accept-Encoding"] = v
	} else {
		// Without this the HTTP client would ask for gzip itself and
		// decompress, changing the body and its length.
		dst["Accept-Encoding"] = identity
	}
	removeHopByHop(dst, src)
}

var (
	authorization = []string{"Authorization"}
	identity      = []string{"identity"}
)

// copyResponseHeaders passes the registry's headers back, except
// hop-by-hop ones and Set-Cookie: a registry has no business setting
// cookies on the gateway's domain.
func copyResponseHeaders(dst, src http.Header) {
	for k, v := range src {
		if k == "Set-Cookie" {
			continue
		}
		dst[k] = v
	}
	removeHopByHop(dst, src)
}

// removeHopByHop deletes the hop-by-hop headers, and the headers that
// src's Connection header names, from dst.
func removeHopByHop(dst, src http.Header) {
	for _, c := range src["Connection"] {
		for name := range strings.SplitSeq(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		delete(dst, k)
	}
}

func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

// mediaType returns the media type of a Content-Type value, without
// parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}
