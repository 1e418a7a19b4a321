package app

import (
	"context"
	"testing"
	"time"

	"portico/internal/app/web"
	"portico/internal/store"
	"portico/internal/store/sqlite"
)

// TestWarmAtStart: a gateway with a SQLite store reads its dashboard's
// pages once it serves, before anyone asks for them: afterwards the same
// queries read nothing more of the ended hours from the database.
func TestWarmAtStart(t *testing.T) {
	r := startApp(t, testConfig(t))
	lite, ok := r.an.store.(*sqlite.Store)
	if !ok {
		t.Fatalf("the store is a %T, want SQLite", r.an.store)
	}
	// Bounded, not timed: warming a store with one package takes
	// milliseconds.
	for deadline := time.Now().Add(time.Minute); r.warms.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the dashboard's pages were not warmed within a minute of the start")
		}
	}
	warmed, _ := lite.CacheStats()
	if warmed.Misses == 0 {
		t.Fatalf("warming read nothing from the database: %+v", warmed)
	}
	// An hour that ends meanwhile is read once as it ends: try again.
	for try := 0; ; try++ {
		hour := store.Hour(time.Now())
		if err := r.control.dashboard.Warm(context.Background(), web.DefaultWarm); err != nil {
			t.Fatal(err)
		}
		again, _ := lite.CacheStats()
		if try == 0 && !store.Hour(time.Now()).Equal(hour) {
			warmed = again
			continue
		}
		if again.Misses != warmed.Misses || again.Hits <= warmed.Hits {
			t.Errorf("the warmed queries asked again: %+v, then %+v; want only more hits", warmed, again)
		}
		return
	}
}
