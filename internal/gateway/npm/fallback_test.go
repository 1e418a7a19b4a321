package npm_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portico/internal/blobcache"
	"portico/internal/clientip"
	"portico/internal/doccache"
	"portico/internal/gateway/npm"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/testenv"
	"portico/internal/upstream"
	"portico/internal/upstream/upstreamtest"
)

// startFallbackPortico serves manifestJSON with a health keeper on the
// transport its packument cache and tarball client share, recording the
// transport's dials.
func startFallbackPortico(t *testing.T, manifestJSON string) (*portico, *upstream.Health, *upstreamtest.Dials) {
	t.Helper()
	return startFallbackCachePortico(t, manifestJSON, nil)
}

// startFallbackCachePortico is startFallbackPortico with the proxy cache
// blobs, when not nil.
func startFallbackCachePortico(t *testing.T, manifestJSON string, blobs *blobcache.Cache) (*portico, *upstream.Health, *upstreamtest.Dials) {
	t.Helper()
	m, err := manifest.Decode("manifest.json", []byte(manifestJSON))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{})
	health := upstream.NewHealth(transport, upstream.HealthOptions{Threshold: 2, Interval: -1, Timeout: time.Second})
	client := upstream.NewClient(transport)
	cache := doccache.New(doccache.Options{Client: client})
	t.Cleanup(cache.Close)
	opts := npm.Options{Cache: cache, Client: client, Logger: slog.New(slog.DiscardHandler), Health: health, Blobs: blobs}
	table, err := route.Compile(m, route.Options{NPM: opts})
	if err != nil {
		t.Fatal(err)
	}
	p := &portico{rec: &recorder{}, cache: cache}
	trusted, _ := clientip.ParseTrusted("")
	p.router = route.NewRouter(table, trusted, p.rec, nil)
	p.srv = httptest.NewServer(p.router)
	t.Cleanup(p.srv.Close)
	return p, health, dials
}

func fallbackManifest(primary, fallback, extra string) string {
	return fmt.Sprintf(`{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-all","registry":%q,"fallback":%q%s}]}`, primary, fallback, extra)
}

// TestFallbackInstall installs with npm while the rule's registry is
// stopped: packuments and tarballs come from the fallback registry, in
// redirect and proxy modes, and the installed files are the tarball's.
func TestFallbackInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: installs with real clients are not run with -short")
	}
	bin := testenv.LookPath(t, "npm")
	f := newNPMFixtures(t) // f.up is the fallback
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, mode := range []string{"redirect", "proxy", "cache"} {
		t.Run(mode, func(t *testing.T) {
			extra := ""
			var blobs *blobcache.Cache
			switch mode {
			case "proxy":
				extra = `,"always-proxy":true`
			case "cache":
				extra = `,"mode":"cache"`
				blobs = openBlobs(t)
			}
			p, _, dials := startFallbackCachePortico(t, fallbackManifest(dead.URL+"/", f.up.srv.URL+"/", extra), blobs)
			dir := project(t)
			mustRun(t, dir, bin, "install", "--registry", p.srv.URL+"/", "--cache", filepath.Join(dir, ".cache"), "--no-audit", "--no-fund", "@acme/rocket-skates")
			checkInstalled(t, dir, f.rocket, f.wheelie)
			if n := p.rec.downloads("@acme/rocket-skates"); n != 1 {
				t.Fatalf("%d downloads of @acme/rocket-skates recorded, want 1", n)
			}
			dials.Check(t, hostOf(t, dead.URL), hostOf(t, f.up.srv.URL))
			if blobs != nil {
				waitObjects(t, blobs, 2)
			}
		})
	}
}

// waitObjects waits for c to hold n objects: a transfer keeps its
// object just after the client has had all of it.
func waitObjects(t *testing.T, c *blobcache.Cache, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, got := c.Size(); got != n; _, got = c.Size() {
		if time.Now().After(deadline) {
			t.Fatalf("the cache holds %d objects, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openBlobs(t *testing.T) *blobcache.Cache {
	t.Helper()
	c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestFallbackCachedTarball serves a tarball through the proxy cache
// while the rule's registry fails its tarballs: the miss is fetched from
// the fallback, verified against the integrity the registry's packument
// gave, kept, and the next request is a hit that asks neither registry.
func TestFallbackCachedTarball(t *testing.T) {
	primaryVersions := newNPMFixtures(t)
	fallback := newUpstreamRegistry(t, primaryVersions.rocket, primaryVersions.rocketOld, primaryVersions.wheelie)
	primary := primaryVersions.up
	for _, extra := range []string{`,"mode":"cache"`, `,"always-proxy":true,"cache":true`} {
		t.Run(extra[1:], func(t *testing.T) {
			blobs := openBlobs(t)
			p, _, _ := startFallbackCachePortico(t, fallbackManifest(primary.srv.URL+"/", fallback.srv.URL+"/", extra), blobs)
			base := p.srv.URL + "/@acme/rocket-skates"
			if resp, _ := fetch(t, http.MethodGet, base, "Accept", "application/vnd.npm.install-v1+json"); resp.StatusCode != http.StatusOK {
				t.Fatalf("packument: %d", resp.StatusCode)
			}
			tarball := base + "/-/" + primaryVersions.rocket.file()
			primary.tgzDown.Store(true)
			defer primary.tgzDown.Store(false)
			fromPrimary, fromFallback := primary.tarballs.Load(), fallback.tarballs.Load()
			for i := range 2 {
				resp, body := fetch(t, http.MethodGet, tarball)
				if resp.StatusCode != http.StatusOK || body != string(primaryVersions.rocket.tgz) {
					t.Fatalf("request %d: %d, %d bytes; want the tarball", i+1, resp.StatusCode, len(body))
				}
				waitObjects(t, blobs, 1)
			}
			if n := fallback.tarballs.Load() - fromFallback; n != 1 {
				t.Errorf("the fallback served %d tarballs, want 1 (the miss)", n)
			}
			if n := primary.tarballs.Load() - fromPrimary; n != 0 {
				t.Errorf("the failing registry served %d tarballs", n)
			}
		})
	}
}

// TestFallbackTarball proxies a tarball whose packument was read from the
// rule's registry, which then fails: the tarball comes from the
// fallback, at the same path, and once the registry is down its
// redirects point to the fallback too.
func TestFallbackTarball(t *testing.T) {
	primaryVersions := newNPMFixtures(t)
	fallback := newUpstreamRegistry(t, primaryVersions.rocket, primaryVersions.rocketOld, primaryVersions.wheelie)
	primary := primaryVersions.up
	for _, mode := range []string{"proxy", "redirect"} {
		t.Run(mode, func(t *testing.T) {
			extra := ""
			if mode == "proxy" {
				extra = `,"always-proxy":true`
			}
			p, health, _ := startFallbackPortico(t, fallbackManifest(primary.srv.URL+"/", fallback.srv.URL+"/", extra))
			base := p.srv.URL + "/@acme/rocket-skates"
			if resp, _ := fetch(t, http.MethodGet, base, "Accept", "application/vnd.npm.install-v1+json"); resp.StatusCode != http.StatusOK {
				t.Fatalf("packument: %d", resp.StatusCode)
			}
			tarball := base + "/-/" + primaryVersions.rocket.file()
			primary.down.Store(true)
			defer primary.down.Store(false)
			before := fallback.tarballs.Load()
			if mode == "proxy" {
				primary.tgzDown.Store(true)
				defer primary.tgzDown.Store(false)
				resp, body := fetch(t, http.MethodGet, tarball)
				if resp.StatusCode != http.StatusOK || body != string(primaryVersions.rocket.tgz) {
					t.Fatalf("proxied tarball: %d, %d bytes; want the tarball from the fallback", resp.StatusCode, len(body))
				}
				if fallback.tarballs.Load() != before+1 {
					t.Fatal("the fallback served no tarball")
				}
				return
			}
			resp, _ := fetch(t, http.MethodGet, tarball)
			if loc := resp.Header.Get("Location"); loc != primary.srv.URL+"/@acme/rocket-skates/-/"+primaryVersions.rocket.file() {
				t.Fatalf("redirect with the registry up: %q", loc)
			}
			// Mark it down as failed requests or probes would.
			for range 2 {
				healthFail(t, health, primary.srv.URL)
			}
			resp, _ = fetch(t, http.MethodGet, tarball)
			if loc := resp.Header.Get("Location"); loc != fallback.srv.URL+"/@acme/rocket-skates/-/"+primaryVersions.rocket.file() {
				t.Fatalf("redirect with the registry down: %q, want the fallback", loc)
			}
		})
	}
}

// healthFail records a failure of the backend at rawURL.
func healthFail(t *testing.T, h *upstream.Health, rawURL string) {
	t.Helper()
	s, err := h.Watch(rawURL, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	s.Failure()
}

func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	o, err := upstream.ParseOrigin(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return o.HostPort()
}

// TestFallbackHostile serves a rule whose registry is stopped and whose
// fallback is hostile: its packument names a tarball on another host,
// and its tarballs redirect to plain http elsewhere. Neither host gets a
// connection, and the client gets a 502.
func TestFallbackHostile(t *testing.T) {
	elsewhere := listenCounted(t, false, func(w http.ResponseWriter, r *http.Request) {})
	var hostile *counted
	hostile = listenCounted(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/-/evil-1.0.0.tgz"):
			http.Redirect(w, r, elsewhere.URL+"/stolen.tgz", http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/evil"):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"name":"evil","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"evil","version":"1.0.0","dist":{"tarball":%q}},"2.0.0":{"name":"evil","version":"2.0.0","dist":{"tarball":%q}}}}`,
				hostile.URL+"/evil/-/evil-1.0.0.tgz", elsewhere.URL+"/evil/-/evil-2.0.0.tgz")
		default:
			http.NotFound(w, r)
		}
	})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	p, _, dials := startFallbackPortico(t, fallbackManifest(dead.URL+"/", hostile.URL+"/", `,"always-proxy":true`))
	if resp, _ := fetch(t, http.MethodGet, p.srv.URL+"/evil"); resp.StatusCode != http.StatusOK {
		t.Fatalf("packument from the fallback: %d", resp.StatusCode)
	}
	for _, file := range []string{"evil-1.0.0.tgz", "evil-2.0.0.tgz"} {
		if resp, body := fetch(t, http.MethodGet, p.srv.URL+"/evil/-/"+file); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: %d %s, want 502", file, resp.StatusCode, body)
		} else if !strings.Contains(body, "refused") {
			t.Errorf("%s: 502 %s, want the refusal named", file, body)
		}
	}
	if n := elsewhere.conns.Load(); n != 0 {
		t.Fatalf("the host the fallback pointed to got %d connections", n)
	}
	dials.Check(t, hostOf(t, dead.URL), hostOf(t, hostile.URL))
}
