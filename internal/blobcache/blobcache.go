// Package blobcache is the proxy cache: a content-addressed store on disk
// for the immutable objects Portico proxies (registry blobs and
// manifests by digest, npm tarballs, Python files), each named by the
// hash its protocol already knows and verified against it while it
// streams in.
//
// An object is written to a temporary file as it arrives from the
// upstream, hashed in the same pass, and becomes part of the cache only
// once its length and hash check out: it is synced and renamed into
// place, so a crash or a cut transfer leaves nothing that would be
// served. Every client asking for an object that is on its way reads the
// temporary file as it grows: one upstream request serves them all, and
// a slow client holds a file position, not memory. The last byte of an
// object of known length is held back until the hash is verified, so a
// client never receives a complete wrong file: it sees a short body.
//
// Hits are sent from the file with sendfile, in slices between which
// the write deadline moves forward, and honour Range requests. The cache
// keeps to a size cap by evicting the least recently used objects; its
// index is rebuilt from the directory when the process starts.
package blobcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a cache.
type Options struct {
	// Dir holds the objects (Dir/objects) and the transfers in
	// progress (Dir/tmp). It is created when missing.
	Dir string
	// MaxBytes caps the bytes of the objects kept; 0 is no cap. An
	// object larger than the cap is served but not kept.
	MaxBytes int64
	// Stall bounds how long a transfer may make no progress, from the
	// upstream or to a client; 0 means DefaultStall.
	Stall time.Duration
	// Logger receives what the cache discards and why; nil discards.
	Logger *slog.Logger
}

// DefaultStall is the stall bound when Options set none.
const DefaultStall = 60 * time.Second

const (
	// bufferSize is the read size from upstreams: large reads and
	// writes measured faster on blob downloads than 64 KiB ones.
	bufferSize = 1 << 20
	// sendSlice is the most sent with one sendfile call before the
	// write deadline moves: at the default stall bound a client
	// reading 20 KB/s still keeps up.
	sendSlice = 1 << 20
)

var buffers = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// Cache is the store. It is safe for concurrent use.
type Cache struct {
	objects, tmp string
	max          int64
	stall        time.Duration
	log          *slog.Logger

	// entries maps an object's file name to its *entry: hits read it
	// without a lock.
	entries sync.Map
	size    atomic.Int64
	count   atomic.Int64
	clock   atomic.Int64 // the LRU order: each use takes the next tick

	mu     sync.Mutex // guards fills and closed, and serializes eviction
	fills  map[string]*fill
	closed bool
	// running counts the transfers started before Close, which waits
	// for them: once it returns, nothing writes in the directory.
	running sync.WaitGroup

	base   context.Context // ends with Close: transfers in progress stop
	cancel context.CancelFunc
	m      *metrics
}

type entry struct {
	d    Digest
	size int64
	used atomic.Int64
}

// Open opens the cache in o.Dir, indexing the objects there and deleting
// what an interrupted transfer or an older process left.
func Open(o Options) (*Cache, error) {
	if o.Dir == "" {
		return nil, errors.New("blobcache: no directory")
	}
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("blobcache: negative size cap %d", o.MaxBytes)
	}
	if o.Stall <= 0 {
		o.Stall = DefaultStall
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{
		objects: filepath.Join(o.Dir, "objects"),
		tmp:     filepath.Join(o.Dir, "tmp"),
		max:     o.MaxBytes,
		stall:   o.Stall,
		log:     o.Logger,
		fills:   make(map[string]*fill),
	}
	c.m = newMetrics(c)
	for _, d := range []string{c.objects, c.tmp} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("blobcache: %w", err)
		}
	}
	if err := c.rebuild(); err != nil {
		return nil, err
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// rebuild empties tmp and indexes objects, oldest first in LRU order.
func (c *Cache) rebuild() error {
	leftovers, err := os.ReadDir(c.tmp)
	if err != nil {
		return fmt.Errorf("blobcache: reading %s: %w", c.tmp, err)
	}
	for _, de := range leftovers {
		if err := os.RemoveAll(filepath.Join(c.tmp, de.Name())); err != nil {
			return fmt.Errorf("blobcache: removing an interrupted transfer: %w", err)
		}
	}
	if len(leftovers) > 0 {
		c.log.Info("cache: removed interrupted transfers", "count", len(leftovers))
	}
	des, err := os.ReadDir(c.objects)
	if err != nil {
		return fmt.Errorf("blobcache: reading %s: %w", c.objects, err)
	}
	type found struct {
		e   *entry
		mod time.Time
	}
	var all []found
	for _, de := range des {
		d, ok := parseName(de.Name())
		info, err := de.Info()
		if !ok || err != nil || !info.Mode().IsRegular() {
			// Not an object this cache wrote.
			_ = os.RemoveAll(filepath.Join(c.objects, de.Name()))
			continue
		}
		all = append(all, found{&entry{d: d, size: info.Size()}, info.ModTime()})
	}
	slices.SortFunc(all, func(a, b found) int { return a.mod.Compare(b.mod) })
	for _, f := range all {
		f.e.used.Store(c.clock.Add(1))
		c.entries.Store(f.e.d.name(), f.e)
		c.size.Add(f.e.size)
		c.count.Add(1)
	}
	c.evict()
	return nil
}

// Close stops the transfers in progress and waits for them to end;
// their clients see a cut body and nothing of them is kept.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.running.Wait()
}

// Size returns the bytes and the number of objects kept.
func (c *Cache) Size() (bytes, objects int64) { return c.size.Load(), c.count.Load() }

// Has reports whether d is kept.
func (c *Cache) Has(d Digest) bool {
	_, ok := c.entries.Load(d.name())
	return ok
}

func (c *Cache) path(d Digest) string { return filepath.Join(c.objects, d.name()) }

// open returns the file of d, or nil when it is not kept. The file is
// opened before anything else is decided: an eviction that removes it
// afterwards does not affect the open file.
func (c *Cache) open(d Digest) (*os.File, *entry) {
	v, ok := c.entries.Load(d.name())
	if !ok {
		return nil, nil
	}
	f, err := os.Open(c.path(d))
	if err != nil {
		return nil, nil
	}
	e := v.(*entry)
	e.used.Store(c.clock.Add(1))
	return f, e
}

// add indexes a new object and evicts what goes over the cap.
func (c *Cache) add(e *entry) {
	e.used.Store(c.clock.Add(1))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, loaded := c.entries.LoadOrStore(e.d.name(), e); loaded {
		return
	}
	c.size.Add(e.size)
	c.count.Add(1)
	c.evictLocked()
}

// evict removes the least recently used objects until the cache is
// under its cap. Eviction is rare next to hits, which never wait for it.
func (c *Cache) evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked()
}

func (c *Cache) evictLocked() {
	if c.max <= 0 || c.size.Load() <= c.max {
		return
	}
	var all []*entry
	c.entries.Range(func(_, v any) bool {
		all = append(all, v.(*entry))
		return true
	})
	slices.SortFunc(all, func(a, b *entry) int { return int(a.used.Load() - b.used.Load()) })
	for _, e := range all {
		if c.size.Load() <= c.max {
			break
		}
		c.entries.Delete(e.d.name())
		if err := os.Remove(c.path(e.d)); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("cache: removing an evicted object", "digest", e.d.String(), "err", err)
		}
		c.size.Add(-e.size)
		c.count.Add(-1)
		c.m.evictions.Inc()
	}
}

// Get returns the bytes of d when it is kept and at most max bytes
// long: for small objects (manifests) served from memory.
func (c *Cache) Get(d Digest, max int64) ([]byte, bool) {
	f, e := c.open(d)
	if f == nil {
		return nil, false
	}
	defer f.Close()
	if e.size > max {
		return nil, false
	}
	b := make([]byte, e.size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, false
	}
	c.m.hits.Inc()
	c.m.served.Add(float64(len(b)))
	return b, true
}

// Put keeps data as the object d, after checking that it hashes to d.
// It counts as a miss: the caller fetched what the cache did not hold.
func (c *Cache) Put(d Digest, data []byte) error {
	if c.Has(d) {
		return nil
	}
	c.m.misses.Inc()
	if err := VerifyDigest(d, data); err != nil {
		c.m.rejected.WithLabelValues("verify").Inc()
		return err
	}
	if c.max > 0 && int64(len(data)) > c.max {
		return nil
	}
	f, err := os.CreateTemp(c.tmp, d.name()+".*")
	if err != nil {
		return fmt.Errorf("blobcache: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path(d))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("blobcache: storing %s: %w", d, err)
	}
	c.m.fetched.Add(float64(len(data)))
	c.add(&entry{d: d, size: int64(len(data))})
	return nil
}

// VerifyDigest checks that data hashes to d.
func VerifyDigest(d Digest, data []byte) error {
	h := d.newHash()
	h.Write(data)
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != d.sum {
		return &VerifyError{Digest: d, Reason: "the bytes hash to " + d.algo + ":" + got}
	}
	return nil
}

// VerifyError says that an upstream's object did not match its digest:
// the wrong hash, a length other than announced, or a body cut short.
type VerifyError struct {
	Digest Digest
	Reason string
}

func (e *VerifyError) Error() string {
	return "object " + e.Digest.String() + " failed verification: " + e.Reason
}
