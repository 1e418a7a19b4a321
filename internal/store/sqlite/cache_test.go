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

// TestPastCache checks that answers read through the cache of past sums
// are the database's: the same as a store without the cache (one opened
// read-only) before and after late events change a closed day and an
// hour of today that has ended, and after an event of the current hour.
func TestPastCache(t *testing.T) {
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
	if s.past.size == 0 {
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
	// An event of an hour of today that has ended, and one of the
	// current hour, which leaves the cache as it was.
	ended := storetest.FileEvent(store.Hour(time.Now()).Add(-30*time.Minute), "pkg-1")
	ended.Origin.Country = "C8"
	if err := s.Append(t.Context(), []event.Event{ended}); err != nil {
		t.Fatal(err)
	}
	check("after an event of an hour that ended")
	gen := s.past.generation()
	current := storetest.FileEvent(time.Now(), "pkg-1")
	current.Origin.Country = "C7"
	if err := s.Append(t.Context(), []event.Event{current}); err != nil {
		t.Fatal(err)
	}
	if s.past.generation() != gen {
		t.Error("an event of the current hour invalidated the cache")
	}
	check("after an event of the current hour")
	rows, err := s.Aggregate(t.Context(), store.Query{Filter: f, By: store.DimCountry})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"C9", "C8", "C7"} {
		if !slices.ContainsFunc(rows, func(r store.Row) bool { return r.Key == c && r.Value == 1 }) {
			t.Errorf("after the late events, countries = %v, want %s once", rows, c)
		}
	}
}

// TestPastCacheBound checks that the cache keeps within its bound,
// dropping its oldest answers, that an answer reaching further replaces
// a shorter one and not the reverse, and that nothing of an old
// generation is kept.
func TestPastCacheBound(t *testing.T) {
	c := newPastCache(100)
	sums := func(n int) []pastSum { return make([]pastSum, n) }
	c.put("a", 0, 10, sums(20))
	c.put("b", 0, 10, sums(20))
	c.put("c", 0, 10, sums(26)) // more than a quarter of the bound: not kept
	if _, _, ok := c.get("c", 0); ok {
		t.Error("an answer larger than a quarter of the bound was kept")
	}
	c.put("b", 0, 20, sums(21))
	c.put("b", 0, 15, sums(1))
	if got, to, _ := c.get("b", 0); to != 20 || len(got) != 21 {
		t.Errorf("b reaches %d with %d sums, want 20 with 21", to, len(got))
	}
	for i := range 5 {
		c.put(fmt.Sprint(i), 0, 10, sums(20))
	}
	if c.size > 100 {
		t.Errorf("cache holds %d sums, bound 100", c.size)
	}
	if _, _, ok := c.get("a", 0); ok {
		t.Error("the oldest answer is still there past the bound")
	}
	if _, _, ok := c.get("4", 0); !ok {
		t.Error("the newest answer is gone")
	}
	gen := c.generation()
	c.invalidate()
	if _, _, ok := c.get("4", c.generation()); ok {
		t.Error("an answer survived invalidation")
	}
	c.put("old", gen, 10, sums(1))
	if _, _, ok := c.get("old", c.generation()); ok {
		t.Error("an answer read under the previous generation was kept")
	}
}
