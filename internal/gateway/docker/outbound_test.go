package docker_test

// Hostile registries: a backend that redirects the proxy elsewhere, names
// a token service on a private address, or fishes for client headers.
// The gateway's transport records every connection it opens or tries
// to (upstreamtest), so a test fails on any connection outside the
// rule's allowed set, wherever it goes; the servers here also count the
// connections they accept.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"portico/internal/event"
	"portico/internal/gateway/docker"
	"portico/internal/route"
	"portico/internal/testenv"
	"portico/internal/upstream"
	"portico/internal/upstream/upstreamtest"
)

// clientAddr is the client's address as a trusted proxy in front of the
// gateway reports it: it must never reach a backend or a log line.
const clientAddr = "203.0.113.77"

// counted is a server that records every connection and request.
type counted struct {
	Addr  string // host:port under the test name
	Port  string
	conns atomic.Int64
	mu    sync.Mutex
	seen  []http.Header
	paths []string
}

func listenCounted(t testing.TB, host string, h http.HandlerFunc) *counted {
	t.Helper()
	c := &counted{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen = append(c.seen, r.Header.Clone())
		c.paths = append(c.paths, r.URL.Path)
		c.mu.Unlock()
		h(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, c.Port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	c.Addr = net.JoinHostPort(host, c.Port)
	return c
}

func (c *counted) headers() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]http.Header(nil), c.seen...)
}

// strictGateway serves js with the production default: no private
// upstreams beyond the rules' own backends. Its proxy logs to the
// returned buffer, and its transport's dials are recorded.
func strictGateway(t testing.TB, js string) (*gateway, *testenv.Buffer, *upstreamtest.Dials) {
	t.Helper()
	needHosts(t)
	logs := &testenv.Buffer{}
	g := &gateway{events: &recorder{}, opts: newOptions(t)}
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{})
	g.opts.Docker.Proxy = docker.NewProxy(transport, slog.New(slog.NewTextHandler(logs, nil)), 0)
	g.router = route.NewRouter(compile(t, js, g.opts), testTrusted, g.events, nil)
	g.srv, g.Addr = listen(t, "gw.test", g.router)
	return g, logs, dials
}

// openGateway serves js as the other tests do, with private upstreams
// allowed, recording its transport's dials.
func openGateway(t testing.TB, js string) (*gateway, *upstreamtest.Dials) {
	t.Helper()
	opts := newOptions(t)
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{AllowPrivate: true})
	opts.Docker.Proxy = docker.NewProxy(transport, nil, 0)
	return startGatewayWith(t, js, opts), dials
}

// loopback returns the address a test host name's host:port is dialed
// on: every test name resolves to 127.0.0.1.
func loopback(hostport string) string {
	_, port, _ := net.SplitHostPort(hostport)
	return "127.0.0.1:" + port
}

// ociMessage decodes an OCI error body: code and message.
func ociMessage(t testing.TB, body []byte) (code, msg string) {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q", body)
	}
	return e.Errors[0].Code, e.Errors[0].Message
}

// hostileHeaders are what a client (or a proxy in front of the gateway)
// may send that no other host may learn.
var hostileHeaders = []string{
	"X-Registry-Auth", "eyJ1c2VybmFtZSI6InZpY3RpbSJ9", "Cookie", "session=victim",
	"X-Forwarded-For", clientAddr, "X-Real-Ip", clientAddr, "Forwarded", "for=" + clientAddr,
	"True-Client-Ip", clientAddr, "Cf-Connecting-Ip", clientAddr, "X-Client-Ip", clientAddr,
}

// TestHostileRedirects: a docker-v1 rule in proxy mode whose registry
// redirects elsewhere. Within the registry's origin redirects are
// followed; blob redirects elsewhere go back to the client; any other
// redirect to another host, and any redirect with credentials or a
// scheme other than http(s), is refused with a 502 naming the target.
// The other host never sees a connection from the gateway.
func TestHostileRedirects(t *testing.T) {
	other := listenCounted(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/bounce") {
			// A chain that would come back to the registry.
			http.Redirect(w, r, "http://"+regAddr.Load().(string)+"/v2/x/manifests/back", http.StatusTemporaryRedirect)
			return
		}
		_, _ = io.WriteString(w, "stolen")
	})
	otherURL := "http://" + other.Addr
	locations := map[string][2]string{ // reference → status, Location
		"other307":   {"307", otherURL + "/v2/stolen/manifests/x"},
		"other302":   {"302", otherURL + "/v2/stolen/manifests/x"},
		"other301":   {"301", otherURL + "/v2/stolen/manifests/x"},
		"other308":   {"308", otherURL + "/v2/stolen/manifests/x"},
		"protorel":   {"307", "//" + other.Addr + "/v2/stolen/manifests/x"},
		"userinfo":   {"307", "http://user:pw@" + other.Addr + "/v2/stolen/manifests/x"},
		"selfuser":   {"307", "http://user:pw@" + "REG/v2/x/manifests/ok"},
		"file":       {"307", "file:///etc/passwd"},
		"gopher":     {"302", "gopher://" + other.Addr + "/_stolen"},
		"javascript": {"307", "javascript:alert(1)"},
		"metadata":   {"307", "http://169.254.169.254/latest/meta-data/iam/"},
		"chain":      {"307", "/v2/x/manifests/hop"},
		"hop":        {"307", otherURL + "/v2/bounce"},
		"samehost":   {"307", "/v2/x/manifests/ok"},
		"loop":       {"307", "/v2/x/manifests/loop"},
		"nolocation": {"307", ""},
		digestB:      {"307", otherURL + "/v2/x/blobs/" + digestB},
		digestC:      {"307", "javascript:alert(1)"},
		digestD:      {"307", "https://user:pw@storage.test/blob"},
	}
	var regSeen sync.Mutex
	var regHeaders []http.Header
	reg := listenCounted(t, "reg.test", func(w http.ResponseWriter, r *http.Request) {
		regSeen.Lock()
		regHeaders = append(regHeaders, r.Header.Clone())
		regSeen.Unlock()
		ref := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		if ref == "ok" || ref == "back" {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Set-Cookie", "registry=1")
			_, _ = io.WriteString(w, `{"schemaVersion":2}`)
			return
		}
		l, ok := locations[ref]
		if !ok {
			http.NotFound(w, r)
			return
		}
		code := map[string]int{"301": 301, "302": 302, "307": 307, "308": 308}[l[0]]
		if l[1] != "" {
			w.Header().Set("Location", strings.Replace(l[1], "REG", regAddr.Load().(string), 1))
		}
		w.WriteHeader(code)
	})
	regAddr.Store(reg.Addr)
	g, logs, dials := strictGateway(t, manifestOf(v1Rule("x", "http://"+reg.Addr, `"mode":"proxy"`)))

	for _, c := range []struct {
		ref    string
		status int
		// body is the answer's body (2xx) or the refused target the
		// error message must name (502).
		body     string
		location string // for redirects passed back
	}{
		{"other307", 502, other.Addr, ""},
		{"other302", 502, other.Addr, ""},
		{"other301", 502, other.Addr, ""},
		{"other308", 502, other.Addr, ""},
		{"protorel", 502, other.Addr, ""},
		{"userinfo", 502, "credentials", ""},
		{"selfuser", 502, "credentials", ""},
		{"file", 502, "file:///etc/passwd", ""},
		{"gopher", 502, "gopher", ""},
		{"javascript", 502, "javascript", ""},
		{"metadata", 502, "169.254.169.254", ""},
		{"chain", 502, other.Addr, ""},
		{"loop", 502, "too many redirects", ""},
		{"nolocation", 502, "without a Location", ""},
		{"samehost", 200, `{"schemaVersion":2}`, ""},
		// Blob downloads: storage elsewhere is the client's to fetch.
		{digestB, 307, "", otherURL + "/v2/x/blobs/" + digestB},
		{digestC, 502, "javascript", ""},
		{digestD, 502, "credentials", ""},
	} {
		t.Run(c.ref, func(t *testing.T) {
			g.events.reset()
			object := "manifests"
			if strings.HasPrefix(c.ref, "sha256:") {
				object = "blobs"
			}
			resp := get(t, "GET", "http://"+g.Addr+"/v2/x/"+object+"/"+c.ref, hostileHeaders...)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, c.status)
			}
			switch {
			case c.status == 502:
				code, msg := ociMessage(t, body)
				if code != "UNAVAILABLE" || !strings.Contains(msg, c.body) {
					t.Errorf("error %s %q, want UNAVAILABLE naming %q", code, msg, c.body)
				}
				if strings.Contains(msg, "pw") {
					t.Errorf("the message shows the upstream's password: %q", msg)
				}
			case c.location != "":
				if got := resp.Header.Get("Location"); got != c.location {
					t.Errorf("Location %q, want %q", got, c.location)
				}
			default:
				if string(body) != c.body {
					t.Errorf("body %q, want %q", body, c.body)
				}
				if resp.Header.Get("Set-Cookie") != "" {
					t.Errorf("the registry set a cookie on the gateway's domain: %q", resp.Header.Get("Set-Cookie"))
				}
			}
			ev := g.events.all()
			wantOutcome := event.OutcomeProxy
			if c.status == 502 {
				wantOutcome = event.OutcomeError
			}
			if len(ev) != 1 || ev[0].Outcome != wantOutcome || ev[0].Status != c.status || ev[0].Docker.Pull && c.status != 200 {
				t.Errorf("events %+v, want one with outcome %s and status %d", ev, wantOutcome, c.status)
			}
		})
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the gateway opened %d connections to a host outside the rule's registry", n)
	}
	// Every other target, the metadata address included, is refused by
	// the policy before any dial.
	if refused := dials.Check(t, loopback(reg.Addr)); len(refused) != 0 {
		t.Errorf("dials refused only by the address check: %q", upstreamtest.Targets(refused))
	}
	if len(dials.Attempts()) == 0 {
		t.Error("no dial recorded, not even to the registry")
	}
	for _, h := range other.headers() {
		assertNoClientHeaders(t, "the other host", h, false)
	}
	if l := logs.String(); !strings.Contains(l, "outbound request refused") || !strings.Contains(l, other.Addr) {
		t.Errorf("no warning naming the refused host in the log:\n%s", l)
	}
	if l := logs.String(); strings.Contains(l, clientAddr) || strings.Contains(l, "pw@") {
		t.Errorf("the log shows the client's address or the upstream's password:\n%s", l)
	}
	regSeen.Lock()
	defer regSeen.Unlock()
	for _, h := range regHeaders {
		assertNoClientHeaders(t, "the registry", h, false)
	}
}

// regAddr is the hostile registry's address, set once it listens.
var regAddr atomic.Value

// Blob digests of the hostile registry's redirecting blobs.
var (
	digestB = "sha256:" + strings.Repeat("b", 64)
	digestC = "sha256:" + strings.Repeat("c", 64)
	digestD = "sha256:" + strings.Repeat("d", 64)
)

// assertNoClientHeaders fails if h carries the client's address, its
// daemon credentials or its cookies; and, unless authOK, its
// Authorization.
func assertNoClientHeaders(t testing.TB, who string, h http.Header, authOK bool) {
	t.Helper()
	for k, v := range h {
		if strings.Contains(strings.Join(v, ","), clientAddr) {
			t.Errorf("%s received the client's address in %s", who, k)
		}
	}
	for _, k := range []string{"X-Registry-Auth", "Cookie", "X-Forwarded-For", "X-Real-Ip", "Forwarded", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s received %s: %q", who, k, v)
		}
	}
	if v := h.Get("Authorization"); v != "" && !authOK {
		t.Errorf("%s received the client's Authorization %q", who, v)
	}
}

// TestHostileTokenRealm: a registry whose challenge names a token
// service on a private address. Where Portico fetches upstream tokens,
// it refuses to, unless the operator allows private upstreams; the token
// service never gets a connection, let alone the rule's credentials.
func TestHostileTokenRealm(t *testing.T) {
	reg := newRegistry(t, regOpts{auth: true, private: map[string]string{"acme/app": "robot:s3cret"}})
	reg.pushImage(t, "acme/app", "1", randomImage(t, 1024, 1))
	t.Setenv("PORTICO_TEST_REALM", "robot:s3cret")
	rule := v1Rule("acme/app", "http://"+reg.Addr, `"credentials-env":"PORTICO_TEST_REALM"`)

	g, logs, dials := strictGateway(t, manifestOf(rule))
	before := len(reg.Requests())
	_, err := pullImage(t, g.Addr+"/acme/app:1")
	if err == nil {
		t.Fatal("pulled through a token service on a loopback address without private upstreams allowed")
	}
	for _, e := range g.events.all() {
		if e.Docker.Object == "manifest" && (e.Outcome != event.OutcomeError || e.Status != 502) {
			t.Errorf("manifest event %+v, want outcome error with status 502", e)
		}
	}
	if !strings.Contains(err.Error(), reg.AuthAddr) {
		t.Errorf("the client's error %q does not name the refused token service %s", err, reg.AuthAddr)
	}
	if l := logs.String(); !strings.Contains(l, reg.AuthAddr) || !strings.Contains(l, "loopback") {
		t.Errorf("no warning naming the refused token service:\n%s", l)
	}
	for _, r := range reg.Requests()[before:] {
		if r.Path != "/v2/" {
			t.Errorf("the registry was asked for %s without a token", r.Path)
		}
	}
	// The token service was dialed, and refused before connecting.
	refused := dials.Check(t, loopback(reg.Addr))
	if len(refused) == 0 {
		t.Error("no refused dial to the token service recorded")
	}
	for _, a := range refused {
		if a.Target != reg.AuthAddr || a.Addr.String() != loopback(reg.AuthAddr) {
			t.Errorf("refused dial to %s (%s), want only the token service %s", a.Target, a.Addr, reg.AuthAddr)
		}
	}

	// With private upstreams allowed, as the other tests run, the same
	// pull works, and reaches the registry and its token service only.
	allowed, dials := openGateway(t, manifestOf(rule))
	if _, err := pullImage(t, allowed.Addr+"/acme/app:1"); err != nil {
		t.Fatalf("pull with private upstreams allowed: %v", err)
	}
	if refused := dials.Check(t, loopback(reg.Addr), loopback(reg.AuthAddr)); len(refused) != 0 {
		t.Errorf("refused dials: %q", upstreamtest.Targets(refused))
	}
}

// TestNoClientHeadersUpstream: whatever the client sends, the registry
// learns neither its address nor its daemon credentials or cookies, in
// pass-through mode (where it gets the client's Authorization, meant for
// it) and where Portico authenticates (where it gets Portico's), and the
// token service Portico asks gets no client header at all.
func TestNoClientHeadersUpstream(t *testing.T) {
	needHosts(t)
	var tokenHeaders []http.Header
	var mu sync.Mutex
	token := listenCounted(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokenHeaders = append(tokenHeaders, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"token":"upstream-token","expires_in":300}`)
	})
	reg := listenCounted(t, "reg.test", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="reg.test"`, token.Addr))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = io.WriteString(w, `{"schemaVersion":2}`)
	})
	// "pass" keeps the pass-through mode (one registry, no rename); the
	// second rule's rename makes its own domain Portico's handshake.
	pass, passDials := openGateway(t, manifestOf(v1Rule("acme/pass", "http://"+reg.Addr, `"mode":"proxy"`)))
	resp := get(t, "GET", "http://"+pass.Addr+"/v2/acme/pass/manifests/1", append([]string{"Authorization", "Bearer registry-token"}, hostileHeaders...)...)
	if resp.StatusCode != 200 {
		t.Fatalf("pass-through: %d", resp.StatusCode)
	}
	owned, ownedDials := openGateway(t, strings.Replace(manifestOf(v1Rule("acme/owned", "http://"+reg.Addr, `"upstream-repository":"acme/renamed"`)), "gw.test", "gw2.test", 1))
	ownedAddr := "gw2.test:" + strings.Split(owned.Addr, ":")[1]
	tok := get(t, "GET", "http://"+ownedAddr+"/v2/token?scope=repository:acme/owned:pull")
	var body struct{ Token string }
	if err := json.NewDecoder(tok.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("Portico token: %v", err)
	}
	resp = get(t, "GET", "http://"+ownedAddr+"/v2/acme/owned/manifests/1", append([]string{"Authorization", "Bearer " + body.Token}, hostileHeaders...)...)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("owned: %d %s", resp.StatusCode, b)
	}

	seen := reg.headers()
	if len(seen) < 3 {
		t.Fatalf("the registry saw %d requests", len(seen))
	}
	var passAuth, ownedAuth bool
	for _, h := range seen {
		assertNoClientHeaders(t, "the registry", h, true)
		switch h.Get("Authorization") {
		case "Bearer registry-token":
			passAuth = true
		case "Bearer upstream-token":
			ownedAuth = true
		case "":
		default:
			t.Errorf("the registry received Authorization %q, neither the client's registry token nor Portico's upstream one", h.Get("Authorization"))
		}
	}
	if !passAuth || !ownedAuth {
		t.Errorf("pass-through Authorization forwarded: %v; Portico's upstream token used: %v", passAuth, ownedAuth)
	}
	// Pass-through reaches the registry only; where Portico
	// authenticates, the registry and its token service.
	if refused := passDials.Check(t, loopback(reg.Addr)); len(refused) != 0 {
		t.Errorf("pass-through: refused dials %q", upstreamtest.Targets(refused))
	}
	if refused := ownedDials.Check(t, loopback(reg.Addr), token.Addr); len(refused) != 0 {
		t.Errorf("owned: refused dials %q", upstreamtest.Targets(refused))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokenHeaders) == 0 {
		t.Fatal("the token service was not asked")
	}
	for _, h := range tokenHeaders {
		assertNoClientHeaders(t, "the token service", h, false)
	}
}
