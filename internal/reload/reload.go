// Package reload keeps the router's table in step with the manifest file.
//
// The file is polled for changes (size, modification time, identity) and
// re-read on demand, for SIGHUP. Each version is decoded and compiled off
// the request path; only a version that passes every check is swapped in.
// A rejected version is logged with every problem, shown on /readyz and
// counted, and the previous table keeps serving, so a typo in a manifest
// push never takes a gateway down.
package reload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portico/internal/manifest"
	"portico/internal/route"
)

// Recorder receives the outcome of every load, for metrics.
type Recorder interface {
	ConfigLoaded(generation uint64, rules, domains int, at time.Time)
	ConfigRejected()
}

// Loader loads a manifest file into a router.
type Loader struct {
	path     string
	opts     route.Options
	log      *slog.Logger
	recorder Recorder

	mu     sync.Mutex // serializes loads
	router *route.Router
	sum    [32]byte // of the manifest in use
	stat   fileStat
	status atomic.Pointer[Status]
}

// Status describes the manifest in use and the last rejected one.
type Status struct {
	Generation uint64
	File       string
	LoadedAt   time.Time
	Rules      int
	Domains    int
	// RejectedAt and Problems describe the most recent rejected version,
	// if it came after the version in use.
	RejectedAt time.Time
	Problems   []string
}

// New returns a loader for the manifest at path. Call Load once before
// serving; it creates the router.
func New(path string, opts route.Options, log *slog.Logger, recorder Recorder) *Loader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loader{path: path, opts: opts, log: log, recorder: recorder}
}

// Load reads, checks and compiles the manifest. The first successful Load
// creates the router through newRouter; later ones swap a new table into
// it. On error the router, if any, keeps its table.
func (l *Loader) Load(newRouter func(*route.Table) *route.Router) (*route.Router, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.load(newRouter, true)
}

// Reload re-reads the manifest if its contents changed, or always when
// force is set. It returns whether a new table was swapped in.
func (l *Loader) Reload(force bool) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.router == nil {
		return false, errors.New("reload before the first load")
	}
	gen := l.Status().Generation
	_, err := l.load(nil, force)
	return l.Status().Generation != gen, err
}

func (l *Loader) load(newRouter func(*route.Table) *route.Router, force bool) (*route.Router, error) {
	st, _ := statFile(l.path)
	data, err := os.ReadFile(l.path)
	if err != nil {
		return l.router, l.reject(fmt.Errorf("read manifest: %w", err), nil)
	}
	sum := sha256.Sum256(data)
	l.stat = st
	if !force && l.router != nil && bytes.Equal(sum[:], l.sum[:]) {
		// Unchanged, or back to the version in use after a rejected
		// one: nothing is pending any more.
		if s := l.Status(); len(s.Problems) > 0 {
			s.Problems, s.RejectedAt = nil, time.Time{}
			l.status.Store(&s)
		}
		return l.router, nil
	}
	start := time.Now()
	m, err := manifest.Decode(l.path, data)
	if err != nil {
		return l.router, l.reject(err, manifest.Errors(err))
	}
	t, err := route.Compile(m, l.opts)
	if err != nil {
		return l.router, l.reject(fmt.Errorf("%s: %w", l.path, err), nil)
	}
	if l.router == nil {
		l.router = newRouter(t)
	} else {
		l.router.Swap(t)
	}
	l.sum = sum
	prev := l.Status()
	now := time.Now()
	s := &Status{Generation: prev.Generation + 1, File: l.path, LoadedAt: now, Rules: t.Rules(), Domains: t.Domains()}
	l.status.Store(s)
	if l.recorder != nil {
		l.recorder.ConfigLoaded(s.Generation, s.Rules, s.Domains, now)
	}
	l.log.Info("manifest loaded", "file", l.path, "generation", s.Generation,
		"rules", s.Rules, "domains", s.Domains, "took", time.Since(start).Round(time.Microsecond))
	return l.router, nil
}

// reject records a version that was not accepted.
func (l *Loader) reject(err error, problems []*manifest.Error) error {
	lines := make([]string, 0, len(problems))
	for _, p := range problems {
		lines = append(lines, p.Error())
	}
	if len(lines) == 0 {
		lines = append(lines, err.Error())
	}
	if l.router != nil {
		l.log.Error("manifest rejected, previous version still serving", "file", l.path, "problems", len(lines))
	} else {
		l.log.Error("manifest rejected", "file", l.path, "problems", len(lines))
	}
	for _, line := range lines {
		l.log.Error("manifest problem", "problem", line)
	}
	s := l.Status()
	s.RejectedAt = time.Now()
	s.Problems = lines
	l.status.Store(&s)
	if l.recorder != nil {
		l.recorder.ConfigRejected()
	}
	return err
}

// Status returns a copy of the current status.
func (l *Loader) Status() Status {
	if s := l.status.Load(); s != nil {
		return *s
	}
	return Status{File: l.path}
}

// Watch polls the file every interval and reloads it when it changed, and
// reloads it whenever hup delivers. It returns when ctx ends.
func (l *Loader) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			l.log.Info("reloading manifest on signal", "file", l.path)
			_, _ = l.Reload(true)
		case <-tick:
			st, err := statFile(l.path)
			l.mu.Lock()
			changed := err == nil && st != l.stat
			l.mu.Unlock()
			if changed {
				_, _ = l.Reload(false)
			}
		}
	}
}

// Describe writes the status as /readyz shows it.
func (s Status) Describe() string {
	var b strings.Builder
	if s.Generation == 0 {
		fmt.Fprintf(&b, "manifest: %s not loaded\n", s.File)
	} else {
		fmt.Fprintf(&b, "manifest: %s generation %d loaded at %s (%d rules, %d domains)\n",
			s.File, s.Generation, s.LoadedAt.UTC().Format(time.RFC3339), s.Rules, s.Domains)
	}
	if len(s.Problems) > 0 {
		fmt.Fprintf(&b, "manifest: a new version was rejected at %s; the version above keeps serving. Problems:\n",
			s.RejectedAt.UTC().Format(time.RFC3339))
		for _, p := range s.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	return b.String()
}
