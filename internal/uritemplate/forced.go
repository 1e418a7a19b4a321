package uritemplate

import "strings"

// Most manifests use templates such as "/{version}/{os}/app.tar.gz": lone
// simple variables, each followed by a slash or the end. For those the
// general search is not needed. A value of {v} is a run of unreserved
// characters and percent-encoded UTF-8, so it cannot contain the byte that
// starts the next literal; every candidate end the search would try before
// the end of that run leaves the literal facing a value character and
// fails. The one parse left is the whole run, and matchForced takes it
// directly. The fuzz tests hold it to the reference matcher.

// forcedShape reports whether every expression of t is a lone {name}
// (no operator, no modifier, the name used once) followed by the end of
// the template or by a literal whose first byte is neither a value
// character nor the ',' that may trail a value.
func forcedShape(t *Template) bool {
	n := int(t.nparts)
	exprs := 0
	for i := range n {
		nd := t.node(i)
		if !nd.expr() {
			continue
		}
		exprs++
		if nd.op() != 0 || nd.n() != 1 {
			return false
		}
		if v := t.varOf(nd, 0); v.explode() || v.prefix() > 0 || v.slot() >= 0 {
			return false
		}
		if i+1 == n {
			continue
		}
		next := t.node(i + 1)
		if next.expr() {
			return false
		}
		if c := t.lit(next)[0]; unreservedSet[c] || c == '%' || c == framings[0].sep {
			return false
		}
	}
	return exprs > 0
}

// matchForced matches a template of forced shape. decided is false when
// the input has a value followed by ',' (the trailing separator the
// general search accepts), which it leaves to that search.
func (t *Template) matchForced(dst []Var, in string) (out []Var, ok, decided bool) {
	base := len(dst)
	p := 0
	for i := range int(t.nparts) {
		nd := t.node(i)
		if !nd.expr() {
			lit := t.lit(nd)
			if !strings.HasPrefix(in[p:], lit) {
				return dst[:base], false, true
			}
			p += len(lit)
			continue
		}
		e := valueRunEnd(in, p)
		if e < len(in) && in[e] == ',' {
			return dst[:base], false, false
		}
		dst = append(dst, Var{Name: t.name(t.varOf(nd, 0)), Value: in[p:e]})
		p = e
	}
	if p != len(in) {
		return dst[:base], false, true
	}
	for k := base; k < len(dst); k++ {
		dst[k].Value = decodeValue(dst[k].Value)
	}
	return dst, true, true
}

// valueRunEnd returns the end of the longest run of unreserved characters
// and valid percent-encoded UTF-8 that starts at p.
func valueRunEnd(in string, p int) int {
	for p < len(in) {
		c := in[p]
		if unreservedSet[c] {
			p++
			continue
		}
		if c != '%' {
			break
		}
		e := encodedUnitEnd(in, p)
		if e < 0 {
			break
		}
		p = e
	}
	return p
}
