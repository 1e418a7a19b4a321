package upstream

import (
	"net/netip"
)

// Class is what an IP address is, as far as the outbound policy cares:
// only public addresses are dialed for anything but a rule's own backend.
type Class uint8

// Classes of addresses. The ranges come from the IANA IPv4 and IPv6
// special-purpose address registries (RFC 6890 and its updates).
const (
	// Public is a globally reachable unicast address.
	Public Class = iota
	// Loopback is 127.0.0.0/8 and ::1.
	Loopback
	// Private is an address of a private network: 10/8, 172.16/12,
	// 192.168/16, shared address space 100.64/10 (carrier-grade NAT),
	// unique local fc00::/7 and local-use NAT64 64:ff9b:1::/48.
	Private
	// LinkLocal is 169.254/16 and fe80::/10 (and site-local fec0::/10),
	// except the metadata addresses.
	LinkLocal
	// Metadata is a cloud provider's instance metadata service, which
	// hands out credentials to anyone on the machine who asks.
	Metadata
	// Unspecified is 0.0.0.0/8 and ::, which connect to the local host.
	Unspecified
	// Multicast is a multicast or broadcast address.
	Multicast
	// Reserved is any other special-purpose or unallocated range:
	// documentation, benchmarking, protocol assignments, 240/4, IPv6
	// outside 2000::/3, deprecated transition mechanisms.
	Reserved
)

func (c Class) String() string {
	switch c {
	case Public:
		return "public"
	case Loopback:
		return "loopback"
	case Private:
		return "private"
	case LinkLocal:
		return "link-local"
	case Metadata:
		return "cloud metadata"
	case Unspecified:
		return "unspecified"
	case Multicast:
		return "multicast or broadcast"
	case Reserved:
		return "reserved"
	}
	return "unknown"
}

// allowedPrivately reports whether --allow-private-upstreams opens the
// class. Metadata services, unspecified and multicast addresses stay
// closed: no registry or index lives there, and the first is the classic
// target of request forgery.
func (c Class) allowedPrivately() bool {
	switch c {
	case Loopback, Private, LinkLocal, Reserved:
		return true
	}
	return false
}

// metadataAddrs are the instance metadata endpoints of the major clouds:
// 169.254.169.254 (AWS, Azure, GCP, Oracle, DigitalOcean, OpenStack …),
// AWS's container and pod credential endpoints, Alibaba Cloud's, and
// AWS's IPv6 ones.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("169.254.170.2"),
	netip.MustParseAddr("169.254.170.23"),
	netip.MustParseAddr("100.100.100.200"),
	netip.MustParseAddr("192.0.0.192"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("fd00:ec2::23"),
}

type prefixClass struct {
	p netip.Prefix
	c Class
}

func pc(s string, c Class) prefixClass { return prefixClass{netip.MustParsePrefix(s), c} }

// v4Ranges are the IPv4 special-purpose ranges; everything else is
// public.
var v4Ranges = []prefixClass{
	pc("0.0.0.0/8", Unspecified),
	pc("10.0.0.0/8", Private),
	pc("100.64.0.0/10", Private),
	pc("127.0.0.0/8", Loopback),
	pc("169.254.0.0/16", LinkLocal),
	pc("172.16.0.0/12", Private),
	pc("192.0.0.0/24", Reserved),
	pc("192.0.2.0/24", Reserved),
	pc("192.88.99.0/24", Reserved),
	pc("192.168.0.0/16", Private),
	pc("198.18.0.0/15", Reserved),
	pc("198.51.100.0/24", Reserved),
	pc("203.0.113.0/24", Reserved),
	pc("224.0.0.0/4", Multicast),
	pc("255.255.255.255/32", Multicast),
	pc("240.0.0.0/4", Reserved),
}

// v6Ranges are the IPv6 special-purpose ranges inside 2000::/3 (global
// unicast) and the ones outside it that have a class of their own; the
// rest of the space outside 2000::/3 is Reserved. IPv4-mapped,
// NAT64 and 6to4 addresses are classified by the IPv4 address they
// carry, before this list is consulted.
var v6Ranges = []prefixClass{
	pc("::/128", Unspecified),
	pc("::1/128", Loopback),
	pc("64:ff9b:1::/48", Private),
	pc("fc00::/7", Private),
	pc("fe80::/10", LinkLocal),
	pc("fec0::/10", LinkLocal),
	pc("ff00::/8", Multicast),
	pc("2001::/23", Reserved),
	pc("2001:db8::/32", Reserved),
	pc("3fff::/20", Reserved),
}

var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
)

// Classify returns the class of a. An IPv6 address that carries an IPv4
// one (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16)
// is classified by the IPv4 address, which is where the packets end up.
// A zone does not change the class.
func Classify(a netip.Addr) Class {
	a = a.WithZone("")
	if !a.IsValid() {
		return Reserved
	}
	for _, m := range metadataAddrs {
		if a == m {
			return Metadata
		}
	}
	if a.Is4In6() {
		return Classify(a.Unmap())
	}
	if a.Is4() {
		for _, r := range v4Ranges {
			if r.p.Contains(a) {
				return r.c
			}
		}
		return Public
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return Classify(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return Classify(netip.AddrFrom4([4]byte(b[2:6])))
	}
	for _, r := range v6Ranges {
		if r.p.Contains(a) {
			return r.c
		}
	}
	if !globalUnicast.Contains(a) {
		return Reserved
	}
	return Public
}
