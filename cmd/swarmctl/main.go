// Command swarmctl is the command-line client of Stratoswarm: kubectl-like
// verbs (ls, describe, label, cordon, create, rm, push, promote) over the
// gRPC API of swarmd, plus an embedded local mode that runs the control plane
// in-process when no daemon is running.
//
// The transport is plaintext gRPC for now (meant for loopback addresses),
// authenticated with the bearer token that swarmd writes to
// <data-dir>/token.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, newRootCmd(os.Stdin, os.Stdout, os.Stderr, os.Getenv), os.Args[1:])
	stop()
	os.Exit(code)
}
