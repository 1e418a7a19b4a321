package uritemplate

import (
	"strings"
	"sync"
)

// Rows of the reachability table for variable j of an expression, relative
// to the expression's row + 1 + rowsPerVar*j. Bit p of a row is set when the
// rest of the template can match the input from position p in that state,
// ignoring the consistency of repeated names.
const (
	rAft   = iota // just after v_j's value: a separator and v_j+1..., or the end of the expression
	rMore         // a non-empty value of v_j starts here
	rVal          // a value of v_j (possibly empty) starts here
	rBind         // v_j is defined here: its key (? & ;), its value, and the rest
	rListT        // the list from v_j, once a variable of the expression is defined
	rListF        // the list from v_j while no variable is defined yet
	rowsPerVar
)

const (
	// repeatBudget bounds the search for templates that repeat a variable
	// name, where the table cannot see the consistency check. Past it the
	// match is reported as failed.
	repeatBudget = 1 << 20

	modeHybrid = iota
	modePlain
	modeTable
)

// plainBudget is how much work the plain depth-first search may do before
// the matcher switches to the table. Ordinary paths finish far below it.
func plainBudget(n int) int { return 1024 + 8*n }

type slotKind uint8

const (
	slotUnset slotKind = iota
	slotUndefined
	slotDefined
	slotPrefix // bound by a {v:N} occurrence
)

// slotState is what a repeated name is bound to so far.
type slotState struct {
	kind slotKind
	n    int    // N of the {v:N} occurrence when kind is slotPrefix
	val  string // decoded value
	idx  int    // index of the name's entry in dst
}

type undoEntry struct {
	slot int
	old  slotState
}

type mark struct{ dst, trail int }

type matcher struct {
	t    *Template
	in   string
	n    int
	dst  []Var
	base int

	full bool // bits holds the table; otherwise every row reads as set
	bits []uint64
	w    int // words per row

	slots []slotState
	trail []undoEntry
	stack []int // run ends waiting to be tried, shared by all levels

	steps   int
	limit   int // 0: unlimited
	aborted bool
	work    int // total effort of the last run, for tests
}

var matchers = sync.Pool{New: func() any { return new(matcher) }}

// MatchAppend matches input (a raw, still percent-encoded path, possibly
// followed by "?query") against t and appends the defined variables to dst
// in order of first appearance. ok is false when there is no complete
// parse, and always for an input longer than MaxInput. See the package
// documentation for which parse is returned.
func (t *Template) MatchAppend(dst []Var, input string) (out []Var, ok bool) {
	return t.matchAppend(dst, input, nil)
}

// matchAppend is MatchAppend with the matcher m, or one from the pool
// when m is nil; tests pass their own to read its work.
func (t *Template) matchAppend(dst []Var, input string, m *matcher) (out []Var, ok bool) {
	if len(input) > MaxInput {
		return dst, false
	}
	if t.names() == 0 {
		return dst, input == t.literal()
	}
	if head, tail := t.head(), t.tail(); len(input) < len(head)+len(tail) || !strings.HasPrefix(input, head) || !strings.HasSuffix(input, tail) {
		return dst, false
	}
	if t.forced() {
		if out, ok, decided := t.matchForced(dst, input); decided {
			return out, ok
		}
	}
	if m != nil {
		return m.run(t, dst, input, modeHybrid)
	}
	m = matchers.Get().(*matcher)
	out, ok = m.run(t, dst, input, modeHybrid)
	m.release()
	matchers.Put(m)
	return out, ok
}

// Match is MatchAppend into a new slice.
func (t *Template) Match(input string) ([]Var, bool) {
	return t.MatchAppend(nil, input)
}

func (m *matcher) release() {
	m.t, m.in, m.dst = nil, "", nil
	clear(m.slots)
	clear(m.trail)
}

func (m *matcher) run(t *Template, dst []Var, in string, mode int) ([]Var, bool) {
	m.t, m.in, m.n, m.dst, m.base = t, in, len(in), dst, len(dst)
	m.work = 0
	if mode != modeTable {
		m.reset(false)
		if mode == modeHybrid {
			m.limit = plainBudget(m.n)
		}
		ok := m.part(0, 0)
		m.work += m.steps
		if ok {
			return m.finish(), true
		}
		if !m.aborted {
			return m.dst[:m.base], false
		}
	}
	m.table()
	m.reset(true)
	if t.slots > 0 {
		m.limit = repeatBudget
	}
	ok := m.part(0, 0)
	m.work += m.steps
	if ok {
		return m.finish(), true
	}
	return m.dst[:m.base], false
}

func (m *matcher) reset(full bool) {
	m.full = full
	m.dst = m.dst[:m.base]
	if cap(m.slots) < int(m.t.slots) {
		m.slots = make([]slotState, m.t.slots)
	}
	m.slots = m.slots[:m.t.slots]
	clear(m.slots)
	m.trail = m.trail[:0]
	m.stack = m.stack[:0]
	m.steps, m.limit, m.aborted = 0, 0, false
}

// finish decodes the values found by the search, which keeps raw
// substrings of the input so that failed branches cost no allocation.
func (m *matcher) finish() []Var {
	for k := m.base; k < len(m.dst); k++ {
		m.dst[k].Value = decodeValue(m.dst[k].Value)
	}
	for _, s := range m.slots {
		if s.kind == slotDefined || s.kind == slotPrefix {
			m.dst[s.idx].Value = s.val
		}
	}
	return m.dst
}

func (m *matcher) tick(k int) bool {
	m.steps += k
	if m.limit > 0 && m.steps > m.limit {
		m.aborted = true
	}
	return m.aborted
}

func (m *matcher) bit(r, p int) bool {
	return m.bits[r*m.w+p>>6]&(1<<(uint(p)&63)) != 0
}

func (m *matcher) set(r, p int) {
	m.bits[r*m.w+p>>6] |= 1 << (uint(p) & 63)
}

func (m *matcher) get(r, p int) bool {
	return !m.full || m.bit(r, p)
}

// start is the row where part i begins; row 0 is the end of the template.
func (m *matcher) start(i int) int {
	if i == int(m.t.nparts) {
		return 0
	}
	return int(m.t.node(i).row())
}

// table computes every row from the end of the input backwards. Each row is
// the disjunction of the alternatives the search would try in that state,
// so with it the search never enters a branch that cannot complete, and
// its first success is the first parse in the original order.
func (m *matcher) table() {
	t, in, n := m.t, m.in, m.n
	m.w = (n + 2 + 63) >> 6 // positions 0..n+1; n+1 is never set
	rows := t.rows()
	size := rows * m.w
	if cap(m.bits) < size {
		m.bits = make([]uint64, size)
	}
	m.bits = m.bits[:size]
	clear(m.bits)
	lo := 0
	if nd := t.node(0); !nd.expr() {
		lo = nd.n()
	}
	m.work += rows * (n - lo + 1)
	for p := n; p >= lo; p-- {
		// End of the unit (one allowed character or one percent-encoded
		// UTF-8 character) that starts at p, for both value charsets.
		uU, uA := -1, -1
		if p < n {
			switch c := in[p]; {
			case unreservedSet[c]:
				uU, uA = p+1, p+1
			case allowedSet[c]:
				uA = p + 1
			case c == '%':
				e := encodedUnitEnd(in, p)
				uU, uA = e, e
			}
		}
		if p == n {
			m.set(0, p)
		}
		for i := int(t.nparts) - 1; i >= 0; i-- {
			nd := t.node(i)
			row := nd.row()
			next := m.start(i + 1)
			if !nd.expr() {
				if lit := t.lit(nd); strings.HasPrefix(in[p:], lit) && m.bit(next, p+len(lit)) {
					m.set(row, p)
				}
				continue
			}
			fr := &framings[nd.op()]
			u := uU
			if fr.reserved {
				u = uA
			}
			nv := nd.n()
			for j := nv - 1; j >= 0; j-- {
				v := t.varOf(nd, j)
				b := row + 1 + rowsPerVar*j
				listT := next
				if j+1 < nv {
					listT = b + rowsPerVar + rListT
				}
				aft := p < n && in[p] == fr.sep && m.bit(listT, p+1) || m.bit(next, p)
				if aft {
					m.set(b+rAft, p)
				}
				more := u >= 0 && (m.bit(b+rAft, u) || m.bit(b+rMore, u))
				if more {
					m.set(b+rMore, p)
				}
				if aft || more {
					m.set(b+rVal, p)
				}
				var bind bool
				if !fr.named {
					bind = !v.explode() && (aft || more)
				} else if q, ok := m.key(fr, v, p); ok {
					if !fr.ifEmpty {
						bind = !v.explode() && m.bit(b+rVal, q)
					} else {
						bind = !v.explode() && q < n && in[q] == '=' && m.bit(b+rVal, q+1) || m.bit(b+rAft, q)
					}
				}
				if bind {
					m.set(b+rBind, p)
				}
				if bind || m.bit(listT, p) {
					m.set(b+rListT, p)
				}
				if bind || j+1 < nv && m.bit(b+rowsPerVar+rListF, p) {
					m.set(b+rListF, p)
				}
			}
			if fr.first == 0 {
				if m.bit(row+1+rListT, p) {
					m.set(row, p)
				}
			} else if p < n && in[p] == fr.first && m.bit(row+1+rListF, p+1) || m.bit(next, p) {
				m.set(row, p)
			}
		}
	}
	if nd := t.node(0); lo > 0 && strings.HasPrefix(in, t.lit(nd)) && m.bit(m.start(1), lo) {
		m.set(nd.row(), 0)
	}
}

// The search below follows the grammar of section 5.3 alternative by
// alternative. Every function checks the real input itself; the table only
// prunes, so the same code is the plain search when the table is absent.

func (m *matcher) part(i, p int) bool {
	if m.tick(1) {
		return false
	}
	if i == int(m.t.nparts) {
		return p == m.n
	}
	nd := m.t.node(i)
	if !m.get(nd.row(), p) {
		return false
	}
	if !nd.expr() {
		lit := m.t.lit(nd)
		return strings.HasPrefix(m.in[p:], lit) && m.part(i+1, p+len(lit))
	}
	first := framings[nd.op()].first
	if first == 0 {
		return m.list(i, 0, true, p)
	}
	if p < m.n && m.in[p] == first && m.list(i, 0, false, p+1) {
		return true
	}
	return m.rest(i, 0, p)
}

// rest leaves variables j... of part i undefined and continues after it.
func (m *matcher) rest(i, j, p int) bool {
	if !m.get(m.start(i+1), p) {
		return false
	}
	mk := m.mark()
	nd := m.t.node(i)
	for k := j; k < nd.n(); k++ {
		if !m.undefine(m.t.varOf(nd, k)) {
			m.undo(mk)
			return false
		}
	}
	if m.part(i+1, p) {
		return true
	}
	m.undo(mk)
	return false
}

// list matches variables j... of part i; defined tells whether one of the
// expression's variables is already defined, which an operator with a
// prefix character requires before the expression may end.
func (m *matcher) list(i, j int, defined bool, p int) bool {
	nd := m.t.node(i)
	if j == nd.n() {
		return defined && m.part(i+1, p)
	}
	b := nd.row() + 1 + rowsPerVar*j
	r := b + rListF
	if defined {
		r = b + rListT
	}
	if !m.get(r, p) {
		return false
	}
	if m.bind(i, j, p) {
		return true
	}
	mk := m.mark()
	if m.undefine(m.t.varOf(nd, j)) && m.list(i, j+1, defined, p) {
		return true
	}
	m.undo(mk)
	return false
}

// bind tries v_j defined at p.
func (m *matcher) bind(i, j, p int) bool {
	nd := m.t.node(i)
	if !m.get(nd.row()+1+rowsPerVar*j+rBind, p) {
		return false
	}
	fr := &framings[nd.op()]
	if !fr.named {
		return m.value(i, j, p)
	}
	q, ok := m.key(fr, m.t.varOf(nd, j), p)
	if !ok {
		return false
	}
	if !fr.ifEmpty {
		return m.value(i, j, q)
	}
	// ';': "name=value" first, then the bare name meaning "". Burrito
	// offers the bare form even for an exploded variable.
	if q < m.n && m.in[q] == '=' && m.value(i, j, q+1) {
		return true
	}
	return m.try(i, j, q, q, false)
}

// key reports whether the input at p starts with the key of v, a
// variable of a named expression ("name=" for ? and &, "name" for ;), and
// returns where the key ends.
func (m *matcher) key(fr *framing, v cvar, p int) (int, bool) {
	name := m.t.name(v)
	if !strings.HasPrefix(m.in[p:], name) {
		return 0, false
	}
	q := p + len(name)
	if !fr.ifEmpty {
		if q >= m.n || m.in[q] != '=' {
			return 0, false
		}
		q++
	}
	return q, true
}

// value tries the values of v_j that start at p in Burrito's order: the
// value is a sequence of runs, alternately of allowed characters and of
// percent-encoded UTF-8; each run is tried shortest first, and a run that
// reaches its natural end first continues with a run of the other kind and
// only then stops. Unrolled, that is every end inside a run in ascending
// order, then the ends of runs in descending order, then the empty value.
func (m *matcher) value(i, j, p int) bool {
	nd := m.t.node(i)
	v := m.t.varOf(nd, j)
	if v.explode() || !m.get(nd.row()+1+rowsPerVar*j+rVal, p) {
		return false
	}
	reserved := framings[nd.op()].reserved
	aft := nd.row() + 1 + rowsPerVar*j + rAft
	base := len(m.stack)
	e, enc := m.unit(p, reserved)
	for e >= 0 {
		if m.tick(1) {
			m.stack = m.stack[:base]
			return false
		}
		e2, enc2 := m.unit(e, reserved)
		// e ends a run when the next unit is of the other kind, or when
		// there is none and the run is complete: an encoded run that stops
		// at an undecodable triplet never reaches its end.
		runEnd := enc2 != enc
		if e2 < 0 {
			runEnd = !enc || !isHexTriplet(m.in, e)
		}
		if m.get(aft, e) {
			if runEnd {
				m.stack = append(m.stack, e)
			} else if m.try(i, j, p, e, v.prefix() > 0) {
				m.stack = m.stack[:base]
				return true
			}
		}
		e, enc = e2, enc2
	}
	for k := len(m.stack) - 1; k >= base; k-- {
		if m.try(i, j, p, m.stack[k], v.prefix() > 0) {
			m.stack = m.stack[:base]
			return true
		}
	}
	m.stack = m.stack[:base]
	return m.try(i, j, p, p, v.prefix() > 0)
}

// unit returns the end of the unit at p and whether it is percent-encoded;
// e is -1 when no unit starts at p.
func (m *matcher) unit(p int, reserved bool) (e int, enc bool) {
	if p >= m.n {
		return -1, false
	}
	c := m.in[p]
	if unreservedSet[c] || reserved && allowedSet[c] {
		return p + 1, false
	}
	if c == '%' {
		return encodedUnitEnd(m.in, p), true
	}
	return -1, false
}

// try binds v_j to in[p:e] and continues after the value.
func (m *matcher) try(i, j, p, e int, prefix bool) bool {
	if m.tick(1) {
		return false
	}
	nd := m.t.node(i)
	if !m.get(nd.row()+1+rowsPerVar*j+rAft, e) {
		return false
	}
	mk := m.mark()
	if m.define(m.t.varOf(nd, j), m.in[p:e], prefix) && m.after(i, j, e) {
		return true
	}
	m.undo(mk)
	return false
}

// after continues once v_j is defined: a separator and the next variables
// first, then the end of the expression with the others undefined. The
// first alternative accepts a trailing separator, as Burrito does.
func (m *matcher) after(i, j, p int) bool {
	if p < m.n && m.in[p] == framings[m.t.node(i).op()].sep && m.list(i, j+1, true, p+1) {
		return true
	}
	return m.rest(i, j+1, p)
}

func (m *matcher) mark() mark { return mark{len(m.dst), len(m.trail)} }

func (m *matcher) undo(mk mark) {
	for k := len(m.trail) - 1; k >= mk.trail; k-- {
		e := m.trail[k]
		m.slots[e.slot] = e.old
	}
	m.trail = m.trail[:mk.trail]
	m.dst = m.dst[:mk.dst]
}

// define records v bound to raw (still encoded). A name that occurs once
// goes straight to dst; a repeated one must agree with its earlier
// occurrences.
func (m *matcher) define(v cvar, raw string, prefix bool) bool {
	if v.slot() < 0 {
		m.dst = append(m.dst, Var{m.t.name(v), raw})
		return true
	}
	// Checking consistency costs time in proportion to the value: charge
	// it to the budget, so that long values cannot multiply the work.
	if m.tick(len(raw) >> 3) {
		return false
	}
	s := &m.slots[v.slot()]
	m.trail = append(m.trail, undoEntry{v.slot(), *s})
	val := decodeValue(raw)
	kind, n := slotDefined, 0
	if prefix {
		kind, n = slotPrefix, v.prefix()
	}
	if s.kind == slotUnset {
		*s = slotState{kind: kind, n: n, val: val, idx: len(m.dst)}
		m.dst = append(m.dst, Var{Name: m.t.name(v)})
		return true
	}
	return s.combine(kind, n, val)
}

// combine merges another occurrence into s the way Burrito does: equal
// values agree, and an occurrence with a :N modifier only has to agree on
// the first N characters (a later full value then replaces it).
func (s *slotState) combine(kind slotKind, n int, u string) bool {
	switch s.kind {
	case slotDefined:
		if kind == slotDefined {
			return s.val == u
		}
		return takeRunes(s.val, n) == u
	case slotPrefix:
		if kind == slotDefined {
			if s.val != takeRunes(u, s.n) {
				return false
			}
			s.kind, s.val = slotDefined, u
			return true
		}
		c := min(s.n, n)
		if takeRunes(s.val, c) != takeRunes(u, c) {
			return false
		}
		if n > s.n {
			s.n, s.val = n, u
		}
		return true
	}
	return false
}

func (m *matcher) undefine(v cvar) bool {
	if v.slot() < 0 {
		return true
	}
	s := &m.slots[v.slot()]
	switch s.kind {
	case slotUndefined:
		return true
	case slotUnset:
		m.trail = append(m.trail, undoEntry{v.slot(), *s})
		s.kind = slotUndefined
		return true
	}
	return false
}
