package app

import (
	"context"
	"fmt"

	"portico/internal/blobcache"
	"portico/internal/route"
)

// openCache opens the proxy cache of --cache-dir, when set, and hands it
// to the rules that use it. Only a serving process opens it: opening
// removes what interrupted transfers left, which would cut another
// process's transfers short.
func (a *App) openCache(opts *route.Options) error {
	cfg := a.cfg
	if cfg.CacheDir == "" {
		return nil
	}
	c, err := blobcache.Open(blobcache.Options{Dir: cfg.CacheDir, MaxBytes: int64(cfg.CacheMaxBytes), Stall: cfg.StallTimeout, Logger: a.log})
	if err != nil {
		return fmt.Errorf("proxy cache: %w", err)
	}
	a.closers.push(func(context.Context) { c.Close() })
	a.metrics.Registry.MustRegister(c.Collectors()...)
	opts.Docker.Proxy.SetCache(c, cfg.CacheTagTTL)
	opts.NPM.Blobs = c
	opts.Python.Blobs = c
	return nil
}
