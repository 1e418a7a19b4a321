// Command geodb writes the GeoIP and ASN databases that bench/redirect.sh
// gives the default configuration, so that every benchmarked event is
// enriched with a country, a region, an AS number and an organization, as
// in production. They are MaxMind-format files in the layout of
// GeoIP2-City and GeoLite2-ASN, written the way internal/geoip/geoiptest
// writes the tests' databases, with a few thousand networks so that a
// lookup walks a tree of a realistic depth. Loopback is included: the
// benchmark's client is 127.0.0.1.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

var countries = []string{"DE", "US", "FR", "GB", "JP", "BR", "IN", "NL", "SE", "CA", "AU", "PL"}

func main() {
	city := flag.String("city", "", "`file` to write the GeoIP2-City-shaped database to")
	asn := flag.String("asn", "", "`file` to write the GeoLite2-ASN-shaped database to")
	networks := flag.Int("networks", 4096, "networks in each database besides loopback")
	flag.Parse()
	if *city == "" || *asn == "" {
		log.Fatal("geodb: -city and -asn are required")
	}
	if err := write(*city, "GeoIP2-City", *networks, func(i int) mmdbtype.Map {
		c := countries[i%len(countries)]
		return mmdbtype.Map{
			"country":            mmdbtype.Map{"iso_code": mmdbtype.String(c)},
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(c)},
			"subdivisions":       mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(fmt.Sprintf("R%d", i%7))}},
		}
	}); err != nil {
		log.Fatal(err)
	}
	if err := write(*asn, "GeoLite2-ASN", *networks, func(i int) mmdbtype.Map {
		return mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(64512 + i%1000),
			"autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Example Network %d", i%1000)),
		}
	}); err != nil {
		log.Fatal(err)
	}
}

// write puts record(0) on 127.0.0.0/8 and record(i) on the i-th /20 of
// 11.0.0.0/8 onwards.
func write(path, typ string, n int, record func(i int) mmdbtype.Map) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		return fmt.Errorf("geodb: %w", err)
	}
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	if err := tree.Insert(loopback, record(0)); err != nil {
		return fmt.Errorf("geodb: insert %s: %w", loopback, err)
	}
	for i := 1; i <= n; i++ {
		base := uint32(11)<<24 + uint32(i)<<12
		ip := net.IPv4(byte(base>>24), byte(base>>16), byte(base>>8), byte(base))
		network := &net.IPNet{IP: ip.To4(), Mask: net.CIDRMask(20, 32)}
		if err := tree.Insert(network, record(i)); err != nil {
			return fmt.Errorf("geodb: insert %s: %w", network, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("geodb: %w", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("geodb: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("geodb: %w", err)
	}
	return nil
}
