package query

import (
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strconv"
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

func TestTooMany(t *testing.T) {
	items := func(n int, sep string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "k" + strconv.Itoa(i)
		}
		return strings.Join(parts, sep)
	}
	for _, tt := range []struct {
		raw  string
		want bool
	}{
		{"", false},
		{"?" + items(MaxItems, "&"), false},
		{"?" + items(MaxItems+1, "&"), true},
		{items(MaxItems+1, ";"), true},
		{"?" + strings.Repeat("&", MaxItems-1), false}, // 1000 empty items
		{"?" + strings.Repeat("&", MaxItems), true},
		{"?q=" + strings.Repeat("x", 60000), false},
	} {
		if got := TooMany(tt.raw); got != tt.want {
			t.Errorf("TooMany(%.40q… %d bytes) = %v, want %v", tt.raw, len(tt.raw), got, tt.want)
		}
		if n := len(Parse(tt.raw)); (n > MaxItems) != tt.want {
			t.Errorf("TooMany disagrees with Parse (%d items) for %.40q", n, tt.raw)
		}
	}
	long := "?" + items(MaxItems+1, "&")
	if n := testing.AllocsPerRun(10, func() { TooMany(long) }); n != 0 {
		t.Errorf("TooMany allocates %v times, want 0", n)
	}
}

// keepFirstReference is KeepFirst as the definition says it, comparing
// every pair.
func keepFirstReference(items []Item) []Item {
	var out []Item
	for i, it := range items {
		if !slices.ContainsFunc(items[:i], func(o Item) bool { return o.Key == it.Key }) {
			out = append(out, it)
		}
	}
	return out
}

func TestKeepFirst(t *testing.T) {
	for _, raw := range []string{
		"", "a=1&b=2&a=3", "a&a=&a=1", "&&x", "k=1;k=2&j",
		// Past the size where a map is used.
		"a=0&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q&r&s&a=1&b=2&t&s",
	} {
		items := Parse(raw)
		want := keepFirstReference(items)
		if got := KeepFirst(slices.Clone(items)); !slices.Equal(got, want) {
			t.Errorf("KeepFirst(Parse(%q)) = %+v, want %+v", raw, got, want)
		}
	}
}

// TestMergeLinear counts the key comparisons and lookups of KeepFirst
// over n and 8n distinct keys, the worst case of comparing each key with
// all kept before it, and the allocations of Parse: 8 times the keys
// must cost at most 16 times the work (linear gives 8, quadratic 64).
func TestMergeLinear(t *testing.T) {
	build := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "&key%d=value%%20%d", i, i)
		}
		return b.String()
	}
	const n = 100
	small, large := Parse(build(n)), Parse(build(8*n))
	_, a := keepFirst(slices.Clone(small))
	_, b := keepFirst(slices.Clone(large))
	if ratio := float64(b) / float64(a); ratio > 16 {
		t.Errorf("KeepFirst: %d keys take %d operations, %d keys %d (×%.1f), want at most ×16", len(small), a, len(large), b, ratio)
	}
	allocs := func(raw string) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_ = Parse(raw)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	if pa, pb := allocs(build(n)), allocs(build(8*n)); float64(pb)/float64(pa) > 16 {
		t.Errorf("Parse: %d keys allocate %d bytes, %d keys %d (×%.1f), want at most ×16", n, pa, 8*n, pb, float64(pb)/float64(pa))
	}
}

// FuzzKeepFirst checks KeepFirst against its definition: the first item
// of each key, in order, and nothing else.
func FuzzKeepFirst(f *testing.F) {
	for _, s := range []string{"a=1&b=2&a=3", "a&a=&a=1", strings.Repeat("k&j=1&", 20) + "z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		items := Parse(raw)
		want := keepFirstReference(items)
		got := KeepFirst(slices.Clone(items))
		if !slices.Equal(got, want) {
			t.Fatalf("KeepFirst(Parse(%q)) = %+v, want %+v", raw, got, want)
		}
	})
}
