package python_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"portico/internal/event"
	"portico/internal/testenv"
)

var (
	testenvLookPath = testenv.LookPath
	testenvMissing  = testenv.Missing
)

// The test projects: rocket-skates (written Rocket_Skates in its
// metadata, to exercise normalization) depends on wheelie, which only
// the upstream index has.
var (
	rocketSpec = pkgSpec{project: "Rocket_Skates", version: "1.0", module: "rocket_skates",
		source: "VALUE = \"rocket 1.0\"\n", requires: []string{"wheelie>=0.1"}, python: ">=3.8"}
	rocketOldSpec = pkgSpec{project: "Rocket_Skates", version: "0.9", module: "rocket_skates",
		source: "VALUE = \"rocket 0.9\"\n", requires: []string{"wheelie>=0.1"}, python: ">=3.8"}
	wheelieSpec = pkgSpec{project: "wheelie", version: "0.2", module: "wheelie", source: "SPIN = 2\n"}
)

type fixtures struct {
	rocket, rocketOld, rocketSdist, wheelie distribution
	up                                      *upstreamIndex
}

func newFixtures(t testing.TB) *fixtures {
	f := &fixtures{
		rocket: buildWheel(t, rocketSpec), rocketOld: buildWheel(t, rocketOldSpec),
		rocketSdist: buildSdist(t, rocketSpec), wheelie: buildWheel(t, wheelieSpec),
	}
	f.up = newUpstreamIndex(t, f.rocketOld, f.rocket, f.rocketSdist, f.wheelie)
	return f
}

// checkImport runs the installed modules and compares what they say
// with the sources that were packaged.
func checkImport(t *testing.T, py, wantValue string) {
	t.Helper()
	out, err := exec.Command(py, "-c", "import rocket_skates, wheelie; print(rocket_skates.VALUE, wheelie.SPIN); print(open(rocket_skates.__file__).read(), end='')").CombinedOutput()
	if err != nil {
		t.Fatalf("import after install: %v\n%s", err, out)
	}
	want := wantValue + " 2\n" + "VALUE = \"" + wantValue + "\"\n"
	if string(out) != want {
		t.Fatalf("installed modules say %q, want %q", out, want)
	}
}

func mustPip(t *testing.T, py string, args ...string) string {
	t.Helper()
	out, err := pip(t, py, args...)
	if err != nil {
		t.Fatalf("pip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestPipPackageLevelRule installs through a python-index-v1 rule: the
// project comes from the upstream index through Portico's rewritten page,
// its dependency through the redirect to the upstream index.
func TestPipPackageLevelRule(t *testing.T) {
	py := venv(t)
	f := newFixtures(t)
	p := startPortico(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket-skates","package-id":"pkg-rs","index-url":%q,"cache-ttl":"1h"}]}`, f.up.srv.URL+"/simple/"))
	index := p.srv.URL + "/simple/"

	// 1. pip install, with the dependency resolved through the fallback.
	mustPip(t, py, "install", "--index-url", index, "rocket-skates")
	checkImport(t, py, "rocket 1.0")
	if n := p.rec.downloads("rocket-skates"); n != 1 {
		t.Fatalf("after one install: %d download events, want 1", n)
	}
	var sawMetadata, sawFallback bool
	for _, e := range p.rec.all() {
		switch {
		case e.Python.Object == "file":
			if e.PackageID != "pkg-rs" || e.Python.Version != "1.0" || e.Python.FileName != f.rocket.name || e.Status != 307 {
				t.Errorf("download event %+v", e.Python)
			}
		case e.Python.Object == "metadata":
			sawMetadata = true
		case e.Python.Object == "project" && e.Python.Project == "wheelie":
			sawFallback = e.Outcome == event.OutcomeRedirect && e.PackageID == ""
		}
	}
	if !sawMetadata {
		t.Error("pip did not fetch the core metadata (PEP 658) through Portico")
	}
	if !sawFallback {
		t.Error("no redirect event for wheelie, which only the upstream index has")
	}

	// 2. pip download: the file is byte for byte the upstream's.
	dir := t.TempDir()
	mustPip(t, py, "download", "--index-url", index, "--no-deps", "-d", dir, "rocket-skates")
	got, err := os.ReadFile(filepath.Join(dir, f.rocket.name))
	if err != nil || !bytes.Equal(got, f.rocket.data) {
		t.Fatalf("downloaded wheel differs from the upstream's (%v)", err)
	}

	// 3. Installing from the sdist builds it with its own backend.
	mustPip(t, py, "install", "--force-reinstall", "--no-deps", "--no-binary", "rocket-skates", "--index-url", index, "rocket-skates==1.0")
	checkImport(t, py, "rocket 1.0")
	sdistDownloads := 0
	for _, e := range p.rec.all() {
		if e.Python.Object == "file" && e.Python.FileName == f.rocketSdist.name {
			sdistDownloads++
		}
	}
	if sdistDownloads != 1 {
		t.Errorf("%d downloads of the sdist, want 1", sdistDownloads)
	}

	// 4. An older version on request.
	mustPip(t, py, "install", "--force-reinstall", "--no-deps", "--index-url", index, "rocket-skates==0.9")
	checkImport(t, py, "rocket 0.9")
	if n := p.rec.downloads("rocket-skates"); n != 4 {
		t.Fatalf("after install, download, sdist install and 0.9 install: %d download events, want 4", n)
	}

	// 5. Index views and HEAD are not downloads.
	for _, r := range []struct{ method, path, accept string }{
		{"GET", "/simple/", ""},
		{"GET", "/simple/rocket-skates/", "application/vnd.pypi.simple.v1+json"},
		{"GET", "/simple/rocket-skates/", ""},
		{"HEAD", "/simple/rocket-skates/" + f.rocket.name, ""},
	} {
		req, _ := http.NewRequest(r.method, p.srv.URL+r.path, nil)
		if r.accept != "" {
			req.Header.Set("Accept", r.accept)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 307 {
			t.Errorf("%s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}
	if n := p.rec.downloads("rocket-skates"); n != 4 {
		t.Errorf("index views and a HEAD changed the download count to %d, want 4", n)
	}
	if pages := f.up.pages.Load(); pages > 3 {
		t.Errorf("the upstream served %d project pages within the cache TTL; want one per project (plus pip's own for wheelie)", pages)
	}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestPipScarfRules installs through Scarf-style python-v1 rules, one per
// file, with the dependency resolved through backend-simple-index-url.
func TestPipScarfRules(t *testing.T) {
	py := venv(t)
	f := newFixtures(t)
	var rules []string
	for _, d := range []distribution{f.rocket, f.rocketOld, f.rocketSdist} {
		rules = append(rules, fmt.Sprintf(`{"type":"python-v1","domain":"127.0.0.1","package-name":"Rocket_Skates","file-name":%q,"version":%q,
			"backend-url":%q,"package-id":"pkg-rs","hash-value":{"type":"sha256","hash":%q},"requires-python":">=3.8",
			"backend-simple-index-url":%q}`, d.name, d.version, f.up.srv.URL+"/files/"+d.name, d.sha256(), f.up.srv.URL+"/simple/"))
	}
	p := startPortico(t, `{"rules":[`+strings.Join(rules, ",")+`]}`)

	mustPip(t, py, "install", "--index-url", p.srv.URL+"/simple/", "Rocket.Skates")
	checkImport(t, py, "rocket 1.0")
	dir := t.TempDir()
	mustPip(t, py, "download", "--index-url", p.srv.URL+"/simple/", "--no-deps", "-d", dir, "rocket_skates==0.9")
	got, err := os.ReadFile(filepath.Join(dir, f.rocketOld.name))
	if err != nil || !bytes.Equal(got, f.rocketOld.data) {
		t.Fatalf("downloaded wheel differs (%v)", err)
	}
	if n := p.rec.downloads("rocket-skates"); n != 2 {
		t.Fatalf("%d download events, want 2", n)
	}
	for _, e := range p.rec.all() {
		if e.Python.Object == "file" && (e.Python.Version != "1.0" && e.Python.Version != "0.9" || e.PackageID != "pkg-rs") {
			t.Errorf("download event %+v", e.Python)
		}
	}
}

// TestPipStaleAndCold: once the upstream index fails, installs go on
// from the cached page; a project never fetched gets a clear 502.
func TestPipStaleAndCold(t *testing.T) {
	py := venv(t)
	f := newFixtures(t)
	// cache-ttl 0: every page view revalidates, so the failure is seen
	// at once.
	p := startPortico(t, fmt.Sprintf(`{"rules":[
		{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket-skates","package-id":"pkg-rs","index-url":%[1]q,"cache-ttl":"0s"},
		{"type":"python-index-v1","domain":"127.0.0.1","package-name":"wheelie","package-id":"pkg-w","index-url":%[1]q,"cache-ttl":"0s"}]}`, f.up.srv.URL+"/simple/"))
	index := p.srv.URL + "/simple/"
	mustPip(t, py, "install", "--index-url", index, "--no-deps", "rocket-skates")

	f.up.down.Store(true)
	resp, err := http.Get(p.srv.URL + "/simple/rocket-skates/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Portico-Cache") != "stale" {
		t.Fatalf("upstream down, page cached: status %d, X-Portico-Cache %q; want 200 stale", resp.StatusCode, resp.Header.Get("X-Portico-Cache"))
	}
	py2 := venv(t)
	mustPip(t, py2, "install", "--index-url", index, "--no-deps", "rocket-skates")
	if n := p.rec.downloads("rocket-skates"); n != 2 {
		t.Errorf("%d downloads, want 2", n)
	}

	// wheelie was never fetched: a clear error, and pip fails.
	resp, err = http.Get(p.srv.URL + "/simple/wheelie/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "no copy is cached") || !strings.Contains(string(body), "503") {
		t.Fatalf("cold cache, upstream down: %d %q; want 502 saying so", resp.StatusCode, body)
	}
	out, err := pip(t, py2, "install", "-vv", "--index-url", index, "--no-deps", "wheelie")
	if err == nil || !strings.Contains(out, "502") {
		t.Fatalf("pip install with a cold cache and the upstream down: err %v, output:\n%s\nwant a failure naming the 502", err, out)
	}
}

// TestPoetry locks and installs a project whose dependency comes
// through Portico, with Debian's poetry.
func TestPoetry(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	poetry := testenv.LookPath(t, "poetry")
	f := newFixtures(t)
	p := startPortico(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket-skates","package-id":"pkg-rs","index-url":%q}]}`, f.up.srv.URL+"/simple/"))
	dir := t.TempDir()
	pyproject := fmt.Sprintf(`[tool.poetry]
name = "consumer"
version = "0.1.0"
description = "uses rocket-skates"
authors = ["Test <test@example.com>"]

[tool.poetry.dependencies]
python = "^3.8"
rocket-skates = "1.0"

[[tool.poetry.source]]
name = "portico"
url = "%s/simple/"
default = true

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
`, p.srv.URL)
	if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(pyproject), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(poetry, args...)
		cmd.Dir = dir
		cmd.Env = append(cleanEnv(), "HOME="+home, "POETRY_VIRTUALENVS_IN_PROJECT=true", "POETRY_CACHE_DIR="+filepath.Join(home, "cache"),
			"POETRY_NO_INTERACTION=1", "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("poetry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("lock")
	run("install", "--no-root")
	checkImport(t, filepath.Join(dir, ".venv", "bin", "python"), "rocket 1.0")
	if n := p.rec.downloads("rocket-skates"); n < 1 {
		t.Fatalf("%d download events after poetry install, want at least 1", n)
	}
	lock, _ := os.ReadFile(filepath.Join(dir, "poetry.lock"))
	if !strings.Contains(string(lock), f.rocket.sha256()) {
		t.Errorf("poetry.lock does not record the wheel's sha256 %s", f.rocket.sha256())
	}
}

// TestUV installs with uv, where the machine has it (neither Debian nor
// npm packages it).
func TestUV(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	uv := testenv.LookPathOptional(t, "uv", "uv is not packaged by Debian bookworm or npm; install it from its own releases")
	py := venv(t)
	f := newFixtures(t)
	p := startPortico(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"rocket-skates","package-id":"pkg-rs","index-url":%q}]}`, f.up.srv.URL+"/simple/"))
	cmd := exec.Command(uv, "pip", "install", "--python", py, "--index-url", p.srv.URL+"/simple/", "--no-cache", "rocket-skates")
	cmd.Env = append(cleanEnv(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("uv pip install: %v\n%s", err, out)
	}
	checkImport(t, py, "rocket 1.0")
	if n := p.rec.downloads("rocket-skates"); n != 1 {
		t.Fatalf("%d download events, want 1", n)
	}
}
