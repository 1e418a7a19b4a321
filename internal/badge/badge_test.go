package badge

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var styles = []Style{Flat, FlatSquare, Plastic, ForTheBadge, Social}

// TestGolden pins every style, with and without a logo, and a few
// layouts of the flat style, byte for byte; each is also checked as a
// document (checkSVG).
func TestGolden(t *testing.T) {
	type tc struct {
		name string
		b    Badge
	}
	var cases []tc
	for _, s := range styles {
		cases = append(cases,
			tc{s.String(), Badge{Label: "installs", Message: "1.2k", Style: s}},
			tc{s.String() + "-logo", Badge{Label: "pulls", Message: "3.4M", Color: Blue, Logo: LogoDocker, Style: s}},
		)
	}
	cases = append(cases,
		tc{"flat-not-found", Badge{Label: "installs", Message: "not found", Color: LightGrey}},
		tc{"flat-no-label", Badge{Message: "12k", Color: "e05d44"}},
		tc{"flat-no-label-logo", Badge{Message: "12k", Logo: LogoNPM}},
		tc{"flat-logo-only-label", Badge{Message: "12k", Logo: LogoPython, LabelColor: "3776ab", LogoColor: "ffd43b"}},
		tc{"flat-light", Badge{Label: "companies", Message: "7/month", Color: "eee", LabelColor: "fff"}},
		tc{"flat-latin1", Badge{Label: "téléchargements", Message: "12k"}},
		tc{"for-the-badge-logo-only", Badge{Message: "9.9k", Logo: LogoGitHub, LabelColor: Grey, Style: ForTheBadge}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.b.SVG()
			g := checkSVG(t, got)
			if g.title != c.b.AccessibleText() {
				t.Errorf("title %q, want %q", g.title, c.b.AccessibleText())
			}
			golden := filepath.Join("testdata", c.name+".svg")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", c.name, golden, got)
			}
		})
	}
}

// TestAccessibleText checks what each style says in its title.
func TestAccessibleText(t *testing.T) {
	for _, tc := range []struct {
		b    Badge
		want string
	}{
		{Badge{Label: "installs", Message: "1.2k"}, "installs: 1.2k"},
		{Badge{Message: "1.2k"}, "1.2k"},
		{Badge{Label: "installs", Message: "1.2k", Style: ForTheBadge}, "INSTALLS: 1.2K"},
		{Badge{Label: "installs", Message: "1.2k", Style: Social}, "Installs: 1.2k"},
		{Badge{Label: "a<b", Message: "\"x\"\n"}, "a<b: \"x\""},
	} {
		if got := tc.b.AccessibleText(); got != tc.want {
			t.Errorf("%+v: AccessibleText() = %q, want %q", tc.b, got, tc.want)
		}
	}
}

// TestWidthGrows appends characters one at a time to the label and the
// message, in several scripts, and requires the badge to grow with the
// text and to contain it at every step: no overflow and no overlap
// (checkSVG), and a width that never shrinks and grows by at least as
// much as a narrow letter for each visible character.
func TestWidthGrows(t *testing.T) {
	alphabets := map[string]string{
		"ascii":    "installs-per-week_WMW|il1.0",
		"latin1":   "ÀÉÎõüßçñÆØåœ",
		"extended": "ŁĄŻŹĆŃŚĘőűŧƀǅ",
		"greek":    "ΑΒΓΔλμνξπσω",
		"cyrillic": "ЖЩЫЮЯжщыюя",
		"hebrew":   "שלוםעולם",
		"cjk":      "下载次数統計한국어",
		"emoji":    "🚀📦🐳",
		"symbols":  "★☆✓→€™",
		"other":    "ქართულიதமிழ்",
	}
	for name, alphabet := range alphabets {
		for _, s := range styles {
			for _, part := range []string{"label", "message"} {
				prev := 0.0
				var text []rune
				for _, r := range alphabet {
					text = append(text, r)
					b := Badge{Label: "installs", Message: "42", Style: s}
					if part == "label" {
						b.Label = string(text)
					} else {
						b.Message = string(text)
					}
					g := checkSVG(t, b.SVG())
					if g.width < prev {
						t.Fatalf("%s %s %s: %q is %v wide, shorter than %v before", name, s, part, string(text), g.width, prev)
					}
					if g.width < prev+2 && !unicode.Is(unicode.Mn, r) {
						t.Errorf("%s %s %s: adding %q grew the badge from %v to %v", name, s, part, r, prev, g.width)
					}
					prev = g.width
				}
			}
		}
	}
}

// TestLongText checks the longest label and the longest numbers: a label
// is cut to MaxText characters, and the badge holds it.
func TestLongText(t *testing.T) {
	long := strings.Repeat("W", 10000)
	for _, s := range styles {
		b := Badge{Label: long, Message: Metric(9223372036854775807), Style: s}
		g := checkSVG(t, b.SVG())
		if n := utf8.RuneCountInString(g.title); n > 2*MaxText+2 {
			t.Errorf("%s: title has %d characters", s, n)
		}
		// 64 of the widest capital at 11 px (or spaced out at 10 px),
		// with room for the rest.
		if g.width > 64*16+200 {
			t.Errorf("%s: a capped label gave a badge %v wide", s, g.width)
		}
		for _, n := range []int64{0, 7, 999, 1000, 999999, 1_000_000_000, -5} {
			checkSVG(t, Badge{Label: "installs", Message: Metric(n), Style: s}.SVG())
		}
	}
}

// TestWidths checks the tables against DejaVu Sans's advance widths in
// font units (2048 per em), from the font's hmtx table, and the
// documented fallbacks.
func TestWidths(t *testing.T) {
	px := func(units int) int { return (units*11000 + 1024) / 2048 }
	for _, tc := range []struct {
		f    *face
		r    rune
		want int
	}{
		{&sans, ' ', px(651)},
		{&sans, '0', px(1303)},
		{&sans, 'm', px(1995)},
		{&sans, 'i', px(569)},
		{&sans, 'W', px(2025)},
		{&sans, '\u0301', 0},     // combining acute accent
		{&sans, '下', 11000},      // CJK: one em
		{&sans, '🚀', 11000},      // emoji: one em
		{&sans, 'ሀ', sans.other}, // Ethiopic: not in the table
		{&sansBold, 'த', sansBold.other},
	} {
		if got := tc.f.rune(tc.r); got != tc.want {
			t.Errorf("width of %q = %d, want %d", tc.r, got, tc.want)
		}
	}
	if sans.other != px(1995) {
		t.Errorf("fallback width %d, want that of 'm' (%d)", sans.other, px(1995))
	}
	if got, want := sans.milli("installs"), sans.rune('i')*2+sans.rune('n')+sans.rune('s')*2+sans.rune('t')+sans.rune('a')+sans.rune('l')*2-sans.rune('i'); got != want {
		t.Errorf("milli(installs) = %d, want %d", got, want)
	}
}

// TestEndpoint checks the endpoint JSON against shields.io's schema: the
// fields it knows, colours it reads, logoColor only with a named logo.
func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		b    Badge
		want string
	}{
		{Badge{Label: "installs", Message: "1.2k"},
			`{"schemaVersion":1,"label":"installs","message":"1.2k","color":"brightgreen"}`},
		{Badge{Label: "", Message: "3", Color: "ff0", LabelColor: Blue, Logo: LogoDocker, LogoColor: "fff", Style: ForTheBadge},
			`{"schemaVersion":1,"label":"","message":"3","color":"ff0","labelColor":"blue","namedLogo":"docker","logoColor":"fff","style":"for-the-badge"}`},
		{Badge{Label: "a\x00b", Message: "x", LogoColor: "fff"},
			`{"schemaVersion":1,"label":"ab","message":"x","color":"brightgreen"}`},
	} {
		got, err := json.Marshal(tc.b.Endpoint())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.b, got, tc.want)
		}
	}
}
