package upstream

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		addr string
		want Class
	}{
		{"8.8.8.8", Public},
		{"1.1.1.1", Public},
		{"2606:4700:4700::1111", Public},
		{"0.0.0.0", Unspecified},
		{"0.1.2.3", Unspecified},
		{"::", Unspecified},
		{"127.0.0.1", Loopback},
		{"127.255.255.254", Loopback},
		{"::1", Loopback},
		{"10.0.0.1", Private},
		{"172.15.255.255", Public},
		{"172.16.0.0", Private},
		{"172.31.255.255", Private},
		{"172.32.0.0", Public},
		{"192.168.1.1", Private},
		{"100.63.255.255", Public},
		{"100.64.0.1", Private},
		{"100.127.255.255", Private},
		{"100.128.0.0", Public},
		{"169.254.169.254", Metadata},
		{"169.254.170.2", Metadata},
		{"100.100.100.200", Metadata},
		{"fd00:ec2::254", Metadata},
		{"169.254.1.1", LinkLocal},
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"fec0::1", LinkLocal},
		{"fd00::1", Private},
		{"fd12:3456:789a::1", Private},
		{"fc00::1", Private},
		{"64:ff9b:1::1", Private},
		{"224.0.0.1", Multicast},
		{"239.255.255.250", Multicast},
		{"255.255.255.255", Multicast},
		{"ff02::1", Multicast},
		{"240.0.0.1", Reserved},
		{"192.0.0.8", Reserved},
		{"192.0.2.1", Reserved},
		{"198.18.0.1", Reserved},
		{"198.51.100.7", Reserved},
		{"203.0.113.9", Reserved},
		{"192.88.99.1", Reserved},
		{"2001:db8::1", Reserved},
		{"2001::1", Reserved},  // Teredo
		{"3fff::1", Reserved},  // documentation (RFC 9637)
		{"4000::1", Reserved},  // outside global unicast
		{"::7f00:1", Reserved}, // IPv4-compatible, deprecated
		{"100::1", Reserved},   // discard-only
		// IPv6 forms of IPv4 addresses are classified by the IPv4 one.
		{"::ffff:127.0.0.1", Loopback},
		{"::ffff:169.254.169.254", Metadata},
		{"::ffff:10.1.2.3", Private},
		{"::ffff:0.0.0.0", Unspecified},
		{"::ffff:8.8.8.8", Public},
		{"64:ff9b::a9fe:a9fe", Metadata},
		{"64:ff9b::7f00:1", Loopback},
		{"64:ff9b::808:808", Public},
		{"2002:7f00:1::1", Loopback},
		{"2002:a9fe:a9fe::", Metadata},
		{"2002:808:808::1", Public},
	} {
		a := netip.MustParseAddr(c.addr)
		if got := Classify(a); got != c.want {
			t.Errorf("Classify(%s) = %s, want %s", c.addr, got, c.want)
		}
	}
	if got := Classify(netip.Addr{}); got == Public {
		t.Error("the zero address is public")
	}
}

func TestOriginOf(t *testing.T) {
	for _, c := range []struct {
		url, want, err string
	}{
		{"https://ghcr.io", "https://ghcr.io", ""},
		{"https://GHCR.io:443/v2/", "https://ghcr.io", ""},
		{"HTTP://Reg.Test.:80", "http://reg.test", ""},
		{"http://reg.test:", "http://reg.test", ""},
		{"http://127.0.0.1:5000/simple/", "http://127.0.0.1:5000", ""},
		{"http://[::1]:5000", "http://[::1]:5000", ""},
		{"http://[::FFFF:127.0.0.1]/", "http://[::ffff:127.0.0.1]", ""},
		{"https://under_score.test", "https://under_score.test", ""},
		{"https://reg.test:8443", "https://reg.test:8443", ""},
		{"http://user:pw@reg.test/", "", "credentials"},
		{"http://user@reg.test/", "", "credentials"},
		{"ftp://reg.test/", "", "scheme"},
		{"file:///etc/passwd", "", "scheme"},
		{"javascript:alert(1)", "", "scheme"},
		{"//reg.test/x", "", "not an absolute URL"},
		{"/v2/", "", "not an absolute URL"},
		{"http:///x", "", "no host"},
		{"http:reg.test", "", "not a hierarchical URL"},
		{"http://0x7f.1/", "", "invalid IP address"},
		{"http://2130706433/", "", "invalid IP address"},
		{"http://127.1/", "", "invalid IP address"},
		{"http://017700000001/", "", "invalid IP address"},
		{"http://[fe80::1%25eth0]/", "", "zone"},
		{"http://reg.test:0/", "", "invalid port"},
		{"http://reg.test:65536/", "", "invalid port"},
		{"http://%E2%98%83.test/", "", "only letters"},
		{"http://a..b/", "", "empty"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		o, err := OriginOf(u)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("OriginOf(%s) = %v, %v; want an error about %q", c.url, o, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("OriginOf(%s): %v", c.url, err)
		case c.err == "" && o.String() != c.want:
			t.Errorf("OriginOf(%s) = %s, want %s", c.url, o, c.want)
		}
		if err == nil {
			if back, err := ParseOrigin(o.String()); err != nil || back != o {
				t.Errorf("%s: %s reads back as %v, %v", c.url, o, back, err)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	from, _ := url.Parse("http://127.0.0.1:5000/v2/acme/app/manifests/1")
	for _, c := range []struct {
		loc, want, err string
	}{
		{"/v2/acme/app/manifests/sha256:1", "http://127.0.0.1:5000/v2/acme/app/manifests/sha256:1", ""},
		{"  /v2/x  ", "http://127.0.0.1:5000/v2/x", ""},
		{"./sha256:1", "http://127.0.0.1:5000/v2/acme/app/manifests/sha256:1", ""},
		{"//127.0.0.1:6000/v2/stolen", "http://127.0.0.1:6000/v2/stolen", ""},
		{"https://storage.test/blob?sig=1#frag", "https://storage.test/blob?sig=1", ""},
		{"HTTP://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/", ""},
		{"", "", "without a Location"},
		{"http://user:pw@127.0.0.1:6000/v2/x", "", "credentials"},
		{"//user:pw@127.0.0.1:6000/v2/x", "", "credentials"},
		{"file:///etc/passwd", "", "scheme"},
		{"gopher://127.0.0.1:6000/", "", "scheme"},
		{"javascript:alert(1)", "", "scheme"},
		{"http://[::1", "", "unreadable"},
		{"http://0x7f000001/", "", "invalid IP"},
	} {
		got, err := Resolve(from, c.loc)
		switch {
		case c.err != "":
			var re *RefusedError
			if err == nil || !errors.As(err, &re) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Resolve(%q) = %v, %v; want a refusal about %q", c.loc, got, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("Resolve(%q): the error shows the password: %v", c.loc, err)
			}
		case err != nil:
			t.Errorf("Resolve(%q): %v", c.loc, err)
		case got.String() != c.want:
			t.Errorf("Resolve(%q) = %s, want %s", c.loc, got, c.want)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	p, err := NewPolicy("http://127.0.0.1:5000/registry/", "https://cdn.test", "HTTPS://CDN.test:443/", "http://127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	realmURL, _ := url.Parse("https://auth.test/token?x=1")
	withRealm, err := p.WithRealm(realmURL)
	if err != nil {
		t.Fatal(err)
	}
	storage := p.ForStorage()
	for _, c := range []struct {
		p    *Policy
		url  string
		want Dest
	}{
		{p, "http://127.0.0.1:5000/x", DestBackend},
		{p, "http://127.0.0.1:5000", DestBackend},
		{p, "https://127.0.0.1:5000/x", 0}, // another scheme is another origin
		{p, "http://127.0.0.1:5001/x", 0},
		{p, "http://localhost:5000/x", 0},
		{p, "https://cdn.test/a.tgz", DestNamed},
		{p, "https://cdn.test./a.tgz", DestNamed},
		{p, "http://cdn.test/a.tgz", 0},
		{p, "https://cdn.test:8443/a.tgz", 0},
		{p, "https://auth.test/token", 0},
		{withRealm, "https://auth.test/token", DestRealm},
		{withRealm, "https://auth.test:444/token", 0},
		{storage, "https://s3.test/blob", DestStorage},
		{storage, "http://s3.test/blob", 0},
		{storage, "http://127.0.0.1:5000/x", DestBackend},
		{p, "http://u:p@127.0.0.1:5000/x", 0},
	} {
		u, _ := url.Parse(c.url)
		got, err := c.p.Check(u)
		if got != c.want || (c.want == 0) != (err != nil) {
			t.Errorf("Check(%s) = %d, %v; want %d", c.url, got, err, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), u.Hostname()) {
			t.Errorf("Check(%s): the refusal %q does not name the host", c.url, err)
		}
	}
	if len(p.named) != 1 {
		t.Errorf("named origins %v: duplicates and the backend itself are kept once", p.named)
	}
	for _, bad := range []string{"", "ftp://x.test", "http://u:p@x.test"} {
		if _, err := NewPolicy(bad); err == nil {
			t.Errorf("NewPolicy(%q) accepted", bad)
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, c := range []struct {
		header string
		dest   Dest
		want   bool
	}{
		{"Accept", DestBackend, true},
		{"Authorization", DestBackend, true},
		{"Authorization", DestRealm, true},
		{"Authorization", DestNamed, false},
		{"Authorization", DestStorage, false},
		{"authorization", DestRealm, true},
		{"Cookie", DestBackend, false},
		{"Cookie", DestRealm, false},
		{"Cookie", DestNamed, false},
		{"X-Registry-Auth", DestBackend, false},
		{"x-registry-auth", DestBackend, false},
		{"Proxy-Authorization", DestBackend, false},
		{"X-Forwarded-For", DestBackend, false},
		{"x-real-ip", DestBackend, false},
		{"Forwarded", DestBackend, false},
		{"True-Client-IP", DestBackend, false},
		{"CF-Connecting-IP", DestBackend, false},
		{"Range", DestNamed, true},
		{"Range", DestStorage, false},
		{"User-Agent", DestStorage, true},
		{"If-None-Match", DestStorage, false},
		{"If-None-Match", DestRealm, false},
		{"Content-Type", DestBackend, true},
		{"Content-Type", DestNamed, false},
		{"Npm-Otp", DestBackend, true},
		{"Npm-Otp", DestRealm, false},
		{"Via", DestBackend, false},
		{"X-Proxyuser-Ip", DestBackend, false},
		{"X-Anything", DestBackend, false},
		{"", DestBackend, false},
	} {
		if got := allowed(c.header, c.dest); got != c.want {
			t.Errorf("allowed(%s, %d) = %v, want %v", c.header, c.dest, got, c.want)
		}
	}
}
