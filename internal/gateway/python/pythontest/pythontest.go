// Package pythontest builds the python.Options that tests compile
// python-v1 and python-index-v1 rules with: what a gateway process
// builds at startup.
package pythontest

import (
	"testing"

	"portico/internal/doccache"
	"portico/internal/gateway/python"
	"portico/internal/upstream"
)

// Options returns complete python.Options for one test: a cache of
// project pages fetching with the process defaults (private upstreams
// refused), closed when the test ends, and the default page bound.
// Tests that need another cache replace it.
func Options(t testing.TB) python.Options {
	t.Helper()
	transport := upstream.NewTransport(upstream.Options{})
	t.Cleanup(transport.CloseIdleConnections)
	cache := doccache.New(doccache.Options{Client: upstream.NewClient(transport)})
	t.Cleanup(cache.Close)
	return python.Options{Cache: cache}
}
