package store

import (
	"cmp"
	"slices"
	"time"

	"portico/internal/event"
)

// A Record is an event as the stores keep it: its JSON for export and the
// dimensions it is counted under. Both stores derive records the same way,
// with NewRecords, so that they count alike.
type Record struct {
	ID       event.ID
	Time     time.Time
	Package  string
	Artifact string
	Kind     string
	Version  string
	Client   string
	OS       string
	Country  string
	Org      string
	Source   string
	Bot      bool
	// Download says whether the event counts as a download. FoldPulls
	// clears it for the second GET of a docker pull.
	Download bool
	// Downloader is the event's downloader hash; 0 when unknown.
	Downloader uint64
	// Pull is set for docker pulls; PullType says what was pulled.
	Pull     bool
	PullType PullType
	// Digest and Tag of a docker manifest, for mapping pulls by digest to
	// the tag they were resolved from.
	Digest string
	// Data is the event's JSON (AppendJSON).
	Data []byte
}

// PullType says what a docker manifest GET fetched.
type PullType uint8

// The types of pulls. Without a media type (the gateway redirected the
// client and never saw the manifest) the type is unknown.
const (
	PullUnknown PullType = iota
	PullIndex
	PullManifest
)

// NewRecords derives the records of a batch. The records' Data share one
// buffer, which is returned for reuse.
func NewRecords(batch []event.Event, recs []Record, buf []byte) ([]Record, []byte) {
	recs = recs[:0]
	buf = buf[:0]
	ends := make([]int, len(batch))
	for i := range batch {
		e := &batch[i]
		buf = e.AppendJSON(buf)
		ends[i] = len(buf)
		r := Record{
			ID: e.ID,
			// Events travel as JSON, which keeps milliseconds: a replayed
			// event must have the same time as the original.
			Time:       e.Time.UTC().Truncate(time.Millisecond),
			Package:    e.Package(),
			Artifact:   e.Artifact(),
			Kind:       e.Kind.String(),
			Version:    e.ArtifactVersion(),
			Client:     e.Client.Name,
			OS:         e.Client.OS,
			Country:    e.Origin.Country,
			Org:        e.Origin.Org,
			Source:     e.Source.String(),
			Bot:        e.Client.Bot,
			Download:   e.Download(),
			Downloader: e.Downloader,
		}
		if e.Kind == event.KindDocker && r.Download {
			r.Pull = true
			r.Digest = e.Docker.Digest
			switch {
			case e.Docker.MediaType == "":
				r.PullType = PullUnknown
			case event.IsIndexMediaType(e.Docker.MediaType):
				r.PullType = PullIndex
			default:
				r.PullType = PullManifest
			}
		}
		recs = append(recs, r)
	}
	// The buffer is final now; slice it.
	start := 0
	for i := range recs {
		recs[i].Data = buf[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return recs, buf
}

// A Key identifies a rollup row.
type Key struct {
	Bucket   int64 // Unix seconds: start of the hour or day
	Package  string
	Artifact string
	Kind     string
	Version  string
	Client   string
	OS       string
	Country  string
	Org      string
	Source   string
	Bot      bool
}

// Counts are the measures of a rollup row.
type Counts struct {
	Requests  int64
	Downloads int64
}

// A Delta is what a batch adds to one rollup row.
type Delta struct {
	Key
	Counts
}

// Rollup sums records into rollup rows of the given resolution (an hour
// or a day), sorted by key. Writers apply deltas in this order, so that
// concurrent writers lock rows in the same order and cannot deadlock.
func Rollup(recs []Record, resolution time.Duration) []Delta {
	idx := make(map[Key]int, len(recs))
	var out []Delta
	for i := range recs {
		r := &recs[i]
		k := Key{
			Bucket: r.Time.Truncate(resolution).Unix(), Package: r.Package, Artifact: r.Artifact, Kind: r.Kind,
			Version: r.Version, Client: r.Client, OS: r.OS, Country: r.Country, Org: r.Org, Source: r.Source, Bot: r.Bot,
		}
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, Delta{Key: k})
		}
		out[j].Requests++
		if r.Download {
			out[j].Downloads++
		}
	}
	slices.SortFunc(out, func(a, b Delta) int { return CompareKeys(&a.Key, &b.Key) })
	return out
}

// CompareKeys orders rollup keys as the rollup tables' primary keys do:
// package first, then the bucket, then the other dimensions.
func CompareKeys(a, b *Key) int {
	return cmp.Or(
		cmp.Compare(a.Package, b.Package),
		cmp.Compare(a.Bucket, b.Bucket),
		cmp.Compare(a.Artifact, b.Artifact),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Client, b.Client),
		cmp.Compare(a.OS, b.OS),
		cmp.Compare(a.Country, b.Country),
		cmp.Compare(a.Org, b.Org),
		cmp.Compare(a.Source, b.Source),
		compareBool(a.Bot, b.Bot),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// A Downloader is one unique downloader of an artifact on a day.
type Downloader struct {
	Day      int64 // Unix seconds of the day's start
	Package  string
	Artifact string
	Kind     string
	Hash     uint64
}

// Downloaders returns the distinct downloaders of the records' downloads,
// robots left out, sorted.
func Downloaders(recs []Record) []Downloader {
	seen := make(map[Downloader]bool)
	var out []Downloader
	for i := range recs {
		r := &recs[i]
		if !r.Download || r.Bot || r.Downloader == 0 {
			continue
		}
		d := Downloader{Day: Day(r.Time).Unix(), Package: r.Package, Artifact: r.Artifact, Kind: r.Kind, Hash: r.Downloader}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Downloader) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Package, b.Package), cmp.Compare(a.Artifact, b.Artifact),
			cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Hash, b.Hash))
	})
	return out
}

// Unexpired returns the records at or after horizon (Unix milliseconds;
// 0 keeps all), reusing recs, and how many it dropped.
func Unexpired(recs []Record, horizon int64) ([]Record, int) {
	if horizon == 0 {
		return recs, 0
	}
	kept := recs[:0]
	for _, r := range recs {
		if r.Time.UnixMilli() >= horizon {
			kept = append(kept, r)
		}
	}
	return kept, len(recs) - len(kept)
}
