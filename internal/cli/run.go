// Package cli implements the portico command: its subcommands, their
// flags and their exit codes.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (bad manifest, listener error)
	exitUsage = 2 // the command line is wrong
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) int
}

// Env is what a command may use from its process: its standard
// streams and its environment.
type Env struct {
	// Stdin is read by the commands that take a secret: a terminal is
	// prompted without echo.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Lookup         func(string) (string, bool)
}

func commands() []command {
	return []command{
		{"serve", "run the gateway", runServe},
		{"check", "validate a manifest and report every problem", runCheck},
		{"stats", "show download analytics from the store, or export events", runStats},
		{"users", "add users (the first server administrator), or make sign-in links", runUsers},
		{"tokens", "create API tokens", runTokens},
		{"orgs", "add and list organizations", runOrgs},
		{"domains", "add domains to organizations", runDomains},
		{"import", "load a manifest's rules into the store as packages", runImport},
		{"export", "write the store's packages as a manifest", runExportManifest},
		{"version", "print the version", runVersion},
		{"help", "list the commands, or describe one: portico help COMMAND", runHelp},
	}
}

// Run runs the command line args (without the program name) and returns
// the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Lookup: os.LookupEnv}
	return RunEnv(ctx, env, args)
}

// RunEnv is Run with an explicit environment, for tests.
func RunEnv(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return exitUsage
	}
	name := args[0]
	if strings.HasPrefix(name, "-") {
		if name == "-h" || name == "-help" || name == "--help" {
			usage(env.Stdout)
			return exitOK
		}
		// "portico --manifest FILE" is Scarf Gateway's command line.
		return runDropIn(ctx, env, args)
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "portico: unknown command %q\n\n", name)
	usage(env.Stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Portico serves software from your own domain while the bytes stay where
they are hosted, and records every download as a privacy-respecting event.

Usage:
  portico COMMAND [flags]
  portico --manifest FILE      same as "portico serve --manifest FILE"

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "portico help COMMAND" for the flags of a command ("portico help users
add" for a subcommand's).
`)
}

func runHelp(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] && c.name != "help" {
			return c.run(ctx, &Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stdout, Lookup: env.Lookup}, append(args[1:], "-h"))
		}
	}
	fmt.Fprintf(env.Stderr, "portico help: unknown command %q\n", args[0])
	return exitUsage
}
