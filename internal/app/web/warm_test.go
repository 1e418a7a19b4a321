package web

import (
	"context"
	"net/http"
	"testing"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

// TestWarmAnswersPagesFromCache: after Warm, the first view of the
// package list, of the package page and analytics page of each package
// and of the organization's analytics page reads nothing of the ended
// hours and days from the database: every such read is a hit of the
// store's cache. A page Warm did not ask for still reads the database,
// which shows that the counts see a first view.
func TestWarmAnswersPagesFromCache(t *testing.T) {
	e := newEnv(t)
	_, org := e.user("ann@acme.test")
	b := e.signIn("ann@acme.test")
	host := org + ".gw.test"
	var ids []string
	for _, name := range []string{"rocket", "comet"} {
		st, body, hdr := b.post("/packages/new", fileForm(org, name, host, "/"+name+"/{version}.tar.gz"))
		ids = append(ids, createdID(t, st, hdr, body))
	}
	now := time.Now().UTC()
	src := event.NewIDSource()
	var evs []event.Event
	for i, ago := range []time.Duration{3 * 24 * time.Hour, 2 * 24 * time.Hour, 3 * time.Hour, 2 * time.Hour} {
		at := now.Add(-ago)
		for n, id := range ids[:1+i%2] {
			evs = append(evs, event.Event{ID: src.New(at), Time: at, Kind: event.KindFile, PackageID: id, Domain: host, Method: "GET",
				Path: "/p/1.0.tar.gz", Status: 307, Outcome: event.OutcomeRedirect, Variables: []event.Var{{Name: "version", Value: "1.0"}},
				Client: event.Client{Name: "curl", OS: "linux"}, Source: event.SourceHuman, Downloader: uint64(i*2 + n + 1)})
		}
	}
	ctx := context.Background()
	if err := e.st.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Maintain(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Service: e.svc, Sessions: nil, Stats: nil})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Warm(ctx, WarmConfig{Packages: 10, Orgs: 10}); err != nil {
		t.Errorf("Warm without statistics = %v", err)
	}
	pages := []string{"/packages", "/orgs/" + org + "/analytics"}
	for _, id := range ids {
		pages = append(pages, "/packages/"+id, "/packages/"+id+"/analytics")
	}
	// An hour that ends meanwhile is read once as it ends: try again.
	for try := 0; ; try++ {
		hour := store.Hour(time.Now())
		if err := e.dash.Warm(ctx, WarmConfig{Packages: 10, Orgs: 10}); err != nil {
			t.Fatal(err)
		}
		before, ok := e.st.CacheStats()
		if !ok {
			t.Fatal("the store keeps no cache")
		}
		if before.Misses == 0 {
			t.Fatal("Warm read nothing from the database")
		}
		for _, p := range pages {
			if st, body := b.get(p); st != http.StatusOK {
				t.Fatalf("%s = %d:\n%s", p, st, body)
			}
		}
		after, _ := e.st.CacheStats()
		if !store.Hour(time.Now()).Equal(hour) && try == 0 {
			continue
		}
		if after.Misses != before.Misses || after.Hits <= before.Hits {
			t.Errorf("the warmed pages read the database %d times, the cache %d times; want 0 and more than 0",
				after.Misses-before.Misses, after.Hits-before.Hits)
		}
		other := "/packages/" + ids[0] + "/analytics?from=" + now.Add(-10*24*time.Hour).Format(time.DateOnly)
		if st, body := b.get(other); st != http.StatusOK {
			t.Fatalf("%s = %d:\n%s", other, st, body)
		}
		if cold, _ := e.st.CacheStats(); cold.Misses == after.Misses {
			t.Error("a page that was not warmed read nothing from the database")
		}
		return
	}
}

// TestWarmStopsWithContext: Warm ends with the context's error once it
// is cancelled, without reading the pages.
func TestWarmStopsWithContext(t *testing.T) {
	e := newEnv(t)
	_, org := e.user("ann@acme.test")
	b := e.signIn("ann@acme.test")
	st, body, hdr := b.post("/packages/new", fileForm(org, "rocket", org+".gw.test", "/rocket/{version}.tar.gz"))
	createdID(t, st, hdr, body)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.dash.Warm(ctx, WarmConfig{Packages: 10, Orgs: 10, Pause: time.Hour}); err == nil {
		t.Error("Warm with a cancelled context = nil")
	}
}
