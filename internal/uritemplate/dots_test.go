package uritemplate

import (
	"net/url"
	"strings"
	"testing"
)

// TestExpandNoDots sends request paths through an incoming template and
// expands the outgoing one: a value that would put a dot segment into
// the outgoing path fails the expansion.
func TestExpandNoDots(t *testing.T) {
	tests := []struct {
		in, out string
		path    string
		want    string // "" when the expansion must fail
	}{
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a/b.tar.gz", "https://cdn.example.com/base/a/b.tar.gz"},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/..%2F..%2Fx", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/../../x", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/%2e%2E/x", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/%2E%2e%2fx", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a/./b", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a/.", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/..", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a/..?x", ""},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a..b/.c/d.", "https://cdn.example.com/base/a..b/.c/d."},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/...", "https://cdn.example.com/base/..."},
		// A value's own '%' is encoded, so it spells no dot.
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/%252e%252e/x", "https://cdn.example.com/base/%252e%252e/x"},
		// Dots after the path are not segments.
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a?../..", "https://cdn.example.com/base/a?../.."},
		{"/plus/{+path}", "https://cdn.example.com/base/{+path}", "/plus/a#../..", "https://cdn.example.com/base/a#../.."},
		{"/q/{v}", "https://cdn.example.com/base/x?v={v}", "/q/..", "https://cdn.example.com/base/x?v=.."},
		// Simple expansion encodes '/', and the encoded slash still
		// separates segments.
		{"/s/{v}", "https://cdn.example.com/base/{v}", "/s/..%2Fx", ""},
		{"/s/{v}", "https://cdn.example.com/base/{v}", "/s/..%5Cx", ""},
		{"/s/{v}", "https://cdn.example.com/base/{v}/file", "/s/..", ""},
		{"/s/{v}", "https://cdn.example.com/base/{v}/file", "/s/.", ""},
		{"/s/{v}", "https://cdn.example.com/base/{v}/file", "/s/v1.0", "https://cdn.example.com/base/v1.0/file"},
		// A value completing a dot segment that literal text started.
		{"/s/{v}", "https://cdn.example.com/base/.{v}/file", "/s/.", ""},
		{"/s/{v}", "https://cdn.example.com/base/%2E{v}/file", "/s/.", ""},
		{"/s/{v}", "https://cdn.example.com/base/.{v}/file", "/s/x", "https://cdn.example.com/base/.x/file"},
		// Path-style and label operators.
		{"/p/{v}", "https://cdn.example.com/base{/v}", "/p/..", ""},
		{"/p/{v}", "https://cdn.example.com/base/{.v}", "/p/x", "https://cdn.example.com/base/.x"},
		{"/p/{v}", "https://cdn.example.com/base/{.v}", "/p/.", ""},
		// Literal dot segments are the template author's.
		{"/l/{v}", "https://cdn.example.com/base/../{v}", "/l/x", "https://cdn.example.com/base/../x"},
		// Several values, one of them bad.
		{"/m/{a}/{b}", "https://cdn.example.com/{a}/{b}", "/m/x/..", ""},
		{"/m/{a}/{b}", "https://cdn.example.com/{a}/{b}", "/m/x/y", "https://cdn.example.com/x/y"},
	}
	for _, tt := range tests {
		in, out := mustParse(t, tt.in), mustParse(t, tt.out)
		vars, ok := in.Match(tt.path)
		if !ok {
			t.Fatalf("%s does not match %s", tt.in, tt.path)
		}
		got, ok := out.AppendExpandNoDots([]byte("prefix:"), vars)
		if tt.want == "" {
			if ok || string(got) != "prefix:" {
				t.Errorf("%s → %s: expanded to %q, want a failure", tt.path, tt.out, got)
			}
			continue
		}
		if !ok || string(got) != "prefix:"+tt.want {
			t.Errorf("%s → %s: %q, %v; want %q", tt.path, tt.out, got, ok, tt.want)
		}
		plain, _ := out.AppendExpand(nil, vars)
		if string(plain) != tt.want {
			t.Errorf("AppendExpand and AppendExpandNoDots differ: %q, %q", plain, tt.want)
		}
	}
}

func TestExpandNoDotsNoAlloc(t *testing.T) {
	tp := mustParse(t, "https://dl.example/{a}/{b}/{c}/{+d}")
	vars := []Var{{"a", "x"}, {"b", "y"}, {"c", "z"}, {"d", "w/v.tar.gz"}}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _, _ = tp.AppendExpandNoDots(buf[:0], vars) }); n != 0 {
		t.Errorf("AppendExpandNoDots allocates %v times, want 0", n)
	}
}

// hasDotSegment is an independent statement of what must not happen: the
// path of u, with encoded dots decoded and encoded slashes and
// backslashes taken as separators, has a "." or ".." segment.
func hasDotSegment(u string) bool {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	u = strings.NewReplacer("%2e", ".", "%2E", ".", "%2f", "/", "%2F", "/", "%5c", "/", "%5C", "/").Replace(u)
	for _, seg := range strings.Split(u, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

var fuzzOps = []string{"", "+", "#", ".", "/", ";", "?", "&"}

// FuzzExpandNoDots checks that, for a template whose literal text has no
// dots, an expansion never yields a dot segment, that it fails only when
// the unchecked expansion has one, and that the URL stays under its base
// path once a client resolves it.
func FuzzExpandNoDots(f *testing.F) {
	f.Add(uint8(1), "", "", "../../x")
	f.Add(uint8(0), "a-", "/f", "..")
	f.Add(uint8(4), "", "", ".")
	f.Add(uint8(1), "x/", "", "%2e%2E/y")
	f.Add(uint8(0), "", "", "../x")
	f.Fuzz(func(t *testing.T, op uint8, lit1, lit2, value string) {
		clean := func(s string) string {
			return strings.Map(func(r rune) rune {
				if 'a' <= r && r <= 'z' || r == '/' || r == '-' {
					return r
				}
				return -1
			}, s)
		}
		src := "https://cdn.example.com/base/" + clean(lit1) + "{" + fuzzOps[int(op)%len(fuzzOps)] + "v}" + clean(lit2)
		tp, err := Parse(src)
		if err != nil {
			t.Skip()
		}
		vars := []Var{{"v", value}}
		plain, ok := tp.AppendExpand(nil, vars)
		if !ok {
			t.Fatalf("%s: expansion failed", src)
		}
		got, ok := tp.AppendExpandNoDots(nil, vars)
		if ok == hasDotSegment(string(plain)) {
			t.Fatalf("%s with %q: %q, ok=%v, but the expansion %q has a dot segment: %v", src, value, got, ok, plain, !ok)
		}
		if !ok {
			return
		}
		if string(got) != string(plain) {
			t.Fatalf("%s with %q: %q differs from %q", src, value, got, plain)
		}
		base, _ := url.Parse("https://cdn.example.com/")
		ref, err := url.Parse(string(got))
		if err != nil {
			return // not a URL a client would follow
		}
		if r := base.ResolveReference(ref); r.Host != "cdn.example.com" || !strings.HasPrefix(r.EscapedPath(), "/base/") {
			t.Fatalf("%s with %q: %q resolves to %q", src, value, got, r)
		}
	})
}
