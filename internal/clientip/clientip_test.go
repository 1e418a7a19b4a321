package clientip

import (
	"net/http"
	"net/netip"
	"testing"
)

func req(remote, host string, headers ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Host: host, Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestHost(t *testing.T) {
	trusted, err := ParseTrusted(DefaultTrusted + ", 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"no header", req("127.0.0.1:1", "a.test"), "a.test"},
		{"trusted loopback", req("127.0.0.1:1", "127.0.0.1:8081", "X-Forwarded-Host", "b.test"), "b.test"},
		{"trusted v6 loopback", req("[::1]:1", "x", "X-Forwarded-Host", "b.test"), "b.test"},
		{"trusted mapped v4", req("[::ffff:10.1.2.3]:1", "x", "X-Forwarded-Host", "b.test"), "b.test"},
		{"untrusted peer", req("203.0.113.9:1", "a.test", "X-Forwarded-Host", "evil.test"), "a.test"},
		{"last value of a list", req("10.0.0.1:1", "x", "X-Forwarded-Host", "spoofed.test, b.test"), "b.test"},
		{"last of several headers", req("10.0.0.1:1", "x", "X-Forwarded-Host", "spoofed.test", "X-Forwarded-Host", "b.test"), "b.test"},
		{"empty value falls back", req("127.0.0.1:1", "a.test", "X-Forwarded-Host", " "), "a.test"},
	}
	for _, tt := range tests {
		if got := trusted.Host(tt.r); got != tt.want {
			t.Errorf("%s: Host = %q, want %q", tt.name, got, tt.want)
		}
	}
	none, _ := ParseTrusted("")
	if got := none.Host(req("127.0.0.1:1", "a.test", "X-Forwarded-Host", "b.test")); got != "a.test" {
		t.Errorf("with no trusted proxies, Host = %q, want the Host header", got)
	}
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
