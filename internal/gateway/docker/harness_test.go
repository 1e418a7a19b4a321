package docker_test

// The test harness: real registries (go-containerregistry's registry,
// optionally behind a bearer-token service written here), Portico's real
// router on a real listener, and an event recorder. Hosts are addressed by
// test names (gw.test, reg.test, auth.test …) that must resolve to
// 127.0.0.1, because registry clients refuse token realms on private IP
// literals.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/event/eventtest"
	"portico/internal/gateway/docker"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
	"portico/internal/testenv"
	"portico/internal/upstream"
)

// testHosts are the names the tests use; each must resolve to 127.0.0.1.
var testHosts = []string{"gw.test", "gw2.test", "reg.test", "reg2.test", "auth.test"}

// needHosts stops the test unless every test host name resolves to
// 127.0.0.1.
func needHosts(t testing.TB) {
	t.Helper()
	for _, h := range testHosts {
		addrs, err := net.DefaultResolver.LookupHost(context.Background(), h)
		if err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
			testenv.Missing(t, "test-hosts", "add \"127.0.0.1 "+strings.Join(testHosts, " ")+"\" to /etc/hosts")
		}
	}
}

// listen starts h on 127.0.0.1 and returns the server and its address
// as host:port under the name host.
func listen(t testing.TB, host string, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return srv, net.JoinHostPort(host, port)
}

// seen is one request a test registry received.
type seen struct {
	Method, Path, Host string
	Auth               string // the Authorization header
}

// testRegistry is a real registry, optionally requiring bearer tokens
// from its own token service.
type testRegistry struct {
	Addr     string // host:port as clients address it
	AuthAddr string // the token service, when auth is on
	srv      *httptest.Server
	secret   []byte
	private  map[string]string // repository → "user:password" needed
	mu       sync.Mutex
	log      []seen
	fail     func(r *http.Request) int // status to fail with, 0 for none
	// serve, when set, answers a request itself when it returns true.
	serve func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool
}

// seedToken authorizes anything: the tests use it to push images.
const seedToken = "seed-token"

type regOpts struct {
	host     string // default reg.test
	auth     bool
	private  map[string]string
	authHost string // default auth.test
}

func newRegistry(t testing.TB, o regOpts) *testRegistry {
	t.Helper()
	needHosts(t)
	if o.host == "" {
		o.host = "reg.test"
	}
	if o.authHost == "" {
		o.authHost = "auth.test"
	}
	tr := &testRegistry{secret: []byte("registry-secret-" + t.Name()), private: o.private}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.log = append(tr.log, seen{Method: r.Method, Path: r.URL.Path, Host: r.Host, Auth: r.Header.Get("Authorization")})
		fail, serve := tr.fail, tr.serve
		tr.mu.Unlock()
		if fail != nil {
			if code := fail(r); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		if o.auth && !tr.authorized(r) {
			w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="%s"`, tr.AuthAddr, o.host))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		if serve != nil && serve(w, r, inner) {
			return
		}
		inner.ServeHTTP(w, r)
	})
	tr.srv, tr.Addr = listen(t, o.host, h)
	if o.auth {
		_, tr.AuthAddr = listen(t, o.authHost, http.HandlerFunc(tr.serveToken))
	}
	return tr
}

// Requests returns what the registry has received so far.
func (tr *testRegistry) Requests() []seen {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]seen(nil), tr.log...)
}

func (tr *testRegistry) reset() {
	tr.mu.Lock()
	tr.log = nil
	tr.mu.Unlock()
}

// serveToken grants pull on each requested repository, for private ones
// only with their Basic credentials. The token is "repo,repo|mac".
func (tr *testRegistry) serveToken(w http.ResponseWriter, r *http.Request) {
	var repos []string
	for _, s := range r.URL.Query()["scope"] {
		for item := range strings.FieldsSeq(s) {
			parts := strings.Split(item, ":")
			if len(parts) != 3 || parts[0] != "repository" {
				continue
			}
			if need, ok := tr.private[parts[1]]; ok {
				u, p, _ := r.BasicAuth()
				if u+":"+p != need {
					http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
					return
				}
			}
			repos = append(repos, parts[1])
		}
	}
	body := strings.Join(repos, ",")
	tok := base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + tr.mac(body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300})
}

func (tr *testRegistry) mac(body string) string {
	m := hmac.New(sha256.New, tr.secret)
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// authorized checks the bearer token against the repository in the path.
func (tr *testRegistry) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	if tok == seedToken {
		return true
	}
	b64, mac, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || !hmac.Equal([]byte(mac), []byte(tr.mac(string(raw)))) {
		return false
	}
	if r.URL.Path == "/v2/" {
		return true
	}
	for _, repo := range strings.Split(string(raw), ",") {
		if repo != "" && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/") {
			return true
		}
	}
	return false
}

// seedOpts are the options that write straight to a test registry.
func (tr *testRegistry) seedOpts() []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Bearer{Token: seedToken})}
}

// pushImage writes img to the registry as repo:tag.
func (tr *testRegistry) pushImage(t testing.TB, repo, tag string, img v1.Image) {
	t.Helper()
	ref, err := name.NewTag(tr.Addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, tr.seedOpts()...); err != nil {
		t.Fatalf("seeding %s: %v", ref, err)
	}
}

func (tr *testRegistry) pushIndex(t testing.TB, repo, tag string, idx v1.ImageIndex) {
	t.Helper()
	ref, err := name.NewTag(tr.Addr+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, tr.seedOpts()...); err != nil {
		t.Fatalf("seeding %s: %v", ref, err)
	}
}

// randomImage returns a single-platform image with layers of size bytes.
func randomImage(t testing.TB, size int64, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// multiArch returns an index of two platform images.
func multiArch(t testing.TB) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img := randomImage(t, 1024, 2)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf.OS, cf.Architecture = "linux", arch
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"), adds...)
	return idx
}

// recorder collects the events the router emits.
type recorder struct{ eventtest.Recorder }

func (r *recorder) all() []event.Event { return r.All() }
func (r *recorder) reset()             { r.Reset() }

// pulls returns the events with pull set.
func (r *recorder) pulls() []event.Event {
	return r.Filter(func(e event.Event) bool { return e.Docker.Pull })
}

// gateway is Portico's router serving a manifest on a real listener.
type gateway struct {
	Addr   string // gw.test:PORT
	router *route.Router
	events *recorder
	opts   route.Options
	srv    *httptest.Server
}

// newOptions are created once per test, as serve does once per process.
func newOptions(t testing.TB) route.Options {
	t.Helper()
	opts := routetest.Options(t)
	// The token services of these registries are on other loopback
	// ports (auth.test): a gateway that fetches upstream tokens may
	// reach them only with private upstreams allowed.
	opts.Docker.Proxy = docker.NewProxy(upstream.NewTransport(upstream.Options{AllowPrivate: true}), nil, 0)
	return opts
}

// testTrusted are the proxies the test routers believe: serve's default.
var testTrusted = func() *clientip.Trusted {
	trusted, err := clientip.ParseTrusted(clientip.DefaultTrusted)
	if err != nil {
		panic(err)
	}
	return trusted
}()

// compile compiles manifest JSON with opts.
func compile(t testing.TB, js string, opts route.Options) *route.Table {
	t.Helper()
	m, err := manifest.Decode("test.json", []byte(js))
	if err != nil {
		t.Fatalf("manifest: %v\n%s", err, js)
	}
	tab, err := route.Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// startGateway serves the manifest built by mk from the gateway's own
// address (rules name their domain "gw.test").
func startGateway(t testing.TB, js string) *gateway {
	t.Helper()
	return startGatewayWith(t, js, newOptions(t))
}

// startGatewayWith is startGateway with opts.
func startGatewayWith(t testing.TB, js string, opts route.Options) *gateway {
	t.Helper()
	needHosts(t)
	g := &gateway{events: &recorder{}, opts: opts}
	tab := compile(t, js, g.opts)
	g.router = route.NewRouter(tab, testTrusted, g.events, nil)
	g.srv, g.Addr = listen(t, "gw.test", g.router)
	return g
}

// swap replaces the gateway's manifest, as a reload does.
func (g *gateway) swap(t testing.TB, js string) {
	g.router.Swap(compile(t, js, g.opts))
}

// rule returns a docker-v1 rule as JSON.
func v1Rule(image, registry string, extra string) string {
	s := fmt.Sprintf(`{"type":"docker-v1","domain":"gw.test","repository-name":%q,"registry":%q,"package-id":"pkg-%s"`, image, registry, strings.ReplaceAll(image, "/", "-"))
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func manifestOf(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

// tempFile writes data to a new file in the test's temp dir.
func tempFile(t testing.TB, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// routeRouter returns a router over tab that discards events.
func routeRouter(tab *route.Table) *route.Router {
	return route.NewRouter(tab, testTrusted, &recorder{}, nil)
}
