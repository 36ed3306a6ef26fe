// Command swarm-init is the first process of every native container. The
// native runtime (runtime/native) starts it in fresh namespaces; it is not
// meant to be run by hand. See package runtime/native/initproc.
package main

import (
	"runtime"

	"github.com/stratoswarm/stratoswarm/runtime/native/initproc"
)

// Capabilities are per thread: the thread that confines itself must be the
// one that executes the command.
func init() { runtime.LockOSThread() }

func main() { initproc.Main() }
