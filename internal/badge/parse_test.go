package badge

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestMetric holds shields.io's own cases for its metric formatter (those
// an int64 can hold) and ties, where JavaScript's rounding of the float
// quotient decides: 1.25 rounds up, 1.15 is 1.1499… and rounds down.
func TestMetric(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1k"}, {1100, "1.1k"}, {10100, "10k"},
		{999499, "999k"}, {999500, "1M"}, {1100000, "1.1M"}, {1578896212, "1.6G"},
		{20000000000, "20G"}, {15788962120, "16G"}, {9949999999999, "9.9T"},
		{9950000000001, "10T"}, {4000000000000001, "4P"}, {4200000000000001, "4.2P"},
		{7100700010058000200, "7.1E"}, {9223372036854775807, "9.2E"},
		{1050, "1.1k"}, {1150, "1.1k"}, {1250, "1.3k"}, {1350, "1.4k"}, {1450, "1.4k"},
		{2250, "2.3k"}, {9949, "9.9k"}, {9950, "9.9k"}, {9999, "10k"}, {12345, "12k"},
		{99949, "100k"}, {123456, "123k"}, {1049999, "1M"}, {1050000, "1.1M"}, {3400000, "3.4M"},
		{-1, "-1"}, {-1250, "-1.3k"},
	} {
		if got := Metric(tc.n); got != tc.want {
			t.Errorf("Metric(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestMetricNoAlloc(t *testing.T) {
	var buf [16]byte
	n := testing.AllocsPerRun(100, func() { AppendMetric(buf[:0], 1234567) })
	if n != 0 {
		t.Errorf("AppendMetric allocates %v times", n)
	}
}

func TestParseColor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Color
		hex  string
	}{
		{"brightgreen", BrightGreen, "#4c1"},
		{"success", BrightGreen, "#4c1"},
		{"important", Orange, "#fe7d37"},
		{"critical", Red, "#e05d44"},
		{"informational", Blue, "#007ec6"},
		{"inactive", LightGrey, "#9f9f9f"},
		{"gray", Grey, "#555"},
		{"lightgray", LightGrey, "#9f9f9f"},
		{"yellowgreen", YellowGreen, "#a4a61d"},
		{"ABC", "abc", "#abc"},
		{"#abc", "abc", "#abc"},
		{"#A1B2C3", "a1b2c3", "#a1b2c3"},
		{"a1b2c3", "a1b2c3", "#a1b2c3"},
		{"", "", ""},
		{"#", "", ""},
		{"abcd", "", ""},
		{"#ggg", "", ""},
		{"Red", "", ""},
		{"red\"/><script>", "", ""},
		{"rgb(1,2,3)", "", ""},
		{"##abc", "", ""},
		{"abc ", "", ""},
	} {
		got, ok := ParseColor(tc.in)
		if got != tc.want || ok != (tc.want != "") || got.Hex() != tc.hex {
			t.Errorf("ParseColor(%q) = %q, %v (hex %q), want %q (hex %q)", tc.in, got, ok, got.Hex(), tc.want, tc.hex)
		}
	}
}

func TestLightColor(t *testing.T) {
	for c, want := range map[Color]bool{BrightGreen: false, Yellow: false, LightGrey: false, Grey: false, "fff": true, "eee": true, "ffd43b": true, "000": false} {
		if got := c.light(); got != want {
			t.Errorf("%s.light() = %v, want %v", c, got, want)
		}
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("é", 100)
	for _, tc := range []struct{ in, want string }{
		{"installs", "installs"},
		{"a\nb\tc\x00d\x7f", "abcd"},
		{"\u202eevil\u202c", "evil"},     // bidirectional override
		{"zero\u200bwidth", "zerowidth"}, // zero-width space
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"\ufffe\uffffok", "ok"},
		{"private\ue000use", "privateuse"},
		{"<&>\"'", "<&>\"'"},
		{long, strings.Repeat("é", MaxText-1) + "…"},
		{strings.Repeat("x", MaxText), strings.Repeat("x", MaxText)},
		{strings.Repeat("x", MaxText) + "\x00\x00", strings.Repeat("x", MaxText)},
	} {
		got := Clean(tc.in)
		if got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > MaxText || !utf8.ValidString(got) {
			t.Errorf("Clean(%q) = %q: %d characters, valid %v", tc.in, got, n, utf8.ValidString(got))
		}
		if Clean(got) != got {
			t.Errorf("Clean(Clean(%q)) changed it again", tc.in)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Clean("installs per week") }); n != 0 {
		t.Errorf("Clean of clean text allocates %v times", n)
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want Options
	}{
		{"", Options{}},
		{"label=downloads&color=blue&style=for-the-badge", Options{Label: "downloads", HasLabel: true, Color: Blue, Style: ForTheBadge}},
		{"label=", Options{HasLabel: true}},
		{"label=a%20b+c", Options{Label: "a b c", HasLabel: true}},
		{"label-color=%23ABC&logo=Docker&logo-color=fff", Options{LabelColor: "abc", Logo: LogoDocker, LogoColor: "fff"}},
		{"labelColor=red&logoColor=green&logo=node", Options{LabelColor: Red, LogoColor: Green, Logo: LogoNode}},
		{"color=blue&color=red", Options{Color: Blue}},
		{"color=nope&color=red", Options{}},
		{"style=round&logo=unknown", Options{}},
		{"label=" + strings.Repeat("a", maxValue+1), Options{}},
		{"label=%3Cscript%3E", Options{Label: "<script>", HasLabel: true}},
	} {
		if got := ParseQuery(tc.q); got != tc.want {
			t.Errorf("ParseQuery(%q) =\n %+v, want\n %+v", tc.q, got, tc.want)
		}
	}
}

// TestHostile feeds what an attacker would put in a query to every style
// and requires a well-formed badge with nothing injected: checkSVG
// refuses active elements and event attributes; the text is there,
// escaped; colours, logos and styles that are not in their closed sets
// give the defaults.
func TestHostile(t *testing.T) {
	labels := []string{
		`<script>alert(1)</script>`,
		`"><svg onload=alert(1)>`,
		`' onmouseover='alert(1)`,
		`]]><!--`,
		`&amp;&lt;&#0;&#x1F;`,
		"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"boom\">]>&e;",
		"\x00\x01\x1b[31m\u2028\u2029",
		strings.Repeat("<&>", 5000),
		strings.Repeat("\xff", 300),
		"\u0301\u0301", // marks alone take no room
	}
	bad := []string{`red" onload="alert(1)`, `url(javascript:alert(1))`, `#fff"/><script>`, `docker"`, `for-the-badge" x="`}
	for _, s := range styles {
		for _, label := range labels {
			for _, v := range bad {
				q := url.Values{"label": {label}, "color": {v}, "label-color": {v}, "logo": {v}, "logo-color": {v}, "style": {s.String()}}
				o := ParseQuery(q.Encode())
				if o.Color != "" || o.LabelColor != "" || o.LogoColor != "" || o.Logo != NoLogo {
					t.Errorf("hostile values accepted: %+v", o)
				}
				b := o.Apply(Badge{Label: "installs", Message: label})
				doc := b.SVG()
				g := checkSVG(t, doc)
				if g.title != b.AccessibleText() || !strings.HasSuffix(g.title, ": "+messageAs(s, label)) {
					t.Errorf("%s: title %q, want %q ending in the message %q", s, g.title, b.AccessibleText(), messageAs(s, label))
				}
				var e Endpoint
				js, err := json.Marshal(b.Endpoint())
				if err != nil || json.Unmarshal(js, &e) != nil || e.Message != Clean(label) {
					t.Errorf("endpoint JSON %s: %v", js, err)
				}
			}
		}
	}
}

// messageAs is label, used as a message, as style s shows it.
func messageAs(s Style, label string) string {
	if s == ForTheBadge {
		return strings.ToUpper(Clean(label))
	}
	return Clean(label)
}

// FuzzBadge parses any query into options and draws any message with
// them: the result is always a well-formed badge that holds its text
// (checkSVG), and its endpoint JSON always decodes to the same cleaned
// text. The style comes from the query, as in a badge URL; the seeds
// have each.
func FuzzBadge(f *testing.F) {
	for _, s := range styles {
		f.Add("logo=docker&label=pulls&style="+s.String(), "3.4M")
	}
	f.Add("label=installs&color=blue&style=flat", "1.2k")
	f.Add("label=%3Cscript%3E&logo=docker&logo-color=%23fff&style=for-the-badge", "<b>&amp;</b>")
	f.Add("labelColor=abc&label=%E4%B8%8B%E8%BD%BD&style=social&logo=python", "12k")
	f.Add("label=\u202e\x00&color=%22", "\xff\xfe")
	f.Add("label=%CC%81&style=social", "\u0301")
	f.Fuzz(func(t *testing.T, rawQuery, message string) {
		o := ParseQuery(rawQuery)
		b := o.Apply(Badge{Label: "installs", Message: message})
		g := checkSVG(t, b.SVG())
		if g.title != b.AccessibleText() {
			t.Fatalf("title %q, want %q", g.title, b.AccessibleText())
		}
		var e Endpoint
		js, err := json.Marshal(b.Endpoint())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, &e); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if e.Label != Clean(b.Label) || e.Message != Clean(message) {
			t.Fatalf("endpoint %+v for label %q, message %q", e, b.Label, message)
		}
	})
}

func TestParseLogo(t *testing.T) {
	for _, slug := range Logos() {
		l, ok := ParseLogo(strings.ToUpper(slug))
		if !ok || l.String() != slug {
			t.Errorf("ParseLogo(%q) = %v, %v", strings.ToUpper(slug), l, ok)
		}
		// Paths go into the SVG as they are: they must hold path data
		// only.
		if p := logos[l].path; strings.Trim(p, "0123456789.,- MmLlHhVvCcSsQqTtAaZz") != "" || p == "" {
			t.Errorf("logo %s: path holds more than path data", slug)
		}
	}
	for alias, want := range map[string]Logo{"node": LogoNode, "golang": LogoGo, "k8s": LogoKubernetes} {
		if l, ok := ParseLogo(alias); !ok || l != want {
			t.Errorf("ParseLogo(%q) = %v, want %v", alias, l, want)
		}
	}
	for _, bad := range []string{"", "dockers", "docker\"", strings.Repeat("a", 100)} {
		if l, ok := ParseLogo(bad); ok || l != NoLogo {
			t.Errorf("ParseLogo(%q) = %v, %v", bad, l, ok)
		}
	}
}
