// Package badgehttp serves README badges over HTTP at the URLs Scarf's
// documents give them:
//
//	/package/installs-badge/{package-id}
//	/installs-badge/{owner}/{package}?package-type=…
//	/package/company-badge/{package-id}
//	/company-badge/{owner}/{package}?package-type=…
//
// The installs badge shows all downloads of a package; the company badge
// the distinct organizations that downloaded it in the last 30 days. The
// query takes shields.io's parameters (see badge.ParseOptions), and
// cache-seconds and format=json; a path ending in /endpoint is the JSON
// form too.
//
// A badge is a cheap read: the Handler keeps counts for a few seconds
// and rendered badges until they change, in caches that requests read
// with one atomic load, and answers If-None-Match with 304. It never
// answers with a broken image: an unknown package gets a grey
// "not found" badge with status 404, a failing store a grey
// "unavailable" one with 503.
package badgehttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portico/internal/badge"
	"portico/internal/query"
)

// Counts answers what badges show. The app implements it from the
// package registry and the analytics rollups; its methods are called
// again only when the Handler's copy of an answer is older than
// Config.CountTTL.
//
// Package ids are those of control.Package, which events record as their
// package; an id that names no package is ErrNotFound, a package without
// downloads is 0.
type Counts interface {
	// Resolve returns the id of the package that the organization named
	// owner (control.Org.Name) publishes as name (control.Package.Name,
	// which matches regardless of case). packageType is the URL's
	// package-type parameter in lower case, "" when the URL has none:
	// "docker" for docker rules, "python", "npm" and "file" for the
	// others; a package of another type is not found.
	Resolve(ctx context.Context, owner, name, packageType string) (packageID string, err error)
	// Installs returns the package's downloads since its first, as
	// package stats counts them by default (robots excluded, docker
	// pulls folded).
	Installs(ctx context.Context, packageID string) (int64, error)
	// Companies returns the number of distinct organizations that
	// downloaded the package in the last 30 days.
	Companies(ctx context.Context, packageID string) (int64, error)
}

// ErrNotFound is what Counts return, wrapped or not, for a package that
// does not exist.
var ErrNotFound = errors.New("package not found")

// Config configures a Handler.
type Config struct {
	Counts Counts
	// CountTTL is how long an answer of Counts, a package not found
	// included, is used before Counts is asked again: the most a badge
	// lags behind the store. Zero means DefaultCountTTL.
	CountTTL time.Duration
	// Log receives the errors of Counts.
	Log *slog.Logger
}

// DefaultCountTTL is the default of Config.CountTTL.
const DefaultCountTTL = 10 * time.Second

// The bounds of cache-seconds, and the max-age of badges without one.
const (
	DefaultCacheSeconds = 300
	MinCacheSeconds     = 60
	MaxCacheSeconds     = 7 * 24 * 3600
)

// A Handler serves badges. It is safe for concurrent use.
type Handler struct {
	counts   Counts
	ttl      int64
	log      *slog.Logger
	resolved *cache[resolveKey, resolved]
	numbers  *cache[countKey, counted]
	renders  *cache[renderKey, *rendered]
}

// New returns a Handler that reads counts from cfg.Counts.
func New(cfg Config) (*Handler, error) {
	if cfg.Counts == nil {
		return nil, errors.New("badgehttp: Config.Counts is required")
	}
	if cfg.CountTTL < 0 {
		return nil, fmt.Errorf("badgehttp: Config.CountTTL %v is negative", cfg.CountTTL)
	}
	if cfg.CountTTL == 0 {
		cfg.CountTTL = DefaultCountTTL
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		counts:   cfg.Counts,
		ttl:      int64(cfg.CountTTL),
		log:      cfg.Log,
		resolved: newCache[resolveKey, resolved](12),
		numbers:  newCache[countKey, counted](12),
		renders:  newCache[renderKey, *rendered](11),
	}, nil
}

// The paths the Handler serves.
const (
	pathPackageInstalls  = "/package/installs-badge/"
	pathPackageCompanies = "/package/company-badge/"
	pathInstalls         = "/installs-badge/"
	pathCompanies        = "/company-badge/"
)

// Patterns returns the http.ServeMux patterns that route to a Handler.
func Patterns() []string {
	return []string{"GET " + pathPackageInstalls, "GET " + pathPackageCompanies, "GET " + pathInstalls, "GET " + pathCompanies}
}

// Handles reports whether path is one a Handler serves, for routers that
// put badges beside other handlers.
func Handles(path string) bool {
	return strings.HasPrefix(path, pathPackageInstalls) || strings.HasPrefix(path, pathPackageCompanies) ||
		strings.HasPrefix(path, pathInstalls) || strings.HasPrefix(path, pathCompanies)
}

// A kind is what a badge counts.
type kind uint8

const (
	kindNone kind = iota
	kindInstalls
	kindCompanies
)

var kindLabels = [...]string{kindNone: "badge", kindInstalls: "installs", kindCompanies: "companies"}

// A target is the package a badge URL names, and how.
type target struct {
	kind        kind
	id          string // by id
	owner, name string // by name
	endpoint    bool   // the path ends in /endpoint
}

// maxSegment bounds the length of ids and names in paths: longer ones
// name no package.
const maxSegment = 200

// parsePath reads a badge path. ok is false for a path that names no
// badge.
func parsePath(p string) (t target, ok bool) {
	var rest string
	byID := true
	switch {
	case strings.HasPrefix(p, pathPackageInstalls):
		t.kind, rest = kindInstalls, p[len(pathPackageInstalls):]
	case strings.HasPrefix(p, pathPackageCompanies):
		t.kind, rest = kindCompanies, p[len(pathPackageCompanies):]
	case strings.HasPrefix(p, pathInstalls):
		t.kind, rest, byID = kindInstalls, p[len(pathInstalls):], false
	case strings.HasPrefix(p, pathCompanies):
		t.kind, rest, byID = kindCompanies, p[len(pathCompanies):], false
	default:
		return t, false
	}
	first, rest, more := strings.Cut(rest, "/")
	if !segment(first) {
		return t, false
	}
	if byID {
		t.id = first
	} else {
		t.owner = first
		var name string
		name, rest, more = strings.Cut(rest, "/")
		if !segment(name) {
			return t, false
		}
		t.name = name
	}
	if more {
		if rest != "endpoint" {
			return t, false
		}
		t.endpoint = true
	}
	return t, true
}

func segment(s string) bool { return s != "" && len(s) <= maxSegment }

// params are what a badge URL's query asks for.
type params struct {
	opts        badge.Options
	json        bool
	maxAge      int32
	packageType string
	badType     bool // a package-type no package can have
}

// maxPackageType bounds the length of package types.
const maxPackageType = 32

func parseParams(raw string) params {
	p := params{maxAge: DefaultCacheSeconds}
	if raw == "" || query.TooMany(raw) {
		return p
	}
	var buf [16]query.Item
	items := query.AppendParse(buf[:0], raw)
	p.opts = badge.ParseOptions(items)
	if it, ok := query.Get(items, "format"); ok && it.Value == "json" {
		p.json = true
	}
	it, ok := query.Get(items, "cache-seconds")
	if !ok {
		it, ok = query.Get(items, "cacheSeconds")
	}
	if ok && len(it.Value) <= 10 {
		if n, err := strconv.Atoi(it.Value); err == nil {
			p.maxAge = int32(min(max(n, MinCacheSeconds), MaxCacheSeconds))
		}
	}
	if it, ok := query.Get(items, "package-type"); ok {
		if len(it.Value) > maxPackageType {
			p.badType = true
		} else {
			p.packageType = strings.ToLower(it.Value)
		}
	}
	return p
}

// A state is what became of the count a badge shows.
type state uint8

const (
	stateFound state = iota
	stateNotFound
	stateUnavailable
)

type resolveKey struct{ owner, name, packageType string }

func (k resolveKey) sum(seed maphash.Seed) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(k.owner)
	h.WriteByte('/')
	h.WriteString(k.name)
	h.WriteByte('?')
	h.WriteString(k.packageType)
	return h.Sum64()
}

type resolved struct {
	id    string
	found bool
}

type countKey struct {
	kind kind
	id   string
}

func (k countKey) sum(seed maphash.Seed) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteByte(byte(k.kind))
	h.WriteString(k.id)
	return h.Sum64()
}

type counted struct {
	n     int64
	found bool
}

// ServeHTTP serves the badge that r's path and query ask for.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	t, ok := parsePath(r.URL.Path)
	p := parseParams(r.URL.RawQuery)
	k := renderKey{kind: t.kind, json: p.json || t.endpoint, maxAge: p.maxAge, opts: p.opts}
	if !ok || p.badType {
		k.state = stateNotFound
	} else {
		var n int64
		n, k.state = h.count(r.Context(), t, p.packageType)
		if k.state == stateFound {
			k.setMessage(n)
		}
	}
	h.render(&k).write(w, r)
}

// count returns the number t's badge shows.
func (h *Handler) count(ctx context.Context, t target, packageType string) (int64, state) {
	now := time.Now().UnixNano()
	id := t.id
	if id == "" {
		rk := resolveKey{t.owner, t.name, packageType}
		v, ok := h.resolved.get(rk, now)
		if !ok {
			got, err := h.counts.Resolve(ctx, t.owner, t.name, packageType)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				h.failed(ctx, "badge resolve failed", err, "owner", t.owner, "name", t.name, "package_type", packageType)
				return 0, stateUnavailable
			default:
				v = resolved{id: got, found: true}
			}
			h.resolved.put(resolveKey{strings.Clone(t.owner), strings.Clone(t.name), strings.Clone(packageType)}, v, now+h.ttl)
		}
		if !v.found {
			return 0, stateNotFound
		}
		id = v.id
	}
	ck := countKey{t.kind, id}
	v, ok := h.numbers.get(ck, now)
	if !ok {
		var err error
		if t.kind == kindCompanies {
			v.n, err = h.counts.Companies(ctx, id)
		} else {
			v.n, err = h.counts.Installs(ctx, id)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			v = counted{}
		case err != nil:
			h.failed(ctx, "badge count failed", err, "package", id, "badge", kindLabels[t.kind])
			return 0, stateUnavailable
		default:
			v.found = true
		}
		h.numbers.put(countKey{t.kind, strings.Clone(id)}, v, now+h.ttl)
	}
	if !v.found {
		return 0, stateNotFound
	}
	return max(v.n, 0), stateFound
}

// failed logs an error of Counts, unless the client went away.
func (h *Handler) failed(ctx context.Context, msg string, err error, attrs ...any) {
	if ctx.Err() != nil {
		return
	}
	h.log.Warn(msg, append(attrs, "err", err)...)
}

// renderKey is everything a rendered badge depends on.
type renderKey struct {
	state  state
	kind   kind
	json   bool
	maxAge int32
	msgLen uint8
	msg    [16]byte
	opts   badge.Options
}

func (k *renderKey) setMessage(n int64) {
	m := badge.AppendMetric(k.msg[:0], n)
	if k.kind == kindCompanies {
		m = append(m, "/month"...)
	}
	k.msgLen = uint8(len(m))
}

func (k renderKey) sum(seed maphash.Seed) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteByte(byte(k.state))
	h.WriteByte(byte(k.kind))
	h.WriteByte(byte(k.opts.Logo))
	h.WriteByte(byte(k.opts.Style))
	if k.json {
		h.WriteByte(1)
	}
	for i := range 4 {
		h.WriteByte(byte(k.maxAge >> (8 * i)))
	}
	h.Write(k.msg[:k.msgLen])
	h.WriteByte(0)
	h.WriteString(k.opts.Label)
	h.WriteByte(0)
	h.WriteString(string(k.opts.Color))
	h.WriteByte(0)
	h.WriteString(string(k.opts.LabelColor))
	h.WriteByte(0)
	h.WriteString(string(k.opts.LogoColor))
	return h.Sum64()
}

// rendered is a badge ready to be written, headers included.
type rendered struct {
	status       int
	body         []byte
	etag         string
	contentType  []string
	cacheControl []string
	etagHeader   []string
	length       []string
}

// The headers every badge carries. Badges are images: nosniff keeps
// browsers from reading them as anything else, and the policy keeps an
// SVG opened on its own from running or loading anything.
var (
	nosniff   = []string{"nosniff"}
	policy    = []string{"default-src 'none'"}
	svgType   = []string{"image/svg+xml;charset=utf-8"}
	jsonType  = []string{"application/json;charset=utf-8"}
	noCaching = []string{"no-cache"}
)

// render returns the badge of k, drawing it when the cache has not.
func (h *Handler) render(k *renderKey) *rendered {
	if res, ok := h.renders.get(*k, 0); ok {
		return res
	}
	b := badge.Badge{Label: kindLabels[k.kind], Message: string(k.msg[:k.msgLen]), Color: badge.Blue}
	if k.kind == kindInstalls {
		b.Color = downloadColor(k.msg[:k.msgLen])
	}
	b = k.opts.Apply(b)
	res := &rendered{status: http.StatusOK}
	maxAge := int(k.maxAge)
	switch k.state {
	case stateNotFound:
		res.status, b.Message, b.Color = http.StatusNotFound, "not found", badge.LightGrey
		// A package created after a look at its badge shows up soon.
		maxAge = MinCacheSeconds
	case stateUnavailable:
		res.status, b.Message, b.Color = http.StatusServiceUnavailable, "unavailable", badge.LightGrey
	}
	if k.json {
		e := b.Endpoint()
		e.IsError = k.state != stateFound
		e.CacheSeconds = maxAge
		// An Endpoint holds strings and numbers only: it always encodes.
		res.body, _ = json.Marshal(e)
		res.contentType = jsonType
	} else {
		res.body = b.SVG()
		res.contentType = svgType
	}
	sum := sha256.Sum256(res.body)
	res.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	res.etagHeader = []string{res.etag}
	res.length = []string{strconv.Itoa(len(res.body))}
	res.cacheControl = []string{"max-age=" + strconv.Itoa(maxAge)}
	if k.state == stateUnavailable {
		res.cacheControl = noCaching
	}
	// The key's strings may point into the request's URL: the cache
	// keeps copies, not the request.
	stored := *k
	stored.opts.Label = strings.Clone(k.opts.Label)
	stored.opts.Color = badge.Color(strings.Clone(string(k.opts.Color)))
	stored.opts.LabelColor = badge.Color(strings.Clone(string(k.opts.LabelColor)))
	stored.opts.LogoColor = badge.Color(strings.Clone(string(k.opts.LogoColor)))
	h.renders.put(stored, res, 0)
	return res
}

// downloadColor is shields.io's colour for download counts, read from
// the abbreviated count: red for none, then yellow, yellowgreen and green
// for one, two and three digits, brightgreen from a thousand ("1k").
func downloadColor(msg []byte) badge.Color {
	switch {
	case len(msg) == 0 || msg[len(msg)-1] < '0' || msg[len(msg)-1] > '9':
		return badge.BrightGreen
	case string(msg) == "0":
		return badge.Red
	case len(msg) == 1:
		return badge.Yellow
	case len(msg) == 2:
		return badge.YellowGreen
	case len(msg) == 3:
		return badge.Green
	}
	return badge.BrightGreen
}

// write sends the badge, or 304 when the client has it already.
//
// The header values are the badge's own slices, shared by all its
// responses so that a warm badge allocates nothing: each has a capacity
// of one, so that Header.Add copies rather than writes into it, and
// Header.Set replaces it.
func (res *rendered) write(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd["Cache-Control"] = res.cacheControl
	hd["Etag"] = res.etagHeader
	hd["X-Content-Type-Options"] = nosniff
	hd["Content-Security-Policy"] = policy
	if res.status == http.StatusOK && etagMatch(r.Header.Get("If-None-Match"), res.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Type"] = res.contentType
	hd["Content-Length"] = res.length
	w.WriteHeader(res.status)
	if r.Method != http.MethodHead {
		w.Write(res.body)
	}
}

// etagMatch reports whether the If-None-Match header value list matches
// etag, by the weak comparison RFC 9110 prescribes for it.
func etagMatch(list, etag string) bool {
	for list != "" {
		var tag string
		tag, list, _ = strings.Cut(list, ",")
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
