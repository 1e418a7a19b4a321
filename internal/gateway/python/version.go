package python

import (
	"cmp"
	"strconv"
	"strings"
)

// Normalize returns the PEP 503 normalized form of a project name: lower
// case, with every run of '-', '_' and '.' replaced by one '-'.
func Normalize(name string) string {
	plain := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' || c == '_' || c == '.' || c == '-' && i+1 < len(name) && isSep(name[i+1]) {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isSep(c) {
			if i == 0 || !isSep(name[i-1]) {
				b = append(b, '-')
			}
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func isSep(c byte) bool { return c == '-' || c == '_' || c == '.' }

// A Version is a parsed PEP 440 version. Its numbers have no bound, so
// they are kept as decimal strings without leading zeros ("0" for zero):
// reading, comparing and printing them takes time linear in their length,
// where arbitrary-precision integers would take quadratic time in
// conversions, and versions come from upstream pages.
type Version struct {
	Epoch   int64
	Release []string
	// Pre is "a", "b" or "rc" with PreN; "" when not a pre-release.
	Pre     string
	PreN    string
	Post    string   // "" when not a post-release
	Dev     string   // "" when not a development release
	Local   []string // lower-cased segments
	hasPost bool
	hasDev  bool
}

// ParseVersion parses a version as PEP 440 describes, accepting every
// spelling it allows ("1.0-RC.1", "v2", "1.0.post-1", ...).
func ParseVersion(s string) (Version, bool) {
	var v Version
	p := strings.ToLower(strings.TrimSpace(s))
	p = strings.TrimPrefix(p, "v")
	// Epoch.
	if i := strings.IndexByte(p, '!'); i >= 0 {
		n, err := strconv.ParseInt(p[:i], 10, 64)
		if err != nil || n < 0 {
			return v, false
		}
		v.Epoch = n
		p = p[i+1:]
	}
	// Local part.
	if i := strings.IndexByte(p, '+'); i >= 0 {
		local := p[i+1:]
		p = p[:i]
		if local == "" {
			return v, false
		}
		for seg := range strings.FieldsFuncSeq(local, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
			if !alnum(seg) {
				return v, false
			}
			v.Local = append(v.Local, seg)
		}
		if len(v.Local) == 0 || strings.Count(local, ".")+strings.Count(local, "-")+strings.Count(local, "_")+1 != len(v.Local) {
			return v, false
		}
	}
	// Release.
	n := digits(p)
	if n == 0 {
		return v, false
	}
	for {
		v.Release = append(v.Release, decimal(p[:n]))
		p = p[n:]
		if len(p) < 2 || p[0] != '.' || digits(p[1:]) == 0 {
			break
		}
		p = p[1:]
		n = digits(p)
	}
	// Pre-release.
	if q, ok := cutSep(p); ok {
		for _, sp := range [...]struct{ word, norm string }{
			{"alpha", "a"}, {"beta", "b"}, {"preview", "rc"}, {"pre", "rc"}, {"rc", "rc"}, {"a", "a"}, {"b", "b"}, {"c", "rc"},
		} {
			if strings.HasPrefix(q, sp.word) {
				v.Pre, p = sp.norm, q[len(sp.word):]
				v.PreN, p = number(p)
				break
			}
		}
	}
	// Post-release: "-N", or [sep]post|rev|r[sep]N.
	if len(p) > 1 && p[0] == '-' && digits(p[1:]) > 0 {
		v.Post, p = number(p[1:])
		v.hasPost = true
	} else if q, ok := cutSep(p); ok {
		for _, word := range [...]string{"post", "rev", "r"} {
			if strings.HasPrefix(q, word) {
				v.Post, p = number(q[len(word):])
				v.hasPost = true
				break
			}
		}
	}
	// Development release.
	if q, ok := cutSep(p); ok && strings.HasPrefix(q, "dev") {
		v.Dev, p = number(q[3:])
		v.hasDev = true
	}
	if p != "" {
		return Version{}, false
	}
	return v, true
}

// cutSep drops one optional separator before a word.
func cutSep(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	if isSep(p[0]) {
		return p[1:], true
	}
	return p, true
}

// number reads an optional separator and digits; no digits means 0.
func number(p string) (string, string) {
	q := p
	if q != "" && isSep(q[0]) && digits(q[1:]) > 0 {
		q = q[1:]
	}
	n := digits(q)
	if n == 0 {
		return "0", p
	}
	return decimal(q[:n]), q[n:]
}

// decimal is the canonical form of a string of digits: without leading
// zeros, "0" for zero.
func decimal(d string) string {
	d = strings.TrimLeft(d, "0")
	if d == "" {
		return "0"
	}
	return d
}

// cmpDecimal compares canonical decimals numerically.
func cmpDecimal(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func digits(s string) int {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// String returns the normalized form of v.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 {
		b.WriteString(strconv.FormatInt(v.Epoch, 10))
		b.WriteByte('!')
	}
	for i, r := range v.Release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(r)
	}
	if v.Pre != "" {
		b.WriteString(v.Pre)
		b.WriteString(v.PreN)
	}
	if v.hasPost {
		b.WriteString(".post")
		b.WriteString(v.Post)
	}
	if v.hasDev {
		b.WriteString(".dev")
		b.WriteString(v.Dev)
	}
	if len(v.Local) > 0 {
		b.WriteByte('+')
		b.WriteString(strings.Join(v.Local, "."))
	}
	return b.String()
}

// Compare orders versions as PEP 440 does: -1 when v is older than w.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Epoch, w.Epoch); c != 0 {
		return c
	}
	n := max(len(v.Release), len(w.Release))
	for i := range n {
		if c := cmpDecimal(releaseAt(v.Release, i), releaseAt(w.Release, i)); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if v.Pre != "" && w.Pre != "" {
		if c := cmpDecimal(v.PreN, w.PreN); c != 0 {
			return c
		}
	}
	if c := cmpOptional(v.hasPost, v.Post, w.hasPost, w.Post, -1); c != 0 {
		return c
	}
	if c := cmpOptional(v.hasDev, v.Dev, w.hasDev, w.Dev, +1); c != 0 {
		return c
	}
	return compareLocal(v.Local, w.Local)
}

func releaseAt(r []string, i int) string {
	if i < len(r) {
		return r[i]
	}
	return "0"
}

// preRank places a version among its kind: a development release of a
// final version (1.0.dev1) sorts before its pre-releases, pre-releases in
// a < b < rc order, then the final version and its post-releases.
func (v Version) preRank() int {
	switch {
	case v.Pre == "" && !v.hasPost && v.hasDev:
		return -1
	case v.Pre == "a":
		return 0
	case v.Pre == "b":
		return 1
	case v.Pre == "rc":
		return 2
	}
	return 3
}

// cmpOptional compares optional numbers; absent sorts as missing (-1:
// before any value, +1: after any value).
func cmpOptional(hasA bool, a string, hasB bool, b string, missing int) int {
	switch {
	case hasA && hasB:
		return cmpDecimal(a, b)
	case hasA:
		return -missing
	case hasB:
		return missing
	}
	return 0
}

// compareLocal orders local segments: numeric segments above strings,
// numbers numerically, and a longer label above its prefix.
func compareLocal(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		aNum, bNum := digits(a[i]) == len(a[i]), digits(b[i]) == len(b[i])
		switch {
		case aNum && bNum:
			if c := cmpDecimal(decimal(a[i]), decimal(b[i])); c != 0 {
				return c
			}
		case aNum:
			return 1
		case bNum:
			return -1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}
