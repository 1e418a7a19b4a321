package python

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"portico/internal/blobcache"
	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/gateway"
	"portico/internal/manifest"
	"portico/internal/upstream"
)

// StaticCacheControl is sent with pages built from python-v1 rules: they
// change only with the manifest, and clients revalidate with the ETag.
const StaticCacheControl = "max-age=300, public"

// DefaultMaxPage bounds an upstream project page when Options do not.
// PyPI's pages of the projects with the most files (nightly builds) are
// some megabytes; this leaves a wide margin.
const DefaultMaxPage = 64 << 20

// Options are what a repository needs at request time.
type Options struct {
	// Cache keeps upstream project pages and fetches them, through its
	// client; it outlives routing tables. Required.
	Cache *doccache.Cache
	// MaxPage bounds the size of an upstream project page, HTML or
	// JSON; a larger one is refused (the cached copy is served, or
	// 502). 0 means DefaultMaxPage.
	MaxPage int64
	// Blobs is the proxy cache, when the process has one, and Client
	// fetches the files it keeps: python-index-v1 rules in cache mode
	// serve their files through it.
	Blobs  *blobcache.Cache
	Client *http.Client
	// Health, when set, keeps the health of the indexes of rules with
	// a fallback, which decides which one is asked first.
	Health *upstream.Health
}

// Validate reports the first required field of o that is unset.
func (o *Options) Validate() error {
	if o.Cache == nil {
		return errors.New("python: Options.Cache is required")
	}
	return nil
}

// Repository serves the /simple/ index of one domain: the projects of
// its python-v1 rules, the projects its python-index-v1 rules take from
// upstream indexes, and a redirect to the fallback index for any other
// project.
type Repository struct {
	root     [numFormats]page
	projects map[string]*staticProject // by normalized name
	indexes  []*indexRule
	// fallback is the index that unknown projects are sent to ("" for
	// none): the first python-index-v1 rule's, else the first
	// backend-simple-index-url of a python-v1 rule.
	fallback string
	cache    *doccache.Cache
	files    fileCache
}

// staticProject is a project of python-v1 rules, rendered at load time.
type staticProject struct {
	*project
	pages [numFormats]page
}

// New builds the repository of one domain from its python-v1 and
// python-index-v1 rules, each in manifest order. When python-v1 rules
// repeat a project (after PEP 503 normalization) or a file, the first
// wins.
func New(v1 []*manifest.PythonV1, idx []*manifest.PythonIndex, opts Options) (*Repository, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	repo := &Repository{projects: make(map[string]*staticProject), cache: opts.Cache, files: fileCache{blobs: opts.Blobs, client: opts.Client}}
	var listed []*project
	for _, r := range v1 {
		norm := Normalize(r.PackageName)
		sp := repo.projects[norm]
		if sp == nil {
			sp = &staticProject{project: &project{name: r.PackageName, norm: norm, packageID: r.PackageID, byName: make(map[string]*dist)}}
			repo.projects[norm] = sp
			listed = append(listed, sp.project)
		}
		if _, dup := sp.byName[r.FileName]; dup {
			continue
		}
		d := &dist{name: r.FileName, target: []string{r.BackendURL}, requiresPython: r.RequiresPython, gpgSig: r.GPGSig, size: -1, version: r.Version}
		if r.HashValue != nil {
			d.hashes = []hashPair{{r.HashValue.Type, r.HashValue.Hash}}
		}
		// Pages are ordered by the version in the file name, or by the
		// rule's version field when the name has none.
		if fv, ok := FileVersion(r.PackageName, r.FileName); ok {
			d.parsed, d.valid = ParseVersion(fv)
		} else {
			d.parsed, d.valid = ParseVersion(r.Version)
		}
		sp.byName[r.FileName] = d
		sp.files = append(sp.files, d)
		if repo.fallback == "" && absoluteHTTP(r.BackendSimpleIndexURL) {
			repo.fallback = withSlash(r.BackendSimpleIndexURL)
		}
	}
	for _, sp := range repo.projects {
		sortFiles(sp.files)
		sp.pages = renderProject(sp.project, true, StaticCacheControl)
	}
	for i, r := range idx {
		ir := newIndexRule(r, opts.MaxPage)
		if r.Fallback != "" && opts.Health != nil {
			// An index answers its root (a listing, or a 404 where
			// it lists nothing) when it works.
			pair, err := opts.Health.Pair(r.IndexURL, r.IndexURL, r.Fallback, r.Fallback)
			if err != nil {
				return nil, fmt.Errorf("rules[%d] (python-index-v1): %w", r.Index, err)
			}
			ir.setPair(pair)
		}
		repo.indexes = append(repo.indexes, ir)
		if i == 0 {
			repo.fallback = ir.index
		}
		if !ir.glob && repo.projects[ir.pattern] == nil && !slices.ContainsFunc(listed, func(p *project) bool { return p.norm == ir.pattern }) {
			listed = append(listed, &project{name: r.PackageName, norm: ir.pattern})
		}
	}
	slices.SortFunc(listed, func(a, b *project) int { return strings.Compare(a.norm, b.norm) })
	repo.root = renderRoot(listed, StaticCacheControl)
	return repo, nil
}

// absoluteHTTP reports whether s is an absolute http(s) URL without
// query or fragment. Scarf Gateway never reads backend-simple-index-url,
// so manifests may hold anything there; only a usable URL becomes the
// fallback index.
func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func withSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

// Serve implements gateway.Rule.
func (repo *Repository) Serve(w http.ResponseWriter, req *gateway.Request) (gateway.Result, bool) {
	m := req.Method()
	if m != http.MethodGet && m != http.MethodHead {
		return gateway.Result{}, false
	}
	segs := req.Segments()
	if len(segs) == 0 || segs[0] != "simple" {
		return gateway.Result{}, false
	}
	ev := event.Event{Kind: event.KindPython}
	switch {
	case len(segs) == 1:
		return movedTo(w, "/simple/"), true
	case len(segs) == 2 && segs[1] == "":
		ev.Python.Object = "index"
		return serveFormats(w, req, &repo.root, ev, nil), true
	case len(segs) == 2 || len(segs) == 3 && segs[2] == "":
		// /simple/P or /simple/P/: a project page, under its normalized
		// name.
		norm := Normalize(segs[1])
		if !repo.knows(norm) {
			return gateway.Result{}, false
		}
		if len(segs) == 2 || segs[1] != norm {
			return movedTo(w, "/simple/"+pathEscape(norm)+"/"), true
		}
		return repo.serveProject(w, req, norm, ev), true
	case len(segs) == 3:
		return repo.serveFile(w, req, Normalize(segs[1]), segs[2], ev)
	}
	return gateway.Result{}, false
}

// knows reports whether a project page exists for norm on this domain.
func (repo *Repository) knows(norm string) bool {
	return repo.projects[norm] != nil || repo.fallback != "" || repo.indexFor(norm) != nil
}

// indexFor returns the first python-index-v1 rule that takes norm.
func (repo *Repository) indexFor(norm string) *indexRule {
	for _, ir := range repo.indexes {
		if ir.matches(norm) {
			return ir
		}
	}
	return nil
}

func (repo *Repository) serveProject(w http.ResponseWriter, req *gateway.Request, norm string, ev event.Event) gateway.Result {
	ev.Python.Object = "project"
	ev.Python.Project = norm
	if sp := repo.projects[norm]; sp != nil {
		ev.PackageID = sp.packageID
		ev.Python.Project = sp.name
		return serveFormats(w, req, &sp.pages, ev, nil)
	}
	if ir := repo.indexFor(norm); ir != nil {
		return ir.serveProject(w, req, repo.cache, norm, ev)
	}
	// Not ours: the fallback index has it, or nobody does.
	w.Header()["Location"] = []string{repo.fallback + pathEscape(norm) + "/"}
	w.WriteHeader(http.StatusTemporaryRedirect)
	return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}
}

func (repo *Repository) serveFile(w http.ResponseWriter, req *gateway.Request, norm, name string, ev event.Event) (gateway.Result, bool) {
	ev.Python.Project = norm
	if sp := repo.projects[norm]; sp != nil {
		d := sp.byName[name]
		if d == nil {
			return gateway.Result{}, false
		}
		ev.PackageID = sp.packageID
		ev.Python.Project = sp.name
		ev.Python.Object = "file"
		ev.Python.Version = d.version
		ev.Python.FileName = d.name
		gateway.RedirectShared(w, d.target)
		return gateway.Result{Status: http.StatusTemporaryRedirect, Outcome: event.OutcomeRedirect, Event: ev}, true
	}
	if ir := repo.indexFor(norm); ir != nil {
		return ir.serveFile(w, req, repo.cache, &repo.files, norm, name, ev)
	}
	return gateway.Result{}, false
}

// movedTo answers 301 to a path on the same host. Such requests are
// not counted: the client asks again at the new address.
func movedTo(w http.ResponseWriter, path string) gateway.Result {
	w.Header()["Location"] = []string{path}
	w.WriteHeader(http.StatusMovedPermanently)
	return gateway.Result{Status: http.StatusMovedPermanently, Outcome: event.OutcomeRedirect, Uncounted: true}
}

// serveFormats answers with the representation the client accepts, or a
// 304 when its copy is current. cacheControl, when set, replaces the
// page's Cache-Control.
func serveFormats(w http.ResponseWriter, req *gateway.Request, pages *[numFormats]page, ev event.Event, cacheControl []string) gateway.Result {
	f, ok := negotiate(req.HTTP.Header["Accept"])
	if !ok {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Vary"] = []string{"Accept"}
		w.WriteHeader(http.StatusNotAcceptable)
		if req.Method() != http.MethodHead {
			_, _ = w.Write([]byte("this index serves " + ctypeV1JSON + ", " + ctypeV1HTML + " and " + ctypeHTML + "\n"))
		}
		return gateway.Result{Status: http.StatusNotAcceptable, Outcome: event.OutcomeError, Uncounted: true}
	}
	return pages[f].serve(w, req, ev, cacheControl)
}

func (pg *page) serve(w http.ResponseWriter, req *gateway.Request, ev event.Event, cacheControl []string) gateway.Result {
	h := w.Header()
	if inm := req.HTTP.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm[0], pg.etag) {
		h["Etag"] = pg.header["Etag"]
		h["Vary"] = pg.header["Vary"]
		h["Cache-Control"] = pg.header["Cache-Control"]
		if cacheControl != nil {
			h["Cache-Control"] = cacheControl
		}
		w.WriteHeader(http.StatusNotModified)
		return gateway.Result{Status: http.StatusNotModified, Outcome: event.OutcomeNotModified, Event: ev}
	}
	for k, v := range pg.header {
		h[k] = v
	}
	if cacheControl != nil {
		h["Cache-Control"] = cacheControl
	}
	w.WriteHeader(http.StatusOK)
	if req.Method() != http.MethodHead {
		_, _ = w.Write(pg.body)
	}
	return gateway.Result{Status: http.StatusOK, Outcome: event.OutcomeServe, Event: ev}
}

// pathEscape escapes a name for a URL path segment.
func pathEscape(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return urlPathEscape(s)
		}
	}
	return s
}

// ttlCacheControl is the Cache-Control of pages built from an upstream
// page kept for ttl.
func ttlCacheControl(ttl time.Duration) string {
	return "max-age=" + itoa(int(ttl/time.Second)) + ", public"
}
