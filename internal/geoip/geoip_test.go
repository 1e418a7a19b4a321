package geoip_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portico/internal/event"
	"portico/internal/geoip"
	"portico/internal/geoip/geoiptest"
)

func testDBs(t *testing.T) (city, asn string) {
	dir := t.TempDir()
	city, asn = filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	geoiptest.WriteCity(t, city,
		geoiptest.Location{Network: "203.0.113.0/24", Country: "DE", Region: "BE"},
		geoiptest.Location{Network: "198.51.100.0/24", Country: "US"},
		geoiptest.Location{Network: "2001:db8::/32", Country: "JP", Region: "13"},
	)
	geoiptest.WriteASN(t, asn,
		geoiptest.AS{Network: "203.0.113.0/24", Number: 3320, Org: "Deutsche Telekom AG"},
		geoiptest.AS{Network: "198.51.100.0/25", Number: 16509, Org: "AMAZON-02"},
		geoiptest.AS{Network: "198.51.100.128/25", Number: 36459, Org: "GitHub, Inc."},
		geoiptest.AS{Network: "192.0.2.0/24", Number: 64500, Org: "Example Hosting GmbH"},
	)
	return city, asn
}

func TestLookup(t *testing.T) {
	city, asn := testDBs(t)
	db, err := geoip.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		addr string
		want event.Origin
	}{
		{"203.0.113.7", event.Origin{Country: "DE", Region: "BE", ASN: 3320, Org: "Deutsche Telekom AG"}},
		{"::ffff:203.0.113.7", event.Origin{Country: "DE", Region: "BE", ASN: 3320, Org: "Deutsche Telekom AG"}},
		{"198.51.100.9", event.Origin{Country: "US", ASN: 16509, Org: "AMAZON-02", Network: event.NetworkCloud}},
		{"198.51.100.200", event.Origin{Country: "US", ASN: 36459, Org: "GitHub, Inc.", Network: event.NetworkCI}},
		{"192.0.2.1", event.Origin{ASN: 64500, Org: "Example Hosting GmbH", Network: event.NetworkCloud}},
		{"2001:db8::1", event.Origin{Country: "JP", Region: "13"}},
		{"127.0.0.1", event.Origin{}},
	}
	for _, tt := range tests {
		if got := db.Lookup(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tt.addr, got, tt.want)
		}
	}
	if got := db.Lookup(netip.Addr{}); got != (event.Origin{}) {
		t.Errorf("Lookup(invalid) = %+v, want nothing", got)
	}
}

func TestWithoutDatabases(t *testing.T) {
	for _, db := range []*geoip.DB{nil, mustOpen(t, "", "")} {
		if db.Enabled() {
			t.Error("a DB without files says it is enabled")
		}
		if got := db.Lookup(netip.MustParseAddr("203.0.113.7")); got != (event.Origin{}) {
			t.Errorf("Lookup without databases = %+v, want nothing", got)
		}
	}
}

func mustOpen(t *testing.T, city, asn string) *geoip.DB {
	db, err := geoip.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenErrors(t *testing.T) {
	city, asn := testDBs(t)
	junk := filepath.Join(t.TempDir(), "junk.mmdb")
	if err := os.WriteFile(junk, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		city, asn, want string
	}{
		{"/nonexistent.mmdb", "", "open country database /nonexistent.mmdb"},
		{"", junk, "open ASN database " + junk},
		{asn, "", `it is a "GeoLite2-ASN" database, not a country database`},
		{"", city, `it is a "GeoIP2-City" database, not an ASN database`},
	}
	for _, tt := range tests {
		_, err := geoip.Open(tt.city, tt.asn)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q, %q) = %v, want an error containing %q", tt.city, tt.asn, err, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		asn  uint32
		org  string
		want event.Network
	}{
		{16509, "AMAZON-02", event.NetworkCloud},
		{14061, "DIGITALOCEAN-ASN", event.NetworkCloud},
		{36459, "GITHUB", event.NetworkCI},
		{64512, "Travis CI GmbH", event.NetworkCI},
		{64513, "Hetzner Online GmbH", event.NetworkCloud},
		{3320, "Deutsche Telekom AG", event.NetworkNone},
		{7922, "COMCAST-7922", event.NetworkNone},
		{0, "", event.NetworkNone},
	}
	for _, tt := range tests {
		if got := geoip.Classify(tt.asn, tt.org); got != tt.want {
			t.Errorf("Classify(%d, %q) = %v, want %v", tt.asn, tt.org, got, tt.want)
		}
	}
}
