package uritemplate

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file holds a deliberately naive matcher that transcribes Burrito's
// ReadP parser combinator by combinator: continuation passing over every
// parse in depth-first order, with the consistency of repeated names
// checked only once a parse is complete (keepConsistent). It is
// exponential and only meant for short inputs, as the oracle of the
// differential tests.

type refKind int

const (
	refUndefined refKind = iota
	refDefined
	refPrefix
)

type refEntry struct {
	name string
	kind refKind
	n    int
	val  string
}

type refMatcher struct {
	in       string
	steps    int
	budget   int
	exceeded bool
	result   []Var
}

type refCont func(pos int, acc []refEntry) bool

// refMatch returns the first consistent complete parse. exceeded reports
// that the budget ran out, in which case the other results mean nothing.
func refMatch(t *Template, in string, budget int) (vars []Var, ok, exceeded bool) {
	r := &refMatcher{in: in, budget: budget}
	ok = r.parts(t.Parts(), 0, 0, nil, func(pos int, acc []refEntry) bool {
		if pos != len(in) {
			return false
		}
		kept, ok := refKeepConsistent(acc)
		if !ok {
			return false
		}
		r.result = refFinalize(kept)
		return true
	})
	if r.exceeded {
		return nil, false, true
	}
	return r.result, ok, false
}

// tick returns true, which unwinds every level as if a parse was found,
// once the budget is spent.
func (r *refMatcher) tick() bool {
	r.steps++
	if r.steps > r.budget {
		r.exceeded = true
	}
	return r.exceeded
}

func extend(acc []refEntry, more ...refEntry) []refEntry {
	out := make([]refEntry, 0, len(acc)+len(more))
	return append(append(out, acc...), more...)
}

func (r *refMatcher) parts(ps []Part, i, pos int, acc []refEntry, k refCont) bool {
	if r.tick() {
		return true
	}
	if i == len(ps) {
		return k(pos, acc)
	}
	if ps[i].Expr == nil {
		lit := refLiteral(ps[i].Literal)
		if !strings.HasPrefix(r.in[pos:], lit) {
			return false
		}
		return r.parts(ps, i+1, pos+len(lit), acc, k)
	}
	return r.expression(ps[i].Expr, pos, acc, func(p int, a []refEntry) bool {
		return r.parts(ps, i+1, p, a, k)
	})
}

// refLiteral is how Burrito matches a literal character: allowed ASCII as
// itself, %HH as written, anything else as upper-case encoded UTF-8.
func refLiteral(lit string) string {
	var b strings.Builder
	for i := 0; i < len(lit); {
		if lit[i] == '%' {
			b.WriteString(lit[i : i+3])
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(lit[i:])
		if r < 0x80 {
			b.WriteByte(byte(r))
		} else {
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		i += size
	}
	return b.String()
}

func refUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

func refAllowed(c byte) bool {
	return refUnreserved(c) || strings.IndexByte("!$&'()*+,;=:/?#[]@", c) >= 0
}

type refVarFunc func(v VarSpec, pos int, acc []refEntry, k refCont) bool

func (r *refMatcher) expression(e *Expr, pos int, acc []refEntry, k refCont) bool {
	variable := func(allowed func(byte) bool) refVarFunc {
		return func(v VarSpec, pos int, acc []refEntry, k refCont) bool {
			return r.variable(allowed, v, pos, acc, k)
		}
	}
	varEq := func(v VarSpec, pos int, acc []refEntry, k refCont) bool {
		key := v.Name + "="
		if !strings.HasPrefix(r.in[pos:], key) {
			return false
		}
		return r.variable(refUnreserved, v, pos+len(key), acc, k)
	}
	semi := func(v VarSpec, pos int, acc []refEntry, k refCont) bool {
		if !strings.HasPrefix(r.in[pos:], v.Name) {
			return false
		}
		pos += len(v.Name)
		// option [(n, Defined "")] (char '=' >> variable isUnreserved v)
		if pos < len(r.in) && r.in[pos] == '=' && r.variable(refUnreserved, v, pos+1, acc, k) {
			return true
		}
		return k(pos, extend(acc, refEntry{name: v.Name, kind: refDefined}))
	}
	switch e.Op {
	case '&':
		return r.vars(e.Vars, '&', '&', varEq, pos, acc, k)
	case '.':
		return r.vars(e.Vars, '.', '.', variable(refUnreserved), pos, acc, k)
	case 0:
		return r.vars(e.Vars, 0, ',', variable(refUnreserved), pos, acc, k)
	case '#':
		return r.vars(e.Vars, '#', ',', variable(refAllowed), pos, acc, k)
	case '+':
		return r.vars(e.Vars, 0, ',', variable(refAllowed), pos, acc, k)
	case '?':
		return r.vars(e.Vars, '?', '&', varEq, pos, acc, k)
	case ';':
		return r.vars(e.Vars, ';', ';', semi, pos, acc, k)
	case '/':
		return r.vars(e.Vars, '/', '/', variable(refUnreserved), pos, acc, k)
	}
	panic("unknown operator")
}

func refUndef(vs []VarSpec) []refEntry {
	out := make([]refEntry, len(vs))
	for i, v := range vs {
		out[i] = refEntry{name: v.Name, kind: refUndefined}
	}
	return out
}

// vars is Burrito's vars: with a prefix character, first the character
// and a list with at least one defined variable, then the whole
// expression undefined.
func (r *refMatcher) vars(vs []VarSpec, prefix, sep byte, f refVarFunc, pos int, acc []refEntry, k refCont) bool {
	if prefix == 0 {
		return r.varsList(vs, 0, sep, f, pos, acc, k)
	}
	start := len(acc)
	if pos < len(r.in) && r.in[pos] == prefix {
		ok := r.varsList(vs, 0, sep, f, pos+1, acc, func(p int, a []refEntry) bool {
			all := true
			for _, x := range a[start:] {
				if x.kind != refUndefined {
					all = false
				}
			}
			if all {
				return false
			}
			return k(p, a)
		})
		if ok {
			return true
		}
	}
	return k(pos, extend(acc, refUndef(vs)...))
}

// varsList is vars': this (defined, then separator and the rest, or the
// rest undefined) +++ that (undefined, then the rest).
func (r *refMatcher) varsList(vs []VarSpec, j int, sep byte, f refVarFunc, pos int, acc []refEntry, k refCont) bool {
	if r.tick() {
		return true
	}
	if j == len(vs) {
		return k(pos, acc)
	}
	this := f(vs[j], pos, acc, func(p int, a []refEntry) bool {
		if p < len(r.in) && r.in[p] == sep && r.varsList(vs, j+1, sep, f, p+1, a, k) {
			return true
		}
		return k(p, extend(a, refUndef(vs[j+1:])...))
	})
	if this {
		return true
	}
	return r.varsList(vs, j+1, sep, f, pos, extend(acc, refUndef(vs[j:j+1])...), k)
}

func (r *refMatcher) variable(allowed func(byte) bool, v VarSpec, pos int, acc []refEntry, k refCont) bool {
	if v.Explode {
		return false
	}
	return r.manyCharacters(allowed, pos, func(p int, val string) bool {
		e := refEntry{name: v.Name, kind: refDefined, val: val}
		if v.Prefix > 0 {
			e.kind, e.n = refPrefix, v.Prefix
		}
		return k(p, extend(acc, e))
	})
}

type refValCont func(pos int, val string) bool

// manyCharacters: option [] (f1 <++ f2), where f1 is an encoded run
// followed optionally by f2 and f2 an unencoded run followed optionally
// by f1. The two cannot both start at one position, so <++ is plain
// choice here.
func (r *refMatcher) manyCharacters(allowed func(byte) bool, pos int, k refValCont) bool {
	if r.encodedRun(allowed, pos, "", k) || r.unencodedRun(allowed, pos, "", k) {
		return true
	}
	return k(pos, "")
}

func (r *refMatcher) encodedRun(allowed func(byte) bool, pos int, acc string, k refValCont) bool {
	var bytes []byte
	for q := pos; isRefTriplet(r.in, q); q += 3 {
		if r.tick() {
			return true
		}
		bytes = append(bytes, refHex(r.in[q+1])<<4|refHex(r.in[q+2]))
		if !utf8.Valid(bytes) {
			continue
		}
		s := acc + string(bytes)
		if r.unencodedRun(allowed, q+3, s, k) || k(q+3, s) {
			return true
		}
	}
	return false
}

func (r *refMatcher) unencodedRun(allowed func(byte) bool, pos int, acc string, k refValCont) bool {
	for q := pos; q < len(r.in) && allowed(r.in[q]); q++ {
		if r.tick() {
			return true
		}
		s := acc + r.in[pos:q+1]
		if r.encodedRun(allowed, q+1, s, k) || k(q+1, s) {
			return true
		}
	}
	return false
}

func isRefTriplet(s string, i int) bool {
	hex := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	return i+3 <= len(s) && s[i] == '%' && hex(s[i+1]) && hex(s[i+2])
}

func refHex(c byte) byte {
	return byte(strings.IndexByte("0123456789abcdef", c|0x20))
}

func refTake(s string, n int) string {
	rs := []rune(s)
	if len(rs) > n {
		rs = rs[:n]
	}
	return string(rs)
}

func refKeepConsistent(xs []refEntry) ([]refEntry, bool) {
	if len(xs) == 0 {
		return nil, true
	}
	x := xs[0]
	var ts, fs []refEntry
	for _, y := range xs[1:] {
		if y.name == x.name {
			ts = append(ts, y)
		} else {
			fs = append(fs, y)
		}
	}
	w, ok := refCombine(x, ts)
	if !ok {
		return nil, false
	}
	rest, ok := refKeepConsistent(fs)
	if !ok {
		return nil, false
	}
	return append([]refEntry{w}, rest...), true
}

func refCombine(x refEntry, ys []refEntry) (refEntry, bool) {
	for _, y := range ys {
		switch x.kind {
		case refDefined:
			switch {
			case y.kind == refDefined && x.val == y.val:
			case y.kind == refPrefix && refTake(x.val, y.n) == y.val:
			default:
				return x, false
			}
		case refPrefix:
			switch {
			case y.kind == refDefined && x.val == refTake(y.val, x.n):
				x = y
			case y.kind == refPrefix && refTake(x.val, min(x.n, y.n)) == refTake(y.val, min(x.n, y.n)):
				if y.n > x.n {
					x = y
				}
			default:
				return x, false
			}
		case refUndefined:
			if y.kind != refUndefined {
				return x, false
			}
		}
	}
	return x, true
}

func refFinalize(xs []refEntry) []Var {
	var out []Var
	for _, x := range xs {
		if x.kind != refUndefined {
			out = append(out, Var{x.name, x.val})
		}
	}
	return out
}
