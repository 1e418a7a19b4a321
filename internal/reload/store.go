package reload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"portico/internal/control"
	"portico/internal/manifest"
	"portico/internal/route"
)

// storeReadTimeout bounds one read of the store, so that a database that
// stopped answering holds no reload up for long: the table in use keeps
// serving.
const storeReadTimeout = 10 * time.Second

// StoreConfig configures a Store source.
type StoreConfig struct {
	Store control.Store
	// BaseDomain is --base-domain: every organization's name under it
	// routes.
	BaseDomain string
	// LocalCopy, when set, is the file where the last table read is
	// kept, so that a gateway started while the database is down serves
	// what it served before.
	LocalCopy string
	Logger    *slog.Logger
}

// Store is the control plane's packages and collections as a Source. Its
// version is the store's config version, which grows with every routing
// change; Read skips decoding while it is unchanged.
type Store struct {
	cfg StoreConfig
	log *slog.Logger

	mu      sync.Mutex
	polled  int64 // the version the poller saw last, -1 for none
	offline bool  // serving the local copy or nothing, the store unread
}

var _ Source = (*Store)(nil)

// NewStore returns the store in cfg as a source.
func NewStore(cfg StoreConfig) *Store {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{cfg: cfg, log: log, polled: -1}
}

// Name implements Source.
func (s *Store) Name() string { return "store" }

// Read implements Source. When the store does not answer the first read
// (have is ""), the local copy stands in for it; with no copy either,
// the source is empty until the store answers, so that the manifest's
// rules serve meanwhile.
func (s *Store) Read(ctx context.Context, have string) (route.RuleSet, error) {
	ctx, cancel := context.WithTimeout(ctx, storeReadTimeout)
	defer cancel()
	set, err := s.read(ctx, have)
	if err == nil {
		s.setOffline(false)
		return set, nil
	}
	if have != "" || manifest.Errors(err) != nil {
		return route.RuleSet{}, err
	}
	s.setOffline(true)
	if s.cfg.LocalCopy != "" {
		local, lerr := readLocalCopy(s.cfg.LocalCopy)
		if lerr == nil {
			s.log.Error("store unreachable: serving the local copy of its last table until it answers",
				"copy", s.cfg.LocalCopy, "version", local.Version, "packages", len(local.Rules), "err", err)
			return local, nil
		}
		if !errors.Is(lerr, os.ErrNotExist) {
			s.log.Error("local copy of the store's table unreadable", "copy", s.cfg.LocalCopy, "err", lerr)
		}
	}
	s.log.Error("store unreachable and no local copy of its table: serving the manifest's rules only until it answers", "err", err)
	return route.RuleSet{Name: s.Name(), Version: "unavailable"}, nil
}

func (s *Store) setOffline(v bool) {
	s.mu.Lock()
	s.offline = v
	s.mu.Unlock()
}

func (s *Store) read(ctx context.Context, have string) (route.RuleSet, error) {
	v, err := s.cfg.Store.ConfigVersion(ctx)
	if err != nil {
		return route.RuleSet{}, fmt.Errorf("read the store's config version: %w", err)
	}
	// The version is read before the rows, so the rows are at least as
	// new as it: a change committed in between is read again on its own
	// notification.
	set := route.RuleSet{Name: s.Name(), Version: strconv.FormatInt(v, 10)}
	if set.Version == have {
		return set, nil
	}
	var r control.Routing
	var errs []error
	// A collection's rule is decoded once: for its host while the
	// routing is read, and for the table.
	colls := map[string]manifest.Rule{}
	collectionHost := func(c control.Collection) string {
		rule, err := manifest.DecodeRule(collectionSource(c.ID), c.Rule, c.ID)
		if err != nil {
			errs = append(errs, err)
			return ""
		}
		colls[c.ID] = rule
		return rule.Common().Host
	}
	err = s.cfg.Store.View(ctx, func(tx control.Tx) error {
		var err error
		r, err = control.ReadRouting(ctx, tx, s.cfg.BaseDomain, collectionHost)
		return err
	})
	if err != nil {
		return route.RuleSet{}, fmt.Errorf("read the store's packages: %w", err)
	}
	copy := localCopy{Version: set.Version}
	for _, h := range r.Hosts {
		set.Hosts = append(set.Hosts, route.Host{Name: h.Name, HTTPSOnly: h.HTTPSOnly})
	}
	slices.SortFunc(set.Hosts, func(a, b route.Host) int { return strings.Compare(a.Name, b.Name) })
	if s.cfg.LocalCopy != "" {
		copy.Hosts = set.Hosts
	}
	keep := func(list *[]localPackage, id string, rule manifest.Rule) error {
		if s.cfg.LocalCopy == "" {
			return nil
		}
		data, err := manifest.EncodeRule(rule)
		if err != nil {
			return err
		}
		*list = append(*list, localPackage{ID: id, Rule: data})
		return nil
	}
	for _, p := range r.Packages {
		rule, err := manifest.DecodeRule(packageSource(p.ID), p.Rule, p.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.Rules = append(set.Rules, rule)
		if err := keep(&copy.Packages, p.ID, rule); err != nil {
			return route.RuleSet{}, err
		}
	}
	for _, c := range r.Collections {
		rule := colls[c.ID]
		set.Collections = append(set.Collections, route.Collection{ID: c.ID, Rule: rule})
		if err := keep(&copy.Collections, c.ID, rule); err != nil {
			return route.RuleSet{}, err
		}
	}
	if len(errs) > 0 {
		return route.RuleSet{}, errors.Join(errs...)
	}
	if s.cfg.LocalCopy != "" {
		if err := writeLocalCopy(s.cfg.LocalCopy, copy); err != nil {
			// The copy only matters for a start during an outage:
			// serving goes on.
			s.log.Error("writing the local copy of the store's table", "copy", s.cfg.LocalCopy, "err", err)
		}
	}
	return set, nil
}

// packageSource names a stored package in errors, where a manifest's
// problems name the file.
func packageSource(id string) string { return "store: package " + id }

// collectionSource names a stored collection in errors.
func collectionSource(id string) string { return "store: collection " + id }

// Watch implements Source: it follows the store's change notifications
// where it has them (PostgreSQL), and polls the config version every
// interval as the safety net, and to notice when a store that was down
// answers again.
func (s *Store) Watch(ctx context.Context, interval time.Duration, changed func()) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if w, ok := s.cfg.Store.(interface {
		WatchConfig(ctx context.Context, fn func(version int64))
	}); ok {
		wg.Go(func() { w.WatchConfig(ctx, func(int64) { changed() }) })
	}
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
			pctx, cancel := context.WithTimeout(ctx, storeReadTimeout)
			v, err := s.cfg.Store.ConfigVersion(pctx)
			cancel()
			if err != nil {
				continue
			}
			s.mu.Lock()
			moved := v != s.polled || s.offline
			s.polled = v
			s.mu.Unlock()
			if moved {
				changed()
			}
		}
	}
}

// localCopy is the file form of the store's last table.
type localCopy struct {
	Version     string         `json:"version"`
	Packages    []localPackage `json:"packages"`
	Collections []localPackage `json:"collections,omitempty"`
	Hosts       []route.Host   `json:"hosts,omitempty"`
}

type localPackage struct {
	ID   string          `json:"id"`
	Rule json.RawMessage `json:"rule"`
}

func writeLocalCopy(path string, c localCopy) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".routes-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readLocalCopy(path string) (route.RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return route.RuleSet{}, err
	}
	var c localCopy
	if err := json.Unmarshal(data, &c); err != nil {
		return route.RuleSet{}, fmt.Errorf("%s: %w", path, err)
	}
	// The version is kept: when the store answers again at the same
	// version, nothing is recompiled.
	set := route.RuleSet{Name: "store (local copy " + path + ")", Version: c.Version, Hosts: c.Hosts}
	for _, p := range c.Packages {
		r, err := manifest.DecodeRule(path, p.Rule, p.ID)
		if err != nil {
			return route.RuleSet{}, err
		}
		set.Rules = append(set.Rules, r)
	}
	for _, p := range c.Collections {
		r, err := manifest.DecodeRule(path, p.Rule, p.ID)
		if err != nil {
			return route.RuleSet{}, err
		}
		set.Collections = append(set.Collections, route.Collection{ID: p.ID, Rule: r})
	}
	return set, nil
}
