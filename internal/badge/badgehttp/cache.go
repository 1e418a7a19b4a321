package badgehttp

import (
	"hash/maphash"
	"sync/atomic"
)

// A cacheKey can key a cache: comparable, and hashed without allocating.
// (The hash is computed in the key's own method, on a maphash.Hash of
// its own: one passed in through the type parameter would escape to the
// heap.)
type cacheKey interface {
	comparable
	sum(seed maphash.Seed) uint64
}

// A cache is a direct-mapped cache: each key has one slot, chosen by its
// hash, and a new entry replaces whatever held the slot. Reads and
// writes are single atomic operations, so requests never wait for each
// other, and the memory it holds is bounded by its size whatever keys
// requests bring.
type cache[K cacheKey, V any] struct {
	seed  maphash.Seed
	slots []atomic.Pointer[cacheEntry[K, V]]
}

type cacheEntry[K cacheKey, V any] struct {
	key K
	val V
	// expires is when the entry stops being used, in the clock's
	// nanoseconds; 0 never.
	expires int64
}

// newCache returns a cache of 1<<bits slots.
func newCache[K cacheKey, V any](bits uint) *cache[K, V] {
	return &cache[K, V]{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[cacheEntry[K, V]], 1<<bits)}
}

func (c *cache[K, V]) slot(k K) *atomic.Pointer[cacheEntry[K, V]] {
	return &c.slots[k.sum(c.seed)&uint64(len(c.slots)-1)]
}

// get returns the value of k, unless it is missing or expired at now.
func (c *cache[K, V]) get(k K, now int64) (V, bool) {
	e := c.slot(k).Load()
	if e == nil || e.key != k || e.expires != 0 && now >= e.expires {
		var zero V
		return zero, false
	}
	return e.val, true
}

// put stores v as k's value until expires (0: until replaced).
func (c *cache[K, V]) put(k K, v V, expires int64) {
	c.slot(k).Store(&cacheEntry[K, V]{key: k, val: v, expires: expires})
}
