package sqlite

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// pastCacheSums bounds the sums the cache of past sums holds, about 64
// bytes each: some 16 MiB, the breakdowns of a few hundred pages.
const pastCacheSums = 1 << 18

// pastRanges is how many ranges of one query the cache keeps: a page's
// default range and a couple chosen on it.
const pastRanges = 3

// A pastSum is one sum of a query of hours or days that have ended.
type pastSum struct {
	bucketKey
	v int64
}

// pastCache keeps what queries summed over days and hours that have
// ended. Those change only when an event of such an hour is appended
// late: a spool replayed, a batch that crossed the hour. The writer, this
// process, then invalidates the whole cache, so that an answer is always
// the one the database gives.
//
// Readers seal the hours they are about to cache (seal), then read the
// generation, then the database; the writer, once it has committed a
// batch, invalidates the cache when an event of the batch is older than
// the seal. Either the reader saw the batch, or the writer saw the seal,
// so no answer that misses a committed event is kept: an answer is found
// only under the generation read before the database was.
//
// Answers are kept by query, with the range they cover. Sums over
// disjoint ranges add up, so an answer for a range near the one asked
// for is made into its answer by reading only the difference: today's
// hours as each one ends, the day that a range of the last 30 days drops
// and the one it gains. The oldest answers go first once the bound is
// reached.
type pastCache struct {
	mu      sync.Mutex
	gen     uint64
	sealed  int64 // Unix seconds: events before invalidate
	entries map[string][]*pastEntry
	order   []*pastEntry // oldest first
	size    int          // sums held
	live    int          // entries held
	limit   int
	// hits and misses count the reads of ended hours and days answered
	// whole from the cache, and those that read the database.
	hits, misses atomic.Uint64
}

// CacheStats counts the reads of hours and days that have ended since
// the store was opened.
type CacheStats struct {
	// Hits were answered whole from the cache of past sums.
	Hits uint64
	// Misses read the database, for the whole range or the part of it
	// that the cache did not hold.
	Misses uint64
	// Invalidations dropped everything the cache held: an event of an
	// ended hour was appended late.
	Invalidations uint64
}

// CacheStats returns the counts of the cache of past sums, and false
// when the store keeps none (one opened read-only).
func (s *Store) CacheStats() (CacheStats, bool) {
	if s.past == nil {
		return CacheStats{}, false
	}
	return CacheStats{Hits: s.past.hits.Load(), Misses: s.past.misses.Load(), Invalidations: s.past.generation()}, true
}

// A pastEntry is the answer of one query over [from, to).
type pastEntry struct {
	key      string
	from, to int64
	sums     []pastSum
	gone     bool // dropped from entries
}

func newPastCache(limit int) *pastCache {
	return &pastCache{entries: map[string][]*pastEntry{}, limit: limit}
}

// seal says that the hours before t are about to be cached. A nil cache
// (a store opened read-only, which cannot know when another process
// appends) caches nothing.
func (c *pastCache) seal(t int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sealed = max(c.sealed, t)
}

// sealedUntil returns the time before which an appended event
// invalidates the cache.
func (c *pastCache) sealedUntil() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sealed
}

// generation returns the generation to read under.
func (c *pastCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// invalidate drops every answer: an hour that had ended changed.
func (c *pastCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.order, c.size, c.live = nil, 0, 0
}

// nearest returns the answer kept for key under generation gen whose
// range differs least from [from, to), if it differs by less than the
// range's length: reading the difference then costs less than reading
// the range. The range and sums returned are never changed once kept,
// so the caller reads them without the lock.
func (c *pastCache) nearest(key string, gen uint64, from, to int64) (pastEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return pastEntry{}, false
	}
	var best *pastEntry
	cost := to - from
	for _, e := range c.entries[key] {
		if d := abs(e.from-from) + abs(e.to-to); d < cost || d == 0 {
			best, cost = e, d
		}
	}
	if best == nil {
		return pastEntry{}, false
	}
	return *best, true
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// put keeps the answer of key over [from, to), unless the generation
// changed meanwhile.
func (c *pastCache) put(key string, gen uint64, from, to int64, sums []pastSum) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || len(sums) > c.limit/4 {
		return
	}
	list := c.entries[key]
	for _, e := range list {
		if e.from == from && e.to == to {
			return
		}
	}
	if len(list) >= pastRanges {
		c.drop(list[0])
		list = c.entries[key]
	}
	e := &pastEntry{key: key, from: from, to: to, sums: sums}
	c.entries[key] = append(list, e)
	if len(c.order) > 2*c.live+16 {
		// Entries dropped for newer ranges of their query.
		c.order = slices.DeleteFunc(c.order, func(x *pastEntry) bool { return x.gone })
	}
	c.order = append(c.order, e)
	c.size += len(sums)
	c.live++
	for c.size > c.limit && len(c.order) > 1 {
		old := c.order[0]
		c.order = c.order[1:]
		c.drop(old)
	}
}

// drop removes e from the entries of its key.
func (c *pastCache) drop(e *pastEntry) {
	if e.gone {
		return
	}
	e.gone = true
	c.size -= len(e.sums)
	e.sums = nil // a reader that holds e keeps its own slice
	c.live--
	list := slices.DeleteFunc(c.entries[e.key], func(x *pastEntry) bool { return x == e })
	if len(list) == 0 {
		delete(c.entries, e.key)
	} else {
		c.entries[e.key] = list
	}
}

// cacheKey identifies a query by its text and arguments, each argument
// with its type and length so that no two queries share a key. It
// reports false for arguments of other types, whose queries are not
// cached.
func cacheKey(text string, args []any) (string, bool) {
	var b strings.Builder
	b.WriteString(text)
	var n [8]byte
	for _, a := range args {
		switch v := a.(type) {
		case int64:
			b.WriteByte('i')
			binary.LittleEndian.PutUint64(n[:], uint64(v))
			b.Write(n[:])
		case string:
			b.WriteByte('s')
			binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
			b.Write(n[:])
			b.WriteString(v)
		default:
			return "", false
		}
	}
	return b.String(), true
}
