package stats

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"portico/internal/store"
)

// TestPackagesSumsEachPackage: the report of two packages is the sum of
// their own reports, with breakdowns summed over every value (a value
// that is second in both is first in the sum) and each package's total.
func TestPackagesSumsEachPackage(t *testing.T) {
	events, _ := fixture()
	// Package "comet": 2.0 twenty times a day on days 0–3, so that 2.0 leads
	// the sum of both packages' versions while 1.0 leads "rocket" alone.
	for d := range 4 {
		for i := range 20 {
			e := download(mon.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*time.Minute), "2.0", "US", uint64(200+i))
			e.PackageID, e.Python.Project = "comet", "comet"
			events = append(events, e)
		}
	}
	s, _ := newStats(t, events)
	ctx := t.Context()
	q := Query{Filter: store.Filter{From: mon, To: mon.Add(35 * 24 * time.Hour)}}
	dims := []store.Dim{store.DimVersion, store.DimCountry}
	both, err := s.Packages(ctx, []string{"rocket", "comet", "none"}, q, Week, dims, 0)
	if err != nil {
		t.Fatal(err)
	}
	var total, uniques int64
	versions := map[string]int64{}
	weeks := make([]int64, len(both.Series))
	for _, id := range []string{"rocket", "comet"} {
		one := q
		one.Package = id
		rep, err := s.Report(ctx, one, Week, dims, 0)
		if err != nil {
			t.Fatal(err)
		}
		total += rep.Total
		uniques += *rep.Uniques
		for _, sl := range rep.Breakdowns["version"] {
			versions[sl.Key] += sl.Value
		}
		for i, p := range rep.Series {
			weeks[i] += p.Value
		}
	}
	if both.Total != total || both.Uniques == nil || *both.Uniques != uniques {
		t.Errorf("total %d, uniques %v; want %d and %d", both.Total, both.Uniques, total, uniques)
	}
	for i, p := range both.Series {
		if p.Value != weeks[i] {
			t.Errorf("week %s = %d, want %d", p.Time.Format(time.DateOnly), p.Value, weeks[i])
		}
	}
	got := both.Breakdowns["version"]
	if len(got) != 2 || got[0].Key != "2.0" || got[0].Value != versions["2.0"] || got[1].Value != versions["1.0"] {
		t.Errorf("by version = %+v, want 2.0 (%d) then 1.0 (%d)", got, versions["2.0"], versions["1.0"])
	}
	if share := got[0].Share + got[1].Share; share < 0.999 || share > 1.001 {
		t.Errorf("shares add up to %f, want 1", share)
	}
	if len(both.PerPackage) != 3 || both.PerPackage[0].Key != "rocket" || both.PerPackage[2] != (Slice{Key: "none"}) {
		t.Errorf("per package = %+v, want rocket, comet, then none with 0", both.PerPackage)
	}
	if order := both.Order(); len(order) != 2 || order[0] != "version" {
		t.Errorf("order = %v", order)
	}
	// Without comet, whose downloads the store holds too, the sums are
	// read package by package, and are rocket's.
	alone, err := s.Report(ctx, Query{Filter: store.Filter{From: q.From, To: q.To, Package: "rocket"}}, Week, dims, 0)
	if err != nil {
		t.Fatal(err)
	}
	part, err := s.Packages(ctx, []string{"rocket", "none"}, q, Week, dims, 0)
	if err != nil {
		t.Fatal(err)
	}
	if part.Total != alone.Total || *part.Uniques != *alone.Uniques || len(part.Breakdowns["version"]) != len(alone.Breakdowns["version"]) ||
		part.Breakdowns["country"][0] != alone.Breakdowns["country"][0] || part.Series[1] != alone.Series[1] {
		t.Errorf("rocket and none = %+v, want rocket's %+v", part, alone)
	}
	top, err := s.Packages(ctx, []string{"rocket", "comet"}, q, Day, dims, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Breakdowns["version"]) != 1 || top.Breakdowns["version"][0].Key != "2.0" {
		t.Errorf("top 1 by version = %+v", top.Breakdowns["version"])
	}
	none, err := s.Packages(ctx, nil, q, Day, dims, 0)
	if err != nil {
		t.Fatal(err)
	}
	if none.Total != 0 || len(none.Series) != 35 || none.Series[0].Value != 0 {
		t.Errorf("no packages: total %d, %d points", none.Total, len(none.Series))
	}
	robots := q
	robots.Bots = store.BotsOnly
	rb, err := s.Packages(ctx, []string{"rocket"}, robots, Day, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Total != 0 || rb.Uniques != nil || rb.Bots != "only" {
		t.Errorf("robots only: total %d, uniques %v, bots %q", rb.Total, rb.Uniques, rb.Bots)
	}
}

// TestRunAll checks that a failing query fails the report with its own
// error, that the queries not yet started are then skipped, and that no
// more than parallel run at once.
func TestRunAll(t *testing.T) {
	boom := errors.New("boom")
	var running, most, ran atomic.Int32
	var tasks []func(context.Context) error
	for i := range 40 {
		tasks = append(tasks, func(ctx context.Context) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			ran.Add(1)
			if i == 5 {
				return boom
			}
			if i < 5 {
				return nil
			}
			<-ctx.Done() // the later ones wait for the cancellation
			return ctx.Err()
		})
	}
	if err := runAll(t.Context(), tasks); !errors.Is(err, boom) {
		t.Errorf("runAll = %v, want the failing task's error", err)
	}
	if most.Load() > parallel {
		t.Errorf("%d tasks ran at once, want at most %d", most.Load(), parallel)
	}
	if ran.Load() == 40 {
		t.Error("every task ran after one failed")
	}
	if err := runAll(t.Context(), tasks[:5]); err != nil {
		t.Errorf("runAll of tasks that succeed = %v", err)
	}
}
