package reload

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// watching starts l.Watch with a poll interval that never comes in a
// test, so that only file events reload, and returns what l serves for
// r.test/dl/f.
func watching(t *testing.T, path string) (target func() string, rec *recorder) {
	t.Helper()
	l, rt, rec := newLoaded(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Watch(ctx, time.Hour, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() string {
		req := httptest.NewRequest("GET", "/dl/f", nil)
		req.Host = "r.test"
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		return w.Header().Get("Location")
	}, rec
}

func waitServing(t *testing.T, target func() string, want, how string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for target() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no reload from file events: serving %q, want %q", how, target(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFileEvents: a manifest rewritten in place, replaced by a rename,
// reached through a symbolic link into another directory, or swapped
// the way Kubernetes updates a mounted config map, is reloaded on its
// file events, long before the next poll.
func TestFileEvents(t *testing.T) {
	t.Run("in place and by rename", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "manifest.json")
		writeFile(t, path, manifestGen(0))
		target, rec := watching(t, path)
		if err := os.WriteFile(path, []byte(manifestGen(1)), 0o644); err != nil {
			t.Fatal(err)
		}
		waitServing(t, target, "https://gen1.test/f", "rewritten in place")
		writeFile(t, path, manifestGen(2))
		waitServing(t, target, "https://gen2.test/f", "replaced by a rename")
		if n := rec.rejected.Load(); n != 0 {
			t.Errorf("%d versions rejected: a half-written file was read", n)
		}
	})
	t.Run("symbolic link into another directory", func(t *testing.T) {
		dir, elsewhere := t.TempDir(), t.TempDir()
		real := filepath.Join(elsewhere, "real.json")
		writeFile(t, real, manifestGen(0))
		path := filepath.Join(dir, "manifest.json")
		if err := os.Symlink(real, path); err != nil {
			t.Fatal(err)
		}
		target, _ := watching(t, path)
		if err := os.WriteFile(real, []byte(manifestGen(3)), 0o644); err != nil {
			t.Fatal(err)
		}
		waitServing(t, target, "https://gen3.test/f", "the link's target rewritten")
	})
	t.Run("config map", func(t *testing.T) {
		// dir/manifest.json → ..data/manifest.json, ..data → ..v0; an
		// update writes ..v1 and renames a new ..data link over the old.
		dir := t.TempDir()
		version := func(n int) {
			v := filepath.Join(dir, "..v"+string(rune('0'+n)))
			if err := os.Mkdir(v, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(v, "manifest.json"), manifestGen(n))
			tmp := filepath.Join(dir, "..data_tmp")
			if err := os.Symlink(filepath.Base(v), tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
				t.Fatal(err)
			}
		}
		version(0)
		path := filepath.Join(dir, "manifest.json")
		if err := os.Symlink(filepath.Join("..data", "manifest.json"), path); err != nil {
			t.Fatal(err)
		}
		target, _ := watching(t, path)
		version(1)
		waitServing(t, target, "https://gen1.test/f", "the config map's first update")
		version(2)
		waitServing(t, target, "https://gen2.test/f", "the config map's second update")
	})
}

// TestFileEventsSettle: a run of events is looked at once, when it has
// been quiet for settleDelay, and the poll finds a change no event
// announced.
func TestFileEventsSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "manifest.json")
		writeFile(t, path, manifestGen(0))
		f := NewFile(path, nil)
		if _, err := f.Read(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		events := make(chan struct{}, 1)
		var looks atomic.Int32
		go f.watch(ctx, time.Hour, events, func() {
			looks.Add(1)
			if _, err := f.Read(ctx, ""); err != nil {
				t.Error(err)
			}
		})

		// A writer at work: ten events, settleDelay/2 apart.
		for i := range 10 {
			if err := os.WriteFile(path, []byte(manifestGen(i+1)), 0o644); err != nil {
				t.Fatal(err)
			}
			events <- struct{}{}
			time.Sleep(settleDelay / 2)
			synctest.Wait()
			if n := looks.Load(); n != 0 {
				t.Fatalf("looked at the file %d times while events kept coming", n)
			}
		}
		time.Sleep(settleDelay)
		synctest.Wait()
		if n := looks.Load(); n != 1 {
			t.Fatalf("looked at the file %d times after the events settled, want 1", n)
		}
		// Without events, the poll finds a change, and only a change.
		writeFile(t, path, manifestGen(20))
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := looks.Load(); n != 2 {
			t.Fatalf("%d looks after the poll found a change, want 2", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := looks.Load(); n != 2 {
			t.Fatalf("%d looks after a poll that found no change, want 2", n)
		}
		// A file that is gone is not looked at: the version in use
		// stays, as with the poll.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		events <- struct{}{}
		time.Sleep(2 * settleDelay)
		synctest.Wait()
		if n := looks.Load(); n != 2 {
			t.Fatalf("a removed file was looked at: %d looks, want 2", n)
		}
	})
}
