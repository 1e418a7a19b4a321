package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Origin is where a request goes: scheme, host and port (RFC 6454). Two
// URLs reach the same server, with the same credentials and cookies, if
// and only if their origins are equal.
type Origin struct {
	Scheme string // "http" or "https"
	// Host is lower case, without a trailing dot; an IP address is in
	// its canonical form, an IPv6 one without brackets.
	Host string
	Port uint16 // never 0: the scheme's default when the URL has none
}

// String returns scheme://host[:port], the port left out when it is the
// scheme's default.
func (o Origin) String() string {
	host := o.Host
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if o.Port == defaultPort(o.Scheme) {
		return o.Scheme + "://" + host
	}
	return o.Scheme + "://" + host + ":" + strconv.Itoa(int(o.Port))
}

// HostPort returns host:port as a dialer addresses it.
func (o Origin) HostPort() string {
	return net.JoinHostPort(o.Host, strconv.Itoa(int(o.Port)))
}

func defaultPort(scheme string) uint16 {
	if scheme == "https" {
		return 443
	}
	return 80
}

// ParseOrigin reads the origin of a base URL such as "https://ghcr.io" or
// "http://127.0.0.1:5000/simple/"; its path is ignored.
func ParseOrigin(raw string) (Origin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Origin{}, fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	return OriginOf(u)
}

// OriginOf returns the origin of an absolute URL. It refuses what Portico
// never sends a request to: schemes other than http and https, URLs with
// credentials in them (user:password@host), and hosts that are neither an
// IP address nor a plain DNS name (non-ASCII, percent-encoded, with an
// IPv6 zone, empty labels).
func OriginOf(u *url.URL) (Origin, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		if scheme == "" {
			return Origin{}, errors.New("not an absolute URL")
		}
		return Origin{}, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return Origin{}, errors.New("the URL carries credentials (user:password@host)")
	}
	if u.Opaque != "" {
		return Origin{}, errors.New("not a hierarchical URL")
	}
	host, port, err := splitHostPort(u.Host)
	if err != nil {
		return Origin{}, err
	}
	o := Origin{Scheme: scheme, Port: defaultPort(scheme)}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Origin{}, fmt.Errorf("invalid port %q", port)
		}
		o.Port = uint16(n)
	}
	if o.Host, err = canonicalHost(host); err != nil {
		return Origin{}, err
	}
	return o, nil
}

// splitHostPort splits url.URL.Host, which may hold an IPv6 literal in
// brackets and may end in ":" with no port.
func splitHostPort(hostport string) (host, port string, err error) {
	if hostport == "" {
		return "", "", errors.New("no host")
	}
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", "", fmt.Errorf("invalid host %q", hostport)
		}
		host, rest := hostport[1:end], hostport[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return "", "", fmt.Errorf("invalid host %q", hostport)
			}
			port = p
		}
		if !strings.Contains(host, ":") {
			return "", "", fmt.Errorf("invalid host %q: not an IPv6 address in brackets", hostport)
		}
		return host, port, nil
	}
	host = hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if strings.Contains(host, ":") {
		return "", "", fmt.Errorf("invalid host %q: an IPv6 address must be in brackets", hostport)
	}
	return host, port, nil
}

// canonicalHost lower-cases a DNS name and drops one trailing dot, or
// puts an IP address in its canonical form.
func canonicalHost(host string) (string, error) {
	if strings.ContainsRune(host, ':') || looksNumeric(host) {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return "", fmt.Errorf("invalid IP address %q", host)
		}
		if a.Zone() != "" {
			return "", fmt.Errorf("invalid host %q: an address with a zone is local to this machine", host)
		}
		return a.String(), nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "" || len(name) > 253 {
		return "", fmt.Errorf("invalid host name %q", host)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("invalid host name %q: empty or overlong label", host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("invalid host name %q: only letters, digits, '-', '_' and '.' are allowed", host)
			}
		}
	}
	return name, nil
}

// looksNumeric reports whether the last label of host starts with a
// digit, as an IPv4 address does. Such a host must be a dotted-quad
// address: resolvers read forms like "2130706433", "0x7f.1" or
// "127.1" as addresses too, and no top-level domain is numeric.
func looksNumeric(host string) bool {
	h := strings.TrimSuffix(host, ".")
	last := h[strings.LastIndexByte(h, '.')+1:]
	return last != "" && '0' <= last[0] && last[0] <= '9'
}

// Resolve reads the Location of a redirect received for the request to
// from: relative references, including protocol-relative ones
// ("//host/path"), resolve against from. It refuses what must never be
// followed or passed on: a scheme other than http or https, credentials
// in the URL, an unusable host. The fragment is dropped.
func Resolve(from *url.URL, location string) (*url.URL, error) {
	location = strings.TrimSpace(location)
	if location == "" {
		return nil, &RefusedError{Target: from.Host, Reason: "redirect without a Location"}
	}
	to, err := from.Parse(location)
	if err != nil {
		return nil, &RefusedError{Target: quoteTarget(location), Reason: "unreadable redirect Location"}
	}
	if _, err := OriginOf(to); err != nil {
		target := to.Host
		if target == "" || to.User != nil {
			target = to.Redacted()
		}
		return nil, &RefusedError{Target: quoteTarget(target), Reason: "redirect not followed: " + err.Error()}
	}
	to.Fragment, to.RawFragment = "", ""
	return to, nil
}

// quoteTarget keeps a target taken from an upstream's answer printable
// and short in messages and logs.
func quoteTarget(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	q := strconv.Quote(s)
	if q[1:len(q)-1] == s {
		return s
	}
	return q
}
