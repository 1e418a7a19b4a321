package reload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

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
	// A file polls its size, modification time and identity. A store
	// source would listen for notifications where the database has them
	// (PostgreSQL's LISTEN/NOTIFY), and poll a version row as the safety
	// net.
	Watch(ctx context.Context, interval time.Duration, changed func())
}

// File is a manifest file as a Source. Its version is the SHA-256 of its
// bytes, so a file rewritten with the same content is not reloaded.
type File struct {
	path string

	mu   sync.Mutex
	stat fileStat // of the version last read
}

var _ Source = (*File)(nil)

// NewFile returns the manifest file at path as a source.
func NewFile(path string) *File { return &File{path: path} }

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

// Watch implements Source: it polls the file every interval.
func (f *File) Watch(ctx context.Context, interval time.Duration, changed func()) {
	if interval <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
