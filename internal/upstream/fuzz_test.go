package upstream

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzResolve: whatever Location a backend sends, what Resolve accepts is
// an http(s) URL without credentials whose origin reads back the same,
// and the policy calls it the backend exactly when its origin is the
// backend's.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/v2/x", "//127.0.0.1:6000/v2/x", "http://user:pw@127.0.0.1:5000/", "file:///etc/passwd",
		"HTTP://127.0.0.1:5000./v2", "http://[::ffff:127.0.0.1]:5000/", "https://storage.test/b?sig=1#f",
		"http://127.0.0.1:5000@evil.test/", "http://evil.test\\@127.0.0.1:5000/", "http://0x7f.1/",
		"http://%6c%6f%63%61%6c%68%6f%73%74/", "http://127.0.0.1%2f@evil.test/", "//[fe80::1%25eth0]/",
		" http://127.0.0.1:5000 ", "http://127.0.0.1:05000/", "javascript:alert(1)", "?x=1", "#f",
	} {
		f.Add(s)
	}
	from, _ := url.Parse("http://127.0.0.1:5000/v2/acme/app/manifests/1")
	p, _ := NewPolicy("http://127.0.0.1:5000", "https://cdn.test")
	f.Fuzz(func(t *testing.T, loc string) {
		to, err := Resolve(from, loc)
		if err != nil {
			return
		}
		if to.Scheme != "http" && to.Scheme != "https" {
			t.Fatalf("%q resolved to scheme %q", loc, to.Scheme)
		}
		if to.User != nil {
			t.Fatalf("%q resolved with credentials", loc)
		}
		if to.Fragment != "" {
			t.Fatalf("%q kept its fragment", loc)
		}
		o, err := OriginOf(to)
		if err != nil {
			t.Fatalf("%q resolved to %s, whose origin is unreadable: %v", loc, to, err)
		}
		if back, err := ParseOrigin(o.String()); err != nil || back != o {
			t.Fatalf("origin %s of %q reads back as %v, %v", o, loc, back, err)
		}
		// The URL a client or the transport would use must reach the
		// same origin when parsed again.
		again, err := url.Parse(to.String())
		if err != nil {
			t.Fatalf("%s does not parse again: %v", to, err)
		}
		if o2, err := OriginOf(again); err != nil || o2 != o {
			t.Fatalf("%s parses again to origin %v, %v; was %s", to, o2, err, o)
		}
		dest, err := p.Check(to)
		isBackend := o == p.Backend()
		if (dest == DestBackend) != isBackend {
			t.Fatalf("%q: Check says %d, origin %s, backend %s", loc, dest, o, p.Backend())
		}
		if err == nil && dest != DestBackend && dest != DestNamed {
			t.Fatalf("%q: allowed as %d without a realm or storage", loc, dest)
		}
		if dest == DestNamed && o.String() != "https://cdn.test" {
			t.Fatalf("%q: %s allowed as a named origin", loc, o)
		}
		if o.Host != strings.ToLower(o.Host) || strings.HasSuffix(o.Host, ".") {
			t.Fatalf("origin host %q is not canonical", o.Host)
		}
	})
}

// FuzzClassify: an address the policy calls public is none of the kinds
// the standard library knows to be local, for itself and for the IPv4
// address it may carry; an IPv4-mapped address has the class of its IPv4
// address.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:169.254.169.254", "fd00::1", "100.64.0.1", "0.0.0.0", "::", "8.8.8.8", "2002:a00:1::", "64:ff9b::a00:1"} {
		a := netip.MustParseAddr(s).As16()
		f.Add(a[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 4 && len(b) != 16 {
			return
		}
		a, _ := netip.AddrFromSlice(b)
		c := Classify(a)
		if a.Is4In6() && Classify(a.Unmap()) != c {
			t.Fatalf("%s is %s, its IPv4 address %s is %s", a, c, a.Unmap(), Classify(a.Unmap()))
		}
		if c != Public {
			return
		}
		for _, x := range []netip.Addr{a, a.Unmap()} {
			if x.IsLoopback() || x.IsPrivate() || x.IsLinkLocalUnicast() || x.IsUnspecified() ||
				x.IsMulticast() || x.IsLinkLocalMulticast() || x.IsInterfaceLocalMulticast() || !x.IsGlobalUnicast() {
				t.Fatalf("%s is called public", a)
			}
		}
	})
}
