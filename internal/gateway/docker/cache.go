package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"portico/internal/blobcache"
	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/upstream"
)

// maxManifest bounds a manifest read into the cache: registries refuse
// larger ones (distribution's limit is 4 MiB).
const maxManifest = 4 << 20

// DefaultTagTTL is how long a tag's digest is trusted when Options set
// no TagTTL.
const DefaultTagTTL = time.Minute

// maxTags bounds the tags remembered; past it the table starts again.
const maxTags = 100000

// tags remembers the digest each tag named, per registry, repository and
// Accept header (a tag names an index or one of its manifests depending
// on what the client accepts).
type tags struct {
	mu sync.Mutex
	m  map[string]tagEntry
}

type tagEntry struct {
	digest blobcache.Digest
	ctype  string
	at     time.Time
}

func (t *tags) get(k string) (tagEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	return e, ok
}

func (t *tags) put(k string, e tagEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= maxTags {
		t.m = make(map[string]tagEntry)
	}
	t.m[k] = e
}

// SetCache has the proxy keep what cache rules ("cache": true, "mode":
// "cache") read in c, trusting a tag's digest for tagTTL
// (DefaultTagTTL when 0). Call it once, before serving.
func (p *Proxy) SetCache(c *blobcache.Cache, tagTTL time.Duration) {
	if tagTTL <= 0 {
		tagTTL = DefaultTagTTL
	}
	p.cache, p.tagTTL = c, tagTTL
}

// statusError is a registry answer other than the object: its status is
// passed on to the client.
type statusError struct{ status int }

func (e *statusError) Error() string { return "the registry answered " + strconv.Itoa(e.status) }

// cached serves a blob or manifest read through the proxy cache.
// from records which registry the object was fetched from, if it was.
func (h *Handler) cached(w http.ResponseWriter, req *gateway.Request, ev event.Event, t *target, reference string, from *fetchedFrom) gateway.Result {
	p := h.opts.Proxy
	c := p.cache
	in := req.HTTP
	res := gateway.Result{Event: ev}
	if ev.Docker.Object == objBlob {
		d, err := blobcache.ParseOCI(reference)
		if err != nil {
			res.Status = writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid blob digest")
			res.Outcome = event.OutcomeError
			return res
		}
		fetch := func(ctx context.Context) (io.ReadCloser, int64, error) {
			resp, err := p.fetchAny(ctx, in, t, http.MethodGet, from)
			if err != nil {
				return nil, 0, err
			}
			if resp.StatusCode != http.StatusOK {
				drain(resp.Body)
				return nil, 0, &statusError{resp.StatusCode}
			}
			return resp.Body, resp.ContentLength, nil
		}
		digest := []string{d.String()}
		r, err := c.Serve(w, in, d, "application/octet-stream", func(h http.Header) {
			h["Docker-Content-Digest"] = digest
			h["Docker-Distribution-Api-Version"] = apiVersion
		}, fetch)
		if r.Status == 0 {
			return h.cacheFailure(w, in, err, res, "blob")
		}
		res.Status, res.Outcome = r.Status, event.OutcomeProxy
		if err != nil {
			res.Outcome = event.OutcomeError
		}
		res.Event.Docker.Digest = d.String()
		return res
	}

	// Manifests are small: read whole, verified, then served from
	// memory.
	var body []byte
	var ctype string
	var d blobcache.Digest
	stale := false
	if isDigest(reference) {
		var err error
		if d, err = blobcache.ParseOCI(reference); err != nil {
			res.Status = writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid manifest digest")
			res.Outcome = event.OutcomeError
			return res
		}
		var ok bool
		if body, ok = c.Get(d, maxManifest); !ok {
			if body, ctype, err = p.fetchManifest(c, in, t, from, d); err != nil {
				return h.cacheFailure(w, in, err, res, "manifest")
			}
		}
	} else {
		key := t.base + t.path + "\x00" + in.Header.Get("Accept")
		e, known := p.tags.get(key)
		fresh := known && time.Since(e.at) < p.tagTTL
		var ok bool
		if fresh {
			body, ok = c.Get(e.digest, maxManifest)
			d, ctype = e.digest, e.ctype
		}
		if !ok {
			var err error
			body, ctype, err = p.fetchManifest(c, in, t, from, blobcache.Digest{})
			if err == nil {
				d = digestOf(body)
				p.tags.put(key, tagEntry{digest: d, ctype: ctype, at: time.Now()})
			} else {
				// The registry failed: the last digest the tag named
				// is served, marked stale. A registry's refusal (4xx)
				// is passed on instead.
				var se *statusError
				if known && !(errors.As(err, &se) && se.status < 500) {
					body, ok = c.Get(e.digest, maxManifest)
				}
				if !ok {
					return h.cacheFailure(w, in, err, res, "manifest")
				}
				d, ctype, stale = e.digest, e.ctype, true
				p.log.Warn("registry failed: serving a cached manifest for a tag", "registry", t.base, "err", err)
			}
		}
	}
	if ctype == "" {
		ctype = sniffManifest(body)
	}
	hd := w.Header()
	hd["Content-Type"] = []string{ctype}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	hd["Docker-Content-Digest"] = []string{d.String()}
	hd["Docker-Distribution-Api-Version"] = apiVersion
	hd["Etag"] = []string{`"` + d.String() + `"`}
	if stale {
		hd["Warning"] = staleWarning
	}
	w.WriteHeader(http.StatusOK)
	if in.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	res.Status, res.Outcome = http.StatusOK, event.OutcomeProxy
	res.Event.Docker.MediaType = ctype
	res.Event.Docker.Digest = d.String()
	return res
}

var (
	apiVersion   = []string{"registry/2.0"}
	staleWarning = []string{`110 - "Response is Stale"`}
)

// cacheFailure answers a request the cache could not serve: the
// registry's refusal, or its failure.
func (h *Handler) cacheFailure(w http.ResponseWriter, in *http.Request, err error, res gateway.Result, what string) gateway.Result {
	res.Outcome = event.OutcomeError
	var se *statusError
	var ve *blobcache.VerifyError
	switch {
	case errors.As(err, &se):
		switch se.status {
		case http.StatusNotFound:
			res.Outcome = event.OutcomeNotFound
			code := "BLOB_UNKNOWN"
			if what == "manifest" {
				code = "MANIFEST_UNKNOWN"
			}
			res.Status = writeError(w, http.StatusNotFound, code, what+" unknown to the registry")
		case http.StatusUnauthorized, http.StatusForbidden:
			h.opts.Logger.Warn("registry refused the gateway's credentials", "status", se.status)
			res.Status = writeError(w, http.StatusForbidden, codeDenied, "the registry refused access to this repository")
		default:
			res.Status = writeError(w, http.StatusBadGateway, codeUnavailable, "the registry answered "+strconv.Itoa(se.status))
		}
	case errors.As(err, &ve):
		h.opts.Logger.Warn("registry sent a corrupt object", "err", err)
		res.Status = writeError(w, http.StatusBadGateway, codeUnavailable, "the registry sent an object that does not match its digest")
	default:
		out := h.opts.Proxy.upstreamFailure(w, in, err, "fetching a "+what)
		res.Status = out.status
	}
	return res
}

// fetch sends a read to the registry for t with the gateway's own
// credentials, following redirects within the registry and, for blobs,
// to the https storage that serves them, and returns the last answer.
func (p *Proxy) fetch(ctx context.Context, in *http.Request, t *target, method string) (*http.Response, error) {
	if t.policy == nil {
		return nil, errors.New("invalid registry URL")
	}
	u, err := url.Parse(t.base + t.path)
	if err != nil {
		return nil, fmt.Errorf("upstream URL: %w", err)
	}
	policy := t.policy
	var authz string
	if t.key != nil {
		if authz, err = p.auth.authorization(upstream.WithPolicy(ctx, t.policy), *t.key); err != nil {
			return nil, err
		}
	}
	retried := false
	for hop := 0; ; {
		out, err := http.NewRequestWithContext(upstream.WithPolicy(ctx, policy), method, u.String(), nil)
		if err != nil {
			return nil, err
		}
		upstream.CopyHeaders(out.Header, in.Header, cacheHeaders)
		out.Header["Accept-Encoding"] = identity
		if authz != "" && policy == t.policy {
			out.Header.Set("Authorization", authz)
		}
		resp, err := p.client.Do(out)
		if err != nil {
			return nil, err
		}
		if t.key != nil && resp.StatusCode == http.StatusUnauthorized && !retried && policy == t.policy {
			drain(resp.Body)
			retried = true
			p.auth.forget(*t.key)
			if authz, err = p.auth.authorization(upstream.WithPolicy(ctx, t.policy), *t.key); err != nil {
				return nil, err
			}
			continue
		}
		if !isRedirect(resp.StatusCode) {
			return resp, nil
		}
		drain(resp.Body)
		next, err := upstream.Resolve(u, resp.Header.Get("Location"))
		if err != nil {
			return nil, err
		}
		if hop++; hop > maxInternalRedirects {
			return nil, &upstream.RefusedError{Target: next.Host, Reason: "too many redirects"}
		}
		if !t.policy.IsBackend(next) {
			if !t.blob || next.Scheme != "https" {
				o, _ := upstream.OriginOf(next)
				return nil, &upstream.RefusedError{Target: o.String(), Reason: "the registry redirected to another host; only blob downloads may leave the registry's origin, to https storage"}
			}
			policy = t.policy.ForStorage()
		}
		u = next
	}
}

// fetchedFrom records which of a rule's registries a cached object was
// fetched from: written by the transfer, which may run on after the
// request that started it, and read by that request.
type fetchedFrom struct{ atomic.Int32 }

const (
	fromNone int32 = iota
	fromPrimary
	fromFallback
)

// fetchAny is fetch for a target that may have another registry to go
// to (t.next): the one health says is up is asked first, with a bounded
// time to answer, and when it fails (no answer, no headers in time, a
// 5xx answer), before anything is read, the other. The registry that
// answered is recorded in from.
func (p *Proxy) fetchAny(ctx context.Context, in *http.Request, t *target, method string, from *fetchedFrom) (*http.Response, error) {
	mark := func(t *target) {
		if t.fallback {
			from.Store(fromFallback)
		} else {
			from.Store(fromPrimary)
		}
	}
	if t.next == nil {
		mark(t)
		return p.fetch(ctx, in, t, method)
	}
	first, second := t, t.next
	if t.pair.UseFallback() {
		first, second = second, first
	}
	fctx, headers, stop := upstream.WithHeaderTimeout(ctx, t.pair.Timeout())
	resp, err := p.fetch(fctx, in, first, method)
	headers()
	if !upstream.Failed(fctx, resp, err) || errors.Is(err, errRefused) || errors.Is(err, errNoCredentials) {
		mark(first)
		if err != nil {
			stop()
			return nil, err
		}
		// The body is read after this returns, possibly by the
		// cache's transfer: the context ends when it is closed.
		resp.Body = &upstream.StopBody{ReadCloser: resp.Body, Stop: stop}
		return resp, nil
	}
	if err == nil {
		drain(resp.Body)
		err = &statusError{resp.StatusCode}
	}
	stop()
	p.log.Info("registry failed, asking the other", "registry", first.base, "other", second.base, "err", err)
	mark(second)
	return p.fetch(ctx, in, second, method)
}

// cacheHeaders are the client headers a cached read sends on: what
// selects the manifest's form, and the client's name. Never a range or
// a condition: the cache fetches whole objects.
var cacheHeaders = []string{"Accept", "User-Agent"}

// fetchManifest reads a manifest, verified against want when it is set
// (and against the registry's Docker-Content-Digest when it sends one),
// and keeps it.
func (p *Proxy) fetchManifest(c *blobcache.Cache, in *http.Request, t *target, from *fetchedFrom, want blobcache.Digest) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(in.Context(), p.stall)
	defer cancel()
	resp, err := p.fetchAny(ctx, in, t, http.MethodGet, from)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return nil, "", &statusError{resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading a manifest: %w", err)
	}
	if len(body) > maxManifest {
		return nil, "", errors.New("the manifest is larger than 4 MiB")
	}
	got := digestOf(body)
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" {
		if hd, err := blobcache.ParseOCI(h); err == nil && hd.Algorithm() == "sha256" && hd != got {
			return nil, "", &blobcache.VerifyError{Digest: hd, Reason: "the manifest hashes to " + got.String()}
		}
	}
	if !want.IsZero() && want != got {
		if err := blobcache.VerifyDigest(want, body); err != nil {
			return nil, "", err
		}
		got = want
	}
	if err := c.Put(got, body); err != nil {
		return nil, "", err
	}
	return body, mediaType(resp.Header.Get("Content-Type")), nil
}

func digestOf(body []byte) blobcache.Digest {
	sum := sha256.Sum256(body)
	d, _ := blobcache.ParseHex("sha256", hex.EncodeToString(sum[:]))
	return d
}

// sniffManifest returns the media type a manifest declares, or the OCI
// type its shape implies when it declares none.
func sniffManifest(body []byte) string {
	var m struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(body, &m)
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return "application/vnd.oci.image.index.v1+json"
	}
	return "application/vnd.oci.image.manifest.v1+json"
}
