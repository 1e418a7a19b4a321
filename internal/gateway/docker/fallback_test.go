package docker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"portico/internal/blobcache"
	"portico/internal/event"
	"portico/internal/gateway/docker"
	"portico/internal/gateway/docker/dockertest"
	"portico/internal/testenv"
	"portico/internal/upstream"
	"portico/internal/upstream/upstreamtest"
)

// fallbackGateway serves js with a health keeper that marks a registry
// down after two failures, probes only when the test asks, and gives a
// primary timeout to answer with its headers.
func fallbackGateway(t *testing.T, js string, timeout time.Duration) (*gateway, *upstream.Health, *upstreamtest.Dials) {
	t.Helper()
	opts := newOptions(t)
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{AllowPrivate: true})
	health := upstream.NewHealth(transport, upstream.HealthOptions{Threshold: 2, Interval: -1, Timeout: timeout})
	opts.Docker.Proxy = docker.NewProxy(transport, nil, 0)
	opts.Docker.Health = health
	return startGatewayWith(t, js, opts), health, dials
}

// deadAddr returns a reg.test address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return "reg.test:" + port
}

// resetAddr returns a reg.test address that accepts connections and
// resets them at once.
func resetAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "reg.test:" + port
}

// TestFallbackPull pulls through a proxy rule whose registry fails in
// each way a registry fails (stopped, 503, hanging, resetting): the pull
// is served by the fallback registry, byte for byte, and the pull event
// names the fallback as its backend.
func TestFallbackPull(t *testing.T) {
	img := randomImage(t, 4096, 2)
	want := digestOf(t, img)
	fallback := newRegistry(t, regOpts{host: "reg2.test"})
	fallback.pushImage(t, "acme/app", "1.0", img)

	failing := newRegistry(t, regOpts{})
	failing.pushImage(t, "acme/app", "1.0", img)
	hanging := newRegistry(t, regOpts{})
	hanging.pushImage(t, "acme/app", "1.0", img)
	unavailable := func(*http.Request) int { return http.StatusServiceUnavailable }
	failing.setFail(unavailable)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	hanging.setFail(func(r *http.Request) int {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return http.StatusServiceUnavailable
	})

	for _, tc := range []struct{ name, primary string }{
		{"stopped", deadAddr(t)},
		{"503", failing.Addr},
		{"hangs", hanging.Addr},
		{"resets", resetAddr(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := manifestOf(v1Rule("acme/app", "http://"+tc.primary, `"mode":"proxy","fallback":"http://`+fallback.Addr+`"`))
			g, _, dials := fallbackGateway(t, js, 300*time.Millisecond)
			got, err := pullImage(t, g.Addr+"/acme/app:1.0")
			if err != nil {
				t.Fatalf("pull with the primary %s: %v", tc.name, err)
			}
			if got != want {
				t.Fatalf("pulled %s, want %s", got, want)
			}
			pulls := g.events.pulls()
			if len(pulls) != 1 {
				t.Fatalf("%d pulls recorded, want 1:%s", len(pulls), describe(g.events.all()))
			}
			for _, e := range g.events.all() {
				if e.Outcome != event.OutcomeProxy || e.Docker.Backend != fallback.Addr {
					t.Errorf("event %s %s: outcome %s, backend %q; want proxy from %s", e.Method, e.Path, e.Outcome, e.Docker.Backend, fallback.Addr)
				}
			}
			dials.Check(t, loopback(tc.primary), loopback(fallback.Addr))
		})
	}
}

// TestFallbackCrane pulls with crane while the primary is stopped.
func TestFallbackCrane(t *testing.T) {
	bin := testenv.LookPath(t, "crane")
	img := randomImage(t, 4096, 2)
	fallback := newRegistry(t, regOpts{host: "reg2.test"})
	fallback.pushImage(t, "acme/app", "1.0", img)
	js := manifestOf(v1Rule("acme/app", "http://"+deadAddr(t), `"mode":"proxy","fallback":"http://`+fallback.Addr+`"`))
	g, _, _ := fallbackGateway(t, js, time.Second)
	dir := t.TempDir()
	if _, err := dockertest.Run(t, 2*time.Minute, bin, "pull", "--insecure", "--format", "oci", g.Addr+"/acme/app:1.0", dir); err != nil {
		t.Fatalf("crane pull: %v", err)
	}
	got, err := ociLayoutDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := digestOf(t, img).String(); got != want {
		t.Fatalf("crane pulled %s, want %s", got, want)
	}
	if p := g.events.pulls(); len(p) != 1 || p[0].Docker.Backend != fallback.Addr {
		t.Fatalf("pulls %s, want one from %s", describe(p), fallback.Addr)
	}
}

// TestFallbackRedirectFollowsHealth checks a redirect rule: redirects go
// to the primary while it is up, to the fallback once it failed enough
// probes, and back to the primary when a probe finds it working again;
// the events name the registry redirected to.
func TestFallbackRedirectFollowsHealth(t *testing.T) {
	img := randomImage(t, 1024, 1)
	primary := newRegistry(t, regOpts{})
	fallback := newRegistry(t, regOpts{host: "reg2.test"})
	primary.pushImage(t, "acme/app", "1.0", img)
	fallback.pushImage(t, "acme/app", "1.0", img)
	js := manifestOf(v1Rule("acme/app", "http://"+primary.Addr, `"mode":"redirect","fallback":"http://`+fallback.Addr+`"`))
	g, health, _ := fallbackGateway(t, js, time.Second)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	location := func() string {
		t.Helper()
		resp, err := c.Get("http://" + g.Addr + "/v2/acme/app/manifests/1.0")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("status %d, want 307", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	wantPrimary := "http://" + primary.Addr + "/v2/acme/app/manifests/1.0"
	wantFallback := "http://" + fallback.Addr + "/v2/acme/app/manifests/1.0"
	if got := location(); got != wantPrimary {
		t.Fatalf("healthy primary: Location %q, want %q", got, wantPrimary)
	}
	primary.setFail(func(*http.Request) int { return http.StatusBadGateway })
	health.ProbeAll(context.Background())
	if got := location(); got != wantPrimary {
		t.Fatalf("after one failed probe: Location %q, want the primary still", got)
	}
	health.ProbeAll(context.Background())
	if got := location(); got != wantFallback {
		t.Fatalf("after two failed probes: Location %q, want %q", got, wantFallback)
	}
	// The client pulls from the fallback through the redirect.
	if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != digestOf(t, img) {
		t.Fatalf("pull through the fallback redirect: %v, %v", got, err)
	}
	primary.setFail(nil)
	health.ProbeAll(context.Background())
	if got := location(); got != wantPrimary {
		t.Fatalf("after the primary recovered: Location %q, want %q", got, wantPrimary)
	}
	var backends []string
	for _, e := range g.events.all() {
		if e.Docker.Object == "manifest" {
			backends = append(backends, e.Docker.Backend)
		}
	}
	want := []string{primary.Addr, primary.Addr, fallback.Addr, fallback.Addr, primary.Addr}
	if strings.Join(backends, " ") != strings.Join(want, " ") {
		t.Fatalf("manifest events' backends %v, want %v", backends, want)
	}
}

// TestFallbackPassiveHealth checks that failed proxied requests mark the
// primary down, after which requests go to the fallback first without
// waiting on the primary, and that pushes and other writes never go to
// the fallback.
func TestFallbackPassiveHealth(t *testing.T) {
	img := randomImage(t, 1024, 1)
	primary := newRegistry(t, regOpts{})
	fallback := newRegistry(t, regOpts{host: "reg2.test"})
	fallback.pushImage(t, "acme/app", "1.0", img)
	primary.setFail(func(*http.Request) int { return http.StatusServiceUnavailable })
	js := manifestOf(v1Rule("acme/app", "http://"+primary.Addr, `"mode":"proxy","fallback":"http://`+fallback.Addr+`"`))
	g, _, _ := fallbackGateway(t, js, time.Second)
	manifestURL := "http://" + g.Addr + "/v2/acme/app/manifests/1.0"
	for i := range 4 {
		resp, err := http.Head(manifestURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD %d: status %d, want 200 from the fallback", i, resp.StatusCode)
		}
	}
	heads := 0
	for _, s := range primary.Requests() {
		if s.Method == http.MethodHead {
			heads++
		}
	}
	if heads != 2 {
		t.Fatalf("the primary got %d HEAD requests, want 2: it is down after two failures", heads)
	}
}

// TestFallbackHostile checks that a fallback registry is held to the
// same outbound policy as a primary: its redirects to other hosts are
// refused (no connection is opened to them), and it never gets the
// client's own credentials.
func TestFallbackHostile(t *testing.T) {
	elsewhere := listenCounted(t, "auth.test", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, "{}")
	})
	hostile := listenCounted(t, "reg2.test", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+elsewhere.Addr+r.URL.Path, http.StatusFound)
	})
	primary := deadAddr(t)
	js := manifestOf(v1Rule("acme/app", "http://"+primary, `"mode":"proxy","fallback":"http://`+hostile.Addr+`"`))
	g, _, dials := fallbackGateway(t, js, time.Second)
	req, _ := http.NewRequest(http.MethodGet, "http://"+g.Addr+"/v2/acme/app/manifests/1.0", nil)
	req.Header.Set("Authorization", "Bearer client-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502 for a fallback redirecting elsewhere", resp.StatusCode)
	}
	if n := len(elsewhere.headers()); n != 0 {
		t.Fatalf("the host the fallback redirected to got %d requests", n)
	}
	for _, h := range hostile.headers() {
		if h.Get("Authorization") != "" {
			t.Fatalf("the fallback got the client's Authorization %q", h.Get("Authorization"))
		}
	}
	dials.Check(t, loopback(primary), loopback(hostile.Addr))
}

// setFail makes the registry answer what f says (0: serve as usual).
func (tr *testRegistry) setFail(f func(*http.Request) int) {
	tr.mu.Lock()
	tr.fail = f
	tr.mu.Unlock()
}

// TestFallbackCachePull pulls through a cache rule whose registry is
// stopped or fails: every object missing from the cache comes from the
// fallback registry, verified and kept, and the next pull asks neither
// registry for a blob.
func TestFallbackCachePull(t *testing.T) {
	img := randomImage(t, 4096, 2)
	want := digestOf(t, img)
	fallback := newRegistry(t, regOpts{host: "reg2.test"})
	fallback.pushImage(t, "acme/app", "1.0", img)
	failing := newRegistry(t, regOpts{})
	failing.pushImage(t, "acme/app", "1.0", img)
	failing.setFail(func(*http.Request) int { return http.StatusServiceUnavailable })

	for _, tc := range []struct{ name, primary string }{
		{"stopped", deadAddr(t)},
		{"503", failing.Addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := blobcache.Open(blobcache.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			opts := newOptions(t)
			transport, dials := upstreamtest.NewTransport(t, upstream.Options{AllowPrivate: true})
			opts.Docker.Health = upstream.NewHealth(transport, upstream.HealthOptions{Threshold: 2, Interval: -1, Timeout: 300 * time.Millisecond})
			opts.Docker.Proxy = docker.NewProxy(transport, nil, 0)
			opts.Docker.Proxy.SetCache(c, time.Minute)
			js := manifestOf(v1Rule("acme/app", "http://"+tc.primary, `"mode":"cache","fallback":"http://`+fallback.Addr+`"`))
			g := startGatewayWith(t, js, opts)

			fallback.reset()
			if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != want {
				t.Fatalf("pull with the primary %s: %s, %v; want %s", tc.name, got, err, want)
			}
			// A request's event is recorded once its handler returns,
			// which can be after the client has read the whole body.
			waitFor(t, "an event for each of the 4 objects", func() bool {
				paths := map[string]bool{}
				for _, e := range g.events.all() {
					if e.Path != "/v2/" {
						paths[e.Path] = true
					}
				}
				return len(paths) == 4
			})
			// Each object is fetched once, by the request that missed
			// it, whose event names the registry that answered; a
			// second request for a blob is a hit.
			fetched := map[string]bool{}
			for _, e := range g.events.all() {
				if e.Path == "/v2/" {
					continue // Portico's own auth challenge
				}
				if e.Outcome != event.OutcomeProxy || e.Status != http.StatusOK {
					t.Errorf("event %s %s: %d %s", e.Method, e.Path, e.Status, e.Outcome)
				}
				if e.Docker.Backend == fallback.Addr {
					fetched[e.Path] = true
				}
			}
			if len(fetched) != 4 {
				t.Errorf("%d objects fetched from the fallback by their events, want 4 (manifest, config, 2 layers):%s", len(fetched), describe(g.events.all()))
			}
			if n := blobRequests(fallback); n != 3 {
				t.Errorf("the fallback got %d blob requests, want 3 (config and 2 layers)", n)
			}
			waitFor(t, "the objects to be kept", func() bool { _, n := c.Size(); return n == 4 })
			dials.Check(t, loopback(tc.primary), loopback(fallback.Addr))

			fallback.reset()
			if got, err := pullImage(t, g.Addr+"/acme/app:1.0"); err != nil || got != want {
				t.Fatalf("second pull: %s, %v", got, err)
			}
			if n := blobRequests(fallback); n != 0 {
				t.Errorf("second pull: the fallback got %d blob requests, want 0", n)
			}
			if p := g.events.pulls(); len(p) != 2 {
				t.Errorf("%d pulls recorded, want 2:%s", len(p), describe(p))
			}
		})
	}
}

// blobRequests counts the blob requests reg got since its last reset.
func blobRequests(reg *testRegistry) int {
	n := 0
	for _, r := range reg.Requests() {
		if strings.Contains(r.Path, "/blobs/") {
			n++
		}
	}
	return n
}
