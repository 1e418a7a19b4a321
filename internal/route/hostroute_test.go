package route_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"portico/internal/clientip"
	"portico/internal/event"
	"portico/internal/event/eventtest"
	"portico/internal/manifest"
	"portico/internal/route"
	"portico/internal/route/routetest"
)

const hostManifest = `{"rules":[
 {"type":"file-v1","domain":"f1.test","incoming-path":"/x/{file}","outgoing-url":"https://dl.example/f1/{file}","package-id":"p1"},
 {"type":"file-v1","domain":"evil.example","incoming-path":"/x/{file}","outgoing-url":"https://dl.example/evil/{file}","package-id":"p2"}]}`

// rawServer serves a router over a real listener; trusted lists the peers
// whose forwarding headers count (the test's peer is 127.0.0.1).
func rawServer(t *testing.T, js, trusted string) (string, *eventtest.Recorder) {
	t.Helper()
	m, err := manifest.Decode("test.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := route.Compile(m, routetest.Options(t))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := clientip.ParseTrusted(trusted)
	if err != nil {
		t.Fatal(err)
	}
	rec := &eventtest.Recorder{}
	srv := httptest.NewServer(route.NewRouter(tab, tr, rec, nil))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), rec
}

// rawGet sends a request head byte for byte, so that Host values no
// client library would write reach the server as an attacker writes them.
func rawGet(t *testing.T, addr, target string, headers ...string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", headers, err)
	}
	resp.Body.Close()
	return resp
}

// TestHostHeaderForms sends Host values an attacker chooses: each is
// refused with 400 or routed to the domain it names, never to a domain
// its text merely starts with.
func TestHostHeaderForms(t *testing.T) {
	addr, rec := rawServer(t, hostManifest, "")
	tests := []struct {
		host     string
		status   int
		location string // "" when not a redirect
	}{
		{"f1.test", 307, "https://dl.example/f1/a"},
		{"F1.TEST", 307, "https://dl.example/f1/a"},
		{"f1.test.", 307, "https://dl.example/f1/a"},
		{"f1.test:8081", 307, "https://dl.example/f1/a"},
		{"f1.test:abc", 400, ""},
		{"[f1.test]junk.evil", 400, ""},
		{"npm.test:80;evil.example", 400, ""},
		{"f1.test:80;evil.example", 400, ""},
		{"f1.test:@evil.example", 400, ""},
		{"f1.test@evil.example", 400, ""},
		{"user@f1.test", 400, ""},
		{"f1.test:", 400, ""},
		{"f1.test:65536", 400, ""},
		{"f1.test:99999", 400, ""},
		{"f1%2etest", 400, ""},
		{"f1.test%3a80", 400, ""},
		{"f1..test", 400, ""},
		{"[::1]", 404, ""},
		{"[::1]:8081", 404, ""},
		{"[fe80::1%25eth0]", 400, ""},
		{"[fe80::1%eth0]:80", 400, ""},
		{"::1", 400, ""},
		{"[v7.f1.test]", 400, ""},
		{"evil.example", 307, "https://dl.example/evil/a"},
		{"other.test", 404, ""},
	}
	for _, tt := range tests {
		resp := rawGet(t, addr, "/x/a", "Host", tt.host)
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("Host %q: %d %q, want %d %q", tt.host, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
	}
	for _, e := range rec.All() {
		if e.Domain != "f1.test" && e.Domain != "evil.example" {
			t.Errorf("event recorded for domain %q", e.Domain)
		}
	}
	// Host headers with white space inside: Go's server refuses some
	// itself; whoever answers, it is not a redirect.
	for _, h := range []string{"f1.test :80", "f1 .test"} {
		if resp := rawGet(t, addr, "/x/a", "Host", h); resp.StatusCode != 400 {
			t.Errorf("Host %q: %d, want 400", h, resp.StatusCode)
		}
	}
}

// TestForwardedHost checks X-Forwarded-Host and X-Forwarded-Proto: from
// a trusted proxy they are parsed as strictly as Host; from anyone else
// they are ignored.
func TestForwardedHost(t *testing.T) {
	trustedAddr, _ := rawServer(t, hostManifest, "127.0.0.1")
	untrustedAddr, _ := rawServer(t, hostManifest, "192.0.2.1")
	tests := []struct {
		name     string
		addr     string
		headers  []string
		status   int
		location string
	}{
		{"trusted, valid", trustedAddr, []string{"Host", "other.test", "X-Forwarded-Host", "F1.test:443"}, 307, "https://dl.example/f1/a"},
		{"trusted, userinfo trick", trustedAddr, []string{"Host", "f1.test", "X-Forwarded-Host", "f1.test:@evil.example"}, 400, ""},
		{"trusted, port trick", trustedAddr, []string{"Host", "f1.test", "X-Forwarded-Host", "f1.test:80;evil.example"}, 400, ""},
		{"trusted, bracket trick", trustedAddr, []string{"Host", "f1.test", "X-Forwarded-Host", "[f1.test]junk.evil"}, 400, ""},
		{"trusted, last of a list", trustedAddr, []string{"Host", "other.test", "X-Forwarded-Host", "evil.example, f1.test"}, 307, "https://dl.example/f1/a"},
		{"trusted, bad proto", trustedAddr, []string{"Host", "f1.test", "X-Forwarded-Proto", "javascript"}, 400, ""},
		{"trusted, https", trustedAddr, []string{"Host", "f1.test", "X-Forwarded-Proto", "https"}, 307, "https://dl.example/f1/a"},
		{"untrusted, ignored", untrustedAddr, []string{"Host", "f1.test", "X-Forwarded-Host", "evil.example"}, 307, "https://dl.example/f1/a"},
		{"untrusted, bad value ignored", untrustedAddr, []string{"Host", "f1.test", "X-Forwarded-Host", "f1.test:@evil.example", "X-Forwarded-Proto", "javascript"}, 307, "https://dl.example/f1/a"},
	}
	for _, tt := range tests {
		resp := rawGet(t, tt.addr, "/x/a", tt.headers...)
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d %q, want %d %q", tt.name, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
	}
}

// TestOptOutAnyValue checks that DNT and Sec-GPC count on any header
// line and in any list element.
func TestOptOutAnyValue(t *testing.T) {
	addr, rec := rawServer(t, hostManifest, "")
	tests := []struct {
		name     string
		headers  []string
		recorded bool
	}{
		{"none", nil, true},
		{"DNT 0", []string{"DNT", "0"}, true},
		{"DNT 1", []string{"DNT", "1"}, false},
		{"DNT 0 then 1", []string{"DNT", "0", "DNT", "1"}, false},
		{"DNT list", []string{"DNT", "0, 1"}, false},
		{"DNT list without space", []string{"DNT", "0,1"}, false},
		{"GPC 0 then 1", []string{"Sec-GPC", "0", "Sec-GPC", "1"}, false},
		{"GPC list", []string{"Sec-GPC", "0 , 1 "}, false},
		{"DNT 0, GPC 1", []string{"DNT", "0", "Sec-GPC", "1"}, false},
		{"DNT 10", []string{"DNT", "10"}, true},
		{"DNT 0, 0", []string{"DNT", "0, 0", "Sec-GPC", "0"}, true},
	}
	for _, tt := range tests {
		before := len(rec.All())
		resp := rawGet(t, addr, "/x/a", append([]string{"Host", "f1.test"}, tt.headers...)...)
		if resp.StatusCode != 307 {
			t.Fatalf("%s: status %d", tt.name, resp.StatusCode)
		}
		got := len(rec.All()) - before
		if tt.recorded && got != 1 || !tt.recorded && got != 0 {
			t.Errorf("%s: %d events, want recorded=%v", tt.name, got, tt.recorded)
		}
	}
	for _, e := range rec.All() {
		if e.Kind != event.KindFile {
			t.Errorf("unexpected event %+v", e)
		}
	}
}

// TestPlain: the lean loop may answer a domain whose rules all redirect,
// and nothing else: not a domain with a proxying rule, not an unknown or
// malformed host.
func TestPlain(t *testing.T) {
	m, err := manifest.Decode("test.json", []byte(`{"rules":[
 {"type":"file-v1","domain":"f1.test","incoming-path":"/x/{file}","outgoing-url":"https://dl.example/f1/{file}","package-id":"p1"},
 {"type":"catch-all-v1","domain":"f1.test","package-id":"p4","redirect-target-domain":"dl.example"},
 {"type":"file-v1","domain":"mixed.test","incoming-path":"/x/{file}","outgoing-url":"https://dl.example/m/{file}","package-id":"p2"},
 {"type":"docker-v2","domain":"mixed.test","pattern":"acme/*","registry":"ghcr.io","rule-id":"p3"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := route.Compile(m, routetest.Options(t))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := clientip.ParseTrusted("")
	if err != nil {
		t.Fatal(err)
	}
	rt := route.NewRouter(tab, tr, nil, nil)
	for _, tc := range []struct {
		host, path string
		want       bool
	}{
		{"f1.test", "/x/a.tgz", true},
		{"F1.TEST:8080", "/nothing/here", true},
		{"mixed.test", "/x/a.tgz", false},
		{"other.test", "/x/a.tgz", false},
		{"f1.test:bad", "/x/a.tgz", false},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Host = tc.host
		if got := rt.Plain(r); got != tc.want {
			t.Errorf("Plain(%s%s) = %v, want %v", tc.host, tc.path, got, tc.want)
		}
	}
}
