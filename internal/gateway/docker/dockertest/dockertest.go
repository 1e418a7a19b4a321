// Package dockertest builds the docker.Options that tests compile docker
// rules with: what a gateway process builds at startup, with the public
// access policy, a random token key and a logger that discards. It also
// runs the daemons of the real clients that tests pull with: a dockerd
// of the test's own (StartDockerd), and other background processes.
package dockertest

import (
	"log/slog"
	"testing"

	"portico/internal/gateway/docker"
	"portico/internal/upstream"
)

// Options returns complete docker.Options for one test. The proxy's
// transport has the process defaults (private upstreams refused), and
// its idle connections are closed when the test ends. Tests that need
// another proxy, policy or logger replace that field.
func Options(t testing.TB) docker.Options {
	t.Helper()
	transport := upstream.NewTransport(upstream.Options{})
	t.Cleanup(transport.CloseIdleConnections)
	signer, err := docker.NewSigner(nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	return docker.Options{
		Proxy:     docker.NewProxy(transport, log, 0),
		Signer:    signer,
		Authorize: docker.AllowPull,
		Logger:    log,
	}
}
