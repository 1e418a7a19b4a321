// Package tlsstoretest is the contract suite of tlsstore.Backend: every
// store runs it, through the certmagic.Storage that package tlsstore
// builds on it, so that certmagic finds the same semantics on each.
package tlsstoretest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portico/internal/tlsstore"
)

// Open returns two backends of one new, empty database, as two gateways
// of one store see it: separate connections, and for SQLite separate
// handles on the one file.
type Open func(t *testing.T) (first, second tlsstore.Backend)

// Run checks the backends that open returns.
func Run(t *testing.T, open Open) {
	t.Run("StoreLoad", func(t *testing.T) { testStoreLoad(t, open) })
	t.Run("StatExists", func(t *testing.T) { testStatExists(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("BadKeys", func(t *testing.T) { testBadKeys(t, open) })
	t.Run("LockExcludes", func(t *testing.T) { testLockExcludes(t, open) })
	t.Run("LockContention", func(t *testing.T) { testLockContention(t, open) })
	t.Run("LockExpires", func(t *testing.T) { testLockExpires(t, open) })
}

// fast are lock timings that keep the tests short.
var fast = tlsstore.Options{LockTTL: 900 * time.Millisecond, Poll: 10 * time.Millisecond}

func testStoreLoad(t *testing.T, open Open) {
	a, b := open(t)
	s1, s2 := tlsstore.New(a, fast), tlsstore.New(b, fast)
	ctx := t.Context()
	key := "certificates/acme-v02.api.letsencrypt.org-directory/get.acme.test/get.acme.test.crt"
	value := []byte("-----BEGIN CERTIFICATE-----\n\x00\xff binary is kept\n")
	if err := s1.Store(ctx, key, value); err != nil {
		t.Fatal(err)
	}
	// The other gateway reads what the first wrote.
	if got, err := s2.Load(ctx, key); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("Load from the second backend = %q, %v; want %q", got, err, value)
	}
	if err := s2.Store(ctx, key, []byte("renewed")); err != nil {
		t.Fatal(err)
	}
	if got, err := s1.Load(ctx, key); err != nil || string(got) != "renewed" {
		t.Errorf("Load after an overwrite = %q, %v; want renewed", got, err)
	}
	if err := s1.Store(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s1.Load(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Load of an empty value = %#v, %v; want an empty, non-nil value", got, err)
	}
	if got, err := s1.Load(ctx, "certificates/nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing key = %q, %v; want fs.ErrNotExist", got, err)
	}
	// A directory has no value.
	if got, err := s1.Load(ctx, "certificates"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a directory = %q, %v; want fs.ErrNotExist", got, err)
	}
}

func testStatExists(t *testing.T, open Open) {
	a, _ := open(t)
	s := tlsstore.New(a, fast)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	mustStore(t, s, "a/b", "12345")
	mustStore(t, s, "a/bc/d", "x")
	info, err := s.Stat(ctx, "a/b")
	if err != nil || !info.IsTerminal || info.Size != 5 || info.Key != "a/b" || info.Modified.Before(before) || info.Modified.After(time.Now().Add(time.Second)) {
		t.Errorf("Stat(a/b) = %+v, %v; want a file of 5 bytes modified just now", info, err)
	}
	if info, err := s.Stat(ctx, "a/bc"); err != nil || info.IsTerminal || info.Key != "a/bc" {
		t.Errorf("Stat(a/bc) = %+v, %v; want a directory", info, err)
	}
	if info, err := s.Stat(ctx, "a/bcd"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(a/bcd) = %+v, %v; want fs.ErrNotExist (a/bc/d is not under it)", info, err)
	}
	for key, want := range map[string]bool{"a": true, "a/b": true, "a/bc": true, "a/bc/d": true, "a/bcd": false, "a/b/c": false, "b": false, "a/": false} {
		if got := s.Exists(ctx, key); got != want {
			t.Errorf("Exists(%q) = %v, want %v", key, got, want)
		}
	}
}

func testList(t *testing.T, open Open) {
	a, _ := open(t)
	s := tlsstore.New(a, fast)
	ctx := t.Context()
	for _, k := range []string{
		"certificates/ca/x.test/x.test.crt",
		"certificates/ca/x.test/x.test.key",
		"certificates/ca/y.test/y.test.crt",
		"certificates/ca0/z.test/z.test.crt", // '0' sorts right after '/'
		"certificates/ca.old/w.test/w.test.crt",
		"acme/ca/users/ops@acme.test/ops.json",
		"ocsp/x.test-1234",
	} {
		mustStore(t, s, k, "v")
	}
	for _, tc := range []struct {
		dir       string
		recursive bool
		want      []string
	}{
		{"", false, []string{"acme", "certificates", "ocsp"}},
		{"certificates", false, []string{"certificates/ca", "certificates/ca.old", "certificates/ca0"}},
		{"certificates/ca", false, []string{"certificates/ca/x.test", "certificates/ca/y.test"}},
		{"certificates/ca/x.test", false, []string{"certificates/ca/x.test/x.test.crt", "certificates/ca/x.test/x.test.key"}},
		{"certificates/ca", true, []string{
			"certificates/ca/x.test", "certificates/ca/x.test/x.test.crt", "certificates/ca/x.test/x.test.key",
			"certificates/ca/y.test", "certificates/ca/y.test/y.test.crt",
		}},
		{"acme", true, []string{"acme/ca", "acme/ca/users", "acme/ca/users/ops@acme.test", "acme/ca/users/ops@acme.test/ops.json"}},
	} {
		got, err := s.List(ctx, tc.dir, tc.recursive)
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("List(%q, recursive %v) = %q, %v; want %q", tc.dir, tc.recursive, got, err, want)
		}
	}
	if got, err := s.List(ctx, "certificates/none", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing directory = %q, %v; want fs.ErrNotExist", got, err)
	}
}

func testDelete(t *testing.T, open Open) {
	a, b := open(t)
	s1, s2 := tlsstore.New(a, fast), tlsstore.New(b, fast)
	ctx := t.Context()
	for _, k := range []string{"certificates/ca/x.test/x.test.crt", "certificates/ca/x.test/x.test.key", "certificates/ca/x.testing/x.testing.crt", "certificates/ca/x.test0"} {
		mustStore(t, s1, k, "v")
	}
	if err := s2.Delete(ctx, "certificates/ca/x.test"); err != nil {
		t.Fatal(err)
	}
	got, err := s1.List(ctx, "certificates/ca", true)
	want := []string{"certificates/ca/x.test0", "certificates/ca/x.testing", "certificates/ca/x.testing/x.testing.crt"}
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("after Delete(certificates/ca/x.test): List = %q, %v; want %q", got, err, want)
	}
	if err := s1.Delete(ctx, "certificates/ca/x.test"); err != nil {
		t.Errorf("Delete of what is gone = %v, want nil", err)
	}
	if err := s1.Delete(ctx, "certificates/ca/x.test0"); err != nil || s1.Exists(ctx, "certificates/ca/x.test0") {
		t.Errorf("Delete of a file = %v; it exists after: %v", err, s1.Exists(ctx, "certificates/ca/x.test0"))
	}
}

func testBadKeys(t *testing.T, open Open) {
	a, _ := open(t)
	s := tlsstore.New(a, fast)
	ctx := t.Context()
	for _, k := range []string{"", "/a", "a/", "a//b"} {
		if err := s.Store(ctx, k, []byte("v")); err == nil {
			t.Errorf("Store(%q) succeeded, want an error", k)
		}
		if _, err := s.Load(ctx, k); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) = %v, want a bad-key error", k, err)
		}
		if err := s.Delete(ctx, k); err == nil {
			t.Errorf("Delete(%q) succeeded, want an error", k)
		}
	}
	if got, err := s.List(ctx, "", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after refused writes, the storage holds %q (%v), want nothing", got, err)
	}
}

func testLockExcludes(t *testing.T, open Open) {
	a, b := open(t)
	s1, s2 := tlsstore.New(a, fast), tlsstore.New(b, fast)
	ctx := t.Context()
	const name = "issue_cert_get.acme.test"
	if err := s1.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if ok, err := s2.TryLock(ctx, name); ok || err != nil {
		t.Fatalf("TryLock of a held lock by another gateway = %v, %v; want false", ok, err)
	}
	if ok, err := s1.TryLock(ctx, name); ok || err != nil {
		t.Fatalf("TryLock of a held lock by its holder = %v, %v; want false: the lock is not reentrant", ok, err)
	}
	// Held past its TTL: the refresh keeps it.
	short, cancel := context.WithTimeout(ctx, 2*fast.LockTTL)
	err := s2.Lock(short, name)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held lock by another gateway = %v, want it to wait until its context ends", err)
	}
	if err := s1.RenewLockLease(ctx, name, time.Minute); err != nil {
		t.Errorf("RenewLockLease by the holder = %v", err)
	}
	if err := s2.RenewLockLease(ctx, name, time.Minute); err == nil {
		t.Error("RenewLockLease by another gateway succeeded")
	}
	if err := s2.Unlock(ctx, name); err == nil {
		t.Error("Unlock by another gateway succeeded")
	}
	got := make(chan error, 1)
	go func() { got <- s2.Lock(ctx, name) }()
	time.Sleep(5 * fast.Poll)
	select {
	case err := <-got:
		t.Fatalf("Lock returned %v while the lock was held", err)
	default:
	}
	if err := s1.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Lock after Unlock = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock did not return after the holder unlocked")
	}
	// Another name is another lock.
	if ok, err := s1.TryLock(ctx, name+".other"); !ok || err != nil {
		t.Errorf("TryLock of another name = %v, %v; want true", ok, err)
	}
	s1.Close(ctx)
	s2.Close(ctx)
	if ok, err := s1.TryLock(ctx, name); !ok || err != nil {
		t.Errorf("TryLock after Close released every lock = %v, %v; want true", ok, err)
	}
	s1.Close(ctx)
}

// testLockContention has goroutines of two gateways take one lock in
// turns, each holding it across a read and a write of shared state: a
// second holder at any moment fails the test.
func testLockContention(t *testing.T, open Open) {
	a, b := open(t)
	storages := []*tlsstore.Storage{tlsstore.New(a, fast), tlsstore.New(b, fast)}
	const name, perWorker, workers = "issue_cert_race.test", 5, 4
	var inside atomic.Int32
	var turns atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		s := storages[w%2]
		wg.Go(func() {
			for range perWorker {
				if err := s.Lock(t.Context(), name); err != nil {
					errs <- err
					return
				}
				if n := inside.Add(1); n != 1 {
					errs <- errors.New("two holders of one lock at once")
				}
				turns.Add(1)
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				if err := s.Unlock(t.Context(), name); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := turns.Load(); n != workers*perWorker {
		t.Errorf("%d turns with the lock, want %d", n, workers*perWorker)
	}
}

// testLockExpires: a gateway that took a lock and crashed (it stopped
// refreshing it) holds up the others until the lock expires, no longer.
func testLockExpires(t *testing.T, open Open) {
	a, b := open(t)
	ctx := t.Context()
	const name = "issue_cert_crashed.test"
	if ok, err := a.TryLockTLS(ctx, name, "crashed-gateway", fast.LockTTL); !ok || err != nil {
		t.Fatalf("TryLockTLS = %v, %v", ok, err)
	}
	if ok, err := a.TryLockTLS(ctx, name, "crashed-gateway", fast.LockTTL); ok || err != nil {
		t.Fatalf("TryLockTLS by the holder = %v, %v; want false", ok, err)
	}
	s := tlsstore.New(b, fast)
	start := time.Now()
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Lock(wait, name); err != nil {
		t.Fatalf("Lock of a lock its crashed holder let expire: %v", err)
	}
	if waited := time.Since(start); waited < fast.LockTTL/2 {
		t.Errorf("Lock took a crashed holder's lock after %v, before it expired (TTL %v)", waited, fast.LockTTL)
	}
	if ok, err := a.RefreshLockTLS(ctx, name, "crashed-gateway", time.Minute); ok || err != nil {
		t.Errorf("RefreshLockTLS by the holder that lost the lock = %v, %v; want false", ok, err)
	}
	if err := a.UnlockTLS(ctx, name, "crashed-gateway"); err != nil {
		t.Errorf("UnlockTLS by the holder that lost the lock = %v, want nil", err)
	}
	if ok, err := a.TryLockTLS(ctx, name, "third", fast.LockTTL); ok || err != nil {
		t.Errorf("TryLockTLS after the old holder's unlock = %v, %v; want false: the new holder keeps it", ok, err)
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
}

func mustStore(t *testing.T, s *tlsstore.Storage, key, value string) {
	t.Helper()
	if err := s.Store(t.Context(), key, []byte(value)); err != nil {
		t.Fatal(err)
	}
}
