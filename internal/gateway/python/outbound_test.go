package python_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"portico/internal/doccache"
	"portico/internal/gateway/python"
	"portico/internal/upstream"
	"portico/internal/upstream/upstreamtest"
)

// TestUpstreamIndexOutbound: a hostile index redirects project pages to
// another port, a metadata address and a non-http scheme. The gateway
// follows redirects on the index's own origin only, answers the others
// with a 502 naming the host, and the other server never gets a
// connection: the gateway's transport records every connection it opens
// or tries to, and all of them are to the index. The index learns nothing
// of the client.
func TestUpstreamIndexOutbound(t *testing.T) {
	var otherConns atomic.Int64
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `<a href="/stolen.whl">stolen.whl</a>`)
	}))
	other.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			otherConns.Add(1)
		}
	}
	other.Start()
	defer other.Close()

	var mu sync.Mutex
	var seen []http.Header
	redirects := map[string]string{
		"away":     other.URL + "/simple/away/",
		"protorel": "//" + other.Listener.Addr().String() + "/simple/protorel/",
		"metadata": "http://169.254.169.254/latest/meta-data/",
		"file":     "file:///etc/passwd",
		"moved":    "/simple/moved-here/",
	}
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		name := strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
		if loc, ok := redirects[name]; ok {
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<a href="https://files.test/`+name+`-1.0.tar.gz#sha256=`+strings.Repeat("0", 64)+`">`+name+`-1.0.tar.gz</a>`)
	}))
	defer index.Close()
	transport, dials := upstreamtest.NewTransport(t, upstream.Options{})
	cache := doccache.New(doccache.Options{Client: upstream.NewClient(transport)})
	t.Cleanup(cache.Close)
	p := startPorticoWith(t, fmt.Sprintf(`{"rules":[{"type":"python-index-v1","domain":"127.0.0.1","package-name":"*","package-id":"pkg-any","index-url":%q}]}`, index.URL+"/simple/"), python.Options{Cache: cache})

	for name, want := range map[string]string{
		"away":     other.Listener.Addr().String(),
		"protorel": other.Listener.Addr().String(),
		"metadata": "169.254.169.254",
		"file":     "file:///etc/passwd",
	} {
		resp, body := fetch(t, "GET", p.srv.URL+"/simple/"+name+"/", "X-Forwarded-For", "203.0.113.77", "Cookie", "session=victim", "Authorization", "Basic dXNlcjpwdw==")
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want 502 naming %s", name, resp.StatusCode, body, want)
		}
	}
	if resp, body := fetch(t, "GET", p.srv.URL+"/simple/moved/"); resp.StatusCode != 200 || !strings.Contains(body, "moved-here-1.0.tar.gz") {
		t.Errorf("redirect on the index's origin: %d %q", resp.StatusCode, body)
	}
	if n := otherConns.Load(); n != 0 {
		t.Errorf("the gateway opened %d connections to a host other than the index", n)
	}
	// The metadata address and the other port were refused by the
	// policy before any dial.
	if refused := dials.Check(t, index.Listener.Addr().String()); len(refused) != 0 {
		t.Errorf("dials refused only by the address check: %q", upstreamtest.Targets(refused))
	}
	if len(dials.Attempts()) == 0 {
		t.Error("no dial recorded, not even to the index")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range seen {
		for _, k := range []string{"X-Forwarded-For", "Cookie", "Authorization"} {
			if v := h.Get(k); v != "" {
				t.Errorf("the index received %s: %q", k, v)
			}
		}
	}
}
