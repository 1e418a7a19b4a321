// Package app assembles a Portico process from its settings: metrics, the
// analytics store with its spool and the event pipeline, the options that
// rules need at request time, the router and what reloads it, the
// listeners and the operator endpoints. Package cli parses the command
// line into a config.Config; New builds everything from it, all or
// nothing, and Run serves until its context ends.
//
// Every part that needs releasing is pushed on one stack of closers as
// it is built, and the stack runs in reverse on every exit path: when
// New fails part way, and when Run returns. No error path repeats a
// clean-up, and shutdown is the assembly backwards: /readyz starts
// failing, the gateway listener finishes its in-flight requests, the
// pipeline writes every queued event, the operator listener closes, and
// the store is released.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"portico/internal/buildinfo"
	"portico/internal/certs"
	"portico/internal/clientip"
	"portico/internal/config"
	"portico/internal/doccache"
	"portico/internal/gateway/npm"
	"portico/internal/gateway/python"
	"portico/internal/logging"
	"portico/internal/metrics"
	"portico/internal/observe"
	"portico/internal/ops"
	"portico/internal/pipeline"
	"portico/internal/ratelimit"
	"portico/internal/reload"
	"portico/internal/route"
	"portico/internal/server"
	"portico/internal/tracing"
	"portico/internal/upstream"
)

// flushTimeout bounds the writing of the queued events at shutdown.
const flushTimeout = 10 * time.Second

// App is one gateway process.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	trusted *clientip.Trusted
	metrics *metrics.Gateway
	an      *analytics
	pipe    *pipeline.Pipeline
	docs    *doccache.Cache
	loader  *reload.Loader
	router  *route.Router
	gw      *server.Server
	ops     *server.Server   // nil with --ops-listen off
	control *controlPlane    // nil without a store
	app     *server.Server   // nil without a store or with --app-listen off
	tracing *tracing.Tracing // nil unless traces are exported
	https   *server.Server   // nil with --https-listen off
	certs   *certs.Manager   // nil with --https-listen off
	// httpsPort is the HTTPS listener's port, 0 without one.
	httpsPort int
	// appHost is --app-domain's host key, "" without one.
	appHost string
	// warms counts the warmings of the dashboard's pages that ended.
	warms   atomic.Int64
	closers closers
}

// New builds the process that cfg describes: it opens the store, loads
// the manifest and binds the listeners, but serves nothing until Run.
// Events are written to events as JSON lines when cfg.Events is
// "stdout"; logs go to log. On error, everything built so far is
// released.
func New(ctx context.Context, cfg config.Config, events io.Writer, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, appHost: appHostKey(cfg.Control.AppDomain)}
	if err := a.build(ctx, events); err != nil {
		a.closers.run(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, events io.Writer) error {
	var err error
	if a.trusted, err = clientip.ParseTrusted(a.cfg.TrustedProxies); err != nil {
		return err
	}
	a.metrics = metrics.New()
	if a.cfg.Tracing() {
		if a.tracing, err = tracing.New(ctx, tracing.Config{Endpoint: a.cfg.OTLPEndpoint, Version: a.cfg.Version, Logger: a.log}); err != nil {
			return err
		}
		// Last of all: the spans of the final store appends go out too.
		a.closers.push(func(context.Context) {
			sctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			if err := a.tracing.Shutdown(sctx); err != nil {
				a.log.Warn("exporting the last traces", "err", err)
			}
		})
		a.log.Info("exporting traces over OTLP", "endpoint", describeEndpoint(a.cfg))
	}
	if err := a.openEvents(ctx, events); err != nil {
		return err
	}
	if a.control, err = a.newControlPlane(); err != nil {
		return err
	}
	if err := a.loadRules(); err != nil {
		return err
	}
	return a.listen()
}

// openEvents opens the analytics side and the event pipeline in front of
// it.
func (a *App) openEvents(ctx context.Context, events io.Writer) error {
	cfg, log := a.cfg, a.log
	an, err := openAnalytics(ctx, cfg.Analytics, log, a.tracing.Tracer("portico/spool"))
	if err != nil {
		return err
	}
	a.an = an
	a.closers.push(func(context.Context) { an.close() }) // after the pipeline, which hands the spool to the store
	// The operator listener closes once the events are written: until
	// then /readyz reports the drain and /metrics the final counts.
	a.closers.push(func(ctx context.Context) {
		if a.ops != nil {
			_ = a.ops.Shutdown(ctx)
		}
	})
	var sinks []pipeline.Sink
	if cfg.Events == "stdout" {
		sinks = append(sinks, pipeline.NewLineSink(events))
	}
	sinks = append(sinks, an.sinks()...)
	pipe := pipeline.New(pipeline.Config{QueueSize: cfg.EventQueue, Sinks: sinks, Logger: log, Enricher: an.enricher, Linger: an.linger})
	a.pipe = pipe
	a.closers.push(func(context.Context) {
		// Events of the requests that just finished are still queued:
		// write them all before exiting.
		flushCtx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := pipe.Close(flushCtx); err != nil {
			log.Error("flushing events", "err", err, "unwritten", pipe.Stats().Queued)
		}
	})
	a.metrics.WatchPipeline(pipe)
	a.metrics.Registry.MustRegister(an.collectors()...)
	return nil
}

// loadRules builds what rules need at request time and loads the rules
// of their sources into a new router.
func (a *App) loadRules() error {
	cfg, log, trusted := a.cfg, a.log, a.trusted
	outbound := newTransport(cfg, a.tracing.Tracer("portico/upstream"))
	a.metrics.Registry.MustRegister(outbound.Collector())
	opts, err := ruleOptions(cfg, log, outbound)
	if err != nil {
		return err
	}
	a.docs = opts.NPM.Cache
	// Backends with a fallback are probed for as long as the process
	// serves.
	a.metrics.Registry.MustRegister(opts.Health)
	probeCtx, stopProbes := context.WithCancel(context.Background())
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		opts.Health.Run(probeCtx)
	}()
	a.closers.push(func(context.Context) {
		stopProbes()
		<-probed
	})
	if err := a.openCache(&opts); err != nil {
		return err
	}
	// The rules' sources, compiled in this order into one table: on a
	// tie, the manifest's rule wins.
	var sources []reload.Source
	var file reload.Source
	if cfg.Manifest != "" {
		file = reload.NewFile(cfg.Manifest, log)
		sources = append(sources, file)
	}
	if a.control != nil {
		sources = append(sources, a.control.source)
	}
	loader := reload.NewLoader(sources, opts, log, a.metrics)
	router, err := loader.Load(func(t *route.Table) *route.Router {
		return route.NewRouter(t, trusted, a.pipe, a.metrics)
	})
	if err != nil {
		return err
	}
	a.loader, a.router = loader, router
	// Reading and compiling the first table leaves as much garbage as
	// the table, which the collector lets the heap grow to before it
	// collects: the pages it freed stay in the process until the
	// runtime's scavenger gets to them, long after. Handing them back
	// once, now, keeps the resident memory of a large table near what
	// it holds (docs/scaling.md); later tables are compiled
	// incrementally and leave little.
	debug.FreeOSMemory()
	if a.control != nil {
		if err := a.startControl(file); err != nil {
			return err
		}
	}
	return useDefaultDomain(router, cfg.DefaultDomain, cfg.DropIn, log)
}

// RuleOptions builds what rules need at request time, as the process
// that cfg describes serves them: the registry proxy and token signer,
// the public access policy of Portico's auth handshake, the outbound
// client and the cache of upstream index pages and packuments, shared by
// python and npm rules. Build them once per process: they outlive every
// table. "portico check" compiles with them too, so that a manifest is
// checked by the code that will serve it.
func RuleOptions(cfg config.Config, log *slog.Logger) (route.Options, error) {
	return ruleOptions(cfg, log, newTransport(cfg, nil))
}

// newTransport returns the process's one outbound transport: every
// request to a backend goes through it, so that its cap of requests in
// flight per backend holds for docker, Python and npm rules together.
func newTransport(cfg config.Config, tracer trace.Tracer) *upstream.Transport {
	return upstream.NewTransport(upstream.Options{AllowPrivate: cfg.AllowPrivateUpstreams, MaxConnsPerBackend: cfg.UpstreamMaxConns, Tracer: tracer})
}

func ruleOptions(cfg config.Config, log *slog.Logger, transport *upstream.Transport) (route.Options, error) {
	dockerOpts, err := newDockerOptions(cfg, log, transport)
	if err != nil {
		return route.Options{}, err
	}
	// Index pages, packuments, tarballs and publishes go out through the
	// outbound policy's transport (docs/security.md).
	outbound := upstream.NewClient(transport)
	// Upstream index pages and packuments are cached for the life of
	// the process, across manifest reloads.
	docs := doccache.New(doccache.Options{Logger: log, Client: outbound})
	// One health state per process: the backends of rules with a
	// fallback keep theirs across reloads.
	interval := cfg.ProbeInterval
	if interval == 0 {
		interval = -1
	}
	health := upstream.NewHealth(transport, upstream.HealthOptions{Threshold: cfg.FallbackAfter, Interval: interval, Timeout: cfg.FallbackTimeout})
	dockerOpts.Health = health
	opts := route.Options{
		Health:      health,
		Docker:      dockerOpts,
		Python:      python.Options{Cache: docs, MaxPage: int64(cfg.MaxPythonPage), Client: outbound, Health: health},
		NPM:         npm.Options{Cache: docs, Client: outbound, Logger: log, MaxPackument: int64(cfg.MaxPackument), StallTimeout: cfg.StallTimeout, Health: health},
		BodyTimeout: cfg.BodyTimeout,
	}
	// Checked for every rule kind now, whatever the manifest holds: a
	// missing dependency is a startup error, not a rejected reload the
	// first time a rule of its kind arrives.
	if err := opts.Validate(); err != nil {
		return route.Options{}, err
	}
	return opts, nil
}

// listen binds the gateway, HTTPS and operator listeners.
func (a *App) listen() error {
	cfg, log := a.cfg, a.log
	lim := server.Limits{MaxHeaderBytes: cfg.MaxHeaderBytes, HeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.IdleTimeout}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway listener: %w", err)
	}
	a.closers.push(func(context.Context) { _ = ln.Close() }) // until the server owns it
	plain, err := a.listenHTTPS(ln, a.frontHandler(), lim)
	if err != nil {
		return err
	}
	gw := server.New("gateway", ln, plain, lim, log)
	if cfg.LeanLoop {
		gw.ServeLean(a.router.Plain)
	}
	a.gw = gw
	a.closers.push(func(ctx context.Context) { _ = gw.Shutdown(ctx) })
	opsHandler := ops.New(a.metrics.Registry, func() (bool, string) {
		s := a.loader.Status()
		return s.Generation > 0, s.Describe()
	}, a.an.check, func() (bool, string) { return true, a.router.DescribeDefault() }, a.describeTLS)
	// First of all, /readyz fails, so that load balancers stop sending
	// new requests while the gateway finishes the ones in flight.
	a.closers.push(func(context.Context) { opsHandler.Drain() })
	if cfg.Pprof {
		opsHandler.ServePprof()
	}
	if cfg.OpsListen != "off" {
		if a.ops, err = server.Listen("ops", cfg.OpsListen, opsHandler, lim, log); err != nil {
			return fmt.Errorf("ops listener: %w", err)
		}
	}
	return a.listenApp(lim)
}

// frontHandler is the gateway listener's handler: the gateway behind
// the per-client rate limit, when there is one, inside the access log
// and the request's span, when they are on. With none of them it is the
// gateway itself.
func (a *App) frontHandler() http.Handler {
	h := a.gatewayHandler()
	if a.cfg.RateLimit > 0 {
		limiter := ratelimit.New(ratelimit.Config{Rate: a.cfg.RateLimit, Burst: a.cfg.RateLimitBurst, MaxClients: a.cfg.RateLimitClients, Trusted: a.trusted})
		a.metrics.Registry.MustRegister(limiter.Collectors()...)
		h = limiter.Handler(h)
	}
	o := observe.Options{Tracer: a.tracing.Tracer("portico/gateway"), Trusted: a.trusted}
	if a.cfg.AccessLog {
		o.AccessLog = logging.Access(a.log)
	}
	return observe.Wrap(h, o)
}

// describeEndpoint names where traces go, for the start-up log.
func describeEndpoint(cfg config.Config) string {
	if cfg.OTLPEndpoint != "" {
		return cfg.OTLPEndpoint
	}
	return "from OTEL_EXPORTER_OTLP_*"
}

// Run serves until ctx ends or the gateway listener fails, then shuts
// down (see the package documentation) and returns the listener's error,
// if any. In-flight requests get cfg.ShutdownTimeout to finish. Run
// releases everything; call it once.
func (a *App) Run(ctx context.Context) error {
	if a.ops != nil {
		a.ops.Start()
		a.log.Info("ops listening", "addr", a.ops.Addr().String())
	}
	a.gw.Start()
	a.log.Info("gateway listening", "addr", a.gw.Addr().String(), "version", buildinfo.Read().String())
	if a.https != nil {
		a.https.Start()
		a.log.Info("https listening", "addr", a.https.Addr().String(), "acme_ca", acmeCA(a.cfg.TLS), "certificate_files", len(a.cfg.TLS.Certs))
	}
	if a.app != nil {
		a.app.Start()
		a.log.Info("app listening", "addr", a.app.Addr().String(), "api", "http://"+a.app.Addr().String()+"/api/v1/")
	}
	if a.control != nil {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { a.maintainControl(ctx) })
		wg.Go(func() { a.control.creator.Run(ctx) })
		// Warming serves the dashboard, when a listener serves it.
		if lite := a.pastSums(); lite != nil && (a.app != nil || a.appHost != "") {
			wg.Go(func() { a.warmDashboard(ctx, lite) })
		}
		a.closers.push(func(context.Context) { stop(); wg.Wait() })
	}

	// Events are written to stdout, often a pipe into another program.
	// If that program exits, writes must fail (and be counted) rather
	// than kill the gateway with SIGPIPE: serving does not depend on
	// recording.
	signal.Ignore(syscall.SIGPIPE)
	a.closers.push(a.watch())

	a.closers.push(a.watchCertFiles())

	var runErr error
	var httpsDone <-chan error
	if a.https != nil {
		httpsDone = a.https.Done()
	}
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	case runErr = <-a.gw.Done():
		a.log.Error("gateway listener failed", "err", runErr)
	case runErr = <-httpsDone:
		a.log.Error("https listener failed", "err", runErr)
	}
	// Requests waiting for an upstream document get the cached copy or
	// a 503 now rather than holding the shutdown up.
	a.docs.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	a.closers.run(shutdownCtx)
	a.log.Info("stopped")
	return runErr
}

// Close releases an App that was built but not run.
func (a *App) Close() { a.closers.run(context.Background()) }

// watch reloads the rules when a source changes and on SIGHUP, until the
// function it returns stops it.
func (a *App) watch() func(context.Context) {
	ctx, stop := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.loader.Watch(ctx, a.cfg.ReloadInterval, hup)
	}()
	return func(context.Context) {
		signal.Stop(hup)
		stop()
		<-done
	}
}

// closers is a stack of clean-ups, run in the reverse order of pushing.
type closers []func(ctx context.Context)

func (c *closers) push(f func(ctx context.Context)) { *c = append(*c, f) }

// run runs every clean-up once, the last pushed first; ctx bounds the
// graceful ones.
func (c *closers) run(ctx context.Context) {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i](ctx)
	}
	*c = nil
}
