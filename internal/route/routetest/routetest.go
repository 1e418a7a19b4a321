// Package routetest builds the route.Options that tests compile tables
// with: complete options for every rule kind, as a gateway process
// builds them at startup (see dockertest, npmtest and pythontest).
package routetest

import (
	"testing"

	"portico/internal/gateway/docker/dockertest"
	"portico/internal/gateway/npm/npmtest"
	"portico/internal/gateway/python/pythontest"
	"portico/internal/route"
)

// Options returns complete route.Options for one test, with the default
// body timeout. Tests that need other options for one kind replace that
// field.
func Options(t testing.TB) route.Options {
	t.Helper()
	return route.Options{
		Docker: dockertest.Options(t),
		Python: pythontest.Options(t),
		NPM:    npmtest.Options(t),
	}
}
