package clientip

import (
	"net/http"
	"strings"
	"testing"

	"portico/internal/testenv"
)

// TestForwardedLinear reads hostile forwarding headers of n and 8n
// items from a trusted proxy: long lists, many header lines, chains of
// trusted proxies that must all be walked, and values that are not
// addresses. What the headers hold is sliced, never copied: eight times
// the input allocates no more (an address that does not parse costs its
// error, whatever its length).
func TestForwardedLinear(t *testing.T) {
	trusted, err := ParseTrusted(DefaultTrusted + ", 10.0.0.0/8, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		n      int
		header func(n int) http.Header
		client string // the address Client must find
		host   string // the host Forwarded must find
	}{
		{"chain of trusted proxies", 500, func(n int) http.Header {
			return http.Header{"X-Forwarded-For": {"198.51.100.7, " + strings.Repeat("10.0.0.1, ", n) + "127.0.0.1"}}
		}, "198.51.100.7", "h.test"},
		{"many header lines", 500, func(n int) http.Header {
			return http.Header{"X-Forwarded-For": append([]string{"198.51.100.7"}, strings.Split(strings.Repeat("2001:db8::1,", n-1)+"::1", ",")...)}
		}, "198.51.100.7", "h.test"},
		{"one long item", 500, func(n int) http.Header {
			return http.Header{"X-Forwarded-For": {strings.Repeat("1", n)}}
		}, "127.0.0.1", "h.test"},
		{"empty items", 500, func(n int) http.Header {
			return http.Header{"X-Forwarded-For": {strings.Repeat(",", n)}}
		}, "127.0.0.1", "h.test"},
		{"many forwarded hosts", 500, func(n int) http.Header {
			return http.Header{"X-Forwarded-Host": {strings.Repeat("evil.example, ", n) + "last.test"}, "X-Forwarded-Proto": {strings.Repeat("gopher, ", n) + "https"}}
		}, "127.0.0.1", "last.test"},
		{"blank forwarded host", 500, func(n int) http.Header {
			return http.Header{"X-Forwarded-Host": {strings.Repeat(" ", n)}, "X-Forwarded-Proto": {strings.Repeat("\t", n)}}
		}, "127.0.0.1", "h.test"},
	} {
		var cost [2]uint64
		for i, n := range []int{tc.n, 8 * tc.n} {
			r := &http.Request{RemoteAddr: "127.0.0.1:4000", Host: "h.test", Header: tc.header(n)}
			if got := trusted.Client(r).String(); got != tc.client {
				t.Fatalf("%s (n=%d): Client = %s, want %s", tc.name, n, got, tc.client)
			}
			if host, _, ok := trusted.Forwarded(r); host != tc.host || !ok {
				t.Fatalf("%s (n=%d): Forwarded = %q, %v, want %q", tc.name, n, host, ok, tc.host)
			}
			cost[i] = testenv.Allocated(100, func() { trusted.Client(r); trusted.Forwarded(r) })
		}
		t.Logf("%s: %d and %d items allocate %d and %d bytes", tc.name, tc.n, 8*tc.n, cost[0], cost[1])
		if cost[1] > cost[0] {
			t.Errorf("%s: %d items allocate %d bytes, %d items %d", tc.name, tc.n, cost[0], 8*tc.n, cost[1])
		}
	}
}
