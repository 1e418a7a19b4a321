package cli

import (
	"context"
	"fmt"

	"portico/internal/buildinfo"
)

func runVersion(_ context.Context, env *Env, args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(env.Stderr, "portico version: takes no arguments")
		return exitUsage
	}
	fmt.Fprint(env.Stdout, buildinfo.Read().Lines())
	return exitOK
}
