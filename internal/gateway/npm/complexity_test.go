package npm

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"portico/internal/testenv"
)

// TestPackumentLinear rewrites packuments of size n and 8n in shapes an
// upstream could choose to make a parser work hard, full and
// abbreviated, and requires the second to cost at most 16 times the
// first (linear work gives about 8, quadratic 64).
func TestPackumentLinear(t *testing.T) {
	version := func(b *strings.Builder, i int, extra string) {
		fmt.Fprintf(b, `"1.0.%d":{"name":"a","version":"1.0.%d","description":"x","dependencies":{"b":"^1"},%s"dist":{"tarball":"https://r.test/a/-/a-1.0.%d.tgz","integrity":"sha512-%d"}}`, i, i, extra, i, i)
	}
	for _, tc := range []struct {
		name  string
		n     int
		build func(n int) string
	}{
		{"versions", 300, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"name":"a","dist-tags":{"latest":"1.0.0"},"versions":{`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				version(&b, i, "")
			}
			b.WriteString(`},"readme":"r"}`)
			return b.String()
		}},
		// encoding/json refuses nesting deeper than 10000 levels (see
		// below); under that its work is linear.
		{"deep nesting", 1000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"name":"a","versions":{`)
			version(&b, 0, `"x":`+strings.Repeat(`{"y":[`, n/2)+strings.Repeat(`]}`, n/2)+`,`)
			b.WriteString(`}}`)
			return b.String()
		}},
		{"many keys", 1000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"name":"a","versions":{`)
			var extra strings.Builder
			for i := range n {
				fmt.Fprintf(&extra, `"k%d":%d,`, i, i)
			}
			version(&b, 0, extra.String())
			b.WriteString(`},"time":{`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"1.0.%d":"2026-01-01T00:00:00Z"`, i)
			}
			b.WriteString(`}}`)
			return b.String()
		}},
		{"many dist-tags", 1000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"name":"a","dist-tags":{`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"t%d":"1.0.0"`, i)
			}
			b.WriteString(`},"versions":{`)
			version(&b, 0, "")
			b.WriteString(`}}`)
			return b.String()
		}},
		{"huge strings", 5000, func(n int) string {
			return `{"name":"a","readme":"` + strings.Repeat(`\u00e9\"<`, n) + `","versions":{"1.0.0":{"description":"` +
				strings.Repeat(`\\x`, n) + `","dist":{"tarball":"https://r.test/a/-/a-1.0.0.tgz"}}}}`
		}},
	} {
		for _, abbrev := range []bool{false, true} {
			small, large := tc.build(tc.n), tc.build(8*tc.n)
			run := func(doc string) func() {
				return func() {
					if _, err := parsePackument("a", abbrev, http.Header{}, []byte(doc)); err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
				}
			}
			run(small)()
			a, b := testenv.Allocated(1, run(small)), testenv.Allocated(1, run(large))
			ratio := float64(b) / float64(max(a, 1))
			t.Logf("%s (abbreviated %v): %d bytes → %d allocated, %d bytes → %d allocated (×%.1f)", tc.name, abbrev, len(small), a, len(large), b, ratio)
			if ratio > 16 {
				t.Errorf("%s (abbreviated %v): 8 times the input costs %.1f times the allocations, want at most 16", tc.name, abbrev, ratio)
			}
		}
	}
	deep := `{"name":"a","readme":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	if _, err := parsePackument("a", false, http.Header{}, []byte(deep)); err == nil || !strings.Contains(err.Error(), "depth") {
		t.Errorf("nesting 20000 deep: err %v, want it refused for its depth", err)
	}
}
