package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// server is an httptest server that counts the connections it accepts
// and keeps the headers of the last request.
type server struct {
	*httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	last  http.Header
	reqs  []string
}

func newServer(t *testing.T, tlsOn bool, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.last = r.Header.Clone()
		s.reqs = append(s.reqs, r.Method+" "+r.RequestURI)
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) header() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// port returns the server's port.
func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

func get(t *testing.T, c *http.Client, p *Policy, rawURL string, hdr ...string) (*http.Response, error) {
	t.Helper()
	ctx := context.Background()
	if p != nil {
		ctx = WithPolicy(ctx, p)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func mustPolicy(t *testing.T, backend string, named ...string) *Policy {
	t.Helper()
	p, err := NewPolicy(backend, named...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func refusal(t *testing.T, err error, naming string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want a refusal", err)
	}
	if !strings.Contains(err.Error(), naming) {
		t.Errorf("refusal %q does not name %s", err, naming)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	other := newServer(t, false, nil)
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
	})
	resp, err := get(t, NewClient(nil), mustPolicy(t, srv.URL), srv.URL, "Authorization", "Bearer secret")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("status %d, want the 307 returned to the caller", resp.StatusCode)
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the client followed a redirect to another host: %d connections", n)
	}
}

// TestTransportOrigins: a request goes only to the origins its policy
// allows, and a request without a policy goes nowhere. Each forbidden
// server counts the connections it accepted: none.
func TestTransportOrigins(t *testing.T) {
	backend := newServer(t, false, nil)
	forbidden := newServer(t, false, nil)
	c := NewClient(nil)
	p := mustPolicy(t, backend.URL)

	if _, err := get(t, c, p, backend.URL+"/x"); err != nil {
		t.Fatalf("the rule's own backend on loopback: %v", err)
	}
	if _, err := get(t, c, nil, backend.URL+"/x"); err == nil {
		t.Error("a request without a policy was sent")
	}
	_, err := get(t, c, p, forbidden.URL+"/x")
	refusal(t, err, forbidden.Listener.Addr().String())
	_, err = get(t, c, p, "http://localhost:"+backend.port()+"/x")
	refusal(t, err, "localhost:"+backend.port())
	_, err = get(t, c, p, strings.Replace(backend.URL, "http://", "http://u:p@", 1))
	refusal(t, err, "credentials")
	if n := forbidden.conns.Load(); n != 0 {
		t.Errorf("the forbidden server accepted %d connections", n)
	}
}

// TestTransportDialCheck: an origin the policy allows besides the
// backend is dialed on public addresses only. The check runs on the
// resolved address: "localhost" and the test host names resolve to
// loopback only when dialed. --allow-private-upstreams opens them.
func TestTransportDialCheck(t *testing.T) {
	backend := newServer(t, false, nil)
	tarballs := newServer(t, false, nil)
	byName := "http://localhost:" + tarballs.port()
	byIP := tarballs.URL
	strict := NewClient(NewTransport(Options{}))
	open := NewClient(NewTransport(Options{AllowPrivate: true}))

	for _, named := range []string{byName, byIP} {
		p := mustPolicy(t, backend.URL, named)
		tarballs.conns.Store(0)
		_, err := get(t, strict, p, named+"/a.tgz")
		refusal(t, err, "loopback")
		if n := tarballs.conns.Load(); n != 0 {
			t.Fatalf("%s: %d connections to a loopback address the rule does not own", named, n)
		}
		if _, err := get(t, open, p, named+"/a.tgz"); err != nil {
			t.Errorf("%s with private upstreams allowed: %v", named, err)
		}
	}
	// Metadata addresses stay closed whatever the operator allows. The
	// refusal comes before any packet is sent.
	p := mustPolicy(t, backend.URL, "http://169.254.169.254")
	_, err := get(t, open, p, "http://169.254.169.254/latest/meta-data/")
	refusal(t, err, "cloud metadata")
	// A realm on a private address is refused like any other host.
	realm, _ := url.Parse(byName + "/token")
	pr, err := mustPolicy(t, backend.URL).WithRealm(realm)
	if err != nil {
		t.Fatal(err)
	}
	tarballs.conns.Store(0)
	_, err = get(t, strict, pr, byName+"/token")
	refusal(t, err, "loopback")
	if n := tarballs.conns.Load(); n != 0 {
		t.Errorf("token service on loopback: %d connections", n)
	}
}

// TestTransportHeaders: only the transport's list of headers leaves,
// whatever the request carries: the client's address never does, in
// any header, nor cookies or headers meant for the client's daemon;
// credentials go to the backend only (Authorization also to the token
// service); storage gets User-Agent, Accept and Accept-Encoding only.
func TestTransportHeaders(t *testing.T) {
	backend := newServer(t, false, nil)
	named := newServer(t, false, nil)
	realm := newServer(t, false, nil)
	storage := newServer(t, true, nil)
	pool := storage.Client().Transport.(*http.Transport).TLSClientConfig
	c := NewClient(NewTransport(Options{AllowPrivate: true, TLSConfig: &tls.Config{RootCAs: pool.RootCAs}}))
	p := mustPolicy(t, backend.URL, named.URL)
	realmURL, _ := url.Parse(realm.URL + "/token")
	pr, _ := p.WithRealm(realmURL)

	sent := []string{
		"Authorization", "Bearer secret", "Cookie", "session=1", "X-Registry-Auth", "e30=",
		"X-Forwarded-For", "203.0.113.9", "X-Real-Ip", "203.0.113.9", "Forwarded", "for=203.0.113.9",
		"True-Client-Ip", "203.0.113.9", "Cf-Connecting-Ip", "203.0.113.9", "X-Client-Ip", "203.0.113.9",
		// Headers no list names: they never leave either.
		"X-Proxyuser-Ip", "203.0.113.9", "Via", "1.1 203.0.113.9", "X-Request-Id", "203.0.113.9",
		"Referer", "http://203.0.113.9/", "X-Custom-Secret", "s3cret",
		"Range", "bytes=0-1", "If-None-Match", `"e"`, "User-Agent", "portico-test", "Accept", "*/*",
		"Content-Type", "application/json", "Npm-Otp", "123456",
	}
	listed := []string{"Authorization", "Range", "If-None-Match", "User-Agent", "Accept", "Content-Type", "Npm-Otp"}
	for _, c2 := range []struct {
		name string
		p    *Policy
		url  string
		srv  *server
		want []string // of listed; the others must be missing
	}{
		{"backend", p, backend.URL, backend, listed},
		{"named", p, named.URL, named, []string{"Range", "If-None-Match", "User-Agent", "Accept"}},
		{"realm", pr, realm.URL, realm, []string{"Authorization", "User-Agent", "Accept"}},
		{"storage", p.ForStorage(), storage.URL, storage, []string{"User-Agent", "Accept"}},
	} {
		if _, err := get(t, c, c2.p, c2.url+"/x", sent...); err != nil {
			t.Fatalf("%s: %v", c2.name, err)
		}
		h := c2.srv.header()
		for _, k := range c2.want {
			if h.Get(k) == "" {
				t.Errorf("%s: %s was not sent", c2.name, k)
			}
		}
		for i := 0; i < len(sent); i += 2 {
			if k := sent[i]; !slices.Contains(c2.want, k) && h.Get(k) != "" {
				t.Errorf("%s received %s: %q", c2.name, k, h.Get(k))
			}
		}
		for k, v := range h {
			if strings.Contains(strings.Join(v, ","), "203.0.113.9") || strings.Contains(strings.Join(v, ","), "s3cret") {
				t.Errorf("%s received %s: %q", c2.name, k, v)
			}
		}
	}
}

// TestTransportThroughProxy: with a forward proxy, the connection goes to
// the proxy, so the target's addresses are checked before the request is
// handed over; the proxy itself, the operator's, is dialed.
func TestTransportThroughProxy(t *testing.T) {
	backend := newServer(t, false, nil)
	proxy := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from the proxy")
	})
	proxyURL, _ := url.Parse(proxy.URL)
	c := NewClient(NewTransport(Options{Proxy: http.ProxyURL(proxyURL)}))

	// A name that resolves to loopback is refused before the proxy
	// sees anything.
	private := "http://localhost:" + backend.port()
	_, err := get(t, c, mustPolicy(t, backend.URL, private), private+"/a.tgz")
	refusal(t, err, "loopback")
	// A public address goes through the proxy, which answers itself
	// here: nothing leaves the machine.
	public := "http://8.8.8.8"
	if _, err := get(t, c, mustPolicy(t, backend.URL, public), public+"/a.tgz"); err != nil {
		t.Fatalf("public target through the proxy: %v", err)
	}
	// The backend goes through the proxy too, whatever its address.
	if _, err := get(t, c, mustPolicy(t, backend.URL), backend.URL+"/index"); err != nil {
		t.Fatalf("backend through the proxy: %v", err)
	}
	want := []string{"GET http://8.8.8.8/a.tgz", "GET " + backend.URL + "/index"}
	if got := proxy.requests(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the proxy saw %q, want %q", got, want)
	}
	if n := backend.conns.Load(); n != 0 {
		t.Errorf("the backend was dialed directly %d times", n)
	}
}

// TestOnDial: OnDial sees every connection the transport opens, with
// the address it goes to, and every one the address check refuses, with
// the refusal: to the backend, to a host on a loopback address, to a
// metadata address where nothing listens, and to a forward proxy.
func TestOnDial(t *testing.T) {
	backend := newServer(t, false, nil)
	other := newServer(t, false, nil)
	var mu sync.Mutex
	var seen []DialAttempt
	record := func(a DialAttempt) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, a)
	}
	take := func() []DialAttempt {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}
	strict := NewClient(NewTransport(Options{OnDial: record, Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}))
	p := mustPolicy(t, backend.URL, other.URL)

	if _, err := get(t, strict, p, backend.URL+"/x"); err != nil {
		t.Fatal(err)
	}
	if a := take(); len(a) != 1 || !a[0].Backend || a[0].Err != nil || a[0].Addr.String() != backend.Listener.Addr().String() || a[0].Target != backend.Listener.Addr().String() {
		t.Errorf("backend: attempts %+v, want one to %s", a, backend.Listener.Addr())
	}
	_, err := get(t, strict, p, other.URL+"/x")
	refusal(t, err, "loopback")
	if a := take(); len(a) != 1 || a[0].Backend || a[0].Err == nil || a[0].Addr.String() != other.Listener.Addr().String() {
		t.Errorf("named host on loopback: attempts %+v, want one refused", a)
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("a refused attempt reached the server: %d connections", n)
	}
	_, err = get(t, strict, p.ForStorage(), "https://169.254.169.254/latest/")
	refusal(t, err, "cloud metadata")
	if a := take(); len(a) != 1 || a[0].Err == nil || a[0].Addr.String() != "169.254.169.254:443" {
		t.Errorf("metadata address: attempts %+v, want one refused", a)
	}
	// Refused by the policy: no attempt at all.
	_, err = get(t, strict, mustPolicy(t, backend.URL), "http://169.254.169.254/")
	refusal(t, err, "169.254.169.254")
	if a := take(); len(a) != 0 {
		t.Errorf("a request the policy refused was dialed: %+v", a)
	}

	proxy := newServer(t, false, nil)
	proxyURL, _ := url.Parse(proxy.URL)
	viaProxy := NewClient(NewTransport(Options{OnDial: record, Proxy: http.ProxyURL(proxyURL), AllowPrivate: true}))
	if _, err := get(t, viaProxy, p, other.URL+"/x"); err != nil {
		t.Fatal(err)
	}
	if a := take(); len(a) != 1 || a[0].Err != nil || a[0].Target != proxy.Listener.Addr().String() {
		t.Errorf("through a proxy: attempts %+v, want one to the proxy %s", a, proxy.Listener.Addr())
	}
}
