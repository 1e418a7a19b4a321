package npm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/event/eventtest"
	"portico/internal/gateway/npm/npmtest"
	"portico/internal/manifest"
	"portico/internal/route"
)

// pkgVersion is one published version of a test package.
type pkgVersion struct {
	name    string
	version string
	deps    map[string]string
	index   string // index.js
	tgz     []byte
}

func (v *pkgVersion) file() string {
	base := v.name
	if i := strings.IndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	return base + "-" + v.version + ".tgz"
}

func (v *pkgVersion) integrity() string {
	s := sha512.Sum512(v.tgz)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

func (v *pkgVersion) shasum() string {
	s := sha1.Sum(v.tgz)
	return hex.EncodeToString(s[:])
}

func (v *pkgVersion) packageJSON() map[string]any {
	m := map[string]any{"name": v.name, "version": v.version, "main": "index.js", "license": "MIT", "description": "test package " + v.name}
	if len(v.deps) > 0 {
		m["dependencies"] = v.deps
	}
	return m
}

// buildPackage packs a version as npm pack does: a gzipped tar with
// package/package.json and package/index.js.
func buildPackage(t testing.TB, name, version string, deps map[string]string) *pkgVersion {
	t.Helper()
	v := &pkgVersion{name: name, version: version, deps: deps, index: "module.exports = " + jsonString(name+"@"+version) + ";\n"}
	for dep := range deps {
		v.index = "module.exports = " + jsonString(name+"@"+version+" with ") + " + require(" + jsonString(dep) + ");\n"
	}
	pj, _ := json.MarshalIndent(v.packageJSON(), "", "  ")
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range [][2]string{{"package/package.json", string(pj)}, {"package/index.js", v.index}} {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), ModTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(f[1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	v.tgz = buf.Bytes()
	return v
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// upstreamRegistry stands in for the npm registry: packuments (full, or
// abbreviated when asked, unless fullOnly), tarballs, and PUT for
// publishes.
type upstreamRegistry struct {
	srv       *httptest.Server
	mu        sync.Mutex
	packages  map[string][]*pkgVersion
	fullOnly  bool
	down      atomic.Bool  // packuments answer 503; tarballs still work
	tgzDown   atomic.Bool  // tarballs answer 503
	docs      atomic.Int64 // packuments of @acme packages served
	tarballs  atomic.Int64
	published []string // names PUT to the registry
	auth      []string // Authorization of publishes
}

func newUpstreamRegistry(t testing.TB, versions ...*pkgVersion) *upstreamRegistry {
	u := &upstreamRegistry{packages: make(map[string][]*pkgVersion)}
	for _, v := range versions {
		u.packages[v.name] = append(u.packages[v.name], v)
	}
	u.srv = httptest.NewServer(u)
	t.Cleanup(u.srv.Close)
	return u
}

// nameOf reads a package name from a registry path: "/name",
// "/@scope%2fname" or "/@scope/name", and the rest of the path.
func nameOf(rawPath string) (string, []string) {
	segs := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	for i := range segs {
		segs[i], _ = url.PathUnescape(segs[i])
	}
	if strings.HasPrefix(segs[0], "@") && !strings.Contains(segs[0], "/") && len(segs) > 1 {
		return segs[0] + "/" + segs[1], segs[2:]
	}
	return segs[0], segs[1:]
}

func (u *upstreamRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest := nameOf(r.URL.EscapedPath())
	u.mu.Lock()
	versions := u.packages[name]
	u.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && len(rest) == 0:
		body, _ := io.ReadAll(r.Body)
		if !json.Valid(body) {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.published = append(u.published, name)
		u.auth = append(u.auth, r.Header.Get("Authorization"))
		u.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	case versions == nil:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"Not found"}`))
	case len(rest) == 0:
		if strings.HasPrefix(name, "@acme/") {
			u.docs.Add(1)
		}
		if u.down.Load() {
			http.Error(w, `{"error":"registry down"}`, http.StatusServiceUnavailable)
			return
		}
		abbrev := !u.fullOnly && strings.Contains(r.Header.Get("Accept"), "application/vnd.npm.install-v1+json")
		doc := u.packument(name, versions, abbrev)
		etag := `"` + hashOf(doc) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if abbrev {
			w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		_, _ = w.Write(doc)
	case len(rest) == 2 && rest[0] == "-":
		if u.tgzDown.Load() {
			http.Error(w, `{"error":"registry down"}`, http.StatusServiceUnavailable)
			return
		}
		for _, v := range versions {
			if v.file() == rest[1] {
				u.tarballs.Add(1)
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = w.Write(v.tgz)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func hashOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:8]) }

func (u *upstreamRegistry) packument(name string, versions []*pkgVersion, abbrev bool) []byte {
	vs := map[string]any{}
	var latest string
	times := map[string]string{"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z"}
	for _, v := range versions {
		doc := v.packageJSON()
		doc["dist"] = map[string]any{
			"tarball":   u.srv.URL + "/" + name + "/-/" + v.file(),
			"integrity": v.integrity(),
			"shasum":    v.shasum(),
		}
		if !abbrev {
			doc["_id"] = name + "@" + v.version
			doc["readme"] = "# " + name
		} else {
			delete(doc, "description")
			delete(doc, "main")
		}
		vs[v.version] = doc
		latest = v.version
		times[v.version] = "2026-01-01T00:00:00.000Z"
	}
	top := map[string]any{"name": name, "dist-tags": map[string]string{"latest": latest, "beta": versions[0].version}, "versions": vs, "modified": "2026-01-02T00:00:00.000Z"}
	if !abbrev {
		top["_id"] = name
		top["time"] = times
		top["readme"] = "# " + name
		top["maintainers"] = []any{map[string]string{"name": "acme", "email": "acme@example.com"}}
	}
	b, _ := json.Marshal(top)
	return b
}

// recorder collects the events the router emits.
type recorder struct{ eventtest.Recorder }

func (r *recorder) all() []event.Event { return r.All() }

// downloads counts tarball GETs of a package.
func (r *recorder) downloads(pkg string) int {
	return r.Count(func(e event.Event) bool {
		return e.Kind == event.KindNPM && e.NPM.Object == "tarball" && e.Method == http.MethodGet && e.NPM.Package == pkg
	})
}

type portico struct {
	srv    *httptest.Server
	router *route.Router
	rec    *recorder
	cache  *doccache.Cache
}

func startPortico(t testing.TB, manifestJSON string) *portico {
	t.Helper()
	return startPorticoTrusting(t, manifestJSON, "")
}

// startPorticoTrusting is startPortico believing the forwarding headers
// of the proxies in trustedList.
func startPorticoTrusting(t testing.TB, manifestJSON, trustedList string) *portico {
	t.Helper()
	m, err := manifest.Decode("manifest.json", []byte(manifestJSON))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	opts := npmtest.Options(t)
	p := &portico{rec: &recorder{}, cache: opts.Cache}
	trusted, err := clientip.ParseTrusted(trustedList)
	if err != nil {
		t.Fatal(err)
	}
	table, err := route.Compile(m, route.Options{NPM: opts})
	if err != nil {
		t.Fatal(err)
	}
	p.router = route.NewRouter(table, trusted, p.rec, nil)
	p.srv = httptest.NewServer(p.router)
	t.Cleanup(p.srv.Close)
	return p
}

// cleanEnv is the environment without settings that would send clients
// elsewhere or share their state with the machine's.
func cleanEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "npm_config_"), strings.HasPrefix(lk, "yarn_"), strings.HasPrefix(lk, "pnpm_"),
			strings.HasSuffix(lk, "_proxy"), k == "HOME", k == "XDG_CONFIG_HOME", k == "XDG_CACHE_HOME", k == "XDG_DATA_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "XDG_CACHE_HOME="+home+"/.cache", "XDG_DATA_HOME="+home+"/.local/share",
		"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
}

func decodeManifest(s string) (*manifest.Manifest, error) {
	return manifest.Decode("m.json", []byte(s))
}
