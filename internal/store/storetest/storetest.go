// Package storetest is the contract suite of the analytics stores: the
// same tests, run against every implementation of store.Store, so that
// the embedded SQLite store and the shared PostgreSQL store count, query
// and export alike.
//
// The central test compares every answer with a reference computed
// directly from the events the test appended.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

// Options are the settings a test needs from a store it opens.
type Options struct {
	Retention time.Duration
}

// Opener returns a new, empty store. It should register its cleanup with
// t.
type Opener func(t *testing.T, opts Options) store.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	t.Run("AgainstReference", func(t *testing.T) { testAgainstReference(t, open(t, Options{})) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, open(t, Options{})) })
	t.Run("Bots", func(t *testing.T) { testBots(t, open(t, Options{})) })
	t.Run("AllKinds", func(t *testing.T) { testAllKinds(t, open(t, Options{})) })
	t.Run("DockerPulls", func(t *testing.T) { testDockerPulls(t, open(t, Options{})) })
	t.Run("DockerTags", func(t *testing.T) { testDockerTags(t, open(t, Options{})) })
	t.Run("Uniques", func(t *testing.T) { testUniques(t, open(t, Options{})) })
	t.Run("Export", func(t *testing.T) { testExport(t, open(t, Options{})) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open(t, Options{Retention: 48 * time.Hour})) })
	t.Run("HourRetention", func(t *testing.T) { testHourRetention(t, open(t, Options{})) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, open(t, Options{})) })
	t.Run("Unsupported", func(t *testing.T) { testUnsupported(t, open(t, Options{})) })
}

// base is the start of the test data: a fixed day in the past, so that
// results never depend on the clock.
var base = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

var ids = struct {
	sync.Mutex
	src *event.IDSource
}{src: event.NewIDSource()}

// withID gives e an ID for its time, as the pipeline does.
func withID(e event.Event) event.Event {
	ids.Lock()
	defer ids.Unlock()
	e.ID = ids.src.New(e.Time)
	return e
}

func mustAppend(t *testing.T, s store.Store, batch []event.Event) {
	t.Helper()
	if err := s.Append(t.Context(), batch); err != nil {
		t.Fatalf("Append(%d events): %v", len(batch), err)
	}
}

func aggregate(t *testing.T, s store.Store, q store.Query) []store.Row {
	t.Helper()
	rows, err := s.Aggregate(t.Context(), q)
	if err != nil {
		t.Fatalf("Aggregate(%+v): %v", q, err)
	}
	return rows
}

// Total returns the sum of measure m over filter f, failing t on an
// error or on more than one row.
func Total(t *testing.T, s store.Store, f store.Filter, m store.Measure) int64 {
	t.Helper()
	rows := aggregate(t, s, store.Query{Filter: f, Measure: m})
	switch len(rows) {
	case 0:
		return 0
	case 1:
		return rows[0].Value
	}
	t.Fatalf("total of %+v: %d rows, want one: %+v", f, len(rows), rows)
	return 0
}

var (
	versions  = []string{"1.0.0", "1.1.0", "2.0.0", ""}
	clients   = []string{"pip", "uv", "poetry", "curl", ""}
	oses      = []string{"linux", "darwin", "windows", ""}
	countries = []string{"DE", "US", "JP", "BR", ""}
	orgs      = []string{"Deutsche Telekom AG", "AMAZON-02", "Comcast", ""}
	packages  = []string{"pkg-a", "pkg-b", "pkg-c"}
)

// randomEvent makes a python or file event with random dimensions, at a
// random time within three days of base.
func randomEvent(rng *rand.Rand) event.Event {
	e := event.Event{
		Time:      base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour)))).Truncate(time.Millisecond),
		PackageID: packages[rng.IntN(len(packages))],
		Domain:    "dl.example.com",
		Method:    "GET",
		Status:    307,
		Outcome:   event.OutcomeRedirect,
		Client:    event.Client{Name: clients[rng.IntN(len(clients))], OS: oses[rng.IntN(len(oses))], Bot: rng.IntN(10) == 0},
		Origin:    event.Origin{Country: countries[rng.IntN(len(countries))], Org: orgs[rng.IntN(len(orgs))]},
		Source:    event.Source(1 + rng.IntN(3)),
	}
	if rng.IntN(2) == 0 {
		e.Kind = event.KindPython
		e.Path = "/simple/rocket/"
		e.Python = event.Python{Object: "file", Project: "rocket", Version: versions[rng.IntN(len(versions))], FileName: "rocket.whl"}
		if rng.IntN(5) == 0 {
			e.Python.Object = "project" // an index page: a request, not a download
			e.Status, e.Outcome = 200, event.OutcomeServe
		}
	} else {
		e.Kind = event.KindFile
		e.Path = "/dl"
		if v := versions[rng.IntN(len(versions))]; v != "" {
			e.Variables = []event.Var{{Name: "version", Value: v}}
		}
		if rng.IntN(6) == 0 {
			e.Method = "HEAD"
		}
	}
	if rng.IntN(20) == 0 {
		e.Status = 404 // failed: a request, never a download
	}
	e.Downloader = rng.Uint64N(40) + 1
	return withID(e)
}

// reference computes what a store must answer, from the events.
type reference struct{ events []event.Event }

func dimValue(e *event.Event, d store.Dim) string {
	switch d {
	case store.DimPackage:
		return e.Package()
	case store.DimArtifact:
		return e.Artifact()
	case store.DimKind:
		return e.Kind.String()
	case store.DimVersion:
		return e.ArtifactVersion()
	case store.DimClient:
		return e.Client.Name
	case store.DimOS:
		return e.Client.OS
	case store.DimCountry:
		return e.Origin.Country
	case store.DimOrg:
		return e.Origin.Org
	case store.DimSource:
		return e.Source.String()
	}
	return ""
}

func (r *reference) matches(e *event.Event, f store.Filter) bool {
	span := f.Resolve(base, time.Time{})
	if e.Time.Before(span.From) || !e.Time.Before(span.To) {
		return false
	}
	switch f.Bots {
	case store.BotsExclude:
		if e.Client.Bot {
			return false
		}
	case store.BotsOnly:
		if !e.Client.Bot {
			return false
		}
	}
	for _, c := range f.Conds() {
		if dimValue(e, c.Dim) != c.Value {
			return false
		}
	}
	return true
}

func (r *reference) aggregate(q store.Query) []store.Row {
	type k struct {
		b   time.Time
		key string
	}
	sums := map[k]int64{}
	for i := range r.events {
		e := &r.events[i]
		if !r.matches(e, q.Filter) {
			continue
		}
		var kk k
		switch q.Step {
		case store.StepHour:
			kk.b = store.Hour(e.Time)
		case store.StepDay:
			kk.b = store.Day(e.Time)
		}
		if q.By != store.DimNone {
			kk.key = dimValue(e, q.By)
		}
		switch {
		case q.Measure == store.Requests:
			sums[kk]++
		case e.Download():
			sums[kk]++
		}
	}
	var rows []store.Row
	for kk, v := range sums {
		if v > 0 {
			rows = append(rows, store.Row{Bucket: kk.b, Key: kk.key, Value: v})
		}
	}
	sortRows(rows)
	if q.Limit > 0 {
		var kept []store.Row
		n := 0
		for i, row := range rows {
			if i > 0 && !row.Bucket.Equal(rows[i-1].Bucket) {
				n = 0
			}
			if n < q.Limit {
				kept = append(kept, row)
			}
			n++
		}
		rows = kept
	}
	return rows
}

func sortRows(rows []store.Row) {
	slices.SortFunc(rows, func(a, b store.Row) int {
		if c := a.Bucket.Compare(b.Bucket); c != 0 {
			return c
		}
		if a.Value != b.Value {
			if a.Value > b.Value {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
}

func sameRows(a, b []store.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Bucket.Equal(b[i].Bucket) || a[i].Key != b[i].Key || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

func testAgainstReference(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref := &reference{}
	for range 2000 {
		ref.events = append(ref.events, randomEvent(rng))
	}
	// Append in batches of random sizes and order: 60% first, then the
	// days are closed (their hours summed into the daily rollup), then
	// the rest arrives late. Queries are checked before and after.
	shuffled := slices.Clone(ref.events)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	appendAll := func(events []event.Event) {
		for len(events) > 0 {
			n := min(len(events), 1+rng.IntN(400))
			mustAppend(t, s, events[:n])
			events = events[n:]
		}
	}
	early := len(shuffled) * 6 / 10
	appendAll(shuffled[:early])
	final := ref.events
	ref.events = shuffled[:early]
	checkQueries(t, s, ref)
	if err := s.Maintain(t.Context(), base.Add(5*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkQueries(t, s, ref)
	appendAll(shuffled[early:])
	ref.events = final
	checkQueries(t, s, ref)
}

func checkQueries(t *testing.T, s store.Store, ref *reference) {
	t.Helper()
	ranges := []struct{ from, to time.Time }{
		{base, base.Add(72 * time.Hour)},                                    // whole days
		{base.Add(5 * time.Hour), base.Add(53 * time.Hour)},                 // days with hours at both ends
		{base.Add(30*time.Hour + 20*time.Minute), base.Add(41 * time.Hour)}, // hours within one day
		{base.Add(-24 * time.Hour), base.Add(200 * time.Hour)},              // beyond the data
		{base.Add(10 * time.Hour), base.Add(10 * time.Hour)},                // empty
	}
	var queries []store.Query
	for _, r := range ranges {
		f := store.Filter{From: r.from, To: r.to}
		for _, step := range []store.Step{store.StepNone, store.StepHour, store.StepDay} {
			for _, by := range append([]store.Dim{store.DimNone}, store.Dims()...) {
				for _, m := range []store.Measure{store.Downloads, store.Requests} {
					queries = append(queries, store.Query{Filter: f, Step: step, By: by, Measure: m})
				}
			}
		}
		queries = append(queries,
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Package: "pkg-b"}, By: store.DimCountry},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Package: "pkg-a", Kind: event.KindPython}, Step: store.StepDay, By: store.DimVersion},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Where: []store.Cond{{Dim: store.DimVersion, Value: "1.1.0"}}}, By: store.DimClient},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Where: []store.Cond{{Dim: store.DimVersion, Value: "1.1.0"}}}, By: store.DimPackage, Step: store.StepDay},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Where: []store.Cond{{Dim: store.DimSource, Value: "human"}}}, By: store.DimOrg},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Where: []store.Cond{{Dim: store.DimOS, Value: "linux"}}}, By: store.DimOS, Step: store.StepHour},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Where: []store.Cond{{Dim: store.DimCountry, Value: ""}}}, Step: store.StepDay},
			store.Query{Filter: store.Filter{From: r.from, To: r.to}, By: store.DimOrg, Limit: 2},
			store.Query{Filter: store.Filter{From: r.from, To: r.to}, By: store.DimVersion, Step: store.StepDay, Limit: 1},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Bots: store.BotsInclude}, By: store.DimClient},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Bots: store.BotsOnly}, Step: store.StepHour},
			store.Query{Filter: store.Filter{From: r.from, To: r.to, Package: "nope"}},
		)
	}
	nonEmpty, unsupported := 0, 0
	for _, q := range queries {
		if _, err := store.PlanQuery(q); err != nil {
			// The rollups cannot answer it: the store must say so.
			if _, err := s.Aggregate(t.Context(), q); !errors.Is(err, store.ErrUnsupported) {
				t.Errorf("Aggregate(where %v, by %v) = %v, want ErrUnsupported", q.Where, q.By, err)
			}
			unsupported++
			continue
		}
		got := aggregate(t, s, q)
		want := ref.aggregate(q)
		if len(want) > 0 {
			nonEmpty++
		}
		if !sameRows(got, want) {
			t.Errorf("Aggregate(from %s to %s, pkg %q, kind %v, where %v, bots %v, step %v, by %v, %v, limit %d):\n got %d rows %v\nwant %d rows %v",
				q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.Package, q.Kind, q.Where, q.Bots, q.Step, q.By, q.Measure, q.Limit,
				len(got), head(got), len(want), head(want))
		}
	}
	if unsupported == 0 || unsupported > len(queries)/10 {
		t.Errorf("%d of %d queries unsupported: the test does not cover both cases", unsupported, len(queries))
	}
	if nonEmpty < len(queries)/2 {
		t.Errorf("only %d of %d queries have results: the test data does not exercise the store", nonEmpty, len(queries))
	}
}

func head(rows []store.Row) string {
	if len(rows) > 6 {
		return fmt.Sprint(rows[:6]) + "…"
	}
	return fmt.Sprint(rows)
}

func testIdempotent(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(3, 4))
	var batch []event.Event
	for range 300 {
		batch = append(batch, randomEvent(rng))
	}
	all := store.Filter{From: base, To: base.Add(96 * time.Hour), Bots: store.BotsInclude}
	mustAppend(t, s, batch)
	want := Total(t, s, all, store.Requests)
	wantDL := Total(t, s, all, store.Downloads)
	wantU := Uniques(t, s, all)
	// The same batch again, an overlapping one, and one event alone: a
	// replayed spool.
	mustAppend(t, s, batch)
	mustAppend(t, s, batch[100:250])
	mustAppend(t, s, batch[7:8])
	if got := Total(t, s, all, store.Requests); got != want || want != 300 {
		t.Errorf("after replays: %d requests, want %d (= 300)", got, want)
	}
	if got := Total(t, s, all, store.Downloads); got != wantDL {
		t.Errorf("after replays: %d downloads, want %d", got, wantDL)
	}
	if got := Uniques(t, s, all); got != wantU {
		t.Errorf("after replays: %d unique downloaders, want %d", got, wantU)
	}
	if n := len(exportUntil(t, s, store.ExportQuery{}, count(300))); n != 300 {
		t.Errorf("export after replays: %d events, want 300", n)
	}
	// A batch that mixes new events with stored ones counts only the new.
	extra := randomEvent(rng)
	extra.Client.Bot = false
	extra.Status = 200
	mustAppend(t, s, append(slices.Clone(batch[:50]), extra))
	if got := Total(t, s, all, store.Requests); got != want+1 {
		t.Errorf("after a mixed batch: %d requests, want %d", got, want+1)
	}
	// An empty batch is fine.
	mustAppend(t, s, nil)
}

// Uniques returns the unique downloaders s counts over f.
func Uniques(t *testing.T, s store.Store, f store.Filter) int64 {
	t.Helper()
	rows, err := s.Uniques(t.Context(), f, store.StepNone)
	if err != nil {
		t.Fatalf("Uniques(%+v): %v", f, err)
	}
	if len(rows) == 0 {
		return 0
	}
	return rows[0].Value
}

// FileEvent returns a file download of pkg at at, with a fresh id.
func FileEvent(at time.Time, pkg string) event.Event {
	return withID(event.Event{Kind: event.KindFile, PackageID: pkg, Time: at, Domain: "dl.example.com", Method: "GET",
		Path: "/dl", Status: 307, Outcome: event.OutcomeRedirect, Source: event.SourceHuman})
}

func testBots(t *testing.T, s store.Store) {
	var batch []event.Event
	for i := range 10 {
		e := FileEvent(base.Add(time.Duration(i)*time.Minute), "p")
		e.Client = event.Client{Name: "curl"}
		if i < 3 {
			e.Client = event.Client{Name: "googlebot", Bot: true}
		}
		batch = append(batch, e)
	}
	mustAppend(t, s, batch)
	f := store.Filter{From: base, To: base.Add(time.Hour)}
	for _, tt := range []struct {
		bots store.Bots
		want int64
	}{{store.BotsExclude, 7}, {store.BotsInclude, 10}, {store.BotsOnly, 3}} {
		f.Bots = tt.bots
		if got := Total(t, s, f, store.Downloads); got != tt.want {
			t.Errorf("downloads with bots %v = %d, want %d", tt.bots, got, tt.want)
		}
	}
	f.Bots = store.BotsOnly
	rows := aggregate(t, s, store.Query{Filter: f, By: store.DimClient})
	if len(rows) != 1 || rows[0].Key != "googlebot" {
		t.Errorf("robots by client = %v, want googlebot only", rows)
	}
}

func testAllKinds(t *testing.T, s store.Store) {
	at := base.Add(2 * time.Hour)
	mk := func(e event.Event) event.Event {
		e.Time, e.Domain, e.Status, e.Source = at, "x.example.com", 200, event.SourceHuman
		if e.Method == "" {
			e.Method = "GET"
		}
		if e.Outcome == event.OutcomeNone {
			e.Outcome = event.OutcomeServe
		}
		return withID(e)
	}
	batch := []event.Event{
		mk(event.Event{Kind: event.KindDocker, RuleID: "images", Path: "/v2/acme/x/manifests/1.0", Outcome: event.OutcomeRedirect,
			Docker: event.Docker{Image: "acme/x", Reference: "1.0", Object: "manifest", Backend: "ghcr.io", Pull: true}}),
		mk(event.Event{Kind: event.KindDocker, RuleID: "images", Path: "/v2/acme/x/blobs/sha256:00", Outcome: event.OutcomeProxy,
			Docker: event.Docker{Image: "acme/x", Reference: "sha256:00", Object: "blob", Backend: "ghcr.io"}}),
		mk(event.Event{Kind: event.KindPython, PackageID: "py", Path: "/simple/rocket/rocket-1.2.tar.gz",
			Python: event.Python{Object: "file", Project: "rocket", Version: "1.2", FileName: "rocket-1.2.tar.gz"}}),
		mk(event.Event{Kind: event.KindNPM, PackageID: "js", Path: "/rocket/-/rocket-3.0.0.tgz",
			NPM: event.NPM{Object: "tarball", Package: "rocket", Version: "3.0.0"}}),
		mk(event.Event{Kind: event.KindNPM, PackageID: "js", Path: "/rocket", NPM: event.NPM{Object: "packument", Package: "rocket"}}),
		mk(event.Event{Kind: event.KindFile, PackageID: "bin", Path: "/v1/linux", Variables: []event.Var{{Name: "version", Value: "v1"}, {Name: "os", Value: "linux"}}}),
		mk(event.Event{Kind: event.KindTelemetry, PackageID: "tel", Method: "POST", Path: "/events", Payload: []byte(`{"e":"start"}`)}),
		mk(event.Event{Kind: event.KindPixel, PackageID: "docs", Path: "/a.png", PixelID: "readme"}),
		mk(event.Event{Kind: event.KindScarfJS, PackageID: "sjs", Method: "POST", Path: "/package-event/install/rocket", Subject: "rocket",
			Payload: []byte(`{"libraryName":"rocket","libraryVersion":"4.5.6"}`)}),
	}
	mustAppend(t, s, batch)
	f := store.Filter{From: base, To: base.Add(24 * time.Hour)}
	byKind := aggregate(t, s, store.Query{Filter: f, By: store.DimKind})
	want := map[string]int64{"docker": 1, "python": 1, "npm": 1, "file": 1, "telemetry": 1, "pixel": 1, "scarf-js": 1}
	if len(byKind) != len(want) {
		t.Errorf("downloads by kind = %v, want %v", byKind, want)
	}
	for _, r := range byKind {
		if want[r.Key] != r.Value {
			t.Errorf("downloads of kind %s = %d, want %d", r.Key, r.Value, want[r.Key])
		}
	}
	if got := Total(t, s, f, store.Requests); got != int64(len(batch)) {
		t.Errorf("requests = %d, want %d", got, len(batch))
	}
	versions := aggregate(t, s, store.Query{Filter: store.Filter{From: f.From, To: f.To, Package: "sjs"}, By: store.DimVersion})
	if len(versions) != 1 || versions[0].Key != "4.5.6" {
		t.Errorf("scarf-js versions = %v, want 4.5.6 from the payload", versions)
	}
	artifacts := aggregate(t, s, store.Query{Filter: store.Filter{From: f.From, To: f.To, Package: "images"}, By: store.DimArtifact})
	if len(artifacts) != 1 || artifacts[0].Key != "acme/x" {
		t.Errorf("artifacts of the docker-v2 rule = %v, want acme/x", artifacts)
	}
	// Every kind exports as it was appended.
	var exported []event.Event
	for _, r := range exportUntil(t, s, store.ExportQuery{}, count(len(batch))) {
		e, err := event.Parse(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != r.ID {
			t.Errorf("export row id %v holds event %v", r.ID, e.ID)
		}
		exported = append(exported, e)
	}
	if len(exported) != len(batch) {
		t.Fatalf("exported %d events, want %d", len(exported), len(batch))
	}
	for i := range batch {
		j := slices.IndexFunc(exported, func(e event.Event) bool { return e.ID == batch[i].ID })
		if j < 0 {
			t.Errorf("event %d (%s) not exported", i, batch[i].Kind)
			continue
		}
		if got, want := string(exported[j].AppendJSON(nil)), string(batch[i].AppendJSON(nil)); got != want {
			t.Errorf("exported %s event differs:\n got %s\nwant %s", batch[i].Kind, got, want)
		}
	}
}

func testDockerPulls(t *testing.T, s store.Store) {
	at := base.Add(3 * time.Hour)
	pull := func(hash uint64, d time.Duration, ref, mt string) event.Event {
		return withID(event.Event{Kind: event.KindDocker, RuleID: "images", Time: at.Add(d), Domain: "cr.example.com", Method: "GET",
			Path: "/v2/acme/x/manifests/" + ref, Status: 200, Outcome: event.OutcomeProxy, Downloader: hash, Source: event.SourceHuman,
			Docker: event.Docker{Image: "acme/x", Reference: ref, Object: "manifest", MediaType: mt, Pull: true}})
	}
	const (
		index    = "application/vnd.oci.image.index.v1+json"
		manifest = "application/vnd.docker.distribution.manifest.v2+json"
	)
	// Client 1: a multi-platform pull whose two GETs arrive in separate
	// batches, the manifest first. Client 2: two pulls of unknown type.
	// Client 3: the index GET only. Client 4: two single-manifest pulls.
	mustAppend(t, s, []event.Event{pull(1, time.Second, "sha256:m", manifest), pull(2, 0, "1.0", ""), pull(2, time.Second, "sha256:m", "")})
	mustAppend(t, s, []event.Event{pull(1, 0, "1.0", index), pull(3, 0, "1.0", index), pull(4, 0, "1.0", manifest)})
	mustAppend(t, s, []event.Event{pull(2, 5*time.Minute, "1.0", ""), pull(2, 5*time.Minute+time.Second, "sha256:m", ""), pull(4, 2*time.Second, "1.0", manifest)})
	f := store.Filter{From: base, To: base.Add(24 * time.Hour), Kind: event.KindDocker}
	if got := Total(t, s, f, store.Downloads); got != 6 {
		t.Errorf("docker pulls = %d, want 6 (1 + 2 + 1 + 2)", got)
	}
	if got := Total(t, s, f, store.Requests); got != 9 {
		t.Errorf("manifest GETs = %d, want 9", got)
	}
}

func testUniques(t *testing.T, s store.Store) {
	day2 := base.Add(24 * time.Hour)
	mk := func(at time.Time, pkg string, hash uint64, bot bool) event.Event {
		e := FileEvent(at, pkg)
		e.Downloader = hash
		e.Client.Bot = bot
		return e
	}
	mustAppend(t, s, []event.Event{
		mk(base.Add(time.Hour), "p", 1, false), mk(base.Add(2*time.Hour), "p", 1, false), mk(base.Add(3*time.Hour), "p", 2, false),
		mk(base.Add(3*time.Hour), "q", 1, false), mk(base.Add(4*time.Hour), "p", 3, true), mk(base.Add(5*time.Hour), "p", 0, false),
	})
	mustAppend(t, s, []event.Event{mk(day2.Add(time.Hour), "p", 1, false), mk(day2.Add(2*time.Hour), "p", 7, false), mk(base.Add(9*time.Hour), "p", 2, false)})
	f := store.Filter{From: base, To: base.Add(48 * time.Hour), Package: "p"}
	rows, err := s.Uniques(t.Context(), f, store.StepDay)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Row{{Bucket: base, Value: 2}, {Bucket: day2, Value: 2}}
	if !sameRows(rows, want) {
		t.Errorf("unique downloaders of p per day = %v, want %v", rows, want)
	}
	if got := Uniques(t, s, f); got != 4 {
		t.Errorf("unique downloader-days of p = %d, want 4", got)
	}
	if got := Uniques(t, s, store.Filter{From: base, To: base.Add(48 * time.Hour)}); got != 5 {
		t.Errorf("unique downloader-days of every package = %d, want 5", got)
	}
	if got := Uniques(t, s, store.Filter{From: day2, To: day2.Add(time.Hour), Package: "p"}); got != 2 {
		t.Errorf("unique downloaders of a part of day 2 = %d, want the whole day's 2", got)
	}
}

// exportUntil exports what q selects until done holds for the rows, or
// gives up after a minute. A store may show an event to exports some time
// after it was stored (PostgreSQL waits for older transactions anywhere
// on the server, so that none can commit behind a cursor); it must not
// skip it.
func exportUntil(t *testing.T, s store.Store, q store.ExportQuery, done func([]store.ExportRow) bool) []store.ExportRow {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var rows []store.ExportRow
		if _, err := s.Export(t.Context(), q, func(r store.ExportRow) error {
			rows = append(rows, store.ExportRow{ID: r.ID, Data: slices.Clone(r.Data)})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if done(rows) || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(n int) func([]store.ExportRow) bool {
	return func(rows []store.ExportRow) bool { return len(rows) >= n }
}

func testExport(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(5, 6))
	var all []event.Event
	for range 3 {
		var batch []event.Event
		for range 250 {
			batch = append(batch, randomEvent(rng))
		}
		mustAppend(t, s, batch)
		all = append(all, batch...)
	}
	// Page through with a cursor, as a consumer does: an empty page means
	// "nothing more yet"; come back later with the same cursor.
	seen := map[event.ID]int{}
	cursor := ""
	deadline := time.Now().Add(time.Minute)
	for page := 0; len(seen) < len(all); page++ {
		n := 0
		next, err := s.Export(t.Context(), store.ExportQuery{After: cursor, Limit: 100}, func(r store.ExportRow) error {
			seen[r.ID]++
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if next != cursor {
				t.Errorf("an empty page moved the cursor from %q to %q", cursor, next)
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if next == cursor {
			t.Fatalf("page %d did not move the cursor %q", page, cursor)
		}
		cursor = next
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %v exported %d times while paging", id, n)
		}
	}
	for _, e := range all {
		if seen[e.ID] == 0 {
			t.Fatalf("event %v was never exported", e.ID)
		}
	}
	if len(seen) != len(all) {
		t.Errorf("exported %d distinct events, want %d", len(seen), len(all))
	}
	// New events appear after the cursor.
	late := FileEvent(base.Add(-time.Hour), "late") // an old event stored late, as a spool replay does
	mustAppend(t, s, []event.Event{late})
	hasLate := func(rows []store.ExportRow) bool {
		return slices.ContainsFunc(rows, func(r store.ExportRow) bool { return r.ID == late.ID })
	}
	if rows := exportUntil(t, s, store.ExportQuery{After: cursor}, hasLate); !hasLate(rows) {
		t.Errorf("an event stored after the cursor was not exported (got %d rows)", len(rows))
	}
	// Filters.
	want := 0
	from, to := base.Add(24*time.Hour), base.Add(48*time.Hour)
	for _, e := range all {
		if e.PackageID == "pkg-a" && !e.Time.Before(from) && e.Time.Before(to) {
			want++
		}
	}
	filtered := exportUntil(t, s, store.ExportQuery{From: from, To: to, Package: "pkg-a"}, count(want))
	for _, r := range filtered {
		e, err := event.Parse(r.Data)
		if err != nil || e.PackageID != "pkg-a" || e.Time.Before(from) || !e.Time.Before(to) {
			t.Errorf("export filtered to pkg-a on day 2 gave %s (%v)", r.Data, err)
		}
	}
	if len(filtered) != want {
		t.Errorf("filtered export: %d events, want %d", len(filtered), want)
	}
	if _, err := s.Export(t.Context(), store.ExportQuery{After: "garbage"}, func(store.ExportRow) error { return nil }); err == nil {
		t.Error("Export accepted a malformed cursor")
	}
}

func testRetention(t *testing.T, s store.Store) {
	now := base.Add(10 * 24 * time.Hour)
	old := []event.Event{FileEvent(now.Add(-5*24*time.Hour), "p"), FileEvent(now.Add(-3*24*time.Hour), "p")}
	recent := []event.Event{FileEvent(now.Add(-24*time.Hour), "p"), FileEvent(now.Add(-time.Hour), "p")}
	mustAppend(t, s, append(slices.Clone(old), recent...))
	if err := s.Maintain(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	var kept []event.ID
	for _, r := range exportUntil(t, s, store.ExportQuery{}, count(2)) {
		kept = append(kept, r.ID)
	}
	if len(kept) != 2 || !slices.Contains(kept, recent[0].ID) || !slices.Contains(kept, recent[1].ID) {
		t.Errorf("after retention of 48h, %d raw events remain, want the 2 recent ones", len(kept))
	}
	if got := Total(t, s, store.Filter{From: now.Add(-10 * 24 * time.Hour), To: now}, store.Downloads); got != 4 {
		t.Errorf("rollups after retention count %d downloads, want all 4", got)
	}
	// Maintain is repeatable.
	if err := s.Maintain(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	// A late copy of an event past the retention (a spool replayed after
	// a long outage) cannot be told from a new one: it is not stored.
	mustAppend(t, s, old[:1])
	if got := Total(t, s, store.Filter{From: now.Add(-10 * 24 * time.Hour), To: now}, store.Downloads); got != 4 {
		t.Errorf("after replaying an expired event, rollups count %d downloads, want still 4", got)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, batches, size = 3, 20, 50
	rng := rand.New(rand.NewPCG(7, 8))
	var all [writers][][]event.Event
	for w := range writers {
		for range batches {
			var b []event.Event
			for range size {
				e := randomEvent(rng)
				// Everyone counts into the same rollup rows and downloaders.
				e.PackageID, e.Client.Bot, e.Status = "shared", false, 307
				b = append(b, e)
			}
			all[w] = append(all[w], b)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for _, b := range all[w] {
				if err := s.Append(context.Background(), b); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	ref := &reference{}
	for w := range writers {
		for _, b := range all[w] {
			ref.events = append(ref.events, b...)
		}
	}
	f := store.Filter{From: base, To: base.Add(72 * time.Hour), Package: "shared"}
	for _, q := range []store.Query{
		{Filter: f, Measure: store.Requests},
		{Filter: f},
		{Filter: f, Step: store.StepHour, By: store.DimVersion},
		{Filter: f, Step: store.StepDay, By: store.DimCountry},
	} {
		if got, want := aggregate(t, s, q), ref.aggregate(q); !sameRows(got, want) {
			t.Errorf("after %d concurrent writers, Aggregate(step %v, by %v) = %v, want %v", writers, q.Step, q.By, head(got), head(want))
		}
	}
	if got := Total(t, s, f, store.Requests); got != writers*batches*size {
		t.Errorf("%d events stored by %d writers, want %d", got, writers, writers*batches*size)
	}
}

func testUnsupported(t *testing.T, s store.Store) {
	f := store.Filter{From: base, To: base.Add(time.Hour), Where: []store.Cond{{Dim: store.DimCountry, Value: "DE"}}}
	if _, err := s.Uniques(t.Context(), f, store.StepDay); err == nil {
		t.Error("Uniques by country: no error, want ErrUnsupported")
	}
	if _, err := s.Uniques(t.Context(), store.Filter{From: base, To: base.Add(time.Hour)}, store.StepHour); err == nil {
		t.Error("Uniques per hour: no error, want ErrUnsupported")
	}
}

// BenchmarkAppend measures how fast s takes events, in batches of size,
// and reports events per second. With warm > 0, that many events are
// appended first, untimed: a store that has run for a while knows most
// of the day's downloaders already.
//
// A store that runs in this process (inProcess) also gets events per
// CPU-second: the CPU time the process spent in Append, which is what the
// store takes from a gateway sharing its machine. Unlike events/s, it
// does not count the time spent waiting for the disk, so it varies far
// less between runs on a busy machine.
func BenchmarkAppend(b *testing.B, s store.Store, size, warm int, inProcess bool) {
	var cpu func() (time.Duration, bool)
	if inProcess {
		cpu = CPUTime
	}
	BenchmarkAppendCPU(b, s, size, warm, cpu)
}

// BenchmarkAppendCPU is BenchmarkAppend with the CPU time to report
// events per CPU-second against: cpu, when not nil, returns the time used
// so far (by this process and, for a database server on this machine,
// by the server's processes for the store), read outside the timed part.
// Unlike events/s, it barely depends on other work on the machine.
func BenchmarkAppendCPU(b *testing.B, s store.Store, size, warm int, cpu func() (time.Duration, bool)) {
	// At 50,000 events a second, the rate to beat.
	syn := NewSynthetic(42, time.Now().Add(-time.Hour), time.Hour, 50, 50_000*3600)
	batch := make([]event.Event, size)
	ctx := context.Background()
	for done := 0; done < warm; done += size {
		if err := s.Append(ctx, syn.Batch(batch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	events := 0
	var used time.Duration
	measured := cpu != nil
	for b.Loop() {
		b.StopTimer()
		syn.Batch(batch)
		var before, after time.Duration
		var ok1, ok2 bool
		if measured {
			before, ok1 = cpu()
		}
		b.StartTimer()
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if measured {
			after, ok2 = cpu()
		}
		b.StartTimer()
		measured = measured && ok1 && ok2
		used += after - before
		events += len(batch)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if measured && used > 0 {
		b.ReportMetric(float64(events)/used.Seconds(), "events/cpu-s")
	}
}

// testHourRetention closes and thins old days: their hours are gone, the
// days remain, and ranges that start or end in them count whole days.
func testHourRetention(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(9, 10))
	ref := &reference{}
	for range 500 {
		ref.events = append(ref.events, randomEvent(rng))
	}
	mustAppend(t, s, ref.events)
	if err := s.Maintain(t.Context(), base.Add(store.HourRetention+10*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	whole := store.Filter{From: base, To: base.Add(72 * time.Hour)}
	for _, q := range []store.Query{{Filter: whole}, {Filter: whole, Step: store.StepDay, By: store.DimVersion}, {Filter: whole, By: store.DimOrg}} {
		if got, want := aggregate(t, s, q), ref.aggregate(q); !sameRows(got, want) {
			t.Errorf("after thinning, Aggregate(step %v, by %v) = %v, want %v", q.Step, q.By, head(got), head(want))
		}
	}
	// Ranges within days whose hours are gone widen to the whole days.
	part := store.Query{Filter: store.Filter{From: base.Add(5 * time.Hour), To: base.Add(53 * time.Hour)}, Step: store.StepDay}
	if got, want := aggregate(t, s, part), ref.aggregate(store.Query{Filter: whole, Step: store.StepDay}); !sameRows(got, want) {
		t.Errorf("partial days after thinning = %v, want the whole days %v", head(got), head(want))
	}
	if rows := aggregate(t, s, store.Query{Filter: whole, Step: store.StepHour}); len(rows) != 0 {
		t.Errorf("hourly series of thinned days = %v, want none", head(rows))
	}
	// Late events of a thinned day still count in its day.
	late := randomEvent(rng)
	late.Client.Bot, late.Status, late.Method = false, 307, "GET"
	mustAppend(t, s, []event.Event{late})
	ref.events = append(ref.events, late)
	if got, want := aggregate(t, s, store.Query{Filter: whole, Measure: store.Requests}), ref.aggregate(store.Query{Filter: whole, Measure: store.Requests}); !sameRows(got, want) {
		t.Errorf("after a late event, total = %v, want %v", got, want)
	}
}

// testDockerTags checks that pulls by digest count under the tag the
// digest was resolved from, when an event said so.
func testDockerTags(t *testing.T, s store.Store) {
	at := base.Add(5 * time.Hour)
	mk := func(d time.Duration, method, ref, digest string, hash uint64) event.Event {
		return withID(event.Event{Kind: event.KindDocker, RuleID: "images", Time: at.Add(d), Domain: "cr.example.com", Method: method,
			Path: "/v2/acme/x/manifests/" + ref, Status: 200, Outcome: event.OutcomeProxy, Downloader: hash, Source: event.SourceHuman,
			Docker: event.Docker{Image: "acme/x", Reference: ref, Object: "manifest", Digest: digest, Pull: method == "GET"}})
	}
	const a, b = "sha256:aaaa", "sha256:bbbb"
	// The engine resolves the tag with a HEAD, then GETs the digest.
	mustAppend(t, s, []event.Event{mk(0, "HEAD", "1.0", a, 1), mk(time.Second, "GET", a, a, 1)})
	// Later, another client pulls the same digest; and an unknown one.
	mustAppend(t, s, []event.Event{mk(time.Hour, "GET", a, a, 2), mk(time.Hour, "GET", b, b, 3)})
	rows := aggregate(t, s, store.Query{Filter: store.Filter{From: base, To: base.Add(24 * time.Hour), Kind: event.KindDocker}, By: store.DimVersion})
	want := []store.Row{{Key: "1.0", Value: 2}, {Key: b, Value: 1}}
	if !sameRows(rows, want) {
		t.Errorf("docker pulls by version = %v, want %v", rows, want)
	}
}
