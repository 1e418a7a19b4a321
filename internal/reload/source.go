package reload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"portico/internal/manifest"
	"portico/internal/route"
)

// A Source is where rules come from: a manifest file, or the store.
//
// A Loader reads a source from one goroutine at a time, while the
// source's Watch runs in another.
type Source interface {
	// Name identifies the source in logs and on /readyz: a manifest's
	// path.
	Name() string
	// Read returns the source's current rules with their version. When
	// the version is still have (the version in use; "" forces a full
	// read), Read may skip decoding and return the version alone. A
	// source whose new version is invalid returns every problem as a
	// manifest error (see manifest.Errors).
	Read(ctx context.Context, have string) (route.RuleSet, error)
	// Watch calls changed whenever the source may hold a new version,
	// until ctx ends; changed returns once the version is loaded or
	// rejected. interval is how often to poll, for sources that poll; 0
	// turns polling off.
	//
	// A file listens for file events in its directory and polls its
	// size, modification time and identity as the safety net. A store
	// listens for notifications where the database has them
	// (PostgreSQL's LISTEN/NOTIFY), and polls a version row as the
	// safety net.
	Watch(ctx context.Context, interval time.Duration, changed func())
}

// File is a manifest file as a Source. Its version is the SHA-256 of its
// bytes, so a file rewritten with the same content is not reloaded.
type File struct {
	path string
	log  *slog.Logger

	mu   sync.Mutex
	stat fileStat // of the version last read
}

var _ Source = (*File)(nil)

// NewFile returns the manifest file at path as a source. log receives
// what goes wrong with file events (nil discards it).
func NewFile(path string, log *slog.Logger) *File {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &File{path: path, log: log}
}

// Name implements Source: the path.
func (f *File) Name() string { return f.path }

// Read implements Source.
func (f *File) Read(_ context.Context, have string) (route.RuleSet, error) {
	st, _ := statFile(f.path)
	data, err := os.ReadFile(f.path)
	if err != nil {
		return route.RuleSet{}, fmt.Errorf("read manifest: %w", err)
	}
	f.mu.Lock()
	f.stat = st
	f.mu.Unlock()
	sum := sha256.Sum256(data)
	set := route.RuleSet{Name: f.path, Version: hex.EncodeToString(sum[:])}
	if set.Version == have {
		return set, nil
	}
	m, err := manifest.Decode(f.path, data)
	if err != nil {
		return route.RuleSet{}, err
	}
	set.Rules = m.Rules
	return set, nil
}

// settleDelay is how long file events must have stopped before the file
// is looked at: writers rarely finish in one event (a truncate, then
// writes), and reading between them would reject a half-written file.
const settleDelay = 100 * time.Millisecond

// Watch implements Source. File events in the file's directory (and in
// the directory its symbolic link leads to) make it look at the file once
// they settle; the file is also polled every interval, for file systems
// without events (network and some container file systems). An interval
// of 0 turns both off: the file is then read on SIGHUP only.
func (f *File) Watch(ctx context.Context, interval time.Duration, changed func()) {
	if interval <= 0 {
		<-ctx.Done()
		return
	}
	events := make(chan struct{}, 1)
	stop, err := f.watchEvents(events)
	if err != nil {
		f.log.Warn("manifest file events unavailable: polling only", "file", f.path, "interval", interval, "err", err)
	} else {
		defer stop()
		// What changed before the events were watched has no event:
		// look once now (unless an event is pending already).
		select {
		case events <- struct{}{}:
		default:
		}
	}
	f.watch(ctx, interval, events, changed)
}

// watch calls changed settleDelay after the last of a run of events, if
// the file is there, and every interval if the file's identity differs
// from the version last read. After an event the content decides (Read
// skips a version it has), since a rewrite in place within the file
// system's time granularity keeps size, time and identity.
func (f *File) watch(ctx context.Context, interval time.Duration, events <-chan struct{}, changed func()) {
	poll := time.NewTicker(interval)
	defer poll.Stop()
	settle := time.NewTimer(settleDelay)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
			settle.Reset(settleDelay)
		case <-settle.C:
			if _, err := statFile(f.path); err == nil {
				changed()
			}
		case <-poll.C:
			st, err := statFile(f.path)
			f.mu.Lock()
			moved := err == nil && st != f.stat
			f.mu.Unlock()
			if moved {
				changed()
			}
		}
	}
}

// watchEvents sends to events (without blocking: one pending is enough)
// whenever something happens in the file's directory or in the directory
// its symbolic links resolve to. Directories are watched, not the file,
// so that a file replaced by a rename (editors, Kubernetes config maps
// swapping a symbolic link) is still seen.
func (f *File) watchEvents(events chan<- struct{}) (stop func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", f.path, err)
	}
	dir := filepath.Dir(f.path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching directory %s: %w", dir, err)
	}
	resolved := f.followLink(w, dir, "")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				// The link may lead elsewhere now.
				resolved = f.followLink(w, dir, resolved)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// Events may have been lost (a queue overflow): look.
				f.log.Warn("manifest file events", "file", f.path, "err", err)
			}
			select {
			case events <- struct{}{}:
			default:
			}
		}
	}()
	return func() {
		w.Close()
		<-done
	}, nil
}

// followLink watches the directory the file's symbolic links resolve
// to, if it is not dir and not watched already (was), and returns it.
func (f *File) followLink(w *fsnotify.Watcher, dir, was string) string {
	real, err := filepath.EvalSymlinks(f.path)
	if err != nil {
		return was
	}
	target := filepath.Dir(real)
	if target == was || target == dir {
		return target
	}
	if err := w.Add(target); err != nil {
		f.log.Warn("manifest file events: watching the directory its link leads to", "file", f.path, "dir", target, "err", err)
		return was
	}
	return target
}
