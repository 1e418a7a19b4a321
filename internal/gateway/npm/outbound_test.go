package npm_test

// A hostile upstream registry for always-proxy rules: its documents name
// tarballs on other hosts and its tarballs redirect elsewhere. The
// gateway's transport records every connection it opens or tries to
// (upstreamtest), so the tests fail on any connection outside the rule's
// allowed set, wherever it goes; the servers also count the connections
// they accept.

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"portico/internal/clientip"
	"portico/internal/doccache"
	"portico/internal/event"
	"portico/internal/gateway/npm"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/testenv"
	"portico/internal/upstream"
	"portico/internal/upstream/upstreamtest"
)

// clientAddr is the client's address, as a trusted proxy reports it.
const clientAddr = "203.0.113.77"

// counted is a server that records connections and request headers.
type counted struct {
	srv   *httptest.Server
	URL   string
	Addr  string
	conns atomic.Int64
	mu    sync.Mutex
	seen  []http.Header
}

func listenCounted(t testing.TB, tlsOn bool, h http.HandlerFunc) *counted {
	t.Helper()
	c := &counted{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen = append(c.seen, r.Header.Clone())
		c.mu.Unlock()
		h(w, r)
	}))
	c.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	if tlsOn {
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.srv.Close)
	c.URL, c.Addr = c.srv.URL, c.srv.Listener.Addr().String()
	return c
}

func (c *counted) headers() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]http.Header(nil), c.seen...)
}

// startWith serves manifestJSON with the given outbound transport,
// logging to the returned buffer. Loopback peers are trusted proxies, so
// a request's X-Forwarded-For names its client.
func startWith(t testing.TB, manifestJSON string, transport *upstream.Transport) (*portico, *testenv.Buffer) {
	t.Helper()
	m, err := manifest.Decode("manifest.json", []byte(manifestJSON))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	logs := &testenv.Buffer{}
	client := upstream.NewClient(transport)
	p := &portico{rec: &recorder{}, cache: doccache.New(doccache.Options{Client: client})}
	trusted, _ := clientip.ParseTrusted(clientip.DefaultTrusted)
	opts := npm.Options{Cache: p.cache, Client: client, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	table, err := route.Compile(m, route.Options{NPM: opts})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewServer(route.NewRouter(table, trusted, p.rec, nil))
	t.Cleanup(p.srv.Close)
	return p, logs
}

// hostileHeaders are what no host but the rule's registry may learn, and
// the client's address, which none may learn.
var hostileHeaders = []string{
	"Authorization", "Bearer npm_victim", "Cookie", "session=victim", "Npm-Otp", "123456",
	"X-Forwarded-For", clientAddr, "X-Real-Ip", clientAddr, "Forwarded", "for=" + clientAddr,
	"True-Client-Ip", clientAddr, "Cf-Connecting-Ip", clientAddr,
}

func assertClean(t testing.TB, who string, hs []http.Header) {
	t.Helper()
	for _, h := range hs {
		for k, v := range h {
			if strings.Contains(strings.Join(v, ","), clientAddr) {
				t.Errorf("%s received the client's address in %s", who, k)
			}
		}
		for _, k := range []string{"Authorization", "Cookie", "Npm-Otp", "X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
			if v := h.Get(k); v != "" {
				t.Errorf("%s received %s: %q", who, k, v)
			}
		}
	}
}

// TestHostileTarballs: the document of an always-proxy rule's registry
// names tarballs on other hosts, on a link-local metadata address, and
// tarballs that redirect elsewhere. Only the registry's origin, the
// rule's tarball-hosts and https storage on public addresses are
// fetched from; everything else is a 502 naming the host, a warning
// and an error event, and the other hosts see no connection.
func TestHostileTarballs(t *testing.T) {
	tgz := buildPackage(t, "hostile", "1.0.0", nil).tgz
	other := listenCounted(t, false, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("stolen")) })
	otherTLS := listenCounted(t, true, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("stolen")) })
	named := listenCounted(t, false, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(tgz) })

	var self atomic.Value
	tarballs := map[string]string{}  // version → dist.tarball
	redirects := map[string]string{} // file on the registry → Location
	reg := listenCounted(t, false, func(w http.ResponseWriter, r *http.Request) {
		base := self.Load().(string)
		if r.URL.Path == "/hostile" {
			versions := map[string]any{}
			for v, tb := range tarballs {
				versions[v] = map[string]any{"name": "hostile", "version": v, "dist": map[string]any{"tarball": strings.ReplaceAll(tb, "SELF", base)}}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": "hostile", "dist-tags": map[string]string{"latest": "1.0.0"}, "versions": versions})
			return
		}
		file := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		if loc, ok := redirects[file]; ok {
			w.Header().Set("Location", strings.ReplaceAll(loc, "SELF", base))
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		if file == "real.tgz" || file == "hostile-1.0.0.tgz" {
			_, _ = w.Write(tgz)
			return
		}
		http.NotFound(w, r)
	})
	self.Store(reg.URL)
	host := strings.TrimPrefix(reg.URL, "http://")

	cases := []struct {
		version, tarball, redirect string
		status                     int
		naming                     string // in the 502's message
	}{
		{"1.0.0", "SELF/hostile/-/hostile-1.0.0.tgz", "", 200, ""},
		{"1.0.1", other.URL + "/hostile/-/hostile-1.0.1.tgz", "", 502, other.Addr},
		{"1.0.2", "http://169.254.169.254/latest/meta-data/hostile-1.0.2.tgz", "", 502, "169.254.169.254"},
		{"1.0.3", "http://[fe80::1%25lo]/hostile-1.0.3.tgz", "", 502, "zone"},
		{"1.0.5", "http://user:pw@" + host + "/hostile/-/hostile-1.0.5.tgz", "", 502, "credentials"},
		{"1.0.6", "SELF/hostile/-/hostile-1.0.6.tgz", other.URL + "/stolen.tgz", 502, other.Addr},
		{"1.0.7", "SELF/hostile/-/hostile-1.0.7.tgz", otherTLS.URL + "/stolen.tgz", 502, "loopback"},
		{"1.0.8", "SELF/hostile/-/hostile-1.0.8.tgz", "//" + other.Addr + "/stolen.tgz", 502, other.Addr},
		{"1.0.9", "SELF/hostile/-/hostile-1.0.9.tgz", "http://user:pw@" + host + "/real.tgz", 502, "credentials"},
		{"1.0.10", "SELF/hostile/-/hostile-1.0.10.tgz", "file:///etc/passwd", 502, "file:///etc/passwd"},
		{"1.0.11", "SELF/hostile/-/hostile-1.0.11.tgz", "http://169.254.169.254/latest/", 502, "169.254.169.254"},
		{"1.0.12", "SELF/hostile/-/hostile-1.0.12.tgz", "https://169.254.169.254/latest/", 502, "cloud metadata"},
		{"1.0.13", "SELF/hostile/-/hostile-1.0.13.tgz", "/real.tgz", 200, ""},
		{"1.0.14", "SELF/hostile/-/hostile-1.0.14.tgz", "SELF/hostile/-/hostile-1.0.14.tgz", 502, "too many redirects"},
		// On a host the rule lists, but a loopback one: refused unless
		// private upstreams are allowed (below).
		{"1.0.15", named.URL + "/hostile-1.0.15.tgz", "", 502, "loopback"},
	}
	for _, c := range cases {
		tarballs[c.version] = c.tarball
		if c.redirect != "" {
			redirects["hostile-"+c.version+".tgz"] = c.redirect
		}
	}
	rule := `{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"hostile","package-id":"p-hostile","registry":"` + reg.URL + `","always-proxy":true,"tarball-hosts":["` + named.URL + `"]}]}`
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{})
	p, logs := startWith(t, rule, transport)

	for _, c := range cases {
		t.Run(c.version, func(t *testing.T) {
			before := len(p.rec.all())
			resp, body := fetch(t, "GET", p.srv.URL+"/hostile/-/hostile-"+c.version+".tgz", hostileHeaders...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, c.status)
			}
			if c.status == 200 {
				if !bytes.Equal([]byte(body), tgz) {
					t.Errorf("body of %d bytes, want the tarball", len(body))
				}
			} else {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, c.naming) || !strings.Contains(e.Error, "refused") {
					t.Errorf("error %q, want an npm JSON error saying the request to %s was refused", body, c.naming)
				}
				if strings.Contains(body, "pw@") {
					t.Errorf("the error shows the upstream's password: %s", body)
				}
			}
			ev := p.rec.all()[before:]
			want := event.OutcomeProxy
			if c.status != 200 {
				want = event.OutcomeError
			}
			if len(ev) != 1 || ev[0].Outcome != want || ev[0].Status != c.status || ev[0].NPM.Version != c.version {
				t.Errorf("events %+v, want one tarball event with outcome %s", ev, want)
			}
		})
	}
	for name, s := range map[string]*counted{"another port": other, "an https host on loopback": otherTLS, "a tarball host on loopback": named} {
		if n := s.conns.Load(); n != 0 {
			t.Errorf("the gateway opened %d connections to %s", n, name)
		}
	}
	// Connections went to the registry only. Storage redirects (any
	// https host) and the listed host were dialed and refused by the
	// address check before connecting: the https host on loopback, the
	// metadata address, where nothing listens, and the tarball host.
	refused := dials.Check(t, reg.Addr)
	wantRefused := map[string]bool{otherTLS.Addr: true, "169.254.169.254:443": true, named.Addr: true}
	for _, a := range refused {
		if !wantRefused[a.Target] {
			t.Errorf("refused dial to %s: not one the address check alone should stop", a.Target)
		}
		delete(wantRefused, a.Target)
	}
	if len(wantRefused) != 0 {
		t.Errorf("no refused dial recorded to %v", wantRefused)
	}
	l := logs.String()
	if !strings.Contains(l, "outbound request refused") || !strings.Contains(l, other.Addr) {
		t.Errorf("no warning naming the refused host:\n%s", l)
	}
	if strings.Contains(l, clientAddr) || strings.Contains(l, "pw@") {
		t.Errorf("the log shows the client's address or the upstream's password:\n%s", l)
	}
	assertClean(t, "the registry", reg.headers())

	// With private upstreams allowed, the listed host serves; hosts the
	// rule does not list stay refused.
	openTransport, openDials := upstreamtest.NewTransport(t, upstream.Options{AllowPrivate: true})
	open, _ := startWith(t, rule, openTransport)
	if resp, body := fetch(t, "GET", open.srv.URL+"/hostile/-/hostile-1.0.15.tgz", hostileHeaders...); resp.StatusCode != 200 || !bytes.Equal([]byte(body), tgz) {
		t.Errorf("tarball from a listed host with private upstreams allowed: %d", resp.StatusCode)
	}
	if resp, _ := fetch(t, "GET", open.srv.URL+"/hostile/-/hostile-1.0.1.tgz"); resp.StatusCode != 502 {
		t.Errorf("unlisted host with private upstreams allowed: %d, want 502", resp.StatusCode)
	}
	assertClean(t, "the tarball host", named.headers())
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the gateway opened %d connections to an unlisted host", n)
	}
	if refused := openDials.Check(t, reg.Addr, named.Addr); len(refused) != 0 {
		t.Errorf("refused dials with private upstreams allowed: %q", upstreamtest.Targets(refused))
	}
}

// TestPublishHeaders: a publish takes the publisher's credentials to the
// rule's registry, and nothing that names the client.
func TestPublishHeaders(t *testing.T) {
	reg := listenCounted(t, false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	rule := `{"rules":[{"type":"npm-v1","domain":"127.0.0.1","package-name":"pub","package-id":"p-pub","registry":"` + reg.URL + `","allow-publish":true}]}`
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{})
	p, _ := startWith(t, rule, transport)
	req, _ := http.NewRequest(http.MethodPut, p.srv.URL+"/pub", strings.NewReader(`{"name":"pub"}`))
	for i := 0; i+1 < len(hostileHeaders); i += 2 {
		req.Header.Set(hostileHeaders[i], hostileHeaders[i+1])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	hs := reg.headers()
	if len(hs) != 1 || hs[0].Get("Authorization") != "Bearer npm_victim" || hs[0].Get("Npm-Otp") != "123456" || hs[0].Get("Content-Type") != "application/json" {
		t.Fatalf("the registry got %v, want the publisher's credentials", hs)
	}
	for k, v := range hs[0] {
		if strings.Contains(strings.Join(v, ","), clientAddr) || k == "Cookie" {
			t.Errorf("the registry received %s: %q", k, v)
		}
	}
	if refused := dials.Check(t, reg.Addr); len(refused) != 0 {
		t.Errorf("refused dials: %q", upstreamtest.Targets(refused))
	}
}
