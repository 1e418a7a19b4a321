// Package doccache keeps documents fetched from upstream package indexes
// (Python project pages, npm packuments) so that Portico can rewrite them
// without asking the upstream on every request.
//
// A document is kept for a time-to-live chosen by the caller; after that
// it is revalidated with If-None-Match / If-Modified-Since, and a 304 only
// renews it. When the upstream cannot be reached or fails, the last good
// copy is served (stale) and the upstream is left alone for a short while.
// With no copy at all the caller gets an *Error to turn into a 502, 503
// or 504. Concurrent requests for the same document share one fetch. The
// cache is bounded in bytes and evicts the least recently used documents.
//
// Every fetch is bounded: its body by a size limit (per request, else the
// cache's), and the fetch and the parse together by the fetch timeout.
// The parse is given a context that ends with that timeout; a parse that
// ignores it is abandoned when it expires, so a flight always ends on
// time. A caller waits for a flight no longer than its own context and
// the fetch timeout allow, and then gets the cached copy if there is one.
// Close ends every fetch at once, for shutdown.
//
// A Cache is long-lived: it is created once per process and shared by
// every routing table, so documents survive manifest reloads. Keys are
// the upstream URL (plus the representation asked for), never a rule.
package doccache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"portico/internal/upstream"
)

// Defaults for Options.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultMaxDocument  = 96 << 20
	DefaultFetchTimeout = 30 * time.Second
	// DefaultRetryAfter is how long a failing upstream is left alone
	// while a stale copy is served.
	DefaultRetryAfter = 15 * time.Second
	maxRedirects      = 5
)

// Options configure a Cache. Zero values take the defaults.
type Options struct {
	// Client fetches documents; it must not follow redirects itself.
	Client *http.Client
	// MaxBytes bounds the estimated memory of all documents kept.
	MaxBytes int64
	// MaxDocument bounds the size of one upstream response body when
	// the Request does not set its own bound.
	MaxDocument int64
	// FetchTimeout bounds a fetch with its parse, and how long a caller
	// waits for one.
	FetchTimeout time.Duration
	RetryAfter   time.Duration
	Logger       *slog.Logger
	// Now returns the current time (tests move it forward).
	Now func() time.Time
}

// A Cache holds documents fetched from upstreams. It is safe for
// concurrent use.
type Cache struct {
	opts Options

	// ctx ends with Close; every fetch runs under it.
	ctx       context.Context
	closeCtx  context.CancelFunc
	closeOnce sync.Once

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     list.List                // front: most recently used
	size    int64
	flights map[string]*flight

	stats struct {
		hits, misses, revalidated, refreshed, stale, failures atomic.Int64
	}
}

type entry struct {
	key       string
	doc       *Doc
	failUntil time.Time // while the upstream is failing, serve doc as is
}

type flight struct {
	done  chan struct{}
	doc   *Doc
	state State
	err   error
}

// A Doc is one fetched document. It is immutable once returned.
type Doc struct {
	// Value is what the request's Parse made of the body; nil for a
	// document the upstream does not have (Missing).
	Value any
	// Missing is set when the upstream answered 404 or 410; that answer
	// is cached too, for the same time-to-live.
	Missing bool
	// URL is where the document was finally found, after redirects:
	// relative links in it resolve against this.
	URL *url.URL
	// Validated is when the upstream last confirmed the document.
	Validated    time.Time
	ETag         string
	LastModified string
	size         int64
}

// State says how a document was obtained.
type State uint8

// States of a Get.
const (
	Fresh       State = iota // within its time-to-live
	Fetched                  // fetched now (nothing cached)
	Revalidated              // upstream answered 304
	Refreshed                // upstream sent a new version
	Stale                    // upstream failed; the last good copy
)

func (s State) String() string {
	return [...]string{"fresh", "fetched", "revalidated", "refreshed", "stale"}[s]
}

// A Request says how to fetch and read one document.
type Request struct {
	// Key identifies the document: the URL and, when the same URL has
	// several representations, which one.
	Key string
	// URL is on a rule's backend, built from the rule: requests for it
	// may go to that origin only.
	URL string
	// Fallback, when set, is the same document on the rule's fallback
	// backend, asked when URL fails; Pair holds the health of both,
	// which decides which is asked first.
	Fallback string
	Pair     *upstream.Pair
	// Accept is sent as the Accept header.
	Accept string
	TTL    time.Duration
	// MaxDocument bounds the response body; 0 takes the cache's bound.
	// A larger document is refused with a *SizeError.
	MaxDocument int64
	// Parse reads a 200 response. It returns the value to keep and an
	// estimate of the memory it holds beyond the body. ctx ends when
	// the fetch's time is up: a long parse checks it now and then and
	// gives up, since its result would be thrown away.
	Parse func(ctx context.Context, final *url.URL, header http.Header, body []byte) (value any, extra int64, err error)
}

// An Error says why a document could not be had: the upstream failed and
// nothing was cached. Status is the answer to give: 502, 504 for
// timeouts, 503 once the cache is closed.
type Error struct {
	Status int
	URL    string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("upstream %s: %v", e.URL, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// A SizeError says that a document was larger than its bound.
type SizeError struct {
	Limit int64
	// Size is the size the upstream announced, or -1 when the body was
	// cut off at the limit while reading.
	Size int64
}

func (e *SizeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("the document (%d bytes) exceeds the size limit of %s", e.Size, formatBytes(e.Limit))
	}
	return fmt.Sprintf("the document exceeds the size limit of %s", formatBytes(e.Limit))
}

// formatBytes writes n in bytes, with MiB when it is a whole number of
// them, as limits are usually set.
func formatBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB (%d bytes)", n>>20, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errClosed is why fetches fail once the cache is closed.
var errClosed = errors.New("the gateway is shutting down")

// FailureStatus is the status to answer when Get failed with err: the
// Error's own (502, 503 or 504), else 502. ok is false when ctx, the
// request's, is done: the client went away and needs no answer.
func FailureStatus(ctx context.Context, err error) (status int, ok bool) {
	if ue, isErr := errors.AsType[*Error](err); isErr {
		return ue.Status, true
	}
	if ctx.Err() != nil {
		return 0, false
	}
	return http.StatusBadGateway, true
}

// New returns an empty cache.
func New(o Options) *Cache {
	if o.Client == nil {
		o.Client = upstream.NewClient(nil)
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDocument <= 0 {
		o.MaxDocument = DefaultMaxDocument
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache{opts: o, entries: make(map[string]*list.Element), flights: make(map[string]*flight)}
	c.ctx, c.closeCtx = context.WithCancel(context.Background())
	return c
}

// Close ends every fetch in flight and refuses new ones: callers get the
// cached copy, stale or not, or an *Error with status 503. Documents
// still fresh are served as before. It is called when the process shuts
// down, so that no request waits for an upstream meanwhile.
func (c *Cache) Close() {
	c.closeOnce.Do(c.closeCtx)
}

// Stats are counters since the cache was made.
type Stats struct {
	Hits, Misses, Revalidated, Refreshed, Stale, Failures int64
	Documents                                             int
	Bytes                                                 int64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n, size := len(c.entries), c.size
	c.mu.Unlock()
	return Stats{
		Hits: c.stats.hits.Load(), Misses: c.stats.misses.Load(),
		Revalidated: c.stats.revalidated.Load(), Refreshed: c.stats.refreshed.Load(),
		Stale: c.stats.stale.Load(), Failures: c.stats.failures.Load(),
		Documents: n, Bytes: size,
	}
}

// Peek returns the cached document for key, fresh or not, without
// fetching.
func (c *Cache) Peek(key string) *Doc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[key]; el != nil {
		return el.Value.(*entry).doc
	}
	return nil
}

// Get returns the document of r: the cached one while it is fresh,
// otherwise what the upstream says now, or the cached one if the upstream
// fails. The fetch itself is shared and finishes for the others even if
// this caller goes away. The caller waits for it until it ends (within
// the fetch timeout) or ctx does; in the latter case it gets the cached
// copy (Stale) if there is one, else ctx's error when the caller went
// away, else (ctx's deadline passed) an *Error with status 504.
func (c *Cache) Get(ctx context.Context, r Request) (*Doc, State, error) {
	now := c.opts.Now()
	c.mu.Lock()
	var cached *Doc
	if el := c.entries[r.Key]; el != nil {
		e := el.Value.(*entry)
		c.lru.MoveToFront(el)
		if now.Sub(e.doc.Validated) < r.TTL {
			c.mu.Unlock()
			c.stats.hits.Add(1)
			return e.doc, Fresh, nil
		}
		if now.Before(e.failUntil) {
			c.mu.Unlock()
			c.stats.stale.Add(1)
			return e.doc, Stale, nil
		}
		cached = e.doc
	}
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return c.notWaiting(ctx, r, cached, errClosed)
	}
	f := c.flights[r.Key]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flights[r.Key] = f
		go c.fetch(r, cached, f)
	}
	c.mu.Unlock()
	// A flight ends within the fetch timeout (see fetch), which bounds
	// the wait even for a caller without a deadline.
	select {
	case <-f.done:
		return f.doc, f.state, f.err
	case <-ctx.Done():
		return c.notWaiting(ctx, r, cached, ctx.Err())
	case <-c.ctx.Done():
		return c.notWaiting(ctx, r, cached, errClosed)
	}
}

// notWaiting answers a caller that stops waiting for a flight (or never
// starts): with the cached copy if there is one, else with why.
func (c *Cache) notWaiting(ctx context.Context, r Request, cached *Doc, why error) (*Doc, State, error) {
	if cached != nil {
		c.stats.stale.Add(1)
		return cached, Stale, nil
	}
	switch {
	case errors.Is(why, errClosed):
		return nil, Fetched, &Error{Status: http.StatusServiceUnavailable, URL: r.URL, Err: why}
	case errors.Is(why, context.Canceled) && ctx.Err() != nil:
		// The caller went away: nobody needs an answer.
		return nil, Fetched, why
	}
	return nil, Fetched, &Error{Status: http.StatusGatewayTimeout, URL: r.URL, Err: fmt.Errorf("gave up waiting for the upstream: %w", why)}
}

// fetch runs one flight and publishes its result, at the latest when the
// fetch timeout passes: a load still running then (a parse that does not
// look at its context) is abandoned and its result dropped.
func (c *Cache) fetch(r Request, cached *Doc, f *flight) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.FetchTimeout)
	defer cancel()
	results := make(chan loaded, 1)
	go func() {
		doc, state, err := c.load(ctx, r, cached)
		results <- loaded{doc, state, err}
	}()
	var l loaded
	select {
	case l = <-results:
	case <-ctx.Done():
		l.err = c.abandoned(r.URL)
	}
	doc, state, err := l.doc, l.state, l.err
	now := c.opts.Now()

	c.mu.Lock()
	delete(c.flights, r.Key)
	switch {
	case err != nil && cached != nil:
		c.stats.stale.Add(1)
		c.stats.failures.Add(1)
		if el := c.entries[r.Key]; el != nil {
			el.Value.(*entry).failUntil = now.Add(c.opts.RetryAfter)
		}
		doc, state, err = cached, Stale, nil
	case err != nil:
		c.stats.failures.Add(1)
	default:
		c.count(state)
		c.store(r.Key, doc)
	}
	c.mu.Unlock()

	if state == Stale {
		c.opts.Logger.Warn("upstream failed, serving the cached copy", "url", r.URL, "cached", cached.Validated, "err", l.err)
	} else if err != nil {
		c.opts.Logger.Warn("upstream failed, nothing cached", "url", r.URL, "err", err)
	}
	f.doc, f.state, f.err = doc, state, err
	close(f.done)
}

// loaded is what load returned.
type loaded struct {
	doc   *Doc
	state State
	err   error
}

// abandoned is the error of a fetch whose time ran out (or whose cache
// was closed) before it finished.
func (c *Cache) abandoned(u string) error {
	if c.ctx.Err() != nil {
		return &Error{Status: http.StatusServiceUnavailable, URL: u, Err: errClosed}
	}
	return &Error{Status: http.StatusGatewayTimeout, URL: u, Err: fmt.Errorf("no complete answer within %v", c.opts.FetchTimeout)}
}

// count records how a successful fetch went.
func (c *Cache) count(state State) {
	switch {
	case state == Revalidated:
		c.stats.revalidated.Add(1)
	case state == Refreshed:
		c.stats.refreshed.Add(1)
	case state == Fetched:
		c.stats.misses.Add(1)
	}
}

// store puts doc under key and evicts the least recently used documents
// beyond the bound. c.mu is held.
func (c *Cache) store(key string, doc *Doc) {
	if el := c.entries[key]; el != nil {
		e := el.Value.(*entry)
		c.size += doc.size - e.doc.size
		e.doc, e.failUntil = doc, time.Time{}
		c.lru.MoveToFront(el)
	} else if doc.size <= c.opts.MaxBytes {
		c.entries[key] = c.lru.PushFront(&entry{key: key, doc: doc})
		c.size += doc.size
	}
	for c.size > c.opts.MaxBytes && c.lru.Len() > 0 {
		el := c.lru.Back()
		e := el.Value.(*entry)
		c.lru.Remove(el)
		delete(c.entries, e.key)
		c.size -= e.doc.size
	}
}

// load asks the upstream for r, conditionally when cached is set. A
// document with a fallback is asked of the fallback when the first one
// asked (the rule's own backend, unless health finds it down) fails: no
// answer, no headers in time, a 5xx answer, a body cut short.
func (c *Cache) load(ctx context.Context, r Request, cached *Doc) (*Doc, State, error) {
	if r.Fallback == "" {
		doc, state, err, _ := c.loadFrom(ctx, r, r.URL, cached, 0)
		return doc, state, err
	}
	first, second := r.URL, r.Fallback
	if r.Pair.UseFallback() {
		first, second = second, first
	}
	doc, state, err, failed := c.loadFrom(ctx, r, first, cached, r.Pair.Timeout())
	if err == nil || !failed || ctx.Err() != nil {
		return doc, state, err
	}
	c.opts.Logger.Warn("upstream failed, asking the other", "url", first, "other", second, "err", err)
	doc, state, err, _ = c.loadFrom(ctx, r, second, cached, r.Pair.Timeout())
	return doc, state, err
}

// loadFrom asks the upstream at raw for r's document. failed reports an
// error that is the upstream's failure, which a fallback may make up
// for. With headerTimeout set, the upstream has that long to answer.
func (c *Cache) loadFrom(ctx context.Context, r Request, raw string, cached *Doc, headerTimeout time.Duration) (_ *Doc, _ State, _ error, failed bool) {
	target, err := url.Parse(raw)
	if err != nil {
		return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: err}, false
	}
	// A document's URL is a rule's backend: the outbound policy keeps
	// every request of the fetch on its origin.
	if ctx, err = upstream.WithBackend(ctx, raw); err != nil {
		return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: err}, false
	}
	headers := func() {}
	if headerTimeout > 0 {
		var stop func()
		ctx, headers, stop = upstream.WithHeaderTimeout(ctx, headerTimeout)
		defer stop()
	}
	var resp *http.Response
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
		if err != nil {
			return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: err}, false
		}
		if r.Accept != "" {
			req.Header.Set("Accept", r.Accept)
		}
		req.Header.Set("User-Agent", "portico")
		if cached != nil && *cached.URL == *target {
			if cached.ETag != "" {
				req.Header.Set("If-None-Match", cached.ETag)
			}
			if cached.LastModified != "" {
				req.Header.Set("If-Modified-Since", cached.LastModified)
			}
		}
		resp, err = c.opts.Client.Do(req)
		if err != nil {
			return nil, 0, fetchError(raw, err), upstream.Failed(ctx, nil, err)
		}
		if !isRedirect(resp.StatusCode) {
			break
		}
		resp.Body.Close()
		next, err := followable(target, resp.Header.Get("Location"))
		if err != nil {
			return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: err}, false
		}
		if hop+1 >= maxRedirects {
			return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: errors.New("too many redirects")}, false
		}
		target = next
	}
	headers()
	defer resp.Body.Close()
	now := c.opts.Now()
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		doc := *cached
		doc.Validated = now
		if v := resp.Header.Get("ETag"); v != "" {
			doc.ETag = v
		}
		return &doc, Revalidated, nil, false
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return &Doc{Missing: true, URL: target, Validated: now, size: 256}, Fetched, nil, false
	case resp.StatusCode != http.StatusOK:
		return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: fmt.Errorf("answered %s", resp.Status)}, resp.StatusCode >= 500
	}
	limit := r.MaxDocument
	if limit <= 0 {
		limit = c.opts.MaxDocument
	}
	if resp.ContentLength > limit {
		return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: &SizeError{Limit: limit, Size: resp.ContentLength}}, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fetchError(raw, err), ctx.Err() == nil || upstream.Failed(ctx, nil, err)
	}
	if int64(len(body)) > limit {
		return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: &SizeError{Limit: limit, Size: -1}}, false
	}
	value, extra, err := r.Parse(ctx, target, resp.Header, body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, fetchError(raw, ctx.Err()), false
		}
		return nil, 0, &Error{Status: http.StatusBadGateway, URL: raw, Err: fmt.Errorf("unreadable document: %w", err)}, false
	}
	state := Fetched
	if cached != nil {
		state = Refreshed
	}
	return &Doc{
		Value: value, URL: target, Validated: now,
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
		size: int64(len(body)) + extra + 256,
	}, state, nil, false
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// followable resolves a redirect of an index document. Only redirects
// that stay on the same scheme and host are followed: an index may move
// a page (to a normalized name, say), but is never a way to make Portico
// fetch from somewhere else.
func followable(from *url.URL, location string) (*url.URL, error) {
	if location == "" {
		return nil, errors.New("redirect without a Location")
	}
	to, err := from.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("bad redirect %q: %w", location, err)
	}
	if to.Scheme != from.Scheme || to.Host != from.Host {
		return nil, fmt.Errorf("redirect to another host (%s) not followed", to.Redacted())
	}
	to.Fragment = ""
	return to, nil
}

// fetchError classifies a transport failure: timeouts give 504, the rest
// 502.
func fetchError(u string, err error) *Error {
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status = http.StatusGatewayTimeout
	}
	return &Error{Status: status, URL: u, Err: err}
}
