package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
)

func TestCanaryCreateUsageErrors(t *testing.T) {
	e := newEnv(t)
	genome := e.writeFile("genome.yaml", "max_iterations: 20\ntime_budget_ms: 0\n")
	list := e.writeFile("list.yaml", "- 1\n- 2\n")
	const lat = "tspsolver_request_seconds_mean:increase:critical"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"c", "--agent", "solver", "--genome-file", genome}, "no --metric: name the agent's metrics"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--evolution", "tsp", "--metric", lat}, "--genome-file and --evolution exclude each other"},
		{[]string{"c", "--agent", "solver", "--metric", lat}, "an agent canary needs the new version's genome"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--candidate", "r-1", "--metric", lat}, "--candidate names a candidate of an evolution: give --evolution too"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", "lat:up"}, `--metric "lat:up": "up" is neither a direction`},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", "lat:increase:decrease"}, "two directions"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", ":critical"}, "needs a name"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", "lat:increase:allow=0.5"}, "allow=0.5 tolerates a rise, so it is a ratio of 1 or more"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", "lat:allow=x"}, "allow=x is not a positive mean ratio"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", "lat:muted:muted"}, "muted twice"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", "lat", "--metric", "lat:critical"}, "lat is given twice"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--steps", "10,60"}, "60% is outside 1-50"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--steps", "25,10"}, "the steps must increase"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--steps", "10,x"}, `"x" is not a whole percentage`},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--interval", "0s"}, "--interval must be positive"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--pass", "40", "--marginal", "60"}, "--marginal 60 is above --pass 40"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--pass", "120"}, "--pass 120 is outside 0-100"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--trust-threshold", "2"}, "--trust-threshold 2 is outside 0-1"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--min-samples", "-1"}, "--min-samples must not be negative"},
		{[]string{"c", "--agent", "solver", "--genome-file", genome, "--metric", lat, "--version", "v2"}, "--canary-version"},
		{[]string{"c", "--agent", "solver", "--genome-file", list, "--metric", lat}, "want an object of parameters"},
		{[]string{"c", "--agent", "solver", "--plugin", "cmaes", "--version", "1.0.1"}, "--agent and --plugin exclude each other"},
		{[]string{"c", "--plugin", "cmaes"}, "--plugin needs --version V"},
		{[]string{"c", "--plugin", "cmaes", "--version", "1.0.1", "--genome-file", genome}, "a plugin canary runs an uploaded version"},
		{[]string{"c"}, "say what to canary"},
		{[]string{"Bad_Name", "--agent", "solver", "--genome-file", genome, "--metric", lat}, "NAME \"Bad_Name\" must be 1-63 lowercase"},
		{nil, "canary create needs NAME"},
		{[]string{"c", "-f", genome}, "-f FILE or NAME with flags, not both"},
		{[]string{"-f", genome, "--metric", lat}, "--metric cannot be combined with -f"},
		{[]string{"-f", genome}, `unknown field`},
	} {
		msg := e.fail(append([]string{"canary", "create"}, tc.args...)...)
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "Run 'swarmctl canary create --help' for usage.") {
			t.Errorf("canary create %s:\n%s\nwant %q and the usage hint", strings.Join(tc.args, " "), msg, tc.want)
		}
	}
	for _, args := range [][]string{{"watch", "x", "--timeout", "-1s"}, {"describe"}, {"rollback", "a", "b"}} {
		if msg := e.fail(append([]string{"canary"}, args...)...); !strings.Contains(msg, "for usage") {
			t.Errorf("canary %s: %s", strings.Join(args, " "), msg)
		}
	}
}

func TestCanaryFlagsMakeTheSpec(t *testing.T) {
	parse := func(args ...string) (*v1.CanarySpec, error) {
		t.Helper()
		cmd := &cobra.Command{Use: "create"}
		var f canaryFlags
		f.bind(&options{}, cmd)
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return f.spec(cmd.Flags(), func(string) ([]byte, error) {
			return []byte(`{"genome": {"max_iterations": 200}, "candidate": "r-7", "scores": {"gap": 0.01}}`), nil
		})
	}
	s, err := parse("--agent", "solver", "--genome-file", "best.json", "--metric", "lat:increase:critical", "--metric", "errors:critical:decrease:allow=0.8",
		"--metric", "rate:allow=0.5", "--metric", "slow:increase:ALLOW=3", "--metric", "watched:muted:increase", "--steps", "10, 25%,50", "--interval", "3s", "--min-samples", "8", "--max-no-data", "2", "--pass", "90", "--canary-version", "v9")
	if err != nil {
		t.Fatal(err)
	}
	want := &v1.CanarySpec{
		TargetKind: "Agent", Target: "solver", CanaryVersion: "v9", StepWeights: []int32{10, 25, 50}, Interval: durationpb.New(3 * time.Second),
		MinSamples: 8, MaxNoData: 2, PassThreshold: 90, MarginalThreshold: 50,
		Metrics: []*v1.CanaryMetric{{Name: "lat", Direction: "increase", Critical: true}, {Name: "errors", Direction: "decrease", Critical: true, AllowedDecrease: 0.8},
			{Name: "rate", AllowedIncrease: 2, AllowedDecrease: 0.5}, {Name: "slow", Direction: "increase", AllowedIncrease: 3},
			{Name: "watched", Direction: "increase", Muted: true}},
	}
	if g := s.GetGenome().GetFields()["max_iterations"].GetNumberValue(); g != 200 || len(s.GetGenome().GetFields()) != 1 {
		t.Errorf("the genome of evolution best's output: %v", s.GetGenome())
	}
	s.Genome = nil
	if got, w := protojson.Format(s), protojson.Format(want); got != w {
		t.Errorf("spec\n%s\nwant\n%s", got, w)
	}
	s, err = parse("--plugin", "cmaes", "--version", "1.0.1", "--marginal", "30")
	if err != nil {
		t.Fatal(err)
	}
	if s.GetTargetKind() != "Plugin" || s.GetCanaryVersion() != "1.0.1" || s.GetPassThreshold() != 75 || s.GetMarginalThreshold() != 30 || s.GetInterval() != nil {
		t.Errorf("plugin spec %v", s)
	}
}

func TestCanaryTablesAndLines(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 30, 0, time.Local)
	at := func(sec int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2025, 3, 1, 12, 0, sec, 0, time.Local))
	}
	sched := []*v1.CanaryStage{{Weight: 10, Analyses: 1}, {Weight: 25, Analyses: 1}, {Weight: 50, Analyses: 1}}
	table := []*v1.MetricResult{{Name: "lat", Classification: "High", Critical: true, ControlMean: 0.0123456, ControlCount: 12,
		ExperimentMean: 0.0125, ExperimentCount: 11, Effect: 1.0125, Reason: "no significant change"}}
	cn := &v1.Canary{
		Metadata: &v1.ObjectMeta{Name: "solver-v2", CreateTime: at(0)},
		Spec: &v1.CanarySpec{TargetKind: "Agent", Target: "solver", BaselineVersion: "v1", CanaryVersion: "v2", StepWeights: []int32{10, 25, 50},
			Interval: durationpb.New(3 * time.Second), PassThreshold: 75, MarginalThreshold: 50,
			Metrics: []*v1.CanaryMetric{{Name: "lat", Group: "lat", Direction: "increase", Critical: true}}},
		Status: &v1.CanaryStatus{Phase: "Progressing", Step: 1, Weight: 25, LiveWeight: 50, BaselineWeight: 25, Pace: 0.5, Schedule: sched, StartTime: at(0),
			Decisions: []*v1.CanaryDecision{
				{Time: at(3), Step: 0, Verdict: "Pass", Score: 100, Action: "step", By: "controller", Weight: 25, Metrics: table,
					Reason: "analysis 1 of 1 at step 1 of 3 (canary 10%) passed with score 100 (pass 75); stepped up to canary 25%."},
				{Time: at(6), Step: 1, Verdict: "NoData", Action: "hold", By: "controller", Weight: 25, Reason: "no data"},
			}},
	}
	if got := decisionLine(cn.Status.Decisions[0], sched); got != "12:00:03 step 1/3 canary 10%  Pass 100  → step to 25%: analysis 1 of 1 at step 1 of 3 (canary 10%) passed with score 100 (pass 75); stepped up to canary 25%." {
		t.Errorf("decision line %q", got)
	}
	if got := decisionLine(&v1.CanaryDecision{Time: at(9), Step: 1, Action: "rollback", By: "api", Reason: "rolled back by hand: x"}, sched); got != "12:00:09 step 2/3 canary 25%  by api  → roll back: rolled back by hand: x" {
		t.Errorf("manual decision line %q", got)
	}
	var b strings.Builder
	if err := writeTable(&b, canaryColumns(), canaryRow, []*v1.Canary{cn}, now); err != nil {
		t.Fatal(err)
	}
	want := "NAME        TARGET         VERSIONS   PHASE         STEP   WEIGHT     SCORE   AGE\n" +
		"solver-v2   agent/solver   v1→v2      Progressing   2/3    50/25/25   100     30s\n"
	if b.String() != want {
		t.Errorf("ls table\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := describeCanary(&b, cn, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Target:", "agent/solver", "Steps:", "10%, 25%, 50%", "Interval:", "3s", "pass 75, marginal 50", "50 (default) per side",
		"Step:", "2/3 (canary 25%, 0 of 1 passing analysis)", "live 50%, baseline 25%, canary 25%",
		"10% → 25% → 50%, 1 passing analysis each, every 3s (pace 0.5)",
		"TIME", "12:00:03", "NoData", "hold",
		"Last analysis (12:00:03, step 1/3, Pass 100):", "BASELINE MEAN (N)", "High (critical failure)", "0.01235 (12)", "0.0125 (11)", "1.012", "no significant change",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, b.String())
		}
	}
	if formatMetric(math.NaN()) != "-" {
		t.Error("NaN not written as -")
	}

	var w strings.Builder
	v := &canaryView{w: &w, now: func() time.Time { return now }}
	v.update(cn)
	v.update(cn) // the watch's initial state repeats the object: nothing new
	cn.Status.Phase, cn.Status.Reason = "Paused", "paused"
	cn.Status.Decisions = append(cn.Status.Decisions, &v1.CanaryDecision{Time: at(9), Step: 1, Verdict: "Marginal", Score: 60, Action: "pause", By: "controller", Weight: 25, Metrics: table, Reason: "marginal"})
	v.update(cn)
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "12:00:30 canary/solver-v2: agent/solver v1 → v2, Progressing at step 2/3, canary 25% (live 50%, baseline 25%); schedule 10% → 25%") ||
		!strings.Contains(lines[2], "NoData  → hold: no data") || !strings.Contains(lines[3], "Marginal 60  → pause: marginal") || !strings.Contains(lines[4], "canary resume|promote|rollback solver-v2") {
		t.Errorf("watch lines:\n%s", w.String())
	}
}

// canaryAgentYAML is agent solver: two replicas of the static tspsolver
// serving solve requests, design 20 iterations.
const canaryAgentYAML = `metadata:
  name: solver
spec:
  role: solver
  image: scratch
  replicas: 2
  command: [/opt/stratoswarm/tspsolver, serve]
  mounts: [{source: %s, target: /opt/stratoswarm/tspsolver, readOnly: true}]
  resources: {memoryBytes: 268435456}
  genome: {max_iterations: 20, time_budget_ms: 0}
`

// TestCanaryReleaseOfAnAgent runs swarmctl canary against a swarmd with a
// live agent under traffic: a canary rolled back by hand (create,
// idempotent create, ls, describe, rollback, watch of the outcome), then a
// same-design canary watched step by step until it is promoted.
func TestCanaryReleaseOfAnAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("agent canaries run native containers: the test needs root (these machines have it)")
	}
	solver := filepath.Join(t.TempDir(), "tspsolver")
	if err := testbin.Build(solver, "./benchmarks/agents/tspsolver"); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	srv := startDaemon(t, e.dataDir)
	e.vars["SWARM_SERVER"] = srv.GRPCAddr()
	e.vars["SWARM_TOKEN"] = srv.Token()
	e.stdin = fmt.Sprintf(canaryAgentYAML, solver)
	e.ok("agent", "create", "-f", "-")
	e.stdin = ""
	t.Cleanup(func() { e.run("agent", "rm", "solver") }) // its replicas stop before swarmd does

	agent := func() *v1.Agent {
		t.Helper()
		a := &v1.Agent{}
		if err := protojson.Unmarshal([]byte(e.ok("agent", "describe", "solver", "-o", "json")), a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	waitVersion := func(version string) *v1.Agent {
		t.Helper()
		var a *v1.Agent
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if a = agent(); a.GetStatus().GetPhase() == "Running" && a.GetStatus().GetVersion() == version || a.GetStatus().GetPhase() == "Failed" {
				break
			}
		}
		if st := a.GetStatus(); st.GetPhase() != "Running" || st.GetVersion() != version {
			t.Fatalf("agent solver is %s %s (%v), want Running %s", st.GetPhase(), st.GetVersion(), st.GetConditions(), version)
		}
		return a
	}
	address := waitVersion("v1").GetStatus().GetAddress()

	// Solve traffic through the agent's service until the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s/solve?instance=st70&seed=%d", address, w*1_000_000+i), nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	genome := e.writeFile("best.json", `{"genome": {"max_iterations": 20, "time_budget_ms": 0}, "candidate": "r-1", "scores": {"gap": 0.02}}`)
	// Latency may not double: a critical rise beyond that is a failure
	// (the same design stays well within it, also on a loaded machine).
	const metric = "tspsolver_request_seconds_mean:increase:critical:allow=2"

	// A canary that would take a while, rolled back by hand.
	create := []string{"canary", "create", "stop", "--agent", "solver", "--genome-file", genome, "--metric", metric,
		"--steps", "10,25", "--interval", "30s", "--min-samples", "8", "--request-id", "stop-1"}
	out := e.ok(create...)
	for _, want := range []string{"canary/stop created: agent/solver v1 → v2", "schedule:  10% → 25%, 1 passing analysis each, every 30s (pace 0.5)",
		"judged on: tspsolver_request_seconds_mean (increase, critical, allow ×2); pass 75, marginal 50", "Follow it with: swarmctl canary watch stop"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	if out := e.ok(create...); !strings.Contains(out, "canary/stop unchanged") {
		t.Errorf("a create repeated with its request id:\n%s", out)
	}
	out = e.ok("canary", "ls")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME TARGET VERSIONS PHASE STEP WEIGHT SCORE AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "stop agent/solver v1→v2 Progressing 1/2 80/10/10 <none> ") {
		t.Errorf("canary ls:\n%s", out)
	}
	out = e.ok("canary", "describe", "stop")
	for _, want := range []string{"Name:", "stop", "Baseline version:", "v1", "Canary version:", "v2", `"max_iterations":20`, "Phase:", "Progressing",
		"Step:", "1/2 (canary 10%, 0 of 1 passing analysis)", "Decisions:", "Last analysis:"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if out := e.ok("__complete", "canary", "describe", "st"); !strings.HasPrefix(out, "stop\n:4\n") {
		t.Errorf("completion of canary names:\n%s", out)
	}
	if msg := e.fail("canary", "create", "other", "--agent", "solver", "--genome-file", genome, "--metric", metric); !strings.Contains(msg, "FAILED_PRECONDITION") || !strings.Contains(msg, "already has canary stop in progress") {
		t.Errorf("a second canary of the agent: %s", msg)
	}
	if msg := e.fail("canary", "resume", "stop"); !strings.Contains(msg, "FAILED_PRECONDITION") || !strings.Contains(msg, "not paused") {
		t.Errorf("resume of a progressing canary: %s", msg)
	}
	out = e.ok("canary", "rollback", "stop", "--reason", "test over")
	if !strings.HasPrefix(out, "canary/stop RolledBack: rolled back by hand: test over at step 1 of 2 (canary 10%) by api") {
		t.Errorf("rollback:\n%s", out)
	}
	if msg := e.fail("canary", "rollback", "stop"); !strings.Contains(msg, "FAILED_PRECONDITION: cannot roll back canary stop: it has ended as RolledBack") {
		t.Errorf("rollback of a rolled back canary: %s", msg)
	}
	if msg := e.fail("canary", "describe", "nope"); !strings.Contains(msg, "NOT_FOUND") || !strings.Contains(msg, "hint: list the canaries with swarmctl canary ls") {
		t.Errorf("describe of an unknown canary: %s", msg)
	}
	r := e.run("canary", "watch", "stop")
	if r.code != 1 || !strings.Contains(r.out, "by api  → roll back: rolled back by hand: test over") ||
		!strings.Contains(r.out, "canary/stop RolledBack: agent/solver stays on v1 after 1 decision") ||
		!strings.Contains(r.err, "Error: canary stop was rolled back: rolled back by hand: test over") {
		t.Errorf("watch of a rolled back canary: exit %d\n%s%s", r.code, r.out, r.err)
	}

	// The same design in two steps of 3 s: watched until promoted.
	start := time.Now()
	r = e.run("canary", "create", "same", "--agent", "solver", "--genome-file", genome, "--metric", metric,
		"--steps", "25,50", "--interval", "3s", "--min-samples", "8", "--max-no-data", "3", "-w", "--timeout", "90s")
	t.Logf("canary create -w took %s:\n%s%s", time.Since(start).Round(time.Millisecond), r.out, r.err)
	if r.code != 0 {
		t.Fatalf("the same-design canary was not promoted: exit %d\n%s%s", r.code, r.out, r.err)
	}
	// v3: the rolled-back canary "stop" ran v2, and a version name is
	// never given to another design.
	for _, want := range []string{"canary/same created: agent/solver v1 → v3", "canary/same: agent/solver v1 → v3, Progressing at step 1/2, canary 25% (live 50%, baseline 25%)",
		"step 1/2 canary 25%  Pass ", "→ step to 50%: analysis 1 of 1 at step 1 of 2 (canary 25%) passed",
		"step 2/2 canary 50%  Pass ", "→ promote: analysis 1 of 1 at step 2 of 2 (canary 50%) passed", "canary/same Promoted: agent/solver runs v3 after "} {
		if !strings.Contains(r.out, want) {
			t.Errorf("create -w output lacks %q", want)
		}
	}
	out = e.ok("canary", "describe", "same")
	for _, want := range []string{"Phase:", "Promoted", "Traffic:", "live 100%, baseline 0%, canary 0%", "promote", "controller",
		"METRIC", "CLASSIFICATION", "BASELINE MEAN (N)", "tspsolver_request_seconds_mean"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe of the promoted canary lacks %q:\n%s", want, out)
		}
	}
	if out := e.ok("canary", "watch", "same"); !strings.Contains(out, "canary/same Promoted") {
		t.Errorf("watch of a promoted canary:\n%s", out)
	}
	// The server says how it ended (in words that depend on whether its
	// controller has quite finished yet).
	if msg := e.fail("canary", "promote", "same"); !strings.Contains(msg, "FAILED_PRECONDITION: ") || !strings.Contains(msg, "Promoted") {
		t.Errorf("promote of a promoted canary: %s", msg)
	}

	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("canary", "ls", "-o", "json")), &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("ls -o json: %d items, %v", len(list.Items), err)
	}
	got := &v1.Canary{}
	if err := protojson.Unmarshal([]byte(e.ok("canary", "describe", "same", "-o", "json")), got); err != nil {
		t.Fatal(err)
	}
	ds := got.GetStatus().GetDecisions()
	if got.GetStatus().GetPhase() != "Promoted" || len(ds) < 2 || ds[len(ds)-1].GetAction() != "promote" || len(ds[len(ds)-1].GetMetrics()) != 1 ||
		ds[len(ds)-1].GetMetrics()[0].GetControlCount() < 8 {
		t.Errorf("describe -o json: %v", got.GetStatus())
	}
	if a := waitVersion("v3"); a.GetStatus().GetLineage().GetParentVersion() != "v1" {
		t.Errorf("promoted agent's lineage %v", a.GetStatus().GetLineage())
	}

	wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
	defer wcancel()
	r = e.runRaw(wctx, "canary", "ls", "-w")
	// The watch runs until the deadline ends it: its exit code says how the
	// deadline met it; what it printed is the point.
	if !strings.Contains(r.out, "EVENT") || !strings.Contains(r.out, "ADDED") || !strings.Contains(r.out, "same") {
		t.Errorf("ls -w: exit %d\n%s%s", r.code, r.out, r.err)
	}
}
