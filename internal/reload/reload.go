// Package reload keeps the router's table in step with the sources of
// its rules: the manifest file and the store.
//
// Each source is watched (a file through the file events of its
// directory, and polled for changes to its size, modification time and
// identity as the safety net; the store's config version is polled, and
// followed through notifications on PostgreSQL) and every source is
// re-read on demand, for SIGHUP. Each new version is decoded and
// compiled, with the other sources' versions in use, off the request
// path; domains whose rules, collections and https-only setting did not
// change are taken from the table in use (route.Recompile), and the
// store decodes only the packages and collections whose stored rule
// changed. Only a version that passes every check is swapped in. A
// rejected version is logged with every problem, shown on /readyz and
// counted, and the previous table keeps serving, so a typo in a manifest
// push never takes a gateway down.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
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

// Loader loads the rules of its sources into a router.
type Loader struct {
	sources  []Source
	names    string // of every source, for Status
	opts     route.Options
	log      *slog.Logger
	recorder Recorder

	mu     sync.Mutex // serializes loads
	router *route.Router
	sets   []route.RuleSet // in use, one per source
	// pending holds, per source, the problems of its latest version if
	// that was rejected after the version in use.
	pending    [][]string
	rejectedAt time.Time
	status     atomic.Pointer[Status]
}

// Status describes the rules in use and the last rejected version.
type Status struct {
	Generation uint64
	// File names the sources: the manifest's path.
	File     string
	LoadedAt time.Time
	Rules    int
	Domains  int
	// RejectedAt and Problems describe the most recent rejected versions,
	// if they came after the ones in use.
	RejectedAt time.Time
	Problems   []string
}

// New returns a loader for the manifest at path. Call Load once before
// serving; it creates the router.
func New(path string, opts route.Options, log *slog.Logger, recorder Recorder) *Loader {
	return NewLoader([]Source{NewFile(path, log)}, opts, log, recorder)
}

// NewLoader returns a loader for the rules of sources, compiled in that
// order (see route.CompileSets). Call Load once before serving; it
// creates the router.
func NewLoader(sources []Source, opts route.Options, log *slog.Logger, recorder Recorder) *Loader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name()
	}
	return &Loader{sources: sources, names: strings.Join(names, ", "), opts: opts, log: log, recorder: recorder,
		sets: make([]route.RuleSet, len(sources)), pending: make([][]string, len(sources))}
}

// Load reads, checks and compiles every source. The first successful
// Load creates the router through newRouter; later ones swap a new table
// into it. On error the router, if any, keeps its table.
func (l *Loader) Load(newRouter func(*route.Table) *route.Router) (*route.Router, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.load(newRouter, true, -1)
}

// Reload re-reads the sources and loads those whose contents changed, or
// all of them when force is set. It returns whether a new table was
// swapped in.
func (l *Loader) Reload(force bool) (bool, error) {
	return l.reload(force, -1)
}

// ReloadSource re-reads src, one of the loader's sources, and loads it if
// it changed. It returns whether a new table was swapped in.
func (l *Loader) ReloadSource(src Source) (bool, error) {
	i := slices.Index(l.sources, src)
	if i < 0 {
		return false, fmt.Errorf("reload: %s is not a source of this loader", src.Name())
	}
	return l.reload(false, i)
}

// Rules returns the rules of src in use, nil if src is none of the
// loader's sources or has not loaded.
func (l *Loader) Rules(src Source) []manifest.Rule {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.Index(l.sources, src); i >= 0 {
		return l.sets[i].Rules
	}
	return nil
}

// reload is Reload of one source (only >= 0) or of all.
func (l *Loader) reload(force bool, only int) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.router == nil {
		return false, errors.New("reload before the first load")
	}
	gen := l.Status().Generation
	_, err := l.load(nil, force, only)
	return l.Status().Generation != gen, err
}

func (l *Loader) load(newRouter func(*route.Table) *route.Router, force bool, only int) (*route.Router, error) {
	start := time.Now()
	next := slices.Clone(l.sets)
	var changed []int
	var errs []error
	for i, src := range l.sources {
		if only >= 0 && i != only {
			continue
		}
		have := l.sets[i].Version
		if force || l.router == nil {
			have = ""
		}
		set, err := src.Read(context.Background(), have)
		if err != nil {
			errs = append(errs, l.reject([]int{i}, err, manifest.Errors(err)))
			continue
		}
		if have != "" && set.Version == have {
			// Unchanged, or back to the version in use after a rejected
			// one: nothing is pending any more.
			l.settle(i)
			continue
		}
		next[i] = set
		changed = append(changed, i)
	}
	if len(changed) == 0 || (l.router == nil && len(errs) > 0) {
		return l.router, errors.Join(errs...)
	}
	// Domains whose rules did not change come from the table in use.
	var inUse *route.Table
	if l.router != nil {
		inUse = l.router.Table()
	}
	t, err := route.Recompile(inUse, l.opts, next...)
	if err != nil {
		return l.router, errors.Join(append(errs, l.reject(changed, err, nil))...)
	}
	if l.router == nil {
		l.router = newRouter(t)
	} else {
		l.router.Swap(t)
	}
	l.sets = next
	for _, i := range changed {
		l.pending[i] = nil
	}
	prev := l.Status()
	now := time.Now()
	s := l.problems(&Status{Generation: prev.Generation + 1, File: l.names, LoadedAt: now, Rules: t.Rules(), Domains: t.Domains()})
	l.status.Store(s)
	if l.recorder != nil {
		l.recorder.ConfigLoaded(s.Generation, s.Rules, s.Domains, now)
	}
	l.log.Info("manifest loaded", "file", l.namesOf(changed), "generation", s.Generation,
		"rules", s.Rules, "domains", s.Domains, "took", time.Since(start).Round(time.Microsecond))
	return l.router, errors.Join(errs...)
}

// reject records a version of sources that was not accepted.
func (l *Loader) reject(sources []int, err error, problems []*manifest.Error) error {
	lines := make([]string, 0, len(problems))
	for _, p := range problems {
		lines = append(lines, p.Error())
	}
	if len(lines) == 0 {
		lines = append(lines, err.Error())
	}
	names := l.namesOf(sources)
	if l.router != nil {
		l.log.Error("manifest rejected, previous version still serving", "file", names, "problems", len(lines))
	} else {
		l.log.Error("manifest rejected", "file", names, "problems", len(lines))
	}
	for _, line := range lines {
		l.log.Error("manifest problem", "problem", line)
	}
	for _, i := range sources {
		l.pending[i] = lines
	}
	l.rejectedAt = time.Now()
	s := l.Status()
	l.status.Store(l.problems(&s))
	if l.recorder != nil {
		l.recorder.ConfigRejected()
	}
	return err
}

// settle drops the problems of source i, whose version in use is its
// current one again.
func (l *Loader) settle(i int) {
	if l.pending[i] == nil {
		return
	}
	l.pending[i] = nil
	s := l.Status()
	l.status.Store(l.problems(&s))
}

// problems sets the pending problems of every source on s.
func (l *Loader) problems(s *Status) *Status {
	s.Problems, s.RejectedAt = nil, time.Time{}
	for _, p := range l.pending {
		s.Problems = append(s.Problems, p...)
	}
	if len(s.Problems) > 0 {
		s.RejectedAt = l.rejectedAt
	}
	return s
}

// namesOf names sources for the log.
func (l *Loader) namesOf(sources []int) string {
	if len(sources) == len(l.sources) {
		return l.names
	}
	names := make([]string, len(sources))
	for k, i := range sources {
		names[k] = l.sources[i].Name()
	}
	return strings.Join(names, ", ")
}

// Status returns a copy of the current status.
func (l *Loader) Status() Status {
	if s := l.status.Load(); s != nil {
		return *s
	}
	return Status{File: l.names}
}

// Watch reloads each source when it changes (polling every interval,
// where the source polls), and every source whenever hup delivers. It
// returns when ctx ends.
func (l *Loader) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, src := range l.sources {
		wg.Go(func() {
			src.Watch(ctx, interval, func() { _, _ = l.reload(false, i) })
		})
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			l.log.Info("reloading manifest on signal", "file", l.names)
			_, _ = l.Reload(true)
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
