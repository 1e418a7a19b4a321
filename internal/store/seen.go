package store

import "sync"

// Seen remembers downloaders known to be stored, so that a store need not
// try to insert them again: most downloads of a day come from downloaders
// already counted that day. It only ever holds downloaders whose insert
// was committed, so skipping them is always right. Safe for concurrent
// use.
type Seen struct {
	// Complete lifts the bound per day: Seen then holds every downloader
	// it was told of, and a store that is the only writer of its
	// database may count unique downloaders by Seen alone (SQLite).
	Complete bool

	mu   sync.Mutex
	days map[int64]map[uint64]struct{}
}

// seenPerDay bounds the downloaders remembered per day (about 40 bytes
// each); past it, stores simply insert and let the database skip them.
const seenPerDay = 1 << 20

// Unseen returns the downloaders of ds that are not known to be stored.
func (s *Seen) Unseen(ds []Downloader) []Downloader {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := ds[:0:0]
	for _, d := range ds {
		if _, ok := s.days[d.Day][d.Key]; !ok {
			out = append(out, d)
		}
	}
	return out
}

// Stored records that ds were committed, and forgets days that ended more
// than two days before the latest of them.
func (s *Seen) Stored(ds []Downloader) {
	if len(ds) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.days == nil {
		s.days = map[int64]map[uint64]struct{}{}
	}
	latest := int64(0)
	for _, d := range ds {
		latest = max(latest, d.Day)
		m := s.days[d.Day]
		if m == nil {
			m = map[uint64]struct{}{}
			s.days[d.Day] = m
		}
		if s.Complete || len(m) < seenPerDay {
			m[d.Key] = struct{}{}
		}
	}
	for day := range s.days {
		if day < latest-2*86400 {
			delete(s.days, day)
		}
	}
}
