package sqlite

import (
	"encoding/binary"
	"strings"
	"sync"
)

// dayCacheSums bounds the sums the cache of closed days holds, about
// 64 bytes each: some 16 MiB, the breakdowns of a few hundred pages.
const dayCacheSums = 1 << 18

// A daySum is one sum of a query of closed days.
type daySum struct {
	bucketKey
	v int64
}

// dayCache keeps the sums that queries read from the daily rollups.
// Closed days change only when a late event is counted into one (a
// spool replayed, a clock behind): the writer, this process, then
// invalidates the whole cache, so that an answer is always the one the
// database gives. Other days are never cached: they change with every
// append.
//
// A query finds its answer only under the generation it read before
// reading the database, so sums read before a late event arrived are
// not kept past it. The oldest answers go first once the bound is
// reached.
type dayCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string][]daySum
	order   []string // keys, oldest first
	size    int      // sums held
	limit   int
}

func newDayCache(limit int) *dayCache {
	return &dayCache{entries: map[string][]daySum{}, limit: limit}
}

// generation returns the generation to read under. A nil cache (a store
// opened read-only, which cannot know when another process changes a
// closed day) caches nothing.
func (c *dayCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// invalidate drops every answer: a closed day changed.
func (c *dayCache) invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	c.order, c.size = nil, 0
}

func (c *dayCache) get(key string, gen uint64) ([]daySum, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return nil, false
	}
	e, ok := c.entries[key]
	return e, ok
}

func (c *dayCache) put(key string, gen uint64, sums []daySum) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || len(sums) > c.limit/4 {
		return
	}
	if _, ok := c.entries[key]; ok {
		return
	}
	for c.size+len(sums) > c.limit && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= len(c.entries[old])
		delete(c.entries, old)
	}
	c.entries[key] = sums
	c.order = append(c.order, key)
	c.size += len(sums)
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
