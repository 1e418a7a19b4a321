package reload

import (
	"bufio"
	"context"
	"crypto/sha256"
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
//
// Every new version is read whole, as a change may be to a domain or an
// organization rather than to a package, but only the packages and
// collections whose stored rule changed are decoded again: the others
// keep the rule values of the read before, so that the loader compiles
// only the domains they changed (see route.Recompile).
type Store struct {
	cfg StoreConfig
	log *slog.Logger

	mu      sync.Mutex
	polled  int64 // the version the poller saw last, -1 for none
	offline bool  // serving the local copy or nothing, the store unread

	// rules are the last read's, in the order read (by package id), and
	// digests the first half of the SHA-256 of each one's stored form.
	// Only Read uses them, and the loader calls it from one goroutine
	// at a time.
	rules   []manifest.Rule
	digests []digest
	// colls are the last read's collections, routing or not, by id.
	colls map[string]decoded
}

// decoded is a stored rule decoded, and the digest of its stored form.
type decoded struct {
	rule   manifest.Rule
	digest digest
}

// digest identifies a stored rule's bytes: the first half of their
// SHA-256.
type digest [16]byte

func digestOf(b []byte) digest {
	sum := sha256.Sum256(b)
	return digest(sum[:16])
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
	var (
		r       control.Routing
		rules   []manifest.Rule
		digests []digest
		colls   map[string]decoded
		errs    []error
		cp      *copyWriter
	)
	err = s.cfg.Store.View(ctx, func(tx control.Tx) error {
		rules = make([]manifest.Rule, 0, len(s.rules))
		digests = make([]digest, 0, len(s.rules))
		colls = make(map[string]decoded, len(s.colls))
		errs = nil
		cp.abort()
		cp = s.newCopy(set.Version)
		// The rules decoded now share their domain names, and their
		// backends are checked once each.
		dec := manifest.NewRuleDecoder()
		// A collection's rule is decoded once: for its host while the
		// routing is read, and for the table; not at all when its
		// stored rule is the one read before.
		collectionHost := func(c control.Collection) string {
			d := digestOf(c.Rule)
			rule := s.colls[c.ID]
			if rule.rule == nil || rule.digest != d {
				dr, err := dec.Decode(collectionSource(c.ID), c.Rule, c.ID)
				if err != nil {
					errs = append(errs, err)
					return ""
				}
				rule = decoded{rule: dr, digest: d}
			}
			colls[c.ID] = rule
			return rule.rule.Common().Host
		}
		prev, j := s.rules, 0
		var err error
		r, err = control.EachRouting(ctx, tx, s.cfg.BaseDomain, collectionHost, func(p control.Package) error {
			d := digestOf(p.Rule)
			// Both reads are in package id order.
			for j < len(prev) && manifest.PackageID(prev[j]) < p.ID {
				j++
			}
			var rule manifest.Rule
			if j < len(prev) && manifest.PackageID(prev[j]) == p.ID && s.digests[j] == d {
				rule = prev[j]
			} else {
				dr, err := dec.Decode(packageSource(p.ID), p.Rule, p.ID)
				if err != nil {
					errs = append(errs, err)
					return nil
				}
				rule = dr
			}
			rules = append(rules, rule)
			digests = append(digests, d)
			cp.add(p.ID, p.Rule)
			return nil
		})
		return err
	})
	if err != nil {
		cp.abort()
		return route.RuleSet{}, fmt.Errorf("read the store's packages: %w", err)
	}
	if len(errs) > 0 {
		cp.abort()
		return route.RuleSet{}, errors.Join(errs...)
	}
	for _, h := range r.Hosts {
		set.Hosts = append(set.Hosts, route.Host{Name: h.Name, HTTPSOnly: h.HTTPSOnly})
	}
	slices.SortFunc(set.Hosts, func(a, b route.Host) int { return strings.Compare(a.Name, b.Name) })
	cp.startCollections()
	for _, c := range r.Collections {
		set.Collections = append(set.Collections, route.Collection{ID: c.ID, Rule: colls[c.ID].rule})
		cp.add(c.ID, c.Rule)
	}
	s.rules, s.digests, s.colls = rules, digests, colls
	set.Rules = rules
	if err := cp.commit(set.Hosts); err != nil {
		// The copy only matters for a start during an outage:
		// serving goes on.
		s.log.Error("writing the local copy of the store's table", "copy", s.cfg.LocalCopy, "err", err)
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

// localCopy is the file form of the store's last table: its packages'
// and collections' rules as the store keeps them, and its hosts.
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

// copyWriter writes a local copy as the packages are read, then the
// collections and hosts, through a temporary file that replaces the copy
// only once it is complete and synced. A nil copyWriter writes nothing.
type copyWriter struct {
	path string
	f    *os.File
	// w keeps the first write error, for commit: bufio.Writer's errors
	// stick.
	w *bufio.Writer
	n int
}

// newCopy starts a local copy of version, or returns nil when the
// source keeps none or the file cannot be created (logged: serving goes
// on without).
func (s *Store) newCopy(version string) *copyWriter {
	if s.cfg.LocalCopy == "" {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(s.cfg.LocalCopy), ".routes-*.json")
	if err != nil {
		s.log.Error("writing the local copy of the store's table", "copy", s.cfg.LocalCopy, "err", err)
		return nil
	}
	c := &copyWriter{path: s.cfg.LocalCopy, f: f, w: bufio.NewWriterSize(f, 64<<10)}
	v, _ := json.Marshal(version)
	c.w.WriteString(`{"version":`)
	c.w.Write(v)
	c.w.WriteString(`,"packages":[`)
	return c
}

// add writes one package, or one collection after startCollections:
// rule is its stored, canonical JSON.
func (c *copyWriter) add(id string, rule []byte) {
	if c == nil {
		return
	}
	if c.n > 0 {
		c.w.WriteByte(',')
	}
	c.n++
	c.w.WriteString(`{"id":`)
	if plainID(id) {
		// Ids are UUIDs or manifest ids: no need for the encoder.
		c.w.WriteByte('"')
		c.w.WriteString(id)
		c.w.WriteByte('"')
	} else {
		i, _ := json.Marshal(id)
		c.w.Write(i)
	}
	c.w.WriteString(`,"rule":`)
	c.w.Write(rule)
	c.w.WriteByte('}')
}

// plainID reports whether id is a JSON string as it is, between quotes.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// startCollections ends the packages and starts the collections.
func (c *copyWriter) startCollections() {
	if c == nil {
		return
	}
	c.w.WriteString(`],"collections":[`)
	c.n = 0
}

// commit ends the copy with hosts and puts it in place.
func (c *copyWriter) commit(hosts []route.Host) error {
	if c == nil {
		return nil
	}
	defer c.abort()
	c.w.WriteString("]")
	if len(hosts) > 0 {
		h, err := json.Marshal(hosts)
		if err != nil {
			return err
		}
		c.w.WriteString(`,"hosts":`)
		c.w.Write(h)
	}
	c.w.WriteString("}")
	err := c.w.Flush()
	if err == nil {
		err = c.f.Sync()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(c.f.Name(), c.path)
	}
	return err
}

// abort drops the temporary file, unless commit put it in place.
func (c *copyWriter) abort() {
	if c == nil {
		return
	}
	_ = c.f.Close()
	_ = os.Remove(c.f.Name())
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
