package uritemplate

import (
	"strings"
	"testing"
)

func TestForcedShape(t *testing.T) {
	for tmpl, want := range map[string]bool{
		"/{version}/{os}/rocket-skates.tar.gz": true,
		"/{v}":                                 true,
		"{a}/{b}":                              true,
		"/{a}?x={b}":                           true,
		"/{a}:{b}@c":                           true,
		"/static":                              false, // nothing to match
		"/{a}.tar.gz":                          false, // '.' can continue the value
		"/{a}-{b}/":                            false,
		"/{a}%2F{b}":                           false,
		"/{a},{b}":                             false, // ',' may trail a value
		"/{a}{b}":                              false,
		"/{+path}":                             false,
		"/{a,b}/":                              false,
		"/{a:3}/":                              false,
		"/{a*}/":                               false,
		"/{a}/{a}":                             false, // a repeated name must agree
		"/{?a}":                                false,
		"/{/a}":                                false,
	} {
		tp, err := Parse(tmpl)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tmpl, err)
		}
		if tp.forced() != want {
			t.Errorf("Parse(%q).forced() = %v, want %v", tmpl, tp.forced(), want)
		}
	}
}

// TestForcedAgreesWithSearch compares the direct match of forced templates
// with the general search on every input built from a few awkward pieces.
func TestForcedAgreesWithSearch(t *testing.T) {
	templates := []string{
		"/{a}/{b}/x.tar.gz",
		"/{a}",
		"{a}/{b}",
		"/{a}/{b}/",
		"/{a}?q={b}",
		"{a}:{b}",
		"/é/{a}/",
	}
	pieces := []string{"a", "/", "%41", "%", "%C3%A9", "%C3", ",", ".", "-", "?", "q=", ":", "x.tar.gz", "%E9", "é"}
	var inputs []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		inputs = append(inputs, prefix)
		if depth == 0 {
			return
		}
		for _, p := range pieces {
			gen(prefix+p, depth-1)
		}
	}
	gen("", 4)
	checked := 0
	for _, tmpl := range templates {
		tp, err := Parse(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if !tp.forced() {
			t.Fatalf("%q is not of forced shape", tmpl)
		}
		for _, base := range inputs {
			for _, in := range []string{base, "/" + base, "/é/" + base, base + "/x.tar.gz", "/" + strings.ReplaceAll(base, ",", "/")} {
				want, wantOK, _ := matchWith(tp, in, modePlain)
				got, ok, decided := tp.matchForced([]Var{{"keep", "me"}}, in)
				if !decided {
					continue
				}
				checked++
				if ok != wantOK || ok && !sameVars(got[1:], want) || got[0] != (Var{"keep", "me"}) {
					t.Fatalf("matchForced(%q, %q) = %q, %v; the search gives %q, %v", tmpl, in, got, ok, want, wantOK)
				}
			}
		}
	}
	if checked < 100000 {
		t.Fatalf("only %d inputs were decided directly", checked)
	}
}
