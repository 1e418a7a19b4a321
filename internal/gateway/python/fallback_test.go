package python_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"portico/internal/blobcache"
	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/gateway/python"
	"portico/internal/upstream"
	"portico/internal/upstream/upstreamtest"
)

// fallbackOptions are python.Options with a health keeper on the
// transport the page cache fetches through, whose dials are recorded.
func fallbackOptions(t *testing.T) (python.Options, *upstream.Health, *upstreamtest.Dials) {
	t.Helper()
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{})
	health := upstream.NewHealth(transport, upstream.HealthOptions{Threshold: 2, Interval: -1, Timeout: time.Second})
	cache := doccache.New(doccache.Options{Client: upstream.NewClient(transport)})
	t.Cleanup(cache.Close)
	return python.Options{Cache: cache, Health: health, Client: upstream.NewClient(transport)}, health, dials
}

// TestPipFallbackCache installs with pip through a rule in cache mode
// while its index is stopped: the project page comes from the fallback
// index, the files it lists are fetched from the fallback's origin into
// the cache, verified against the page's hashes, and a second install
// reads them from the cache.
func TestPipFallbackCache(t *testing.T) {
	py1, py2 := venv(t), venv(t)
	f := newFixtures(t) // f.up is the fallback
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts, _, dials := fallbackOptions(t)
	opts.Blobs = c
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","index-url":%q,"fallback":%q,"mode":"cache"}]}`,
		dead.URL+"/simple/", f.up.srv.URL+"/simple/"), opts)
	for i, py := range []string{py1, py2} {
		mustPip(t, py, "install", "--index-url", p.srv.URL+"/simple/", "rocket-skates")
		checkImport(t, py, "rocket 1.0")
		if n := f.up.files.Load(); n != 2 {
			t.Errorf("after %d installs the fallback served %d files, want 2 (rocket-skates and wheelie, once each)", i+1, n)
		}
	}
	for _, e := range p.rec.all() {
		if e.Python.Object == "file" && (e.Outcome != event.OutcomeProxy || e.Status != http.StatusOK) {
			t.Errorf("file event: outcome %s, status %d", e.Outcome, e.Status)
		}
	}
	if n := p.rec.downloads("rocket-skates"); n != 2 {
		t.Errorf("%d download events, want 2", n)
	}
	dials.Check(t, hostPort(t, dead.URL), hostPort(t, f.up.srv.URL))
}

// TestPipFallbackIndex installs with pip while the rule's index is
// stopped, and while it answers 503: the project pages come from the
// fallback index, and the installed files are the packaged ones.
func TestPipFallbackIndex(t *testing.T) {
	py := venv(t)
	f := newFixtures(t) // f.up is the fallback
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	failing := newFixtures(t).up
	failing.down.Store(true)
	for _, c := range []struct{ name, primary string }{
		{"stopped", dead.URL},
		{"503", failing.srv.URL},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts, _, dials := fallbackOptions(t)
			p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","index-url":%q,"fallback":%q}]}`,
				c.primary+"/simple/", f.up.srv.URL+"/simple/"), opts)
			mustPip(t, py, "install", "--force-reinstall", "--index-url", p.srv.URL+"/simple/", "rocket-skates")
			checkImport(t, py, "rocket 1.0")
			if n := p.rec.downloads("rocket-skates"); n != 1 {
				t.Fatalf("%d download events, want 1", n)
			}
			dials.Check(t, hostPort(t, c.primary), hostPort(t, f.up.srv.URL))
		})
	}
}

// TestFallbackIndexHealth checks that once the index is down, pages are
// asked of the fallback first: the failing index is not asked again.
func TestFallbackIndexHealth(t *testing.T) {
	f := newFixtures(t)
	failing := newFixtures(t).up
	failing.down.Store(true)
	opts, health, _ := fallbackOptions(t)
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","index-url":%q,"fallback":%q,"cache-ttl":"0s"}]}`,
		failing.srv.URL+"/simple/", f.up.srv.URL+"/simple/"), opts)
	for i := range 4 {
		resp, err := http.Get(p.srv.URL + "/simple/rocket-skates/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: status %d, want 200 from the fallback", i, resp.StatusCode)
		}
	}
	if n := failing.pages.Load(); n != 2 {
		t.Fatalf("the failing index was asked %d times, want 2 (then it is down)", n)
	}
	failing.down.Store(false)
	health.ProbeAll(t.Context())
	before := failing.pages.Load()
	resp, err := http.Get(p.srv.URL + "/simple/rocket-skates/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if failing.pages.Load() != before+1 {
		t.Fatal("the index was not asked again after a probe found it working")
	}
}

func hostPort(t *testing.T, rawURL string) string {
	t.Helper()
	o, err := upstream.ParseOrigin(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return o.HostPort()
}

// TestFallbackIndexHostile serves a rule whose index is stopped and
// whose fallback redirects its project pages to another host: the
// redirect is not followed, that host gets no connection, and the client
// gets a 502.
func TestFallbackIndexHostile(t *testing.T) {
	var elsewhereConns atomic.Int64
	elsewhere := httptest.NewUnstartedServer(http.NotFoundHandler())
	elsewhere.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			elsewhereConns.Add(1)
		}
	}
	elsewhere.Start()
	defer elsewhere.Close()
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer hostile.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	opts, _, dials := fallbackOptions(t)
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","index-url":%q,"fallback":%q}]}`,
		dead.URL+"/simple/", hostile.URL+"/simple/"), opts)
	resp, err := http.Get(p.srv.URL + "/simple/rocket-skates/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if n := elsewhereConns.Load(); n != 0 {
		t.Fatalf("the host the fallback redirected to got %d connections", n)
	}
	dials.Check(t, hostPort(t, dead.URL), hostPort(t, hostile.URL))
}
