package uritemplate

import (
	"strconv"
	"strings"
)

// QueryItem is one parameter of a template's query part.
type QueryItem struct {
	Key      string    // the parameter name, decoded like a request's query key (%HH decoded, '+' is a space)
	Value    *Template // matched against the raw (still-encoded) parameter value; nil for a bare key with no '='
	Optional bool      // true for the variables of a {?a,b} or {&a,b} expression
}

// SplitQuery splits a template that captures the query into its path part
// and its query items, so that parameters can be matched in any order
// rather than literally. The query part starts at the first literal '?' or
// at the first {?...} expression. ok is false when the template does not
// capture the query or when its query part is not a plain list of items:
// a fragment, an expression inside a key, an exploded variable, an empty
// key, or an expression whose operator is not none, a leading '?' or '&'.
func (t *Template) SplitQuery() (path *Template, items []QueryItem, ok bool) {
	if !t.CapturesQuery() {
		return nil, nil, false
	}
	src := t.String()
	p := parser{src: src}
	if p.parse() != nil {
		return nil, nil, false
	}
	parts, spans := p.parts, p.spans
	k, at := -1, 0 // part and source offset where the query starts
	for i, pt := range parts {
		if pt.Expr == nil {
			if j := strings.IndexByte(pt.Literal, '?'); j >= 0 {
				k, at = i, spans[i].start+j
				break
			}
		} else if pt.Expr.Op == '?' {
			k, at = i, spans[i].start
			break
		}
	}
	if k < 0 {
		return nil, nil, false
	}
	path, err := Parse(src[:at])
	if err != nil {
		return nil, nil, false
	}
	s := splitter{src: src}
	if parts[k].Expr == nil {
		s.state = atKey
		s.literal(at+1, spans[k].end)
	} else {
		s.group(parts[k].Expr)
		s.state = afterGroup
	}
	for i := k + 1; i < len(parts) && !s.bad; i++ {
		if parts[i].Expr == nil {
			s.literal(spans[i].start, spans[i].end)
		} else {
			s.expr(parts[i].Expr, spans[i])
		}
	}
	s.end(len(src))
	if s.bad {
		return nil, nil, false
	}
	return path, s.items, true
}

type splitState uint8

const (
	atKey      splitState = iota // expecting a key
	inKey                        // inside a literal key
	inValue                      // after "key="
	afterGroup                   // after a {?...} or {&...} expression
)

type splitter struct {
	src   string
	state splitState
	start int // start of the current key or value in src
	key   string
	items []QueryItem
	bad   bool
}

func (s *splitter) literal(from, to int) {
	for i := from; i < to && !s.bad; i++ {
		c := s.src[i]
		if c == '#' {
			s.bad = true
			return
		}
		sep := c == '&' || c == ';'
		switch s.state {
		case atKey:
			if sep || c == '=' {
				s.bad = true
				return
			}
			s.state, s.start = inKey, i
		case inKey:
			if c == '=' {
				s.key = queryUnescape(s.src[s.start:i])
				s.state, s.start = inValue, i+1
			} else if sep {
				s.bare(i)
				s.state = atKey
			}
		case inValue:
			if sep {
				s.value(i)
				s.state = atKey
			}
		case afterGroup:
			if !sep {
				s.bad = true
				return
			}
			s.state = atKey
		}
	}
}

func (s *splitter) expr(e *Expr, sp span) {
	switch {
	case e.Op == '&' && s.state != atKey:
		switch s.state {
		case inKey:
			s.bare(sp.start)
		case inValue:
			s.value(sp.start)
		}
		s.group(e)
		s.state = afterGroup
	case e.Op == 0 && s.state == inValue:
		for _, v := range e.Vars {
			if v.Explode {
				s.bad = true
			}
		}
	default:
		s.bad = true
	}
}

func (s *splitter) end(at int) {
	switch s.state {
	case atKey:
		s.bad = true
	case inKey:
		s.bare(at)
	case inValue:
		s.value(at)
	}
}

func (s *splitter) bare(at int) {
	s.items = append(s.items, QueryItem{Key: queryUnescape(s.src[s.start:at])})
}

func (s *splitter) value(at int) {
	v, err := Parse(s.src[s.start:at])
	if err != nil {
		s.bad = true
		return
	}
	s.items = append(s.items, QueryItem{Key: s.key, Value: v})
}

func (s *splitter) group(e *Expr) {
	for _, v := range e.Vars {
		if v.Explode {
			s.bad = true
			return
		}
		src := "{" + v.Name
		if v.Prefix > 0 {
			src += ":" + strconv.Itoa(v.Prefix)
		}
		t, err := Parse(src + "}")
		if err != nil {
			s.bad = true
			return
		}
		s.items = append(s.items, QueryItem{Key: queryUnescape(v.Name), Value: t, Optional: true})
	}
}

// queryUnescape decodes a key the way request query keys are decoded, so
// the two can be compared: %HH becomes a byte (an invalid sequence stays as
// written) and '+' becomes a space.
func queryUnescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case isHexTriplet(s, i):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
