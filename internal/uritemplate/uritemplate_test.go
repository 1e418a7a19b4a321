package uritemplate

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) *Template {
	t.Helper()
	tp, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return tp
}

// matchWith runs one matcher mode directly, bypassing the quick checks of
// MatchAppend, and reports the work done.
func matchWith(t *Template, in string, mode int) (vars []Var, ok bool, work int) {
	if t.names() == 0 {
		return nil, in == t.literal(), 0
	}
	m := new(matcher)
	vars, ok = m.run(t, nil, in, mode)
	return vars, ok, m.work
}

func sameVars(a, b []Var) bool {
	return len(a) == 0 && len(b) == 0 || reflect.DeepEqual(a, b)
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		t.Run(c.tmpl+" "+c.in, func(t *testing.T) {
			tp := mustParse(t, c.tmpl)
			got, ok := tp.Match(c.in)
			if ok != c.ok || !sameVars(got, c.want) {
				t.Errorf("Match(%q, %q) = %q, %v, want %q, %v", c.tmpl, c.in, got, ok, c.want, c.ok)
			}
			for _, mode := range []int{modePlain, modeTable} {
				got, ok, _ := matchWith(tp, c.in, mode)
				if ok != c.ok || !sameVars(got, c.want) {
					t.Errorf("Match(%q, %q) in mode %d = %q, %v, want %q, %v", c.tmpl, c.in, mode, got, ok, c.want, c.ok)
				}
			}
			ref, ok, exceeded := refMatch(tp, c.in, 1e6)
			if exceeded || ok != c.ok || !sameVars(ref, c.want) {
				t.Errorf("reference Match(%q, %q) = %q, %v, want %q, %v", c.tmpl, c.in, ref, ok, c.want, c.ok)
			}
		})
	}
}

func TestMatchAppendKeepsPrefix(t *testing.T) {
	tp := mustParse(t, "/{a}/{b}")
	dst := []Var{{"x", "1"}}
	got, ok := tp.MatchAppend(dst, "/p/q")
	want := []Var{{"x", "1"}, {"a", "p"}, {"b", "q"}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("MatchAppend = %q, %v, want %q, true", got, ok, want)
	}
	got, ok = tp.MatchAppend(dst, "/p")
	if ok || !reflect.DeepEqual(got, dst) {
		t.Errorf("MatchAppend(no match) = %q, %v, want %q, false", got, ok, dst)
	}
}

func TestExpand(t *testing.T) {
	for _, c := range expandCases {
		t.Run(c.tmpl, func(t *testing.T) {
			tp := mustParse(t, c.tmpl)
			got, ok := tp.Expand(c.vars)
			if ok != c.ok || got != c.want {
				t.Errorf("Expand(%q, %q) = %q, %v, want %q, %v", c.tmpl, c.vars, got, ok, c.want, c.ok)
			}
			dst := []byte("prefix:")
			out, ok := tp.AppendExpand(dst, c.vars)
			want := "prefix:" + c.want
			if ok != c.ok || string(out) != want {
				t.Errorf("AppendExpand(%q, %q) = %q, %v, want %q, %v", c.tmpl, c.vars, out, ok, want, c.ok)
			}
		})
	}
}

func TestExpandEmpty(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{"{?x}", "?x="},
		{"{&x,y}", "&x=&y="},
		{"{;x,y}", ";x;y"},
		{"{x,y}", ","},
		{"{.x}", "."},
		{"{/x}", "/"},
		{"{#x}", "#"},
		{"/{+path}", "/"},
		{"/something-here/windows/ver1.0.tar.gz", "/something-here/windows/ver1.0.tar.gz"},
		{"/avisstoragebox/{platform}/{version}", "/avisstoragebox//"},
		{"/downloads/{f}", "/downloads/"},
		{"/café{x:3}", "/caf%C3%A9"},
	} {
		if got := mustParse(t, c.tmpl).ExpandEmpty(); got != c.want {
			t.Errorf("ExpandEmpty(%q) = %q, want %q", c.tmpl, got, c.want)
		}
	}
}

// specificity is the file-v1 sort key of section 3.3.
func specificity(t *Template) []string {
	var key []string
	for _, s := range strings.Split(t.ExpandEmpty(), "/") {
		if s != "" {
			key = append(key, s)
		}
	}
	return key
}

func TestSortKey(t *testing.T) {
	keys := map[string][]string{
		"/something-here/windows/ver1.0.tar.gz": {"something-here", "windows", "ver1.0.tar.gz"},
		"/avisstoragebox/{platform}/{version}":  {"avisstoragebox"},
		"/{+path}":                              nil,
		"/downloads/{f}":                        {"downloads"},
	}
	for tmpl, want := range keys {
		if got := specificity(mustParse(t, tmpl)); !slices.Equal(got, want) {
			t.Errorf("specificity(%q) = %q, want %q", tmpl, got, want)
		}
	}
	for _, c := range sortKeyCases {
		a, b := specificity(mustParse(t, c[0])), specificity(mustParse(t, c[1]))
		if slices.Compare(a, b) <= 0 {
			t.Errorf("specificity(%q) = %q should sort before specificity(%q) = %q", c[0], a, c[1], b)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range syntaxCases {
		t.Run(c.tmpl, func(t *testing.T) {
			tp, err := Parse(c.tmpl)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, %v, want a *SyntaxError", c.tmpl, tp, err)
			}
			if se.Column != c.col || se.Msg != c.msg {
				t.Errorf("Parse(%q) error = column %d %q, want column %d %q", c.tmpl, se.Column, se.Msg, c.col, c.msg)
			}
			if want := c.msg + " at column "; !strings.HasPrefix(se.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", se.Error(), want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	for _, s := range validTemplates {
		tp, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if tp.String() != s {
			t.Errorf("Parse(%q).String() = %q", s, tp.String())
		}
	}
}

func TestParts(t *testing.T) {
	tp := mustParse(t, "/{a}/x{?b,a:3}{+c*}é")
	want := []Part{
		{Literal: "/"},
		{Expr: &Expr{Vars: []VarSpec{{Name: "a"}}}},
		{Literal: "/x"},
		{Expr: &Expr{Op: '?', Vars: []VarSpec{{Name: "b"}, {Name: "a", Prefix: 3}}}},
		{Expr: &Expr{Op: '+', Vars: []VarSpec{{Name: "c", Explode: true}}}},
		{Literal: "é"},
	}
	if got := tp.Parts(); !reflect.DeepEqual(got, want) {
		t.Errorf("Parts() = %+v, want %+v", got, want)
	}
	if got, want := tp.Vars(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Vars() = %q, want %q", got, want)
	}
	if !tp.HasVars() || mustParse(t, "/static").HasVars() {
		t.Error("HasVars is wrong")
	}
	for name, want := range map[string]bool{"a": true, "b": true, "c": true, "x": false, "é": false, "": false} {
		if got := tp.HasVar(name); got != want {
			t.Errorf("HasVar(%q) = %v, want %v", name, got, want)
		}
	}
	// The leading literal is the URL form of the template's first part.
	for tmpl, want := range map[string]string{"/café/{x}": "/caf%C3%A9/", "{x}/a": "", "/static?q=1": "/static?q=1", "": ""} {
		if got := mustParse(t, tmpl).LeadingLiteral(); got != want {
			t.Errorf("LeadingLiteral(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

// TestAppendExpandEmpty appends to what the buffer holds.
func TestAppendExpandEmpty(t *testing.T) {
	tp := mustParse(t, "/d/{a}{?b}")
	if got := string(tp.AppendExpandEmpty([]byte("x:"))); got != "x:/d/?b=" {
		t.Errorf("AppendExpandEmpty = %q, want %q", got, "x:/d/?b=")
	}
}

func TestCapturesQuery(t *testing.T) {
	for _, c := range capturesCases {
		if got := mustParse(t, c.tmpl).CapturesQuery(); got != c.want {
			t.Errorf("CapturesQuery(%q) = %v, want %v", c.tmpl, got, c.want)
		}
	}
}

func TestSplitQuery(t *testing.T) {
	type item struct {
		key, value string // value "-" for nil
		optional   bool
	}
	for _, c := range []struct {
		tmpl, path string
		items      []item
		ok         bool
	}{
		{"/data?drilldowns={drilldowns}&measures={measures}", "/data",
			[]item{{"drilldowns", "{drilldowns}", false}, {"measures", "{measures}", false}}, true},
		{"/dl{?version,os}", "/dl", []item{{"version", "{version}", true}, {"os", "{os}", true}}, true},
		{"/x?flag&v={v}", "/x", []item{{"flag", "-", false}, {"v", "{v}", false}}, true},
		{"/v?v={major}.{minor}", "/v", []item{{"v", "{major}.{minor}", false}}, true},
		{"/dl{?v:3}", "/dl", []item{{"v", "{v:3}", true}}, true},
		{"/{p}/x?fmt=json;v={v}", "/{p}/x", []item{{"fmt", "json", false}, {"v", "{v}", false}}, true},
		{"/a?x={x}{&y,z}", "/a", []item{{"x", "{x}", false}, {"y", "{y}", true}, {"z", "{z}", true}}, true},
		{"/a?flag{&y}", "/a", []item{{"flag", "-", false}, {"y", "{y}", true}}, true},
		{"/a{?x}&k=1", "/a", []item{{"x", "{x}", true}, {"k", "1", false}}, true},
		{"/a?a+b%20c={x}&e=", "/a", []item{{"a b c", "{x}", false}, {"e", "", false}}, true},
		{"/a?x=b=c", "/a", []item{{"x", "b=c", false}}, true},
		{"/a{?%41}", "/a", []item{{"A", "{%41}", true}}, true},

		{"/data", "", nil, false},
		{"/data?", "", nil, false},
		{"/{+path}", "", nil, false},
		{"/a?x={x}#frag", "", nil, false},
		{"/a?{k}={v}", "", nil, false},
		{"/a?k{x}=1", "", nil, false},
		{"/dl{?v*}", "", nil, false},
		{"/a?x={x*}", "", nil, false},
		{"/a?x={+x}", "", nil, false},
		{"/a?x={#y}", "", nil, false},
		{"/a?x={x}{?y}", "", nil, false},
		{"/x?{?a}", "", nil, false},
		{"/x?{&a}", "", nil, false},
		{"/a?x={x}&&y=1", "", nil, false},
		{"/a?=1", "", nil, false},
		{"/a?x=1&", "", nil, false},
		{"/dl{?v}/x", "", nil, false},
		{"/dl{?v}{x}", "", nil, false},
	} {
		t.Run(c.tmpl, func(t *testing.T) {
			path, items, ok := mustParse(t, c.tmpl).SplitQuery()
			if ok != c.ok {
				t.Fatalf("SplitQuery(%q) ok = %v, want %v", c.tmpl, ok, c.ok)
			}
			if !ok {
				return
			}
			if path.String() != c.path {
				t.Errorf("SplitQuery(%q) path = %q, want %q", c.tmpl, path, c.path)
			}
			var got []item
			for _, it := range items {
				v := "-"
				if it.Value != nil {
					v = it.Value.String()
				}
				got = append(got, item{it.Key, v, it.Optional})
			}
			if !reflect.DeepEqual(got, c.items) {
				t.Errorf("SplitQuery(%q) items = %+v, want %+v", c.tmpl, got, c.items)
			}
		})
	}
}

func TestSplitQueryValueMatchesRaw(t *testing.T) {
	_, items, ok := mustParse(t, "/v?v={major}.{minor}").SplitQuery()
	if !ok || len(items) != 1 {
		t.Fatalf("SplitQuery failed: %v %v", items, ok)
	}
	got, ok := items[0].Value.Match("1.2%2B3")
	if want := vs("major", "1", "minor", "2+3"); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Match = %q, %v, want %q", got, ok, want)
	}
}

// The plain search is exponential on adjacent variables; these inputs
// must be handled by the table in linear work.
func TestPathologicalInputsAreLinear(t *testing.T) {
	tp := mustParse(t, "/{a}{b}{c}{d}{e}{f}x")
	as := strings.Repeat("a", 8000)
	for _, c := range []struct {
		in   string
		want bool
	}{
		{as, false},
		{"/" + as, false},
		{"/" + as + "%FFx", false},
		{"/" + as + "!x", false},
		{"/" + as + ",x", true}, // trailing separator
		{"/" + as + "x", true},
	} {
		if _, ok := tp.Match(c.in); ok != c.want {
			t.Errorf("Match(%q, %d bytes) = %v, want %v", tp, len(c.in), ok, c.want)
		}
		_, ok, work := matchWith(tp, c.in, modeHybrid)
		if ok != c.want {
			t.Errorf("hybrid Match(%q, %d bytes) = %v, want %v", tp, len(c.in), ok, c.want)
		}
		// Plain budget plus one table pass, plus a search that never
		// backtracks.
		if limit := plainBudget(len(c.in)) + (tp.rows()+4)*(len(c.in)+2); work > limit {
			t.Errorf("Match(%q, %d bytes) did %d units of work, want at most %d", tp, len(c.in), work, limit)
		}
	}
}

func TestRepeatedNamesBudget(t *testing.T) {
	tp := mustParse(t, "/{v}{a}{b}{c}/{v}")
	// A consistent parse exists but only after trying every split of the
	// long run for each shorter v: past the budget this is no match.
	long := "/" + strings.Repeat("a", 300) + "/" + strings.Repeat("a", 150)
	if _, ok := tp.Match(long); ok {
		t.Errorf("Match(%q, %d bytes) = true, want false once the budget is spent", tp, len(long))
	}
	short := "/" + strings.Repeat("a", 12) + "/" + strings.Repeat("a", 6)
	got, ok := tp.Match(short)
	want := vs("v", "aaaaaa", "a", "a", "b", "a", "c", "aaaa")
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Match(%q, %q) = %q, %v, want %q, true", tp, short, got, ok, want)
	}
}

// TestRepeatedNamesLongValues bounds the work of templates that repeat a
// name on long, attacker-chosen paths: every consistency check costs in
// proportion to the value, and that cost is charged to the budget.
func TestRepeatedNamesLongValues(t *testing.T) {
	cases := []struct {
		tmpl, in string
		want     bool
	}{
		{"/{v}/{v}", "/" + strings.Repeat("a", 4000) + "/" + strings.Repeat("a", 4000), true},
		{"/{v}/{v}", "/" + strings.Repeat("a", 4000) + "/" + strings.Repeat("b", 4000), false},
		{"/{v}/{v}", "/" + strings.Repeat("%09", 1300) + "/" + strings.Repeat("%09", 1300), true},
		{"/{v}/{v}", "/" + strings.Repeat("%09", 1300) + "/" + strings.Repeat("%09", 1300) + "x", false},
		{"{0}{0}{0}{0}", strings.Repeat("%09", MaxInput/3), false},
		{"/{a}{a}", "/" + strings.Repeat("a", MaxInput-2) + "b", false},
		{"/{+a}/{+a}", "/" + strings.Repeat("a/", MaxInput/2-1), false},
	}
	for _, c := range cases {
		if len(c.in) > MaxInput {
			t.Fatalf("input of %d bytes is past MaxInput: it would not reach the matcher", len(c.in))
		}
	}
	for _, c := range cases {
		tp := mustParse(t, c.tmpl)
		_, ok, work := matchWith(tp, c.in, modeHybrid)
		if ok != c.want {
			t.Errorf("Match(%q, %d bytes) = %v, want %v", c.tmpl, len(c.in), ok, c.want)
		}
		// The table plus the repeat budget, whatever the value lengths.
		if limit := plainBudget(len(c.in)) + (tp.rows()+4)*(len(c.in)+2) + 2*repeatBudget; work > limit {
			t.Errorf("Match(%q, %d bytes) did %d units of work, want at most %d", c.tmpl, len(c.in), work, limit)
		}
		// Each check of an encoded value decodes it into a new string, so
		// allocations count the checks: they must not approach one per
		// step of the budget.
		if allocs := testing.AllocsPerRun(1, func() { tp.Match(c.in) }); allocs > 5000 {
			t.Errorf("Match(%q, %d bytes) allocates %v times: long values are checked too often", c.tmpl, len(c.in), allocs)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, c := range []struct{ tmpl, in string }{
		{"/{package}/{version}/{os}-{arch}.tar.gz", "/minikube/1.2.3/linux-amd64.tar.gz"},
		{"/dl{?version,os}", "/dl?version=1&os=linux"},
		{"/{+path}", "/a/b/c/d/e/f/g.txt"},
		{"/{v}/{v}", "/same/same"},
		{"/{a}{b}{c}{d}x", "/" + strings.Repeat("a", 500) + "%FFx"}, // needs the table
	} {
		tp := mustParse(t, c.tmpl)
		dst := make([]Var, 0, 8)
		allocs := testing.AllocsPerRun(100, func() {
			dst, _ = tp.MatchAppend(dst[:0], c.in)
		})
		if allocs != 0 {
			t.Errorf("MatchAppend(%q, %q) allocates %v times per run, want 0", c.tmpl, c.in, allocs)
		}
	}
}

func TestExpandAllocs(t *testing.T) {
	tp := mustParse(t, "https://example.com/{package}/{+path}/{file}{?os,arch}")
	vars := vs("package", "minikube", "path", "a/b c", "file", "x.tar.gz", "os", "linux", "arch", "amd64")
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = tp.AppendExpand(dst[:0], vars)
	})
	if allocs != 0 {
		t.Errorf("AppendExpand allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct{ name, tmpl, in string }{
		{"path", "/{package}/{version}/{os}-{arch}.tar.gz", "/minikube/1.2.3/linux-amd64.tar.gz"},
		{"forced", "/{version}/{os}/rocket-skates.tar.gz", "/v1.2.0/linux/rocket-skates.tar.gz"},
		{"query", "/dl{?version,os}", "/dl?version=1.2.3&os=linux"},
		{"reserved", "/{+path}", "/some/long/path/to/a%20file.tar.gz"},
		{"nomatch", "/downloads/{file}", "/other/thing"},
		{"adjacent-8k", "/{a}{b}{c}{d}{e}{f}x", "/" + strings.Repeat("a", 8000) + "%FFx"},
		// The costliest template and input the limits allow.
		{"widest-longest", adjacent(MaxVars), nonMatching(MaxInput)},
		{"past-limit", adjacent(MaxVars), nonMatching(MaxInput + 1)},
	} {
		b.Run(c.name, func(b *testing.B) {
			tp := mustParse(b, c.tmpl)
			dst := make([]Var, 0, 8)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = tp.MatchAppend(dst[:0], c.in)
			}
		})
	}
}

func BenchmarkExpand(b *testing.B) {
	tp := mustParse(b, "https://example.com/{package}/{+path}/{file}{?os,arch}")
	vars := vs("package", "minikube", "path", "a/b c", "file", "x.tar.gz", "os", "linux", "arch", "amd64")
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = tp.AppendExpand(dst[:0], vars)
	}
}
