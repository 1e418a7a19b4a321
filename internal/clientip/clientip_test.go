package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func req(remote, host string, headers ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Host: host, Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestForwarded(t *testing.T) {
	trusted, err := ParseTrusted(DefaultTrusted + ", 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		r     *http.Request
		want  string
		https bool
		ok    bool
	}{
		{"no header", req("127.0.0.1:1", "a.test"), "a.test", false, true},
		{"trusted loopback", req("127.0.0.1:1", "127.0.0.1:8081", "X-Forwarded-Host", "b.test"), "b.test", false, true},
		{"trusted v6 loopback", req("[::1]:1", "x", "X-Forwarded-Host", "b.test"), "b.test", false, true},
		{"trusted mapped v4", req("[::ffff:10.1.2.3]:1", "x", "X-Forwarded-Host", "b.test"), "b.test", false, true},
		{"untrusted peer", req("203.0.113.9:1", "a.test", "X-Forwarded-Host", "evil.test"), "a.test", false, true},
		{"untrusted peer, proto ignored", req("203.0.113.9:1", "a.test", "X-Forwarded-Proto", "https"), "a.test", false, true},
		{"untrusted peer, bad proto ignored", req("203.0.113.9:1", "a.test", "X-Forwarded-Proto", "gopher"), "a.test", false, true},
		{"last value of a list", req("10.0.0.1:1", "x", "X-Forwarded-Host", "spoofed.test, b.test"), "b.test", false, true},
		{"last of several headers", req("10.0.0.1:1", "x", "X-Forwarded-Host", "spoofed.test", "X-Forwarded-Host", "b.test"), "b.test", false, true},
		{"empty value falls back", req("127.0.0.1:1", "a.test", "X-Forwarded-Host", " "), "a.test", false, true},
		// The text is handed on as it is; the router parses it and
		// refuses this one.
		{"host text passed on for parsing", req("127.0.0.1:1", "a.test", "X-Forwarded-Host", "npm.test:@evil.example"), "npm.test:@evil.example", false, true},
		{"https", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", "https"), "a.test", true, true},
		{"HTTPS, any case", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", " HTTPS "), "a.test", true, true},
		{"last proto counts", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", "http", "X-Forwarded-Proto", "http, https"), "a.test", true, true},
		{"http", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", "http"), "a.test", false, true},
		{"other proto refused", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", "javascript"), "a.test", false, false},
		{"proto with junk refused", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", "https://evil.example"), "a.test", false, false},
		{"ws refused", req("127.0.0.1:1", "a.test", "X-Forwarded-Proto", "wss"), "a.test", false, false},
	}
	for _, tt := range tests {
		got, https, ok := trusted.Forwarded(tt.r)
		if got != tt.want || https != tt.https || ok != tt.ok {
			t.Errorf("%s: Forwarded = %q, %v, %v; want %q, %v, %v", tt.name, got, https, ok, tt.want, tt.https, tt.ok)
		}
	}
	none, _ := ParseTrusted("")
	if got, https, _ := none.Forwarded(req("127.0.0.1:1", "a.test", "X-Forwarded-Host", "b.test", "X-Forwarded-Proto", "https")); got != "a.test" || https {
		t.Errorf("with no trusted proxies, Forwarded = %q, %v; want the Host header over http", got, https)
	}
}

// FuzzForwarded checks whose word counts: an untrusted peer's forwarding
// headers never change the answer, and a trusted proxy's protocol is
// accepted only as http or https.
func FuzzForwarded(f *testing.F) {
	f.Add("a.test", "b.test", "https", true)
	f.Add("a.test", "npm.test:@evil.example, c.test", "HTTP", false)
	f.Add("a.test", " ", "gopher", true)
	trusted, _ := ParseTrusted("127.0.0.1")
	f.Fuzz(func(t *testing.T, host, xfh, xfp string, fromProxy bool) {
		remote := "203.0.113.9:1"
		if fromProxy {
			remote = "127.0.0.1:1"
		}
		r := req(remote, host, "X-Forwarded-Host", xfh, "X-Forwarded-Proto", xfp)
		got, https, ok := trusted.Forwarded(r)
		if !fromProxy {
			if got != host || https || !ok {
				t.Fatalf("untrusted peer: Forwarded = %q, %v, %v; want the Host header %q", got, https, ok, host)
			}
			return
		}
		proto := strings.ToLower(lastValue([]string{xfp}))
		if ok != (proto == "" || proto == "http" || proto == "https") {
			t.Fatalf("X-Forwarded-Proto %q: ok = %v", xfp, ok)
		}
		if ok && https != (proto == "https") {
			t.Fatalf("X-Forwarded-Proto %q: https = %v", xfp, https)
		}
		if want := lastValue([]string{xfh}); want != "" && got != want || want == "" && got != host {
			t.Fatalf("X-Forwarded-Host %q over Host %q: got %q", xfh, host, got)
		}
	})
}

func TestClient(t *testing.T) {
	trusted, _ := ParseTrusted("127.0.0.1, 10.0.0.0/8")
	tests := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"direct", req("198.51.100.7:5555", "h"), "198.51.100.7"},
		{"untrusted peer ignores header", req("198.51.100.7:5555", "h", "X-Forwarded-For", "1.2.3.4"), "198.51.100.7"},
		{"one proxy", req("127.0.0.1:1", "h", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"spoofed left entry", req("127.0.0.1:1", "h", "X-Forwarded-For", "6.6.6.6, 198.51.100.7"), "198.51.100.7"},
		{"chain of trusted proxies", req("127.0.0.1:1", "h", "X-Forwarded-For", "198.51.100.7, 10.1.1.1", "X-Forwarded-For", "10.2.2.2"), "198.51.100.7"},
		{"garbage stops the walk", req("127.0.0.1:1", "h", "X-Forwarded-For", "198.51.100.7, garbage"), "127.0.0.1"},
		{"v6", req("[2001:db8::1]:1", "h"), "2001:db8::1"},
	}
	for _, tt := range tests {
		if got := trusted.Client(tt.r); got != netip.MustParseAddr(tt.want) {
			t.Errorf("%s: Client = %v, want %s", tt.name, got, tt.want)
		}
	}
}

func TestParseTrustedErrors(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "1.2.3.4/8/1"} {
		if _, err := ParseTrusted(bad); err == nil {
			t.Errorf("ParseTrusted(%q) accepted a bad list", bad)
		}
	}
}
