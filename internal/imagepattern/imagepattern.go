package imagepattern

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pattern is a parsed image pattern. It is immutable and safe for concurrent
// use.
type Pattern struct {
	segs []segment
}

// segment is one '/'-separated part of a pattern: the parsed pieces, kept
// for printing, and their compiled form, used for matching.
type segment struct {
	pieces []piece
	kind   segmentKind
	lit    string // the whole segment when kind is segmentLiteral
	prog   []inst // when kind is segmentGlob
}

type segmentKind uint8

const (
	segmentGlob    segmentKind = iota
	segmentLiteral             // no wildcard, only single-alternative unions
	segmentAny                 // only wildcards
)

type pieceKind uint8

const (
	pieceLiteral pieceKind = iota
	pieceStar
	pieceUnion
)

type piece struct {
	kind pieceKind
	text string    // pieceLiteral, unescaped
	alts [][]piece // pieceUnion, each non-empty
}

// SyntaxError reports a pattern that cannot be parsed.
type SyntaxError struct {
	Column int // 1-based, counted in runes
	Msg    string
}

// Error returns the message and the column, as in
// "unexpected '}' at column 8".
func (e *SyntaxError) Error() string {
	return e.Msg + " at column " + strconv.Itoa(e.Column)
}

// Parse parses an image pattern. Unlike Scarf, it rejects input that is not
// consumed entirely. Errors are of type *SyntaxError.
func Parse(s string) (*Pattern, error) {
	if s == "" {
		return nil, &SyntaxError{Column: 1, Msg: "empty pattern"}
	}
	p := parser{s: s}
	var segs []segment
	for {
		pieces, err := p.sequence(false)
		if err != nil {
			return nil, err
		}
		if len(pieces) == 0 {
			if p.i < len(s) && s[p.i] != '/' {
				return nil, p.unexpected()
			}
			return nil, p.fail("empty segment")
		}
		segs = append(segs, compileSegment(pieces))
		if p.i == len(s) {
			return &Pattern{segs: segs}, nil
		}
		if s[p.i] != '/' {
			return nil, p.unexpected()
		}
		p.i++
	}
}

type parser struct {
	s string
	i int // byte offset of the next unread character
}

func (p *parser) errorAt(at int, msg string) *SyntaxError {
	return &SyntaxError{Column: utf8.RuneCountInString(p.s[:at]) + 1, Msg: msg}
}

func (p *parser) fail(msg string) *SyntaxError {
	return p.errorAt(p.i, msg)
}

func (p *parser) unexpected() *SyntaxError {
	return p.fail(fmt.Sprintf("unexpected %q", rune(p.s[p.i])))
}

// sequence parses pieces up to a character that ends a segment or an
// alternative, which it leaves unread. The caller decides whether an empty
// result or the stopping character is an error, because only it knows which
// message is accurate.
func (p *parser) sequence(inUnion bool) ([]piece, error) {
	var pieces []piece
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '/':
			if inUnion {
				return nil, p.fail("unexpected '/' in union")
			}
			return pieces, nil
		case ',', '}':
			return pieces, nil
		case '*':
			p.i++
			pieces = append(pieces, piece{kind: pieceStar})
		case '{':
			u, err := p.union()
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, u)
		default:
			text, err := p.literal()
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, piece{kind: pieceLiteral, text: text})
		}
	}
	return pieces, nil
}

func (p *parser) union() (piece, error) {
	open := p.i
	p.i++
	var alts [][]piece
	for {
		alt, err := p.sequence(true)
		if err != nil {
			return piece{}, err
		}
		if p.i == len(p.s) {
			return piece{}, p.errorAt(open, "unclosed '{'")
		}
		if len(alt) == 0 {
			return piece{}, p.fail("empty alternative")
		}
		alts = append(alts, alt)
		c := p.s[p.i]
		p.i++
		if c == '}' {
			return piece{kind: pieceUnion, alts: alts}, nil
		}
	}
}

// literal reads a maximal run of literal characters and escapes.
func (p *parser) literal() (string, error) {
	start := p.i
	var b strings.Builder // used only once an escape is seen
	escaped := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' {
			if p.i+1 == len(p.s) || !isSpecial(p.s[p.i+1]) {
				return "", p.fail("invalid escape")
			}
			if !escaped {
				escaped = true
				b.WriteString(p.s[start:p.i])
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		if isSpecial(c) || c == '/' {
			break
		}
		if escaped {
			b.WriteByte(c)
		}
		p.i++
	}
	if escaped {
		return b.String(), nil
	}
	return p.s[start:p.i], nil
}

// isSpecial reports whether c must be escaped inside a literal. '/' is not
// among them: it always separates segments and cannot be escaped.
func isSpecial(c byte) bool {
	switch c {
	case '*', '{', '}', ',', '\\':
		return true
	}
	return false
}

// String returns the pattern in canonical form. For a pattern returned by
// Parse it is the text that was parsed.
func (p *Pattern) String() string {
	var b strings.Builder
	for i, seg := range p.segs {
		if i > 0 {
			b.WriteByte('/')
		}
		writePieces(&b, seg.pieces)
	}
	return b.String()
}

func writePieces(b *strings.Builder, pieces []piece) {
	for _, pc := range pieces {
		switch pc.kind {
		case pieceLiteral:
			for i := 0; i < len(pc.text); i++ {
				if isSpecial(pc.text[i]) {
					b.WriteByte('\\')
				}
				b.WriteByte(pc.text[i])
			}
		case pieceStar:
			b.WriteByte('*')
		case pieceUnion:
			b.WriteByte('{')
			for i, alt := range pc.alts {
				if i > 0 {
					b.WriteByte(',')
				}
				writePieces(b, alt)
			}
			b.WriteByte('}')
		}
	}
}

// Literal returns the only image name the pattern matches, such as
// "library/nginx", when it has no wildcard and every union has a single
// alternative (Scarf's isConstPattern).
func (p *Pattern) Literal() (string, bool) {
	var b strings.Builder
	for i, seg := range p.segs {
		if seg.kind != segmentLiteral {
			return "", false
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seg.lit)
	}
	return b.String(), true
}

// FixedPrefix returns the number of leading segments that are plain
// literals: every image the pattern matches starts with those segments
// exactly (2 for "acme/tools/*", 0 for "*/x").
func (p *Pattern) FixedPrefix() int {
	for i, seg := range p.segs {
		if seg.kind != segmentLiteral {
			return i
		}
	}
	return len(p.segs)
}

// Match reports whether image, a name split on '/' such as
// []string{"library", "nginx"}, has as many segments as the pattern and each
// segment matches. A segment that itself holds a '/' (a decoded "%2F")
// matches nothing, so that a wildcard never spans two segments of the
// name a registry sees. It does not allocate.
//
// Match checks no other grammar: callers validate request names first
// (the docker gateway against the distribution reference grammar).
func (p *Pattern) Match(image []string) bool {
	if len(image) != len(p.segs) {
		return false
	}
	for i := range p.segs {
		if strings.IndexByte(image[i], '/') >= 0 || !p.segs[i].match(image[i]) {
			return false
		}
	}
	return true
}
