// Package geoip finds where a client address is on the network, coarsely:
// its country and region, its autonomous system and the organization
// that runs it, and whether that network belongs to a cloud or CI
// provider. The data comes from MaxMind-format (.mmdb) databases that the
// operator supplies (GeoLite2 or GeoIP2 Country/City and ASN, or
// compatible files); Portico ships none.
//
// The address is only looked up, never kept: the result is an
// event.Origin, which holds nothing finer than a region.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"portico/internal/event"
)

// DB answers lookups from up to two databases. A nil *DB, or one without
// databases, answers every lookup with an empty Origin.
type DB struct {
	country *maxminddb.Reader
	asn     *maxminddb.Reader
}

// Open opens the country (or city) database at countryPath and the ASN
// database at asnPath. Either path may be empty. A file that is missing,
// unreadable, not a MaxMind database, or plainly of the other kind is an
// error.
func Open(countryPath, asnPath string) (*DB, error) {
	db := &DB{}
	if countryPath != "" {
		r, err := open(countryPath, "country", "a country", []string{"country", "city", "enterprise"}, []string{"asn", "isp"})
		if err != nil {
			return nil, err
		}
		db.country = r
	}
	if asnPath != "" {
		r, err := open(asnPath, "ASN", "an ASN", []string{"asn", "isp"}, []string{"country", "city"})
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		db.asn = r
	}
	return db, nil
}

// open opens one database and checks that its type is not obviously the
// other kind: a database whose type names none of want but one of
// reject was given to the wrong flag.
func open(path, kind, aKind string, want, reject []string) (*maxminddb.Reader, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", kind, path, err)
	}
	typ := strings.ToLower(r.Metadata.DatabaseType)
	if !containsAny(typ, want) && containsAny(typ, reject) {
		_ = r.Close()
		return nil, fmt.Errorf("open %s database %s: it is a %q database, not %s database", kind, path, r.Metadata.DatabaseType, aKind)
	}
	return r, nil
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Close releases the databases.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	var errs []error
	if db.country != nil {
		errs = append(errs, db.country.Close())
	}
	if db.asn != nil {
		errs = append(errs, db.asn.Close())
	}
	return errors.Join(errs...)
}

// countryRecord is the part of a GeoIP2/GeoLite2 Country or City record
// that Portico uses. Decoding only these fields keeps lookups cheap.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"subdivisions"`
}

// asnRecord is a GeoLite2 ASN record, or the same fields of a GeoIP2 ISP
// record.
type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
	ISP          string `maxminddb:"isp"`
}

// Lookup returns what the databases know about addr. Lookups that find
// nothing, or fail, leave the fields empty.
func (db *DB) Lookup(addr netip.Addr) event.Origin {
	o, _ := db.lookup(addr)
	return o
}

// lookup is Lookup that also returns the network that the answer holds
// for: the smallest of the networks the databases hold addr in. The
// network is invalid when a database failed.
func (db *DB) lookup(addr netip.Addr) (event.Origin, netip.Prefix) {
	var o event.Origin
	if db == nil || !addr.IsValid() {
		return o, netip.Prefix{}
	}
	addr = addr.Unmap()
	network := netip.PrefixFrom(addr, 0)
	narrow := func(r maxminddb.Result) {
		p := r.Prefix()
		switch {
		case r.Err() != nil || !p.IsValid() || !p.Contains(addr):
			network = netip.Prefix{}
		case network.IsValid() && p.Bits() > network.Bits():
			network = p
		}
	}
	if db.country != nil {
		var rec countryRecord
		r := db.country.Lookup(addr)
		narrow(r)
		if r.Decode(&rec) == nil {
			o.Country = rec.Country.ISOCode
			if o.Country == "" {
				o.Country = rec.RegisteredCountry.ISOCode
			}
			if len(rec.Subdivisions) > 0 {
				o.Region = rec.Subdivisions[0].ISOCode
			}
		}
	}
	if db.asn != nil {
		var rec asnRecord
		r := db.asn.Lookup(addr)
		narrow(r)
		if r.Decode(&rec) == nil {
			o.ASN = rec.Number
			o.Org = rec.Organization
			if o.Org == "" {
				o.Org = rec.ISP
			}
		}
	}
	o.Network = Classify(o.ASN, o.Org)
	return o, network
}

// Enabled reports whether at least one database is open.
func (db *DB) Enabled() bool { return db != nil && (db.country != nil || db.asn != nil) }
