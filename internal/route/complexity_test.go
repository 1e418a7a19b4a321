package route

import (
	"strings"
	"testing"

	"portico/internal/testenv"
)

// TestParseHostLinear parses hostile hosts of n and 8n bytes: eight
// times the input may cost at most sixteen times the allocations
// (linear gives 8, quadratic 64), and a shape that allocates nothing at
// n allocates nothing at 8n. Names in canonical form never allocate, and
// past the 253 bytes a name may have, nothing is copied before the
// request is refused.
func TestParseHostLinear(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		build func(n int) string
		ok    bool
	}{
		{"canonical name", 30, func(n int) string { return strings.Repeat("a", n-5) + ".test" }, true},
		{"upper case name", 30, func(n int) string { return strings.Repeat("A.", n/2-3) + "TEST" }, true},
		{"upper case name and port", 30, func(n int) string { return strings.Repeat("Ab", n/2-5) + ".test:8443" }, true},
		{"name too long", 300, func(n int) string { return strings.Repeat("A", n) }, false},
		{"empty labels", 300, func(n int) string { return strings.Repeat(".", n) }, false},
		{"colons", 300, func(n int) string { return "a" + strings.Repeat(":", n) }, false},
		{"long port", 300, func(n int) string { return "a.test:" + strings.Repeat("9", n) }, false},
		{"unclosed bracket", 300, func(n int) string { return "[" + strings.Repeat("f", n) }, false},
		{"long IPv6 literal", 300, func(n int) string { return "[" + strings.Repeat("f:", n/2) + "]" }, false},
		{"bracket then junk", 300, func(n int) string { return "[::1]" + strings.Repeat("x", n) }, false},
	} {
		small, large := tc.build(tc.n), tc.build(8*tc.n)
		for _, in := range []string{small, large} {
			if _, _, ok := ParseHost(in); ok != tc.ok {
				t.Fatalf("%s: ParseHost(%.40q…) ok = %v, want %v", tc.name, in, ok, tc.ok)
			}
		}
		a := testenv.Allocated(100, func() { ParseHost(small) })
		b := testenv.Allocated(100, func() { ParseHost(large) })
		t.Logf("%s: %d bytes → %d allocated, %d bytes → %d allocated", tc.name, len(small), a, len(large), b)
		switch {
		case a == 0 && b != 0:
			t.Errorf("%s: %d bytes allocate nothing, %d bytes %d", tc.name, len(small), len(large), b)
		case a != 0 && float64(b)/float64(a) > 16:
			t.Errorf("%s: 8 times the input allocates %.1f times as much, want at most 16", tc.name, float64(b)/float64(a))
		}
		if tc.name == "canonical name" || !tc.ok {
			if a != 0 || b != 0 {
				t.Errorf("%s: allocated %d and %d bytes, want none", tc.name, a, b)
			}
		}
	}
}
