package sqlite

import (
	"encoding/binary"
	"strings"
	"sync"
)

// pastCacheSums bounds the sums the cache of past sums holds, about 64
// bytes each: some 16 MiB, the breakdowns of a few hundred pages.
const pastCacheSums = 1 << 18

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
// Answers are kept by query and start of range, with the end they reach,
// so that the sums of today's hours grow hour by hour. The oldest go
// first once the bound is reached.
type pastCache struct {
	mu      sync.Mutex
	gen     uint64
	sealed  int64 // Unix seconds: events before invalidate
	entries map[string]*pastEntry
	order   []string // keys, oldest first
	size    int      // sums held
	limit   int
}

type pastEntry struct {
	to   int64 // the end of the range summed
	sums []pastSum
}

func newPastCache(limit int) *pastCache {
	return &pastCache{entries: map[string]*pastEntry{}, limit: limit}
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
	c.order, c.size = nil, 0
}

// get returns the sums kept for key under generation gen, and the end of
// the range they cover.
func (c *pastCache) get(key string, gen uint64) ([]pastSum, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || gen != c.gen {
		return nil, 0, false
	}
	return e.sums, e.to, true
}

// put keeps sums, which cover the range of key up to to, unless the
// generation changed meanwhile or an answer reaching further is kept.
func (c *pastCache) put(key string, gen uint64, to int64, sums []pastSum) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || len(sums) > c.limit/4 {
		return
	}
	if e, ok := c.entries[key]; ok {
		if e.to >= to {
			return
		}
		c.size += len(sums) - len(e.sums)
		e.to, e.sums = to, sums
	} else {
		c.entries[key] = &pastEntry{to: to, sums: sums}
		c.order = append(c.order, key)
		c.size += len(sums)
	}
	for c.size > c.limit && len(c.order) > 1 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= len(c.entries[old].sums)
		delete(c.entries, old)
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
