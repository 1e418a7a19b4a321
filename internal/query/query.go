// Package query parses and renders URL query strings the way Scarf Gateway
// does, so that redirects carry the same query a Scarf deployment would
// send.
//
// The rules differ from net/url on purpose: items are separated by both '&'
// and ';', a key without '=' is distinct from a key with an empty value,
// invalid percent-escapes are kept literally instead of failing the whole
// query, and '+' decodes to a space.
package query

import "strings"

// An Item is one decoded query parameter.
type Item struct {
	Key   string
	Value string
	// HasValue is false for a bare key ("?flag"), true for "?flag=" and "?k=v".
	HasValue bool
}

// Parse splits raw (with or without its leading '?') into decoded items.
// The empty string and a bare "?" give no items; empty items between
// separators are kept as items with an empty key.
func Parse(raw string) []Item {
	return AppendParse(nil, raw)
}

// AppendParse is Parse appending to dst.
func AppendParse(dst []Item, raw string) []Item {
	raw = strings.TrimPrefix(raw, "?")
	if raw == "" {
		return dst
	}
	for {
		i := strings.IndexAny(raw, "&;")
		piece := raw
		if i >= 0 {
			piece = raw[:i]
		}
		var it Item
		if k, v, ok := strings.Cut(piece, "="); ok {
			it = Item{Key: Unescape(k), Value: Unescape(v), HasValue: true}
		} else {
			it = Item{Key: Unescape(piece)}
		}
		dst = append(dst, it)
		if i < 0 {
			return dst
		}
		raw = raw[i+1:]
	}
}

// Unescape decodes percent-escapes and turns '+' into a space. An invalid
// escape is kept as written. It returns s itself when there is nothing to
// decode, so the common case does not allocate.
func Unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && IsHex(s[i+1]) && IsHex(s[i+2]):
			b = append(b, Unhex(s[i+1])<<4|Unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// Get returns the value of the first item named key.
func Get(items []Item, key string) (Item, bool) {
	for _, it := range items {
		if it.Key == key {
			return it, true
		}
	}
	return Item{}, false
}

// AppendRender appends "?k=v&k2&..." to dst with keys and values escaped
// by AppendEscape. Nothing is appended for an empty list.
func AppendRender(dst []byte, items []Item) []byte {
	for i, it := range items {
		if i == 0 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, '&')
		}
		dst = AppendEscape(dst, it.Key)
		if it.HasValue {
			dst = append(dst, '=')
			dst = AppendEscape(dst, it.Value)
		}
	}
	return dst
}

// AppendEscape appends s percent-encoded so that only the RFC 3986
// unreserved characters A-Z a-z 0-9 - _ . ~ stay as they are. Hex digits
// are upper case and a space becomes %20.
func AppendEscape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if IsUnreserved(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

// IsUnreserved reports whether c is an RFC 3986 unreserved character.
func IsUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

const upperHex = "0123456789ABCDEF"

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Unhex returns the value of the hexadecimal digit c.
func Unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
