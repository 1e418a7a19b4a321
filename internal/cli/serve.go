package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"portico/internal/clientip"
	"portico/internal/config"
	"portico/internal/doccache"
	"portico/internal/gateway/npm"
	"portico/internal/gateway/python"
	"portico/internal/manifest"
	"portico/internal/metrics"
	"portico/internal/ops"
	"portico/internal/pipeline"
	"portico/internal/reload"
	"portico/internal/route"
	"portico/internal/server"
	"portico/internal/upstream"
)

func runServe(ctx context.Context, env *Env, args []string) int {
	return runServeMode(ctx, env, args, false)
}

func runServeMode(ctx context.Context, env *Env, args []string, dropIn bool) int {
	cfg := config.Default()
	cfg.DropIn = dropIn
	fs := flag.NewFlagSet("portico serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: portico serve --manifest FILE [flags]\n\nRuns the gateway. Analytics events are written to standard output as JSON\nlines and recorded in the analytics store (--data or --database); logs go\nto standard error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := cfg.Load(fs, args, env.Lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(env.Stderr, "portico serve: %v\n", err)
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(env.Stderr, "portico serve: %v\n", err)
		return exitUsage
	}
	log := newLogger(env.Stderr, cfg)
	if err := serve(ctx, cfg, env.Stdout, log); err != nil {
		for _, p := range manifest.Errors(err) {
			fmt.Fprintln(env.Stderr, p)
		}
		if len(manifest.Errors(err)) == 0 {
			fmt.Fprintf(env.Stderr, "portico serve: %v\n", err)
		}
		return exitFail
	}
	return exitOK
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the gateway until ctx ends, then shuts down gracefully: it
// stops accepting, lets in-flight requests finish, and writes every queued
// event before returning.
func serve(ctx context.Context, cfg config.Config, events io.Writer, log *slog.Logger) error {
	trusted, err := clientip.ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	m := metrics.New()

	an, err := openAnalytics(ctx, cfg.Analytics, log)
	if err != nil {
		return err
	}
	defer an.close() // after pipe.Close, which hands the spool to the store
	var sinks []pipeline.Sink
	if cfg.Events == "stdout" {
		sinks = append(sinks, pipeline.NewLineSink(events))
	}
	sinks = append(sinks, an.sinks()...)
	pipe := pipeline.New(pipeline.Config{QueueSize: cfg.EventQueue, Sinks: sinks, Logger: log, Enricher: an.enricher, Linger: an.linger})
	m.WatchPipeline(pipe)
	m.Registry.MustRegister(an.collectors()...)

	dockerOpts, err := newDockerOptions(cfg, trusted, log)
	if err != nil {
		_ = pipe.Close(context.Background())
		return err
	}
	// Index pages, packuments, tarballs and publishes go out through the
	// outbound policy's transport (docs/security.md).
	outbound := upstream.NewClient(upstream.NewTransport(upstream.Options{AllowPrivate: cfg.AllowPrivateUpstreams}))
	// Upstream index pages and packuments are cached for the life of
	// the process, across manifest reloads.
	docs := doccache.New(doccache.Options{Logger: log, Client: outbound})
	opts := route.Options{
		Logger:      log,
		Docker:      dockerOpts,
		Python:      python.Options{Cache: docs, MaxPage: int64(cfg.MaxPythonPage)},
		NPM:         npm.Options{Cache: docs, Trusted: trusted, Client: outbound, Logger: log, MaxPackument: int64(cfg.MaxPackument)},
		BodyTimeout: cfg.BodyTimeout,
	}
	loader := reload.New(cfg.Manifest, opts, log, m)
	router, err := loader.Load(func(t *route.Table) *route.Router {
		return route.NewRouter(t, trusted, pipe, m)
	})
	if err != nil {
		_ = pipe.Close(context.Background())
		return err
	}
	if err := useDefaultDomain(router, cfg.DefaultDomain, cfg.DropIn, log); err != nil {
		_ = pipe.Close(context.Background())
		return err
	}

	lim := server.Limits{MaxHeaderBytes: cfg.MaxHeaderBytes, HeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.IdleTimeout}
	gw, err := server.Listen("gateway", cfg.Listen, router, lim, log)
	if err != nil {
		_ = pipe.Close(context.Background())
		return fmt.Errorf("gateway listener: %w", err)
	}
	opsHandler := ops.New(m.Registry, func() (bool, string) {
		s := loader.Status()
		return s.Generation > 0, s.Describe()
	}, an.check, func() (bool, string) { return true, router.DescribeDefault() })
	var opsSrv *server.Server
	if cfg.OpsListen != "off" {
		opsSrv, err = server.Listen("ops", cfg.OpsListen, opsHandler, lim, log)
		if err != nil {
			_ = pipe.Close(context.Background())
			return fmt.Errorf("ops listener: %w", err)
		}
		opsSrv.Start()
		log.Info("ops listening", "addr", opsSrv.Addr().String())
	}
	gw.Start()
	log.Info("gateway listening", "addr", gw.Addr().String())

	// Events are written to stdout, often a pipe into another program.
	// If that program exits, writes must fail (and be counted) rather
	// than kill the gateway with SIGPIPE: serving does not depend on
	// recording.
	signal.Ignore(syscall.SIGPIPE)

	watchCtx, stopWatch := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		loader.Watch(watchCtx, cfg.ReloadInterval, hup)
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case runErr = <-gw.Done():
		log.Error("gateway listener failed", "err", runErr)
	}
	signal.Stop(hup)
	stopWatch()
	<-watchDone

	opsHandler.Drain()
	// Requests waiting for an upstream document get the cached copy or
	// a 503 now rather than holding the shutdown up.
	docs.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	_ = gw.Shutdown(shutdownCtx)
	// Events of the requests that just finished are still queued:
	// write them all before exiting.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFlush()
	if err := pipe.Close(flushCtx); err != nil {
		log.Error("flushing events", "err", err, "unwritten", pipe.Stats().Queued)
	}
	if opsSrv != nil {
		_ = opsSrv.Shutdown(shutdownCtx)
	}
	log.Info("stopped")
	return runErr
}
