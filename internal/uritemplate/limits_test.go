package uritemplate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// adjacent returns "/{v0}{v1}…{v(n-1)}x": n variables with no literal
// between them, the shape for which the plain search is exponential and
// the table does the most work per input byte.
func adjacent(n int) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := range n {
		fmt.Fprintf(&b, "{v%d}", i)
	}
	b.WriteByte('x')
	return b.String()
}

// nonMatching returns an input of n bytes that adjacent templates reach
// the end of without matching: a long value run, then a character no
// variable takes, then the final literal.
func nonMatching(n int) string {
	return "/" + strings.Repeat("a", n-3) + "!x"
}

// matchPublic runs MatchAppend's whole path, quick checks and limits
// included, on a fresh matcher and reports the work done.
func matchPublic(t *Template, in string) (vars []Var, ok bool, work int) {
	m := new(matcher)
	vars, ok = t.matchAppend(nil, in, m)
	return vars, ok, m.work
}

// maxWork is the most a match of t may cost once inputs are bounded: the
// plain search's budget, one table pass over the longest input, a search
// that never backtracks, and the repeat budget for templates that repeat
// a name.
func maxWork(t *Template) int {
	w := plainBudget(MaxInput) + (t.rows()+4)*(MaxInput+2)
	if t.slots > 0 {
		w += 2 * repeatBudget
	}
	return w
}

func TestParseLimits(t *testing.T) {
	if _, err := Parse(adjacent(MaxVars)); err != nil {
		t.Errorf("Parse(%d adjacent variables): %v", MaxVars, err)
	}
	list := "/x{?" + strings.TrimSuffix(strings.Repeat("a,", MaxVars), ",") + "}"
	if _, err := Parse(list); err != nil {
		t.Errorf("Parse(one expression of %d variables): %v", MaxVars, err)
	}
	long := "/" + strings.Repeat("é", (MaxLen-1)/2) + strings.Repeat("a", (MaxLen-1)%2)
	if _, err := Parse(long); err != nil || len(long) != MaxLen {
		t.Errorf("Parse(%d bytes): %v", len(long), err)
	}
	tooMany := fmt.Sprintf("more than %d variables in one template (the limit keeps matching fast)", MaxVars)
	tooLong := fmt.Sprintf("template longer than %d bytes (the limit keeps matching fast)", MaxLen)
	for _, c := range []struct {
		tmpl string
		col  int
		msg  string
	}{
		// The variable past the limit is named, wherever it is.
		{adjacent(MaxVars + 1), 1 + 4*10 + 5*(MaxVars-10) + 2, tooMany},
		{"/x{?" + strings.Repeat("a,", MaxVars) + "b}", 5 + 2*MaxVars, tooMany},
		{"{a}{b,c}" + strings.Repeat("{a}", MaxVars-3) + "{b}", 8 + 3*(MaxVars-3) + 2, tooMany},
		// The template a hostile test used: 10,000 variables.
		{adjacent(10000), MaxLen + 1, tooLong},
		{long + "a", utf8.RuneCountInString(long) + 1, tooLong},
		// The column is that of the character the limit falls in.
		{"/" + strings.Repeat("é", MaxLen/2), MaxLen/2 + 1, tooLong},
		{strings.Repeat("{a}", 100000), MaxLen + 1, tooLong},
	} {
		_, err := Parse(c.tmpl)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Column != c.col || se.Msg != c.msg {
			t.Errorf("Parse(%.40q…, %d bytes) = %v, want column %d %q", c.tmpl, len(c.tmpl), err, c.col, c.msg)
		}
	}
}

func TestMatchInputLimit(t *testing.T) {
	for _, tmpl := range []string{"/{+path}", "/{a}/{b}", adjacent(4), "/{v}/{v}", "/x{?q}"} {
		tp := mustParse(t, tmpl)
		at := expandTo(t, tp, MaxInput)
		if _, ok, _ := matchPublic(tp, at); !ok {
			t.Errorf("%q does not match an input of exactly MaxInput bytes", tmpl)
		}
		if _, ok := tp.Match(at); !ok {
			t.Errorf("Match(%q) of an input of exactly MaxInput bytes failed", tmpl)
		}
		for _, n := range []int{MaxInput + 1, 8 * MaxInput} {
			in := expandTo(t, tp, n)
			if vars, ok, work := matchPublic(tp, in); ok || vars != nil || work != 0 {
				t.Errorf("%q on %d bytes = %d variables, %v after %d units of work, want no match and no work", tmpl, n, len(vars), ok, work)
			}
			if _, ok := tp.Match(in); ok {
				t.Errorf("Match(%q) of %d bytes = true, want false", tmpl, n)
			}
		}
	}
	// A template without variables compares, and is bounded the same way.
	lit := mustParse(t, "/"+strings.Repeat("a", MaxLen-1))
	if _, ok := lit.Match("/" + strings.Repeat("a", MaxLen-1)); !ok {
		t.Error("a literal template does not match itself")
	}
}

// expandTo returns an input of exactly n bytes that tp matches (apart from
// the length limit): the template expanded with one value padded to fit.
func expandTo(t *testing.T, tp *Template, n int) string {
	t.Helper()
	vars := make([]Var, len(tp.Vars()))
	for i, name := range tp.Vars() {
		vars[i] = Var{name, "v"}
	}
	short, ok := tp.Expand(vars)
	if !ok {
		t.Fatalf("Expand(%q) failed", tp)
	}
	// Every occurrence of the first variable grows by the padding.
	occ := 0
	for _, pt := range tp.Parts() {
		if pt.Expr != nil {
			for _, v := range pt.Expr.Vars {
				if v.Name == vars[0].Name {
					occ++
				}
			}
		}
	}
	pad := n - len(short)
	if pad%occ != 0 {
		short += "," // a trailing separator, which every operator accepts
		pad--
	}
	if pad < 0 || pad%occ != 0 {
		t.Fatalf("cannot pad %q to %d bytes", short, n)
	}
	vars[0].Value += strings.Repeat("v", pad/occ)
	s, _ := tp.Expand(vars)
	if strings.HasSuffix(short, ",") {
		s += ","
	}
	if len(s) != n {
		t.Fatalf("expandTo(%q, %d) gave %d bytes", tp, n, len(s))
	}
	return s
}

// TestMatchWorkNearLinear counts the matcher's work on the inputs that
// cost the most: templates with many adjacent variables against long
// paths that do not match. Within the limits, work grows linearly with
// the input and with the template; past them there is none at all, so
// the 10,000-variable template and 60 KB path of a hostile test cost
// nothing instead of seconds and hundreds of megabytes.
func TestMatchWorkNearLinear(t *testing.T) {
	// Paths of n and 8n bytes, the widest template allowed.
	wide := mustParse(t, adjacent(MaxVars))
	_, ok1, w1 := matchPublic(wide, nonMatching(MaxInput/8))
	_, ok8, w8 := matchPublic(wide, nonMatching(MaxInput))
	if ok1 || ok8 {
		t.Fatal("non-matching inputs matched")
	}
	if w8 > 9*w1 {
		t.Errorf("path of %d bytes: %d units of work, %d bytes: %d (%.1f×), want near-linear", MaxInput/8, w1, MaxInput, w8, float64(w8)/float64(w1))
	}
	if limit := maxWork(wide); w8 > limit {
		t.Errorf("longest input: %d units of work, want at most %d", w8, limit)
	}
	// Templates of k and 8k variables, the longest path allowed.
	narrow := mustParse(t, adjacent(MaxVars/8))
	_, _, wk := matchPublic(narrow, nonMatching(MaxInput))
	if w8 > 9*wk {
		t.Errorf("%d variables: %d units of work, %d variables: %d (%.1f×), want near-linear", MaxVars/8, wk, MaxVars, w8, float64(w8)/float64(wk))
	}
	// Hostile sizes, n and 8n in both: 1,250 and 10,000 variables,
	// paths of 7.5 and 60 KB. Neither template is accepted; the widest
	// accepted one does bounded work on the shorter path and none on the
	// longer, past MaxInput.
	var hostile [2]int
	for i, s := range []int{1250, 10000} {
		if _, err := Parse(adjacent(s)); err == nil {
			t.Errorf("Parse accepted %d adjacent variables", s)
		}
		_, ok, w := matchPublic(wide, nonMatching(6*s))
		if ok || w > maxWork(wide) {
			t.Errorf("path of %d bytes: ok %v after %d units of work, want no match within %d", 6*s, ok, w, maxWork(wide))
		}
		hostile[i] = w
	}
	if hostile[1] > 9*hostile[0] {
		t.Errorf("hostile path of 7.5 KB: %d units of work, 60 KB: %d, want near-linear", hostile[0], hostile[1])
	}
}

// TestMatchWorkBounded holds every shape that costs the matcher the most
// to the fixed bound that the limits give: the table over the longest
// input, plus the repeat budget for repeated names.
func TestMatchWorkBounded(t *testing.T) {
	names := func(n int, op string) string {
		var b strings.Builder
		b.WriteString("/{" + op)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "v%d", i)
		}
		b.WriteString("}x")
		return b.String()
	}
	for _, c := range []struct{ tmpl, in string }{
		{adjacent(MaxVars), nonMatching(MaxInput)},
		{adjacent(MaxVars), "/" + strings.Repeat("a,", MaxInput/2-2) + "!x"},
		{adjacent(MaxVars), "/" + strings.Repeat("%C3%A9", MaxInput/6-1) + "!x"},
		{names(MaxVars, ""), "/" + strings.Repeat("a,", MaxInput/2-2) + "!x"},
		{names(MaxVars, "+"), "/" + strings.Repeat("a/", MaxInput/2-2) + "{x"},
		{names(MaxVars, ";"), "/" + strings.Repeat(";v1=a", MaxInput/5-1) + "x"},
		{names(MaxVars, "?"), "/" + strings.Repeat("&v1=a", MaxInput/5-1) + "x"},
		{"/{v}" + strings.Repeat("{a}", MaxVars-2) + "{v}", "/" + strings.Repeat("a", MaxInput-2) + "!"},
		{strings.Repeat("{v}", MaxVars), strings.Repeat("%09", MaxInput/3-1) + "!"},
		{"/" + strings.Repeat("{a}-", MaxVars), "/" + strings.Repeat("a-", MaxInput/2-1)},
	} {
		tp := mustParse(t, c.tmpl)
		if len(c.in) > MaxInput {
			t.Fatalf("input of %d bytes is past the limit", len(c.in))
		}
		_, _, work := matchPublic(tp, c.in)
		if limit := maxWork(tp); work > limit {
			t.Errorf("Match(%.40q…, %d bytes) did %d units of work, want at most %d", c.tmpl, len(c.in), work, limit)
		}
	}
}
