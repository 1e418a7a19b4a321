package app

import (
	"context"
	"time"

	"portico/internal/app/web"
	"portico/internal/store"
	"portico/internal/store/sqlite"
)

// rewarmAfter is the least time between two warmings that an
// invalidation of the cache (late events, a spool replayed) starts.
const rewarmAfter = 10 * time.Minute

// pastSums returns the store when it keeps what it summed over ended
// hours and days, which warming fills.
func (a *App) pastSums() *sqlite.Store {
	lite, ok := a.an.store.(*sqlite.Store)
	if !ok {
		return nil
	}
	if _, ok := lite.CacheStats(); !ok {
		return nil
	}
	return lite
}

// warmDashboard asks the store, in the background, what the dashboard's
// most read pages ask, so that their first view after a start is
// answered from its cache: once at start, once a day after the previous
// day was closed into the daily rollup (maintenance closes it within
// maintainEvery of CloseGrace past midnight), and again, at most every
// rewarmAfter, when late events emptied the cache; until ctx ends.
// Requests never wait for it: it runs one query at a time, after the
// listeners serve.
func (a *App) warmDashboard(ctx context.Context, lite *sqlite.Store) {
	check := time.NewTicker(time.Minute)
	defer check.Stop()
	for {
		start := time.Now()
		seen, _ := lite.CacheStats()
		if err := a.control.dashboard.Warm(ctx, web.DefaultWarm); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("warming the dashboard's pages", "err", err)
		} else {
			a.log.Debug("dashboard's pages warmed", "took", time.Since(start))
		}
		a.warms.Add(1)
		daily := time.NewTimer(time.Until(store.Day(time.Now()).Add(24*time.Hour + store.CloseGrace + maintainEvery + 5*time.Minute)))
	wait:
		for {
			select {
			case <-ctx.Done():
				daily.Stop()
				return
			case <-daily.C:
				break wait
			case <-check.C:
				if now, _ := lite.CacheStats(); now.Invalidations != seen.Invalidations && time.Since(start) >= rewarmAfter {
					daily.Stop()
					break wait
				}
			}
		}
	}
}
