package geoip

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"

	"portico/internal/geoip/geoiptest"
)

// TestCacheAnswersAsTheDatabase compares the cache's answers with the
// databases' for every address of networks finer and coarser than the
// cache's /24 and /48 slots, in a random order, with a table large
// enough to hit and with one slot, where every lookup evicts.
func TestCacheAnswersAsTheDatabase(t *testing.T) {
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	geoiptest.WriteCity(t, city,
		geoiptest.Location{Network: "203.0.113.0/24", Country: "DE", Region: "BE"},
		geoiptest.Location{Network: "203.0.113.16/28", Country: "FR"},
		geoiptest.Location{Network: "198.51.0.0/16", Country: "US"},
		geoiptest.Location{Network: "2001:db8::/32", Country: "JP"},
		geoiptest.Location{Network: "2001:db8:0:1::/64", Country: "KR"})
	geoiptest.WriteASN(t, asn,
		geoiptest.AS{Network: "203.0.113.0/25", Number: 3320, Org: "Deutsche Telekom AG"},
		geoiptest.AS{Network: "198.51.100.0/24", Number: 16509, Org: "AMAZON-02"},
		geoiptest.AS{Network: "2001:db8::/48", Number: 64500, Org: "Example"})
	db, err := Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var addrs []netip.Addr
	for _, base := range []string{"203.0.113.0", "198.51.100.0", "198.51.101.0", "192.0.2.0"} {
		a := netip.MustParseAddr(base)
		for range 256 {
			addrs = append(addrs, a)
			a = a.Next()
		}
	}
	for _, s := range []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:0:2::1", "2001:db8:1::1", "2001:db9::1", "::ffff:203.0.113.17"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{4096, 1} {
		c := NewCache(db, size)
		for round := range 3 {
			rng.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
			for _, a := range addrs {
				if got, want := c.Lookup(a), db.Lookup(a); got != want {
					t.Fatalf("size %d, round %d: cache says %s is %+v, the database %+v", size, round, a, got, want)
				}
			}
		}
		if size > 1 && c.hits < uint64(len(addrs)) {
			t.Errorf("size %d: %d hits in %d lookups; the cache is not used", size, c.hits, 3*len(addrs))
		}
		t.Logf("size %d: %d hits in %d lookups", size, c.hits, 3*len(addrs))
	}
	if o := NewCache(nil, 16).Lookup(netip.MustParseAddr("203.0.113.1")); o.Country != "" || o.ASN != 0 {
		t.Errorf("a cache without databases answered %+v", o)
	}
}
