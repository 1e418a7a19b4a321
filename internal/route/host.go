package route

import "strings"

// HostKey normalizes a Host header value for lookup: lower case, without
// port, brackets or trailing dot. It agrees with manifest.HostKey on every
// name a manifest accepts, and never allocates for a name that is already
// lower case.
func HostKey(h string) string {
	if h == "" {
		return ""
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return lower(h)
		}
		h = h[1:end]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[:i], ':') < 0 {
		h = h[:i]
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	return lower(h)
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
