package manifest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"portico/internal/uritemplate"
)

// HostKey normalizes a host name the way requests are routed: lower case,
// without a port and without a trailing dot. It rejects names that could
// never arrive in a Host header.
func HostKey(s string) (string, error) {
	if s == "" {
		return "", errors.New("must not be empty")
	}
	if strings.Contains(s, "://") {
		return "", fmt.Errorf("invalid host %q: give a host name, not a URL", s)
	}
	// Checked before lower-casing: Unicode case mapping turns some
	// non-ASCII letters into ASCII ones ("İ" becomes "i").
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", fmt.Errorf("invalid host %q: write internationalized names in their ASCII (xn--) form", s)
		}
	}
	host := s
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", fmt.Errorf("invalid host %q: unclosed '['", s)
		}
		if rest := host[end+1:]; rest != "" && !validPort(rest) {
			return "", fmt.Errorf("invalid host %q: bad port", s)
		}
		ip := net.ParseIP(host[1:end])
		if ip == nil || ip.To4() != nil {
			return "", fmt.Errorf("invalid host %q: not an IPv6 address", s)
		}
		// The RFC 5952 form, as requests are routed by it.
		return ip.String(), nil
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if !validPort(host[i:]) {
			return "", fmt.Errorf("invalid host %q: bad port", s)
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return "", fmt.Errorf("invalid host %q: empty name", s)
	}
	if len(host) > 253 {
		return "", fmt.Errorf("invalid host %q: longer than 253 characters", s)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", fmt.Errorf("invalid host %q: character %q is not allowed in a host name", s, rune(c))
		}
	}
	// One trailing dot (the root) was trimmed above; "a.." has an empty
	// last label, which no Host header can name.
	if strings.Contains(host, "..") || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") {
		return "", fmt.Errorf("invalid host %q: empty label", s)
	}
	return host, nil
}

// validPort reports whether s is ":" followed by a port number.
func validPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	n := 0
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// ParseBackend reads a backend host as written in a manifest: a bare
// host[:port], meaning https, or an http(s) URL without a path.
func ParseBackend(s string) (Backend, error) {
	if s == "registry.hub.docker.com" {
		// Scarf Gateway rewrites the Docker Hub web name to its registry.
		s = "registry-1.docker.io"
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return Backend{}, fmt.Errorf("invalid URL %q: %w", s, unwrapURLError(err))
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return Backend{}, fmt.Errorf("invalid URL %q: scheme must be http or https", s)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
			return Backend{}, fmt.Errorf("invalid URL %q: give only a scheme, a host and a port", s)
		}
		if _, err := HostKey(u.Host); err != nil {
			return Backend{}, err
		}
		return Backend{Text: s, Scheme: u.Scheme, Host: u.Host}, nil
	}
	if _, err := HostKey(s); err != nil {
		return Backend{}, err
	}
	return Backend{Text: s, Scheme: "https", Host: s}, nil
}

func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// checkAbsoluteURL accepts absolute http and https URLs with a host.
func checkAbsoluteURL(s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("invalid URL %q: contains white space or control characters", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", s, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("invalid URL %q: must be an absolute http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("invalid URL %q: no host", s)
	}
	return nil
}

// CheckOutgoing accepts an outgoing URL template only if it is an absolute
// http(s) URL whose scheme, host and port are fixed text. A variable may
// follow the host only through an operator that starts a new component
// ({/x}, {?x}, {#x}), so no value can ever move a redirect to another
// host: that is what makes redirects safe from open-redirect abuse.
func CheckOutgoing(t *uritemplate.Template) error { return checkOutgoing(t, nil) }

// checkOutgoing is CheckOutgoing. The answers for scheme://authority
// prefixes are kept in origins, when it is not nil: a manifest's rules
// share a few, and checking one parses a URL.
func checkOutgoing(t *uritemplate.Template, origins map[string]error) error {
	// The leading literal, as written, is the source up to the first
	// '{': a literal holds no brace, and an expression starts with one.
	src := t.String()
	prefix, expr, hasExpr := strings.Cut(src, "{")
	scheme, rest, ok := strings.Cut(prefix, "://")
	if !ok {
		if hasExpr && !strings.Contains(src, "://") {
			return errors.New("must be an absolute http or https URL")
		}
		if hasExpr {
			return fmt.Errorf("the scheme and host must be fixed text; a variable appears at column %d", utf8.RuneCountInString(prefix)+1)
		}
		return errors.New("must be an absolute http or https URL")
	}
	if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return fmt.Errorf("scheme %q is not http or https", scheme)
	}
	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority = rest[:end]
	} else if hasExpr {
		switch expr[0] {
		case '/', '?', '#':
		default:
			return fmt.Errorf("the scheme and host must be fixed text; a variable appears at column %d", utf8.RuneCountInString(prefix)+1)
		}
	}
	if authority == "" {
		return errors.New("no host after \"://\"")
	}
	origin := prefix[:len(scheme)+len("://")+len(authority)]
	if err, ok := origins[origin]; ok {
		return err
	}
	err := checkOrigin(origin, authority)
	if origins != nil {
		origins[origin] = err
	}
	return err
}

// checkOrigin checks the host of scheme://authority.
func checkOrigin(origin, authority string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("invalid host %q", authority)
	}
	if _, err := HostKey(u.Host); err != nil {
		return err
	}
	return nil
}

// checkTargetDomain accepts a catch-all redirect target: a host with an
// optional port and path prefix, and no scheme.
func checkTargetDomain(s string) error {
	if strings.Contains(s, "://") {
		return fmt.Errorf("give a host such as \"downloads.example.com\", without a scheme: %q", s)
	}
	if strings.ContainsAny(s, "?#@\\") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("invalid target %q: only a host, a port and a path are allowed", s)
	}
	host, _, _ := strings.Cut(s, "/")
	if _, err := HostKey(host); err != nil {
		return err
	}
	return nil
}

// checkRepositoryName accepts image paths made of non-empty segments.
func checkRepositoryName(s string) error {
	for _, seg := range strings.Split(s, "/") {
		if seg == "" {
			return fmt.Errorf("invalid image name %q: empty path segment", s)
		}
		if strings.ContainsFunc(seg, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("invalid image name %q: contains white space or control characters", s)
		}
	}
	return nil
}

// checkToken accepts a plain bearer token or "sha256:" and 64 hex digits.
func checkToken(tok string) error {
	if rest, ok := strings.CutPrefix(tok, "sha256:"); ok {
		if b, err := hex.DecodeString(rest); err != nil || len(b) != 32 {
			return errors.New("a hashed token is \"sha256:\" followed by 64 hex digits")
		}
		return nil
	}
	if tok == "" || strings.TrimSpace(tok) != tok || strings.ContainsFunc(tok, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return errors.New("a token must be non-empty, without surrounding white space or control characters")
	}
	return nil
}

// compileRegexp compiles a file-v2 expression with RE2 semantics. Perl
// constructs that RE2 does not support (lookaround, backreferences,
// possessive quantifiers) are rejected here rather than silently behaving
// differently at request time.
func compileRegexp(src string) (*regexp.Regexp, error) {
	trimmed := strings.TrimSpace(src)
	if trimmed == "" {
		return nil, errors.New("empty regular expression")
	}
	lead := strings.Index(src, trimmed)
	if at, what := perlOnly(trimmed); at >= 0 {
		return nil, fmt.Errorf("%s are not supported (expressions use RE2 syntax) at column %d",
			what, utf8.RuneCountInString(src[:lead+at])+1)
	}
	re, err := regexp.Compile(trimmed)
	if err == nil {
		return re, nil
	}
	se, ok := errors.AsType[*syntax.Error](err)
	if !ok {
		return nil, err
	}
	col := 0
	if at := strings.Index(trimmed, se.Expr); se.Expr != "" && at >= 0 {
		col = utf8.RuneCountInString(src[:lead+at]) + 1
	}
	var msg string
	switch se.Code {
	case syntax.ErrInvalidPerlOp:
		msg = fmt.Sprintf("unsupported syntax %q (lookahead and lookbehind are not supported)", se.Expr)
	case syntax.ErrInvalidEscape:
		msg = fmt.Sprintf("invalid escape %q (backreferences are not supported)", se.Expr)
	case syntax.ErrInvalidRepeatOp:
		msg = fmt.Sprintf("invalid repetition %q (possessive quantifiers are not supported)", se.Expr)
	default:
		msg = fmt.Sprintf("%s: %q", se.Code, se.Expr)
	}
	if col > 0 {
		return nil, fmt.Errorf("%s at column %d", msg, col)
	}
	return nil, errors.New(msg)
}

// perlOnly finds the first group construct that PCRE has and RE2 lacks,
// outside character classes, and names it. It returns -1 when there is
// none; the RE2 parser then reports any other problem.
func perlOnly(re string) (at int, what string) {
	inClass := false
	for i := 0; i < len(re); i++ {
		switch c := re[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if strings.HasPrefix(re[i+1:], "^]") {
				i += 2
			} else if strings.HasPrefix(re[i+1:], "]") {
				i++
			}
		case c == '(' && strings.HasPrefix(re[i:], "(?"):
			rest := re[i+2:]
			switch {
			case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"):
				return i, "lookahead assertions"
			case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
				return i, "lookbehind assertions"
			case strings.HasPrefix(rest, ">"):
				return i, "atomic groups"
			case strings.HasPrefix(rest, "("):
				return i, "conditional groups"
			case strings.HasPrefix(rest, "R)"), len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9':
				return i, "recursive patterns"
			}
		}
	}
	return -1, ""
}
