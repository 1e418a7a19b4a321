package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// A Pair is a PEM certificate chain file and the file of its private
// key.
type Pair struct {
	Cert, Key string
}

// staticSet is the certificates read from the operator's files, by the
// names they cover. It is immutable; a reload builds a new one.
type staticSet struct {
	byName map[string]*tls.Certificate // lower-case names, and "*.example.com" for wildcards
	certs  []*tls.Certificate          // in the order of the pairs
	stamps []stamp                     // of the files when they were read
}

// stamp identifies a version of a file without reading it.
type stamp struct {
	size    int64
	modTime time.Time
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{fi.Size(), fi.ModTime()}, nil
}

// stampsOf returns the stamps of every file of pairs, certificate then
// key.
func stampsOf(pairs []Pair) ([]stamp, error) {
	out := make([]stamp, 0, 2*len(pairs))
	for _, p := range pairs {
		for _, f := range []string{p.Cert, p.Key} {
			s, err := stampOf(f)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// loadStatic reads every pair. A name two certificates cover is served
// the first one's.
func loadStatic(pairs []Pair) (*staticSet, error) {
	stamps, err := stampsOf(pairs)
	if err != nil {
		return nil, err
	}
	set := &staticSet{byName: map[string]*tls.Certificate{}, stamps: stamps}
	var errs []error
	for _, p := range pairs {
		c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s with key %s: %w", p.Cert, p.Key, err))
			continue
		}
		names := certNames(c)
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("certificate %s names no host (no DNS subject alternative name)", p.Cert))
			continue
		}
		set.certs = append(set.certs, &c)
		for _, n := range names {
			if _, taken := set.byName[n]; !taken {
				set.byName[n] = &c
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// certNames returns the host names c covers, lower-case: its DNS
// subject alternative names, which clients check (the common name is
// ignored by them, and so here).
func certNames(c tls.Certificate) []string {
	if c.Leaf == nil {
		return nil
	}
	names := make([]string, 0, len(c.Leaf.DNSNames))
	for _, n := range c.Leaf.DNSNames {
		names = append(names, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// lookup returns the certificate for name, an exact name first, then a
// wildcard for its first label. name is lower-case.
func (s *staticSet) lookup(name string) *tls.Certificate {
	if s == nil || name == "" {
		return nil
	}
	if c := s.byName[name]; c != nil {
		return c
	}
	if _, rest, ok := strings.Cut(name, "."); ok && rest != "" {
		return s.byName["*."+rest]
	}
	return nil
}

// changed reports whether the files of pairs differ from what s was read
// from, and their stamps now.
func (s *staticSet) changed(pairs []Pair) (bool, []stamp, error) {
	now, err := stampsOf(pairs)
	if err != nil {
		return false, nil, err
	}
	return !slices.Equal(now, s.stamps), now, nil
}
