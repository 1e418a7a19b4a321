package badge

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxText is the most characters a label or message keeps; longer text
// is cut and ends with '…'. Badges are read at a glance, and the cap
// bounds the work and the size of a badge whatever a URL asks for.
const MaxText = 64

// Clean returns s as a badge shows it: invalid UTF-8 replaced by U+FFFD,
// control and format characters (line breaks, bidirectional overrides,
// zero-width characters) removed, runs of spaces kept as they are, and at
// most MaxText characters. What remains is valid in XML 1.0 and JSON. It
// returns s itself when nothing needs changing.
func Clean(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*MaxText))
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if dropped(r) {
			continue
		}
		if n == MaxText-1 && i < len(s) && hasKept(s[i:]) {
			b.WriteRune('…')
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// clean reports whether Clean would return s unchanged.
func clean(s string) bool {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || dropped(r) {
				return false
			}
			i += size
		}
		n++
		if n > MaxText {
			return false
		}
	}
	return true
}

// dropped reports whether Clean removes r. U+FFFD stays: it is what
// invalid bytes become.
func dropped(r rune) bool {
	switch {
	case r >= 0x20 && r < 0x7f:
		return false
	case r < 0x20, r == 0x7f:
		return true
	case r == 0xFFFE, r == 0xFFFF:
		// Not characters in XML.
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// hasKept reports whether s has a character that Clean keeps.
func hasKept(s string) bool {
	for _, r := range s {
		if !dropped(r) {
			return true
		}
	}
	return false
}

// appendEscaped appends s with the five characters XML gives meaning to
// escaped, so that s is safe both as element text and in a quoted
// attribute.
func appendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&apos;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}
