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

// Host returns the host r is addressed to: the last X-Forwarded-Host value
// when the peer is trusted (the value the nearest proxy vouches for), else
// the Host header.
func (t *Trusted) Host(r *http.Request) string {
	xfh := r.Header["X-Forwarded-Host"]
	if len(xfh) == 0 || len(t.prefixes) == 0 || !t.Contains(Peer(r)) {
		return r.Host
	}
	v := xfh[len(xfh)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	if v = strings.TrimSpace(v); v == "" {
		return r.Host
	}
	return v
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
