// Command swarm-init is the first process of every native container. The
// native runtime (runtime/native) starts it in fresh namespaces; it is not
// meant to be run by hand. With --spawner it is the runtime's spawner, the
// small process that clones the containers' inits. See package
// runtime/native/initproc.
package main

import (
	"os"
	"runtime"

	"github.com/stratoswarm/stratoswarm/runtime/native/initproc"
)

// Capabilities are per thread: the thread that confines itself must be the
// one that executes the command.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 && os.Args[1] == initproc.SpawnerArg {
		initproc.Spawner()
	}
	initproc.Main()
}
