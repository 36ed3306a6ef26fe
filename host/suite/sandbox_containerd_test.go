package suite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/containerd"
	"github.com/stratoswarm/stratoswarm/runtime/containerd/containerdtest"
)

// containerdEnv is the containerd the package's containerd tests share:
// started by the first test that needs it, stopped by TestMain after all
// of them (stopContainerd).
type containerdEnv struct {
	once   sync.Once
	daemon *containerdtest.Daemon
	rt     *containerd.Runtime
	ns     string
	err    error
}

var ctrd containerdEnv

// containerdRuntime is a containerd runtime on a containerd of the tests'
// own, in a namespace of their own (root only).
func containerdRuntime(t *testing.T) *containerd.Runtime {
	t.Helper()
	ctrd.once.Do(func() {
		dir := filepath.Join(filepath.Dir(tspsolverBin), "containerd")
		if ctrd.daemon, ctrd.err = containerdtest.Start(filepath.Join(dir, "daemon")); ctrd.err != nil {
			return
		}
		ctrd.ns = containerdtest.Namespace("stratoswarm-suite")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ctrd.rt, ctrd.err = containerd.New(ctx, containerd.Options{Address: ctrd.daemon.Address, Namespace: ctrd.ns, LogDir: filepath.Join(dir, "logs")})
	})
	if ctrd.err != nil {
		t.Fatalf("a containerd for the tests: %v", ctrd.err)
	}
	return ctrd.rt
}

// stopContainerd stops the containerd a test started, if any, and removes
// what runc left for its namespace.
func stopContainerd() {
	if ctrd.rt != nil {
		ctrd.rt.Close()
	}
	if ctrd.daemon != nil {
		if err := ctrd.daemon.Stop(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
		}
	}
	if ctrd.ns != "" {
		containerdtest.RemoveNamespaceLeftovers(ctrd.ns)
	}
}

func containerdSuite(t *testing.T, limits container.Limits) *tspSuite {
	t.Helper()
	c := Catalog{TSPSolver: []string{tspsolverBin}, DataDir: t.TempDir(), Runtime: "containerd",
		Runtimes: map[string]container.Runtime{"containerd": containerdRuntime(t)}, DefaultLimits: limits}
	s, err := c.Lookup("tsplib-small", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*tspSuite)
}

// TestTSPLIBInContainerdContainers: a candidate evaluated in a containerd
// container of the scratch image scores what the same candidate scores as
// a plain process, and no container or work directory is left after.
func TestTSPLIBInContainerdContainers(t *testing.T) {
	s := containerdSuite(t, container.Limits{MemoryBytes: 256 << 20, CPUs: 1, Pids: 64})
	if r, ok := s.run.(*containerRunner); !ok || r.image != containerd.Scratch {
		t.Fatalf("runner %+v, want a container runner of image %q", s.run, containerd.Scratch)
	}
	checkSameAsProcess(t, s)
}

// TestTSPLIBContainerdCandidateUnderRuncsMemoryFails: with 1 MiB, less
// than runc's own init uses, runc refuses to start the candidate (so it is
// not OOM-killed as in the native backend); its evaluation fails saying
// the memory limit is too low, and nothing is left.
func TestTSPLIBContainerdCandidateUnderRuncsMemoryFails(t *testing.T) {
	s := containerdSuite(t, container.Limits{MemoryBytes: oomLimit})
	o := s.Evaluate(context.Background(), solver.DefaultGenome().Map(), Task{Name: "eil51"}, 1)
	if !o.Failed || !strings.Contains(o.Reason, "memory limit is below what runc's init already uses") {
		t.Errorf("evaluation under runc's memory: %+v, want a failure saying the memory limit is too low", o)
	}
	if cs, _ := s.run.(*containerRunner).rt.List(context.Background()); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}
}
