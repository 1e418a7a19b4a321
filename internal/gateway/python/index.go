package python

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/upstream"
)

// indexRule is a compiled python-index-v1 rule.
type indexRule struct {
	pattern            string // normalized name or glob
	glob               bool
	packageID          string
	index              string // upstream base URL, ending in '/'
	ttl                time.Duration
	maxPage            int64
	cacheControl       string
	cacheControlHeader []string
	// fallback is the fallback index's base URL, "" without one; pair
	// holds the health of both indexes.
	fallback string
	pair     *upstream.Pair
	// fixed is the cache request of an exact-name rule, built once.
	fixed *doccache.Request
	// cacheMode serves files through the proxy cache; storage is the
	// outbound policy of their downloads: the index's origin, and
	// other https hosts (files.pythonhosted.org).
	cacheMode bool
	storage   *upstream.Policy
}

func newIndexRule(r *manifest.PythonIndex, maxPage int64) *indexRule {
	pat := Normalize(r.PackageName)
	if maxPage <= 0 {
		maxPage = DefaultMaxPage
	}
	ir := &indexRule{
		maxPage:      maxPage,
		pattern:      pat,
		glob:         strings.ContainsAny(pat, "*?["),
		packageID:    r.PackageID,
		index:        r.IndexURL,
		fallback:     r.Fallback,
		ttl:          r.CacheTTL,
		cacheControl: ttlCacheControl(r.CacheTTL),
		cacheMode:    r.CacheMode,
	}
	// Files of pages the fallback index served may be on its origin.
	if p, err := upstream.NewPolicy(r.IndexURL); err == nil {
		if r.Fallback != "" {
			p, err = p.WithFallback(r.Fallback)
		}
		if err == nil {
			ir.storage = p.ForStorage()
		}
	}
	ir.cacheControlHeader = []string{ir.cacheControl}
	if !ir.glob {
		dr := ir.newRequest(pat)
		ir.fixed = &dr
	}
	return ir
}

// setPair gives the rule the health of its indexes.
func (ir *indexRule) setPair(p *upstream.Pair) {
	ir.pair = p
	if ir.fixed != nil {
		ir.fixed.Pair = p
	}
}

func (ir *indexRule) matches(norm string) bool {
	if !ir.glob {
		return norm == ir.pattern
	}
	ok, _ := path.Match(ir.pattern, norm)
	return ok
}

// remote is an upstream project page as Portico serves it: the parsed
// file list, with the pages rendered on first use.
type remote struct {
	project *project
	once    [numFormats]sync.Once
	pages   [numFormats]page
}

func (rp *remote) page(f format) *page {
	rp.once[f].Do(func() {
		rp.pages[f] = renderProjectFormat(rp.project, false, f, "")
	})
	return &rp.pages[f]
}

// pageURL is the upstream page of a project.
func (ir *indexRule) pageURL(norm string) string { return ir.index + pathEscape(norm) + "/" }

func (ir *indexRule) request(norm string) doccache.Request {
	if ir.fixed != nil {
		return *ir.fixed
	}
	return ir.newRequest(norm)
}

func (ir *indexRule) newRequest(norm string) doccache.Request {
	u := ir.pageURL(norm)
	fallback := ""
	if ir.fallback != "" {
		fallback = ir.fallback + pathEscape(norm) + "/"
	}
	return doccache.Request{
		Key: "python " + u, URL: u, Fallback: fallback, Pair: ir.pair, Accept: upstreamAccept, TTL: ir.ttl, MaxDocument: ir.maxPage,
		Parse: func(ctx context.Context, final *url.URL, header http.Header, body []byte) (any, int64, error) {
			pp, err := parseProjectPage(ctx, final, header, body)
			if err != nil {
				return nil, 0, err
			}
			rp := &remote{project: buildRemote(norm, pp)}
			// Rendered pages take about as much again as the body.
			return rp, 2 * int64(len(body)), nil
		},
	}
}

// buildRemote turns an upstream page into the project Portico lists.
func buildRemote(norm string, pp *parsedPage) *project {
	p := &project{name: norm, norm: norm, byName: make(map[string]*dist, len(pp.links)), versions: pp.versions}
	if pp.name != "" && Normalize(pp.name) == norm {
		p.name = pp.name
	}
	for _, l := range pp.links {
		if _, dup := p.byName[l.name]; dup {
			continue
		}
		target := l.url
		if len(l.hashes) > 0 {
			target += "#" + l.hashes[0].name + "=" + l.hashes[0].value
		}
		d := &dist{
			name: l.name, target: []string{target}, hashes: l.hashes,
			requiresPython: l.requiresPython, gpgSig: l.gpgSig,
			yanked: l.yanked, yankedReason: l.yankedReason,
			coreMetadata: l.coreMetadata, metadataHashes: l.metadataHashes,
			size: l.size, uploadTime: l.uploadTime,
		}
		if d.coreMetadata {
			d.metadataTarget = []string{l.url + ".metadata"}
		}
		if v, ok := FileVersion(norm, l.name); ok {
			d.version = v
			d.parsed, d.valid = ParseVersion(v)
		}
		p.byName[l.name] = d
		p.files = append(p.files, d)
	}
	sortFiles(p.files)
	return p
}

// cacheHeader tells operators and tests how a page was obtained.
const cacheHeader = "X-Portico-Cache"

var stateHeader = func() (h [5][]string) {
	for i := range h {
		h[i] = []string{doccache.State(i).String()}
	}
	return h
}()

func (ir *indexRule) serveProject(w http.ResponseWriter, req *gateway.Request, cache *doccache.Cache, norm string, ev event.Event) gateway.Result {
	ev.PackageID = ir.packageID
	doc, state, err := cache.Get(req.HTTP.Context(), ir.request(norm))
	if err != nil {
		return upstreamFailed(w, req, err, ir.pageURL(norm), ev)
	}
	if doc.Missing {
		return notOnUpstream(w, req, "project "+norm+" is not on the upstream index "+ir.index)
	}
	rp := doc.Value.(*remote)
	ev.Python.Project = rp.project.name
	f, ok := negotiate(req.HTTP.Header["Accept"])
	if !ok {
		var none [numFormats]page
		return serveFormats(w, req, &none, ev, nil)
	}
	w.Header()[cacheHeader] = stateHeader[state]
	return rp.page(f).serve(w, req, ev, ir.cacheControlHeader)
}

func (ir *indexRule) serveFile(w http.ResponseWriter, req *gateway.Request, cache *doccache.Cache, files *fileCache, norm, name string, ev event.Event) (gateway.Result, bool) {
	ev.PackageID = ir.packageID
	ev.Python.Object = "file"
	ev.Python.FileName = name
	r := ir.request(norm)
	// A download must not wait for a page revalidation: any cached copy
	// that lists the file will do. Only a file the copy lacks (new
	// upstream, or nothing cached) makes Portico ask.
	var rp *remote
	if doc := cache.Peek(r.Key); doc != nil && !doc.Missing {
		rp = doc.Value.(*remote)
	}
	d, metadata := lookup(rp, name)
	if d == nil {
		doc, _, err := cache.Get(req.HTTP.Context(), r)
		if err != nil {
			return upstreamFailed(w, req, err, r.URL, ev), true
		}
		if doc.Missing {
			return notOnUpstream(w, req, "project "+norm+" is not on the upstream index "+ir.index), true
		}
		rp = doc.Value.(*remote)
		if d, metadata = lookup(rp, name); d == nil {
			return notOnUpstream(w, req, "file "+name+" is not listed for project "+norm+" on the upstream index "+ir.index), true
		}
	}
	ev.Python.Project = rp.project.name
	ev.Python.Version = d.version
	ev.Python.FileName = d.name
	if metadata {
		ev.Python.Object = "metadata"
		gateway.RedirectShared(w, d.metadataTarget)
	} else if dg := fileDigest(d); ir.cacheMode && files.blobs != nil && files.client != nil && ir.storage != nil && !dg.IsZero() {
		ev.Python.Object = "file"
		status, outcome := files.serve(w, req, ir.storage, d, dg)
		return gateway.Result{Status: status, Outcome: outcome, Event: ev}, true
	} else {
		ev.Python.Object = "file"
		gateway.RedirectShared(w, d.target)
	}
	return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}, true
}

// lookup finds a file, or the core metadata of a file (PEP 658: the
// file's name plus ".metadata").
func lookup(rp *remote, name string) (d *dist, metadata bool) {
	if rp == nil {
		return nil, false
	}
	if d := rp.project.byName[name]; d != nil {
		return d, false
	}
	if base, ok := strings.CutSuffix(name, ".metadata"); ok {
		if d := rp.project.byName[base]; d != nil && d.coreMetadata {
			return d, true
		}
	}
	return nil, false
}

// upstreamFailed answers when the upstream index failed and nothing is
// cached: 502 or 504 with a message saying so.
func upstreamFailed(w http.ResponseWriter, req *gateway.Request, err error, upstreamURL string, ev event.Event) gateway.Result {
	status, ok := doccache.FailureStatus(req.HTTP.Context(), err)
	if !ok {
		// The client went away while waiting.
		return gateway.Result{Status: 499, Outcome: event.OutcomeError, Uncounted: true}
	}
	msg := "portico: the upstream index could not be read and no copy is cached: " + err.Error() + "\n"
	writeText(w, req, status, msg)
	return gateway.Result{Status: status, Outcome: event.OutcomeError, Event: ev}
}

// notOnUpstream answers 404 for a project or file the upstream does not
// have. It is not counted.
func notOnUpstream(w http.ResponseWriter, req *gateway.Request, what string) gateway.Result {
	writeText(w, req, http.StatusNotFound, "portico: "+what+"\n")
	return gateway.Result{Status: http.StatusNotFound, Outcome: event.OutcomeNotFound, Uncounted: true}
}

func writeText(w http.ResponseWriter, req *gateway.Request, status int, msg string) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(msg))}
	h["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(status)
	if req.Method() != http.MethodHead {
		_, _ = w.Write([]byte(msg))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
