package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"portico/internal/control"
	"portico/internal/stats"
)

// WarmConfig bounds Warm.
type WarmConfig struct {
	// Packages is how many packages, those with the most downloads over
	// the last 30 days first, get their package page and analytics page
	// read; 0 reads none.
	Packages int
	// Orgs is how many organizations, those of the packages read first,
	// get their analytics page read; 0 reads none.
	Orgs int
	// Pause is the rest between two pages, which leaves the cores and
	// the store's connections to requests.
	Pause time.Duration
}

// DefaultWarm is what the gateway warms: the package pages and analytics
// of the 50 packages with the most downloads and the analytics of 10 of
// their organizations, well within what the SQLite store's cache of past
// sums holds, with a pause between two pages.
var DefaultWarm = WarmConfig{Packages: 50, Orgs: 10, Pause: 50 * time.Millisecond}

// Warm asks the store what the dashboard's pages ask most at their
// default range (the package list, then the package page and analytics
// page of the packages with the most downloads, then the analytics pages
// of their organizations) with the very queries the pages make, so that
// a store that keeps what it sums over ended hours and days answers
// their first view from memory. The queries run one at a time, in the
// calling goroutine, with a pause between pages; Warm returns early
// with ctx's error when ctx ends.
func (w *Web) Warm(ctx context.Context, cfg WarmConfig) error {
	if w.stats == nil {
		return nil
	}
	ctx = stats.Sequential(ctx)
	lines, err := w.listSeries(ctx)
	if err != nil {
		return fmt.Errorf("warm the package list: %w", err)
	}
	totals := make(map[string]int64, len(lines))
	for _, l := range lines {
		for _, pt := range l.Points {
			totals[l.Key] += pt.Value
		}
	}
	pkgs, err := w.listAll(ctx, control.Operator, "")
	if err != nil {
		return fmt.Errorf("warm: list packages: %w", err)
	}
	slices.SortStableFunc(pkgs, func(a, b control.PackageView) int {
		return cmp.Or(cmp.Compare(totals[b.ID], totals[a.ID]), cmp.Compare(a.ID, b.ID))
	})
	rp, _ := w.parseRange(&http.Request{URL: &url.URL{}})
	var orgs []string
	for i, v := range pkgs {
		if i >= cfg.Packages {
			break
		}
		if err := w.rest(ctx, cfg.Pause); err != nil {
			return err
		}
		if _, _, _, err := w.packageSummary(ctx, v.ID); err != nil {
			return fmt.Errorf("warm the page of package %s: %w", v.ID, err)
		}
		if _, err := w.analyticsReport(ctx, []string{v.ID}, rp); err != nil {
			return fmt.Errorf("warm the analytics of package %s: %w", v.ID, err)
		}
		if v.Org != "" && !slices.Contains(orgs, v.Org) && len(orgs) < cfg.Orgs {
			orgs = append(orgs, v.Org)
		}
	}
	for _, org := range orgs {
		if err := w.rest(ctx, cfg.Pause); err != nil {
			return err
		}
		// What an owner of the organization reads: all its packages.
		members, err := w.listAll(ctx, control.Operator, org)
		if err != nil {
			return fmt.Errorf("warm: list the packages of %s: %w", org, err)
		}
		ids := make([]string, len(members))
		for i, v := range members {
			ids[i] = v.ID
		}
		if _, err := w.analyticsReport(ctx, ids, rp); err != nil {
			return fmt.Errorf("warm the analytics of organization %s: %w", org, err)
		}
	}
	return nil
}

// rest waits d, or until ctx ends.
func (w *Web) rest(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
