package file

import (
	"strings"

	"portico/internal/query"
)

// absURI is an absolute URI split for query merging.
type absURI struct {
	// head is everything before the query: scheme, authority (with any
	// password masked as Scarf does) and path.
	head     string
	rawQuery string // without '?'
	hasQuery bool
	fragment string // with its '#', or ""
}

// parseAbsURI splits s if it is a strictly valid absolute RFC 3986 URI.
// Scarf merges the request query only into such targets; anything else is
// redirected to as it is.
func parseAbsURI(s string) (absURI, bool) {
	var u absURI
	i := 0
	for i < len(s) && s[i] != ':' {
		c := s[i]
		if !(isAlpha(c) || i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			return u, false
		}
		i++
	}
	if i == 0 || i == len(s) {
		return u, false
	}
	scheme := s[:i+1]
	rest := s[i+1:]
	head := scheme
	if strings.HasPrefix(rest, "//") {
		end := strings.IndexAny(rest[2:], "/?#")
		if end < 0 {
			end = len(rest) - 2
		}
		authority := rest[2 : 2+end]
		masked, ok := checkAuthority(authority)
		if !ok {
			return u, false
		}
		head += "//" + masked
		rest = rest[2+end:]
	}
	pathEnd := strings.IndexAny(rest, "?#")
	if pathEnd < 0 {
		pathEnd = len(rest)
	}
	if !validChars(rest[:pathEnd], "/:@") {
		return u, false
	}
	head += rest[:pathEnd]
	rest = rest[pathEnd:]
	if strings.HasPrefix(rest, "?") {
		end := strings.IndexByte(rest, '#')
		if end < 0 {
			end = len(rest)
		}
		u.rawQuery, u.hasQuery = rest[1:end], true
		if !validChars(u.rawQuery, "/?:@") {
			return u, false
		}
		rest = rest[end:]
	}
	if strings.HasPrefix(rest, "#") {
		if !validChars(rest[1:], "/?:@") {
			return u, false
		}
		u.fragment = rest
	}
	u.head = head
	return u, true
}

// checkAuthority validates userinfo@host:port and returns it with a
// password replaced by "...", as Scarf's URI printer writes it.
func checkAuthority(a string) (string, bool) {
	userinfo, hostport, hasUser := strings.Cut(a, "@")
	if !hasUser {
		hostport, userinfo = a, ""
	} else if strings.Contains(hostport, "@") || !validChars(userinfo, ":") {
		return "", false
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 || !validIPLiteral(hostport[1:end]) {
			return "", false
		}
		host, port = hostport[:end+1], hostport[end+1:]
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i:]
	}
	if port != "" {
		if port[0] != ':' {
			return "", false
		}
		for j := 1; j < len(port); j++ {
			if !isDigit(port[j]) {
				return "", false
			}
		}
	}
	if !strings.HasPrefix(host, "[") && !validChars(host, "") {
		return "", false
	}
	if !hasUser {
		return a, true
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass && userinfo != user+":" {
		return user + ":...@" + hostport, true
	}
	return a, true
}

func validIPLiteral(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':' || c == '.' || c == 'v' || c == 'V') {
			return false
		}
	}
	return true
}

// validChars reports whether s consists of unreserved characters,
// sub-delims, percent-escapes and the characters in extra.
func validChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case query.IsUnreserved(c), strings.IndexByte("!$&'()*+,;=", c) >= 0, strings.IndexByte(extra, c) >= 0:
		case c == '%' && i+2 < len(s) && query.IsHex(s[i+1]) && query.IsHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// appendMerged appends u with the request's query items merged into its
// query: the target's parameters first, then the request's, keeping only
// the first occurrence of each key, re-encoded.
func appendMerged(dst []byte, u absURI, reqItems, scratch []query.Item) ([]byte, []query.Item) {
	items := scratch[:0]
	if u.hasQuery {
		items = query.AppendParse(items, u.rawQuery)
	}
	items = append(items, reqItems...)
	kept := query.KeepFirst(items)
	dst = append(dst, u.head...)
	dst = query.AppendRender(dst, kept)
	dst = append(dst, u.fragment...)
	return dst, items
}
