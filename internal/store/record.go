package store

import (
	"cmp"
	"hash/fnv"
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
	// Digest is the digest of a docker manifest served, when known: with
	// a version that is a tag, it maps later pulls by digest to the tag.
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
	recs = slices.Grow(recs[:0], len(batch))
	buf = buf[:0]
	ends := make([]int, len(batch))
	for i := range batch {
		e := &batch[i]
		buf = e.AppendEncoded(buf)
		ends[i] = len(buf)
		if i == 0 {
			// Size the buffer for the batch at once, by the first event
			// and a quarter more: growing it by doubling copies a large
			// batch's JSON several times over.
			buf = slices.Grow(buf, len(buf)*(len(batch)-1)*5/4)
		}
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
		if e.Kind == event.KindDocker {
			r.Digest = e.Docker.Digest
		}
		if e.Kind == event.KindDocker && r.Download {
			r.Pull = true
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

// A Key identifies a rollup row. Rollups count each event once per
// dimension: in the total row (Dim "") and in one row for each of its
// version, client, OS, country and organization. Package, artifact,
// kind, robot flag and source are part of every row, so that every
// breakdown can be restricted by them.
type Key struct {
	Bucket   int64 // Unix seconds: start of the hour or day
	Package  string
	Artifact string
	Kind     string
	Bot      bool
	Source   string
	Dim      string // "" for the total row, else a RowDims name
	Value    string // the dimension's value; "" when unknown (and in total rows)
}

// RowDims are the dimensions that have rows of their own in the rollups;
// the others (package, artifact, kind, source) are columns of every row.
var RowDims = []Dim{DimVersion, DimClient, DimOS, DimCountry, DimOrg}

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
	// Records of a batch share few packages, hours and sources: find the
	// group of those columns once per record, then each dimension's row
	// within it by its value alone.
	type group struct {
		total int              // index of the total row in out
		rows  []map[string]int // per RowDims: value → index in out
	}
	type base struct {
		bucket                      int64
		pkg, artifact, kind, source string
		bot                         bool
	}
	groups := map[base]*group{}
	var out []Delta
	for i := range recs {
		r := &recs[i]
		b := base{r.Time.Truncate(resolution).Unix(), r.Package, r.Artifact, r.Kind, r.Source, r.Bot}
		g := groups[b]
		if g == nil {
			g = &group{total: len(out), rows: make([]map[string]int, len(RowDims))}
			out = append(out, Delta{Key: Key{Bucket: b.bucket, Package: b.pkg, Artifact: b.artifact, Kind: b.kind, Bot: b.bot, Source: b.source}})
			groups[b] = g
		}
		add := func(j int) {
			out[j].Requests++
			if r.Download {
				out[j].Downloads++
			}
		}
		add(g.total)
		for d, dim := range RowDims {
			v := r.dimValue(dim)
			m := g.rows[d]
			if m == nil {
				m = map[string]int{}
				g.rows[d] = m
			}
			j, ok := m[v]
			if !ok {
				j = len(out)
				m[v] = j
				k := out[g.total].Key
				k.Dim, k.Value = dim.String(), v
				out = append(out, Delta{Key: k})
			}
			add(j)
		}
	}
	slices.SortFunc(out, func(a, b Delta) int { return CompareKeys(&a.Key, &b.Key) })
	return out
}

// AcrossPackages sums deltas over packages, artifacts, kinds and sources:
// the rows of the daily rollup of all packages, which answers
// project-wide queries without reading every package's rows.
func AcrossPackages(deltas []Delta) []Delta {
	idx := make(map[Key]int, len(deltas))
	var out []Delta
	for _, d := range deltas {
		k := d.Key
		k.Package, k.Artifact, k.Kind, k.Source = "", "", "", ""
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, Delta{Key: k})
		}
		out[j].Requests += d.Requests
		out[j].Downloads += d.Downloads
	}
	slices.SortFunc(out, func(a, b Delta) int { return CompareKeys(&a.Key, &b.Key) })
	return out
}

func (r *Record) dimValue(d Dim) string {
	switch d {
	case DimVersion:
		return r.Version
	case DimClient:
		return r.Client
	case DimOS:
		return r.OS
	case DimCountry:
		return r.Country
	case DimOrg:
		return r.Org
	}
	return ""
}

// CompareKeys orders rollup keys as the rollup tables' primary keys do.
func CompareKeys(a, b *Key) int {
	return cmp.Or(
		cmp.Compare(a.Package, b.Package),
		cmp.Compare(a.Bucket, b.Bucket),
		cmp.Compare(a.Artifact, b.Artifact),
		cmp.Compare(a.Kind, b.Kind),
		compareBool(a.Bot, b.Bot),
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Dim, b.Dim),
		cmp.Compare(a.Value, b.Value),
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
	// Key identifies the downloader among all of the day: the hash mixed
	// with the package, artifact and kind. Stores index it instead of
	// the four columns, which makes recording downloaders much cheaper;
	// two downloaders share a key with a chance of about 1 in 10^13 on a
	// day of a million.
	Key uint64
}

// Downloaders returns the distinct downloaders of the records' downloads,
// robots left out, sorted by day and key.
func Downloaders(recs []Record) []Downloader {
	seen := make(map[[2]uint64]bool)
	var out []Downloader
	for i := range recs {
		r := &recs[i]
		if !r.Download || r.Bot || r.Downloader == 0 {
			continue
		}
		d := Downloader{Day: Day(r.Time).Unix(), Package: r.Package, Artifact: r.Artifact, Kind: r.Kind, Hash: r.Downloader}
		d.Key = downloaderKey(d)
		k := [2]uint64{uint64(d.Day), d.Key}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Downloader) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Key, b.Key))
	})
	return out
}

func downloaderKey(d Downloader) uint64 {
	h := fnv.New64a()
	h.Write([]byte(d.Package))
	h.Write([]byte{0})
	h.Write([]byte(d.Artifact))
	h.Write([]byte{0})
	h.Write([]byte(d.Kind))
	// splitmix64's finalizer spreads the combination over all bits.
	z := d.Hash ^ h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
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

// CloseGrace is how long after its end a day is compacted: its hourly
// rollup rows are summed into daily rows, and from then on queries read
// the day from the daily rollup. Events of a day already compacted (a
// spool replayed later) are added to both rollups.
const CloseGrace = time.Hour

// Closed returns the records of days before closedUntil (Unix seconds),
// which count in the daily rollup as well as the hourly one.
func Closed(recs []Record, closedUntil int64) []Record {
	var out []Record
	for i := range recs {
		if recs[i].Time.Unix() < closedUntil {
			out = append(out, recs[i])
		}
	}
	return out
}
