package useragent

import (
	"strings"
	"testing"

	"portico/internal/testenv"
)

// TestParseLinear parses hostile user agents of n and 8n bytes, both
// within the part of a header that Parse reads, in the shapes that make
// its tokenizer and matchers work hardest: many tokens, nested and
// unbalanced parentheses, escapes, robots' comments of many parts, and
// pip's JSON. Eight times the input may allocate at most sixteen times
// as much (linear gives 8, quadratic 64). Past maxLen, the header is cut
// and the cost stops growing.
func TestParseLinear(t *testing.T) {
	const n = maxLen / 8
	for _, tc := range []struct {
		name  string
		build func(n int) string
	}{
		{"tokens", func(n int) string { return strings.Repeat("a ", n/2) }},
		{"products", func(n int) string { return strings.Repeat("a/1 ", n/4) }},
		{"parentheses", func(n int) string { return strings.Repeat("(", n) }},
		{"comments", func(n int) string { return strings.Repeat("()", n/2) }},
		{"escapes", func(n int) string { return "(" + strings.Repeat(`\(`, n/2-1) }},
		{"robot comments", func(n int) string { return "x (" + strings.Repeat("a/1;", n/4-3) + ") crawler" }},
		{"robot products", func(n int) string { return "bot/1 " + strings.Repeat("(a;b) ", n/6-1) }},
		{"browser", func(n int) string { return "Mozilla/5.0 " + strings.Repeat("(x) ", n/4-5) + "Chrome/1" }},
		{"engine", func(n int) string { return "docker/1 " + strings.Repeat("os/linux ", n/9-1) }},
		{"node", func(n int) string { return "npm/10 " + strings.Repeat("node/v20 linux x64 ", n/19-1) }},
		{"pip JSON", func(n int) string {
			return `pip/24 {"installer":{"name":"pip","version":"24"},"user_data":"` + strings.Repeat("a", n-70) + `"}`
		}},
		{"pip JSON nested", func(n int) string { return "pip/24 {" + strings.Repeat(`"a":[`, (n-8)/5) }},
	} {
		small, large := tc.build(n), tc.build(8*n)
		if len(small) > n || len(large) > 8*n || len(large) < 7*n {
			t.Fatalf("%s: inputs of %d and %d bytes, want about %d and %d", tc.name, len(small), len(large), n, 8*n)
		}
		a, b := testenv.Allocated(100, func() { Parse(small) }), testenv.Allocated(100, func() { Parse(large) })
		t.Logf("%s: %d bytes → %d allocated, %d bytes → %d allocated", tc.name, len(small), a, len(large), b)
		if a == 0 && b != 0 || a != 0 && float64(b)/float64(a) > 16 {
			t.Errorf("%s: %d bytes allocate %d bytes, %d bytes %d, want at most 16 times as much", tc.name, len(small), a, len(large), b)
		}
		// Past maxLen the header is cut: however long it is, it costs
		// what its first maxLen bytes do.
		huge := tc.build(64 * n)
		c, d := testenv.Allocated(100, func() { Parse(huge) }), testenv.Allocated(100, func() { Parse(huge[:maxLen]) })
		if c > d+d/8 {
			t.Errorf("%s: %d bytes allocate %d bytes, their first %d bytes %d", tc.name, len(huge), c, maxLen, d)
		}
	}
}
