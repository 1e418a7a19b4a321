// Package geoiptest writes small MaxMind-format databases for tests, in
// the layout of GeoLite2 Country/City and ASN databases. Only tests import
// it, so the writer stays out of the portico binary.
package geoiptest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// A Location places the addresses of a network in a country and region.
type Location struct {
	Network string // CIDR, e.g. "203.0.113.0/24"
	Country string // ISO code, e.g. "DE"
	Region  string // subdivision ISO code, e.g. "BE"; optional
}

// An AS gives the addresses of a network an autonomous system.
type AS struct {
	Network string
	Number  uint32
	Org     string
}

// WriteCity writes a GeoIP2-City-shaped database with locs to path.
func WriteCity(t testing.TB, path string, locs ...Location) {
	t.Helper()
	tree := newTree(t, "GeoIP2-City")
	for _, l := range locs {
		rec := mmdbtype.Map{
			"country":            mmdbtype.Map{"iso_code": mmdbtype.String(l.Country)},
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(l.Country)},
		}
		if l.Region != "" {
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(l.Region)}}
		}
		insert(t, tree, l.Network, rec)
	}
	write(t, tree, path)
}

// WriteASN writes a GeoLite2-ASN-shaped database with ases to path.
func WriteASN(t testing.TB, path string, ases ...AS) {
	t.Helper()
	tree := newTree(t, "GeoLite2-ASN")
	for _, a := range ases {
		insert(t, tree, a.Network, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(a.Number),
			"autonomous_system_organization": mmdbtype.String(a.Org),
		})
	}
	write(t, tree, path)
}

func newTree(t testing.TB, typ string) *mmdbwriter.Tree {
	t.Helper()
	// Tests use the documentation ranges (RFC 5737, RFC 3849), which the
	// writer treats as reserved unless told otherwise.
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func insert(t testing.TB, tree *mmdbwriter.Tree, cidr string, rec mmdbtype.Map) {
	t.Helper()
	_, network, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(network, rec); err != nil {
		t.Fatalf("insert %s: %v", cidr, err)
	}
}

func write(t testing.TB, tree *mmdbwriter.Tree, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
