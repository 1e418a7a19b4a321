package docker_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/gateway/docker"
	"portico/internal/reload"
	"portico/internal/route"
	"portico/internal/upstream"
)

// ociError decodes an OCI error body and returns its first code.
func ociError(t testing.TB, body io.Reader) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.NewDecoder(body).Decode(&e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %v", err)
	}
	return e.Errors[0].Code
}

func get(t testing.TB, method, url string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("User-Agent", "crio")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestUpstreamFailures: a registry that is down, slow or failing gives
// the client an OCI error with the right status and an error event.
func TestUpstreamFailures(t *testing.T) {
	needHosts(t)
	// A port nobody listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://reg.test:" + strings.Split(l.Addr().String(), ":")[1]
	l.Close()

	release := make(chan struct{})
	defer close(release)
	_, slow := listen(t, "reg.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	_, failing := listen(t, "reg.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))

	// Each registry on its own gateway (one registry per domain keeps
	// the pass-through mode), with short waits so that the slow registry
	// times out quickly.
	opts := newOptions(t)
	opts.Docker.Proxy = docker.NewProxy(upstream.NewTransport(upstream.Options{HeaderTimeout: 300 * time.Millisecond}), nil, 0)
	gateways := map[string]*gateway{}
	for img, reg := range map[string]string{"a/down": down, "a/slow": "http://" + slow, "a/failing": "http://" + failing} {
		g := &gateway{events: &recorder{}, opts: opts}
		g.router = route.NewRouter(compile(t, manifestOf(v1Rule(img, reg, "")), opts), testTrusted, g.events, nil)
		_, g.Addr = listen(t, "gw.test", g.router)
		gateways[img] = g
	}

	for _, tc := range []struct {
		image  string
		status int
		code   string
	}{
		{"a/down", 502, "UNAVAILABLE"},
		{"a/slow", 504, "UNAVAILABLE"},
		{"a/failing", 500, ""},
	} {
		g := gateways[tc.image]
		resp := get(t, "GET", "http://"+g.Addr+"/v2/"+tc.image+"/manifests/1")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.image, resp.StatusCode, tc.status)
		}
		if tc.code != "" {
			if c := ociError(t, resp.Body); c != tc.code {
				t.Errorf("%s: error code %s, want %s", tc.image, c, tc.code)
			}
		}
		ev := g.events.all()
		if len(ev) != 1 || ev[0].Outcome != event.OutcomeError || ev[0].Status != tc.status || ev[0].Docker.Pull {
			t.Errorf("%s: events %+v, want one error event with status %d and no pull", tc.image, ev, tc.status)
		}
	}
}

// TestMethodsAndPush: write methods are refused with 405 and an OCI error
// unless the rule allows pushes; then a real push through the gateway
// works.
func TestMethodsAndPush(t *testing.T) {
	reg := newRegistry(t, regOpts{})
	g := startGateway(t, manifestOf(
		v1Rule("acme/ro", "http://"+reg.Addr, ""),
		v1Rule("acme/rw", "http://"+reg.Addr, `"push":true`)))
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		resp := get(t, m, "http://"+g.Addr+"/v2/acme/ro/blobs/uploads/")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || ociError(t, resp.Body) != "UNSUPPORTED" {
			t.Errorf("%s: status %d Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if len(reg.Requests()) != 0 {
		t.Errorf("refused writes reached the registry: %+v", reg.Requests())
	}
	img := randomImage(t, 8192, 2)
	ref := mustRef(t, g.Addr+"/acme/rw:pushed")
	if err := remote.Write(ref, img, remote.WithUserAgent("crio")); err != nil {
		t.Fatalf("push through the gateway: %v", err)
	}
	got, err := pullImage(t, reg.Addr+"/acme/rw:pushed", reg.seedOpts()...)
	if err != nil || got != digestOf(t, img) {
		t.Fatalf("pushed image on the registry: %v %v", got, err)
	}
	var viaGateway int
	for _, r := range reg.Requests() {
		if r.Method == "PUT" || r.Method == "PATCH" || r.Method == "POST" {
			viaGateway++
		}
	}
	if viaGateway == 0 {
		t.Error("the registry saw no write requests")
	}
}

// TestProxyHeaders: Range requests, hop-by-hop headers, the allowlist of
// forwarded headers, no client address upstream, and blob redirects to
// another host passed back to the client.
func TestProxyHeaders(t *testing.T) {
	needHosts(t)
	var gotXFF, gotConn, gotCustom, gotRange atomic.Value
	other := listenCounted(t, "reg2.test", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("moved"))
	})
	_, reg := listen(t, "reg.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/moved/") {
			http.Redirect(w, r, "http://"+other.Addr+"/v2/x/blobs/sha256:1", http.StatusTemporaryRedirect)
			return
		}
		gotXFF.Store(r.Header.Get("X-Forwarded-For"))
		gotConn.Store(r.Header.Get("Keep-Alive") + r.Header.Get("X-Hop"))
		gotCustom.Store(r.Header.Get("X-Custom"))
		gotRange.Store(r.Header.Get("Range"))
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "1")
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		w.Header().Set("Etag", `"sha256:abc"`)
		http.ServeContent(w, r, "blob", time.Time{}, strings.NewReader("0123456789"))
	}))
	g := startGateway(t, manifestOf(v1Rule("x", "http://"+reg, ""), v1Rule("x/moved", "http://"+reg, "")))
	resp := get(t, "GET", "http://"+g.Addr+"/v2/x/blobs/sha256:abc", "Range", "bytes=2-5", "X-Forwarded-For", "203.0.113.9", "Connection", "X-Hop", "X-Hop", "1", "X-Custom", "dropped")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(body) != "2345" || resp.Header.Get("Content-Range") != "bytes 2-5/10" || resp.Header.Get("Content-Length") != "4" {
		t.Errorf("range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	if resp.Header.Get("Docker-Content-Digest") != "sha256:abc" || resp.Header.Get("Etag") != `"sha256:abc"` || resp.Header.Get("X-Secret-Hop") != "" {
		t.Errorf("response headers: %v", resp.Header)
	}
	// The test client is on loopback, a trusted proxy by default: even
	// the chain it vouches for stays here, and so does the peer.
	if gotXFF.Load() != "" || gotConn.Load() != "" || gotCustom.Load() != "" || gotRange.Load() != "bytes=2-5" {
		t.Errorf("forwarded: XFF %q hop %q custom %q range %q", gotXFF.Load(), gotConn.Load(), gotCustom.Load(), gotRange.Load())
	}
	// From an untrusted peer, likewise.
	opts := newOptions(t)
	none, _ := clientip.ParseTrusted("")
	g2 := &gateway{events: &recorder{}, opts: opts}
	g2.router = route.NewRouter(compile(t, manifestOf(v1Rule("x", "http://"+reg, "")), opts), none, g2.events, nil)
	_, g2.Addr = listen(t, "gw.test", g2.router)
	get(t, "GET", "http://"+g2.Addr+"/v2/x/blobs/sha256:abc", "X-Forwarded-For", "203.0.113.9")
	if gotXFF.Load() != "" {
		t.Errorf("untrusted peer: XFF %q, want none", gotXFF.Load())
	}

	// A blob redirect to storage on another host goes back to the
	// client, which fetches it without the gateway.
	resp = get(t, "GET", "http://"+g.Addr+"/v2/x/moved/blobs/sha256:1", "Authorization", "Bearer secret", "Cookie", "c=1")
	if want := "http://" + other.Addr + "/v2/x/blobs/sha256:1"; resp.StatusCode != 307 || resp.Header.Get("Location") != want {
		t.Fatalf("blob redirect: %d %q, want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the gateway connected to the storage host %d times", n)
	}
}

// TestStreamLargeBlob pulls an image with a layer of more than 100 MiB
// through the proxy and checks its digest.
func TestStreamLargeBlob(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 100 MiB")
	}
	reg := newRegistry(t, regOpts{auth: true})
	img := randomImage(t, 100<<20+1, 1)
	reg.pushImage(t, "acme/big", "1", img)
	g := startGateway(t, manifestOf(v1Rule("acme/big", "http://"+reg.Addr, `"mode":"proxy"`)))
	got, err := pullImage(t, g.Addr+"/acme/big:1")
	if err != nil {
		t.Fatal(err)
	}
	if got != digestOf(t, img) {
		t.Fatalf("digest %s", got)
	}
	var blobs int
	for _, e := range g.events.all() {
		if e.Docker.Object == "blob" && e.Outcome == event.OutcomeProxy && e.Status == 200 {
			blobs++
		}
	}
	if blobs < 2 {
		t.Errorf("%d proxied blob events, want config and layer", blobs)
	}
}

// TestBackendSwitchUnderPulls pulls in a loop while the manifest's
// registry is switched back and forth by live reload: no pull may fail,
// and both registries must serve pulls.
func TestBackendSwitchUnderPulls(t *testing.T) {
	a := newRegistry(t, regOpts{auth: true})
	b := newRegistry(t, regOpts{host: "reg2.test", auth: true, authHost: "auth.test"})
	img := randomImage(t, 4096, 2)
	a.pushImage(t, "acme/app", "1", img)
	b.pushImage(t, "acme/app", "1", img)
	want := digestOf(t, img)

	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	write := func(reg string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(manifestOf(v1Rule("acme/app", "http://"+reg, ""))), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(a.Addr)
	opts := newOptions(t)
	events := &recorder{}
	loader := reload.New(path, opts, nil, nil)
	rt, err := loader.Load(func(tab *route.Table) *route.Router { return route.NewRouter(tab, testTrusted, events, nil) })
	if err != nil {
		t.Fatal(err)
	}
	_, addr := listen(t, "gw.test", rt)

	var stop atomic.Bool
	var pulls, failures atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			got, err := pullImage(t, addr+"/acme/app:1")
			pulls.Add(1)
			if err != nil || got != want {
				failures.Add(1)
				t.Errorf("pull %d failed: %v %v", pulls.Load(), got, err)
			}
		}
	}()
	regs := []*testRegistry{b, a}
	for i := range 6 {
		r := regs[i%2]
		r.reset()
		write(r.Addr)
		if _, err := loader.Reload(true); err != nil {
			t.Fatal(err)
		}
		// Pulls move to the new registry at once: wait until it has
		// served a manifest.
		waitFor(t, "pulls on "+r.Addr, func() bool {
			for _, s := range r.Requests() {
				if strings.Contains(s.Path, "/manifests/") && s.Auth != "" {
					return true
				}
			}
			return false
		})
	}
	stop.Store(true)
	<-done
	if failures.Load() != 0 || pulls.Load() < 6 {
		t.Fatalf("%d of %d pulls failed", failures.Load(), pulls.Load())
	}
	t.Logf("%d pulls across 6 switches, none failed", pulls.Load())
}
