package app

import (
	"context"
	"time"

	"portico/internal/app/web"
	"portico/internal/store"
	"portico/internal/store/sqlite"
)

// keepsPastSums reports whether the store keeps what it summed over
// ended hours and days, which warming fills.
func (a *App) keepsPastSums() bool {
	lite, ok := a.an.store.(*sqlite.Store)
	if !ok {
		return false
	}
	_, ok = lite.CacheStats()
	return ok
}

// warmDashboard asks the store, in the background, what the dashboard's
// most read pages ask, so that their first view after a start is
// answered from its cache: once at start, then once a day after the
// previous day was closed into the daily rollup (maintenance closes it
// within maintainEvery of CloseGrace past midnight), until ctx ends.
// Requests never wait for it: it runs one query at a time, after the
// listeners serve.
func (a *App) warmDashboard(ctx context.Context) {
	for {
		start := time.Now()
		if err := a.control.dashboard.Warm(ctx, web.DefaultWarm); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("warming the dashboard's pages", "err", err)
		} else {
			a.log.Debug("dashboard's pages warmed", "took", time.Since(start))
		}
		next := store.Day(time.Now()).Add(24*time.Hour + store.CloseGrace + maintainEvery + 5*time.Minute)
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
