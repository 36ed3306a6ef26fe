package evolve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/registry"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// builtDir holds the built-in plugins and the test strategy, built once.
var builtDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evolve-plugins")
	if err != nil {
		panic(err)
	}
	builtDir = dir
	if out, err := exec.Command("bash", "../../plugins/build.sh", dir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the built-in plugins: %v\n%s", err, out)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, "bad.wasm"), "./testdata/badstrategy")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/badstrategy: %v\n%s", err, out)
		os.Exit(1)
	}
	if err := testbin.Build(filepath.Join(dir, "tspsolver"), "./benchmarks/agents/tspsolver"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var sharedCache = filepath.Join(os.TempDir(), "stratoswarm-test-wasm-cache")

// world is a store, a plugin host, a registry with the built-ins and an
// engine, all on one data dir (reopen makes a new engine on the same dir).
type world struct {
	t    *testing.T
	dir  string
	st   *store.Store
	host *plugin.Host
	reg  *registry.Registry
	eng  *Engine
}

func newWorld(t *testing.T, dir string) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	host, err := plugin.NewHost(ctx, plugin.Options{CacheDir: sharedCache})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.Options{Store: st, BlobDir: filepath.Join(dir, "plugins"), Host: host,
		Grants: []string{"log", "clock", "random", "metrics"}, AllowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	entries, err := os.ReadDir(builtDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "strategy-random.") {
			b, _ := os.ReadFile(filepath.Join(builtDir, e.Name()))
			fsys[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	if err := reg.InstallBuiltins(ctx, fsys); err != nil {
		t.Fatal(err)
	}
	eng := New(Options{Store: st, Plugins: reg, Suites: suite.Catalog{DataDir: filepath.Join(dir, "suites"), TSPSolver: []string{filepath.Join(builtDir, "tspsolver")}}})
	w := &world{t: t, dir: dir, st: st, host: host, reg: reg, eng: eng}
	t.Cleanup(w.close)
	return w
}

func (w *world) close() {
	if w.eng == nil {
		return
	}
	w.eng.Close()
	w.reg.Close(context.Background())
	w.host.Close(context.Background())
	w.st.Close()
	w.eng = nil
}

// uploadBad registers the misbehaving test strategy as bad@version.
func (w *world) uploadBad(version string) {
	w.t.Helper()
	module, err := os.ReadFile(filepath.Join(builtDir, "bad.wasm"))
	if err != nil {
		w.t.Fatal(err)
	}
	manifest := fmt.Sprintf("name: bad\nversion: %s\nkind: strategy\nabi: 1\n", version)
	if _, err := w.reg.Upload(context.Background(), []byte(manifest), nil, module, ""); err != nil {
		w.t.Fatal(err)
	}
	w.reg.Wait()
}

func evolution(name, suiteName, strategy string, evals int64, seed uint64) *v1.Evolution {
	n, ver, _ := strings.Cut(strategy, "@")
	return &v1.Evolution{
		Metadata: &v1.ObjectMeta{Name: name},
		Spec: &v1.EvolutionSpec{
			Strategy: &v1.PluginRef{Name: n, Version: ver},
			Suite:    suiteName,
			Budget:   &v1.Budget{MaxEvaluations: evals, BatchSize: 8, Parallelism: 2},
			Seed:     seed,
		},
	}
}

func (w *world) waitPhase(name string, phases ...string) *v1.Evolution {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		evo, err := w.eng.Evolutions().Get(context.Background(), name)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, p := range phases {
			if evo.GetStatus().GetPhase() == p {
				return evo
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	evo, _ := w.eng.Evolutions().Get(context.Background(), name)
	w.t.Fatalf("evolution %s never reached %v: %v", name, phases, evo.GetStatus())
	return nil
}

// archive returns an evolution's candidates by name, timestamps stripped.
func (w *world) archive(name string) map[string]*v1.Candidate {
	w.t.Helper()
	page, err := w.eng.Candidates(name).List(context.Background(), store.ListOptions{PageSize: store.MaxPageSize})
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]*v1.Candidate{}
	for _, c := range page.Items {
		c = proto.Clone(c).(*v1.Candidate)
		c.Metadata = &v1.ObjectMeta{Name: c.GetMetadata().GetName()}
		for _, tr := range c.GetStatus().GetTaskResults() {
			tr.Duration = nil
		}
		out[c.GetMetadata().GetName()] = c
	}
	return out
}

func TestEvolutionRunsToItsBudget(t *testing.T) {
	w := newWorld(t, t.TempDir())
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, evolution("sphere", "bbob-f1-d2", "random", 40, 7), ""); err != nil {
		t.Fatal(err)
	}
	evo := w.waitPhase("sphere", PhaseSucceeded, PhaseFailed, PhasePaused)
	st := evo.GetStatus()
	if st.GetPhase() != PhaseSucceeded || st.GetEvaluations() != 40 || st.GetGeneration() != 5 {
		t.Fatalf("status %v", st)
	}
	arch := w.archive("sphere")
	if len(arch) != 40 {
		t.Fatalf("%d candidates, want 40", len(arch))
	}
	best := arch[st.GetBestCandidate()]
	if best == nil {
		t.Fatalf("best candidate %q not in the archive", st.GetBestCandidate())
	}
	for _, c := range arch {
		if c.GetStatus().GetPhase() != CandidateEvaluated || len(c.GetStatus().GetTaskResults()) != 1 {
			t.Fatalf("candidate %s: %v", c.GetMetadata().GetName(), c.GetStatus())
		}
		if c.GetStatus().GetScores()["delta_f"] < best.GetStatus().GetScores()["delta_f"] {
			t.Fatalf("candidate %s beats the best %s", c.GetMetadata().GetName(), st.GetBestCandidate())
		}
	}
}

func TestSameSeedSameArchive(t *testing.T) {
	w := newWorld(t, t.TempDir())
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := w.eng.Create(ctx, evolution(n, "bbob-f8-d3", "random", 24, 42), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.eng.Create(ctx, evolution("c", "bbob-f8-d3", "random", 24, 43), ""); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		w.waitPhase(n, PhaseSucceeded)
	}
	a, b, c := w.archive("a"), w.archive("b"), w.archive("c")
	for name, ca := range a {
		ca.Spec.Evolution, ca.Metadata.Labels = "", nil
		cb := b[name]
		if cb == nil {
			t.Fatalf("candidate %s only in a", name)
		}
		cb.Spec.Evolution, cb.Metadata.Labels = "", nil
		if !proto.Equal(ca, cb) {
			t.Fatalf("candidate %s differs:\n%v\n%v", name, ca, cb)
		}
	}
	same := 0
	for name, cc := range c {
		if a[name] != nil && proto.Equal(a[name].GetSpec().GetGenome(), cc.GetSpec().GetGenome()) {
			same++
		}
	}
	if same == len(c) {
		t.Fatal("another seed gave the same archive")
	}
}

// stallingSuites wraps a catalog so that every evaluation after the first
// `after` blocks until its context ends: a daemon stopped mid-generation.
type stallingSuites struct {
	inner suite.Catalog
	after int64
	count *atomic.Int64
}

func (s stallingSuites) Lookup(name string, opts suite.Options) (suite.Suite, error) {
	st, err := s.inner.Lookup(name, opts)
	return stallingSuite{st, s}, err
}

type stallingSuite struct {
	suite.Suite
	s stallingSuites
}

func (s stallingSuite) Evaluate(ctx context.Context, g map[string]any, t suite.Task, seed uint64) suite.Outcome {
	if s.s.count.Add(1) > s.s.after {
		<-ctx.Done()
		return suite.Outcome{Failed: true, Reason: "stopped"}
	}
	return s.Suite.Evaluate(ctx, g, t, seed)
}

// TestResumeLosesNothing stops the engine in the middle of a generation
// (as a daemon shutdown does) and starts a new one on the same store: the
// run completes with exactly the archive of an uninterrupted run, and no
// candidate stored before the stop is evaluated again.
func TestResumeLosesNothing(t *testing.T) {
	ctx := context.Background()
	ref := newWorld(t, t.TempDir())
	if _, err := ref.eng.Create(ctx, evolution("run", "bbob-f10-d2", "random", 64, 5), ""); err != nil {
		t.Fatal(err)
	}
	ref.waitPhase("run", PhaseSucceeded)
	want := ref.archive("run")

	dir := t.TempDir()
	w := newWorld(t, dir)
	count := &atomic.Int64{}
	w.eng.opts.Suites = stallingSuites{inner: suite.Catalog{DataDir: filepath.Join(dir, "suites")}, after: 21, count: count}
	if _, err := w.eng.Create(ctx, evolution("run", "bbob-f10-d2", "random", 64, 5), ""); err != nil {
		t.Fatal(err)
	}
	evaluatedIn := func(arch map[string]*v1.Candidate) int {
		n := 0
		for _, c := range arch {
			if c.GetStatus().GetPhase() == CandidateEvaluated {
				n++
			}
		}
		return n
	}
	// Wait until 21 results are stored and the 22nd evaluation hangs.
	for count.Load() <= 21 || evaluatedIn(w.archive("run")) < 21 {
		time.Sleep(time.Millisecond)
	}
	w.close()
	w3 := newWorld(t, dir) // read what the stopped daemon left
	w3.eng.opts.Suites = stallingSuites{inner: suite.Catalog{DataDir: filepath.Join(dir, "suites")}, after: 0, count: &atomic.Int64{}}
	before := w3.archive("run")
	evaluated := evaluatedIn(before)
	w3.close()
	if evaluated != 21 || len(before) != 24 {
		t.Fatalf("at the stop: %d candidates, %d evaluated; want 24 and 21", len(before), evaluated)
	}

	w2 := newWorld(t, dir)
	counted := &atomic.Int64{}
	w2.eng.opts.Suites = stallingSuites{inner: suite.Catalog{DataDir: filepath.Join(dir, "suites")}, after: 1 << 40, count: counted}
	if err := w2.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w2.waitPhase("run", PhaseSucceeded)
	if n := counted.Load(); n != 64-21 {
		t.Fatalf("the resumed run evaluated %d candidates, want %d (nothing twice)", n, 64-21)
	}
	got := w2.archive("run")
	if len(got) != len(want) {
		t.Fatalf("resumed archive has %d candidates, want %d", len(got), len(want))
	}
	for name, c := range got {
		wc := want[name]
		if wc == nil || !proto.Equal(c.GetSpec().GetGenome(), wc.GetSpec().GetGenome()) || !proto.Equal(c.GetStatus(), wc.GetStatus()) {
			t.Fatalf("candidate %s differs after resume:\n%v\n%v", name, c, wc)
		}
	}
}

func TestBadEvolutionsNameTheField(t *testing.T) {
	w := newWorld(t, t.TempDir())
	ctx := context.Background()
	badSpace := &v1.SearchSpace{Parameters: []*v1.Parameter{{Name: "x", Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: 2, Max: 1}}}}}
	cases := []struct {
		edit  func(*v1.Evolution)
		field string
		want  string
	}{
		{func(e *v1.Evolution) { e.Spec.Suite = "" }, "spec.suite", "required"},
		{func(e *v1.Evolution) { e.Spec.Suite = "nope" }, "spec.suite", `unknown suite "nope"`},
		{func(e *v1.Evolution) { e.Spec.Suite = "bbob-f99-d2" }, "spec.suite", "function"},
		{func(e *v1.Evolution) { e.Spec.Strategy.Name = "" }, "spec.strategy.name", "required"},
		{func(e *v1.Evolution) { e.Spec.Strategy.Name = "ghost" }, "spec.strategy", `no plugin "ghost"`},
		{func(e *v1.Evolution) { e.Spec.SearchSpace = badSpace }, "spec.search_space", "x"},
		{func(e *v1.Evolution) { e.Spec.Budget = &v1.Budget{} }, "spec.budget", "no limit"},
		{func(e *v1.Evolution) { e.Spec.Budget.MaxEvaluations = -1 }, "spec.budget.max_evaluations", "outside"},
		{func(e *v1.Evolution) { e.Spec.Budget.Parallelism = 1000 }, "spec.budget.parallelism", "outside"},
		{func(e *v1.Evolution) { e.Spec.Budget.BatchSize = 5000 }, "spec.budget.batch_size", "outside"},
		{func(e *v1.Evolution) { e.Spec.Objectives = []*v1.Objective{{Name: "speed"}} }, "spec.objectives[0].name", `"speed" is not an objective`},
		{func(e *v1.Evolution) { e.Spec.Stages = []*v1.Stage{{Name: "s", Subset: "tiny"}} }, "spec.stages", `no subset "tiny"`},
	}
	for i, c := range cases {
		evo := evolution(fmt.Sprintf("bad-%d", i), "bbob-f1-d2", "random", 8, 1)
		c.edit(evo)
		_, err := w.eng.Create(ctx, evo, "")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Msg, c.want) {
			t.Errorf("case %d: got %v, want field %s containing %q", i, err, c.field, c.want)
		}
	}
	page, _ := w.eng.Evolutions().List(ctx, store.ListOptions{})
	if len(page.Items) != 0 {
		t.Fatalf("refused evolutions were stored: %d", len(page.Items))
	}
}

func TestGenomesOutsideTheSpaceAreRejectedAndCounted(t *testing.T) {
	w := newWorld(t, t.TempDir())
	w.uploadBad("1.0.0")
	ctx := context.Background()
	evo := evolution("outside", "bbob-f1-d2", "bad@1.0.0", 40, 1)
	evo.Spec.Strategy.Config, _ = structpb.NewStruct(map[string]any{"outside": true})
	if _, err := w.eng.Create(ctx, evo, ""); err != nil {
		t.Fatal(err)
	}
	got := w.waitPhase("outside", PhasePaused, PhaseFailed, PhaseSucceeded)
	if got.GetStatus().GetPhase() != PhasePaused || !strings.Contains(got.GetStatus().GetReason(), "only invalid candidates") {
		t.Fatalf("status %v", got.GetStatus())
	}
	arch := w.archive("outside")
	if len(arch) != maxRejectedGenerations*8 {
		t.Fatalf("%d candidates", len(arch))
	}
	for _, c := range arch {
		if c.GetStatus().GetPhase() != CandidateRejected || !strings.Contains(c.GetStatus().GetReason(), "outside the search space") {
			t.Fatalf("candidate %s: %v", c.GetMetadata().GetName(), c.GetStatus())
		}
	}
	p, _ := w.reg.Plugins().Get(ctx, "bad")
	n := 0
	for _, v := range p.GetStatus().GetVersions() {
		for _, e := range v.GetEvidence() {
			if e.GetKind() == "invalid_output" {
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no evidence was recorded against the plugin")
	}
}

func TestATrapPausesAndAnotherVersionContinues(t *testing.T) {
	w := newWorld(t, t.TempDir())
	w.uploadBad("1.0.0")
	ctx := context.Background()
	evo := evolution("trap", "bbob-f1-d2", "bad@1.0.0", 40, 1)
	evo.Spec.Strategy.Config, _ = structpb.NewStruct(map[string]any{"trap_at": 3})
	if _, err := w.eng.Create(ctx, evo, ""); err != nil {
		t.Fatal(err)
	}
	got := w.waitPhase("trap", PhasePaused, PhaseFailed, PhaseSucceeded)
	if got.GetStatus().GetPhase() != PhasePaused || !strings.Contains(got.GetStatus().GetReason(), "failed in propose") || got.GetStatus().GetEvaluations() != 16 {
		t.Fatalf("status %v", got.GetStatus())
	}
	// random cannot restore bad's snapshot: it starts afresh and replays
	// the 16 evaluated candidates, then finishes the budget.
	if _, err := w.eng.Resume(ctx, "trap", &v1.PluginRef{Name: "random"}); err != nil {
		t.Fatal(err)
	}
	got = w.waitPhase("trap", PhaseSucceeded, PhasePaused, PhaseFailed)
	if got.GetStatus().GetPhase() != PhaseSucceeded || got.GetStatus().GetEvaluations() != 40 {
		t.Fatalf("after resume: %v", got.GetStatus())
	}
	if len(w.archive("trap")) != 40 {
		t.Fatalf("archive size %d", len(w.archive("trap")))
	}
}

// TestStagedTSPEvolution evolves the tspsolver on tsplib-small with two
// stages: every candidate runs eil51; only those within 5% of optimal run
// the rest. Candidates report the stage they reached, and the best one
// went through both.
func TestStagedTSPEvolution(t *testing.T) {
	w := newWorld(t, t.TempDir())
	ctx := context.Background()
	evo := evolution("tsp", "tsplib-small", "random", 16, 11)
	evo.Spec.Stages = []*v1.Stage{{Name: "first", Subset: "small", Threshold: 0.05}, {Name: "all", Subset: "full"}}
	if _, err := w.eng.Create(ctx, evo, ""); err != nil {
		t.Fatal(err)
	}
	got := w.waitPhase("tsp", PhaseSucceeded, PhasePaused, PhaseFailed)
	if got.GetStatus().GetPhase() != PhaseSucceeded {
		t.Fatalf("status %v", got.GetStatus())
	}
	stages := map[string]int{}
	for _, c := range w.archive("tsp") {
		st := c.GetStatus()
		stages[st.GetStage()]++
		n := len(st.GetTaskResults())
		switch {
		case st.GetPhase() == CandidateFailed:
		case st.GetStage() == "first" && (n != 1 || st.GetScores()["gap"] <= 0.05):
			t.Errorf("%s stopped at the first stage with %d tasks and gap %v", c.GetMetadata().GetName(), n, st.GetScores()["gap"])
		case st.GetStage() == "all" && n != 3:
			t.Errorf("%s reached the last stage with %d tasks", c.GetMetadata().GetName(), n)
		}
	}
	if stages["all"] == 0 {
		t.Fatalf("no candidate passed the first stage: %v", stages)
	}
	arch := w.archive("tsp")
	best := arch[got.GetStatus().GetBestCandidate()]
	if best.GetStatus().GetStage() != "all" {
		t.Fatalf("the best candidate did not go through every stage: %v", best.GetStatus())
	}
	// The incumbent design was evaluated on every task, outside the budget.
	base := arch[BaselineCandidate]
	if base == nil || base.GetStatus().GetPhase() != CandidateEvaluated || len(base.GetStatus().GetTaskResults()) != 3 || len(arch) != 17 {
		t.Fatalf("baseline %v; archive of %d", base.GetStatus(), len(arch))
	}
}

// TestAgentTemplateCarriesTheSpace: an evolution that names an agent
// template searches the template's space; an unknown agent is refused.
func TestAgentTemplateCarriesTheSpace(t *testing.T) {
	w := newWorld(t, t.TempDir())
	ctx := context.Background()
	agents := store.NewRepository[*v1.Agent](w.st, "agents", true)
	w.eng.opts.Agents = agents
	space := &v1.SearchSpace{Parameters: []*v1.Parameter{
		{Name: "x0", Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: -1, Max: 1}}},
		{Name: "x1", Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: 0, Max: 0.5}}},
	}}
	if _, _, err := agents.Create(ctx, &v1.Agent{Metadata: &v1.ObjectMeta{Name: "solver"}, Spec: &v1.AgentSpec{Image: "x", SearchSpace: space}}, ""); err != nil {
		t.Fatal(err)
	}
	evo := evolution("from-agent", "bbob-f1-d2", "random", 16, 3)
	evo.Spec.Agent = "solver"
	if _, err := w.eng.Create(ctx, evo, ""); err != nil {
		t.Fatal(err)
	}
	w.waitPhase("from-agent", PhaseSucceeded)
	for name, c := range w.archive("from-agent") {
		x1 := c.GetSpec().GetGenome().AsMap()["x1"].(float64)
		if x1 < 0 || x1 > 0.5 {
			t.Fatalf("candidate %s: x1 = %v is outside the agent's space", name, x1)
		}
	}
	bad := evolution("ghost-agent", "bbob-f1-d2", "random", 8, 3)
	bad.Spec.Agent = "ghost"
	var fe *FieldError
	if _, err := w.eng.Create(ctx, bad, ""); !errors.As(err, &fe) || fe.Field != "spec.agent" {
		t.Fatalf("unknown agent: %v", err)
	}
}

// recordingSuites remembers the options of each lookup.
type recordingSuites struct {
	inner suite.Catalog
	opts  *[]suite.Options
}

func (s recordingSuites) Lookup(name string, opts suite.Options) (suite.Suite, error) {
	*s.opts = append(*s.opts, opts)
	return s.inner.Lookup(name, opts)
}

func TestCandidateResourcesReachTheSuite(t *testing.T) {
	var seen []suite.Options
	e := &Engine{opts: Options{Suites: recordingSuites{inner: suite.Catalog{}, opts: &seen}}}
	spec := evolution("limited", "bbob-f1-d2", "random", 8, 1).GetSpec()
	spec.CandidateResources = &v1.ResourceList{CpuMillis: 250, MemoryBytes: 128 << 20, Pids: 16, TierBytes: map[string]int64{"nvme": 1 << 30}}
	if _, err := e.planFor(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	want := container.Limits{CPUs: 0.25, MemoryBytes: 128 << 20, Pids: 16, Tiers: map[container.Tier]int64{container.TierNVMe: 1 << 30}}
	if len(seen) != 1 || !reflect.DeepEqual(seen[0].Limits, want) {
		t.Fatalf("suite options %+v, want limits %+v", seen, want)
	}
	spec.CandidateResources = nil
	if _, err := e.planFor(context.Background(), spec); err != nil || !reflect.DeepEqual(seen[1], suite.Options{}) {
		t.Fatalf("no candidate resources: %+v %v", seen, err)
	}

	for field, r := range map[string]*v1.ResourceList{
		`spec.candidate_resources.tier_bytes["xyz"]`: {TierBytes: map[string]int64{"xyz": 1}},
		`spec.candidate_resources.tier_bytes["cpu"]`: {MemoryBytes: 1 << 20, TierBytes: map[string]int64{"cpu": 2 << 20}},
		"spec.candidate_resources.pids":              {Pids: -1},
	} {
		spec.CandidateResources = r
		_, err := e.planFor(context.Background(), spec)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%v: got %v, want a field error for %s", r, err, field)
		}
	}
	if len(seen) != 2 {
		t.Errorf("invalid limits reached the suite catalog: %d lookups", len(seen))
	}
}
