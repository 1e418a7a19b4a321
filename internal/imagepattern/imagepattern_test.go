package imagepattern

import (
	"errors"
	"strings"
	"testing"
)

type matchCase struct {
	pattern string
	image   []string
	want    bool
}

var matchCases = []matchCase{
	// Section 4.7 of the Scarf spec.
	{`library/*`, []string{"library", "hello"}, true},
	{`library/*`, []string{"library", "hello{abc}"}, true},
	{`library/*`, []string{"library", ""}, true},
	{`library/*`, []string{}, false},
	{`library/*`, nil, false},
	{`library/*`, []string{"library"}, false},
	{`library/*`, []string{"library", "hello", "world"}, false},
	{`l*n*k*er/d{1,2,3,4,5}`, []string{"linker", "d5"}, true},
	{`l*n*k*er/d{1,2,3,4,5}`, []string{"linker", "d1"}, true},
	{`l*n*k*er/d{1,2,3,4,5}`, []string{"lnker", "d3"}, true},
	{`l*n*k*er/d{1,2,3,4,5}`, []string{"linker", "d6"}, false},
	{`l*n*k*er/d{1,2,3,4,5}`, []string{"liner", "d5"}, false},
	{`l*n*k*er/d{1,2,3,4,5}`, []string{"linker", "d55"}, false},
	{`Library/*`, []string{"library", "x"}, false},

	// Wildcards, including the corrected "**" on an empty segment.
	{`*`, []string{""}, true},
	{`**`, []string{""}, true},
	{`***`, []string{""}, true},
	{`a**`, []string{"a"}, true},
	{`**a`, []string{"a"}, true},
	{`*a*`, []string{"a"}, true},
	{`*/**`, []string{"", ""}, true},
	{`*.*`, []string{"a.b"}, true},
	{`*.*`, []string{"ab"}, false},
	{`a*b*c`, []string{"abc"}, true},
	{`a*b*c`, []string{"aXbYc"}, true},
	{`a*b*c`, []string{"acb"}, false},
	{`*`, []string{"a", "b"}, false},

	// Literals are compared whole and case-sensitively.
	{`library/nginx`, []string{"library", "nginx"}, true},
	{`library/nginx`, []string{"library", "nginx2"}, false},
	{`ABC`, []string{"abc"}, false},
	{`é*`, []string{"été"}, true},

	// Unions, nested unions and backtracking into them.
	{`lin{t, ker}`, []string{"lint"}, true},
	{`lin{t, ker}`, []string{"lin ker"}, true},
	{`lin{t, ker}`, []string{"linker"}, false},
	{`{a,b{c,d}}x`, []string{"ax"}, true},
	{`{a,b{c,d}}x`, []string{"bcx"}, true},
	{`{a,b{c,d}}x`, []string{"bdx"}, true},
	{`{a,b{c,d}}x`, []string{"bx"}, false},
	{`{a,b{c,d}}x`, []string{"abx"}, false},
	{`{a,ab}c`, []string{"abc"}, true},
	{`{a*,b}c`, []string{"azzc"}, true},
	{`{a*,b}c`, []string{"bc"}, true},
	{`{a*,b}c`, []string{"b"}, false},
	{`{{{a}}}`, []string{"a"}, true},
	{`{*,a}{b,*}`, []string{""}, true},
	{`x/{a,b}/*y`, []string{"x", "a", "zy"}, true},
	{`x/{a,b}/*y`, []string{"x", "c", "zy"}, false},

	// Escapes stand for the character itself.
	{`a\*b`, []string{"a*b"}, true},
	{`a\*b`, []string{"axb"}, false},
	{`\{x\}`, []string{"{x}"}, true},
	{`a\,b`, []string{"a,b"}, true},
	{`a\\b`, []string{`a\b`}, true},
	{`{\,,\}}`, []string{","}, true},
	{`{\,,\}}`, []string{"}"}, true},
}

func mustParse(t testing.TB, s string) *Pattern {
	t.Helper()
	p, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", s, err)
	}
	return p
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.pattern+"~"+strings.Join(tc.image, "/"), func(t *testing.T) {
			p := mustParse(t, tc.pattern)
			if got := p.Match(tc.image); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.image, got, tc.want)
			}
			if got, ok := naiveMatch(p, tc.image, 1<<20); !ok || got != tc.want {
				t.Errorf("naiveMatch(%q, %q) = %v (in budget: %v), want %v", tc.pattern, tc.image, got, ok, tc.want)
			}
		})
	}
}

var parseErrorCases = []struct {
	pattern string
	column  int
	msg     string
}{
	{``, 1, "empty pattern"},

	// Trailing garbage, which Scarf silently drops.
	{`library}`, 8, "unexpected '}'"},
	{`a,b`, 2, "unexpected ','"},
	{`a\b`, 2, "invalid escape"},

	// Failures Scarf also reports.
	{`library/}`, 9, "unexpected '}'"},
	{`}abc`, 1, "unexpected '}'"},
	{`,`, 1, "unexpected ','"},
	{`a//b`, 3, "empty segment"},
	{`/a`, 1, "empty segment"},
	{`a/`, 3, "empty segment"},
	{`/`, 1, "empty segment"},
	{`{}`, 2, "empty alternative"},
	{`{a,}`, 4, "empty alternative"},
	{`{,a}`, 2, "empty alternative"},
	{`a{b,{}}`, 6, "empty alternative"},

	{`ab{c`, 3, "unclosed '{'"},
	{`{`, 1, "unclosed '{'"},
	{`{a,`, 1, "unclosed '{'"},
	{`{a,{b}`, 1, "unclosed '{'"},
	{`x{a{b`, 4, "unclosed '{'"},
	{`{a}}`, 4, "unexpected '}'"},
	{`{a/b}`, 3, "unexpected '/' in union"},
	{`x/{/}`, 4, "unexpected '/' in union"},
	{`a\`, 2, "invalid escape"},
	{`a\/b`, 2, "invalid escape"},
	{`a{b\c}`, 4, "invalid escape"},

	// Columns count runes, not bytes.
	{`é}`, 2, "unexpected '}'"},
	{`日本/語//x`, 6, "empty segment"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := Parse(tc.pattern)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error %q at column %d", tc.pattern, p, tc.msg, tc.column)
			}
			se, ok := errors.AsType[*SyntaxError](err)
			if !ok {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", tc.pattern, err)
			}
			if se.Column != tc.column || se.Msg != tc.msg {
				t.Errorf("Parse(%q) error = {%d, %q}, want {%d, %q}", tc.pattern, se.Column, se.Msg, tc.column, tc.msg)
			}
		})
	}
}

func TestSyntaxErrorString(t *testing.T) {
	_, err := Parse(`library}`)
	if got, want := err.Error(), "unexpected '}' at column 8"; got != want {
		t.Errorf("Parse(%q) error = %q, want %q", `library}`, got, want)
	}
	_, err = Parse(``)
	if got, want := err.Error(), "empty pattern at column 1"; got != want {
		t.Errorf("Parse(%q) error = %q, want %q", ``, got, want)
	}
}

func TestString(t *testing.T) {
	tests := []string{
		`library/*`,
		`lin{t, ker}/*`,
		`a*b*c`,
		`a\*b`,
		`a\\b`,
		`\{\}\,`,
		`{a,{b,c}}x/**`,
		`{a}`,
	}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			p := mustParse(t, s)
			if got := p.String(); got != s {
				t.Errorf("Parse(%q).String() = %q, want %q", s, got, s)
			}
			q := mustParse(t, p.String())
			if got := q.String(); got != s {
				t.Errorf("Parse(Parse(%q).String()).String() = %q, want %q", s, got, s)
			}
		})
	}
}

func TestStringEscapesLiteralStar(t *testing.T) {
	p := mustParse(t, `a\*b`)
	if got, ok := p.Literal(); got != "a*b" || !ok {
		t.Errorf("Literal() of %q = %q, %v, want %q, true", `a\*b`, got, ok, "a*b")
	}
	if !p.Match([]string{"a*b"}) || p.Match([]string{"aXb"}) {
		t.Errorf("%q must match only the literal star", `a\*b`)
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
		ok      bool
	}{
		{`library/nginx`, "library/nginx", true},
		{`a{b}c/{{d}}`, "abc/d", true},
		{`\{x\,y\}`, "{x,y}", true},
		{`library/*`, "", false},
		{`a/{b,c}`, "", false},
		{`{a{b,c}}`, "", false},
		{`{a*}`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			got, ok := mustParse(t, tc.pattern).Literal()
			if got != tc.want || ok != tc.ok {
				t.Errorf("Literal(%q) = %q, %v, want %q, %v", tc.pattern, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// bigUnion compiles to more instructions than fit in Match's stack buffers.
var bigUnion = "{" + strings.TrimSuffix(strings.Repeat("ab*c,", 400), ",") + "}x"

func TestMatchAllocs(t *testing.T) {
	tests := []struct {
		pattern string
		image   []string
	}{
		{`library/nginx`, []string{"library", "nginx"}},
		{`library/*`, []string{"library", "nginx"}},
		{`l*n*k*er/d{1,2,3,4,5}`, []string{"linker", "d5"}},
		{`{a,b{c,d}}*x`, []string{"bdyyx"}},
		{bigUnion, []string{"abzzzcx"}},
	}
	for _, tc := range tests {
		p := mustParse(t, tc.pattern)
		if !p.Match(tc.image) {
			t.Fatalf("Match(%q, %q) = false, want true", tc.pattern, tc.image)
		}
		if n := testing.AllocsPerRun(100, func() { p.Match(tc.image) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times, want 0", tc.pattern, tc.image, n)
		}
	}
}

// TestPathological runs patterns that take exponential time with plain
// backtracking against long segments. It would hang rather than fail if
// matching were exponential.
func TestPathological(t *testing.T) {
	as := strings.Repeat("a", 256)
	tests := []struct {
		pattern string
		text    string
		want    bool
	}{
		{`*a*a*a*a*a*a*a*b`, as, false},
		{`*a*a*a*a*a*a*a*a`, as, true},
		{strings.Repeat(`*a`, 100) + `*b`, as, false},
		{strings.Repeat(`{a,aa,a*}`, 30) + `b`, as, false},
		{strings.Repeat(`{a,{a,{a,a*}}}`, 30) + `b`, as, false},
		{strings.Repeat(`{*,a}`, 40) + `b`, as, false},
		{strings.Repeat(`{*,a}`, 40) + `a`, as, true},
		{bigUnion, strings.Repeat("ab", 128) + "cy", false},
	}
	for _, tc := range tests {
		p := mustParse(t, tc.pattern)
		if got := p.Match([]string{tc.text}); got != tc.want {
			t.Errorf("Match(%q, [%d bytes]) = %v, want %v", tc.pattern, len(tc.text), got, tc.want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	as := strings.Repeat("a", 256)
	benchmarks := []struct {
		name    string
		pattern string
		image   []string
	}{
		{"literal", `library/nginx`, []string{"library", "nginx"}},
		{"star", `library/*`, []string{"library", "nginx"}},
		{"glob", `l*n*k*er/d{1,2,3,4,5}`, []string{"linker", "d5"}},
		{"union", `acme/{rocket,jet}-{skates,pack}{-dev,-prod}`, []string{"acme", "jet-pack-dev"}},
		{"pathological", `*a*a*a*a*a*a*a*b`, []string{as}},
		{"nested", strings.Repeat(`{a,{a,{a,a*}}}`, 30) + `b`, []string{as}},
		{"big", bigUnion, []string{"abzzzcx"}},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			p := mustParse(b, bm.pattern)
			b.ReportAllocs()
			for b.Loop() {
				p.Match(bm.image)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(`l*n*k*er/d{1,2,3,4,5}`); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFixedPrefix(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		want    int
	}{
		{"acme/*", 1},
		{"acme/tools/*", 2},
		{"acme/{a}/*", 2},
		{"*/x", 0},
		{"acme/rocket", 2},
		{"ac*me/x", 0},
		{"acme/{a,b}", 1},
	} {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.FixedPrefix(); got != tt.want {
			t.Errorf("FixedPrefix(%q) = %d, want %d", tt.pattern, got, tt.want)
		}
	}
}

// TestMatchRefusesSlashInSegment: a decoded "%2F" inside a segment never
// lets a wildcard reach past its segment.
func TestMatchRefusesSlashInSegment(t *testing.T) {
	p, err := Parse("acme/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range [][]string{{"acme", "../other/secret"}, {"acme", "x/y"}, {"acme", "/"}} {
		if p.Match(img) {
			t.Errorf("acme/* matches %q", img)
		}
	}
	if !p.Match([]string{"acme", "rocket"}) {
		t.Error("acme/* does not match acme/rocket")
	}
}
