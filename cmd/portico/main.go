// Command portico is a self-hostable artifact distribution gateway: it
// serves container images, Python and npm packages and plain files from
// your own domain while the bytes stay on the hosts that store them, and
// records every download as a privacy-respecting analytics event.
//
// Run "portico help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"portico/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
