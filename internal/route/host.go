package route

import (
	"net/netip"
	"strings"
)

// ParseHost reads the host a request is addressed to, from its Host
// header or a trusted proxy's X-Forwarded-Host, by RFC 3986's
// host [ ":" port ] grammar narrowed to what can name a server: a reg-name
// of letters, digits, '-', '_' and '.' (no empty label, at most 253
// characters, one trailing dot allowed), or an IPv6 literal in brackets
// without a zone. The port, when given, is 1 to 65535 in at most five
// digits. Percent-encoding, other sub-delims, userinfo, IPvFuture, zones,
// an empty port and bare IPv6 addresses are refused: no client reaching a
// server writes them, and none can name a configured domain.
//
// key is the canonical name: lower case without the trailing dot, or the
// RFC 5952 form of an IPv6 address without brackets. It agrees with
// manifest.HostKey on every name a manifest accepts. port is 0 when none
// was given. ParseHost does not allocate for a name already in canonical
// form.
func ParseHost(h string) (key string, port uint16, ok bool) {
	if h == "" {
		return "", 0, false
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", 0, false
		}
		if rest := h[end+1:]; rest != "" {
			if rest[0] != ':' {
				return "", 0, false
			}
			if port, ok = parsePort(rest[1:]); !ok {
				return "", 0, false
			}
		}
		key, ok = ipv6Key(h[1:end])
		return key, port, ok
	}
	name := h
	if i := strings.IndexByte(h, ':'); i >= 0 {
		// Digits only after the first ':', so a second ':' (a bare IPv6
		// address) fails here too.
		if port, ok = parsePort(h[i+1:]); !ok {
			return "", 0, false
		}
		name = h[:i]
	}
	key, ok = regName(name)
	return key, port, ok
}

// regName checks a host name and returns it in lower case without its
// trailing dot.
func regName(s string) (string, bool) {
	if n := len(s); n > 1 && s[n-1] == '.' {
		s = s[:n-1]
	}
	if s == "" || len(s) > 253 {
		return "", false
	}
	upper := false
	prev := byte('.') // a leading dot is an empty label
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == '.':
			if prev == '.' {
				return "", false
			}
		default:
			return "", false
		}
		prev = c
	}
	if prev == '.' {
		return "", false
	}
	if upper {
		return strings.ToLower(s), true
	}
	return s, true
}

// ipv6Key checks the text between brackets and returns the address in
// RFC 5952 form, as manifest.HostKey writes it.
func ipv6Key(lit string) (string, bool) {
	if lit == "" || len(lit) > 45 {
		return "", false
	}
	for i := 0; i < len(lit); i++ {
		// Rules out zones ('%') and IPvFuture ("v1.x") before parsing.
		if c := lit[i]; !isHex(c) && c != ':' && c != '.' {
			return "", false
		}
	}
	a, err := netip.ParseAddr(lit)
	if err != nil || !a.Is6() {
		return "", false
	}
	var buf [64]byte
	canon := a.AppendTo(buf[:0])
	if string(canon) == lit {
		return lit, true
	}
	return string(canon), true
}

// parsePort reads a port number of one to five digits, 1 to 65535.
func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
