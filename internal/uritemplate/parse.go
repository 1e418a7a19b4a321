package uritemplate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
type Template struct {
	src   string
	parts []Part
	nodes []node
	spans []span // source byte range of each part
	vars  []string

	lit        string // whole expansion when the template has no expression
	head, tail string // encoded leading and trailing literals, for quick rejection
	rows       int    // rows of the reachability table used by the matcher
	slots      int    // number of distinct names that occur more than once
	captures   bool
	forced     bool // every parse is forced: see forcedShape
}

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

// node is the compiled form of a part.
type node struct {
	expr bool
	lit  string // literal as it must appear in a URL (non-ASCII percent-encoded)
	row  int    // first row of this part in the matcher's table

	// Expression framing (see the operator table of RFC 6570, section 3.2.1).
	first    byte // emitted before the first value; 0 for none
	sep      byte
	reserved bool // values may contain reserved characters unencoded
	named    bool // name=value form (; ? &)
	ifEmpty  bool // bare name when the value is empty (;)
	vars     []cvar
}

type cvar struct {
	name    string
	key     string // text that precedes the value when matching: "name=" for ? and &, "name" for ;
	explode bool
	prefix  int
	slot    int // index into the matcher's consistency slots; -1 when the name occurs once
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
	p := parser{src: s, t: &Template{src: s}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	p.t.compile()
	return p.t, nil
}

type parser struct {
	src string
	i   int
	t   *Template
	// Backing arrays for every expression and variable of the template.
	exprs []Expr
	specs []VarSpec
}

func (p *parser) fail(at int, format string, args ...any) error {
	return &SyntaxError{Column: utf8.RuneCountInString(p.src[:at]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() error {
	// Size everything once: a manifest can hold 100,000 templates, and
	// their parse time is mostly allocation.
	braces, commas := strings.Count(p.src, "{"), strings.Count(p.src, ",")
	p.t.parts = make([]Part, 0, 2*braces+1)
	p.t.spans = make([]span, 0, 2*braces+1)
	p.exprs = make([]Expr, 0, braces)
	p.specs = make([]VarSpec, 0, braces+commas)
	for p.i < len(p.src) {
		start := p.i
		if p.src[p.i] == '{' {
			e, err := p.expression()
			if err != nil {
				return err
			}
			p.t.parts = append(p.t.parts, Part{Expr: e})
		} else {
			if err := p.literal(); err != nil {
				return err
			}
			p.t.parts = append(p.t.parts, Part{Literal: p.src[start:p.i]})
		}
		p.t.spans = append(p.t.spans, span{start, p.i})
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
		v, err := p.varspec(open)
		if err != nil {
			return nil, err
		}
		p.specs = append(p.specs, v)
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
func (t *Template) String() string { return t.src }

// Parts returns the literals and expressions in order. The slice is shared:
// callers must not modify it.
func (t *Template) Parts() []Part { return t.parts }

// Vars returns the distinct variable names in order of first appearance.
// The slice is shared: callers must not modify it.
func (t *Template) Vars() []string { return t.vars }

// HasVars reports whether the template has at least one expression.
func (t *Template) HasVars() bool { return len(t.vars) > 0 }

// CapturesQuery reports whether the template describes a query string: it
// expands the template with every variable set to its own name and checks
// that the result parses as a URI reference whose query component is
// neither absent nor empty.
func (t *Template) CapturesQuery() bool { return t.captures }

func (t *Template) compile() {
	// Names are counted by linear search: templates have a handful.
	var counts []int
	nvars := 0
	for _, pt := range t.parts {
		if pt.Expr == nil {
			continue
		}
		nvars += len(pt.Expr.Vars)
		for _, v := range pt.Expr.Vars {
			if i := slices.Index(t.vars, v.Name); i >= 0 {
				counts[i]++
				continue
			}
			t.vars = append(t.vars, v.Name)
			counts = append(counts, 1)
		}
	}
	var slotNames []string
	t.nodes = make([]node, len(t.parts))
	cvars := make([]cvar, 0, nvars)
	t.rows = 1 // row 0 is the end of input
	for i, pt := range t.parts {
		nd := &t.nodes[i]
		nd.row = t.rows
		if pt.Expr == nil {
			nd.lit = encodedLiteral(pt.Literal)
			t.rows++
			continue
		}
		nd.expr = true
		nd.first, nd.sep, nd.reserved, nd.named, nd.ifEmpty = framing(pt.Expr.Op)
		first := len(cvars)
		for _, v := range pt.Expr.Vars {
			cv := cvar{name: v.Name, explode: v.Explode, prefix: v.Prefix, slot: -1}
			switch pt.Expr.Op {
			case '?', '&':
				cv.key = v.Name + "="
			case ';':
				cv.key = v.Name
			}
			if counts[slices.Index(t.vars, v.Name)] > 1 {
				s := slices.Index(slotNames, v.Name)
				if s < 0 {
					s = len(slotNames)
					slotNames = append(slotNames, v.Name)
				}
				cv.slot = s
			}
			cvars = append(cvars, cv)
		}
		nd.vars = cvars[first:len(cvars):len(cvars)]
		t.rows += 1 + rowsPerVar*len(nd.vars)
	}
	t.slots = len(slotNames)
	if len(t.nodes) == 0 {
		t.lit = ""
	} else if len(t.nodes) == 1 && !t.nodes[0].expr {
		t.lit = t.nodes[0].lit
	}
	if len(t.nodes) > 1 {
		if !t.nodes[0].expr {
			t.head = t.nodes[0].lit
		}
		if last := t.nodes[len(t.nodes)-1]; !last.expr {
			t.tail = last.lit
		}
	}
	// Only a '?' in the source, literal or operator, can start a query.
	t.captures = strings.IndexByte(t.src, '?') >= 0 && capturesQuery(t)
	t.forced = forcedShape(t.nodes)
}

// encodedLiteral returns lit as it appears in a URL, without copying the
// common all-ASCII literal.
func encodedLiteral(lit string) string {
	for i := 0; i < len(lit); i++ {
		if lit[i] >= utf8.RuneSelf {
			return string(appendLiteral(nil, lit))
		}
	}
	return lit
}

// framing returns the RFC 6570 expansion parameters of an operator.
func framing(op byte) (first, sep byte, reserved, named, ifEmpty bool) {
	switch op {
	case '+':
		return 0, ',', true, false, false
	case '#':
		return '#', ',', true, false, false
	case '.':
		return '.', '.', false, false, false
	case '/':
		return '/', '/', false, false, false
	case ';':
		return ';', ';', false, true, true
	case '?':
		return '?', '&', false, true, false
	case '&':
		return '&', '&', false, true, false
	}
	return 0, ',', false, false, false
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
