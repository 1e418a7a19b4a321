package cli

import "context"

// runDropIn runs Scarf Gateway's command line, "portico --manifest FILE":
// serve, with a manifest's only domain answering every host unless
// --default-domain says otherwise.
func runDropIn(ctx context.Context, env *Env, args []string) int {
	return runServeMode(ctx, env, args, true)
}
