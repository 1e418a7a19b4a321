package python_test

import (
	"fmt"
	"net/http"
	"testing"

	"portico/internal/blobcache"
	"portico/internal/event"
	"portico/internal/gateway/python/pythontest"
	"portico/internal/upstream"
)

// TestPipCache installs twice with pip, in two fresh environments,
// through a rule in cache mode: the upstream serves each file once, the
// second install reads them from the cache, verified against the index's
// hashes, and each install is one download event.
func TestPipCache(t *testing.T) {
	py1, py2 := venv(t), venv(t)
	f := newFixtures(t)
	c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts := pythontest.Options(t)
	opts.Blobs = c
	opts.Client = upstream.NewClient(upstream.NewTransport(upstream.Options{}))
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","index-url":%q,"mode":"cache"}]}`, f.up.srv.URL+"/simple/"), opts)
	index := p.srv.URL + "/simple/"

	for i, py := range []string{py1, py2} {
		mustPip(t, py, "install", "--index-url", index, "rocket-skates")
		checkImport(t, py, "rocket 1.0")
		if n := p.rec.downloads("rocket-skates"); n != i+1 {
			t.Fatalf("after %d installs: %d download events", i+1, n)
		}
		if n := f.up.files.Load(); n != 2 {
			t.Errorf("after %d installs the upstream served %d files, want 2 (rocket-skates and wheelie, once each)", i+1, n)
		}
	}
	if _, n := c.Size(); n != 2 {
		t.Errorf("the cache holds %d objects, want 2", n)
	}
	for _, e := range p.rec.all() {
		if e.Python.Object == "file" && (e.Outcome != event.OutcomeProxy || e.Status != http.StatusOK) {
			t.Errorf("file event: outcome %s, status %d", e.Outcome, e.Status)
		}
	}
}
