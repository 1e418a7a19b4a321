package uritemplate

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	fuzzMaxInput = 24
	refBudget    = 200_000
)

// checkAgainstReference compares every matcher mode with the naive
// reference. It skips inputs on which the reference is too slow.
func checkAgainstReference(t *testing.T, tp *Template, in string) {
	t.Helper()
	want, wantOK, exceeded := refMatch(tp, in, refBudget)
	if exceeded {
		return
	}
	got, ok := tp.Match(in)
	if ok != wantOK || !sameVars(got, want) {
		t.Fatalf("Match(%q, %q) = %q, %v, want %q, %v", tp, in, got, ok, want, wantOK)
	}
	for _, mode := range []int{modePlain, modeTable} {
		got, ok, _ := matchWith(tp, in, mode)
		if ok != wantOK || !sameVars(got, want) {
			t.Fatalf("Match(%q, %q) in mode %d = %q, %v, want %q, %v", tp, in, mode, got, ok, want, wantOK)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		if len(c.in) <= fuzzMaxInput {
			f.Add(c.tmpl, c.in)
		}
	}
	f.Add("{a}{b}{a}", "x%41xx")
	f.Add("{;a,b*}{?a}", ";a=;b?a=")
	f.Add("{#x:2,y}{+x}", "#%C3%A9,%41%C3%A9")
	// Templates that matchForced answers.
	f.Add("/{version}/{os}/app.tar.gz", "/v1%C3%A9/linux/app.tar.gz")
	f.Add("/{a}/{b}", "/x,/y")
	f.Add("/{a}?q={b}", "/%41?q=%C3")
	// Shapes that cost the matcher the most: many adjacent variables,
	// repeated names among them, inputs that almost match.
	f.Add(adjacent(8), "/aaaaaaaaaaaaaaaaaaaa!x")
	f.Add(adjacent(MaxVars), "/a,a,a,a,a,a,a,a,a,a,ax")
	f.Add("/{v}{a}{b}{c}/{v}", "/aaaaaaaa/aaaa")
	f.Add("{;a,b,c,d,e,f}x", ";a;b=;c;d=1;e;f=x")
	f.Fuzz(func(t *testing.T, tmpl, in string) {
		if len(in) > fuzzMaxInput {
			in = in[:fuzzMaxInput]
		}
		tp, err := Parse(tmpl)
		if err != nil {
			return
		}
		checkAgainstReference(t, tp, in)
	})
}

// FuzzExpandMatch checks that matching an expansion gives back variables
// that expand to the same text. Under Burrito's rules that only holds when
// no variable can absorb text that frames or encodes another one, so the
// templates are restricted to roundTripClass.
func FuzzExpandMatch(f *testing.F) {
	for _, c := range expandCases {
		var vals [3]string
		for i := 0; i < len(c.vars) && i < 3; i++ {
			vals[i] = c.vars[i].Value
		}
		f.Add(c.tmpl, vals[0], vals[1], vals[2])
	}
	for _, c := range matchCases {
		f.Add(c.tmpl, "a", "b/c", "é d")
	}
	f.Fuzz(func(t *testing.T, tmpl, v0, v1, v2 string) {
		tp, err := Parse(tmpl)
		if err != nil {
			return
		}
		ok, reserved := roundTripClass(tp)
		if !ok || !utf8.ValidString(v0+v1+v2) || reserved && strings.Contains(v0+v1+v2, ",") {
			return
		}
		names := tp.Vars()
		vals := []string{v0, v1, v2}
		var vars []Var
		for i, n := range names {
			vars = append(vars, Var{n, vals[i%3]})
		}
		s, ok := tp.Expand(vars)
		if !ok {
			t.Fatalf("Expand(%q, %q) failed", tp, vars)
		}
		got, ok := tp.Match(s)
		if !ok {
			return
		}
		again, ok := tp.Expand(got)
		if !ok || again != s {
			t.Fatalf("Expand(%q, %q) = %q; Match gives %q, which expands to %q, %v", tp, vars, s, got, again, ok)
		}
	})
}

// roundTripClass accepts templates whose expressions are all {x} or all
// {+x} (one variable, no modifier) and whose literals hold no '%' or ','.
// reserved reports the {+x} form, whose values must then hold no ','.
// Outside this class Burrito's first parse can differ in text from the
// expansion: a variable may take the separator after it as a trailing
// separator ({0}{1,2} on "%200,0" leaves 2 undefined), a value may absorb
// a prefix or separator that is in its character class ({#x,y}, {x}{.y}),
// {+x}{y} lets x take y's "%2F" as "/", and a literal %41 can be taken as
// "A".
func roundTripClass(tp *Template) (ok, reserved bool) {
	op := -1
	for _, pt := range tp.Parts() {
		e := pt.Expr
		if e == nil {
			if strings.ContainsAny(pt.Literal, "%,") {
				return false, false
			}
			continue
		}
		if e.Op != 0 && e.Op != '+' || op >= 0 && int(e.Op) != op || len(e.Vars) != 1 || e.Vars[0].Explode || e.Vars[0].Prefix > 0 {
			return false, false
		}
		op = int(e.Op)
	}
	return true, op == '+'
}

func FuzzParse(f *testing.F) {
	for _, c := range syntaxCases {
		f.Add(c.tmpl)
	}
	for _, s := range validTemplates {
		f.Add(s)
	}
	for _, c := range matchCases {
		f.Add(c.tmpl)
	}
	// Templates at and past the limits.
	f.Add(adjacent(MaxVars))
	f.Add(adjacent(MaxVars + 1))
	f.Add("{" + strings.Repeat("a,", MaxVars) + "a}")
	f.Add("/" + strings.Repeat("é", MaxLen/2))
	f.Add(strings.Repeat("{a}", MaxLen/3) + "{a}")
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("Parse(%q) error %T is not a *SyntaxError", s, err)
			}
			if se.Column < 1 || se.Column > utf8.RuneCountInString(s)+1 || se.Msg == "" {
				t.Fatalf("Parse(%q) error %q has a bad column or message", s, se)
			}
			return
		}
		if tp.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, tp.String())
		}
		vars := 0
		for _, pt := range tp.Parts() {
			if pt.Expr != nil {
				vars += len(pt.Expr.Vars)
			}
		}
		if len(s) > MaxLen || vars > MaxVars {
			t.Fatalf("Parse accepted %d bytes with %d variables, past the limits", len(s), vars)
		}
		if _, err := Parse(tp.String()); err != nil {
			t.Fatalf("Parse(Parse(%q).String()): %v", s, err)
		}
		tp.ExpandEmpty()
		tp.CapturesQuery()
		if path, items, ok := tp.SplitQuery(); ok {
			if path == nil || !strings.HasPrefix(s, path.String()) {
				t.Fatalf("SplitQuery(%q) path = %v", s, path)
			}
			for _, it := range items {
				if it.Optional && it.Value == nil {
					t.Fatalf("SplitQuery(%q) optional item %q without a value", s, it.Key)
				}
			}
		}
	})
}

// TestDifferentialRandom compares the matcher with the reference on
// templates built from a grammar, which reaches far more interesting
// templates per second than mutation of strings.
func TestDifferentialRandom(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		tmpl := randomTemplate(rng)
		tp, err := Parse(tmpl)
		if err != nil {
			t.Fatalf("generated template %q does not parse: %v", tmpl, err)
		}
		for range 4 {
			checkAgainstReference(t, tp, randomInput(rng, tp))
		}
	}
}

var (
	genLiterals = []string{"/", "-", ".", ",", "a", "x", "?", "&", "=", ";", "#", "%41", "%2F", "%2f", "é", "a=", "+"}
	genOps      = []string{"", "", "+", "#", ".", "/", ";", "?", "&"}
	genNames    = []string{"a", "b", "c", "a", "x.y", "%41"}
	genMods     = []string{"", "", "", "*", ":1", ":2"}
	genInput    = []string{"a", "b", "x", "/", "-", ".", ",", "?", "&", "=", ";", "#", "+", "%41", "%2F", "%2f", "%C3%A9", "%c3%a9", "%C3", "%FF", "%2", "é", "a=", "x.y=", "%41="}
)

func randomTemplate(rng *rand.Rand) string {
	var b strings.Builder
	for range 1 + rng.IntN(4) {
		if rng.IntN(3) == 0 {
			b.WriteString(genLiterals[rng.IntN(len(genLiterals))])
			continue
		}
		b.WriteString("{" + genOps[rng.IntN(len(genOps))])
		for k := range 1 + rng.IntN(3) {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(genNames[rng.IntN(len(genNames))] + genMods[rng.IntN(len(genMods))])
		}
		b.WriteByte('}')
	}
	return b.String()
}

// randomInput mixes pieces of the template's own expansion with random
// tokens, so that many inputs match.
func randomInput(rng *rand.Rand, tp *Template) string {
	var b strings.Builder
	if rng.IntN(2) == 0 {
		var vars []Var
		for _, n := range tp.Vars() {
			vars = append(vars, Var{n, genInput[rng.IntN(len(genInput))]})
		}
		s, _ := tp.Expand(vars)
		b.WriteString(s)
	}
	for range rng.IntN(4) {
		tok := genInput[rng.IntN(len(genInput))]
		s := b.String()
		at := rng.IntN(len(s) + 1)
		b.Reset()
		b.WriteString(s[:at] + tok + s[at:])
	}
	s := b.String()
	if len(s) > fuzzMaxInput {
		s = s[:fuzzMaxInput]
	}
	return s
}
