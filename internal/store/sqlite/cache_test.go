package sqlite

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
	"portico/internal/store/storetest"
)

// TestDayCache checks that answers read through the cache of closed days
// are the database's: the same as a store without the cache (one opened
// read-only) before and after a late event changes a closed day, and
// that the cache answers a repeated query.
func TestDayCache(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	today := store.Day(time.Now())
	var batch []event.Event
	for d := range 5 {
		for i := range 10 + d {
			e := storetest.FileEvent(today.Add(time.Duration(d-5)*24*time.Hour+time.Duration(i)*time.Minute), fmt.Sprintf("pkg-%d", i%3))
			e.Origin.Country = fmt.Sprintf("C%d", i%4)
			batch = append(batch, e)
		}
	}
	batch = append(batch, storetest.FileEvent(time.Now().Add(-time.Minute), "pkg-0"))
	if err := s.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Maintain(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(t.Context(), Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	f := store.Filter{From: today.Add(-5*24*time.Hour + 3*time.Hour), To: store.Hour(time.Now()).Add(time.Hour)}
	queries := []store.Query{
		{Filter: f},
		{Filter: f, Step: store.StepDay},
		{Filter: f, By: store.DimCountry},
		{Filter: f, By: store.DimPackage, Step: store.StepDay},
		{Filter: store.Filter{From: f.From, To: f.To, Package: "pkg-1"}, By: store.DimCountry, Step: store.StepDay},
	}
	check := func(when string) {
		t.Helper()
		for _, q := range queries {
			got, err := s.Aggregate(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ro.Aggregate(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("%s, Aggregate(by %v, step %v, package %q) = %v, want %v", when, q.By, q.Step, q.Package, got, want)
			}
		}
	}
	check("first read")
	if s.days.size == 0 {
		t.Fatal("the cache holds nothing after queries of closed days")
	}
	check("read again")
	// A late event in a closed day.
	late := storetest.FileEvent(today.Add(-3*24*time.Hour+time.Hour), "pkg-1")
	late.Origin.Country = "C9"
	if err := s.Append(t.Context(), []event.Event{late}); err != nil {
		t.Fatal(err)
	}
	check("after a late event")
	rows, err := s.Aggregate(t.Context(), store.Query{Filter: f, By: store.DimCountry})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rows, func(r store.Row) bool { return r.Key == "C9" && r.Value == 1 }) {
		t.Errorf("after a late event, countries = %v, want C9 once", rows)
	}
}

// TestDayCacheBound checks that the cache keeps within its bound,
// dropping its oldest answers, and keeps nothing of an old generation.
func TestDayCacheBound(t *testing.T) {
	c := newDayCache(100)
	sums := func(n int) []daySum { return make([]daySum, n) }
	c.put("a", 0, sums(20))
	c.put("b", 0, sums(20))
	c.put("c", 0, sums(26)) // more than a quarter of the bound: not kept
	if _, ok := c.get("c", 0); ok {
		t.Error("an answer larger than a quarter of the bound was kept")
	}
	for i := range 5 {
		c.put(fmt.Sprint(i), 0, sums(20))
	}
	if c.size > 100 {
		t.Errorf("cache holds %d sums, bound 100", c.size)
	}
	if _, ok := c.get("a", 0); ok {
		t.Error("the oldest answer is still there past the bound")
	}
	if _, ok := c.get("4", 0); !ok {
		t.Error("the newest answer is gone")
	}
	gen := c.generation()
	c.invalidate()
	if _, ok := c.get("4", c.generation()); ok {
		t.Error("an answer survived invalidation")
	}
	c.put("old", gen, sums(1))
	if _, ok := c.get("old", c.generation()); ok {
		t.Error("an answer read under the previous generation was kept")
	}
}
