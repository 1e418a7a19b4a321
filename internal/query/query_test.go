package query

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw  string
		want []Item
	}{
		{"", nil},
		{"?", nil},
		{"?a=1", []Item{{"a", "1", true}}},
		{"a=1", []Item{{"a", "1", true}}},
		{"?flag", []Item{{"flag", "", false}}},
		{"?flag=", []Item{{"flag", "", true}}},
		{"?a=1&&b=2", []Item{{"a", "1", true}, {"", "", false}, {"b", "2", true}}},
		{"?a=1;b=2", []Item{{"a", "1", true}, {"b", "2", true}}},
		{"?q=hello%20world&x", []Item{{"q", "hello world", true}, {"x", "", false}}},
		{"?sp=a+b", []Item{{"sp", "a b", true}}},
		{"?%zz=%41&x=%E2%82%AC", []Item{{"%zz", "A", true}, {"x", "€", true}}},
		{"?k=a=b", []Item{{"k", "a=b", true}}},
		{"?%", []Item{{"%", "", false}}},
		{"?a=%2", []Item{{"a", "%2", true}}},
	}
	for _, tt := range tests {
		if got := Parse(tt.raw); !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		items []Item
		want  string
	}{
		{nil, ""},
		{[]Item{{"q", "a b", true}, {"k", "", false}}, "?q=a%20b&k"},
		{[]Item{{"e", "", true}}, "?e="},
		{[]Item{{"%zz", "A", true}, {"x", "€", true}}, "?%25zz=A&x=%E2%82%AC"},
		{[]Item{{"a:b", "c/d?e#f", true}}, "?a%3Ab=c%2Fd%3Fe%23f"},
		{[]Item{{"safe", "AZaz09-_.~", true}}, "?safe=AZaz09-_.~"},
	}
	for _, tt := range tests {
		if got := string(AppendRender(nil, tt.items)); got != tt.want {
			t.Errorf("AppendRender(%+v) = %q, want %q", tt.items, got, tt.want)
		}
	}
}

func TestUnescapeNoAlloc(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { _ = Unescape("plain-value_1.0") })
	if n != 0 {
		t.Errorf("Unescape of a plain value allocates %v times, want 0", n)
	}
}

// FuzzParse checks that rendering what Parse read and parsing it again
// gives the same items: Render escapes everything Parse could misread.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "?", "?a=1&&b=2", "?a=1;b=2", "?sp=a+b", "?%zz=%41&x=%E2%82%AC", "?flag", "?k=a=b", "?%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		items := Parse(raw)
		rendered := string(AppendRender(nil, items))
		again := Parse(rendered)
		if !slices.Equal(items, again) {
			t.Fatalf("Parse(%q) = %+v; rendered %q parses to %+v", raw, items, rendered, again)
		}
		if strings.ContainsAny(rendered[min(1, len(rendered)):], "?#; +\r\n") {
			t.Fatalf("rendered query %q holds a character that must be escaped", rendered)
		}
		// Every escaped value decodes back with the standard library.
		for _, it := range items {
			esc := string(AppendEscape(nil, it.Value))
			if dec, err := url.PathUnescape(esc); err != nil || dec != it.Value {
				t.Fatalf("AppendEscape(%q) = %q, which decodes to %q (%v)", it.Value, esc, dec, err)
			}
		}
	})
}
