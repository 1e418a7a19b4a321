package stats

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
	"portico/internal/store/sqlite"
)

var (
	ids  = event.NewIDSource()
	mon  = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) // a Monday
	week = 7 * 24 * time.Hour
)

func download(at time.Time, version, country string, hash uint64) event.Event {
	return event.Event{ID: ids.New(at), Time: at, Kind: event.KindPython, PackageID: "rocket", Domain: "py.example.com",
		Method: "GET", Path: "/simple/rocket/rocket-" + version + ".whl", Status: 307, Outcome: event.OutcomeRedirect,
		Python:     event.Python{Object: "file", Project: "rocket", Version: version, FileName: "rocket-" + version + ".whl"},
		Client:     event.Client{Name: "pip", Version: "24.2", OS: "linux"},
		Origin:     event.Origin{Country: country},
		Source:     event.SourceHuman,
		Downloader: hash,
	}
}

func newStats(t *testing.T, events []event.Event) (*Stats, store.Store) {
	st, err := sqlite.Open(t.Context(), sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Append(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	s := New(st)
	s.now = func() time.Time { return mon.Add(60 * 24 * time.Hour) }
	return s, st
}

// fixture: on each of 35 days from mon, day i has i%3+1 downloads of
// 1.0 from DE, and on even days one of 2.0 from US.
func fixture() (events []event.Event, total int64) {
	for d := range 35 {
		at := mon.Add(time.Duration(d)*24*time.Hour + 10*time.Hour)
		for i := range d%3 + 1 {
			events = append(events, download(at.Add(time.Duration(i)*time.Minute), "1.0", "DE", uint64(i+1)))
		}
		if d%2 == 0 {
			events = append(events, download(at, "2.0", "US", 100))
		}
	}
	return events, int64(len(events))
}

func TestTotalsAndSeries(t *testing.T) {
	events, total := fixture()
	s, _ := newStats(t, events)
	ctx := context.Background()
	q := Query{Filter: store.Filter{From: mon, To: mon.Add(35 * 24 * time.Hour), Package: "rocket"}}
	if got, err := s.Total(ctx, q); err != nil || got != total {
		t.Fatalf("Total = %d, %v; want %d", got, err, total)
	}
	days, err := s.Series(ctx, q, Day)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 35 || days[0].Value != 2 || days[1].Value != 2 || days[2].Value != 4 || !days[34].Time.Equal(mon.Add(34*24*time.Hour)) {
		t.Errorf("daily series: %d points, first %v; want 35 points starting 2, 2, 4", len(days), days[:3])
	}
	weeks, err := s.Series(ctx, q, Week)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, p := range weeks {
		if !p.Time.Equal(mon.Add(time.Duration(i) * week)) {
			t.Errorf("week %d starts %v, want a Monday %v", i, p.Time, mon.Add(time.Duration(i)*week))
		}
		sum += p.Value
	}
	if len(weeks) != 5 || sum != total {
		t.Errorf("weekly series: %d weeks summing to %d, want 5 summing to %d", len(weeks), sum, total)
	}
	months, err := s.Series(ctx, q, Month)
	if err != nil {
		t.Fatal(err)
	}
	if len(months) != 2 || months[0].Value+months[1].Value != total || !months[1].Time.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("monthly series = %v, want June and July summing to %d", months, total)
	}
	// Hours: only the range asked, zeros included.
	hq := q
	hq.From, hq.To = mon.Add(9*time.Hour), mon.Add(12*time.Hour)
	hours, err := s.Series(ctx, hq, Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 3 || hours[0].Value != 0 || hours[1].Value != 2 || hours[2].Value != 0 {
		t.Errorf("hourly series = %v, want 0, 2, 0", hours)
	}
	// Empty ranges and unknown packages give zeros, not errors.
	if got, err := s.Total(ctx, Query{Filter: store.Filter{From: mon, To: mon.Add(week), Package: "nope"}}); err != nil || got != 0 {
		t.Errorf("Total of an unknown package = %d, %v", got, err)
	}
}

func TestBreakdowns(t *testing.T) {
	events, total := fixture()
	s, _ := newStats(t, events)
	ctx := context.Background()
	q := Query{Filter: store.Filter{From: mon, To: mon.Add(35 * 24 * time.Hour)}}
	by, err := s.Breakdown(ctx, q, store.DimVersion, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(by) != 2 || by[0].Key != "1.0" || by[1].Key != "2.0" || by[0].Value+by[1].Value != total || by[1].Value != 18 {
		t.Fatalf("by version = %+v, want 1.0 then 2.0 (18), summing to %d", by, total)
	}
	if share := by[0].Share + by[1].Share; share < 0.999 || share > 1.001 {
		t.Errorf("shares sum to %v, want 1", share)
	}
	top, err := s.Breakdown(ctx, q, store.DimCountry, 1)
	if err != nil || len(top) != 1 || top[0].Key != "DE" {
		t.Errorf("top country = %+v, %v; want DE alone", top, err)
	}
	lines, err := s.SeriesBy(ctx, q, Week, store.DimVersion, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1].Key != "2.0" || len(lines[1].Points) != 5 {
		t.Fatalf("series by version = %+v", lines)
	}
	var v2 int64
	for _, p := range lines[1].Points {
		v2 += p.Value
	}
	if v2 != 18 {
		t.Errorf("weekly series of 2.0 sums to %d, want 18", v2)
	}
}

func TestUniquesAndPulls(t *testing.T) {
	events, _ := fixture()
	at := mon.Add(3*24*time.Hour + time.Hour)
	for i, mt := range []string{"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json"} {
		events = append(events, event.Event{ID: ids.New(at), Time: at.Add(time.Duration(i) * time.Second), Kind: event.KindDocker, RuleID: "img",
			Domain: "cr.example.com", Method: "GET", Path: "/v2/x/manifests/1", Status: 200, Outcome: event.OutcomeProxy, Downloader: 9,
			Source: event.SourceHuman, Docker: event.Docker{Image: "x", Reference: "1", Object: "manifest", MediaType: mt, Pull: true}})
	}
	s, _ := newStats(t, events)
	ctx := context.Background()
	q := Query{Filter: store.Filter{From: mon, To: mon.Add(7 * 24 * time.Hour), Package: "rocket"}}
	total, days, err := s.Uniques(ctx, q, Day)
	if err != nil {
		t.Fatal(err)
	}
	// Days 0..6 have 1, 2, 3, 1, 2, 3, 1 hashes of 1.0, plus hash 100 on even days.
	if total != 13+4 || len(days) != 7 || days[0].Value != 2 || days[1].Value != 2 || days[2].Value != 4 {
		t.Errorf("uniques = %d, %v; want 17 and 2, 2, 4, …", total, days)
	}
	if _, _, err := s.Uniques(ctx, q, Hour); err == nil {
		t.Error("unique downloaders per hour: no error")
	}
	pulls, series, err := s.DockerPulls(ctx, Query{Filter: store.Filter{From: mon, To: mon.Add(7 * 24 * time.Hour)}}, Day)
	if err != nil {
		t.Fatal(err)
	}
	if pulls != 1 || series[3].Value != 1 {
		t.Errorf("docker pulls = %d (%v), want 1 on day 3 (index and manifest folded)", pulls, series)
	}
}

func TestExport(t *testing.T) {
	events, total := fixture()
	events[0].Variables = nil
	s, st := newStats(t, events)
	_ = s
	ctx := context.Background()
	var nd bytes.Buffer
	cursor, n, err := Export(ctx, st, &nd, NDJSON, store.ExportQuery{Limit: 10})
	if err != nil || n != 10 || cursor == "" {
		t.Fatalf("first page: %d rows, cursor %q, %v", n, cursor, err)
	}
	rest, n2, err := Export(ctx, st, &nd, NDJSON, store.ExportQuery{After: cursor})
	if err != nil || int64(n+n2) != total || rest == cursor {
		t.Fatalf("second page: %d rows (want %d in all), cursor %q, %v", n2, total-10, rest, err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(nd.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("NDJSON line %q: %v", line, err)
		}
		id, _ := m["id"].(string)
		if id == "" || seen[id] {
			t.Fatalf("row without id, or repeated: %q", line)
		}
		seen[id] = true
	}
	var c bytes.Buffer
	if _, n, err := Export(ctx, st, &c, CSV, store.ExportQuery{}); err != nil || int64(n) != total {
		t.Fatalf("CSV export: %d rows, %v", n, err)
	}
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != int(total)+1 || strings.Join(recs[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("CSV: %d records, header %v", len(recs), recs[0])
	}
	for _, r := range recs[1:] {
		if !seen[r[0]] || r[2] != "python" || r[3] != "rocket" || r[6] != "true" {
			t.Fatalf("CSV row %v: want a known id, kind python, package rocket, a download", r)
		}
	}
	if _, _, err := Export(ctx, st, &c, CSV, store.ExportQuery{After: "junk"}); err == nil {
		t.Error("export with a malformed cursor: no error")
	}
}

func TestIntervals(t *testing.T) {
	sun := time.Date(2026, 6, 7, 23, 59, 0, 0, time.UTC)
	if got := Week.Start(sun); !got.Equal(mon) {
		t.Errorf("week of Sunday %v starts %v, want Monday %v", sun, got, mon)
	}
	if got := Month.Start(sun); !got.Equal(mon) {
		t.Errorf("month of %v starts %v, want %v", sun, got, mon)
	}
	for _, s := range []string{"hour", "day", "week", "month"} {
		i, err := ParseInterval(s)
		if err != nil || i.String() != s {
			t.Errorf("ParseInterval(%q) = %v, %v", s, i, err)
		}
	}
	if _, err := ParseInterval("year"); err == nil {
		t.Error("ParseInterval(year): no error")
	}
	for in, want := range map[string]time.Time{"2026-06-01": mon, "2026-06-01T10:00:00+02:00": mon.Add(8 * time.Hour)} {
		if got, err := ParseTime(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime(yesterday): no error")
	}
}
