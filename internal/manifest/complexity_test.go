package manifest

import (
	"fmt"
	"strings"
	"testing"

	"portico/internal/testenv"
)

// TestDecodeLinear decodes documents of n and 8n elements in the shapes
// that make a JSON checker work hardest: many keys in one object (the
// top level, a nested one, a rule), deep nesting with a problem at every
// level, and many problems under one long key. Eight times the input
// must cost at most sixteen times the key comparisons and lookups, and
// at most sixteen times the bytes allocated, problems included (linear
// work gives about 8, quadratic 64).
func TestDecodeLinear(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		build func(n int) string
	}{
		{"top-level keys", 2000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"rules":[]`)
			for i := range n {
				fmt.Fprintf(&b, `,"x-%d":1`, i)
			}
			b.WriteString(`}`)
			return b.String()
		}},
		{"repeated top-level keys", 2000, func(n int) string {
			return `{"rules":[]` + strings.Repeat(`,"x-a":{"b":1}`, n) + `}`
		}},
		{"keys of a nested object", 2000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"rules":[],"x-o":{"k":0`)
			for i := range n {
				fmt.Fprintf(&b, `,"k%d":%d,"k":1`, i, i)
			}
			b.WriteString(`}}`)
			return b.String()
		}},
		{"fields of a rule", 2000, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"rules":[{"type":"file-v1","domain":"a.test","incoming-path":"/x","outgoing-url":null,"package-id":"p"`)
			for i := range n {
				fmt.Fprintf(&b, `,"x-%d":1,"u%d":2`, i, i)
			}
			b.WriteString(`}]}`)
			return b.String()
		}},
		{"rules", 500, func(n int) string {
			var b strings.Builder
			b.WriteString(`{"rules":[`)
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"type":"pixel-v1","domain":"a%d.test","domain":"b.test","bad":1}`, i)
			}
			b.WriteString(`]}`)
			return b.String()
		}},
		// A repeated key at every level of a deep value: each problem
		// names its path, which is as deep as the document.
		{"repeated keys nested deep", 500, func(n int) string {
			return `{"rules":[],"x-a":` + strings.Repeat(`{"a":1,"a":`, n) + "1" + strings.Repeat("}", n) + "}"
		}},
		// Invalid strings deep in arrays, and under a long key.
		{"invalid strings nested deep", 500, func(n int) string {
			return `{"rules":[],"x-a":` + strings.Repeat(`[`, n) + strings.TrimSuffix(strings.Repeat("\"\xff\",", n), ",") + strings.Repeat("]", n) + "}"
		}},
		{"invalid strings under a long key", 500, func(n int) string {
			return `{"rules":[],"x-` + strings.Repeat("k", n) + `":[` + strings.TrimSuffix(strings.Repeat("\"\xff\",", n), ",") + "]}"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			small, large := []byte(tc.build(tc.n)), []byte(tc.build(8*tc.n))
			work := func(data []byte) (int, int) {
				d := &decoder{file: "m.json"}
				_, err := d.document(data)
				return d.work, len(d.errs) + len(Errors(err))
			}
			wa, problems := work(small)
			wb, _ := work(large)
			if wa == 0 {
				t.Fatal("no work counted")
			}
			if r := float64(wb) / float64(wa); r > 16 {
				t.Errorf("%d bytes take %d comparisons and lookups, %d bytes %d (×%.1f), want at most ×16", len(small), wa, len(large), wb, r)
			}
			decode := func(data []byte) func() {
				return func() { _, _ = Decode("m.json", data) }
			}
			decode(small)()
			aa, ab := testenv.Allocated(1, decode(small)), testenv.Allocated(1, decode(large))
			t.Logf("%d bytes: %d problems, %d comparisons, %d bytes allocated; %d bytes: %d comparisons, %d bytes allocated", len(small), problems, wa, aa, len(large), wb, ab)
			if r := float64(ab) / float64(max(aa, 1)); r > 16 {
				t.Errorf("%d bytes allocate %d bytes, %d bytes %d (×%.1f), want at most ×16", len(small), aa, len(large), ab, r)
			}
		})
	}
}

// TestLongFieldPaths: a problem deep in a document names the first and
// last steps of its path, and long keys cut short, whatever the depth.
func TestLongFieldPaths(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"rules":[],"x-a":{"b":{"c":1,"c":2}}}`, "m.json: x-a.b.c: appears more than once"},
		{`{"rules":[],"x-a":` + strings.Repeat(`{"b":`, 20) + `{"c":1,"c":2}` + strings.Repeat("}", 20) + "}",
			"m.json: x-a.b.b.b…b.b.b.c: appears more than once"},
		{`{"rules":[],"x-a":` + strings.Repeat(`[`, 20) + `{"c":1,"c":2}` + strings.Repeat("]", 20) + "}",
			"m.json: x-a[0][0][0]…[0][0][0].c: appears more than once"},
		{`{"rules":[],"x-` + strings.Repeat("é", 40) + `":{"c":1,"c":2}}`,
			"m.json: x-" + strings.Repeat("é", 31) + "….c: appears more than once"},
		{`{"rules":[{"type":"pixel-v1","domain":"a.test","x-a":` + strings.Repeat(`[`, 9) + `{"c":1,"c":2}` + strings.Repeat("]", 9) + `}]}`,
			"m.json: rules[0] (pixel-v1): x-a[0][0][0]…[0][0][0].c: appears more than once"},
	} {
		_, err := Decode("m.json", []byte(c.doc))
		if got := fmt.Sprint(err); got != c.want {
			t.Errorf("Decode(%.60q…) = %q, want %q", c.doc, got, c.want)
		}
	}
}
