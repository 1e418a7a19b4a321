// Package query parses and renders URL query strings the way Scarf Gateway
// does, so that redirects carry the same query a Scarf deployment would
// send.
//
// The rules differ from net/url on purpose: items are separated by both '&'
// and ';', a key without '=' is distinct from a key with an empty value,
// invalid percent-escapes are kept literally instead of failing the whole
// query, and '+' decodes to a space.
//
// Queries come from clients, so everything here takes time linear in the
// query (KeepFirst: expected linear), and the gateway refuses queries of
// more than MaxItems parameters before any rule reads them (TooMany).
package query

import "strings"

// MaxItems is the largest number of parameters the gateway accepts in a
// query. Real download URLs carry a handful; a thousand leaves room for
// any generated one while bounding the work per request.
const MaxItems = 1000

// TooMany reports whether raw (with or without its leading '?') holds more
// than MaxItems items. It does not allocate, and looks at the bytes only
// when the query is long enough to hold that many.
func TooMany(raw string) bool {
	raw = strings.TrimPrefix(raw, "?")
	// n items need n-1 separators.
	if len(raw) < MaxItems {
		return false
	}
	n := 1
	for i := 0; i < len(raw); i++ {
		if raw[i] == '&' || raw[i] == ';' {
			n++
		}
	}
	return n > MaxItems
}

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

// smallKeepFirst is the length up to which KeepFirst compares every pair
// of keys: cheaper than a map for the few parameters of real queries, and
// it does not allocate.
const smallKeepFirst = 16

// KeepFirst removes, in place, every item whose key an earlier item has,
// and returns the shortened slice: the first occurrence of each key wins,
// in the original order. Its work is linear in len(items) (expected, with
// a map past a few items).
func KeepFirst(items []Item) []Item {
	kept, _ := keepFirst(items)
	return kept
}

// keepFirst is KeepFirst, also returning the number of key comparisons
// and lookups it made, which tests use to check its complexity.
func keepFirst(items []Item) ([]Item, int) {
	ops := 0
	kept := items[:0]
	if len(items) <= smallKeepFirst {
	next:
		for _, it := range items {
			for _, k := range kept {
				ops++
				if k.Key == it.Key {
					continue next
				}
			}
			kept = append(kept, it)
		}
		return kept, ops
	}
	seen := make(map[string]struct{}, len(items))
	for _, it := range items {
		ops++
		if _, dup := seen[it.Key]; dup {
			continue
		}
		seen[it.Key] = struct{}{}
		kept = append(kept, it)
	}
	return kept, ops
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
