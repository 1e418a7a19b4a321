package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"portico/internal/app/api"
	"portico/internal/control"
	"portico/internal/route"
	"portico/internal/stats"
	"portico/internal/store/sqlite"
	"portico/internal/store/storetest"
)

// BenchStoreVar names a SQLite data directory loaded by bench/analytics
// (ten million events of the packages pkg-000 to pkg-049) for
// BenchmarkPages; without it the benchmark is skipped.
const BenchStoreVar = "PORTICO_BENCH_STORE"

// BenchmarkPages renders the dashboard's pages over a loaded store, in
// process, beside the API's statistics of the same package as the
// baseline: compare the two within one run. Each page is measured twice:
// as the gateway serves it, with the store's cache of closed days (warm
// after the first view), and as "uncached-", over a store opened
// read-only, which keeps no cache: the cost of a page's first view.
//
//	go run ./bench/analytics -store sqlite -dir /tmp/p10m
//	PORTICO_BENCH_STORE=/tmp/p10m go test -run '^$' -bench Pages ./internal/app/web
func BenchmarkPages(b *testing.B) {
	dir := os.Getenv(BenchStoreVar)
	if dir == "" {
		b.Skipf("set %s to a data directory loaded by bench/analytics", BenchStoreVar)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := control.New(control.Config{Store: st, Rules: &route.Checker{}, BaseDomain: "bench.test"})
	cookie, org := benchPackages(b, svc)
	// The same pages again over a store opened read-only, which keeps
	// no cache of closed days: what the first view of a page costs.
	ro, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	type page struct{ name, path string }
	var pages []page
	var muxes []*http.ServeMux
	for _, v := range []struct {
		prefix string
		stats  *stats.Stats
	}{{"", stats.New(st)}, {"uncached-", stats.New(ro)}} {
		a := api.New(api.Config{Service: svc, Stats: v.stats, Exporter: st})
		w, err := New(Config{Service: svc, Sessions: a, Stats: v.stats})
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/api/", a)
		mux.Handle("/", w)
		for _, p := range []page{
			{"api-stats", "/api/v1/packages/pkg-000/stats"},
			{"package", "/packages/pkg-000"},
			{"live", "/packages/pkg-000/live"},
			{"list", "/packages"},
			{"analytics", "/packages/pkg-000/analytics"},
			{"analytics-90d-week", "/packages/pkg-000/analytics?interval=week&from=" + "2000-01-01"},
			{"org-analytics", "/orgs/" + org + "/analytics"},
		} {
			pages = append(pages, page{v.prefix + p.name, p.path})
			muxes = append(muxes, mux)
		}
	}
	for i, page := range pages {
		mux := muxes[i]
		b.Run(page.name, func(b *testing.B) {
			cpu0, ok0 := storetest.CPUTime()
			n := 0
			for b.Loop() {
				n++
				req := httptest.NewRequest("GET", page.path, nil)
				req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: cookie})
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s = %d %s", page.path, rec.Code, rec.Body.String())
				}
			}
			if cpu1, ok1 := storetest.CPUTime(); ok0 && ok1 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
			}
		})
	}
}

// benchPackages makes the loaded packages packages of an organization
// (once), and signs its owner in.
func benchPackages(b *testing.B, svc *control.Service) (cookie, org string) {
	ctx := context.Background()
	const email, password = "bench@bench.test", "a passphrase for the benchmark"
	u, err := svc.UserByEmail(ctx, email)
	if err != nil {
		var o control.Org
		if u, o, err = svc.CreateUser(ctx, control.Operator, control.NewUser{Email: email, Password: password}); err != nil {
			b.Fatal(err)
		}
		host := o.Name + ".bench.test"
		for i := range 50 {
			rule := fmt.Sprintf(`{"type":"file-v1","domain":%q,"incoming-path":"/p%03d/{version}.tar.gz","outgoing-url":"https://dl.test/p%03d/{version}.tar.gz","package-id":"pkg-%03d"}`, host, i, i, i)
			if _, err := svc.CreatePackage(ctx, control.As(u), control.NewPackage{Org: o.Name, Name: fmt.Sprintf("tool-%03d", i), Rule: []byte(rule)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	secret, _, _, err := svc.SignIn(ctx, email, password)
	if err != nil {
		b.Fatal(err)
	}
	orgs, err := svc.ListOrgs(ctx, control.As(u), control.Page{Limit: 10})
	if err != nil || len(orgs) == 0 {
		b.Fatalf("the benchmark user's organizations: %v", err)
	}
	return secret, orgs[0].Name
}
