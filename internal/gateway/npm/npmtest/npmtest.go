// Package npmtest builds the npm.Options that tests compile npm-v1 rules
// with: what a gateway process builds at startup, with a logger that
// discards.
package npmtest

import (
	"log/slog"
	"testing"

	"portico/internal/doccache"
	"portico/internal/gateway/npm"
	"portico/internal/upstream"
)

// Options returns complete npm.Options for one test: a client with the
// process defaults (private upstreams refused), a packument cache that
// fetches through it, closed when the test ends, and the default
// packument bound. Tests that need another cache, client or logger
// replace that field.
func Options(t testing.TB) npm.Options {
	t.Helper()
	transport := upstream.NewTransport(upstream.Options{})
	t.Cleanup(transport.CloseIdleConnections)
	client := upstream.NewClient(transport)
	cache := doccache.New(doccache.Options{Client: client})
	t.Cleanup(cache.Close)
	return npm.Options{Cache: cache, Client: client, Logger: slog.New(slog.DiscardHandler)}
}
