// Package upstream builds the HTTP clients Portico uses to reach backends:
// registries, package indexes, file hosts. They never follow redirects on
// their own (each protocol decides which ones to follow, so credentials
// cannot leak to another host), bound every wait, and keep enough idle
// connections for many concurrent downloads.
package upstream

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Options tune a client. Zero values take the defaults.
type Options struct {
	// DialTimeout bounds connecting, TLSTimeout the TLS handshake and
	// HeaderTimeout the wait for response headers once the request is
	// sent. None of them limits how long a body takes to stream.
	DialTimeout   time.Duration
	TLSTimeout    time.Duration
	HeaderTimeout time.Duration
	// MaxIdlePerHost is the number of idle connections kept per backend.
	MaxIdlePerHost int
	// TLSConfig, when set, replaces the system defaults (tests use it to
	// trust their own certificate authority).
	TLSConfig *tls.Config
}

// Defaults for Options.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultTLSTimeout     = 10 * time.Second
	DefaultHeaderTimeout  = 60 * time.Second
	DefaultMaxIdlePerHost = 128
)

// NewTransport returns a transport with o's limits.
func NewTransport(o Options) *http.Transport {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.TLSTimeout <= 0 {
		o.TLSTimeout = DefaultTLSTimeout
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = DefaultMaxIdlePerHost
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       o.TLSConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * o.MaxIdlePerHost,
		MaxIdleConnsPerHost:   o.MaxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.TLSTimeout,
		ResponseHeaderTimeout: o.HeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// NewClient returns a client over transport (NewTransport(Options{}) when
// nil) that returns redirects to the caller instead of following them.
func NewClient(transport http.RoundTripper) *http.Client {
	if transport == nil {
		transport = NewTransport(Options{})
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
