package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/server"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
)

// canaryFixture is a swarmd with agent "solver" running v1 (tspsolver
// serve) under generated traffic.
type canaryFixture struct {
	d        *daemon
	dir      string
	agents   v1.AgentServiceClient
	canaries v1.CanaryServiceClient
	address  string
	solver   string // the static tspsolver binary
}

func newCanaryFixture(t *testing.T) *canaryFixture {
	t.Helper()
	e := setupNative(t)
	solver := filepath.Join(t.TempDir(), "tspsolver")
	if err := testbin.Build(solver, "./benchmarks/agents/tspsolver"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &canaryFixture{d: wrap(t, srv, dir), dir: dir}
	f.agents = v1.NewAgentServiceClient(f.d.conn)
	f.canaries = v1.NewCanaryServiceClient(f.d.conn)
	f.solver = solver
	f.createAgent(t, "solver", "", 2)
	st := f.waitAgent(t, "solver", "v1")
	f.address = st.GetAddress()
	return f
}

// createAgent creates agent name serving the example solver with
// personality (none if empty).
func (f *canaryFixture) createAgent(t *testing.T, name, personality string, replicas int32) {
	t.Helper()
	a := &v1.Agent{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.AgentSpec{
		Role: "solver", Image: "scratch", Replicas: replicas, Genome: genome(t, 20),
		Command:   []string{"/opt/stratoswarm/tspsolver", "serve"},
		Mounts:    []*v1.Mount{{Source: f.solver, Target: "/opt/stratoswarm/tspsolver", ReadOnly: true}},
		Resources: &v1.ResourceList{MemoryBytes: 256 << 20},
	}}
	if personality != "" {
		a.Spec.Personality = &v1.PluginRef{Name: personality}
	}
	if _, err := f.agents.CreateAgent(f.d.ctx(), &v1.CreateAgentRequest{Agent: a}); err != nil {
		t.Fatal(err)
	}
}

// waitAgent waits for agent name to run version.
func (f *canaryFixture) waitAgent(t *testing.T, name, version string) *v1.AgentStatus {
	t.Helper()
	var got *v1.Agent
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = f.agents.GetAgent(f.d.ctx(), &v1.GetAgentRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		if st := got.GetStatus(); st.GetPhase() == "Running" && st.GetVersion() == version || st.GetPhase() == "Failed" {
			break
		}
	}
	if st := got.GetStatus(); st.GetPhase() != "Running" || st.GetVersion() != version {
		t.Fatalf("agent status %v, want Running %s", st, version)
	}
	return got.GetStatus()
}

// traffic sends solve requests to the agent until the test ends.
func (f *canaryFixture) traffic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s/solve?instance=st70&seed=%d", f.address, w*1_000_000+i), nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func genome(t *testing.T, maxIterations int) *structpb.Struct {
	t.Helper()
	g, err := structpb.NewStruct(map[string]any{"max_iterations": maxIterations, "time_budget_ms": 0})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// canarySpec is a quick canary of the solver: one step, short intervals.
func canarySpec(g *structpb.Struct, metric string, interval time.Duration) *v1.CanarySpec {
	return &v1.CanarySpec{
		Target: "solver", Genome: g, StepWeights: []int32{50}, Interval: durationpb.New(interval), MinSamples: 8,
		Metrics: []*v1.CanaryMetric{{Name: metric, Direction: "increase", Critical: true}},
	}
}

// waitCanary waits for canary name to end (or pause) and returns it.
func (f *canaryFixture) waitCanary(t *testing.T, name string, phases ...string) *v1.Canary {
	t.Helper()
	var c *v1.Canary
	var err error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err = f.canaries.GetCanary(f.d.ctx(), &v1.GetCanaryRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		for _, p := range phases {
			if c.GetStatus().GetPhase() == p {
				return c
			}
		}
	}
	t.Fatalf("canary %s is %s (%s) after 90 s, want one of %v", name, c.GetStatus().GetPhase(), c.GetStatus().GetReason(), phases)
	return nil
}

// TestCanaryReleasesAgentVersions drives agent canaries through swarmd
// for real: a same-design canary is promoted and becomes the live
// version; a 100× slower one is rolled back on its latency; a canary whose
// replica is killed is rolled back as crashed; a canary without data
// pauses, and a concurrent promote and rollback of one canary have exactly
// one winner.
func TestCanaryReleasesAgentVersions(t *testing.T) {
	f := newCanaryFixture(t)
	f.traffic(t)
	ctx := f.d.ctx()
	const latency = "tspsolver_request_seconds_mean"

	// Bad requests first: each a clear error, nothing started.
	for _, tc := range []struct {
		name string
		spec *v1.CanarySpec
		code codes.Code
		want string
	}{
		{"no-metrics", &v1.CanarySpec{Target: "solver", Genome: genome(t, 20)}, codes.InvalidArgument, "no metrics to judge"},
		{"no-genome", &v1.CanarySpec{Target: "solver", Metrics: []*v1.CanaryMetric{{Name: latency}}}, codes.InvalidArgument, "needs the new version's genome"},
		{"unknown-agent", &v1.CanarySpec{Target: "nobody", Genome: genome(t, 20), Metrics: []*v1.CanaryMetric{{Name: latency}}}, codes.NotFound, "agent nobody not found"},
		{"bad-weights", &v1.CanarySpec{Target: "solver", Genome: genome(t, 20), StepWeights: []int32{60}, Metrics: []*v1.CanaryMetric{{Name: latency}}}, codes.InvalidArgument, "each must be from 1 to 50"},
		{"bad-direction", &v1.CanarySpec{Target: "solver", Genome: genome(t, 20), Metrics: []*v1.CanaryMetric{{Name: latency, Direction: "up"}}}, codes.InvalidArgument, "use increase"},
		{"taken-version", &v1.CanarySpec{Target: "solver", CanaryVersion: "v1", Genome: genome(t, 20), Metrics: []*v1.CanaryMetric{{Name: latency}}}, codes.InvalidArgument, "taken by the live version"},
		{"no-evolution", &v1.CanarySpec{Target: "solver", Evolution: "nope", Metrics: []*v1.CanaryMetric{{Name: latency}}}, codes.NotFound, "evolution nope not found"},
		{"all-muted", &v1.CanarySpec{Target: "solver", Genome: genome(t, 20), Metrics: []*v1.CanaryMetric{{Name: latency, Muted: true}}}, codes.InvalidArgument, "every metric is muted"},
		{"bad-tolerance", &v1.CanarySpec{Target: "solver", Genome: genome(t, 20), Metrics: []*v1.CanaryMetric{{Name: latency, AllowedIncrease: 0.5}}}, codes.InvalidArgument, "mean ratio of 1 or more"},
		{"plugin-no-version", &v1.CanarySpec{TargetKind: "Plugin", Target: "random"}, codes.InvalidArgument, "canary_version"},
		{"plugin-bad-version", &v1.CanarySpec{TargetKind: "Plugin", Target: "random", CanaryVersion: "1.0 beta"}, codes.InvalidArgument, "not a plugin version"},
		{"plugin-genome", &v1.CanarySpec{TargetKind: "Plugin", Target: "random", CanaryVersion: "2.0.0", Genome: genome(t, 20)}, codes.InvalidArgument, "not a genome"},
		{"plugin-unknown", &v1.CanarySpec{TargetKind: "Plugin", Target: "no-such-plugin", CanaryVersion: "2.0.0"}, codes.FailedPrecondition, "no-such-plugin"},
	} {
		_, err := f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{Metadata: &v1.ObjectMeta{Name: tc.name}, Spec: tc.spec}})
		wantCode(t, err, tc.code, tc.want)
	}

	// The same design: promoted, and v2 is the agent's live version.
	c, err := f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{
		Metadata: &v1.ObjectMeta{Name: "same"}, Spec: canarySpec(genome(t, 20), latency, 3*time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetSpec().GetCanaryVersion() != "v2" || c.GetSpec().GetBaselineVersion() != "v1" || c.GetStatus().GetPhase() != "Progressing" {
		t.Fatalf("created canary %v / %v, want v2 over v1, Progressing", c.GetSpec(), c.GetStatus())
	}
	_, err = f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{
		Metadata: &v1.ObjectMeta{Name: "second"}, Spec: canarySpec(genome(t, 20), latency, 3*time.Second)}})
	wantCode(t, err, codes.FailedPrecondition, "already has canary same in progress")
	c = f.waitCanary(t, "same", "Promoted", "RolledBack", "Failed", "Paused")
	if c.GetStatus().GetPhase() != "Promoted" {
		t.Fatalf("same-design canary ended %s: %s (decisions %v)", c.GetStatus().GetPhase(), c.GetStatus().GetReason(), c.GetStatus().GetDecisions())
	}
	last := c.GetStatus().GetDecisions()[len(c.GetStatus().GetDecisions())-1]
	if last.GetVerdict() != "Pass" || len(last.GetMetrics()) != 1 || last.GetMetrics()[0].GetControlCount() < 8 {
		t.Errorf("the promoting decision %v lacks its metric table", last)
	}
	st := f.waitAgent(t, "solver", "v2")
	if st.GetLineage().GetParentVersion() != "v1" || st.GetLineage().GetGeneration() != 1 {
		t.Errorf("agent lineage %v, want parent v1, generation 1", st.GetLineage())
	}
	if tr := c.GetStatus().GetTrust(); tr.GetLowerBound() < 0.2 || tr.GetEvidenceCount() == 0 {
		t.Errorf("the promoted canary's trust %v: want the gate's score (lower bound at least the default threshold 0.2, from its recorded passes)", tr)
	}
	if _, err := f.canaries.RollbackCanary(ctx, &v1.RollbackCanaryRequest{Name: "same"}); err == nil {
		t.Error("a promoted canary rolled back")
	} else {
		wantCode(t, err, codes.FailedPrecondition, "ended as Promoted")
	}

	// 100× the work per request: rolled back on the critical latency.
	if _, err := f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{
		Metadata: &v1.ObjectMeta{Name: "slow"}, Spec: canarySpec(genome(t, 2000), latency, 3*time.Second)}}); err != nil {
		t.Fatal(err)
	}
	c = f.waitCanary(t, "slow", "Promoted", "RolledBack", "Failed", "Paused")
	if c.GetStatus().GetPhase() != "RolledBack" || !strings.Contains(c.GetStatus().GetReason(), latency) {
		t.Fatalf("slow canary ended %s: %s, want RolledBack naming %s", c.GetStatus().GetPhase(), c.GetStatus().GetReason(), latency)
	}
	f.waitAgent(t, "solver", "v2")

	// A canary replica killed mid-rollout (after its first step, so that
	// it was serving): rolled back as crashed, though it restarts.
	crash := canarySpec(genome(t, 20), latency, 3*time.Second)
	crash.StepWeights = []int32{25, 50}
	if _, err := f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{Metadata: &v1.ObjectMeta{Name: "crash"}, Spec: crash}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err = f.canaries.GetCanary(ctx, &v1.GetCanaryRequest{Name: "crash"}); err != nil {
			t.Fatal(err)
		}
		if len(c.GetStatus().GetDecisions()) > 0 || c.GetStatus().GetPhase() != "Progressing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the canary took no decision in 60 s")
		}
	}
	if d := c.GetStatus().GetDecisions(); c.GetStatus().GetPhase() != "Progressing" || len(d) != 1 || d[0].GetAction() != "step" {
		t.Fatalf("before the crash: %s, decisions %v; want a first step", c.GetStatus().GetPhase(), c.GetStatus().GetDecisions())
	}
	killReplica(t, "solver", c.GetSpec().GetCanaryVersion())
	c = f.waitCanary(t, "crash", "Promoted", "RolledBack", "Failed", "Paused")
	if c.GetStatus().GetPhase() != "RolledBack" || !strings.Contains(c.GetStatus().GetReason(), "crash") {
		t.Fatalf("crashed canary ended %s: %s, want RolledBack as crashed", c.GetStatus().GetPhase(), c.GetStatus().GetReason())
	}

	// No data (a metric the agent does not report) is not a pass: paused.
	// A version with no passing analysis is not trusted: promoting it is
	// refused, and the canary stays paused.
	if _, err := f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{
		Metadata: &v1.ObjectMeta{Name: "nodata"}, Spec: canarySpec(genome(t, 20), "no_such_metric", 2*time.Second)}}); err != nil {
		t.Fatal(err)
	}
	c = f.waitCanary(t, "nodata", "Paused", "Promoted", "RolledBack", "Failed")
	if c.GetStatus().GetPhase() != "Paused" {
		t.Fatalf("canary without data ended %s: %s, want Paused", c.GetStatus().GetPhase(), c.GetStatus().GetReason())
	}
	if c.GetSpec().GetCanaryVersion() != "v5" {
		t.Errorf("canary version %s: want v5, since v3 and v4 were canaried (and rolled back) before", c.GetSpec().GetCanaryVersion())
	}
	_, err = f.canaries.PromoteCanary(ctx, &v1.PromoteCanaryRequest{Name: "nodata"})
	wantCode(t, err, codes.FailedPrecondition, "below the promotion threshold")
	if _, err := f.canaries.RollbackCanary(ctx, &v1.RollbackCanaryRequest{Name: "nodata", Reason: "no data"}); err != nil {
		t.Fatal(err)
	}

	// With the gate off, a promote and a rollback race, and one wins.
	spec := canarySpec(genome(t, 20), "no_such_metric", 2*time.Second)
	spec.TrustThreshold = -1
	if _, err := f.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{Metadata: &v1.ObjectMeta{Name: "race"}, Spec: spec}}); err != nil {
		t.Fatal(err)
	}
	f.waitCanary(t, "race", "Paused")
	if _, err := f.canaries.ResumeCanary(ctx, &v1.ResumeCanaryRequest{Name: "race"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, errs[0] = f.canaries.PromoteCanary(ctx, &v1.PromoteCanaryRequest{Name: "race"})
	}()
	go func() {
		defer wg.Done()
		_, errs[1] = f.canaries.RollbackCanary(ctx, &v1.RollbackCanaryRequest{Name: "race", Reason: "race"})
	}()
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("promote %v, rollback %v: want exactly one to win", errs[0], errs[1])
	}
	loser := errs[0]
	want := "RolledBack"
	if loser == nil {
		loser, want = errs[1], "Promoted"
	}
	wantCode(t, loser, codes.FailedPrecondition, "ended as "+want)
	f.waitCanary(t, "race", want)
	if want == "Promoted" {
		f.waitAgent(t, "solver", "v6")
	}
	list, err := f.canaries.ListCanaries(ctx, &v1.ListCanariesRequest{})
	if err != nil || len(list.GetCanaries()) != 5 {
		t.Fatalf("list: %d canaries, %v; want 5", len(list.GetCanaries()), err)
	}
}

// killReplica SIGKILLs the processes of agent's version (its replicas'
// servers), found by their SWARM_AGENT and SWARM_VERSION, once they run.
func killReplica(t *testing.T, agent, version string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if killProcs(agent, version) > 0 {
			return
		}
	}
	t.Fatalf("no process of %s@%s to kill", agent, version)
}

func killProcs(agent, version string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	killed := 0
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		vars := bytes.Split(env, []byte{0})
		has := func(kv string) bool {
			for _, v := range vars {
				if string(v) == kv {
					return true
				}
			}
			return false
		}
		if has("SWARM_AGENT="+agent) && has("SWARM_VERSION="+version) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	return killed
}

// TestCanaryPaceFollowsThePersonality: the agent's personality sets its
// canaries' pace, and so how many passing analyses each step needs: a
// conservative agent 3, an explorer 2, one without a personality 1 (the
// built-in plugins at trust 0.5: paces 0.225, 0.35 and 0.5).
func TestCanaryPaceFollowsThePersonality(t *testing.T) {
	f := newCanaryFixture(t)
	select {
	case <-f.d.srv.BuiltinsInstalled():
	case <-time.After(2 * time.Minute):
		t.Fatal("the built-in plugins were not installed within 2 minutes")
	}
	f.createAgent(t, "careful", "conservative", 1)
	f.createAgent(t, "bold", "explorer", 1)
	for _, tc := range []struct {
		agent    string
		analyses int32
		pace     float64
	}{{"careful", 3, 0.225}, {"bold", 2, 0.35}, {"solver", 1, 0.5}} {
		f.waitAgent(t, tc.agent, "v1")
		spec := canarySpec(genome(t, 20), "tspsolver_request_seconds_mean", time.Minute)
		spec.Target, spec.StepWeights = tc.agent, []int32{10, 25, 50}
		c, err := f.canaries.CreateCanary(f.d.ctx(), &v1.CreateCanaryRequest{Canary: &v1.Canary{Metadata: &v1.ObjectMeta{Name: "pace-" + tc.agent}, Spec: spec}})
		if err != nil {
			t.Fatal(err)
		}
		st := c.GetStatus()
		if math.Abs(st.GetPace()-tc.pace) > 1e-9 || len(st.GetSchedule()) != 3 {
			t.Errorf("%s: pace %v, schedule %v; want pace %v over 3 steps", tc.agent, st.GetPace(), st.GetSchedule(), tc.pace)
		}
		for _, sg := range st.GetSchedule() {
			if sg.GetAnalyses() != tc.analyses {
				t.Errorf("%s: step %d%% needs %d passing analyses, want %d", tc.agent, sg.GetWeight(), sg.GetAnalyses(), tc.analyses)
			}
		}
		if _, err := f.canaries.RollbackCanary(f.d.ctx(), &v1.RollbackCanaryRequest{Name: "pace-" + tc.agent, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAgentReadyReplicasFollowRestarts: when an agent's replicas die, its
// status says so (fewer ready replicas, Ready False with the reason) until
// the restart policy has them serving again.
func TestAgentReadyReplicasFollowRestarts(t *testing.T) {
	f := newCanaryFixture(t)
	killReplica(t, "solver", "v1")
	var down, back *v1.AgentStatus
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && back == nil; time.Sleep(20 * time.Millisecond) {
		a, err := f.agents.GetAgent(f.d.ctx(), &v1.GetAgentRequest{Name: "solver"})
		if err != nil {
			t.Fatal(err)
		}
		st := a.GetStatus()
		ready := readyCondition(st)
		switch {
		case down == nil && st.GetReadyReplicas() < 2 && ready.GetStatus() == "False":
			down = st
		case down != nil && st.GetReadyReplicas() == 2 && ready.GetStatus() == "True":
			back = st
		}
	}
	if down == nil || back == nil {
		t.Fatalf("status while down %v, after the restart %v: want fewer ready replicas with Ready False, then 2 with Ready True", down, back)
	}
	if c := readyCondition(down); c.GetReason() != "ReplicasRestarting" || !strings.Contains(c.GetMessage(), "being restarted") {
		t.Errorf("the Ready condition while down: %v", c)
	}
}

// readyCondition is st's Ready condition.
func readyCondition(st *v1.AgentStatus) *v1.Condition {
	for _, c := range st.GetConditions() {
		if c.GetType() == "Ready" {
			return c
		}
	}
	return nil
}
