package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"portico/internal/app"
	"portico/internal/app/api"
	"portico/internal/config"
	"portico/internal/control"
	"portico/internal/testenv"
)

// navTiming is what the Navigation Timing API reports of a page load, in
// milliseconds from the start of the navigation.
type navTiming struct {
	ResponseStart float64 `json:"responseStart"`
	ResponseEnd   float64 `json:"responseEnd"`
	DOMContent    float64 `json:"domContentLoadedEventEnd"`
	LoadEnd       float64 `json:"loadEventEnd"`
}

// BenchmarkPagesInBrowser loads the dashboard's pages in Debian's
// chromium from a cold browser cache (cleared before every load), from a
// whole Portico process serving the store that bench/analytics loaded,
// and reports what Navigation Timing measured: the page's response end
// and the end of its load event, as a mean over the loads and for the
// first load, whose queries found nothing in the store's cache yet. The
// store's raw events are kept (no retention), so that the directory can
// serve the next run as it was.
//
//	go run ./bench/analytics -store sqlite -dir /tmp/p10m
//	PORTICO_BENCH_STORE=/tmp/p10m go test -run '^$' -bench PagesInBrowser ./internal/app/web
func BenchmarkPagesInBrowser(b *testing.B) {
	dir := os.Getenv("PORTICO_BENCH_STORE")
	if dir == "" {
		b.Skip("set PORTICO_BENCH_STORE to a data directory loaded by bench/analytics")
	}
	path := testenv.LookPath(b, "chromium")
	cfg := config.Default()
	cfg.Listen, cfg.OpsListen, cfg.Control.AppListen = loopbackAddr(b), "off", loopbackAddr(b)
	cfg.Analytics.Data = dir
	cfg.Analytics.RetentionDays = 0
	cfg.Events = "none"
	cfg.ReloadInterval = 0
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	svc, closeSvc, err := app.OpenService(ctx, cfg.Analytics.StoreLocation, cfg.Control, app.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	secret, org := benchOrg(b, svc)
	closeSvc()
	a, err := app.New(ctx, cfg, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("Run = %v", err)
		}
	}()
	base := "http://" + cfg.Control.AppListen

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(b.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: api.SessionCookie, Value: secret, URL: base + "/"})
		return err
	})); err != nil {
		b.Fatalf("starting chromium: %v", err)
	}
	for _, page := range []struct{ name, path string }{
		{"package", "/packages/pkg-000"},
		{"list", "/packages"},
		{"analytics", "/packages/pkg-000/analytics"},
		{"analytics-90d-week", "/packages/pkg-000/analytics?interval=week&from=2000-01-01"},
		{"org-analytics", "/orgs/" + org + "/analytics"},
	} {
		b.Run(page.name, func(b *testing.B) {
			var sum navTiming
			var first *navTiming
			n := 0
			for b.Loop() {
				nt := load(b, bctx, base+page.path)
				if first == nil {
					first = &nt
				}
				sum.ResponseEnd += nt.ResponseEnd
				sum.LoadEnd += nt.LoadEnd
				n++
			}
			b.ReportMetric(sum.ResponseEnd/float64(n), "response-ms")
			b.ReportMetric(sum.LoadEnd/float64(n), "load-ms")
			b.ReportMetric(first.ResponseEnd, "first-response-ms")
			b.ReportMetric(first.LoadEnd, "first-load-ms")
			b.ReportMetric(0, "ns/op") // the timings above are the measure
		})
	}
}

// load clears the browser's cache, loads the page at url and returns its
// Navigation Timing.
func load(b *testing.B, bctx context.Context, url string) navTiming {
	b.Helper()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	nt, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (navTiming, error) {
		if _, err := cdp.Call(ctx, t, network.ClearBrowserCache, cdp.Empty{}); err != nil {
			return navTiming{}, err
		}
		if _, err := chromedp.Navigate(url)(ctx, t); err != nil {
			return navTiming{}, err
		}
		for {
			// loadEventEnd is set once the load event's handlers
			// returned, a moment after readyState became complete.
			nt, err := chromedp.Evaluate[navTiming](`(() => {
				const e = performance.getEntriesByType("navigation")[0];
				return e && e.loadEventEnd > 0 && location.pathname !== "/signin" ? e.toJSON() : null;
			})()`)(ctx, t)
			if err == nil && nt.LoadEnd > 0 {
				return nt, nil
			}
			select {
			case <-ctx.Done():
				return navTiming{}, fmt.Errorf("%s did not load: %w (last error: %v)", url, ctx.Err(), err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return nt
}

// loopbackAddr returns a loopback address that was free a moment ago.
func loopbackAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// benchOrg makes the packages that bench/analytics loaded (pkg-000 to
// pkg-049) packages of an organization, once, and signs its owner in.
func benchOrg(b *testing.B, svc *control.Service) (secret, org string) {
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
	secret, _, _, err = svc.SignIn(ctx, email, password)
	if err != nil {
		b.Fatal(err)
	}
	orgs, err := svc.ListOrgs(ctx, control.As(u), control.Page{Limit: 10})
	if err != nil || len(orgs) == 0 {
		b.Fatalf("the benchmark user's organizations: %v", err)
	}
	return secret, orgs[0].Name
}
