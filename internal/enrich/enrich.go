// Package enrich adds to each event what can be derived from the request's
// user agent and address: the client (useragent), the network origin
// (geoip), who is behind it (a person, a cloud server or a CI job), and
// the downloader: a daily-rotating keyed hash that counts unique
// downloaders without keeping any address.
//
// It runs on the event pipeline's worker, never on the request path. The
// pipeline clears the address as soon as Enrich returns.
//
// # Unique downloaders
//
// Downloader = first 8 bytes of HMAC-SHA-256(salt, address ‖ user agent ‖
// package ‖ artifact). The salt is 32 random bytes made for one UTC day.
// It lives in memory; with several replicas it is shared through the
// store for that day (store.SaltStore) and deleted shortly after the day ends.
// Once it is gone, nobody, including the operator, can link a hash back
// to an address or to the same client on another day.
package enrich

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"log/slog"
	"time"

	"portico/internal/event"
	"portico/internal/geoip"
	"portico/internal/store"
	"portico/internal/useragent"
)

// Config configures an Enricher.
type Config struct {
	// GeoIP looks up origins; nil leaves them empty.
	GeoIP *geoip.DB
	// Salts shares salts among replicas; nil keeps them in this process
	// only, which is right for a single gateway.
	Salts store.SaltStore
	// Logger reports salt store failures.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Enricher implements pipeline.Enricher. It is not safe for concurrent
// use: the pipeline calls it from its one worker.
type Enricher struct {
	cfg Config

	geo      *geoip.Cache
	uaCache  map[string]event.Client
	salts    map[int64]*salt // by UTC day number
	fetching map[int64]bool  // days whose salt is being asked for
	fetched  chan fetchResult
	mac      hash.Hash // reused: keyed per call with the day's salt
	macKey   *salt
	buf      []byte
	sum      []byte
}

type salt struct {
	key       []byte
	local     bool      // made here because the store did not answer
	retryAt   time.Time // when to ask the store again for the shared one
	unhashing bool      // the day's salt is gone: no downloader hashes
}

// uaCacheSize bounds the user agents whose parse is remembered. A gateway
// sees a few thousand distinct agents a day; a flood of random ones only
// clears the cache.
const uaCacheSize = 8192

// geoCacheSize is the number of networks whose origin is remembered
// (about 90 bytes each).
const geoCacheSize = 4096

// New returns an Enricher.
func New(cfg Config) *Enricher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Enricher{cfg: cfg, geo: geoip.NewCache(cfg.GeoIP, geoCacheSize), uaCache: make(map[string]event.Client), salts: make(map[int64]*salt),
		fetching: make(map[int64]bool), fetched: make(chan fetchResult, 8)}
}

// Enrich fills e's client, origin, source and downloader.
func (en *Enricher) Enrich(e *event.Event) {
	e.Client = en.client(e.UserAgent)
	e.Origin = en.geo.Lookup(e.ClientAddr)
	switch {
	case e.Client.CI || e.Origin.Network == event.NetworkCI:
		e.Source = event.SourceCI
	case e.Origin.Network == event.NetworkCloud:
		e.Source = event.SourceCloud
	default:
		e.Source = event.SourceHuman
	}
	if e.ClientAddr.IsValid() {
		e.Downloader = en.downloader(e)
	}
}

func (en *Enricher) client(ua string) event.Client {
	if c, ok := en.uaCache[ua]; ok {
		return c
	}
	c := useragent.Parse(ua)
	if len(en.uaCache) >= uaCacheSize {
		clear(en.uaCache)
	}
	en.uaCache[ua] = c
	return c
}

func (en *Enricher) downloader(e *event.Event) uint64 {
	s := en.salt(e.Time)
	if s == nil {
		return 0
	}
	if en.macKey != s {
		en.mac = hmac.New(sha256.New, s.key)
		en.macKey = s
	}
	addr := e.ClientAddr.Unmap().As16()
	b := append(en.buf[:0], addr[:]...)
	b = appendField(b, e.UserAgent)
	b = appendField(b, e.Package())
	b = appendField(b, e.Artifact())
	en.buf = b
	en.mac.Reset()
	en.mac.Write(b)
	en.sum = en.mac.Sum(en.sum[:0])
	v := binary.BigEndian.Uint64(en.sum)
	if v == 0 {
		v = 1 // 0 means "unknown"
	}
	return v
}

// appendField appends s with its length, so that fields cannot run into
// each other ("ab"+"c" and "a"+"bc" hash differently).
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// salt returns the salt of the day of t, or nil when that day's salt is
// gone. Asking the store never holds up the pipeline for long: the first
// event of a day waits up to saltWait for the shared salt, and if the
// store does not answer in time, a salt of this process is used while
// the store is asked again in the background, every minute.
func (en *Enricher) salt(t time.Time) *salt {
	en.collect()
	day := t.UTC().Unix() / 86400
	s := en.salts[day]
	// The clock is read only when the answer depends on it: this runs for
	// every event.
	if s != nil && (!s.local || en.cfg.Salts == nil || en.fetching[day] || en.cfg.Now().Before(s.retryAt)) {
		if s.unhashing {
			return nil
		}
		return s
	}
	now := en.cfg.Now()
	en.forget(now)
	start := time.Unix(day*86400, 0).UTC()
	if now.Sub(start) > 24*time.Hour+store.SaltGrace {
		// An event from a day whose salt is gone: hashing it with a new
		// salt would count its client as a new downloader.
		en.salts[day] = &salt{unhashing: true}
		return nil
	}
	if en.cfg.Salts != nil {
		en.fetch(day, start)
		if s == nil {
			// The day's first event: give the store a moment.
			select {
			case r := <-en.fetched:
				en.apply(r)
			case <-time.After(saltWait):
			}
			if got := en.salts[day]; got != nil {
				if got.unhashing {
					return nil
				}
				return got
			}
		} else {
			s.retryAt = now.Add(time.Minute)
			return s
		}
	}
	key := make([]byte, store.SaltSize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	s = &salt{key: key, local: en.cfg.Salts != nil, retryAt: now.Add(time.Minute)}
	en.salts[day] = s
	return s
}

// saltWait is how long the first event of a day waits for the shared
// salt before a salt of this process is used.
const saltWait = 250 * time.Millisecond

type fetchResult struct {
	day int64
	key []byte
	err error
}

// fetch asks the store for a day's salt in the background.
func (en *Enricher) fetch(day int64, start time.Time) {
	if en.fetching[day] {
		return
	}
	en.fetching[day] = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		key, err := en.cfg.Salts.Salt(ctx, start)
		if err == nil && len(key) != store.SaltSize {
			err = errors.New("salt of the wrong size")
		}
		en.fetched <- fetchResult{day: day, key: key, err: err}
	}()
}

// collect applies the salts that arrived from the store.
func (en *Enricher) collect() {
	for {
		select {
		case r := <-en.fetched:
			en.apply(r)
		default:
			return
		}
	}
}

func (en *Enricher) apply(r fetchResult) {
	delete(en.fetching, r.day)
	switch {
	case r.err == nil:
		if old := en.salts[r.day]; old != nil && en.macKey == old {
			en.mac, en.macKey = nil, nil
		}
		en.salts[r.day] = &salt{key: r.key}
	case errors.Is(r.err, store.ErrNoSalt):
		en.salts[r.day] = &salt{unhashing: true}
	default:
		en.cfg.Logger.Warn("daily salt unavailable from the store; using one of this process until it is back",
			"day", time.Unix(r.day*86400, 0).UTC().Format(time.DateOnly), "err", r.err)
	}
}

// forget drops the salts of days that ended more than SaltGrace ago.
func (en *Enricher) forget(now time.Time) {
	for day, s := range en.salts {
		if now.Sub(time.Unix(day*86400, 0)) > 24*time.Hour+store.SaltGrace {
			clear(s.key)
			delete(en.salts, day)
			if en.macKey == s {
				en.mac, en.macKey = nil, nil
			}
		}
	}
}
