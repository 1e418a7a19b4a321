package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"portico/internal/event"
)

var t0 = time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)

const (
	indexMT    = "application/vnd.oci.image.index.v1+json"
	manifestMT = "application/vnd.oci.image.manifest.v1+json"
)

func pull(hash uint64, at time.Duration, mediaType string) event.Event {
	return event.Event{Kind: event.KindDocker, RuleID: "r", Time: t0.Add(at), Method: "GET", Status: 200, Outcome: event.OutcomeProxy, Downloader: hash,
		Docker: event.Docker{Image: "acme/x", Reference: "1.0", Object: "manifest", MediaType: mediaType, Pull: true}}
}

// countPulls folds the batches in order, carrying the windows between
// them as a store does, and returns the pulls counted.
func countPulls(batches ...[]event.Event) int {
	var stored []PullWindow
	n := 0
	for _, b := range batches {
		recs, _ := NewRecords(b, nil, nil)
		state := map[uint64][]PullWindow{}
		from, to := WindowSpan(recs)
		for _, h := range PullHashes(recs) {
			for _, w := range stored {
				if w.Hash == h && w.At >= from && w.At <= to {
					state[h] = append(state[h], w)
				}
			}
		}
		for _, w := range FoldPulls(recs, state) {
			i := slices.IndexFunc(stored, func(s PullWindow) bool { return s.Hash == w.Hash && s.At == w.At })
			if i >= 0 {
				stored[i] = w
			} else {
				stored = append(stored, w)
			}
		}
		for _, r := range recs {
			if r.Download {
				n++
			}
		}
	}
	return n
}

func TestFoldPulls(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		batches [][]event.Event
		want    int
	}{
		{"index then manifest", [][]event.Event{{pull(1, 0, indexMT), pull(1, s, manifestMT)}}, 1},
		{"unknown types", [][]event.Event{{pull(1, 0, ""), pull(1, s, "")}}, 1},
		{"index then unknown", [][]event.Event{{pull(1, 0, indexMT), pull(1, s, "")}}, 1},
		{"two indexes", [][]event.Event{{pull(1, 0, indexMT), pull(1, s, indexMT)}}, 2},
		{"two manifests", [][]event.Event{{pull(1, 0, manifestMT), pull(1, s, manifestMT)}}, 2},
		{"two multi-platform pulls", [][]event.Event{{pull(1, 0, indexMT), pull(1, s, manifestMT), pull(1, 2*s, indexMT), pull(1, 3*s, manifestMT)}}, 2},
		{"two unknown pulls", [][]event.Event{{pull(1, 0, ""), pull(1, s, ""), pull(1, 2*s, ""), pull(1, 3*s, "")}}, 2},
		{"too far apart", [][]event.Event{{pull(1, 0, indexMT), pull(1, 2*FoldWindow, manifestMT)}}, 2},
		{"other client", [][]event.Event{{pull(1, 0, indexMT), pull(2, s, manifestMT)}}, 2},
		{"no downloader", [][]event.Event{{pull(0, 0, indexMT), pull(0, s, manifestMT)}}, 2},
		{"across batches", [][]event.Event{{pull(1, 0, indexMT)}, {pull(1, s, manifestMT)}}, 1},
		{"manifest stored first", [][]event.Event{{pull(1, s, manifestMT)}, {pull(1, 0, indexMT)}}, 1},
		{"batch out of order", [][]event.Event{{pull(1, s, manifestMT), pull(1, 0, indexMT)}}, 1},
		{"third GET is a new pull", [][]event.Event{{pull(1, 0, indexMT), pull(1, s, manifestMT), pull(1, 2*s, manifestMT)}}, 2},
		{"pulls an hour apart stored out of order", [][]event.Event{
			{pull(1, 0, indexMT), pull(1, time.Hour, indexMT), pull(1, 2*time.Hour, indexMT)},
			{pull(1, 2*time.Hour+s, manifestMT), pull(1, s, manifestMT), pull(1, time.Hour+s, manifestMT)}}, 3},
	}
	for _, tt := range tests {
		if got := countPulls(tt.batches...); got != tt.want {
			t.Errorf("%s: %d pulls, want %d", tt.name, got, tt.want)
		}
	}
	// HEAD requests and failed GETs are never pulls, so never fold.
	head := pull(1, 0, indexMT)
	head.Method, head.Docker.Pull = "HEAD", false
	if got := countPulls([]event.Event{head, pull(1, time.Second, manifestMT)}); got != 1 {
		t.Errorf("HEAD then GET: %d pulls, want 1", got)
	}
}

func TestRollup(t *testing.T) {
	mk := func(at time.Duration, version string, bot bool) event.Event {
		e := pull(uint64(at)+1, at, "")
		e.Docker.Reference = version
		e.Client.Bot = bot
		e.Source = event.SourceHuman
		return e
	}
	batch := []event.Event{mk(0, "1.0", false), mk(time.Minute, "1.0", false), mk(2*time.Hour, "1.0", false), mk(0, "2.0", false), mk(0, "1.0", true)}
	head := mk(time.Minute, "1.0", false)
	head.Method, head.Docker.Pull = "HEAD", false
	batch = append(batch, head)
	recs, _ := NewRecords(batch, nil, nil)
	hours := Rollup(recs, time.Hour)
	for i := 1; i < len(hours); i++ {
		if CompareKeys(&hours[i-1].Key, &hours[i].Key) >= 0 {
			t.Fatalf("rows not sorted: %+v", hours)
		}
	}
	sum := func(ds []Delta, dim string, keep func(Key) bool) (c Counts) {
		for _, d := range ds {
			if d.Dim == dim && keep(d.Key) {
				c.Requests += d.Requests
				c.Downloads += d.Downloads
			}
		}
		return c
	}
	all := func(Key) bool { return true }
	humans := func(k Key) bool { return !k.Bot }
	// Each dimension's rows count every event once.
	for _, dim := range []string{"", "version", "client", "os", "country", "org"} {
		if c := sum(hours, dim, all); c != (Counts{Requests: 6, Downloads: 5}) {
			t.Errorf("hour rows of dim %q sum to %+v, want 6 requests and 5 downloads", dim, c)
		}
	}
	firstHour := func(k Key) bool { return !k.Bot && k.Bucket == Hour(t0).Unix() }
	if c := sum(hours, "", firstHour); c != (Counts{Requests: 4, Downloads: 3}) {
		t.Errorf("first hour without robots = %+v, want 4 requests (one a HEAD) and 3 downloads", c)
	}
	v2 := func(k Key) bool { return k.Value == "2.0" && humans(k) }
	if c := sum(hours, "version", v2); c != (Counts{Requests: 1, Downloads: 1}) {
		t.Errorf("version 2.0 = %+v, want one download", c)
	}
	days := Rollup(recs, 24*time.Hour)
	for _, d := range days {
		if d.Bucket != Day(t0).Unix() {
			t.Errorf("day row bucket %d, want %d", d.Bucket, Day(t0).Unix())
		}
	}
	if c := sum(days, "", all); c != (Counts{Requests: 6, Downloads: 5}) {
		t.Errorf("day totals %+v, want 6 requests and 5 downloads", c)
	}
	if ds := Downloaders(recs); len(ds) != 3 {
		t.Errorf("%d downloaders, want 3 (one per hash; the bot and the HEAD left out): %+v", len(ds), ds)
	}
	for i, r := range recs {
		e, err := event.Parse(r.Data)
		if err != nil || e.Docker.Reference != batch[i].Docker.Reference || e.Time != batch[i].Time {
			t.Errorf("record %d data %s does not hold its event (%v)", i, r.Data, err)
		}
	}
}

func TestResolve(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		from, to                 string
		wantFrom, wantTo, df, dt string
	}{
		{"2026-11-20T10:30:00Z", "2026-11-23T05:10:00Z", "2026-11-20T10:00:00Z", "2026-11-23T05:00:00Z", "2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z"},
		{"2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z", "2026-11-21T00:00:00Z", "2026-11-21T00:00:00Z"},
		{"2026-11-20T12:00:00Z", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z", "2026-11-20T12:00:00Z", "2026-11-21T00:00:00Z", "2026-11-21T00:00:00Z"},
	}
	// Before the hours kept, ranges widen to whole days.
	old := Filter{From: at("2026-11-20T10:30:00Z"), To: at("2026-11-21T05:00:00Z")}.Resolve(time.Now(), at("2026-11-22T00:00:00Z"))
	if !old.From.Equal(at("2026-11-20T00:00:00Z")) || !old.To.Equal(at("2026-11-22T00:00:00Z")) || !old.DayFrom.Equal(old.From) || !old.DayTo.Equal(old.To) {
		t.Errorf("range before the hours kept resolved to %+v, want the two whole days", old)
	}
	for _, tt := range tests {
		s := Filter{From: at(tt.from), To: at(tt.to)}.Resolve(time.Now(), time.Time{})
		if !s.From.Equal(at(tt.wantFrom)) || !s.To.Equal(at(tt.wantTo)) || !s.DayFrom.Equal(at(tt.df)) || !s.DayTo.Equal(at(tt.dt)) {
			t.Errorf("Resolve(%s, %s) = %+v, want %s %s days %s %s", tt.from, tt.to, s, tt.wantFrom, tt.wantTo, tt.df, tt.dt)
		}
	}
}

func TestPlanQuery(t *testing.T) {
	v := func(s string) *string { return &s }
	tests := []struct {
		q    Query
		want Plan
		err  bool
	}{
		{Query{}, Plan{}, false},
		{Query{By: DimVersion}, Plan{Dim: "version", Group: "value"}, false},
		{Query{By: DimSource}, Plan{Group: "source"}, false},
		{Query{Filter: Filter{Package: "p", Kind: event.KindDocker}, By: DimCountry},
			Plan{Dim: "country", Group: "value", Columns: []Cond{{DimPackage, "p"}, {DimKind, "docker"}}}, false},
		{Query{Filter: Filter{Where: []Cond{{DimCountry, "DE"}}}}, Plan{Dim: "country", Value: v("DE")}, false},
		{Query{Filter: Filter{Where: []Cond{{DimCountry, "DE"}}}, By: DimCountry}, Plan{Dim: "country", Value: v("DE"), Group: "value"}, false},
		{Query{Filter: Filter{Where: []Cond{{DimCountry, "DE"}}}, By: DimPackage}, Plan{Dim: "country", Value: v("DE"), Group: "package"}, false},
		{Query{Filter: Filter{Where: []Cond{{DimSource, "ci"}}}, By: DimOrg}, Plan{Dim: "org", Group: "value", Columns: []Cond{{DimSource, "ci"}}}, false},
		{Query{Filter: Filter{Where: []Cond{{DimCountry, "DE"}}}, By: DimVersion}, Plan{}, true},
		{Query{Filter: Filter{Where: []Cond{{DimCountry, "DE"}, {DimOS, "linux"}}}}, Plan{}, true},
		{Query{Filter: Filter{Where: []Cond{{Dim(99), "x"}}}}, Plan{}, true},
	}
	for _, tt := range tests {
		got, err := PlanQuery(tt.q)
		if tt.err {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("PlanQuery(%+v) = %+v, %v; want ErrUnsupported", tt.q, got, err)
			}
			continue
		}
		if err != nil || got.Dim != tt.want.Dim || got.Group != tt.want.Group || (got.Value == nil) != (tt.want.Value == nil) ||
			(got.Value != nil && *got.Value != *tt.want.Value) || !slices.Equal(got.Columns, tt.want.Columns) {
			t.Errorf("PlanQuery(%+v) = %+v, %v; want %+v", tt.q, got, err, tt.want)
		}
	}
}

func TestTags(t *testing.T) {
	at := t0
	mk := func(d time.Duration, ref, digest string) event.Event {
		return event.Event{Kind: event.KindDocker, Time: at.Add(d), Method: "GET", Status: 200,
			Docker: event.Docker{Image: "acme/x", Reference: ref, Digest: digest, Object: "manifest", Pull: true}}
	}
	recs, _ := NewRecords([]event.Event{mk(0, "1.0", "sha256:a"), mk(time.Second, "latest", "sha256:a"), mk(2*time.Second, "sha256:a", ""),
		mk(3*time.Second, "sha256:b", ""), mk(4*time.Second, "2.0", "")}, nil, nil)
	learned := TagDigests(recs)
	if len(learned) != 1 || learned[0].Tag != "latest" || learned[0].Digest != "sha256:a" {
		t.Fatalf("TagDigests = %+v, want sha256:a as latest (the later event)", learned)
	}
	refs := DigestRefs(recs)
	if len(refs) != 2 {
		t.Fatalf("DigestRefs = %+v, want sha256:a and sha256:b", refs)
	}
	ApplyTags(recs, learned, map[ImageDigest]string{{"acme/x", "sha256:b"}: "0.9"})
	var versions []string
	for _, r := range recs {
		versions = append(versions, r.Version)
	}
	if want := []string{"1.0", "latest", "latest", "0.9", "2.0"}; !slices.Equal(versions, want) {
		t.Errorf("versions after ApplyTags = %v, want %v", versions, want)
	}
}

func TestSeen(t *testing.T) {
	var s Seen
	d := func(day int64, key uint64) Downloader { return Downloader{Day: day * 86400, Key: key} }
	if got := s.Unseen([]Downloader{d(1, 1), d(1, 2)}); len(got) != 2 {
		t.Fatalf("Unseen on an empty Seen = %v, want both", got)
	}
	s.Stored([]Downloader{d(1, 1)})
	if got := s.Unseen([]Downloader{d(1, 1), d(1, 2), d(2, 1)}); len(got) != 2 || got[0] != d(1, 2) || got[1] != d(2, 1) {
		t.Errorf("Unseen = %v, want the two not stored", got)
	}
	s.Stored([]Downloader{d(5, 9)})
	if got := s.Unseen([]Downloader{d(1, 1)}); len(got) != 1 {
		t.Errorf("a day long past is still remembered: %v", got)
	}
}
