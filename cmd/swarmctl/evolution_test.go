package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// fakeToken is the bearer token the fake EvolutionService wants.
const fakeToken = "evolution-test-token"

// fakeEvolutions is an in-memory EvolutionService: evolutions and their
// candidates, the requests it got, and a scripted watch.
type fakeEvolutions struct {
	v1.UnimplementedEvolutionServiceServer

	mu         sync.Mutex
	evolutions map[string]*v1.Evolution
	candidates map[string][]*v1.Candidate
	created    []*v1.CreateEvolutionRequest
	resumed    []*v1.ResumeEvolutionRequest
	// events are sent after a watch's initial state and bookmark.
	events []*v1.WatchEvolutionsResponse
	// noWatch makes WatchEvolutions UNIMPLEMENTED; GetEvolution then
	// answers polls in turn after its first answer.
	noWatch bool
	polls   []*v1.Evolution
	gets    int
}

func (f *fakeEvolutions) CreateEvolution(_ context.Context, req *v1.CreateEvolutionRequest) (*v1.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	ev := proto.Clone(req.GetEvolution()).(*v1.Evolution)
	ev.Status = &v1.EvolutionStatus{Phase: "Pending"}
	f.evolutions[ev.GetMetadata().GetName()] = ev
	return &v1.Operation{Metadata: &v1.ObjectMeta{Name: "op-1"}, Kind: "CreateEvolution", Target: "evolutions/" + ev.GetMetadata().GetName()}, nil
}

func (f *fakeEvolutions) GetEvolution(_ context.Context, req *v1.GetEvolutionRequest) (*v1.Evolution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.noWatch && f.gets > 1 && len(f.polls) > 0 {
		ev := f.polls[0]
		f.polls = f.polls[1:]
		return ev, nil
	}
	ev, ok := f.evolutions[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "evolution %q not found", req.GetName())
	}
	return ev, nil
}

func (f *fakeEvolutions) ListEvolutions(context.Context, *v1.ListEvolutionsRequest) (*v1.ListEvolutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &v1.ListEvolutionsResponse{}
	for _, name := range sortedKeys(f.evolutions) {
		resp.Evolutions = append(resp.Evolutions, f.evolutions[name])
	}
	return resp, nil
}

func (f *fakeEvolutions) WatchEvolutions(_ *v1.WatchEvolutionsRequest, stream grpc.ServerStreamingServer[v1.WatchEvolutionsResponse]) error {
	f.mu.Lock()
	if f.noWatch {
		f.mu.Unlock()
		return status.Error(codes.Unimplemented, "no watch here")
	}
	var out []*v1.WatchEvolutionsResponse
	for _, name := range sortedKeys(f.evolutions) {
		out = append(out, &v1.WatchEvolutionsResponse{Type: v1.EventType_ADDED, Evolution: f.evolutions[name]})
	}
	out = append(out, &v1.WatchEvolutionsResponse{Type: v1.EventType_BOOKMARK, Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{ResourceVersion: "7"}}})
	out = append(out, f.events...)
	f.mu.Unlock()
	for _, ev := range out {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}

func (f *fakeEvolutions) PauseEvolution(_ context.Context, req *v1.PauseEvolutionRequest) (*v1.Evolution, error) {
	return f.setPhase(req.GetName(), "Paused")
}

func (f *fakeEvolutions) CancelEvolution(_ context.Context, req *v1.CancelEvolutionRequest) (*v1.Evolution, error) {
	return f.setPhase(req.GetName(), "Cancelled")
}

func (f *fakeEvolutions) ResumeEvolution(_ context.Context, req *v1.ResumeEvolutionRequest) (*v1.Operation, error) {
	f.mu.Lock()
	f.resumed = append(f.resumed, req)
	f.mu.Unlock()
	if _, err := f.setPhase(req.GetName(), "Running"); err != nil {
		return nil, err
	}
	return &v1.Operation{Metadata: &v1.ObjectMeta{Name: "op-2"}, Kind: "ResumeEvolution"}, nil
}

func (f *fakeEvolutions) setPhase(name, phase string) (*v1.Evolution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev, ok := f.evolutions[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "evolution %q not found", name)
	}
	ev = proto.Clone(ev).(*v1.Evolution)
	ev.Status.Phase = phase
	f.evolutions[name] = ev
	return ev, nil
}

// ListCandidates answers in pages of two, to exercise paging.
func (f *fakeEvolutions) ListCandidates(_ context.Context, req *v1.ListCandidatesRequest) (*v1.ListCandidatesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.candidates[req.GetEvolution()]
	start := 0
	if req.GetPageToken() != "" {
		start, _ = strconv.Atoi(req.GetPageToken())
	}
	end := min(start+2, len(all))
	resp := &v1.ListCandidatesResponse{Candidates: all[start:end]}
	if end < len(all) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

func (f *fakeEvolutions) GetCandidate(_ context.Context, req *v1.GetCandidateRequest) (*v1.Candidate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.candidates[req.GetEvolution()] {
		if c.GetMetadata().GetName() == req.GetName() {
			return c, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "candidate %q not found", req.GetName())
}

// fakeSuites lists two suites.
type fakeSuites struct {
	v1.UnimplementedSuiteServiceServer
}

func (fakeSuites) ListSuites(context.Context, *v1.ListSuitesRequest) (*v1.ListSuitesResponse, error) {
	return &v1.ListSuitesResponse{Suites: []*v1.Suite{{Metadata: &v1.ObjectMeta{Name: "tsplib"}}, {Metadata: &v1.ObjectMeta{Name: "bbob-f8-d10"}}}}, nil
}

// checkFakeToken is the bearer-token check of swarmd, against fakeToken.
func checkFakeToken(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) == 0 || v[0] != "Bearer "+fakeToken {
		return status.Error(codes.Unauthenticated, "wrong bearer token")
	}
	return nil
}

// newFakeEvolutions returns a fake holding the demo evolution and its
// candidates, and an env whose swarmctl talks to it over loopback.
func newFakeEvolutions(t *testing.T) (*fakeEvolutions, *env) {
	t.Helper()
	f := &fakeEvolutions{
		evolutions: map[string]*v1.Evolution{"demo": demoEvolution("Running")},
		candidates: map[string][]*v1.Candidate{"demo": demoCandidates()},
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := checkFakeToken(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := checkFakeToken(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	)
	v1.RegisterEvolutionServiceServer(s, f)
	v1.RegisterSuiteServiceServer(s, fakeSuites{})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	e := newEnv(t)
	e.vars["SWARM_SERVER"] = lis.Addr().String()
	e.vars["SWARM_TOKEN"] = fakeToken
	return f, e
}

// demoEvolution is an evolution minimizing gap on tsplib.
func demoEvolution(phase string) *v1.Evolution {
	return &v1.Evolution{
		Metadata: &v1.ObjectMeta{Name: "demo"},
		Spec: &v1.EvolutionSpec{
			Strategy:   &v1.PluginRef{Name: "cmaes", Version: "1.0.0"},
			Suite:      "tsplib",
			Objectives: []*v1.Objective{{Name: "gap", Direction: v1.Objective_MINIMIZE}},
			Budget:     &v1.Budget{MaxEvaluations: 100, MaxGenerations: 10},
		},
		Status: &v1.EvolutionStatus{Phase: phase},
	}
}

// withStatus returns a copy of demo in the given state.
func withStatus(phase string, gen int32, evals int64, gap float64, reason string) *v1.Evolution {
	ev := demoEvolution(phase)
	ev.Status.Generation, ev.Status.Evaluations, ev.Status.Reason = gen, evals, reason
	if gap > 0 {
		ev.Status.BestScores = map[string]float64{"gap": gap}
		ev.Status.BestCandidate = "c2b"
	}
	return ev
}

// cand makes a candidate; a negative gap means no score.
func cand(name string, gen int32, phase, op string, gap float64, parents ...string) *v1.Candidate {
	c := &v1.Candidate{
		Metadata: &v1.ObjectMeta{Name: name},
		Spec:     &v1.CandidateSpec{Evolution: "demo", Generation: gen, Operator: op, Parents: parents},
		Status:   &v1.CandidateStatus{Phase: phase},
	}
	if gap >= 0 {
		c.Status.Scores = map[string]float64{"gap": gap}
	}
	return c
}

// demoCandidates is a three-generation archive, listed out of order. The
// Rejected c1c has the lowest gap, from a smaller stage: it must not count.
func demoCandidates() []*v1.Candidate {
	c2b := cand("c2b", 2, "Evaluated", "mutate", 0.05, "c1b")
	c2b.Status.Stage = "full"
	c2b.Spec.Genome = &structpb.Struct{Fields: map[string]*structpb.Value{
		"two_opt_rounds": structpb.NewNumberValue(10),
		"init":           structpb.NewStringValue("greedy"),
		"or_opt":         structpb.NewBoolValue(true),
	}}
	c1c := cand("c1c", 1, "Rejected", "mutate", 0.01, "c0b")
	c1c.Status.Stage = "small"
	return []*v1.Candidate{
		c2b,
		cand("baseline", 0, "Evaluated", "baseline", 0.22),
		cand("c0a", 0, "Evaluated", "init", 0.30),
		cand("c1a", 1, "Evaluated", "crossover", 0.25, "c0a", "c0b"),
		cand("c0b", 0, "Evaluated", "init", 0.20),
		c1c,
		cand("c0c", 0, "Failed", "init", -1),
		cand("c1b", 1, "Evaluated", "mutate", 0.10, "c0b"),
		cand("c2a", 2, "Evaluated", "crossover", 0.15, "c1a", "c1b"),
		cand("c3x", 3, "Proposed", "mutate", -1, "c2a", "ghost"),
	}
}

func TestEvolutionFlagsMakeTheSpec(t *testing.T) {
	f, e := newFakeEvolutions(t)
	space := e.writeFile("space.yaml", "parameters:\n- name: two_opt_rounds\n  int: {min: 0, max: 50}\n")
	out := e.ok("evolution", "start", "tsp", "--suite", "tsplib", "--strategy", "cmaes@1.2.0",
		"--strategy-config", `{"sigma": 0.3, "popsize": 8}`, "--space", space,
		"--objective", "gap:min", "--objective", "time:MAX", "--max-evaluations", "500", "--max-generations", "20",
		"--parallelism", "4", "--batch-size", "8", "--wall-time", "10m", "--seed", "7",
		"--stage", "small:small:0.1", "--stage", "full:all:-2.5e-1", "--detach", "--request-id", "r1",
		"--candidate-memory", "256Mi", "--candidate-cpus", "0.5", "--candidate-pids", "64", "--candidate-tier", "nvme=1Gi")
	if out != "evolution/tsp started (operation op-1)\nFollow it with: swarmctl evolution watch tsp\n" {
		t.Errorf("output %q", out)
	}
	if len(f.created) != 1 {
		t.Fatalf("%d creates", len(f.created))
	}
	cfg, _ := structpb.NewStruct(map[string]any{"sigma": 0.3, "popsize": 8})
	want := &v1.CreateEvolutionRequest{
		RequestId: "r1",
		Evolution: &v1.Evolution{
			Metadata: &v1.ObjectMeta{Name: "tsp"},
			Spec: &v1.EvolutionSpec{
				Suite:       "tsplib",
				Strategy:    &v1.PluginRef{Name: "cmaes", Version: "1.2.0", Config: cfg},
				SearchSpace: &v1.SearchSpace{Parameters: []*v1.Parameter{{Name: "two_opt_rounds", Type: &v1.Parameter_Int{Int: &v1.Parameter_IntRange{Min: 0, Max: 50}}}}},
				Objectives: []*v1.Objective{
					{Name: "gap", Direction: v1.Objective_MINIMIZE},
					{Name: "time", Direction: v1.Objective_MAXIMIZE},
				},
				Budget:             &v1.Budget{MaxEvaluations: 500, MaxGenerations: 20, Parallelism: 4, BatchSize: 8, WallTime: durationpb.New(10 * time.Minute)},
				Seed:               7,
				Stages:             []*v1.Stage{{Name: "small", Subset: "small", Threshold: 0.1}, {Name: "full", Subset: "all", Threshold: -0.25}},
				CandidateResources: &v1.ResourceList{MemoryBytes: 256 << 20, CpuMillis: 500, Pids: 64, TierBytes: map[string]int64{"nvme": 1 << 30}},
			},
		},
	}
	if !proto.Equal(f.created[0], want) {
		t.Errorf("request\n%v\nwant\n%v", protojson.Format(f.created[0]), protojson.Format(want))
	}

	// without budget flags there is no budget; without --request-id a random one
	e.ok("evolution", "start", "bare", "--suite", "bbob-f8-d10", "--strategy", "random", "--detach")
	got := f.created[1]
	if got.GetEvolution().GetSpec().GetBudget() != nil || got.GetEvolution().GetSpec().GetCandidateResources() != nil || pluginRef(got.GetEvolution().GetSpec().GetStrategy()) != "random" {
		t.Errorf("bare spec %v", got.GetEvolution().GetSpec())
	}
	if !strings.HasPrefix(got.GetRequestId(), "swarmctl-") {
		t.Errorf("request id %q", got.GetRequestId())
	}

	// -o json with --detach prints the operation
	var op v1.Operation
	if err := protojson.Unmarshal([]byte(e.ok("evolution", "start", "third", "--suite", "bbob-f8-d10", "--strategy", "random", "-d", "-o", "json")), &op); err != nil || op.GetTarget() != "evolutions/third" {
		t.Errorf("operation %v, %v", &op, err)
	}
}

func TestEvolutionFlagErrorsAreUsageErrors(t *testing.T) {
	f, e := newFakeEvolutions(t)
	badSpace := e.writeFile("space.yaml", "parameters:\n- name: x\n  flaot: {min: 0, max: 1}\n")
	listSpace := e.writeFile("list.yaml", "- name: x\n  float: {min: 0, max: 1}\n")
	start := []string{"evolution", "start", "demo2"}
	bbob := []string{"--suite", "bbob-f8-d10", "--strategy", "random"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--strategy", "random"}, "--suite is required"},
		{[]string{"--suite", "bbob-f8-d10", "--objective", "gap"}, `--objective "gap": say which way is better, gap:min or gap:max`},
		{[]string{"--suite", "bbob-f8-d10", "--objective", "gap:up"}, `--objective "gap:up": direction "up" is neither min nor max`},
		{[]string{"--suite", "bbob-f8-d10", "--objective", ":min"}, `--objective ":min": want NAME:min or NAME:max`},
		{[]string{"--suite", "bbob-f8-d10", "--objective", "gap:min", "--objective", "gap:max"}, "gap is given twice"},
		{[]string{"--suite", "bbob-f8-d10", "--stage", "small:subset"}, `--stage "small:subset": want NAME:SUBSET:THRESHOLD`},
		{[]string{"--suite", "bbob-f8-d10", "--stage", "small::1"}, `--stage "small::1": want NAME:SUBSET:THRESHOLD`},
		{[]string{"--suite", "bbob-f8-d10", "--stage", "small:s:high"}, `--stage "small:s:high": threshold "high" is not a finite number`},
		{[]string{"--suite", "bbob-f8-d10", "--stage", "small:s:NaN"}, `threshold "NaN" is not a finite number`},
		{[]string{"--suite", "bbob-f8-d10", "--stage", "a:s:1", "--stage", "a:t:2"}, "stage a is given twice"},
		{[]string{"--suite", "bbob-f8-d10", "--max-evaluations", "-1"}, "--max-evaluations must not be negative, got -1"},
		{[]string{"--suite", "bbob-f8-d10", "--wall-time", "-5m"}, "--wall-time must not be negative, got -5m0s"},
		{[]string{"--suite", "bbob-f8-d10", "--parallelism", "many"}, `invalid argument "many" for "--parallelism" flag`},
		{[]string{"--suite", "bbob-f8-d10", "--strategy", "random@"}, `--strategy "random@": want NAME or NAME@VERSION`},
		{[]string{"--suite", "bbob-f8-d10", "--strategy", "random", "--strategy-config", "[1]"}, `--strategy-config "[1]": want a JSON object`},
		{[]string{"--suite", "bbob-f8-d10", "--strategy-config", "{}"}, "--strategy is required"},
		{[]string{"--suite", "bbob-f8-d10", "--candidate-memory", "lots"}, `--candidate-memory "lots": want bytes`},
		{[]string{"--suite", "bbob-f8-d10", "--candidate-memory", "0"}, `--candidate-memory "0": must be positive`},
		{[]string{"--suite", "bbob-f8-d10", "--candidate-cpus", "0.001"}, `--candidate-cpus "0.001": is below the smallest CPU quota`},
		{[]string{"--suite", "bbob-f8-d10", "--candidate-pids", "-1"}, "--candidate-pids must not be negative, got -1"},
		{[]string{"--suite", "bbob-f8-d10", "--candidate-tier", "ram=1Gi"}, `--candidate-tier "ram=1Gi": unknown tier "ram"`},
		{[]string{"--suite", "bbob-f8-d10", "--candidate-memory", "1Gi", "--candidate-tier", "cpu=2Gi"}, "--candidate-memory 1Gi and --candidate-tier cpu=2GiB conflict"},
		{[]string{"--suite", "bbob-f8-d10", "--space", badSpace}, `--space ` + badSpace + `: unknown field: "parameters[0].flaot" (did you mean "float"?)`},
	}
	for _, c := range cases {
		args := c.args
		if len(args) >= 2 && args[0] == "--suite" && !slices.Contains(args, "--strategy") && !slices.Contains(args, "--strategy-config") {
			args = append(append([]string{}, bbob...), args[2:]...)
		}
		r := e.run(append(start, args...)...)
		if r.code != 1 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "Run 'swarmctl evolution start --help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q, want it to name %q as a usage error", c.args, r.code, r.err, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"evolution", "start", "Demo_1", "--suite", "bbob-f8-d10", "--strategy", "random"}, `NAME "Demo_1" must be 1-63 lowercase letters`},
		{[]string{"evolution", "start", "--suite", "bbob-f8-d10"}, "evolution start needs NAME and --suite, or -f FILE"},
		{[]string{"evolution", "start", "x", "-f", "e.yaml"}, "takes -f FILE or NAME with flags, not both"},
		{[]string{"evolution", "start", "-f", "e.yaml", "--seed", "3"}, "--seed cannot be combined with -f"},
		{[]string{"evolution", "start", "-f", "e.yaml", "--candidate-cpus", "1"}, "--candidate-cpus cannot be combined with -f"},
		{[]string{"agent", "evolve", "solver", "--suite", "tsplib", "--strategy", "random", "--candidate-pids", "-2"}, "--candidate-pids must not be negative"},
		{[]string{"agent", "evolve", "solver", "--objective", "gap:min"}, "--suite is required"},
		{[]string{"agent", "evolve", "solver", "--suite", "tsplib", "--objective", "gap:min"}, "--strategy is required"},
		{[]string{"agent", "evolve", "solver", "--suite", "tsplib", "--name", "-bad"}, `--name "-bad" must be`},
	} {
		r := e.run(c.args...)
		if r.code != 1 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "--help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q, want usage error %q", c.args, r.code, r.err, c.want)
		}
	}
	if len(f.created) != 0 {
		t.Errorf("%d evolutions created by refused command lines", len(f.created))
	}
	// a bare list of parameters is a search space too
	e.ok("evolution", "start", "listed", "--suite", "bbob-f8-d10", "--strategy", "random", "--space", listSpace, "-d")
	if p := f.created[0].GetEvolution().GetSpec().GetSearchSpace().GetParameters(); len(p) != 1 || p[0].GetFloat().GetMax() != 1 {
		t.Errorf("space from a list: %v", p)
	}
}

func TestEvolutionStartFromFile(t *testing.T) {
	f, e := newFakeEvolutions(t)
	e.stdin = `# an evolution
metadata:
  name: from-file
  labels: {team: research}
spec:
  agent: solver
  strategy: {name: random, config: {anything: [1, 2]}}
  suite: tsplib
  objectives: [{name: gap, direction: MINIMIZE}]
  budget: {maxEvaluations: 50, wall_time: 90s}
  seed: 3
  stages: [{name: small, subset: small, threshold: 0.2}]
status: {phase: Succeeded}
`
	if out := e.ok("evolution", "start", "-f", "-", "--detach"); !strings.HasPrefix(out, "evolution/from-file started") {
		t.Errorf("output %q", out)
	}
	ev := f.created[0].GetEvolution()
	if ev.GetSpec().GetAgent() != "solver" || ev.GetSpec().GetBudget().GetWallTime().AsDuration() != 90*time.Second ||
		ev.GetSpec().GetStages()[0].GetThreshold() != 0.2 || ev.GetMetadata().GetLabels()["team"] != "research" ||
		ev.GetSpec().GetStrategy().GetConfig().GetFields()["anything"] == nil {
		t.Errorf("decoded %v", protojson.Format(ev))
	}
	if ev.GetStatus() != nil {
		t.Errorf("status sent: %v", ev.GetStatus())
	}

	bad := e.writeFile("bad.yaml", "metadata: {name: x}\nspec:\n  suite: bbob\n  budget: {maxEval: 5}\n  objectives: [{name: gap, direction: MINIMIZE, weight: 2}]\n")
	stderr := e.fail("evolution", "start", "-f", bad)
	if !strings.Contains(stderr, `unknown fields: "spec.budget.maxEval" (did you mean "maxEvaluations"?), "spec.objectives[0].weight"`) {
		t.Errorf("unknown fields: %q", stderr)
	}
	noName := e.writeFile("noname.yaml", "spec: {suite: bbob}\n")
	if stderr := e.fail("evolution", "start", "-f", noName); !strings.Contains(stderr, "metadata.name is required") {
		t.Errorf("no name: %q", stderr)
	}
	two := e.writeFile("two.yaml", "metadata: {name: a}\n---\nmetadata: {name: b}\n")
	if stderr := e.fail("evolution", "start", "-f", two); !strings.Contains(stderr, "want one evolution, got 2 documents") {
		t.Errorf("two documents: %q", stderr)
	}
	if len(f.created) != 1 {
		t.Errorf("%d creates, want 1", len(f.created))
	}
}

func TestAgentEvolve(t *testing.T) {
	f, e := newFakeEvolutions(t)
	out := e.ok("agent", "evolve", "solver", "--suite", "tsplib", "--strategy", "random", "--objective", "gap:min", "--detach")
	ev := f.created[0].GetEvolution()
	name := ev.GetMetadata().GetName()
	if !strings.HasPrefix(name, "solver-") || len(name) != len("solver-")+5 || checkEvolutionName(name) != nil {
		t.Errorf("generated name %q", name)
	}
	if !strings.HasPrefix(out, "evolution/"+name+" started") {
		t.Errorf("output %q", out)
	}
	if ev.GetSpec().GetAgent() != "solver" || ev.GetSpec().GetSuite() != "tsplib" || ev.GetSpec().GetObjectives()[0].GetName() != "gap" {
		t.Errorf("spec %v", ev.GetSpec())
	}
	e.ok("agent", "evolve", "solver", "--name", "night-run", "--suite", "tsplib", "--strategy", "random", "-d", "--candidate-tier", "cpu=128Mi")
	if got := f.created[1].GetEvolution().GetMetadata().GetName(); got != "night-run" {
		t.Errorf("--name: %q", got)
	}
	if r := f.created[1].GetEvolution().GetSpec().GetCandidateResources(); !proto.Equal(r, &v1.ResourceList{TierBytes: map[string]int64{"cpu": 128 << 20}}) {
		t.Errorf("--candidate-tier: %v", r)
	}
	long := strings.Repeat("a", 60) + "-"
	if g := generatedName(long); len(g) > 63 || checkEvolutionName(g) != nil {
		t.Errorf("long agent name gives %q", g)
	}
}

func TestEvolutionLs(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := withStatus("Running", 3, 40, 0.123456789, "")
	a.Metadata.CreateTime = timestamppb.New(now.Add(-5 * time.Minute))
	b := &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "bare"}, Spec: &v1.EvolutionSpec{Suite: "bbob-f8-d10"}, Status: &v1.EvolutionStatus{Evaluations: 7, BestScores: map[string]float64{"value": 2, "time": 1}}}
	var buf bytes.Buffer
	if err := writeEvolutionTable(&buf, []*v1.Evolution{a, b}, now); err != nil {
		t.Fatal(err)
	}
	want := `NAME   PHASE     STRATEGY      SUITE         GEN   EVALS    BEST           AGE
demo   Running   cmaes@1.0.0   tsplib        3     40/100   gap=0.123457   5m
bare   <none>    <none>        bbob-f8-d10   0     7        time=1         <unknown>
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	_, e := newFakeEvolutions(t)
	if out := e.ok("evolution", "ls"); !strings.HasPrefix(out, "NAME ") || row(out, "demo") == nil {
		t.Errorf("ls:\n%s", out)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("evolution", "ls", "-o", "json")), &list); err != nil || len(list.Items) != 1 {
		t.Errorf("ls -o json: %d items, %v", len(list.Items), err)
	}
	if stderr := e.fail("evolution", "ls", "nope"); !strings.Contains(stderr, `evolution "nope": NOT_FOUND`) {
		t.Errorf("unknown name: %q", stderr)
	}
}

func TestGenerationStats(t *testing.T) {
	cands := demoCandidates()
	nan := cand("nan", 2, "Evaluated", "mutate", 0)
	nan.Status.Scores["gap"] = math.NaN()
	cands = append(cands, nan)

	type s = generationStat
	minimize := generationStats(cands, scoreRule{objective: "gap", dir: v1.Objective_MINIMIZE})
	wantMin := []s{
		{Generation: 0, Evaluated: 2, Best: 0.20, Median: 0.25, BestSoFar: 0.20},
		{Generation: 1, Evaluated: 2, Best: 0.10, Median: 0.175, BestSoFar: 0.10},
		{Generation: 2, Evaluated: 2, Best: 0.05, Median: 0.10, BestSoFar: 0.05},
	}
	maximize := generationStats(cands, scoreRule{objective: "gap", dir: v1.Objective_MAXIMIZE})
	wantMax := []s{
		{Generation: 0, Evaluated: 2, Best: 0.30, Median: 0.25, BestSoFar: 0.30},
		{Generation: 1, Evaluated: 2, Best: 0.25, Median: 0.175, BestSoFar: 0.30},
		{Generation: 2, Evaluated: 2, Best: 0.15, Median: 0.10, BestSoFar: 0.30},
	}
	for _, c := range []struct {
		name      string
		got, want []s
		dir       v1.Objective_Direction
	}{{"minimize", minimize, wantMin, v1.Objective_MINIMIZE}, {"maximize", maximize, wantMax, v1.Objective_MAXIMIZE}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s: %+v", c.name, c.got)
		}
		for i := range c.got {
			g, w := c.got[i], c.want[i]
			if g.Generation != w.Generation || g.Evaluated != w.Evaluated || !near(g.Best, w.Best) || !near(g.Median, w.Median) || !near(g.BestSoFar, w.BestSoFar) {
				t.Errorf("%s generation %d: %+v, want %+v", c.name, i, g, w)
			}
			if i > 0 && (scoreRule{dir: c.dir}).better(c.got[i-1].BestSoFar, g.BestSoFar) {
				t.Errorf("%s: best so far got worse at generation %d", c.name, g.Generation)
			}
		}
	}
	// odd counts, a gap in generations, an unknown objective
	odd := generationStats([]*v1.Candidate{
		cand("a", 0, "Evaluated", "", 3), cand("b", 0, "Evaluated", "", 1), cand("c", 0, "Evaluated", "", 2),
		cand("d", 4, "Evaluated", "", 5),
	}, scoreRule{objective: "gap"})
	if len(odd) != 2 || odd[0].Median != 2 || odd[1].Generation != 4 || odd[1].BestSoFar != 1 || odd[1].Best != 5 {
		t.Errorf("odd: %+v", odd)
	}
	if got := generationStats(cands, scoreRule{objective: "time"}); len(got) != 0 {
		t.Errorf("no such score: %+v", got)
	}
}

func TestScoresCompareOnlyThroughTheLastStage(t *testing.T) {
	ev := demoEvolution("Running")
	ev.Spec.Stages = []*v1.Stage{{Name: "small", Subset: "small", Threshold: 0.1}, {Name: "full", Subset: "all"}}
	r := newScoreRule(ev, ev.Spec.Objectives[0])
	full := cand("a", 0, "Evaluated", "init", 0.3)
	full.Status.Stage = "full"
	early := cand("b", 0, "Evaluated", "init", 0.01) // stopped after the small stage
	early.Status.Stage = "small"
	base := cand("baseline", 0, "Evaluated", "baseline", 0.5) // evaluated on every task, no stage
	cands := []*v1.Candidate{early, base, full}
	if r.lastStage != "full" {
		t.Fatalf("last stage %q", r.lastStage)
	}
	st := generationStats(cands, r)
	if len(st) != 1 || st[0].Evaluated != 1 || st[0].Best != 0.3 {
		t.Errorf("stats %+v: only the candidate through the last stage counts", st)
	}
	if v, ok := baselineScore(cands, r); !ok || v != 0.5 {
		t.Errorf("baseline %v %v", v, ok)
	}
	sortByScore(cands, r)
	if cands[0].GetMetadata().GetName() != "a" || cands[1].GetMetadata().GetName() != "baseline" || cands[2].GetMetadata().GetName() != "b" {
		t.Errorf("order %s %s %s", cands[0].GetMetadata().GetName(), cands[1].GetMetadata().GetName(), cands[2].GetMetadata().GetName())
	}
	d := newPlotData(ev, cands, r)
	if d.Baseline == nil || *d.Baseline != 0.5 || d.Maximize || d.Title != "evolution demo: strategy cmaes@1.0.0, suite tsplib" {
		t.Errorf("plot data %+v", d)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestRenderPlot(t *testing.T) {
	d := newPlotData(demoEvolution("Running"), demoCandidates(), scoreRule{objective: "gap"})
	if d.Baseline == nil || *d.Baseline != 0.22 || len(d.Generations) != 3 {
		t.Fatalf("plot data %+v", d)
	}
	one := d
	one.Generations, one.Baseline, one.Maximize = d.Generations[:1], nil, true
	for _, format := range []string{"png", "svg"} {
		for _, pd := range []plotData{d, one} {
			var buf bytes.Buffer
			if err := renderPlot(&buf, pd, format); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			checkImage(t, format, buf.Bytes())
			if format == "svg" && strings.Contains(buf.String(), "baseline (incumbent design)") != (pd.Baseline != nil) {
				t.Errorf("baseline in the legend: %v, want %v", !(pd.Baseline != nil), pd.Baseline != nil)
			}
		}
	}
	if err := renderPlot(&bytes.Buffer{}, plotData{}, "png"); err == nil {
		t.Error("an empty plot rendered")
	}
	for file, want := range map[string]string{"a.PNG": "png", "dir/b.svg": "svg"} {
		if got, err := plotFormat(file); err != nil || got != want {
			t.Errorf("plotFormat(%q) = %q, %v", file, got, err)
		}
	}
	for _, file := range []string{"a.pdf", "noext", "a.svg.gz"} {
		if _, err := plotFormat(file); !isUsageError(err) {
			t.Errorf("plotFormat(%q): %v, want a usage error", file, err)
		}
	}
}

// checkImage fails unless data is a non-empty image of format.
func checkImage(t *testing.T, format string, data []byte) {
	t.Helper()
	switch format {
	case "png":
		if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || len(data) < 1000 {
			t.Errorf("not a PNG: %d bytes, starts %q", len(data), data[:min(8, len(data))])
		}
	case "svg":
		s := strings.TrimSpace(string(data))
		if !(strings.HasPrefix(s, "<?xml") || strings.HasPrefix(s, "<svg")) || !strings.Contains(s, "</svg>") {
			t.Errorf("not an SVG: %.80q", s)
		}
	}
}

func TestPlotAxes(t *testing.T) {
	labels := func(ticks []plot.Tick) string {
		var out []string
		for _, tk := range ticks {
			out = append(out, tk.Label)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{{-0.2, 5.3, "0 1 2 3 4 5"}, {0, 14, "0 2 4 6 8 10 12 14"}, {0, 40, "0 5 10 15 20 25 30 35 40"}, {3, 97, "10 20 30 40 50 60 70 80 90"}, {0, 1000, "0 100 200 300 400 500 600 700 800 900 1000"}} {
		if got := labels(generationTicks(c.lo, c.hi)); got != c.want {
			t.Errorf("ticks %g..%g: %s, want %s", c.lo, c.hi, got, c.want)
		}
	}
	if useLogScale(0.5, 25) || !useLogScale(0.01, 30) || useLogScale(0, 1000) || useLogScale(-1, 1000) {
		t.Error("useLogScale")
	}
	if lo, hi := yRange(0, 10, false); lo != -0.5 || hi != 13.5 {
		t.Errorf("linear range %g %g", lo, hi)
	}
	if lo, hi := yRange(2, 2, false); lo >= 2 || hi <= 2 {
		t.Errorf("flat range %g %g", lo, hi)
	}
	if lo, hi := yRange(0.01, 100, true); !near(lo, 0.01/math.Pow(10, 0.2)) || !near(hi, 100*math.Pow(10, 1.4)) {
		t.Errorf("log range %g %g", lo, hi)
	}
}

func TestEvolutionPlotCommand(t *testing.T) {
	_, e := newFakeEvolutions(t)
	dir := t.TempDir()
	png := filepath.Join(dir, "demo.png")
	if out := e.ok("evolution", "plot", "demo", "--out", png); out != "wrote "+png+": gap over 3 generations\n" {
		t.Errorf("output %q", out)
	}
	data, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, "png", data)
	svg := filepath.Join(dir, "demo.svg")
	out := e.ok("evolution", "plot", "demo", "--out", svg, "--objective", "gap:max", "-o", "json")
	var res plotData
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Objective != "gap" || !res.Maximize || len(res.Generations) != 3 || res.Generations[2].BestSoFar != 0.3 || *res.Baseline != 0.22 {
		t.Errorf("-o json: %+v, %v", res, err)
	}
	data, err = os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, "svg", data)
	if !strings.Contains(string(data), "higher is better") || !strings.Contains(string(data), "median of generation") {
		t.Error("the SVG lacks the axis label or the legend")
	}

	r := e.run("evolution", "plot", "demo", "--out", filepath.Join(dir, "demo.pdf"))
	if r.code != 1 || !strings.Contains(r.err, `want a file ending in .png or .svg`) || !strings.Contains(r.err, "--help' for usage") {
		t.Errorf("pdf: %d %q", r.code, r.err)
	}
	if stderr := e.fail("evolution", "plot", "demo", "--out", png, "--objective", "time"); !strings.Contains(stderr, `not an objective of evolution demo (it has: gap)`) {
		t.Errorf("unknown objective: %q", stderr)
	}
	if stderr := e.fail("evolution", "plot", "demo", "--out", png, "--objective", "time:min"); !strings.Contains(stderr, "no candidate evaluated on the whole suite with a time score") {
		t.Errorf("no data: %q", stderr)
	}
	if stderr := e.fail("evolution", "plot", "demo"); !strings.Contains(stderr, "needs --out") {
		t.Errorf("no --out: %q", stderr)
	}
}

func TestEvolutionWatchSucceeded(t *testing.T) {
	f, e := newFakeEvolutions(t)
	other := demoEvolution("Succeeded")
	other.Metadata.Name = "other"
	f.events = []*v1.WatchEvolutionsResponse{
		{Type: v1.EventType_MODIFIED, Evolution: other},
		{Type: v1.EventType_MODIFIED, Evolution: withStatus("Running", 1, 40, 0.1, "")},
		{Type: v1.EventType_MODIFIED, Evolution: withStatus("Running", 1, 40, 0.1, "")},
		{Type: v1.EventType_MODIFIED, Evolution: withStatus("Succeeded", 2, 100, 0.05, "")},
	}
	r := e.run("evolution", "watch", "demo")
	want := `evolution/demo Running  gen 0/10  evals 0/100  best <none>
evolution/demo Running  gen 1/10  evals 40/100  best gap=0.1
evolution/demo Succeeded  gen 2/10  evals 100/100  best gap=0.05
evolution/demo Succeeded: generation 2, 100/100 evaluations; best candidate c2b (gap=0.05)
`
	if r.code != 0 || r.out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", r.code, r.out, want, r.err)
	}

	// start follows the same way; -o json prints the final state only
	f.events = []*v1.WatchEvolutionsResponse{{Type: v1.EventType_MODIFIED, Evolution: func() *v1.Evolution {
		ev := withStatus("Succeeded", 2, 100, 0.05, "")
		ev.Metadata.Name = "again"
		return ev
	}()}}
	r = e.run("evolution", "start", "again", "--suite", "tsplib", "--strategy", "random", "-o", "json")
	var final v1.Evolution
	if err := protojson.Unmarshal([]byte(r.out), &final); r.code != 0 || err != nil || final.GetStatus().GetPhase() != "Succeeded" {
		t.Errorf("start -o json: exit %d, %v, %q %s", r.code, err, r.out, r.err)
	}
}

func TestEvolutionWatchPausedFailsWithTheReason(t *testing.T) {
	f, e := newFakeEvolutions(t)
	f.events = []*v1.WatchEvolutionsResponse{
		{Type: v1.EventType_MODIFIED, Evolution: withStatus("Paused", 1, 30, 0.2, "strategy cmaes@1.0.0 trapped: out of fuel")},
	}
	r := e.run("evolution", "watch", "demo")
	if r.code != 1 || !strings.Contains(r.out, "evolution/demo Paused  gen 1/10") {
		t.Errorf("exit %d, stdout %q", r.code, r.out)
	}
	if !strings.HasPrefix(r.err, "Error: evolution demo is Paused: strategy cmaes@1.0.0 trapped: out of fuel\nhint: resume it with swarmctl evolution resume demo") {
		t.Errorf("stderr %q", r.err)
	}
	// an evolution that already ended is reported without a watch
	f.evolutions["demo"] = withStatus("Failed", 0, 0, 0, "suite tsplib: no such subset")
	if r := e.run("evolution", "watch", "demo"); r.code != 1 || !strings.Contains(r.err, "Error: evolution demo Failed: suite tsplib: no such subset") {
		t.Errorf("failed: %d %q", r.code, r.err)
	}
	f.evolutions["demo"] = withStatus("Cancelled", 0, 0, 0, "")
	if r := e.run("evolution", "watch", "demo"); r.code != 1 || !strings.Contains(r.err, "evolution demo was Cancelled") {
		t.Errorf("cancelled: %d %q", r.code, r.err)
	}
	if stderr := e.fail("evolution", "watch", "ghost"); !strings.Contains(stderr, `evolution "ghost": NOT_FOUND`) {
		t.Errorf("unknown: %q", stderr)
	}
}

func TestEvolutionWatchPollsWithoutWatch(t *testing.T) {
	defer func(d time.Duration) { evolutionPollInterval = d }(evolutionPollInterval)
	evolutionPollInterval = 5 * time.Millisecond
	f, e := newFakeEvolutions(t)
	f.noWatch = true
	f.polls = []*v1.Evolution{withStatus("Running", 1, 10, 0.3, ""), withStatus("Running", 1, 10, 0.3, ""), withStatus("Succeeded", 2, 100, 0.05, "")}
	r := e.run("evolution", "watch", "demo")
	if r.code != 0 || strings.Count(r.out, "\n") != 4 || !strings.Contains(r.out, "gen 1/10  evals 10/100  best gap=0.3\n") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.out, r.err)
	}
}

func TestEvolutionViewOnATerminal(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Minute)
	var buf bytes.Buffer
	v := &evolutionView{w: &buf, tty: true, now: func() time.Time { return now }}
	ev := withStatus("Running", 4, 50, 0.125, "")
	ev.Status.StartTime = timestamppb.New(start)
	v.update(ev)
	first := buf.String()
	want := "\revolution/demo Running  gen 4/10  [==========          ]  50%  evals 50/100  best gap=0.125  ETA 10m0s"
	if first != want {
		t.Errorf("first draw %q\nwant       %q", first, want)
	}
	ev2 := withStatus("Succeeded", 5, 100, 0.1, "")
	v.update(ev2)
	second := strings.TrimPrefix(buf.String(), first)
	line := "\revolution/demo Succeeded  gen 5/10  [====================] 100%  evals 100/100  best gap=0.1"
	if !strings.HasPrefix(second, line) || len(second) != len(first) || strings.TrimRight(second, " ") != line {
		t.Errorf("redraw %q does not overwrite the first line", second)
	}
	v.finish()
	if !strings.HasSuffix(buf.String(), "\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("finish: %q", buf.String())
	}
	// quiet views draw nothing
	var quiet bytes.Buffer
	q := &evolutionView{w: &quiet, quiet: true, now: time.Now}
	q.update(ev)
	q.finish()
	if quiet.Len() != 0 {
		t.Errorf("quiet view drew %q", quiet.String())
	}
}

func TestEstimateETA(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Minute)
	mk := func(evals int64, gen int32, b *v1.Budget) *v1.Evolution {
		return &v1.Evolution{Spec: &v1.EvolutionSpec{Budget: b}, Status: &v1.EvolutionStatus{Evaluations: evals, Generation: gen, StartTime: timestamppb.New(start)}}
	}
	cases := []struct {
		ev   *v1.Evolution
		want time.Duration
		ok   bool
	}{
		{mk(100, 0, &v1.Budget{MaxEvaluations: 400}), 30 * time.Minute, true},
		{mk(100, 0, &v1.Budget{MaxEvaluations: 400, WallTime: durationpb.New(15 * time.Minute)}), 5 * time.Minute, true},
		{mk(0, 2, &v1.Budget{MaxGenerations: 6}), 20 * time.Minute, true},
		{mk(100, 0, &v1.Budget{WallTime: durationpb.New(5 * time.Minute)}), 0, true},
		{mk(0, 0, &v1.Budget{MaxEvaluations: 400}), 0, false},
		{mk(100, 3, nil), 0, false},
		{&v1.Evolution{Spec: &v1.EvolutionSpec{Budget: &v1.Budget{MaxEvaluations: 4}}, Status: &v1.EvolutionStatus{Evaluations: 1}}, 0, false},
	}
	for i, c := range cases {
		got, ok := estimateETA(c.ev, now)
		if got != c.want || ok != c.ok {
			t.Errorf("case %d: %v %v, want %v %v", i, got, ok, c.want, c.ok)
		}
	}
}

func TestEvolutionArchive(t *testing.T) {
	_, e := newFakeEvolutions(t)
	out := e.ok("evolution", "archive", "demo")
	want := `NAME       GEN   PHASE       OPERATOR    PARENTS     GAP      STAGE
baseline   0     Evaluated   baseline    <none>      0.22     <none>
c0a        0     Evaluated   init        <none>      0.3      <none>
c0b        0     Evaluated   init        <none>      0.2      <none>
c0c        0     Failed      init        <none>      <none>   <none>
c1a        1     Evaluated   crossover   c0a,c0b     0.25     <none>
c1b        1     Evaluated   mutate      c0b         0.1      <none>
c1c        1     Rejected    mutate      c0b         0.01     small
c2a        2     Evaluated   crossover   c1a,c1b     0.15     <none>
c2b        2     Evaluated   mutate      c1b         0.05     full
c3x        3     Proposed    mutate      c2a,ghost   <none>   <none>
`
	if out != want {
		t.Errorf("archive:\n%s\nwant:\n%s", out, want)
	}
	names := func(out string) string {
		var ns []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			ns = append(ns, strings.Fields(l)[0])
		}
		return strings.Join(ns, " ")
	}
	if got := names(e.ok("evolution", "archive", "demo", "--sort", "score")); got != "c2b c1b c2a c0b baseline c1a c0a c0c c1c c3x" {
		t.Errorf("--sort score (minimize): %s", got)
	}
	if got := names(e.ok("evolution", "archive", "demo", "--sort", "score", "--objective", "gap:max")); got != "c0a c1a baseline c0b c2a c1b c2b c0c c1c c3x" {
		t.Errorf("--sort score (maximize): %s", got)
	}
	var list struct {
		Items []*struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("evolution", "archive", "demo", "-o", "json")), &list); err != nil || len(list.Items) != 10 || list.Items[0].Metadata.Name != "baseline" {
		t.Errorf("-o json: %v", err)
	}
	if r := e.run("evolution", "archive", "demo", "--sort", "age"); r.code != 1 || !strings.Contains(r.err, `--sort "age": want generation or score`) {
		t.Errorf("bad --sort: %q", r.err)
	}
}

func TestEvolutionLineage(t *testing.T) {
	tree := buildLineage(demoCandidates(), "c3x")
	var buf bytes.Buffer
	if err := writeLineage(&buf, tree, []string{"gap"}); err != nil {
		t.Fatal(err)
	}
	want := `c3x  gen 3  mutate  Proposed
├── c2a  gen 2  crossover  Evaluated  gap=0.15
│   ├── c1a  gen 1  crossover  Evaluated  gap=0.25
│   │   ├── c0a  gen 0  init  Evaluated  gap=0.3
│   │   └── c0b  gen 0  init  Evaluated  gap=0.2
│   └── c1b  gen 1  mutate  Evaluated  gap=0.1
│       └── c0b  gen 0  (see above)
└── ghost  <not in archive>
`
	if buf.String() != want {
		t.Errorf("tree:\n%s\nwant:\n%s", buf.String(), want)
	}

	_, e := newFakeEvolutions(t)
	if out := e.ok("evolution", "lineage", "demo", "c1b"); out != "c1b  gen 1  mutate  Evaluated  gap=0.1\n└── c0b  gen 0  init  Evaluated  gap=0.2\n" {
		t.Errorf("lineage c1b: %q", out)
	}
	var node lineageNode
	if err := json.Unmarshal([]byte(e.ok("evolution", "lineage", "demo", "c2a", "-o", "json")), &node); err != nil {
		t.Fatal(err)
	}
	if node.Name != "c2a" || len(node.Parents) != 2 || node.Parents[0].Name != "c1a" || node.Parents[0].Parents[1].Scores["gap"] != 0.2 ||
		!node.Parents[1].Parents[0].Repeated || node.Parents[1].Parents[0].Name != "c0b" {
		t.Errorf("json tree %+v", node)
	}
	if stderr := e.fail("evolution", "lineage", "demo", "nope"); !strings.Contains(stderr, `candidate "nope" is not in the archive of evolution demo`) {
		t.Errorf("unknown candidate: %q", stderr)
	}
}

func TestEvolutionBest(t *testing.T) {
	f, e := newFakeEvolutions(t)
	if stderr := e.fail("evolution", "best", "demo"); !strings.Contains(stderr, "evolution demo has no best candidate yet (Running, 0 evaluations)") {
		t.Errorf("no best: %q", stderr)
	}
	f.evolutions["demo"] = withStatus("Succeeded", 2, 100, 0.05, "")
	out := e.ok("evolution", "best", "demo", "-o", "json")
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	keys := sortedKeys(got)
	if strings.Join(keys, ",") != "candidate,genome,scores" {
		t.Errorf("keys %v", keys)
	}
	var genome map[string]any
	_ = json.Unmarshal(got["genome"], &genome)
	if string(got["candidate"]) != `"c2b"` || genome["two_opt_rounds"] != 10.0 || genome["init"] != "greedy" || genome["or_opt"] != true ||
		strings.Join(strings.Fields(string(got["scores"])), "") != `{"gap":0.05}` {
		t.Errorf("best -o json:\n%s", out)
	}
	if !strings.HasPrefix(strings.TrimSpace(out), `{`) || strings.Index(out, `"genome"`) > strings.Index(out, `"candidate"`) {
		t.Errorf("genome must come first:\n%s", out)
	}
	if out := e.ok("evolution", "best", "demo"); out != "PARAMETER        VALUE\ninit             greedy\nor_opt           true\ntwo_opt_rounds   10\n" {
		t.Errorf("table %q", out)
	}
	if out := e.ok("evolution", "best", "demo", "-o", "yaml"); !strings.Contains(out, "candidate: c2b\n") || !strings.Contains(out, "  two_opt_rounds: 10\n") {
		t.Errorf("yaml %q", out)
	}
	raw, err := bestGenomeJSON(&v1.Candidate{Metadata: &v1.ObjectMeta{Name: "x"}, Status: &v1.CandidateStatus{Scores: map[string]float64{"gap": math.Inf(1)}}}, nil)
	if err != nil || string(raw) != `{"genome":{},"candidate":"x","scores":{"gap":"Infinity"}}` {
		t.Errorf("infinite score: %s %v", raw, err)
	}
}

func TestEvolutionDescribe(t *testing.T) {
	f, e := newFakeEvolutions(t)
	ev := withStatus("Succeeded", 2, 100, 0.05, "")
	ev.Spec.Stages = []*v1.Stage{{Name: "small", Subset: "small", Threshold: 0.1}}
	ev.Spec.Budget.WallTime = durationpb.New(10 * time.Minute)
	ev.Status.Conditions = []*v1.Condition{{Type: "Done", Status: "True", Reason: "BudgetSpent"}}
	f.evolutions["demo"] = ev
	out := strings.Join(strings.Fields(e.ok("evolution", "describe", "demo")), " ")
	for _, want := range []string{
		"Strategy: cmaes@1.0.0 Suite: tsplib Objectives: gap (minimize)",
		"Budget: 100 evaluations, 10 generations, wall time 10m0s", "Candidate limits: <swarmd's defaults>", "NAME SUBSET THRESHOLD small small 0.1",
		"Search space: <the suite's>", "Phase: Succeeded Generation: 2 Evaluations: 100/100",
		"Best candidate: c2b Best scores: NAME VALUE gap 0.05", "Done True BudgetSpent",
		"Best candidate c2b: Generation: 2 Operator: mutate Parents: c1b Phase: Evaluated Stage: full",
		"PARAMETER VALUE init greedy or_opt true two_opt_rounds 10",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}

func TestEvolutionDescribeShowsCandidateLimits(t *testing.T) {
	f, e := newFakeEvolutions(t)
	ev := withStatus("Running", 1, 10, 0.2, "")
	ev.Spec.CandidateResources = &v1.ResourceList{MemoryBytes: 256 << 20, CpuMillis: 500, Pids: 64, TierBytes: map[string]int64{"nvme": 10 << 30, "cpu": 256 << 20}}
	f.evolutions["demo"] = ev
	out := strings.Join(strings.Fields(e.ok("evolution", "describe", "demo")), " ")
	if want := "Candidate limits: memory 256MiB, CPUs 0.5, pids 64, tier cpu=256MiB, tier nvme=10GiB (unset: swarmd's defaults)"; !strings.Contains(out, want) {
		t.Errorf("describe lacks %q:\n%s", want, out)
	}
	if out := e.ok("evolution", "describe", "demo", "-o", "yaml"); !strings.Contains(out, "candidateResources:") || !strings.Contains(out, "cpuMillis: \"500\"") {
		t.Errorf("yaml lacks the candidate resources:\n%s", out)
	}
}

func TestEvolutionPauseResumeCancel(t *testing.T) {
	f, e := newFakeEvolutions(t)
	if out := e.ok("evolution", "pause", "demo"); out != "evolution/demo paused (phase Paused)\n" {
		t.Errorf("pause: %q", out)
	}
	if out := e.ok("evolution", "resume", "demo", "--strategy", "cmaes@1.0.1", "--strategy-config", `{"sigma":1}`); out != "evolution/demo resumed with strategy cmaes@1.0.1 (operation op-2)\n" {
		t.Errorf("resume: %q", out)
	}
	if r := f.resumed[0]; r.GetStrategy().GetVersion() != "1.0.1" || r.GetStrategy().GetConfig().GetFields()["sigma"].GetNumberValue() != 1 {
		t.Errorf("resume request %v", r)
	}
	e.ok("evolution", "resume", "demo")
	if f.resumed[1].GetStrategy() != nil {
		t.Errorf("plain resume sent a strategy: %v", f.resumed[1])
	}
	var ev v1.Evolution
	if err := protojson.Unmarshal([]byte(e.ok("evolution", "cancel", "demo", "-o", "json")), &ev); err != nil || ev.GetStatus().GetPhase() != "Cancelled" {
		t.Errorf("cancel -o json: %v %v", &ev, err)
	}
	if stderr := e.fail("evolution", "cancel", "ghost"); !strings.Contains(stderr, `evolution "ghost": NOT_FOUND`) {
		t.Errorf("cancel unknown: %q", stderr)
	}
}

func TestEvolutionCompletionAndHelp(t *testing.T) {
	f, e := newFakeEvolutions(t)
	f.evolutions["demo-b"] = demoEvolution("Running")
	f.evolutions["demo-b"].Metadata.Name = "demo-b"
	if out := e.ok("__complete", "evolution", "describe", "de"); !strings.HasPrefix(out, "demo\ndemo-b\n:4\n") {
		t.Errorf("names: %q", out)
	}
	if out := e.ok("__complete", "evolution", "lineage", "demo", "c2"); !strings.HasPrefix(out, "c2a\nc2b\n:4\n") {
		t.Errorf("candidates: %q", out)
	}
	if out := e.ok("__complete", "agent", "evolve", "x", "--suite", ""); !strings.HasPrefix(out, "tsplib\nbbob-f8-d10\n") {
		t.Errorf("suites: %q", out)
	}

	root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	evo, _, err := root.Find([]string{"evolution"})
	if err != nil {
		t.Fatal(err)
	}
	var check func(c *cobra.Command)
	check = func(c *cobra.Command) {
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s lacks Short, Long or Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			check(sub)
		}
	}
	check(evo)
	var subs []string
	for _, c := range evo.Commands() {
		subs = append(subs, c.Name())
	}
	sort.Strings(subs)
	if got := strings.Join(subs, " "); got != "archive best cancel describe leaderboard lineage ls pause plot resume start watch" {
		t.Errorf("subcommands %s", got)
	}
	evolve, _, err := root.Find([]string{"agent", "evolve"})
	if err != nil || evolve.Name() != "evolve" {
		t.Fatalf("agent evolve: %v", err)
	}
	check(evolve)
}
