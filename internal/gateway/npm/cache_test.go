package npm_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"portico/internal/blobcache"
	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/gateway/npm/npmtest"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/testenv"
)

// TestCacheInstall installs twice with npm through a rule in cache
// mode: the upstream serves each tarball once, the second install reads
// them from the cache, verified against their integrity, and each
// install is still one download event.
func TestCacheInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	bin := testenv.LookPath(t, "npm")
	f := newNPMFixtures(t)
	c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	js := fmt.Sprintf(`{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","registry":%q,"mode":"cache"}]}`, f.up.srv.URL+"/")
	m, err := manifest.Decode("manifest.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	opts := npmtest.Options(t)
	opts.Blobs = c
	table, err := route.Compile(m, route.Options{NPM: opts})
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := clientip.ParseTrusted("")
	rec := &recorder{}
	srv := httptest.NewServer(route.NewRouter(table, trusted, rec, nil))
	t.Cleanup(srv.Close)
	reg := srv.URL + "/"

	for i := 1; i <= 2; i++ {
		dir := project(t)
		mustRun(t, dir, bin, "install", "--registry", reg, "--cache", filepath.Join(dir, ".cache"), "--no-audit", "--no-fund", "@acme/rocket-skates")
		checkInstalled(t, dir, f.rocket, f.wheelie)
		if n := rec.downloads("@acme/rocket-skates"); n != i {
			t.Fatalf("after %d installs: %d download events", i, n)
		}
		if n := f.up.tarballs.Load(); n != 2 {
			t.Errorf("after %d installs the upstream served %d tarballs, want 2 (one per package)", i, n)
		}
	}
	if _, n := c.Size(); n != 2 {
		t.Errorf("the cache holds %d objects, want 2", n)
	}
	for _, e := range rec.all() {
		if e.NPM.Object == "tarball" && (e.Outcome != event.OutcomeProxy || e.Status != 200) {
			t.Errorf("tarball event: outcome %s, status %d", e.Outcome, e.Status)
		}
	}
}
