package uritemplate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// SyntaxError reports why a template does not parse. Column is 1-based and
// counts runes (an invalid UTF-8 byte counts as one), so it can be shown
// next to the template as written in a manifest.
type SyntaxError struct {
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return e.Msg + " at column " + strconv.Itoa(e.Column)
}

// Template is a parsed template. It is immutable and safe for concurrent
// use.
//
// A gateway keeps two templates for most of its rules, and may serve a
// hundred thousand rules, so a template is one small header and one
// string: its source, the URL form of its literals that differ from it,
// and one 8-byte record per part and per variable occurrence, which point
// into the text before them. What parsing, validation and compilation
// alone need (the parts as written and their positions) is parsed again
// from the source when asked for.
type Template struct {
	// text is the source; then the URL form of its literals that have
	// non-ASCII characters, if any; then the records: nparts parts (see
	// node), then every variable occurrence, expression by expression
	// (see cvar).
	text   string
	srcLen uint16 // the source is text[:srcLen]
	recs   uint16 // the records start at text[recs:]
	nparts uint16
	slots  uint8 // number of distinct names that occur more than once
	info   uint8 // number of distinct names, and the flags below
}

// Flags of Template.info, above the number of distinct names (at most
// MaxVars).
const (
	infoCaptures = 1 << 6
	infoForced   = 1 << 7 // every parse is forced: see forcedShape
	infoNames    = infoCaptures - 1
)

// Part is a literal or an expression of a template.
type Part struct {
	Literal string // raw literal text when Expr == nil
	Expr    *Expr
}

// Expr is a template expression such as {?a,b}.
type Expr struct {
	Op   byte // 0 for none, or one of + # . / ; ? &
	Vars []VarSpec
}

// VarSpec is one variable of an expression. Name is the name as written,
// including any %HH triplets, because that is how it is matched and
// expanded.
type VarSpec struct {
	Name    string
	Explode bool
	Prefix  int // 0 when absent
}

type span struct{ start, end int }

// node is the record of a part: for a literal, text[off:off+n] as it
// must appear in a URL (non-ASCII percent-encoded); for an expression,
// its variables, the records of occurrences off to off+n-1, and its
// operator, whose framing is framings[op]; and row, its first row in
// the matcher's table. Offsets fit in 16 bits: a template has at most
// MaxLen bytes, its encoded literals at most three times that, and at
// most MaxVars variables. The fields are read with shifts from the
// record as it is stored, so that reading one costs a load.
type node uint64

func makeNode(off, n, row int, op byte, expr bool) node {
	nd := node(uint16(off)) | node(uint16(n))<<16 | node(uint16(row))<<32 | node(op)<<48
	if expr {
		nd |= 1 << 56
	}
	return nd
}

func (nd node) off() int   { return int(uint16(nd)) }
func (nd node) n() int     { return int(uint16(nd >> 16)) }
func (nd node) row() int   { return int(uint16(nd >> 32)) }
func (nd node) op() byte   { return byte(nd >> 48) }
func (nd node) expr() bool { return nd>>56 != 0 }

// framing is the expansion parameters of an operator (see the operator
// table of RFC 6570, section 3.2.1).
type framing struct {
	first    byte // emitted before the first value; 0 for none
	sep      byte
	reserved bool // values may contain reserved characters unencoded
	named    bool // name=value form (; ? &)
	ifEmpty  bool // bare name when the value is empty (;)
}

// framings holds the framing of every operator byte; bytes that are not
// operators have the framing of none.
var framings [256]framing

func init() {
	for op := range framings {
		framings[op] = framingOf(byte(op))
	}
}

// cvar is the record of one variable occurrence, read as node is: its
// name is text[off:off+n]; prefix is N of {v:N} (at most 9999), 0 when
// absent; slot is its index into the matcher's consistency slots, -1 when
// the name occurs once.
type cvar uint64

// varSpec is a cvar being compiled.
type varSpec struct {
	off, n, prefix int
	slot           int8
	flags          uint8
}

const (
	varExplode  = 1 << iota // {v*}
	varFirstUse             // the name's first occurrence in the template
)

func (s varSpec) record() cvar {
	return cvar(uint16(s.off)) | cvar(uint16(s.n))<<16 | cvar(uint16(s.prefix))<<32 | cvar(uint8(s.slot))<<48 | cvar(s.flags)<<56
}

func (v cvar) off() int       { return int(uint16(v)) }
func (v cvar) n() int         { return int(uint16(v >> 16)) }
func (v cvar) prefix() int    { return int(uint16(v >> 32)) }
func (v cvar) slot() int      { return int(int8(v >> 48)) }
func (v cvar) explode() bool  { return byte(v>>56)&varExplode != 0 }
func (v cvar) firstUse() bool { return byte(v>>56)&varFirstUse != 0 }

// rec reads record i, little-endian.
func (t *Template) rec(i int) uint64 {
	k := int(t.recs) + 8*i
	s := t.text[k : k+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// node returns part i.
func (t *Template) node(i int) node { return node(t.rec(i)) }

// cvar returns variable occurrence k of the template.
func (t *Template) cvar(k int) cvar { return cvar(t.rec(int(t.nparts) + k)) }

// varOf returns variable j of nd, an expression.
func (t *Template) varOf(nd node, j int) cvar { return t.cvar(nd.off() + j) }

// nvars returns the number of variable occurrences.
func (t *Template) nvars() int { return (len(t.text)-int(t.recs))/8 - int(t.nparts) }

// names returns the number of distinct names.
func (t *Template) names() int { return int(t.info & infoNames) }

// lit returns the literal of nd, a literal part.
func (t *Template) lit(nd node) string { return t.text[nd.off() : nd.off()+nd.n()] }

// name returns the name of v as written.
func (t *Template) name(v cvar) string { return t.text[v.off() : v.off()+v.n()] }

// rows returns the number of rows of the matcher's table.
func (t *Template) rows() int {
	if t.nparts == 0 {
		return 1
	}
	last := t.node(int(t.nparts) - 1)
	if !last.expr() {
		return last.row() + 1
	}
	return last.row() + 1 + rowsPerVar*last.n()
}

// literal returns the expansion of a template without expressions.
func (t *Template) literal() string {
	if t.nparts == 0 {
		return ""
	}
	return t.lit(t.node(0))
}

// head and tail return the encoded leading and trailing literals of a
// template of more than one part, for quick rejection; "" otherwise.
func (t *Template) head() string {
	if t.nparts > 1 {
		if nd := t.node(0); !nd.expr() {
			return t.lit(nd)
		}
	}
	return ""
}

func (t *Template) tail() string {
	if t.nparts > 1 {
		if nd := t.node(int(t.nparts) - 1); !nd.expr() {
			return t.lit(nd)
		}
	}
	return ""
}

// Limits on templates and on what they are matched against. Matching a
// template that does not match costs up to a fixed amount of work per
// input byte for each variable occurrence and each template byte (see the
// package documentation), so both sides are bounded: the product is the
// most a request can cost. Real templates have a handful of variables and
// a few dozen bytes, and real request paths stay far below 8 KiB.
const (
	// MaxLen is the longest template, in bytes, that Parse accepts.
	MaxLen = 4 << 10
	// MaxVars is the largest number of variables (counting every
	// occurrence: {a,b} is two, {a}{a} too) that Parse accepts.
	MaxVars = 32
	// MaxInput is the longest input, in bytes, that can match: a longer
	// one matches no template.
	MaxInput = 8 << 10
)

// Parse parses a template. Errors are *SyntaxError.
func Parse(s string) (*Template, error) {
	if len(s) > MaxLen {
		at := MaxLen
		for at > 0 && !utf8.RuneStart(s[at]) {
			at--
		}
		return nil, &SyntaxError{
			Column: utf8.RuneCountInString(s[:at]) + 1,
			Msg:    fmt.Sprintf("template longer than %d bytes (the limit keeps matching fast)", MaxLen),
		}
	}
	// The parser's slices are scratch: the template keeps none of them,
	// so parsers are reused, and a manifest of 100,000 templates leaves
	// no garbage behind but the templates'.
	p := parsers.Get().(*parser)
	p.reset(s)
	var t *Template
	err := p.parse()
	if err == nil {
		t = p.compile()
	}
	p.reset("")
	parsers.Put(p)
	return t, err
}

var parsers = sync.Pool{New: func() any { return new(parser) }}

type parser struct {
	src   string
	i     int
	parts []Part
	spans []span // source byte range of each part
	// Backing arrays for every expression and variable of the template,
	// and where each variable's name starts in src.
	exprs    []Expr
	specs    []VarSpec
	nameOffs []int
	// The records being compiled, and the text they go into.
	nodes []node
	cvars []varSpec
	buf   []byte
}

// reset readies p to parse src, dropping what it held of the last
// source.
func (p *parser) reset(src string) {
	clear(p.parts)
	clear(p.exprs)
	clear(p.specs)
	p.src, p.i = src, 0
	p.parts, p.spans, p.exprs, p.specs, p.nameOffs = p.parts[:0], p.spans[:0], p.exprs[:0], p.specs[:0], p.nameOffs[:0]
	p.nodes, p.cvars, p.buf = p.nodes[:0], p.cvars[:0], p.buf[:0]
}

func (p *parser) fail(at int, format string, args ...any) error {
	return &SyntaxError{Column: utf8.RuneCountInString(p.src[:at]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() error {
	// Size everything once: a manifest can hold 100,000 templates, and
	// their parse time is mostly allocation.
	// Expressions must not move once parts point to them: there are at
	// most as many as braces.
	braces, commas := strings.Count(p.src, "{"), strings.Count(p.src, ",")
	p.parts = slices.Grow(p.parts, 2*braces+1)
	p.spans = slices.Grow(p.spans, 2*braces+1)
	p.exprs = slices.Grow(p.exprs, braces)
	p.specs = slices.Grow(p.specs, braces+commas)
	p.nameOffs = slices.Grow(p.nameOffs, braces+commas)
	for p.i < len(p.src) {
		start := p.i
		if p.src[p.i] == '{' {
			e, err := p.expression()
			if err != nil {
				return err
			}
			p.parts = append(p.parts, Part{Expr: e})
		} else {
			if err := p.literal(); err != nil {
				return err
			}
			p.parts = append(p.parts, Part{Literal: p.src[start:p.i]})
		}
		p.spans = append(p.spans, span{start, p.i})
	}
	return nil
}

func (p *parser) literal() error {
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == '{':
			return nil
		case c == '}':
			return p.fail(p.i, "unmatched '}'")
		case c == '%':
			if !isHexTriplet(p.src, p.i) {
				return p.fail(p.i, "invalid percent-encoding")
			}
			p.i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(p.src[p.i:])
		if r == utf8.RuneError && size == 1 {
			return p.fail(p.i, "invalid UTF-8 byte 0x%02X", c)
		}
		if !isLiteralRune(r) {
			return p.fail(p.i, "invalid character %q in literal", r)
		}
		p.i += size
	}
	return nil
}

func (p *parser) expression() (*Expr, error) {
	open := p.i
	p.i++
	p.exprs = append(p.exprs, Expr{})
	e := &p.exprs[len(p.exprs)-1]
	firstSpec := len(p.specs)
	if p.i >= len(p.src) {
		return nil, p.fail(open, "unclosed '{'")
	}
	switch c := p.src[p.i]; c {
	case '}':
		return nil, p.fail(open, "empty expression")
	case '+', '#', '.', '/', ';', '?', '&':
		e.Op = c
		p.i++
	case '=', ',', '!', '@', '|':
		return nil, p.fail(p.i, "reserved operator %q", rune(c))
	}
	for {
		if len(p.specs) == MaxVars {
			return nil, p.fail(p.i, "more than %d variables in one template (the limit keeps matching fast)", MaxVars)
		}
		at := p.i
		v, err := p.varspec(open)
		if err != nil {
			return nil, err
		}
		p.specs = append(p.specs, v)
		p.nameOffs = append(p.nameOffs, at)
		e.Vars = p.specs[firstSpec:len(p.specs):len(p.specs)]
		if p.i >= len(p.src) {
			return nil, p.fail(open, "unclosed '{'")
		}
		switch c := p.src[p.i]; c {
		case ',':
			p.i++
		case '}':
			p.i++
			return e, nil
		default:
			return nil, p.badChar("in expression")
		}
	}
}

func (p *parser) badChar(where string) error {
	r, size := utf8.DecodeRuneInString(p.src[p.i:])
	if r == utf8.RuneError && size == 1 {
		return p.fail(p.i, "invalid UTF-8 byte 0x%02X", p.src[p.i])
	}
	return p.fail(p.i, "invalid character %q %s", r, where)
}

func (p *parser) varspec(open int) (VarSpec, error) {
	start := p.i
	for {
		// One field: [A-Za-z0-9_] or %HH, at least one.
		fieldStart := p.i
		for p.i < len(p.src) {
			c := p.src[p.i]
			if isVarchar(c) {
				p.i++
			} else if c == '%' {
				if !isHexTriplet(p.src, p.i) {
					return VarSpec{}, p.fail(p.i, "invalid percent-encoding")
				}
				p.i += 3
			} else {
				break
			}
		}
		if p.i >= len(p.src) {
			return VarSpec{}, p.fail(open, "unclosed '{'")
		}
		if p.i == fieldStart {
			return VarSpec{}, p.fail(p.i, "invalid variable name")
		}
		if p.src[p.i] != '.' {
			break
		}
		p.i++
	}
	v := VarSpec{Name: p.src[start:p.i]}
	switch p.src[p.i] {
	case '*':
		v.Explode = true
		p.i++
	case ':':
		p.i++
		at := p.i
		if at >= len(p.src) {
			return VarSpec{}, p.fail(open, "unclosed '{'")
		}
		n := 0
		for p.i < len(p.src) && p.src[p.i] >= '0' && p.src[p.i] <= '9' && n <= 9999 {
			n = n*10 + int(p.src[p.i]-'0')
			p.i++
		}
		if p.i == at || p.src[at] == '0' || n > 9999 {
			return VarSpec{}, p.fail(at, "prefix length must be 1..9999")
		}
		v.Prefix = n
	}
	return v, nil
}

func isVarchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// isHexTriplet reports whether s[i:] starts with %HH.
func isHexTriplet(s string, i int) bool {
	return i+2 < len(s) && s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2])
}

// isLiteralRune is RFC 6570's literal production (section 2.1): printable
// ASCII except a few delimiters, plus ucschar and iprivate.
func isLiteralRune(r rune) bool {
	if r < 0x80 {
		switch r {
		case ' ', '"', '\'', '%', '<', '>', '\\', '^', '`', '{', '|', '}':
			return false
		}
		return r >= 0x20 && r <= 0x7e
	}
	switch {
	case r >= 0xa0 && r <= 0xd7ff,
		r >= 0xe000 && r <= 0xf8ff,
		r >= 0xf900 && r <= 0xfdcf,
		r >= 0xfdf0 && r <= 0xffef:
		return true
	case r >= 0x10000 && r <= 0x10fffd:
		// The last two code points of every plane are excluded, and so is
		// U+E0000..U+E0FFF (tags and variation selectors).
		if r&0xffff >= 0xfffe {
			return false
		}
		return r < 0xe0000 || r > 0xe0fff
	}
	return false
}

// String returns the template as written.
func (t *Template) String() string { return t.text[:t.srcLen] }

// Parts returns the literals and expressions in order. They are parsed
// again from the source on each call, into a new slice.
func (t *Template) Parts() []Part {
	p := parser{src: t.String()}
	if p.parse() != nil {
		return nil // the source parsed when the template was made
	}
	return p.parts
}

// Vars returns the distinct variable names in order of first appearance,
// in a new slice.
func (t *Template) Vars() []string {
	if t.names() == 0 {
		return nil
	}
	names := make([]string, 0, t.names())
	for k := range t.nvars() {
		if v := t.cvar(k); v.firstUse() {
			names = append(names, t.name(v))
		}
	}
	return names
}

// HasVar reports whether the template has a variable named name.
func (t *Template) HasVar(name string) bool {
	for k := range t.nvars() {
		if t.name(t.cvar(k)) == name {
			return true
		}
	}
	return false
}

// HasVars reports whether the template has at least one expression.
func (t *Template) HasVars() bool { return t.names() > 0 }

// CapturesQuery reports whether the template describes a query string: it
// expands the template with every variable set to its own name and checks
// that the result parses as a URI reference whose query component is
// neither absent nor empty.
func (t *Template) CapturesQuery() bool { return t.info&infoCaptures != 0 }

// forced reports whether every parse of the template is forced (see
// forcedShape).
func (t *Template) forced() bool { return t.info&infoForced != 0 }

// LeadingLiteral returns the literal text that starts every expansion of
// the template, as it appears in a URL (non-ASCII characters
// percent-encoded in upper case): the whole template when it has no
// expression, "" when it starts with one. It is part of the template's
// text, not a copy.
func (t *Template) LeadingLiteral() string {
	if t.nparts == 0 {
		return ""
	}
	if nd := t.node(0); !nd.expr() {
		return t.lit(nd)
	}
	return ""
}

// compile builds the template from what p parsed.
func (p *parser) compile() *Template {
	src := p.src
	p.buf = append(p.buf, src...) // then the encoded literals, then the records
	rows := 1                     // row 0 is the end of input
	k := 0                        // index into p.specs
	for i, pt := range p.parts {
		if pt.Expr == nil {
			off, n := p.spans[i].start, len(pt.Literal)
			if !isASCII(pt.Literal) {
				off = len(p.buf)
				p.buf = appendLiteral(p.buf, pt.Literal)
				n = len(p.buf) - off
			}
			p.nodes = append(p.nodes, makeNode(off, n, rows, 0, false))
			rows++
			continue
		}
		p.nodes = append(p.nodes, makeNode(len(p.cvars), len(pt.Expr.Vars), rows, pt.Expr.Op, true))
		for _, v := range pt.Expr.Vars {
			cv := varSpec{off: p.nameOffs[k], n: len(v.Name), prefix: v.Prefix, slot: -1}
			if v.Explode {
				cv.flags |= varExplode
			}
			p.cvars = append(p.cvars, cv)
			k++
		}
		rows += 1 + rowsPerVar*len(pt.Expr.Vars)
	}
	t := &Template{srcLen: uint16(len(src)), recs: uint16(len(p.buf)), nparts: uint16(len(p.nodes))}
	names, slots := p.numberNames()
	t.info, t.slots = uint8(names), uint8(slots)
	for _, nd := range p.nodes {
		p.buf = appendRec(p.buf, uint64(nd))
	}
	for _, v := range p.cvars {
		p.buf = appendRec(p.buf, uint64(v.record()))
	}
	t.text = string(p.buf)
	// Only a '?' in the source, literal or operator, can start a query.
	if strings.IndexByte(src, '?') >= 0 && capturesQuery(t) {
		t.info |= infoCaptures
	}
	if forcedShape(t) {
		t.info |= infoForced
	}
	return t
}

func appendRec(b []byte, r uint64) []byte {
	return append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24), byte(r>>32), byte(r>>40), byte(r>>48), byte(r>>56))
}

// numberNames marks the first occurrence of every name in p.cvars, and
// gives each name that occurs more than once a consistency slot, in order
// of first appearance. It returns the number of distinct names and of
// slots. Names are compared by linear search: templates have a handful.
func (p *parser) numberNames() (names, slots int) {
	vs := p.cvars
	name := func(i int) string { return p.src[vs[i].off : vs[i].off+vs[i].n] }
	firstOf := func(i int) int {
		for j := range i {
			if name(j) == name(i) {
				return j
			}
		}
		return i
	}
	for i := range vs {
		f := firstOf(i)
		if f == i {
			vs[i].flags |= varFirstUse
			names++
			continue
		}
		if vs[f].slot < 0 {
			vs[f].slot = -2 // repeated; numbered below
		}
	}
	for i := range vs {
		if vs[i].slot == -2 {
			vs[i].slot = int8(slots)
			slots++
		}
	}
	for i := range vs {
		if f := firstOf(i); f != i {
			vs[i].slot = vs[f].slot
		}
	}
	return names, slots
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// framingOf returns the RFC 6570 expansion parameters of an operator.
func framingOf(op byte) framing {
	switch op {
	case '+':
		return framing{0, ',', true, false, false}
	case '#':
		return framing{'#', ',', true, false, false}
	case '.':
		return framing{'.', '.', false, false, false}
	case '/':
		return framing{'/', '/', false, false, false}
	case ';':
		return framing{';', ';', false, true, true}
	case '?':
		return framing{'?', '&', false, true, false}
	case '&':
		return framing{'&', '&', false, true, false}
	}
	return framing{0, ',', false, false, false}
}

// appendLiteral appends a literal in the form it takes in a URL: ASCII and
// %HH triplets as written, anything else as upper-case percent-encoded
// UTF-8. Matching compares against exactly this text.
func appendLiteral(dst []byte, lit string) []byte {
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = appendPct(dst, c)
		}
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

func appendPct(dst []byte, c byte) []byte {
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}
