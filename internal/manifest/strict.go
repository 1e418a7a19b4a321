package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON standard leaves two things to implementations that a manifest
// must not leave open: which value wins when an object repeats a key
// (encoding/json keeps the last, other tools the first), and what becomes
// of a string that is not valid UTF-8 or holds an unpaired surrogate
// escape (encoding/json silently substitutes U+FFFD, so a package-id or a
// template would differ from what its author wrote). strictScan refuses
// both, anywhere in the document, and names the place.

// strictScan checks data, which json.Valid has accepted. It records every
// repeated key as a problem of the decoder, and returns one problem for
// each string that is not valid Unicode. A document with such strings is
// not JSON text (RFC 8259 requires UTF-8), so, as with a syntax error,
// nothing else is reported about it: what the rules' own checks would say
// of the substituted text would only mislead.
func (d *decoder) strictScan(data []byte) (encoding []error) {
	s := &strict{file: d.file, data: data, cur: cursor{line: 1, col: 1}}
	s.value(skipSpace(data, 0))
	d.work += s.work
	for _, e := range s.errs {
		d.errs = append(d.errs, e)
	}
	for _, e := range s.encoding {
		encoding = append(encoding, e)
	}
	return encoding
}

type strict struct {
	file string
	data []byte
	cur  cursor
	// path leads from the document to the value being scanned; its
	// backing array is reused throughout.
	path []pathElem
	// The problems found: repeated keys, and strings that are not
	// valid Unicode.
	errs, encoding []*Error
	// levels holds the keys of the objects being scanned, one per
	// nesting level, reused from object to object.
	levels []keySet
	// work counts key comparisons and lookups (see decoder.work).
	work int
}

// pathElem is one step from the document to a value: an object key, or
// an array index when key is nil.
type pathElem struct {
	key   []byte
	index int
}

// value scans the value at data[i], at s.path, and returns the index just
// after it.
func (s *strict) value(i int) int {
	switch s.data[i] {
	case '{':
		return s.object(i)
	case '[':
		depth := len(s.path)
		i = skipSpace(s.data, i+1)
		for n := 0; s.data[i] != ']'; n++ {
			s.path = append(s.path[:depth], pathElem{index: n})
			i = skipSpace(s.data, s.value(i))
			if s.data[i] == ',' {
				i = skipSpace(s.data, i+1)
			}
		}
		s.path = s.path[:depth]
		return i + 1
	case '"':
		end := stringEnd(s.data, i)
		s.checkString(i, end, false)
		return end
	}
	return valueEnd(s.data, i)
}

func (s *strict) object(i int) int {
	depth := len(s.path)
	for len(s.levels) <= depth {
		s.levels = append(s.levels, keySet{})
	}
	s.levels[depth].reset()
	// Problems inside a rule are reported with its type, which is known
	// only once its "type" member has been read.
	rule := isRule(s.path)
	first, firstEnc, typ := len(s.errs), len(s.encoding), ""
	var reported map[string]bool
	i = skipSpace(s.data, i+1)
	for s.data[i] != '}' {
		end := stringEnd(s.data, i)
		s.path = s.path[:depth] // a problem in the key is the object's
		key := s.key(i, end)
		i = skipSpace(s.data, skipSpace(s.data, end)+1) // past ':'
		s.path = append(s.path[:depth], pathElem{key: key})
		if !s.levels[depth].add(key, &s.work) {
			if !reported[string(key)] {
				if reported == nil {
					reported = make(map[string]bool)
				}
				reported[string(key)] = true
				s.errs = append(s.errs, s.problem("appears more than once"))
			}
			if depth == 0 {
				// Decode ignores a repeated top-level member; so does
				// the scan, lest a second "rules" be taken for the
				// first.
				i = skipSpace(s.data, valueEnd(s.data, i))
				if s.data[i] == ',' {
					i = skipSpace(s.data, i+1)
				}
				continue
			}
		}
		if rule && string(key) == "type" {
			if t, ok := jsonString(s.data[i:valueEnd(s.data, i)]); ok && slices.Contains(knownTypes, t) {
				typ = t
			}
		}
		i = skipSpace(s.data, s.value(i))
		if s.data[i] == ',' {
			i = skipSpace(s.data, i+1)
		}
	}
	s.path = s.path[:depth]
	if rule && typ != "" {
		for _, e := range s.errs[first:] {
			e.Type = typ
		}
		for _, e := range s.encoding[firstEnc:] {
			e.Type = typ
		}
	}
	return i + 1
}

// isRule reports whether path leads to an element of "rules".
func isRule(path []pathElem) bool {
	return len(path) == 2 && string(path[0].key) == "rules" && path[1].key == nil
}

// key checks the key string data[i:end] and returns it as it compares:
// the raw bytes, or the decoded text when it has escapes.
func (s *strict) key(i, end int) []byte {
	s.checkString(i, end, true)
	raw := s.data[i+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var k string
	_ = json.Unmarshal(s.data[i:end], &k)
	return []byte(k)
}

// keySet holds the keys of one object. Objects in manifests have a few
// keys and are searched in order; a large one gets a map, so that a
// hostile document cannot make the scan quadratic.
type keySet struct {
	keys [][]byte
	set  map[string]struct{}
}

func (ks *keySet) reset() {
	ks.keys = ks.keys[:0]
	ks.set = nil
}

// add adds key and reports whether it was new, counting the comparisons
// and lookups it makes in *work.
func (ks *keySet) add(key []byte, work *int) bool {
	if ks.set != nil {
		*work++
		if _, ok := ks.set[string(key)]; ok {
			return false
		}
		ks.set[string(key)] = struct{}{}
		return true
	}
	for _, k := range ks.keys {
		*work++
		if bytes.Equal(k, key) {
			return false
		}
	}
	ks.keys = append(ks.keys, key)
	if len(ks.keys) == 32 {
		ks.set = make(map[string]struct{}, 64)
		for _, k := range ks.keys {
			ks.set[string(k)] = struct{}{}
		}
	}
	return true
}

// checkString reports the first invalid UTF-8 byte or unpaired surrogate
// escape in the string data[i:end] (quotes included).
func (s *strict) checkString(i, end int, isKey bool) {
	for j := i + 1; j < end-1; {
		c := s.data[j]
		switch {
		case c == '\\':
			if s.data[j+1] != 'u' {
				j += 2
				continue
			}
			r := hex4(s.data[j+2 : j+6])
			if utf16.IsSurrogate(r) {
				if r < 0xdc00 && j+12 <= end-1 && s.data[j+6] == '\\' && s.data[j+7] == 'u' {
					if lo := hex4(s.data[j+8 : j+12]); lo >= 0xdc00 && lo <= 0xdfff {
						j += 12
						continue
					}
				}
				s.stringError(j, isKey, fmt.Sprintf("the escape %s is half of a surrogate pair without the other half", s.data[j:j+6]))
				return
			}
			j += 6
		case c < utf8.RuneSelf:
			j++
		default:
			r, size := utf8.DecodeRune(s.data[j:end])
			if r == utf8.RuneError && size == 1 {
				s.stringError(j, isKey, fmt.Sprintf("invalid UTF-8 (byte 0x%02X); a manifest must be UTF-8", c))
				return
			}
			j += size
		}
	}
}

// hex4 decodes the four hex digits of a \u escape (json.Valid has
// checked them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= 'a':
			c -= 'a' - 10
		case c >= 'A':
			c -= 'A' - 10
		default:
			c -= '0'
		}
		r = r<<4 | rune(c)
	}
	return r
}

func (s *strict) stringError(at int, isKey bool, msg string) {
	line, col := s.cur.advance(s.data, at)
	what := "line"
	if isKey {
		what = "key at line"
	}
	s.encoding = append(s.encoding, s.problem(fmt.Sprintf("%s %d, column %d: %s", what, line, col, msg)))
}

// problem locates msg at s.path: within a rule when the path goes through
// an element of "rules", else in the document.
func (s *strict) problem(msg string) *Error {
	rule, path := -1, s.path
	if len(path) >= 2 && isRule(path[:2]) {
		rule, path = path[1].index, path[2:]
	}
	return &Error{File: s.file, Rule: rule, Field: fieldPath(path), Err: errors.New(msg)}
}

// A hostile document can nest values thousands of levels deep under keys
// thousands of bytes long, and every problem inside repeats the path to
// it: written whole, the problems would grow with the square of the
// document. A path is written with its first and last steps only, and
// each key cut short, so that a problem costs the same whatever the
// document around it.
const (
	pathEnds   = 4  // steps written at each end of a longer path
	maxPathKey = 64 // bytes of a key written
)

// fieldPath writes path as errors name fields: "hash-value.type",
// "access-tokens[1]"; a long path as "x-a.b.c.d…[0][7]".
func fieldPath(path []pathElem) string {
	var b strings.Builder
	elided := false
	for k := 0; k < len(path); k++ {
		if k == pathEnds && len(path) > 2*pathEnds+1 {
			b.WriteString("…")
			k, elided = len(path)-pathEnds, true
		}
		p := path[k]
		dot := k > 0 && !elided
		elided = false
		if p.key == nil {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
			continue
		}
		if dot {
			b.WriteByte('.')
		}
		key := p.key
		if len(key) > maxPathKey {
			cut := maxPathKey
			for cut > 0 && !utf8.RuneStart(key[cut]) {
				cut--
			}
			b.Write(key[:cut])
			b.WriteString("…")
			continue
		}
		b.Write(key)
	}
	return b.String()
}

// cursor turns increasing byte offsets into lines and columns (in runes)
// in time linear in the document, however many problems it has.
type cursor struct {
	off, line, col int
}

func (c *cursor) advance(data []byte, to int) (line, col int) {
	for c.off < to {
		r, size := utf8.DecodeRune(data[c.off:to])
		if r == '\n' {
			c.line, c.col = c.line+1, 1
		} else {
			c.col++
		}
		c.off += size
	}
	return c.line, c.col
}
