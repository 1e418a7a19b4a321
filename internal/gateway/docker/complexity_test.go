package docker

import (
	"fmt"
	"strings"
	"testing"

	"portico/internal/gateway"
	"portico/internal/testenv"
)

// TestParsersLinear runs the registry API's parsers of client and
// upstream text on hostile inputs of n and 8n elements: request paths
// (split, decoded, parsed and checked as a request is), token scopes,
// Bearer tokens and upstream WWW-Authenticate challenges. Eight times
// the input may allocate at most sixteen times as much (linear gives 8,
// quadratic 64), and what allocates nothing at n allocates nothing at 8n.
func TestParsersLinear(t *testing.T) {
	path := func(raw string) func() {
		segs := make([]string, 0, 16)
		return func() {
			segs = gateway.AppendSegments(segs[:0], raw)
			if p, ok := parsePath(raw, segs); ok && p.object != objPing && p.object != objCatalog {
				checkPath(raw, p)
			}
		}
	}
	signer, err := NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		n     int
		build func(n int) string
		run   func(s string) func()
	}{
		{"path of many segments", 200, func(n int) string { return "/v2/" + strings.Repeat("a/", n) + "manifests/x" }, path},
		{"path without a keyword", 200, func(n int) string { return "/v2/" + strings.Repeat("a/", n) }, path},
		{"path of keywords", 200, func(n int) string { return "/v2/a" + strings.Repeat("/manifests", n) }, path},
		{"path of encoded segments", 200, func(n int) string { return "/v2/" + strings.Repeat("a%2Fb%2e/", n) + "blobs/x" }, path},
		{"long repository name", 25, func(n int) string { return "/v2/" + strings.Repeat("a-b.c_", n/6) + "/manifests/x" }, path},
		{"long reference", 200, func(n int) string { return "/v2/a/manifests/" + strings.Repeat("%2e", n) }, path},
		{"scopes", 200, func(n int) string { return strings.Repeat("repository:acme/app:pull,push ", n) }, func(s string) func() {
			return func() { parseScopes([]string{s}) }
		}},
		{"scope actions", 200, func(n int) string { return "repository:a:" + strings.Repeat("pull,", n) }, func(s string) func() {
			return func() { parseScopes([]string{s}) }
		}},
		{"scope of colons", 200, func(n int) string { return "repository" + strings.Repeat(":", n) }, func(s string) func() {
			return func() { parseScopes([]string{s}) }
		}},
		{"challenge parameters", 200, func(n int) string {
			var b strings.Builder
			b.WriteString(`Bearer realm="https://a.test/t"`)
			for i := range n {
				fmt.Fprintf(&b, `,k%d="v"`, i)
			}
			return b.String()
		}, func(s string) func() {
			return func() { _, _ = parseChallenge([]string{s}) }
		}},
		{"challenge escapes", 200, func(n int) string { return `Bearer realm="` + strings.Repeat(`\"`, n) + `"` }, func(s string) func() {
			return func() { _, _ = parseChallenge([]string{s}) }
		}},
		{"challenge without values", 200, func(n int) string { return "Bearer " + strings.Repeat(", ", n) }, func(s string) func() {
			return func() { _, _ = parseChallenge([]string{s}) }
		}},
		{"forged token", 200, func(n int) string { return tokenPrefix + strings.Repeat("eyJh", n) + ".c2ln" }, func(s string) func() {
			return func() { _, _ = signer.verify(s, "gw.test") }
		}},
		{"bearer header", 200, func(n int) string { return "Bearer " + strings.Repeat(" x", n) }, func(s string) func() {
			return func() { bearer([]string{s}) }
		}},
	} {
		small, large := tc.build(tc.n), tc.build(8*tc.n)
		a, b := testenv.Allocated(100, tc.run(small)), testenv.Allocated(100, tc.run(large))
		t.Logf("%s: %d bytes → %d allocated, %d bytes → %d allocated", tc.name, len(small), a, len(large), b)
		if a == 0 && b != 0 || a != 0 && float64(b)/float64(a) > 16 {
			t.Errorf("%s: %d bytes allocate %d bytes, %d bytes %d, want at most 16 times as much", tc.name, len(small), a, len(large), b)
		}
	}
}
