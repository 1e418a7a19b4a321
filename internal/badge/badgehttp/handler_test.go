package badgehttp

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// memCounts is a package registry in memory with its counts: what the
// app's implementation reads from the stores.
type memCounts struct {
	mu    sync.Mutex
	pkgs  map[string]memPackage // by id
	err   error                 // returned by every call while set
	calls atomic.Int64
}

type memPackage struct {
	owner, name, kind   string
	installs, companies int64
}

func newMemCounts() *memCounts {
	return &memCounts{pkgs: map[string]memPackage{
		"rocket-id": {owner: "acme", name: "Rocket", kind: "docker", installs: 1234, companies: 12},
		"skates-id": {owner: "acme", name: "skates", kind: "python", installs: 0, companies: 0},
		"big-id":    {owner: "acme", name: "big", kind: "npm", installs: 3_456_789, companies: 1500},
	}}
}

func (m *memCounts) set(id string, installs int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pkgs[id]
	p.installs = installs
	m.pkgs[id] = p
}

func (m *memCounts) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

func (m *memCounts) Resolve(_ context.Context, owner, name, kind string) (string, error) {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return "", m.err
	}
	for id, p := range m.pkgs {
		if p.owner == owner && strings.EqualFold(p.name, name) && (kind == "" || kind == p.kind) {
			return id, nil
		}
	}
	return "", fmt.Errorf("package %s/%s: %w", owner, name, ErrNotFound)
}

func (m *memCounts) get(id string) (memPackage, error) {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return memPackage{}, m.err
	}
	p, ok := m.pkgs[id]
	if !ok {
		return p, ErrNotFound
	}
	return p, nil
}

func (m *memCounts) Installs(_ context.Context, id string) (int64, error) {
	p, err := m.get(id)
	return p.installs, err
}

func (m *memCounts) Companies(_ context.Context, id string) (int64, error) {
	p, err := m.get(id)
	return p.companies, err
}

func newHandler(t testing.TB, c Counts, log *slog.Logger) *Handler {
	t.Helper()
	h, err := New(Config{Counts: c, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serve runs h behind a real HTTP server and returns a client's
// function to ask it.
func serve(t *testing.T, h http.Handler) func(method, target string, header ...string) (*http.Response, []byte) {
	mux := http.NewServeMux()
	for _, p := range Patterns() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return func(method, target string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
}

// svgInfo is what tests read from a served badge.
type svgInfo struct {
	title string
	fills []string
	texts []string
	// elements lists the names of elements and of their attributes
	// ("rect", "rect@fill"), in order.
	elements []string
}

// allowed are the elements and attributes of badges: nothing that runs
// or loads anything.
var allowed = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`svg@xmlns svg@width svg@height svg@role svg@aria-label svg@x svg@y svg@viewBox title
		linearGradient@id linearGradient@x2 linearGradient@y2 stop@offset stop@stop-color stop@stop-opacity
		clipPath@id rect@x rect@y rect@width rect@height rect@rx rect@fill rect@stroke g@clip-path g@shape-rendering g@stroke
		g@fill g@text-anchor g@font-family g@text-rendering g@font-size g@font-weight path@d path@fill
		text@x text@y text@fill text@transform text@textLength text@aria-hidden text@fill-opacity text@font-weight`) {
		name, _, _ := strings.Cut(e, "@")
		allowed[name], allowed[e] = true, true
	}
}

// readSVG parses body strictly as XML and returns its title, its
// background fills and its visible texts.
func readSVG(t testing.TB, body []byte) svgInfo {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var info svgInfo
	var stack []string
	hidden := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && tok.Name.Local != "svg" {
				t.Fatalf("root <%s>", tok.Name.Local)
			}
			stack = append(stack, tok.Name.Local)
			hidden = false
			info.elements = append(info.elements, tok.Name.Local)
			for _, a := range tok.Attr {
				info.elements = append(info.elements, tok.Name.Local+"@"+a.Name.Local)
				if tok.Name.Local == "rect" && a.Name.Local == "fill" && !strings.HasPrefix(a.Value, "url(") {
					info.fills = append(info.fills, a.Value)
				}
				if a.Name.Local == "aria-hidden" {
					hidden = true
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch {
			case len(stack) == 0:
			case stack[len(stack)-1] == "title":
				info.title += string(tok)
			case stack[len(stack)-1] == "text" && !hidden:
				info.texts = append(info.texts, string(tok))
			}
		}
	}
	return info
}

func TestServe(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	for _, tc := range []struct {
		target string
		title  string
		fill   string
	}{
		{"/package/installs-badge/rocket-id", "installs: 1.2k", "#4c1"},
		{"/package/company-badge/rocket-id", "companies: 12/month", "#007ec6"},
		{"/installs-badge/acme/rocket?package-type=docker", "installs: 1.2k", "#4c1"},
		{"/installs-badge/acme/ROCKET?package-type=Docker", "installs: 1.2k", "#4c1"},
		{"/installs-badge/acme/rocket", "installs: 1.2k", "#4c1"},
		{"/company-badge/acme/big?package-type=npm", "companies: 1.5k/month", "#007ec6"},
		{"/installs-badge/acme/big", "installs: 3.5M", "#4c1"},
		{"/package/installs-badge/skates-id", "installs: 0", "#e05d44"},
		{"/package/installs-badge/rocket-id?label=pulls&color=orange&style=flat-square", "pulls: 1.2k", "#fe7d37"},
		{"/package/installs-badge/rocket-id?label=&logo=docker", "1.2k", "#4c1"},
		{"/package/installs-badge/rocket-id?style=for-the-badge&label-color=abcdef", "INSTALLS: 1.2K", "#4c1"},
	} {
		resp, body := get("GET", tc.target)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", tc.target, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml;charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tc.target, ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "max-age=300" {
			t.Errorf("%s: Cache-Control %q", tc.target, cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != "default-src 'none'" {
			t.Errorf("%s: headers %v", tc.target, resp.Header)
		}
		info := readSVG(t, body)
		if info.title != tc.title {
			t.Errorf("%s: title %q, want %q", tc.target, info.title, tc.title)
		}
		if len(info.fills) == 0 || info.fills[len(info.fills)-1] != tc.fill {
			t.Errorf("%s: message fill %v, want %s", tc.target, info.fills, tc.fill)
		}
	}
}

func TestDownloadColor(t *testing.T) {
	for msg, want := range map[string]string{"0": "red", "1": "yellow", "9": "yellow", "10": "yellowgreen", "99": "yellowgreen",
		"100": "green", "999": "green", "1k": "brightgreen", "9.9k": "brightgreen", "12M": "brightgreen"} {
		if got := downloadColor([]byte(msg)); string(got) != want {
			t.Errorf("downloadColor(%q) = %s, want %s", msg, got, want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	for _, target := range []string{
		"/package/installs-badge/rocket-id?format=json&logo=docker&logo-color=fff&cache-seconds=3600",
		"/package/installs-badge/rocket-id/endpoint?logo=docker&logo-color=fff&cache-seconds=3600",
		"/installs-badge/acme/rocket/endpoint?package-type=docker&logo=docker&logo-color=fff&cache-seconds=3600",
	} {
		resp, body := get("GET", target)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json;charset=utf-8" {
			t.Fatalf("%s: %d %q", target, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// Shields refuses fields that its schema does not have: decode
		// strictly into the schema.
		var e struct {
			SchemaVersion int    `json:"schemaVersion"`
			Label         string `json:"label"`
			Message       string `json:"message"`
			Color         string `json:"color"`
			LabelColor    string `json:"labelColor"`
			IsError       bool   `json:"isError"`
			NamedLogo     string `json:"namedLogo"`
			LogoSvg       string `json:"logoSvg"`
			LogoColor     string `json:"logoColor"`
			Style         string `json:"style"`
			CacheSeconds  int    `json:"cacheSeconds"`
		}
		d := json.NewDecoder(bytes.NewReader(body))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			t.Fatalf("%s: %s: %v", target, body, err)
		}
		if e.SchemaVersion != 1 || e.Label != "installs" || e.Message != "1.2k" || e.Color != "brightgreen" ||
			e.NamedLogo != "docker" || e.LogoColor != "fff" || e.CacheSeconds != 3600 || e.IsError {
			t.Errorf("%s: %s", target, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "max-age=3600" {
			t.Errorf("%s: Cache-Control %q", target, cc)
		}
	}
	resp, body := get("GET", "/package/company-badge/nope/endpoint")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"message":"not found"`) || !strings.Contains(string(body), `"isError":true`) {
		t.Errorf("unknown package: %d %s", resp.StatusCode, body)
	}
}

// TestNotFound requires a grey "not found" badge with 404 for every URL
// that names no package, and for paths that are not badges at all.
func TestNotFound(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	for _, tc := range []struct{ target, title string }{
		{"/package/installs-badge/nope", "installs: not found"},
		{"/package/company-badge/nope", "companies: not found"},
		{"/installs-badge/acme/nope?package-type=docker", "installs: not found"},
		{"/installs-badge/acme/rocket?package-type=python", "installs: not found"},
		{"/installs-badge/other/rocket", "installs: not found"},
		{"/company-badge/acme/skates?package-type=npm", "companies: not found"},
		{"/package/installs-badge/", "installs: not found"},
		{"/package/installs-badge/rocket-id/", "installs: not found"},
		{"/package/installs-badge/rocket-id/other", "installs: not found"},
		{"/installs-badge/acme", "installs: not found"},
		{"/installs-badge/acme/", "installs: not found"},
		{"/installs-badge/acme/rocket/x/y", "installs: not found"},
		{"/package/installs-badge/" + strings.Repeat("x", maxSegment+1), "installs: not found"},
		{"/installs-badge/acme/rocket?package-type=" + strings.Repeat("x", 40), "installs: not found"},
		{"/package/installs-badge/nope?label=pulls&color=green&style=social", "Pulls: not found"},
	} {
		resp, body := get("GET", tc.target)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", tc.target, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml;charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tc.target, ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "max-age=60" {
			t.Errorf("%s: Cache-Control %q, want max-age=60", tc.target, cc)
		}
		info := readSVG(t, body)
		if info.title != tc.title {
			t.Errorf("%s: title %q, want %q", tc.target, info.title, tc.title)
		}
		if !strings.Contains(tc.target, "social") && info.fills[len(info.fills)-1] != "#9f9f9f" {
			t.Errorf("%s: message fill %v, want grey", tc.target, info.fills)
		}
	}
	// Not a badge at all: the handler serves its own paths only, but a
	// router that sends it another still gets an image.
	rec := httptest.NewRecorder()
	newHandler(t, newMemCounts(), nil).ServeHTTP(rec, httptest.NewRequest("GET", "/favicon.ico", nil))
	if rec.Code != http.StatusNotFound || readSVG(t, rec.Body.Bytes()).title != "badge: not found" {
		t.Errorf("other path: %d %s", rec.Code, rec.Body)
	}
	if Handles("/favicon.ico") || !Handles("/company-badge/a/b") || !Handles("/package/installs-badge/x") {
		t.Error("Handles disagrees with the paths served")
	}
}

// TestUnavailable requires a grey badge with 503, never cached, when the
// store fails, the error in the log, and the badge back once the store
// answers.
func TestUnavailable(t *testing.T) {
	var logs bytes.Buffer
	c := newMemCounts()
	c.fail(errors.New("database is locked"))
	get := serve(t, newHandler(t, c, slog.New(slog.NewTextHandler(&logs, nil))))
	for _, target := range []string{"/package/installs-badge/rocket-id", "/installs-badge/acme/rocket"} {
		resp, body := get("GET", target)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: %d, Cache-Control %q", target, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		if info := readSVG(t, body); info.title != "installs: unavailable" {
			t.Errorf("%s: title %q", target, info.title)
		}
	}
	if !strings.Contains(logs.String(), "database is locked") || !strings.Contains(logs.String(), "package=rocket-id") {
		t.Errorf("log: %s", logs.String())
	}
	if strings.Contains(logs.String(), "127.0.0.1") {
		t.Errorf("the log holds the client's address: %s", logs.String())
	}
	c.fail(nil)
	if resp, _ := get("GET", "/package/installs-badge/rocket-id"); resp.StatusCode != http.StatusOK {
		t.Errorf("after the store recovered: %d", resp.StatusCode)
	}
}

func TestETag(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	const target = "/package/installs-badge/rocket-id?logo=python"
	resp, body := get("GET", target)
	etag := resp.Header.Get("ETag")
	if len(etag) < 10 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag %q", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
		resp, b := get("GET", target, "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("If-None-Match %s: %d, %d bytes", inm, resp.StatusCode, len(b))
		}
		if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != "max-age=300" {
			t.Errorf("If-None-Match %s: 304 headers %v", inm, resp.Header)
		}
	}
	for _, inm := range []string{`"other"`, etag[:len(etag)-2] + `"`, ""} {
		if resp, b := get("GET", target, "If-None-Match", inm); resp.StatusCode != http.StatusOK || !bytes.Equal(b, body) {
			t.Errorf("If-None-Match %s: %d", inm, resp.StatusCode)
		}
	}
	// Another look, another tag.
	if resp, _ := get("GET", target+"&style=plastic"); resp.Header.Get("ETag") == etag {
		t.Error("a different badge has the same ETag")
	}
	// A badge that does not exist is never "not modified".
	resp, _ = get("GET", "/package/installs-badge/nope")
	if resp, _ := get("GET", "/package/installs-badge/nope", "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("not found with its ETag: %d", resp.StatusCode)
	}
}

func TestHEAD(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	for _, target := range []string{"/package/installs-badge/rocket-id", "/package/installs-badge/nope"} {
		g, body := get("GET", target)
		h, hbody := get("HEAD", target)
		if h.StatusCode != g.StatusCode || len(hbody) != 0 || h.ContentLength != int64(len(body)) ||
			h.Header.Get("ETag") != g.Header.Get("ETag") || h.Header.Get("Content-Type") != g.Header.Get("Content-Type") {
			t.Errorf("%s: HEAD %d %v (length %d), GET %d (%d bytes)", target, h.StatusCode, h.Header, h.ContentLength, g.StatusCode, len(body))
		}
	}
	rec := httptest.NewRecorder()
	newHandler(t, newMemCounts(), nil).ServeHTTP(rec, httptest.NewRequest("POST", "/package/installs-badge/rocket-id", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestCacheSeconds(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	for q, want := range map[string]string{
		"":                                    "max-age=300",
		"?cache-seconds=3600":                 "max-age=3600",
		"?cacheSeconds=120":                   "max-age=120",
		"?cache-seconds=5":                    "max-age=60",
		"?cache-seconds=-1":                   "max-age=60",
		"?cache-seconds=1000000000":           "max-age=604800",
		"?cache-seconds=99999999999999999999": "max-age=300",
		"?cache-seconds=soon":                 "max-age=300",
	} {
		resp, _ := get("GET", "/package/installs-badge/rocket-id"+q)
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("%q: Cache-Control %q, want %q", q, got, want)
		}
	}
}

// TestHostileQuery sends what an attacker would put in a badge URL, and
// requires a well-formed badge showing the text as text.
func TestHostileQuery(t *testing.T) {
	get := serve(t, newHandler(t, newMemCounts(), nil))
	for _, label := range []string{`<script>alert(1)</script>`, `"/><svg onload=alert(1)>`, "a'b\"c&d", strings.Repeat("ж", 5000), "\x00\u202e"} {
		for _, style := range []string{"flat", "social", "for-the-badge", `plastic"`} {
			q := url.Values{"label": {label}, "color": {`red" onload="x`}, "logo": {"<x>"}, "style": {style}}
			resp, body := get("GET", "/package/installs-badge/rocket-id?"+q.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
			info := readSVG(t, body)
			for _, e := range info.elements {
				if !allowed[e] {
					t.Errorf("label %q, style %q: element or attribute %q:\n%s", label, style, e, body)
				}
			}
			if len(info.texts) == 0 {
				t.Errorf("label %q: no text", label)
			}
		}
	}
}

// TestCountTTL checks that counts are asked again only after CountTTL,
// found or not, and that a badge shows the new count then.
func TestCountTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newMemCounts()
		h, err := New(Config{Counts: c, CountTTL: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		title := func(target string) string {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
			return readSVG(t, rec.Body.Bytes()).title
		}
		for range 5 {
			if got := title("/installs-badge/acme/rocket"); got != "installs: 1.2k" {
				t.Fatalf("title %q", got)
			}
			title("/package/installs-badge/nope")
		}
		// Resolve and Installs for rocket, Installs for nope.
		if n := c.calls.Load(); n != 3 {
			t.Errorf("%d calls of Counts for 10 badges, want 3", n)
		}
		c.set("rocket-id", 5_000_000)
		time.Sleep(9 * time.Second)
		if got := title("/installs-badge/acme/rocket"); got != "installs: 1.2k" {
			t.Errorf("before the TTL: %q", got)
		}
		time.Sleep(time.Second)
		if got := title("/installs-badge/acme/rocket"); got != "installs: 5M" {
			t.Errorf("after the TTL: %q", got)
		}
		if n := c.calls.Load(); n != 5 {
			t.Errorf("%d calls of Counts, want 5", n)
		}
	})
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without Counts succeeded")
	}
	if _, err := New(Config{Counts: newMemCounts(), CountTTL: -time.Second}); err == nil {
		t.Error("New with a negative TTL succeeded")
	}
}

// TestWarmNoAlloc requires a badge served from warm caches to allocate
// nothing in the handler but the decoded value of a percent-encoded
// parameter: the count, the rendered badge and its headers all come
// from the caches.
func TestWarmNoAlloc(t *testing.T) {
	h := newHandler(t, newMemCounts(), nil)
	for target, want := range map[string]float64{
		"/package/installs-badge/rocket-id": 0,
		"/installs-badge/acme/rocket?package-type=docker&label=pulls&color=blue&logo=docker&style=for-the-badge&cache-seconds=600": 0,
		"/installs-badge/acme/rocket?label=pulls%20today":                                                                          1,
	} {
		r := httptest.NewRequest("GET", target, nil)
		w := newDiscard()
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			t.Fatalf("%s: %d", target, w.status)
		}
		if n := testing.AllocsPerRun(200, func() { w.reset(); h.ServeHTTP(w, r) }); n != want {
			t.Errorf("%s: %v allocations per warm badge, want %v", target, n, want)
		}
	}
}

// discard is a ResponseWriter that keeps nothing, for measuring the
// handler alone.
type discard struct {
	h      http.Header
	status int
	n      int
}

func newDiscard() *discard { return &discard{h: http.Header{}} }

func (d *discard) Header() http.Header { return d.h }

func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

func (d *discard) WriteHeader(status int) { d.status = status }

func (d *discard) reset() { clear(d.h); d.status, d.n = 0, 0 }

// FuzzServe asks for any path and query and requires an answer that is a
// badge: 200, 404 or 503 with a well-formed SVG document or endpoint
// JSON.
func FuzzServe(f *testing.F) {
	f.Add("/package/installs-badge/rocket-id", "label=x&style=social")
	f.Add("/installs-badge/acme/rocket/endpoint", "package-type=docker&cache-seconds=1")
	f.Add("/company-badge/acme/big", "format=json&logo=npm&logoColor=%23ABC")
	f.Add("/package/company-badge/x/y", "label=%3C&label=%3E;style=plastic")
	h, err := New(Config{Counts: newMemCounts()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path, r.URL.RawQuery = path, rawQuery
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusOK, http.StatusNotFound, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Header().Get("Content-Type") == "application/json;charset=utf-8" {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["schemaVersion"] != 1.0 {
				t.Fatalf("endpoint JSON %s: %v", rec.Body, err)
			}
			return
		}
		readSVG(t, rec.Body.Bytes())
	})
}
