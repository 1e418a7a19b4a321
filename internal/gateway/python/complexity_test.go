package python

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portico/internal/manifest"
	"portico/internal/testenv"
)

// checkLinear runs f on the input of size n and of size 8n and fails
// when the second costs more than 16 times the first: linear work gives
// about 8, quadratic work 64.
func checkLinear(t *testing.T, name string, n int, build func(n int) string, f func(doc string)) {
	t.Helper()
	small, large := build(n), build(8*n)
	f(small) // warm up lazily built tables
	a := testenv.Allocated(1, func() { f(small) })
	b := testenv.Allocated(1, func() { f(large) })
	ratio := float64(b) / float64(max(a, 1))
	t.Logf("%s: %d bytes → %d allocated, %d bytes → %d allocated (×%.1f)", name, len(small), a, len(large), b, ratio)
	if ratio > 16 {
		t.Errorf("%s: 8 times the input costs %.1f times the allocations, want at most 16 (linear work)", name, ratio)
	}
}

// pageParser is what the cache runs on an upstream page of project p:
// the parse, building the file list and sorting it.
func pageParser(t *testing.T, ctype string) func(doc string) {
	ir := newIndexRule(&manifest.PythonIndex{PackageName: "p", IndexURL: "https://index.example/simple/"}, 0)
	r := ir.newRequest("p")
	base, _ := url.Parse("https://index.example/simple/p/")
	header := http.Header{"Content-Type": {ctype}}
	return func(doc string) {
		if _, _, err := r.Parse(context.Background(), base, header, []byte(doc)); err != nil && !strings.Contains(err.Error(), "nesting") {
			t.Fatalf("parse: %v", err)
		}
	}
}

func TestHTMLPageLinear(t *testing.T) {
	parse := pageParser(t, "text/html")
	for _, tc := range []struct {
		name  string
		n     int
		build func(n int) string
	}{
		{"files", 500, func(n int) string {
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, `<a href="/f/p-1.%d.tar.gz#sha256=%064d" data-requires-python="&gt;=3.8">p-1.%d.tar.gz</a><br>`+"\n", i, i, i)
			}
			return b.String()
		}},
		{"tag openings", 2000, func(n int) string { return strings.Repeat("<a ", n) }},
		{"unclosed quotes", 1000, func(n int) string { return strings.Repeat(`<a href="x.tar.gz `, n) }},
		{"unended anchors", 1000, func(n int) string { return strings.Repeat("<a href=/f/p-1.0.tar.gz>p-1.0.tar.gz <b>", n) }},
		{"unclosed comments", 1000, func(n int) string { return strings.Repeat("<!-- <a href=x> -", n) }},
		{"deep nesting", 2000, func(n int) string {
			return strings.Repeat("<div><span>", n) + "<a href=/f/p-1.0.tar.gz>p-1.0.tar.gz</a>" + strings.Repeat("</span></div>", n)
		}},
		{"huge attribute", 5000, func(n int) string {
			return `<a href="/f/p-1.0.tar.gz" data-yanked="` + strings.Repeat("&amp;x", n) + `">p-1.0.tar.gz</a>`
		}},
		{"long file name", 2000, func(n int) string {
			return `<a href="/f/x.tar.gz">P-` + strings.Repeat("X-", n) + `1.0.tar.gz</a>`
		}},
		{"long version", 5000, func(n int) string {
			return `<a href="/f/x.tar.gz">p-1` + strings.Repeat("0", n) + `.` + strings.Repeat("9", n) + `+` + strings.Repeat("1", n) + `.tar.gz</a>` +
				`<a href="/f/y.tar.gz">p-1` + strings.Repeat("0", n) + `.` + strings.Repeat("9", n) + `+` + strings.Repeat("2", n) + `.tar.gz</a>`
		}},
	} {
		checkLinear(t, tc.name, tc.n, tc.build, parse)
	}
}

func TestJSONPageLinear(t *testing.T) {
	parse := pageParser(t, "application/vnd.pypi.simple.v1+json")
	for _, tc := range []struct {
		name  string
		n     int
		build func(n int) string
	}{
		{"files", 500, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"meta":{"api-version":"1.1"},"name":"p","files":[`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"filename":"p-1.%d.tar.gz","url":"/f/p-1.%d.tar.gz","hashes":{"sha256":"%064d"},"requires-python":">=3.8","size":%d,"yanked":false}`, i, i, i, i)
			}
			b.WriteString(`]}`)
			return b.String()
		}},
		// encoding/json refuses nesting deeper than 10000 levels; below
		// that its work is linear.
		{"deep nesting", 1000, func(n int) string {
			return `{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `,"files":[]}`
		}},
		{"many keys", 1000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"files":[{"filename":"p-1.0.tar.gz","url":"/f/p.tar.gz","hashes":{`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"h%d":"%d"`, i, i)
			}
			b.WriteString(`}}]}`)
			return b.String()
		}},
		{"huge string", 5000, func(n int) string {
			return `{"name":"` + strings.Repeat(`\u00e9\"`, n) + `","files":[]}`
		}},
		{"long file name", 2000, func(n int) string {
			return `{"files":[{"filename":"P-` + strings.Repeat("X-", n) + `1.0.tar.gz","url":"/f/x.tar.gz","hashes":{}}]}`
		}},
	} {
		checkLinear(t, tc.name, tc.n, tc.build, parse)
	}
}
