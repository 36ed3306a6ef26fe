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
	"github.com/stratoswarm/stratoswarm/internal/testbin"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/native"
)

var (
	initOnce sync.Once
	initBin  string
	initErr  error
)

// nativeRuntime is a native container runtime of the test's own (root
// only: these run real containers), with swarm-init built from this tree.
func nativeRuntime(t *testing.T) *native.Runtime {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests run candidates in real containers and need root")
	}
	initOnce.Do(func() {
		initBin = filepath.Join(filepath.Dir(tspsolverBin), native.InitName)
		initErr = testbin.Build(initBin, "./cmd/swarm-init")
	})
	if initErr != nil {
		t.Fatalf("build swarm-init: %v", initErr)
	}
	rt, err := native.New(native.Options{StateDir: t.TempDir(), InitPath: initBin, CgroupParent: "stratoswarm-suite-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rt.Close()
		for _, sub := range []string{"memory", "cpu", "pids"} {
			os.Remove(filepath.Join("/sys/fs/cgroup", sub, "stratoswarm-suite-test"))
		}
	})
	return rt
}

func containerSuite(t *testing.T, rt container.Runtime, limits container.Limits) *tspSuite {
	t.Helper()
	c := Catalog{TSPSolver: []string{tspsolverBin}, DataDir: t.TempDir(), Runtime: "native",
		Runtimes: map[string]container.Runtime{"native": rt}, DefaultLimits: limits}
	s, err := c.Lookup("tsplib-small", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*tspSuite)
}

// TestTSPLIBInContainers: a candidate evaluated in a native container
// scores what the same candidate scores as a plain process (the solver is
// deterministic), and no container or work directory is left after.
func TestTSPLIBInContainers(t *testing.T) {
	rt := nativeRuntime(t)
	s := containerSuite(t, rt, container.Limits{MemoryBytes: 256 << 20, CPUs: 1, Pids: 64})
	checkSameAsProcess(t, s)
}

// checkSameAsProcess evaluates the default genome on eil51 with s, a
// suite running candidates in containers, and checks it scores the gap
// the same candidate scores as a plain process (the solver is
// deterministic) and that no container or work directory is left.
func checkSameAsProcess(t *testing.T, s *tspSuite) {
	t.Helper()
	r, ok := s.run.(*containerRunner)
	if !ok {
		t.Fatalf("runner %T, want a container runner", s.run)
	}
	g := solver.DefaultGenome().Map()
	o := s.Evaluate(context.Background(), g, Task{Name: "eil51"}, 7)
	if o.Failed {
		t.Fatalf("eil51 in a %s container: %+v", r.rt.Name(), o)
	}
	plain := tspSuiteWith(t, []string{tspsolverBin}, time.Minute)
	p := plain.Evaluate(context.Background(), g, Task{Name: "eil51"}, 7)
	if p.Failed || p.Scores["gap"] != o.Scores["gap"] {
		t.Errorf("gap in a %s container %v, as a process %v (%+v): want the same", r.rt.Name(), o.Scores["gap"], p.Scores["gap"], p)
	}
	if cs, err := r.rt.List(context.Background()); err != nil || len(cs) != 0 {
		t.Errorf("containers left after the evaluation: %+v, %v", cs, err)
	}
	if left, _ := os.ReadDir(r.work); len(left) != 0 {
		t.Errorf("evaluation directories left: %v", left)
	}
}

// oomLimit is less memory than the solver (a Go program) needs to start.
const oomLimit = 1 << 20

// TestTSPLIBCandidateOverItsMemoryIsOOMKilled: with 1 MiB the solver
// cannot run; its evaluation fails saying it was OOM-killed.
func TestTSPLIBCandidateOverItsMemoryIsOOMKilled(t *testing.T) {
	rt := nativeRuntime(t)
	s := containerSuite(t, rt, container.Limits{MemoryBytes: oomLimit})
	o := s.Evaluate(context.Background(), solver.DefaultGenome().Map(), Task{Name: "eil51"}, 1)
	if !o.Failed || !strings.Contains(o.Reason, "OOM-killed") || !strings.Contains(o.Reason, "1 MiB") {
		t.Errorf("evaluation over its memory limit: %+v, want a failure saying it was OOM-killed over 2 MiB", o)
	}
	if cs, _ := rt.List(context.Background()); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}
}

// TestTSPLIBContainerCandidatesThatMisbehaveFail: a candidate past its
// time limit is killed and its container removed; a solver that fails says
// why.
func TestTSPLIBContainerCandidatesThatMisbehaveFail(t *testing.T) {
	rt := nativeRuntime(t)
	s := containerSuite(t, rt, container.Limits{})
	s.run.(*containerRunner).timeout = time.Nanosecond // expired before Wait: the solver can finish within a millisecond
	o := s.Evaluate(context.Background(), solver.DefaultGenome().Map(), Task{Name: "eil51"}, 1)
	if !o.Failed || !strings.Contains(o.Reason, "ran past its 1ns limit") {
		t.Errorf("a candidate past its limit: %+v", o)
	}
	s.run.(*containerRunner).timeout = time.Minute
	o = s.Evaluate(context.Background(), map[string]any{"construction": "teleport"}, Task{Name: "eil51"}, 1)
	if !o.Failed || !strings.Contains(o.Reason, "exited with status 2") || !strings.Contains(o.Reason, "construction") {
		t.Errorf("a bad genome: %+v", o)
	}
	if cs, _ := rt.List(context.Background()); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}
}

// TestTSPLIBContainerSetupErrors: what a container needs and lacks is a
// clear error at Lookup.
func TestTSPLIBContainerSetupErrors(t *testing.T) {
	rt := nativeRuntime(t)
	cases := []struct {
		name     string
		solver   []string
		runtimes map[string]container.Runtime
		want     string
	}{
		{"no runtime", []string{tspsolverBin}, nil, "has no native runtime"},
		{"with args", []string{tspsolverBin, "x"}, map[string]container.Runtime{"native": rt}, "a command with arguments"},
		{"dynamic", []string{"/bin/ls"}, map[string]container.Runtime{"native": rt}, "dynamically linked"}, // Debian's ls
	}
	for _, c := range cases {
		cat := Catalog{TSPSolver: c.solver, DataDir: t.TempDir(), Runtime: "native", Runtimes: c.runtimes}
		_, err := cat.Lookup("tsplib-small", Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "eval-runtime") {
			t.Errorf("%s: %v, want an error saying %q and naming eval-runtime", c.name, err, c.want)
		}
	}
}
