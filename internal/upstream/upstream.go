// Package upstream is Portico's outbound policy and the HTTP transport
// that enforces it for every request to a backend: registries, their
// token services, package indexes, tarball and blob storage.
//
// A request made on behalf of a rule carries the rule's Policy in its
// context. The transport refuses a request whose origin the policy does
// not allow, and dials a host other than the rule's own backend only on
// public addresses: the check runs on the resolved address at connect
// time, so a name that resolves to a private address later (DNS
// rebinding) is refused too. Only the request headers on one list leave
// (content negotiation, conditional and partial requests, uploads'
// description, credentials), so nothing that discloses the client's
// address ever does, and credentials go only to the backend (and the
// rule's own credentials to its token service).
//
// Clients never follow redirects on their own: each protocol decides,
// with Resolve and the policy, which ones to follow, pass to the client
// or refuse. Every wait is bounded, and enough idle connections are kept
// for many concurrent downloads. The requests in flight for one rule
// backend may be capped, and each is measured per rule backend.
package upstream

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Options tune a transport. Zero values take the defaults.
type Options struct {
	// DialTimeout bounds connecting, TLSTimeout the TLS handshake and
	// HeaderTimeout the wait for response headers once the request is
	// sent. None of them limits how long a body takes to stream.
	DialTimeout   time.Duration
	TLSTimeout    time.Duration
	HeaderTimeout time.Duration
	// MaxIdlePerHost is the number of idle connections kept per backend.
	MaxIdlePerHost int
	// MaxConnsPerBackend caps the requests in flight on behalf of one
	// rule backend, each holding its connection from sending until its
	// body is closed; 0 is no cap. A request over the cap waits for a
	// slot, as long as HeaderTimeout at most, then fails with a
	// *BusyError.
	MaxConnsPerBackend int
	// Tracer, when set, gives every request a client span, from the
	// wait for a slot until its body is closed.
	Tracer trace.Tracer
	// TLSConfig, when set, replaces the system defaults (tests use it to
	// trust their own certificate authority).
	TLSConfig *tls.Config
	// AllowPrivate lets requests that do not go to a rule's own backend
	// (token services, tarball hosts, storage redirects) reach
	// loopback, private, link-local and reserved addresses: the
	// operator's --allow-private-upstreams. Metadata, unspecified and
	// multicast addresses stay refused.
	AllowPrivate bool
	// Proxy picks a forward proxy for a request; nil reads the
	// environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// OnDial, when set, is told of every connection the transport is
	// about to open, after the address check and before connecting:
	// tests use it to see every address the gateway tries to reach,
	// including those where nothing listens. It is called from the
	// dialing goroutine and must be safe for concurrent use. When it is
	// nil the transport dials as if it did not exist.
	OnDial func(DialAttempt)
}

// A DialAttempt is one connection a Transport was about to open.
type DialAttempt struct {
	// Target is the host:port the connection is for, as the HTTP
	// transport asked for it: a URL's host, or a forward proxy's.
	Target string
	// Addr is the address, resolved from Target, about to be
	// connected to.
	Addr netip.AddrPort
	// Backend is set when the connection is for a rule's own backend
	// origin, which may be on any address.
	Backend bool
	// Err is the address check's refusal, or nil when the connection
	// was opened.
	Err error
}

// Defaults for Options.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultTLSTimeout     = 10 * time.Second
	DefaultHeaderTimeout  = 60 * time.Second
	DefaultMaxIdlePerHost = 128
)

// NewClient returns a client over t (NewTransport(Options{}) when nil)
// that returns redirects to the caller instead of following them.
func NewClient(t *Transport) *http.Client {
	if t == nil {
		t = NewTransport(Options{})
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
