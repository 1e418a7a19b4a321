// Package clientip decides which request headers to believe about where a
// request came from: X-Forwarded-Host and X-Forwarded-For are honoured only
// when the TCP peer is a trusted proxy.
//
// The addresses it returns are for coarse enrichment (country, network)
// and are never to be stored or logged.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultTrusted is the default list of trusted proxies: loopback only, so
// a gateway behind a proxy on the same machine works out of the box and
// nobody else can choose the Host it routes by.
const DefaultTrusted = "127.0.0.0/8,::1/128"

// Trusted is a set of proxy addresses whose forwarding headers are
// believed.
type Trusted struct {
	prefixes []netip.Prefix
}

// ParseTrusted reads a comma-separated list of CIDR prefixes and addresses.
// The empty string trusts nobody.
func ParseTrusted(list string) (*Trusted, error) {
	t := &Trusted{}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxies: %w", err)
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %w", err)
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

// Contains reports whether a is a trusted proxy.
func (t *Trusted) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer returns the address of the TCP peer of r.
func Peer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Forwarded returns the host r is addressed to, as text still to be
// parsed, and whether the client reached the gateway over https. When
// the peer is a trusted proxy, its X-Forwarded-Host and X-Forwarded-Proto
// replace the Host header and the connection's TLS state: of several
// values the last one counts (the one the nearest proxy vouches for), and
// a blank one counts as absent. ok is false when a trusted proxy names a
// protocol other than http or https, which the gateway refuses rather
// than guess.
func (t *Trusted) Forwarded(r *http.Request) (host string, https, ok bool) {
	host, https = r.Host, r.TLS != nil
	if len(t.prefixes) == 0 {
		return host, https, true
	}
	xfh, xfp := r.Header["X-Forwarded-Host"], r.Header["X-Forwarded-Proto"]
	if len(xfh)+len(xfp) == 0 || !t.Contains(Peer(r)) {
		return host, https, true
	}
	if v := lastValue(xfh); v != "" {
		host = v
	}
	switch v := lastValue(xfp); {
	case v == "":
	case strings.EqualFold(v, "https"):
		https = true
	case strings.EqualFold(v, "http"):
		https = false
	default:
		return host, https, false
	}
	return host, https, true
}

// lastValue returns the last comma-separated element of the last header
// line, without surrounding white space.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v := lines[len(lines)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// Client returns the client's address: the peer, or, when the peer is a
// trusted proxy, the rightmost X-Forwarded-For address that is not itself
// a trusted proxy.
func (t *Trusted) Client(r *http.Request) netip.Addr {
	peer := Peer(r)
	xff := r.Header["X-Forwarded-For"]
	if len(xff) == 0 || !t.Contains(peer) {
		return peer
	}
	addr := peer
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				item, list = list[j+1:], list[:j]
			} else {
				item, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return addr
			}
			addr = a.Unmap()
			if !t.Contains(addr) {
				return addr
			}
		}
	}
	return addr
}
