package python_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/event/eventtest"
	"portico/internal/gateway/python"
	"portico/internal/gateway/python/pythontest"
	"portico/internal/manifest"
	"portico/internal/route"
)

// A distribution is one built file of a test project.
type distribution struct {
	project        string // as written in its metadata
	version        string
	name           string // file name
	data           []byte
	metadata       []byte // the METADATA file, for PEP 658
	requiresPython string
}

func (d distribution) sha256() string {
	s := sha256.Sum256(d.data)
	return hex.EncodeToString(s[:])
}

// pkgSpec describes a test project: a module with one file.
type pkgSpec struct {
	project  string // e.g. "Rocket_Skates"
	version  string
	module   string // import name
	source   string // the module's __init__.py
	requires []string
	python   string // Requires-Python
}

func (s pkgSpec) distName() string {
	return strings.ReplaceAll(python.Normalize(s.project), "-", "_")
}

func (s pkgSpec) metadataFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: test project\n", s.project, s.version)
	if s.python != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", s.python)
	}
	for _, r := range s.requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	return b.String()
}

// buildWheel writes a pure-Python wheel as the wheel format (PEP 427)
// specifies: the module, and a .dist-info with METADATA, WHEEL and a
// RECORD holding every file's hash and size.
func buildWheel(t testing.TB, s pkgSpec) distribution {
	t.Helper()
	info := s.distName() + "-" + s.version + ".dist-info"
	files := [][2]string{
		{s.module + "/__init__.py", s.source},
		{info + "/METADATA", s.metadataFile()},
		{info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: portico-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256([]byte(f[1]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f[0], base64.RawURLEncoding.EncodeToString(sum[:]), len(f[1]))
	}
	record.WriteString(info + "/RECORD,,\n")
	files = append(files, [2]string{info + "/RECORD", record.String()})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f[0], Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(f[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return distribution{
		project: s.project, version: s.version, name: s.distName() + "-" + s.version + "-py3-none-any.whl",
		data: buf.Bytes(), metadata: []byte(s.metadataFile()), requiresPython: s.python,
	}
}

// backendPy is the build backend shipped inside test sdists (PEP 517
// in-tree backend), so that installing from source needs nothing from
// an index. It builds the same wheel layout as buildWheel.
const backendPy = `import base64, hashlib, os, zipfile

def _meta():
    with open("PKG-INFO") as f:
        text = f.read()
    fields = dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)
    return text, fields["Name"], fields["Version"]

def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_sdist(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    text, name, version = _meta()
    dist = name.lower().replace("-", "_").replace(".", "_")
    info = "%s-%s.dist-info" % (dist, version)
    files = []
    for root, _, names in os.walk("src"):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files.append((os.path.relpath(p, "src"), f.read()))
    files.append((info + "/METADATA", text.encode()))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: portico-tests-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = ""
    for p, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\n" % (p, digest, len(data))
    record += info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode()))
    wheel = "%s-%s-py3-none-any.whl" % (dist, version)
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as z:
        for p, data in files:
            z.writestr(p, data)
    return wheel
`

// buildSdist writes a source distribution (name-version.tar.gz) with
// PKG-INFO, a pyproject.toml naming the in-tree backend, and the module
// under src/.
func buildSdist(t testing.TB, s pkgSpec) distribution {
	t.Helper()
	root := s.distName() + "-" + s.version
	files := [][2]string{
		{root + "/PKG-INFO", s.metadataFile()},
		{root + "/pyproject.toml", "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"_build\"]\n"},
		{root + "/_build/backend.py", backendPy},
		{root + "/src/" + s.module + "/__init__.py", s.source},
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
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
	return distribution{project: s.project, version: s.version, name: root + ".tar.gz", data: buf.Bytes(), metadata: []byte(s.metadataFile()), requiresPython: s.python}
}

// upstreamIndex is a simple index with its files, standing in for PyPI:
// /simple/NAME/ in PEP 691 JSON or PEP 503 HTML (as the Accept header
// asks, unless htmlOnly), /files/FILE and /files/FILE.metadata.
type upstreamIndex struct {
	srv      *httptest.Server
	mu       sync.Mutex
	projects map[string][]distribution // by normalized name
	htmlOnly bool
	down     atomic.Bool // /simple/ answers 503; files still work
	pages    atomic.Int64
	files    atomic.Int64
}

func newUpstreamIndex(t testing.TB, dists ...distribution) *upstreamIndex {
	u := &upstreamIndex{projects: make(map[string][]distribution)}
	for _, d := range dists {
		n := python.Normalize(d.project)
		u.projects[n] = append(u.projects[n], d)
	}
	u.srv = httptest.NewServer(u)
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstreamIndex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "simple":
		u.pages.Add(1)
		if u.down.Load() {
			http.Error(w, "index down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if parts[1] != python.Normalize(parts[1]) {
			http.Redirect(w, r, "/simple/"+python.Normalize(parts[1])+"/", http.StatusMovedPermanently)
			return
		}
		u.mu.Lock()
		dists := u.projects[parts[1]]
		u.mu.Unlock()
		if dists == nil {
			http.NotFound(w, r)
			return
		}
		if !u.htmlOnly && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
			u.serveJSON(w, parts[1], dists)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><meta name=\"pypi:repository-version\" content=\"1.0\"></head><body><h1>Links for %s</h1>\n", parts[1])
		for _, d := range dists {
			attrs := ""
			if d.requiresPython != "" {
				attrs += fmt.Sprintf(` data-requires-python="%s"`, strings.ReplaceAll(d.requiresPython, ">", "&gt;"))
			}
			if strings.HasSuffix(d.name, ".whl") {
				ms := sha256.Sum256(d.metadata)
				attrs += fmt.Sprintf(` data-dist-info-metadata="sha256=%x"`, ms)
			}
			fmt.Fprintf(w, "<a href=\"%s/files/%s#sha256=%s\"%s>%s</a><br/>\n", u.srv.URL, d.name, d.sha256(), attrs, d.name)
		}
		fmt.Fprint(w, "</body></html>")
	case len(parts) == 2 && parts[0] == "files":
		name, metadata := strings.CutSuffix(parts[1], ".metadata")
		for _, d := range u.all() {
			if d.name != name {
				continue
			}
			if metadata {
				_, _ = w.Write(d.metadata)
				return
			}
			u.files.Add(1)
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(d.data)
			return
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (u *upstreamIndex) serveJSON(w http.ResponseWriter, name string, dists []distribution) {
	type file struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython string            `json:"requires-python,omitempty"`
		Metadata       any               `json:"dist-info-metadata,omitempty"`
		Size           int               `json:"size"`
	}
	doc := struct {
		Meta     map[string]string `json:"meta"`
		Name     string            `json:"name"`
		Versions []string          `json:"versions"`
		Files    []file            `json:"files"`
	}{Meta: map[string]string{"api-version": "1.1"}, Name: name}
	for _, d := range dists {
		// Relative URLs, which Portico must resolve against the page.
		f := file{Filename: d.name, URL: "../../files/" + d.name, Hashes: map[string]string{"sha256": d.sha256()}, RequiresPython: d.requiresPython, Size: len(d.data)}
		if strings.HasSuffix(d.name, ".whl") {
			ms := sha256.Sum256(d.metadata)
			f.Metadata = map[string]string{"sha256": hex.EncodeToString(ms[:])}
		}
		doc.Files = append(doc.Files, f)
		if !slices.Contains(doc.Versions, d.version) {
			doc.Versions = append(doc.Versions, d.version)
		}
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (u *upstreamIndex) all() []distribution {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []distribution
	for _, ds := range u.projects {
		out = append(out, ds...)
	}
	return out
}

// recorder collects the events the router emits.
type recorder struct{ eventtest.Recorder }

func (r *recorder) all() []event.Event { return r.All() }
func (r *recorder) reset()             { r.Reset() }

// downloads counts the download events of a project: GETs of a
// distribution file.
func (r *recorder) downloads(project string) int {
	return r.Count(func(e event.Event) bool {
		return e.Kind == event.KindPython && e.Python.Object == "file" && e.Method == http.MethodGet && python.Normalize(e.Python.Project) == python.Normalize(project)
	})
}

// portico serves a manifest through the router in process, recording
// events. Its domain is 127.0.0.1, which is what clients send as Host.
type portico struct {
	srv    *httptest.Server
	rec    *recorder
	cache  *doccache.Cache
	opts   python.Options
	router *route.Router
}

func startPortico(t testing.TB, manifestJSON string) *portico {
	t.Helper()
	return startPorticoWith(t, manifestJSON, pythontest.Options(t))
}

// startPorticoWith is startPortico with the repository options given.
func startPorticoWith(t testing.TB, manifestJSON string, opts python.Options) *portico {
	t.Helper()
	p := &portico{rec: &recorder{}, cache: opts.Cache, opts: opts}
	trusted, _ := clientip.ParseTrusted("")
	p.router = route.NewRouter(p.compile(t, manifestJSON), trusted, p.rec, nil)
	p.srv = httptest.NewServer(p.router)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *portico) compile(t testing.TB, manifestJSON string) *route.Table {
	t.Helper()
	m, err := manifest.Decode("manifest.json", []byte(manifestJSON))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	table, err := route.Compile(m, route.Options{Python: p.opts})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// python3 returns the interpreter for venvs, or skips.
func venv(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	py := findPython(t)
	dir := t.TempDir()
	out, err := exec.Command(py, "-m", "venv", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	return filepath.Join(dir, "bin", "python")
}

func findPython(t *testing.T) string {
	py := testenvLookPath(t, "python3")
	if err := exec.Command(py, "-c", "import venv, ensurepip").Run(); err != nil {
		testenvMissing(t, "python3", "python3 without venv/ensurepip (Debian: apt-get install python3-venv)")
	}
	return py
}

// pip runs pip of a venv with a clean configuration and no cache.
func pip(t *testing.T, py string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(py, append([]string{"-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir", "--timeout", "15", "--retries", "0"}, args...)...)
	cmd.Env = append(cleanEnv(), "HOME="+home, "PIP_CONFIG_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cleanEnv is the environment without settings that would send clients
// elsewhere (proxies, index URLs).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PIP_"), strings.HasPrefix(k, "UV_"), strings.HasPrefix(k, "POETRY_"),
			strings.HasSuffix(strings.ToUpper(k), "_PROXY"), k == "HOME", k == "VIRTUAL_ENV", k == "PYTHONPATH":
			continue
		}
		env = append(env, kv)
	}
	return env
}
