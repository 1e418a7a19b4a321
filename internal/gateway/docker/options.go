package docker

import (
	"log/slog"
	"sync"

	"portico/internal/clientip"
)

// Options are what docker handlers need at request time. They hold the
// gateway's long-lived state (connection pool, upstream token cache,
// token key), so create them once at startup and pass the same Options to
// every compile: a manifest reload compiles new handlers but keeps them.
type Options struct {
	// Proxy streams requests to backend registries. Nil uses a
	// process-wide default.
	Proxy *Proxy
	// Signer issues and checks the tokens of Portico's auth handshake.
	// Nil uses a process-wide signer with a random key.
	Signer *Signer
	// Trusted lists the proxies whose X-Forwarded-* headers are
	// believed. Nil trusts none.
	Trusted *clientip.Trusted
	// Logger receives warnings about registries; nil discards them.
	Logger *slog.Logger
}

var (
	defaultsOnce   sync.Once
	defaultProxyV  *Proxy
	defaultSignerV *Signer
)

// withDefaults fills the unset fields of o.
func (o Options) withDefaults() Options {
	if o.Proxy != nil && o.Signer != nil {
		return o
	}
	defaultsOnce.Do(func() {
		defaultProxyV = NewProxy(nil, nil)
		s, err := NewSigner(nil)
		if err != nil {
			panic(err) // the system's random source failed
		}
		defaultSignerV = s
	})
	if o.Proxy == nil {
		o.Proxy = defaultProxyV
	}
	if o.Signer == nil {
		o.Signer = defaultSignerV
	}
	return o
}
