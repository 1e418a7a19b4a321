package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"portico/internal/app"
	"portico/internal/buildinfo"
	"portico/internal/config"
	"portico/internal/logging"
	"portico/internal/manifest"
)

func runServe(ctx context.Context, env *Env, args []string) int {
	return runServeMode(ctx, env, args, false)
}

func runServeMode(ctx context.Context, env *Env, args []string, dropIn bool) int {
	cfg := config.Default()
	cfg.DropIn = dropIn
	cfg.Version = buildinfo.Read().Version
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
	log := logging.New(env.Stderr, cfg.LogFormat, cfg.LogLevel)
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

// serve runs the gateway until ctx ends, then shuts down gracefully: it
// stops accepting, lets in-flight requests finish, and writes every queued
// event before returning.
func serve(ctx context.Context, cfg config.Config, events io.Writer, log *slog.Logger) error {
	a, err := app.New(ctx, cfg, events, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
