package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"portico/internal/app"
	"portico/internal/config"
	"portico/internal/control"
)

// An operatorCmd is one of the operator's commands on the store: users,
// tokens, domains, import and export. They take serve's store flags
// (--data, --database) and --base-domain, from flags or the
// environment.
type operatorCmd struct {
	name  string // "portico users add"
	usage string // the text before the flags
	env   *Env
	fs    *flag.FlagSet
	op    config.Operator
	args  []string // the arguments besides the flags
}

// newOperatorCmd returns a command whose own flags are defined on its
// flag set before parse.
func newOperatorCmd(env *Env, name, usage string) *operatorCmd {
	c := &operatorCmd{name: name, usage: usage, env: env, op: config.DefaultOperator()}
	c.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	c.fs.SetOutput(env.Stderr)
	c.fs.Usage = func() {
		fmt.Fprint(c.fs.Output(), usage)
		c.fs.PrintDefaults()
	}
	return c
}

// parse reads the flags and checks that there are want arguments. It
// returns an exit code to return at once, or -1 to go on.
func (c *operatorCmd) parse(args []string, want int, what string) int {
	rest, err := c.op.Load(c.fs, args, c.env.Lookup)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(c.env.Stderr, "%s: %s\n", c.name, line)
		}
		return exitUsage
	}
	switch {
	case len(rest) < want:
		fmt.Fprintf(c.env.Stderr, "%s: give %s\n", c.name, what)
		return exitUsage
	case len(rest) > want:
		fmt.Fprintf(c.env.Stderr, "%s: unexpected argument %q\n", c.name, rest[want])
		return exitUsage
	}
	c.args = rest
	return -1
}

// usageError reports a bad value on the command line.
func (c *operatorCmd) usageError(format string, args ...any) int {
	fmt.Fprintf(c.env.Stderr, "%s: %s\n", c.name, fmt.Sprintf(format, args...))
	return exitUsage
}

// fail reports an error of the command and returns its exit code.
func (c *operatorCmd) fail(err error) int {
	fmt.Fprintf(c.env.Stderr, "%s: %v\n", c.name, err)
	return exitFail
}

// open opens the control plane's service over the store.
func (c *operatorCmd) open(ctx context.Context, readOnly bool) (*control.Service, func(), error) {
	log := slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return app.OpenService(ctx, c.op.StoreLocation, c.op.Control(), app.StoreOptions{ReadOnly: readOnly, Logger: log})
}

// runGroup runs one of the subcommands of a command such as "portico
// users".
func runGroup(ctx context.Context, env *Env, name, summary string, subs []command, args []string) int {
	usage := func(w *Env) {
		fmt.Fprintf(w.Stdout, "Usage: portico %s COMMAND [flags]\n\n%s\n\nCommands:\n", name, summary)
		for _, s := range subs {
			fmt.Fprintf(w.Stdout, "  %-6s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w.Stdout, "\nRun \"portico help %s COMMAND\" for the flags of a command.\n", name)
	}
	if len(args) == 0 {
		usage(&Env{Stdout: env.Stderr})
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(env)
		return exitOK
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "portico %s: unknown command %q\n\n", name, args[0])
	usage(&Env{Stdout: env.Stderr})
	return exitUsage
}

// storeFlagsHelp ends the usage of every operator command.
const storeFlagsHelp = `The store is the gateway's: --data and --database (or PORTICO_DATA and
PORTICO_DATABASE) as given to portico serve. A running gateway routes
what this changes within its --reload-interval, and at once on
PostgreSQL.

Flags:
`
