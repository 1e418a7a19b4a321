// Package tlsstore keeps automatic HTTPS's state in the gateway's store:
// certificates with their private keys and metadata, the ACME account,
// and the challenge tokens of orders in progress. Storage is the
// certmagic.Storage that certmagic reads and writes, over a small
// Backend that both stores (SQLite and PostgreSQL) implement, so that
// every gateway of one store serves the same certificates and a gateway
// that starts later loads them instead of ordering its own.
//
// Its locks make one gateway at a time order a name's certificate. A
// lock is a row with an owner and an expiry, taken only when no row is
// live; while held, it is refreshed in the background, so that a lock
// outlives a slow order but not a crashed gateway. Within one process, a
// second Lock of a held name waits as one from another process does.
package tlsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"portico/internal/store"
)

// A Backend is a store's side of Storage: a table of keys and values,
// and a table of locks. Keys are slash-separated paths; "dir/…" are the
// keys under dir.
type Backend interface {
	// PutTLS sets the value of key, and its modification time to now.
	PutTLS(ctx context.Context, key string, value []byte) error
	// GetTLS returns the value of key, or an error wrapping
	// store.ErrNotFound.
	GetTLS(ctx context.Context, key string) ([]byte, error)
	// StatTLS returns the size and modification time of the value of
	// key, or an error wrapping store.ErrNotFound.
	StatTLS(ctx context.Context, key string) (size int64, modified time.Time, err error)
	// ListTLS returns the keys under dir, sorted; every key when dir is
	// "".
	ListTLS(ctx context.Context, dir string) ([]string, error)
	// DeleteTLS deletes key and the keys under it. Deleting what does
	// not exist is no error.
	DeleteTLS(ctx context.Context, key string) error
	// TryLockTLS takes the lock name for owner until ttl from now, when
	// no one holds it: there is none, or its holder let it expire. It
	// reports whether owner now holds it. It never extends a lock that
	// is held, owner's own included.
	TryLockTLS(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// RefreshLockTLS moves the expiry of owner's lock name to ttl from
	// now, and reports whether owner still holds it.
	RefreshLockTLS(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// UnlockTLS releases owner's lock name. Releasing a lock owner does
	// not hold (anymore) is no error.
	UnlockTLS(ctx context.Context, name, owner string) error
}

// Lock timings. A lock lives lockTTL past its last refresh, and is
// refreshed three times in that span: long enough to ride out a slow
// database, short enough that the orders a crashed gateway held up go
// ahead soon after.
const (
	lockTTL   = 30 * time.Second
	pollEvery = 250 * time.Millisecond
)

// Options tune a Storage; the zero value is what the gateway uses.
type Options struct {
	// LockTTL is how long a lock outlives its last refresh; 0 means 30s.
	// Tests shorten it to see a crashed holder's lock expire.
	LockTTL time.Duration
	// Poll is how often Lock tries again; 0 means 250ms.
	Poll   time.Duration
	Logger *slog.Logger
}

// Storage is certmagic.Storage over a Backend.
type Storage struct {
	b     Backend
	owner string
	ttl   time.Duration
	poll  time.Duration
	log   *slog.Logger

	mu   sync.Mutex
	held map[string]*held
}

// held is a lock this Storage holds, refreshed until released.
type held struct {
	stop func()
	done chan struct{}
}

var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)

// New returns the certmagic storage of b. Each Storage is a lock owner
// of its own, as if it were another process.
func New(b Backend, opts Options) *Storage {
	var id [12]byte
	rand.Read(id[:])
	s := &Storage{b: b, owner: hex.EncodeToString(id[:]), ttl: opts.LockTTL, poll: opts.Poll, log: opts.Logger, held: map[string]*held{}}
	if s.ttl <= 0 {
		s.ttl = lockTTL
	}
	if s.poll <= 0 {
		s.poll = pollEvery
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// checkKey refuses keys that are not slash-separated paths: empty
// components would make "a//b" a key under "a/" that no directory of
// "a" lists.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "//") {
		return fmt.Errorf("tls storage: key %q: want a slash-separated path without empty parts", key)
	}
	return nil
}

// notExist turns the store's not-found into the fs.ErrNotExist that
// certmagic tests for.
func notExist(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}

// Store implements certmagic.Storage.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	if err := s.b.PutTLS(ctx, key, value); err != nil {
		return fmt.Errorf("tls storage: store %s: %w", key, err)
	}
	return nil
}

// Load implements certmagic.Storage.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := s.b.GetTLS(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("tls storage: load %s: %w", key, notExist(err))
	}
	return v, nil
}

// Delete implements certmagic.Storage: key and everything under it.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.b.DeleteTLS(ctx, key); err != nil {
		return fmt.Errorf("tls storage: delete %s: %w", key, err)
	}
	return nil
}

// Exists implements certmagic.Storage: key has a value, or keys under
// it do.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat implements certmagic.Storage.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	if err := checkKey(key); err != nil {
		return certmagic.KeyInfo{}, err
	}
	size, modified, err := s.b.StatTLS(ctx, key)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: modified, Size: size, IsTerminal: true}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return certmagic.KeyInfo{}, fmt.Errorf("tls storage: stat %s: %w", key, err)
	}
	keys, err := s.b.ListTLS(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("tls storage: stat %s: %w", key, err)
	}
	if len(keys) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("tls storage: stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// List implements certmagic.Storage, as certmagic's file storage lists
// a directory: the keys directly under dir, files and directories, or
// with recursive every key and directory below it. "" lists from the
// top. A dir with nothing under it does not exist.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	if dir != "" {
		if err := checkKey(dir); err != nil {
			return nil, err
		}
	}
	keys, err := s.b.ListTLS(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("tls storage: list %s: %w", dir, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("tls storage: list %s: %w", dir, fs.ErrNotExist)
	}
	prefix := dir
	if prefix != "" {
		prefix += "/"
	}
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		if !recursive {
			first, _, _ := strings.Cut(rest, "/")
			add(prefix + first)
			continue
		}
		// Every directory on the way down, then the key.
		for i := range len(rest) {
			if rest[i] == '/' {
				add(prefix + rest[:i])
			}
		}
		add(k)
	}
	return out, nil
}

// Lock implements certmagic.Locker: it waits until no one holds name,
// or ctx ends.
func (s *Storage) Lock(ctx context.Context, name string) error {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil {
			// The store may be back at the next try; the caller's
			// context bounds the wait.
			s.log.Warn("taking a certificate lock", "lock", name, "err", err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tls storage: lock %s: %w", name, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// TryLock implements certmagic.TryLocker.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	if name == "" {
		return false, errors.New("tls storage: lock: empty name")
	}
	s.mu.Lock()
	_, mine := s.held[name]
	s.mu.Unlock()
	if mine {
		return false, nil
	}
	ok, err := s.b.TryLockTLS(ctx, name, s.owner, s.ttl)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("tls storage: lock %s: %w", name, err)
		}
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, mine := s.held[name]; mine {
		// Another goroutine of this Storage took it in between; the
		// row is one, and that goroutine holds it.
		return false, nil
	}
	rctx, stop := context.WithCancel(context.Background())
	h := &held{stop: stop, done: make(chan struct{})}
	s.held[name] = h
	go s.refresh(rctx, name, h.done)
	return true, nil
}

// refresh keeps the lock name alive until ctx ends.
func (s *Storage) refresh(ctx context.Context, name string, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, s.ttl/3)
		ok, err := s.b.RefreshLockTLS(rctx, name, s.owner, s.ttl)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("refreshing a certificate lock", "lock", name, "err", err)
		case !ok:
			s.log.Warn("certificate lock lost: it expired and another gateway took it", "lock", name)
			return
		}
	}
}

// RenewLockLease implements certmagic.LockLeaseRenewer: certmagic asks
// for a longer lease before each retry of an order.
func (s *Storage) RenewLockLease(ctx context.Context, name string, lease time.Duration) error {
	ok, err := s.b.RefreshLockTLS(ctx, name, s.owner, max(lease, s.ttl))
	if err != nil {
		return fmt.Errorf("tls storage: renew lock %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("tls storage: renew lock %s: not held", name)
	}
	return nil
}

// Unlock implements certmagic.Locker.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("tls storage: unlock %s: not held", name)
	}
	h.stop()
	<-h.done
	// The row goes before this Storage forgets the lock, so that its
	// own next TryLock finds the row gone rather than its own.
	err := s.b.UnlockTLS(context.WithoutCancel(ctx), name, s.owner)
	s.mu.Lock()
	delete(s.held, name)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("tls storage: unlock %s: %w", name, err)
	}
	return nil
}

// Close releases every lock still held, as a gateway that shuts down
// between an order's lock and its unlock would otherwise leave the lock
// to expire.
func (s *Storage) Close(ctx context.Context) {
	s.mu.Lock()
	names := make([]string, 0, len(s.held))
	for name := range s.held {
		names = append(names, name)
	}
	s.mu.Unlock()
	for _, name := range names {
		if err := s.Unlock(ctx, name); err != nil {
			s.log.Warn("releasing a certificate lock", "lock", name, "err", err)
		}
	}
}
