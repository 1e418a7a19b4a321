package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"portico/internal/app"
	"portico/internal/config"
	"portico/internal/manifest"
	"portico/internal/route"
)

func runCheck(_ context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("portico check", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	path := fs.String("manifest", "", "manifest `file` to check")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: portico check --manifest FILE\n\nValidates a manifest without serving it. Prints one line per problem and\nexits 1 if there is any.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	m, err := manifest.Load(*path)
	if err != nil {
		if problems := manifest.Errors(err); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(env.Stderr, p)
			}
			fmt.Fprintf(env.Stderr, "%s: %d problem(s)\n", *path, len(problems))
		} else {
			fmt.Fprintf(env.Stderr, "%s: %v\n", *path, err)
		}
		return exitFail
	}
	// Compiling catches what only the routing table can see, with the
	// handlers serve would build. The counts are the table's, as serve
	// logs them.
	opts, err := app.RuleOptions(config.Default(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", *path, err)
		return exitFail
	}
	defer opts.NPM.Cache.Close()
	t, err := route.Compile(m, opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", *path, err)
		return exitFail
	}
	fmt.Fprintf(env.Stdout, "%s: ok (%d rules, %d domains)\n", *path, t.Rules(), t.Domains())
	return exitOK
}
