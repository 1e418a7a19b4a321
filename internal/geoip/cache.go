package geoip

import (
	"encoding/binary"
	"net/netip"

	"portico/internal/event"
)

// A Cache answers lookups from a DB, remembering recent answers by the
// network the databases hold them for: downloads come in runs from the
// same networks (a CI fleet, an office, a cloud region), and a database
// lookup walks a tree and decodes two records.
//
// The cache is a fixed table of slots, each holding one database network
// and its origin, in memory only. An address is looked for in one slot,
// chosen by its /24 (IPv4) or /48 (IPv6); the slot answers only if its
// network contains the address, so the answers are the database's
// whatever the size of its networks. The cache holds no address, only the
// databases' networks, which are no finer than what the databases know;
// nothing of it is written anywhere.
//
// A Cache is not safe for concurrent use: the event pipeline's one worker
// uses it.
type Cache struct {
	db    *DB
	slots []cacheSlot
	shift uint
	hits  uint64 // for tests
}

type cacheSlot struct {
	network netip.Prefix
	origin  event.Origin
}

// NewCache returns a cache of db with at least size slots (a power of
// two). A nil db answers every lookup with an empty Origin.
func NewCache(db *DB, size int) *Cache {
	bits := uint(1)
	for 1<<bits < size {
		bits++
	}
	return &Cache{db: db, slots: make([]cacheSlot, 1<<bits), shift: 64 - bits}
}

// Lookup returns what the databases know about addr, as DB.Lookup does.
func (c *Cache) Lookup(addr netip.Addr) event.Origin {
	if !c.db.Enabled() || !addr.IsValid() {
		return event.Origin{}
	}
	addr = addr.Unmap()
	s := &c.slots[c.slot(addr)]
	if s.network.IsValid() && s.network.Contains(addr) {
		c.hits++
		return s.origin
	}
	o, network := c.db.lookup(addr)
	if network.IsValid() {
		*s = cacheSlot{network: network, origin: o}
	}
	return o
}

// slot returns the index of addr's slot: a multiplicative hash of its
// /24 or /48.
func (c *Cache) slot(addr netip.Addr) uint64 {
	bits := 24
	if addr.Is6() {
		bits = 48
	}
	p, _ := addr.Prefix(bits)
	b := p.Addr().As16()
	h := binary.BigEndian.Uint64(b[:8]) ^ binary.BigEndian.Uint64(b[8:])*0x9e3779b97f4a7c15
	return (h * 0x9e3779b97f4a7c15) >> c.shift
}
