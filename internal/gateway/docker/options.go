package docker

import (
	"errors"
	"log/slog"
)

// Options are what docker handlers need at request time. They hold the
// gateway's long-lived state (connection pool, upstream token cache,
// token key), so create them once at startup and pass the same Options to
// every compile: a manifest reload compiles new handlers but keeps them.
//
// Every field is required: New refuses Options that lack one, so that a
// process never falls back to state it did not choose (a second
// connection pool, a token key no other replica shares, warnings nobody
// reads).
type Options struct {
	// Proxy streams requests to backend registries.
	Proxy *Proxy
	// Signer issues and checks the tokens of Portico's auth handshake.
	Signer *Signer
	// Logger receives warnings about registries and credentials.
	Logger *slog.Logger
}

// Validate reports the first required field of o that is unset.
func (o *Options) Validate() error {
	switch {
	case o.Proxy == nil:
		return errors.New("docker: Options.Proxy is required")
	case o.Signer == nil:
		return errors.New("docker: Options.Signer is required")
	case o.Logger == nil:
		return errors.New("docker: Options.Logger is required")
	}
	return nil
}
