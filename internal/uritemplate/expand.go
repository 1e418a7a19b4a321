package uritemplate

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Var is one bound variable.
type Var struct{ Name, Value string }

var unreservedSet, allowedSet [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		u := isVarchar(b) || strings.IndexByte("-.~", b) >= 0
		unreservedSet[c] = u
		allowedSet[c] = u || strings.IndexByte("!$&'()*+,;=:/?#[]@", b) >= 0
	}
}

// AppendExpand appends the expansion of t to dst using vars (looked up by
// name, first wins). ok is false, and dst is returned unchanged, when any
// variable of the template is missing from vars: the gateway relies on an
// expansion failing as a whole rather than silently dropping a variable.
func (t *Template) AppendExpand(dst []byte, vars []Var) (out []byte, ok bool) {
	out, _, ok = t.appendExpand(dst, vars, nil, false)
	return out, ok
}

// appendExpand is AppendExpand that also appends to spans, when record
// is set, where each value went.
func (t *Template) appendExpand(dst []byte, vars []Var, spans []valueSpan, record bool) (out []byte, _ []valueSpan, ok bool) {
	for k := range t.nvars() {
		if v := t.cvar(k); v.firstUse() {
			if _, found := lookup(vars, t.name(v)); !found {
				return dst, spans, false
			}
		}
	}
	for i := range int(t.nparts) {
		nd := t.node(i)
		if !nd.expr() {
			dst = append(dst, t.lit(nd)...)
			continue
		}
		fr := &framings[nd.op()]
		if fr.first != 0 {
			dst = append(dst, fr.first)
		}
		for j := range nd.n() {
			v := t.varOf(nd, j)
			if j > 0 {
				dst = append(dst, fr.sep)
			}
			name := t.name(v)
			val, _ := lookup(vars, name)
			if fr.named {
				dst = append(dst, name...)
				if !fr.ifEmpty || val != "" {
					dst = append(dst, '=')
				}
			}
			start := len(dst)
			dst = appendValue(dst, val, v.prefix(), fr.reserved)
			if record {
				spans = append(spans, valueSpan{start, len(dst)})
			}
		}
	}
	return dst, spans, true
}

// AppendExpandNoDots is AppendExpand for outgoing URLs whose path must
// stay below the template's literal text: ok is also false, and dst is
// returned unchanged, when a variable's value makes up all or part of a
// dot segment ("." or "..") of the expansion's path, so that a value such
// as "../../other" cannot climb out of "/base/{+path}". A dot may be
// written percent-encoded in either case ("%2e%2E"), and segments are
// also split at "%2F" and "%5C", which some servers decode before they
// resolve dot segments. The path ends at the first '?' or '#'. Dot
// segments made of literal text alone are the template author's and are
// left as written.
func (t *Template) AppendExpandNoDots(dst []byte, vars []Var) ([]byte, bool) {
	var stack [8]valueSpan
	out, spans, ok := t.appendExpand(dst, vars, stack[:0], true)
	if ok && dotSegment(out[len(dst):], len(dst), spans) {
		return dst, false
	}
	return out, ok
}

// valueSpan is where one value went in an expansion, as offsets into it.
type valueSpan struct{ start, end int }

// dotSegment reports whether a segment of the path of expanded, which
// starts at offset base of the buffer the spans refer to, is a dot
// segment that a value took part in: with a byte of the segment or of
// the separators around it (a value "/" after a literal "." ends a "."
// segment), or, for an empty value, by standing in it.
func dotSegment(expanded []byte, base int, spans []valueSpan) bool {
	sepStart, start := 0, 0
	for i := 0; ; {
		next := i
		switch {
		case i == len(expanded) || expanded[i] == '?' || expanded[i] == '#':
			next = i
		case expanded[i] == '/':
			next = i + 1
		case isEncodedSlash(expanded, i):
			next = i + 3
		default:
			i++
			continue
		}
		if isDotSegment(expanded[start:i]) && touches(spans, base+sepStart, base+next, base+start, base+i) {
			return true
		}
		if next == i {
			return false
		}
		sepStart, start, i = i, next, next
	}
}

// isEncodedSlash reports whether b[i:] starts with %2F or %5C, any case.
func isEncodedSlash(b []byte, i int) bool {
	if b[i] != '%' || i+2 >= len(b) {
		return false
	}
	hi, lo := b[i+1], b[i+2]|0x20
	return hi == '2' && lo == 'f' || hi == '5' && lo == 'c'
}

// isDotSegment reports whether seg is "." or "..", each dot raw or
// percent-encoded in either case.
func isDotSegment(seg []byte) bool {
	dots := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case seg[i] == '%' && i+2 < len(seg) && seg[i+1] == '2' && seg[i+2]|0x20 == 'e':
			i += 3
		default:
			return false
		}
		if dots++; dots > 2 {
			return false
		}
	}
	return dots > 0
}

// touches reports whether a value has a byte in [lo, hi), a segment
// with its separators, or is empty and stands in [start, end], the
// segment itself.
func touches(spans []valueSpan, lo, hi, start, end int) bool {
	for _, sp := range spans {
		if sp.start < sp.end && sp.start < hi && lo < sp.end || sp.start == sp.end && start <= sp.start && sp.start <= end {
			return true
		}
	}
	return false
}

// Expand is AppendExpand into a new string.
func (t *Template) Expand(vars []Var) (string, bool) {
	b, ok := t.AppendExpand(nil, vars)
	return string(b), ok
}

// ExpandEmpty expands t with every variable set to "", so {?x} gives "?x=".
func (t *Template) ExpandEmpty() string { return string(t.AppendExpandEmpty(nil)) }

// AppendExpandEmpty appends ExpandEmpty's expansion to b.
func (t *Template) AppendExpandEmpty(b []byte) []byte {
	for i := range int(t.nparts) {
		nd := t.node(i)
		if !nd.expr() {
			b = append(b, t.lit(nd)...)
			continue
		}
		fr := &framings[nd.op()]
		if fr.first != 0 {
			b = append(b, fr.first)
		}
		for j := range nd.n() {
			if j > 0 {
				b = append(b, fr.sep)
			}
			if fr.named {
				b = append(b, t.name(t.varOf(nd, j))...)
				if !fr.ifEmpty {
					b = append(b, '=')
				}
			}
		}
	}
	return b
}

func lookup(vars []Var, name string) (string, bool) {
	for i := range vars {
		if vars[i].Name == name {
			return vars[i].Value, true
		}
	}
	return "", false
}

// appendValue appends val truncated to prefix characters (0: no limit) and
// percent-encoded with upper-case hex. '%' is always encoded, even where
// reserved characters are allowed, so a value never forms an escape of its
// own.
func appendValue(dst []byte, val string, prefix int, reserved bool) []byte {
	if prefix > 0 {
		n := 0
		for i := range val {
			if n == prefix {
				val = val[:i]
				break
			}
			n++
		}
	}
	set := &unreservedSet
	if reserved {
		set = &allowedSet
	}
	for i := 0; i < len(val); i++ {
		c := val[i]
		if set[c] {
			dst = append(dst, c)
		} else {
			dst = appendPct(dst, c)
		}
	}
	return dst
}

// takeRunes returns the first n characters of s.
func takeRunes(s string, n int) string {
	k := 0
	for i := range s {
		if k == n {
			return s[:i]
		}
		k++
	}
	return s
}

func capturesQuery(t *Template) bool {
	names := t.Vars()
	vars := make([]Var, len(names))
	for i, name := range names {
		vars[i] = Var{name, name}
	}
	s, _ := t.Expand(vars)
	q, ok := uriQuery(s)
	return ok && len(q) > 1
}

// uriQuery parses s as an RFC 3986 absolute URI or, failing that, as a
// relative reference, and returns its query component including the '?'
// ("" when there is none). ok is false when s is neither.
func uriQuery(s string) (query string, ok bool) {
	rest := s
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		if !validChars(rest[i+1:], "/?") {
			return "", false
		}
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		query = rest[i:]
		if !validChars(query[1:], "/?") {
			return "", false
		}
		rest = rest[:i]
	}
	if isAbsolute(rest) || isRelative(rest) {
		return query, true
	}
	return "", false
}

// validChars reports whether s consists of pchar (unreserved, pct-encoded,
// sub-delims, ':' and '@') and the bytes in extra.
func validChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if !isHexTriplet(s, i) {
				return false
			}
			i += 2
		case unreservedSet[c], strings.IndexByte("!$&'()*+,;=:@", c) >= 0, strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isAbsolute checks scheme ":" hier-part (query and fragment removed).
func isAbsolute(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !alpha || !alpha && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return hierPart(s[colon+1:])
}

// isRelative checks relative-part (query and fragment removed).
func isRelative(s string) bool {
	if strings.HasPrefix(s, "//") {
		return hierPart(s)
	}
	first, _, _ := strings.Cut(s, "/")
	return !strings.Contains(first, ":") && validChars(s, "/")
}

// hierPart checks "//" authority path-abempty, or a path without authority.
// Without "//" the path-absolute, path-rootless and path-empty forms all
// reduce to pchar and '/' here: a leading "//" was taken as an authority.
func hierPart(s string) bool {
	if !strings.HasPrefix(s, "//") {
		return validChars(s, "/")
	}
	auth, path := s[2:], ""
	if i := strings.IndexByte(auth, '/'); i >= 0 {
		auth, path = auth[:i], auth[i:]
	}
	return authority(auth) && validChars(path, "/")
}

func authority(s string) bool {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		if !validChars(s[:i], "") {
			return false
		}
		s = s[i+1:]
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !ipLiteral(s[1:end]) {
			return false
		}
		host, port = "", s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return !strings.ContainsAny(host, ":@") && validChars(host, "")
}

func ipLiteral(s string) bool {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		ver, rest, ok := strings.Cut(s[1:], ".")
		if !ok || ver == "" || rest == "" {
			return false
		}
		for i := 0; i < len(ver); i++ {
			if !isHex(ver[i]) {
				return false
			}
		}
		return !strings.ContainsAny(rest, "%@") && validChars(rest, "")
	}
	if strings.IndexByte(s, '%') >= 0 {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

// decodeValue percent-decodes a matched value. The matcher only calls it on
// text whose triplets form valid UTF-8, and it returns a substring of s when
// there is nothing to decode.
func decodeValue(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// encodedUnitEnd returns the end of the percent-encoded UTF-8 character
// that starts at s[i] ('%'), or -1 when the triplets there do not form one
// valid character.
func encodedUnitEnd(s string, i int) int {
	if !isHexTriplet(s, i) {
		return -1
	}
	b0 := unhex(s[i+1])<<4 | unhex(s[i+2])
	var n int
	switch {
	case b0 < 0x80:
		return i + 3
	case b0 >= 0xc2 && b0 <= 0xdf:
		n = 2
	case b0 >= 0xe0 && b0 <= 0xef:
		n = 3
	case b0 >= 0xf0 && b0 <= 0xf4:
		n = 4
	default:
		return -1
	}
	var buf [4]byte
	buf[0] = b0
	for k := 1; k < n; k++ {
		j := i + 3*k
		if !isHexTriplet(s, j) {
			return -1
		}
		buf[k] = unhex(s[j+1])<<4 | unhex(s[j+2])
	}
	if _, size := utf8.DecodeRune(buf[:n]); size != n {
		return -1
	}
	return i + 3*n
}
