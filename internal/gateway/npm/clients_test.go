package npm_test

import (
	"bytes"
	"encoding/json"
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

type npmFixtures struct {
	rocketOld, rocket, wheelie *pkgVersion
	up                         *upstreamRegistry
}

func newNPMFixtures(t *testing.T) *npmFixtures {
	f := &npmFixtures{
		rocketOld: buildPackage(t, "@acme/rocket-skates", "1.0.0", map[string]string{"wheelie": "^0.2.0"}),
		rocket:    buildPackage(t, "@acme/rocket-skates", "1.1.0", map[string]string{"wheelie": "^0.2.0"}),
		wheelie:   buildPackage(t, "wheelie", "0.2.0", nil),
	}
	f.up = newUpstreamRegistry(t, f.rocketOld, f.rocket, f.wheelie)
	return f
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func fetch(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// project makes an empty package that depends on nothing yet.
func project(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, dir, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(filepath.Join(dir, ".home"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

// checkInstalled compares the installed package's files with the
// tarball's and runs it, which requires its dependency.
func checkInstalled(t *testing.T, dir string, v *pkgVersion, wheelie *pkgVersion) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, "node_modules", "@acme", "rocket-skates", "index.js"))
	if err != nil || !bytes.Equal(got, []byte(v.index)) {
		t.Fatalf("installed index.js %q (%v), want the tarball's %q", got, err, v.index)
	}
	out, err := exec.Command("node", "-e", `console.log(require("@acme/rocket-skates"))`).CombinedOutput()
	cmd := exec.Command("node", "-e", `console.log(require("@acme/rocket-skates"))`)
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	if want := v.name + "@" + v.version + " with " + wheelie.name + "@" + wheelie.version + "\n"; err != nil || string(out) != want {
		t.Fatalf("node says %q (%v), want %q", out, err, want)
	}
}

func npmManifest(f *npmFixtures, extra string) string {
	return fmt.Sprintf(`{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"@acme/*","package-id":"pkg-acme","registry":%q%s}]}`, f.up.srv.URL+"/", extra)
}

// TestClientsInstall installs a scoped package with a dependency with
// npm, yarn and pnpm through one Portico: each install is one download
// of the package's tarball, and the dependency, which no rule serves,
// comes from the upstream registry.
func TestClientsInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	f := newNPMFixtures(t)
	p := startPortico(t, npmManifest(f, `,"cache-ttl":"1h"`))
	reg := p.srv.URL + "/"
	installs := 0
	clients := []struct {
		name string
		args func(dir string) []string
	}{
		{"npm", func(dir string) []string {
			return []string{"install", "--registry", reg, "--cache", filepath.Join(dir, ".cache"), "--no-audit", "--no-fund", "@acme/rocket-skates"}
		}},
		{"yarn", func(dir string) []string {
			return []string{"add", "@acme/rocket-skates", "--registry", reg, "--cache-folder", filepath.Join(dir, ".cache"), "--non-interactive", "--no-progress"}
		}},
		{"pnpm", func(dir string) []string {
			return []string{"add", "@acme/rocket-skates", "--registry=" + reg, "--store-dir=" + filepath.Join(dir, ".store"), "--cache-dir=" + filepath.Join(dir, ".cache")}
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			bin := testenv.LookPath(t, c.name)
			dir := project(t)
			mustRun(t, dir, bin, c.args(dir)...)
			installs++
			checkInstalled(t, dir, f.rocket, f.wheelie)
			if n := p.rec.downloads("@acme/rocket-skates"); n != installs {
				t.Fatalf("after %d installs: %d download events, want %d", installs, n, installs)
			}
			if c.name == "npm" {
				lock, _ := os.ReadFile(filepath.Join(dir, "package-lock.json"))
				var l struct {
					Packages map[string]struct{ Resolved, Integrity string } `json:"packages"`
				}
				_ = json.Unmarshal(lock, &l)
				got := l.Packages["node_modules/@acme/rocket-skates"]
				if got.Integrity != f.rocket.integrity() || !strings.HasPrefix(got.Resolved, reg+"@acme/rocket-skates/-/") {
					t.Errorf("package-lock: %+v; want integrity %s and a tarball on Portico", got, f.rocket.integrity())
				}
			}
		})
	}
	if installs == 0 {
		return
	}
	var fallback bool
	for _, e := range p.rec.all() {
		if e.NPM.Package == "wheelie" && e.Outcome == event.OutcomeRedirect && e.PackageID == "" {
			fallback = true
		}
		if e.NPM.Object == "tarball" && (e.NPM.Version != "1.1.0" || e.PackageID != "pkg-acme" || e.Status != 307) {
			t.Errorf("tarball event %+v status %d", e.NPM, e.Status)
		}
	}
	if !fallback {
		t.Error("no redirect event for wheelie, which only the upstream registry serves")
	}
	if n := f.up.docs.Load(); n > 2 {
		t.Errorf("upstream served %d packuments of @acme/rocket-skates within the TTL; want at most one per document kind", n)
	}

	// npm view, HEAD on a tarball and packument views are not downloads.
	if bin, err := exec.LookPath("npm"); err == nil {
		dir := project(t)
		out := mustRun(t, dir, bin, "view", "@acme/rocket-skates", "dist.tarball", "--registry", reg, "--cache", filepath.Join(dir, ".cache"))
		if want := reg + "@acme/rocket-skates/-/rocket-skates-1.1.0.tgz"; strings.TrimSpace(out) != want {
			t.Errorf("npm view dist.tarball = %q, want %q", out, want)
		}
	}
	fetch(t, "HEAD", reg+"@acme/rocket-skates/-/rocket-skates-1.1.0.tgz")
	fetch(t, "GET", reg+"@acme%2frocket-skates", "Accept", "application/vnd.npm.install-v1+json")
	if n := p.rec.downloads("@acme/rocket-skates"); n != installs {
		t.Errorf("npm view, HEAD and a packument view changed the download count to %d, want %d", n, installs)
	}
}

// TestPublish: refused with a clear message unless the rule allows it,
// then forwarded with the client's token.
func TestPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	bin := testenv.LookPath(t, "npm")
	f := newNPMFixtures(t)
	for _, allow := range []bool{false, true} {
		extra := ""
		if allow {
			extra = `,"allow-publish":true`
		}
		p := startPortico(t, npmManifest(f, extra))
		dir := t.TempDir()
		host := strings.TrimPrefix(p.srv.URL, "http://")
		files := map[string]string{
			"package.json": `{"name":"@acme/new-thing","version":"0.0.1","main":"index.js"}`,
			"index.js":     "module.exports = 1;\n",
			".npmrc":       "registry=" + p.srv.URL + "/\n//" + host + "/:_authToken=secret-token\n",
		}
		for n, c := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := run(t, dir, bin, "publish", "--cache", filepath.Join(dir, ".cache"))
		if !allow {
			if err == nil || !strings.Contains(out, "405") || !strings.Contains(out, "not allowed") {
				t.Errorf("publish without allow-publish: err %v\n%s\nwant a 405 saying it is not allowed", err, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("publish with allow-publish: %v\n%s", err, out)
		}
		if len(f.up.published) != 1 || f.up.published[0] != "@acme/new-thing" || f.up.auth[0] != "Bearer secret-token" {
			t.Errorf("upstream saw publishes %v with %v", f.up.published, f.up.auth)
		}
	}
}

// TestStaleAndCold: once the upstream fails, installs go on from the
// cached packument; a package never fetched gets a clear error.
func TestStaleAndCold(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	bin := testenv.LookPath(t, "npm")
	f := newNPMFixtures(t)
	f.up.packages["@acme/never-fetched"] = []*pkgVersion{buildPackage(t, "@acme/never-fetched", "1.0.0", nil)}
	// Both packages through Portico, so that both are cached.
	p := startPortico(t, fmt.Sprintf(`{"rules":[
		{"type":"npm-v1","domain":"127.0.0.1","package-name":"@acme/*","package-id":"pkg-acme","registry":%[1]q,"cache-ttl":"0s"},
		{"type":"npm-v1","domain":"127.0.0.1","package-name":"wheelie","package-id":"pkg-wheelie","registry":%[1]q,"cache-ttl":"0s"}]}`, f.up.srv.URL))
	reg := p.srv.URL + "/"
	install := func(pkg string) (string, error) {
		dir := project(t)
		return run(t, dir, bin, "install", "--registry", reg, "--cache", filepath.Join(dir, ".cache"), "--no-audit", "--no-fund", "--fetch-retries", "0", pkg)
	}
	if out, err := install("@acme/rocket-skates"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f.up.down.Store(true)
	// npm asked for the full document (Accept: application/json).
	resp, _ := fetch(t, "GET", reg+"@acme%2frocket-skates")
	if resp.StatusCode != 200 || resp.Header.Get("X-Portico-Cache") != "stale" {
		t.Fatalf("upstream down: %d %q, want 200 from the stale copy (%v)", resp.StatusCode, resp.Header.Get("X-Portico-Cache"), resp.Header)
	}
	if out, err := install("@acme/rocket-skates"); err != nil {
		t.Fatalf("install with the upstream's documents down: %v\n%s", err, out)
	}
	if n := p.rec.downloads("@acme/rocket-skates"); n != 2 {
		t.Errorf("%d downloads, want 2", n)
	}
	resp, body := fetch(t, "GET", reg+"@acme%2fnever-fetched")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "no copy is cached") {
		t.Fatalf("cold cache, upstream down: %d %s", resp.StatusCode, body)
	}
	out, err := install("@acme/never-fetched")
	if err == nil || !strings.Contains(out, "502") {
		t.Fatalf("npm install with a cold cache: err %v\n%s\nwant a failure naming 502", err, out)
	}
}
