package suite

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
	"github.com/stratoswarm/stratoswarm/host/space"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// tspsolverBin is the example agent, built once for these tests.
var tspsolverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "suite-test")
	if err != nil {
		panic(err)
	}
	tspsolverBin = filepath.Join(dir, "tspsolver")
	if err := testbin.Build(tspsolverBin, "./benchmarks/agents/tspsolver"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stopContainerd()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestBBOBNames(t *testing.T) {
	c := Catalog{}
	s, err := c.Lookup("bbob-f8-d10-i2", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Space().GetParameters()) != 10 || len(s.Tasks()) != 1 || s.Objectives()[0].Name != "delta_f" {
		t.Fatalf("suite %s: %d parameters, %d tasks", s.Name(), len(s.Space().GetParameters()), len(s.Tasks()))
	}
	p := s.(*bbobSuite).Problem()
	opt := map[string]any{}
	for i, x := range p.Xopt() {
		opt[fmt.Sprintf("x%d", i)] = x
	}
	if o := s.Evaluate(context.Background(), opt, s.Tasks()[0], 0); o.Failed || math.Abs(o.Scores["delta_f"]) > 1e-8 {
		t.Fatalf("at the optimum: %+v", o)
	}
	if o := s.Evaluate(context.Background(), map[string]any{"x0": "a"}, s.Tasks()[0], 0); !o.Failed || !strings.Contains(o.Reason, "x0") {
		t.Fatalf("bad genome: %+v", o)
	}
	for _, bad := range []string{"bbob-f8", "bbob-x8-d10", "bbob-f25-d10", "bbob-f8-d1", "bbob-f8-d10-i0", "bbob-f8-d10-i1-z", "bob"} {
		if _, err := c.Lookup(bad, Options{}); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestAggregateAndStages(t *testing.T) {
	objs := []Objective{{Name: "gap"}}
	scores, failed, _ := Aggregate([]Outcome{{Scores: map[string]float64{"gap": 0.1}}, {Scores: map[string]float64{"gap": 0.3}}}, objs)
	if failed || math.Abs(scores["gap"]-0.2) > 1e-12 {
		t.Fatalf("mean: %v %v", scores, failed)
	}
	// A failed task counts as the worst score seen.
	scores, failed, _ = Aggregate([]Outcome{{Scores: map[string]float64{"gap": 0.1}}, {Scores: map[string]float64{"gap": 0.3}}, {Failed: true, Reason: "crash"}}, objs)
	if failed || math.Abs(scores["gap"]-(0.1+0.3+0.3)/3) > 1e-12 {
		t.Fatalf("with a failure: %v", scores)
	}
	if _, failed, reason := Aggregate([]Outcome{{Failed: true, Reason: "crash"}}, objs); !failed || reason != "crash" {
		t.Fatalf("all failed: %v %q", failed, reason)
	}
	s, err := Catalog{TSPSolver: []string{tspsolverBin}, DataDir: t.TempDir()}.Lookup("tsplib", Options{})
	if err != nil {
		t.Fatal(err)
	}
	stages, err := StageTasks(s, []string{"small", "medium", "full"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	seen := map[string]bool{}
	for _, st := range stages {
		for _, task := range st {
			if seen[task.Name] {
				t.Fatalf("task %s in two stages", task.Name)
			}
			seen[task.Name] = true
			total++
		}
	}
	if len(stages[0]) != 3 || total != len(s.Tasks()) {
		t.Fatalf("stages %d/%d tasks, want 3 first and %d in all", len(stages[0]), total, len(s.Tasks()))
	}
	if _, err := StageTasks(s, []string{"tiny"}); err == nil || !strings.Contains(err.Error(), `no subset "tiny"`) {
		t.Fatalf("unknown subset: %v", err)
	}
}

func tspSuiteWith(t *testing.T, command []string, timeout time.Duration) *tspSuite {
	t.Helper()
	s, err := Catalog{TSPSolver: command, DataDir: t.TempDir()}.Lookup("tsplib-small", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := s.(*tspSuite)
	pr := ts.run.(processRunner)
	pr.timeout = timeout
	ts.run = pr
	return ts
}

func TestTSPLIBRunsTheSolverPerEvaluation(t *testing.T) {
	s := tspSuiteWith(t, []string{tspsolverBin}, time.Minute)
	if err := space.CheckGenome(s.Space(), solver.DefaultGenome().Map()); err != nil {
		t.Fatalf("the default genome is outside the suite's space: %v", err)
	}
	o := s.Evaluate(context.Background(), solver.DefaultGenome().Map(), Task{Name: "eil51"}, 1)
	if o.Failed || o.Scores["gap"] < 0 || o.Scores["gap"] > 1 {
		t.Fatalf("eil51: %+v", o)
	}
	again := s.Evaluate(context.Background(), solver.DefaultGenome().Map(), Task{Name: "eil51"}, 1)
	if again.Scores["gap"] != o.Scores["gap"] {
		t.Fatalf("not deterministic: %v then %v", o.Scores, again.Scores)
	}
}

func TestTSPLIBCandidatesThatMisbehaveFail(t *testing.T) {
	g := solver.DefaultGenome().Map()
	cases := []struct {
		name    string
		command []string
		timeout time.Duration
		genome  map[string]any
		want    string
	}{
		{"crash", []string{"sh", "-c", "echo boom >&2; exit 3", "x"}, time.Minute, g, "exited with exit status 3: boom"},
		{"hang", []string{"sh", "-c", "sleep 600", "x"}, 200 * time.Millisecond, g, "ran past its 200ms limit"},
		{"garbage", []string{"echo", "hello"}, time.Minute, g, "not a tspsolver result"},
		{"missing binary", []string{"/nonexistent/tspsolver"}, time.Minute, g, "start /nonexistent/tspsolver"},
		{"bad genome", []string{tspsolverBin}, time.Minute, map[string]any{"construction": "teleport"}, "construction"},
		{"lying tour", []string{"sh", "-c", `echo '{"instance":"eil51","length":1,"gap":0,"tour":[1,2,3],"time_ms":1}'`, "x"}, time.Minute, g, "not a tour of eil51"},
	}
	for _, c := range cases {
		s := tspSuiteWith(t, c.command, c.timeout)
		o := s.Evaluate(context.Background(), c.genome, Task{Name: "eil51"}, 1)
		if !o.Failed || !strings.Contains(o.Reason, c.want) {
			t.Errorf("%s: %+v, want a failure containing %q", c.name, o, c.want)
		}
	}
}

func TestLookupMergesAndChecksCandidateLimits(t *testing.T) {
	c := Catalog{TSPSolver: []string{tspsolverBin}, DataDir: t.TempDir(), Runtime: "process",
		DefaultLimits: container.Limits{MemoryBytes: 512 << 20, CPUs: 1, Pids: 128}}
	s, err := c.Lookup("tsplib-small", Options{Limits: container.Limits{CPUs: 0.5, Tiers: map[container.Tier]int64{container.TierCPU: 256 << 20, container.TierNVMe: 1 << 30}}})
	if err != nil {
		t.Fatal(err)
	}
	want := container.Limits{CPUs: 0.5, Pids: 128, Tiers: map[container.Tier]int64{container.TierCPU: 256 << 20, container.TierNVMe: 1 << 30}}
	if got := s.(*tspSuite).limits; !reflect.DeepEqual(got, want) || got.Memory() != 256<<20 {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	s, err = c.Lookup("tsplib-small", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(*tspSuite).limits; !reflect.DeepEqual(got, c.DefaultLimits) {
		t.Errorf("no options: limits %+v, want the defaults %+v", got, c.DefaultLimits)
	}
	for _, name := range []string{"tsplib-small", "bbob-f1-d10"} {
		_, err := c.Lookup(name, Options{Limits: container.Limits{Tiers: map[container.Tier]int64{"xyz": 1}}})
		if err == nil || !strings.Contains(err.Error(), "suite "+name+": candidate limits: limits: Tiers[\"xyz\"]: unknown tier") {
			t.Errorf("%s with an unknown tier: %v", name, err)
		}
	}
	bad := c
	bad.DefaultLimits.Pids = -1
	if _, err := bad.Lookup("bbob-f1-d10", Options{}); err == nil || !strings.Contains(err.Error(), "Pids") {
		t.Errorf("bad defaults: %v", err)
	}
}
