package upstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Transport sends requests under their context's Policy. It holds two
// connection pools: one for rules' backend origins, dialed on any
// address, and one for everything else, dialed on allowed addresses
// only. Keeping them apart means a connection opened to one rule's
// private backend is never reused for another rule's request to the same
// host, which that rule may not reach.
type Transport struct {
	backend      *http.Transport
	strict       *http.Transport
	dialer       net.Dialer
	allowPrivate bool
	proxy        func(*http.Request) (*url.URL, error)
	resolver     *net.Resolver
	onDial       func(DialAttempt)
	backends     *backends
	tracer       trace.Tracer // nil: no spans
	health       *Health      // nil: no backend takes part in a fallback
	// proxies are the host:port of the forward proxies the strict
	// pool was sent through: the operator's, dialed as they are.
	proxies sync.Map
}

// NewTransport returns a transport with o's limits and address rules.
func NewTransport(o Options) *Transport {
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
	if o.Proxy == nil {
		o.Proxy = http.ProxyFromEnvironment
	}
	t := &Transport{
		dialer:       net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		allowPrivate: o.AllowPrivate,
		proxy:        o.Proxy,
		resolver:     net.DefaultResolver,
		onDial:       o.OnDial,
		backends:     newBackends(o.MaxConnsPerBackend, o.HeaderTimeout),
		tracer:       o.Tracer,
	}
	backendDial := t.dialer.DialContext
	if o.OnDial != nil {
		backendDial = t.dialBackend
	}
	t.backend = newPool(o, o.Proxy, backendDial)
	t.strict = newPool(o, t.strictProxy, t.dialStrict)
	return t
}

func newPool(o Options, proxy func(*http.Request) (*url.URL, error), dial func(context.Context, string, string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
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

// RoundTrip implements http.RoundTripper: it checks req against the
// policy of its context, drops the headers that may not go to its
// destination, waits for a slot of the rule's backend, and sends it
// through the pool its destination belongs to. The slot is held until
// the response body is closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	p := PolicyFrom(ctx)
	if p == nil {
		closeBody(req)
		return nil, &RefusedError{Target: req.URL.Host, Reason: "the request names no outbound policy"}
	}
	owner := p.backend
	dest, err := p.Check(req.URL)
	if err == nil && dest == DestBackend && p.fallback.Scheme != "" {
		// A request to the rule's fallback counts as the fallback's.
		if o, _ := OriginOf(req.URL); o == p.fallback {
			owner = o
		}
	}
	b := t.backends.get(owner)
	if err != nil {
		closeBody(req)
		b.record(DestBackend, ctx, nil, err, 0)
		return nil, err
	}
	req = scrub(req, dest)
	var span trace.Span
	if t.tracer != nil {
		req, span = t.startSpan(req, b, dest)
	}
	start := time.Now()
	if err := t.backends.acquire(ctx, b); err != nil {
		closeBody(req)
		b.record(dest, ctx, nil, err, 0)
		endSpan(span, err)
		return nil, err
	}
	if waited := time.Since(start); span != nil && waited > time.Millisecond {
		span.AddEvent("waited for a slot of the backend", trace.WithAttributes(attribute.Int64("portico.upstream.wait_ms", waited.Milliseconds())))
	}
	start = time.Now()
	var resp *http.Response
	if dest == DestBackend {
		resp, err = t.backend.RoundTrip(req)
	} else {
		resp, err = t.strict.RoundTrip(req)
	}
	b.record(dest, ctx, resp, err, time.Since(start))
	if dest == DestBackend && t.health != nil {
		t.health.observe(ctx, owner, resp, err)
	}
	if err != nil {
		b.release()
		endSpan(span, err)
		return nil, err
	}
	if span != nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
		}
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, b: b, ctx: ctx, span: span}
	return resp, nil
}

// startSpan starts the client span of req, which lasts until its body is
// closed. Only the rule's own backend, which the operator named, is told
// the trace context (traceparent), and only the gateway's: the trace id
// is Portico's own or a trusted proxy's, never a client's, and no
// tracestate or baggage goes along. Token services, tarball hosts and
// storage get nothing. The URL path is recorded for the backend only:
// storage URLs are often signed.
func (t *Transport) startSpan(req *http.Request, b *backend, dest Dest) (*http.Request, trace.Span) {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", req.URL.Host),
		attribute.String("portico.backend", b.label),
		attribute.String("portico.upstream.dest", dest.String()),
	}
	if dest == DestBackend {
		attrs = append(attrs, attribute.String("url.path", req.URL.Path))
	}
	ctx, span := t.tracer.Start(req.Context(), "upstream "+req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	out := req.WithContext(ctx)
	if sc := span.SpanContext(); dest == DestBackend && sc.IsValid() {
		out.Header = req.Header.Clone()
		if out.Header == nil {
			out.Header = make(http.Header)
		}
		out.Header.Set("Traceparent", traceparent(sc))
	}
	return out, span
}

// traceparent renders sc as a W3C traceparent header value.
func traceparent(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Collector returns the transport's metrics: latency and results of
// requests per rule backend, waits for a slot, requests in flight.
func (t *Transport) Collector() prometheus.Collector { return t.backends }

// CloseIdleConnections closes the idle connections of both pools.
func (t *Transport) CloseIdleConnections() {
	t.backend.CloseIdleConnections()
	t.strict.CloseIdleConnections()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// dialStrict connects to addr only on allowed addresses. The check is in
// the dialer's Control hook, which sees each address the name resolved
// to just before connecting to it: no later answer of the resolver can
// slip past it.
func (t *Transport) dialStrict(ctx context.Context, network, addr string) (net.Conn, error) {
	d := t.dialer
	if _, ok := t.proxies.Load(addr); ok {
		if t.onDial != nil {
			d.Control = t.observe(addr, false)
		}
		return d.DialContext(ctx, network, addr)
	}
	d.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			err = &RefusedError{Target: addr, Reason: "unreadable address " + address}
		} else {
			err = t.checkAddr(addr, ap.Addr())
		}
		if t.onDial != nil {
			t.onDial(DialAttempt{Target: addr, Addr: ap, Err: err})
		}
		return err
	}
	return d.DialContext(ctx, network, addr)
}

// dialBackend dials a rule's backend origin, telling OnDial. Without
// OnDial the backend pool dials with the plain dialer instead.
func (t *Transport) dialBackend(ctx context.Context, network, addr string) (net.Conn, error) {
	d := t.dialer
	d.Control = t.observe(addr, true)
	return d.DialContext(ctx, network, addr)
}

// observe returns a dialer Control hook that tells OnDial of each
// address dialed for target, and lets the connection go ahead.
func (t *Transport) observe(target string, backend bool) func(string, string, syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, _ := netip.ParseAddrPort(address)
		t.onDial(DialAttempt{Target: target, Addr: ap, Backend: backend})
		return nil
	}
}

// strictProxy picks the forward proxy for a request of the strict pool.
// Through a proxy, the connection Portico opens goes to the proxy and the
// proxy resolves the target: so the target's addresses are checked here,
// before the request is handed over, and the proxy's own address is
// dialed as the operator configured it.
func (t *Transport) strictProxy(req *http.Request) (*url.URL, error) {
	pu, err := t.proxy(req)
	if err != nil || pu == nil {
		return pu, err
	}
	if err := t.checkName(req.Context(), req.URL); err != nil {
		return nil, err
	}
	// The HTTP transport dials the proxy's name as IDNA maps it, which
	// lower-cases it.
	addr := proxyAddr(pu)
	t.proxies.Store(addr, struct{}{})
	t.proxies.Store(strings.ToLower(addr), struct{}{})
	return pu, nil
}

// checkName checks every address u's host resolves to.
func (t *Transport) checkName(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	target := u.Host
	if a, err := netip.ParseAddr(host); err == nil {
		return t.checkAddr(target, a)
	}
	addrs, err := t.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := t.checkAddr(target, a); err != nil {
			return err
		}
	}
	return nil
}

// checkAddr decides whether an address may be dialed for a request that
// does not go to a rule's backend.
func (t *Transport) checkAddr(target string, a netip.Addr) error {
	c := Classify(a)
	if c == Public || t.allowPrivate && c.allowedPrivately() {
		return nil
	}
	reason := fmt.Sprintf("%s is a %s address", a.WithZone(""), c)
	if c.allowedPrivately() {
		reason += "; only the rule's own backend may be on one, unless private upstreams are allowed (--allow-private-upstreams)"
	}
	return &RefusedError{Target: target, Reason: reason}
}

// proxyAddr is the host:port the HTTP transport dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
