package evolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/suite"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// installBuiltins installs the built-in plugins of builtDir whose file
// names start with one of prefixes (e.g. "personality-", "strategy-cmaes.").
func (w *world) installBuiltins(prefixes ...string) {
	w.t.Helper()
	fsys := fstest.MapFS{}
	entries, err := os.ReadDir(builtDir)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range entries {
		for _, p := range prefixes {
			if strings.HasPrefix(e.Name(), p) {
				b, _ := os.ReadFile(filepath.Join(builtDir, e.Name()))
				fsys[e.Name()] = &fstest.MapFile{Data: b}
			}
		}
	}
	if err := w.reg.InstallBuiltins(context.Background(), fsys); err != nil {
		w.t.Fatal(err)
	}
}

// withTrust gives the engine a trust log and scores with the built-in beta
// (one Service, as swarmd keeps one per scorer version), gating at
// threshold by default.
func (w *world) withTrust(threshold float64) *trust.Log {
	w.t.Helper()
	w.installBuiltins("trust-beta.")
	l, err := trust.OpenLog(trust.LogOptions{Dir: w.t.TempDir()})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { l.Close() })
	scorer, err := trust.OpenScorer(context.Background(), w.reg, "beta", "", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	svc, err := trust.NewService(trust.ServiceOptions{Log: l, Scorer: scorer})
	if err != nil {
		w.t.Fatal(err)
	}
	w.eng.opts.Evidence = l
	w.eng.opts.Trust = func(_ context.Context, ref *v1.PluginRef) (*trust.Service, error) {
		if n := ref.GetName(); n != "" && n != "beta" {
			return nil, fmt.Errorf("no trust plugin %q", n)
		}
		return svc, nil
	}
	w.eng.opts.TrustThreshold = threshold
	return l
}

// flakySuites serves bbob-f1-d2 as three tasks. A genome with x0 > 0 is
// "too good to be true": it scores delta_f 0 on task a, crashes on b and
// is OOM-killed on c (Evaluated all the same: not every task failed). A
// genome with x0 <= 0 is scored honestly on all three.
type flakySuites struct{ inner suite.Catalog }

func (f flakySuites) Lookup(name string, opts suite.Options) (suite.Suite, error) {
	st, err := f.inner.Lookup(name, opts)
	if err != nil {
		return nil, err
	}
	return flakySuite{st}, nil
}

type flakySuite struct{ suite.Suite }

func (flakySuite) Tasks() []suite.Task {
	return []suite.Task{{Name: "a"}, {Name: "b"}, {Name: "c"}}
}

func (flakySuite) Subsets() map[string][]string { return nil }

func (s flakySuite) Evaluate(ctx context.Context, g map[string]any, t suite.Task, seed uint64) suite.Outcome {
	if x0, _ := g["x0"].(float64); x0 > 0 {
		switch t.Name {
		case "a":
			return suite.Outcome{Scores: map[string]float64{"delta_f": 0}}
		case "b":
			return suite.Outcome{Failed: true, Reason: "the candidate exited with status 2: boom"}
		default:
			return suite.Outcome{Failed: true, Reason: "the candidate was OOM-killed: it went over its memory limit of 1 MiB"}
		}
	}
	return s.Suite.Evaluate(ctx, g, s.Suite.Tasks()[0], seed)
}

// The trust gate: candidates that failed most of their tasks are scored
// below the threshold, told to the strategy as failed (never a parent of a
// later proposal) and are never the best, though their scores are the
// best of all; their crashes and OOM kills are in the trust log. With the
// gate off the best is one of them.
func TestUntrustedCandidatesAreNeitherParentsNorBest(t *testing.T) {
	w := newWorld(t, t.TempDir())
	w.installBuiltins("personality-conservative.")
	l := w.withTrust(0.2)
	w.eng.opts.Suites = flakySuites{inner: suite.Catalog{DataDir: filepath.Join(w.dir, "suites")}}
	ctx := context.Background()
	gated := evolution("gated", "bbob-f1-d2", "random", 48, 4)
	// conservative makes random propose around the best result it was told.
	gated.Spec.Personality = &v1.PluginRef{Name: "conservative"}
	open := evolution("open", "bbob-f1-d2", "random", 48, 4)
	open.Spec.TrustThreshold = -1
	for _, evo := range []*v1.Evolution{gated, open} {
		if _, err := w.eng.Create(ctx, evo, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := w.waitPhase("gated", PhaseSucceeded, PhaseFailed, PhasePaused)
	if got.GetStatus().GetPhase() != PhaseSucceeded {
		t.Fatalf("status %v", got.GetStatus())
	}
	arch := w.archive("gated")
	untrusted, admitted, local := 0, 0, 0
	for id, c := range arch {
		st := c.GetStatus()
		x0 := c.GetSpec().GetGenome().AsMap()["x0"].(float64)
		if st.GetTrust() == nil || st.GetTrust().GetScorer().GetName() != "beta" {
			t.Fatalf("%s has no trust score: %v", id, st)
		}
		switch {
		case x0 > 0:
			untrusted++
			if !Untrusted(c) || !strings.HasPrefix(st.GetReason(), "untrusted: lower bound 0.0") || st.GetTrust().GetLowerBound() >= 0.2 || st.GetTrust().GetEvidenceCount() != 5 {
				t.Fatalf("%s (x0 %v) should be untrusted: %v", id, x0, st)
			}
		default:
			admitted++
			if Untrusted(c) || st.GetReason() != "" || st.GetTrust().GetLowerBound() < 0.2 {
				t.Fatalf("%s (x0 %v) should be admitted: %v", id, x0, st)
			}
		}
		if c.GetSpec().GetOperator() == "random-local" {
			local++
			if p := arch[c.GetSpec().GetParents()[0]]; p == nil || Untrusted(p) {
				t.Fatalf("%s's parent %v is untrusted: the strategy was offered it", id, c.GetSpec().GetParents())
			}
		}
	}
	if untrusted == 0 || admitted == 0 || local == 0 {
		t.Fatalf("%d untrusted, %d admitted, %d local proposals: the test shows nothing", untrusted, admitted, local)
	}
	best := arch[got.GetStatus().GetBestCandidate()]
	if best == nil || Untrusted(best) {
		t.Fatalf("best %q is not an admitted candidate", got.GetStatus().GetBestCandidate())
	}
	conds := map[string]*v1.Condition{}
	for _, c := range got.GetStatus().GetConditions() {
		conds[c.GetType()] = c
	}
	if c := conds[ConditionTrustGate]; c == nil || c.GetStatus() != "True" || !strings.Contains(c.GetMessage(), "0.2") {
		t.Errorf("TrustGate condition %v", c)
	}
	if c := conds[ConditionPersonality]; c == nil || !strings.Contains(c.GetMessage(), "conservative@") || !strings.Contains(c.GetMessage(), "resource headroom 0.25") {
		t.Errorf("Personality condition %v", c)
	}
	// The evidence of an untrusted candidate: its three tasks, the crash
	// and the OOM kill.
	for id, c := range arch {
		if !Untrusted(c) {
			continue
		}
		ev, err := l.List(ctx, CandidateSubject(got, id), 0)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range ev {
			kinds = append(kinds, fmt.Sprintf("%s/%v", e.Kind, e.Positive))
			if e.Source != SourceEvolve || !strings.HasPrefix(e.Detail, "evolution gated: candidate "+id+": task ") {
				t.Fatalf("record %+v", e)
			}
		}
		if strings.Join(kinds, " ") != "task/true task/false crash/false task/false oom/false" {
			t.Fatalf("%s's evidence: %v", id, kinds)
		}
		break
	}

	opened := w.waitPhase("open", PhaseSucceeded, PhaseFailed, PhasePaused)
	ob := w.archive("open")[opened.GetStatus().GetBestCandidate()]
	if ob == nil || ob.GetSpec().GetGenome().AsMap()["x0"].(float64) <= 0 || Untrusted(ob) || ob.GetStatus().GetTrust() == nil {
		t.Fatalf("without the gate the best should be a too-good candidate, scored but not gated: %v", ob)
	}
}

// wat compiles ../<pkg>/testdata/<name> with wat2wasm.
func wat(t *testing.T, path string) []byte {
	t.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm is not installed (%v): install it with `apt-get install wabt`", err)
	}
	out := filepath.Join(t.TempDir(), "m.wasm")
	if b, err := exec.Command(bin, path, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", path, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A trust scorer that traps: every score is the previous one (here the
// prior, lower bound 0.05), the traps are evidence against the scorer's
// plugin version, and the evolution goes on to its budget; no candidate
// passes the gate, so there is no best.
func TestATrappingTrustScorerLeavesThePreviousScore(t *testing.T) {
	w := newWorld(t, t.TempDir())
	l, err := trust.OpenLog(trust.LogOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := w.host.Load(context.Background(), wat(t, "../trust/testdata/trap.wat"), plugin.Config{ID: "trap@1.0.0", Kind: plugin.KindTrust})
	if err != nil {
		t.Fatal(err)
	}
	scorer, err := trust.NewPluginScorer(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := trust.NewService(trust.ServiceOptions{Log: l, Scorer: scorer})
	if err != nil {
		t.Fatal(err)
	}
	w.eng.opts.Evidence, w.eng.opts.TrustThreshold = l, 0.2
	w.eng.opts.Trust = func(context.Context, *v1.PluginRef) (*trust.Service, error) { return svc, nil }
	ctx := context.Background()
	if _, err := w.eng.Create(ctx, evolution("trapped", "bbob-f1-d2", "random", 16, 1), ""); err != nil {
		t.Fatal(err)
	}
	got := w.waitPhase("trapped", PhaseSucceeded, PhaseFailed, PhasePaused)
	if st := got.GetStatus(); st.GetPhase() != PhaseSucceeded || st.GetEvaluations() != 16 || st.GetBestCandidate() != "" {
		t.Fatalf("status %v", st)
	}
	for id, c := range w.archive("trapped") {
		ts := c.GetStatus().GetTrust()
		if ts.GetScore() != 0.5 || ts.GetLowerBound() != 0.05 || !Untrusted(c) || !strings.Contains(c.GetStatus().GetReason(), "the scorer failed and the previous score stands") {
			t.Fatalf("%s: %v", id, c.GetStatus())
		}
		if ev, _ := l.List(ctx, CandidateSubject(got, id), 0); len(ev) != 1 || ev[0].Kind != trust.EvidenceTask || !ev[0].Positive {
			t.Fatalf("%s's evaluation was not recorded: %+v", id, ev)
		}
	}
	ev, err := l.List(ctx, trust.Subject{Kind: trust.SubjectPlugin, Name: "trap", Version: "1.0.0"}, 0)
	if err != nil || len(ev) != 16 {
		t.Fatalf("%d records against the scorer, want 16: %v", len(ev), err)
	}
	for _, e := range ev {
		if e.Kind != trust.EvidenceTrap || e.Positive {
			t.Fatalf("record against the scorer %+v", e)
		}
	}
}

// lookups records the suite options of every lookup, safely.
type lookups struct {
	inner suite.Catalog
	mu    *sync.Mutex
	seen  *[]suite.Options
}

func (s lookups) Lookup(name string, opts suite.Options) (suite.Suite, error) {
	s.mu.Lock()
	*s.seen = append(*s.seen, opts)
	s.mu.Unlock()
	return s.inner.Lookup(name, opts)
}

// spread is the mean distance of genomes from their centroid.
func spread(gs []map[string]any, dims int) float64 {
	c := make([]float64, dims)
	for _, g := range gs {
		for i := range dims {
			c[i] += g[fmt.Sprintf("x%d", i)].(float64) / float64(len(gs))
		}
	}
	sum := 0.0
	for _, g := range gs {
		d := 0.0
		for i := range dims {
			x := g[fmt.Sprintf("x%d", i)].(float64) - c[i]
			d += x * x
		}
		sum += math.Sqrt(d)
	}
	return sum / float64(len(gs))
}

// parentDistance is the mean distance of proposals from their parent.
func parentDistance(arch map[string]*v1.Candidate, dims int) (float64, int) {
	sum, n := 0.0, 0
	for _, c := range arch {
		ps := c.GetSpec().GetParents()
		if len(ps) != 1 || arch[ps[0]] == nil {
			continue
		}
		g, pg := c.GetSpec().GetGenome().AsMap(), arch[ps[0]].GetSpec().GetGenome().AsMap()
		d := 0.0
		for i := range dims {
			x := g[fmt.Sprintf("x%d", i)].(float64) - pg[fmt.Sprintf("x%d", i)].(float64)
			d += x * x
		}
		sum += math.Sqrt(d)
		n++
	}
	return sum / float64(max(n, 1)), n
}

// Each built-in personality changes what the strategy proposes, in the
// order of its mutation bias, on a fixed seed with the real plugins:
// cmaes's first generation spreads explorer > balanced > conservative
// around its mean (balanced's, the neutral 0.5, is exactly what no
// personality gives), dgm's children stray from their parents in the same
// order; and each personality's resource headroom scales the candidates'
// memory limit by 1 + headroom.
func TestPersonalitiesChangeTheSearchMeasurably(t *testing.T) {
	w := newWorld(t, t.TempDir())
	w.installBuiltins("personality-", "strategy-cmaes.", "strategy-dgm.")
	var mu sync.Mutex
	var seen []suite.Options
	w.eng.opts.Suites = lookups{inner: suite.Catalog{DataDir: filepath.Join(w.dir, "suites")}, mu: &mu, seen: &seen}
	ctx := context.Background()
	personalities := []string{"", "explorer", "balanced", "conservative"}
	run := func(strategy string, evals int64, batch int32, name string) map[string]*v1.Candidate {
		evo := evolution(name, "bbob-f1-d4", strategy, evals, 21)
		evo.Spec.Budget.BatchSize = batch
		if strategy == "cmaes" {
			// A small σ0 keeps the first generation off the bounds, so
			// the spreads compare without reflections.
			evo.Spec.Strategy.Config = &structpb.Struct{Fields: map[string]*structpb.Value{"sigma0": structpb.NewNumberValue(0.05)}}
		}
		if p := strings.TrimPrefix(name, strategy+"-"); p != "none" {
			evo.Spec.Personality = &v1.PluginRef{Name: p}
		}
		if _, err := w.eng.Create(ctx, evo, ""); err != nil {
			t.Fatal(err)
		}
		if got := w.waitPhase(name, PhaseSucceeded, PhaseFailed, PhasePaused); got.GetStatus().GetPhase() != PhaseSucceeded {
			t.Fatalf("%s: %v", name, got.GetStatus())
		}
		return w.archive(name)
	}
	cm := map[string]float64{}
	var noneGenomes, balancedGenomes []string
	for _, p := range personalities {
		name := "cmaes-" + p
		if p == "" {
			name = "cmaes-none"
		}
		arch := run("cmaes", 8, 8, name) // one generation of λ = 8
		var gs []map[string]any
		var keys []string
		for id, c := range arch {
			gs = append(gs, c.GetSpec().GetGenome().AsMap())
			keys = append(keys, id+"="+c.GetSpec().GetGenome().String())
		}
		cm[p] = spread(gs, 4)
		switch p {
		case "":
			noneGenomes = keys
		case "balanced":
			balancedGenomes = keys
		}
	}
	t.Logf("cmaes spread of generation 0: explorer %.4f, balanced %.4f, conservative %.4f, none %.4f", cm["explorer"], cm["balanced"], cm["conservative"], cm[""])
	if !(cm["explorer"] > 1.2*cm["balanced"] && cm["balanced"] > 1.2*cm["conservative"]) {
		t.Errorf("cmaes spread: explorer %v, balanced %v, conservative %v: want explorer > balanced > conservative by 20%%", cm["explorer"], cm["balanced"], cm["conservative"])
	}
	slices.Sort(noneGenomes)
	slices.Sort(balancedGenomes)
	// The same genomes (the spreads may differ in the last bit: the sum's
	// order follows the candidates' listing).
	if math.Abs(cm[""]-cm["balanced"]) > 1e-9*cm[""] || !slices.Equal(noneGenomes, balancedGenomes) {
		t.Errorf("balanced (the neutral bias) should propose what no personality does: spreads %v and %v", cm["balanced"], cm[""])
	}
	dg := map[string]float64{}
	for _, p := range personalities[1:] {
		d, n := parentDistance(run("dgm", 40, 8, "dgm-"+p), 4)
		if n < 20 {
			t.Fatalf("dgm-%s: only %d proposals with a parent", p, n)
		}
		dg[p] = d
	}
	t.Logf("dgm mean distance from the parent: explorer %.4f, balanced %.4f, conservative %.4f", dg["explorer"], dg["balanced"], dg["conservative"])
	if !(dg["explorer"] > dg["balanced"] && dg["balanced"] > dg["conservative"]) {
		t.Errorf("dgm distance from the parent: explorer %v, balanced %v, conservative %v: want that order", dg["explorer"], dg["balanced"], dg["conservative"])
	}
	scales := map[float64]bool{}
	mu.Lock()
	for _, o := range seen {
		scales[o.MemoryScale] = true
	}
	mu.Unlock()
	for _, want := range []float64{0, 1.35, 1.2, 1.25} { // none, explorer, balanced, conservative
		if !scales[want] {
			t.Errorf("no suite lookup with memory scale %v (1 + headroom): %v", want, scales)
		}
	}
}

// extraPlugins serves some plugins loaded straight on the host (hostile
// test plugins the registry's gates would refuse) beside the registry's.
type extraPlugins struct {
	Plugins
	extra map[string]*plugin.Plugin
}

func (e extraPlugins) Open(ctx context.Context, name, version string, kind plugin.Kind) (*plugin.Plugin, string, error) {
	if p, ok := e.extra[name]; ok {
		_, v, _ := strings.Cut(p.ID(), "@")
		return p, v, nil
	}
	return e.Plugins.Open(ctx, name, version, kind)
}

// A personality that answers out of range: the answer is clamped (a bias
// of 1.7 reaches the strategy as 1, a headroom of -0.2 as 0), each clamp is
// "invalid" evidence against the plugin version in the trust log, the
// status says so, and the evolution goes on.
func TestAnOutOfRangePersonalityIsClampedAndRecorded(t *testing.T) {
	w := newWorld(t, t.TempDir())
	l := w.withTrust(0.2)
	p, err := w.host.Load(context.Background(), wat(t, "../personality/testdata/outofrange.wat"), plugin.Config{ID: "wild@0.1.0", Kind: plugin.KindPersonality})
	if err != nil {
		t.Fatal(err)
	}
	w.eng.opts.Plugins = extraPlugins{Plugins: w.reg, extra: map[string]*plugin.Plugin{"wild": p}}
	ctx := context.Background()
	evo := evolution("wild", "bbob-f1-d2", "random", 24, 2)
	evo.Spec.Personality = &v1.PluginRef{Name: "wild"}
	if _, err := w.eng.Create(ctx, evo, ""); err != nil {
		t.Fatal(err)
	}
	got := w.waitPhase("wild", PhaseSucceeded, PhaseFailed, PhasePaused)
	if got.GetStatus().GetPhase() != PhaseSucceeded {
		t.Fatalf("status %v", got.GetStatus())
	}
	var cond *v1.Condition
	for _, c := range got.GetStatus().GetConditions() {
		if c.GetType() == ConditionPersonality {
			cond = c
		}
	}
	if cond == nil || cond.GetReason() != "Clamped" || !strings.Contains(cond.GetMessage(), "mutation bias 1,") ||
		!strings.Contains(cond.GetMessage(), "mutationBias 1.7 clamped to 1") || !strings.Contains(cond.GetMessage(), "resourceHeadroom -0.2 clamped to 0") {
		t.Fatalf("Personality condition %v", cond)
	}
	ev, err := l.List(ctx, trust.Subject{Kind: trust.SubjectPlugin, Name: "wild", Version: "0.1.0"}, 0)
	if err != nil || len(ev) != 3 { // one per generation
		t.Fatalf("%d records against the personality, want 3: %v", len(ev), err)
	}
	for _, e := range ev {
		if e.Kind != trust.EvidenceInvalid || e.Positive || !strings.Contains(e.Detail, "mutationBias 1.7 clamped to 1") {
			t.Fatalf("record %+v", e)
		}
	}
	// A bias of 1 is not below neutral: random stayed uniform.
	for id, c := range w.archive("wild") {
		if c.GetSpec().GetOperator() != "random" {
			t.Fatalf("%s: operator %q", id, c.GetSpec().GetOperator())
		}
	}
}

// Bad trust thresholds and personalities are refused at create, naming the
// field.
func TestBadGatesAreRefused(t *testing.T) {
	w := newWorld(t, t.TempDir())
	w.withTrust(0.2)
	ctx := context.Background()
	for i, c := range []struct {
		edit        func(*v1.EvolutionSpec)
		field, want string
	}{
		{func(s *v1.EvolutionSpec) { s.TrustThreshold = 1.5 }, "spec.trust_threshold", "above 1"},
		{func(s *v1.EvolutionSpec) { s.TrustThreshold = math.NaN() }, "spec.trust_threshold", "NaN"},
		{func(s *v1.EvolutionSpec) { s.Personality = &v1.PluginRef{Name: "ghost"} }, "spec.personality", `no plugin "ghost"`},
		{func(s *v1.EvolutionSpec) { s.Personality = &v1.PluginRef{Name: "random"} }, "spec.personality", "not a personality plugin"},
		{func(s *v1.EvolutionSpec) { s.TrustScorer = &v1.PluginRef{Name: "ghost"} }, "spec.trust_scorer", `no trust plugin "ghost"`},
	} {
		evo := evolution(fmt.Sprintf("bad-%d", i), "bbob-f1-d2", "random", 8, 1)
		c.edit(evo.Spec)
		_, err := w.eng.Create(ctx, evo, "")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Msg, c.want) {
			t.Errorf("case %d: %v, want %s: ...%s...", i, err, c.field, c.want)
		}
	}
}

// An evaluation is recorded once per evolution, however often the batch
// is gated (a restart between the append and the observe), and a failed
// task's reason picks the failure's kind.
func TestEvaluationEvidenceIsRecordedOnce(t *testing.T) {
	l, err := trust.OpenLog(trust.LogOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := &Engine{opts: Options{Evidence: l}, log: slog.New(slog.DiscardHandler), now: time.Now}
	evo := &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "e1"}, Spec: &v1.EvolutionSpec{Agent: "solver"}}
	r := &runner{e: e, name: "e1", evo: evo}
	c := &v1.Candidate{Metadata: &v1.ObjectMeta{Name: "c-1"}, Status: &v1.CandidateStatus{Phase: CandidateEvaluated, TaskResults: []*v1.TaskResult{
		{Task: "a"}, {Task: "b", Failed: true, Reason: "the candidate ran past its 1m0s limit and was killed"},
		{Task: "c", Failed: true, Reason: "the candidate printed more than 4096 bytes"},
	}}}
	subj := CandidateSubject(evo, "c-1")
	if subj.String() != "agent/solver@c-1" {
		t.Fatalf("subject %s", subj)
	}
	first := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	for i := range 2 {
		at, err := r.recordEvaluation(context.Background(), subj, c, first.Add(time.Duration(i)*time.Hour))
		if err != nil || !at.Equal(first) {
			t.Fatalf("record %d: at %v, %v; want the first record's time %v", i, at, err, first)
		}
	}
	ev, _ := l.List(context.Background(), subj, 0)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, " ") != "task task timeout task" {
		t.Fatalf("evidence %v", kinds)
	}
	// Another evolution of the same agent records its own.
	r2 := &runner{e: e, name: "e2", evo: evo}
	if _, err := r2.recordEvaluation(context.Background(), subj, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ev, _ := l.List(context.Background(), subj, 0); len(ev) != 8 {
		t.Fatalf("%d records after a second evolution, want 8", len(ev))
	}
	for reason, want := range map[string]string{
		"the candidate was OOM-killed: it went over its memory limit of 1 MiB": trust.EvidenceOOM,
		"the candidate exited with exit status 3: panic":                       trust.EvidenceCrash,
		"the candidate exited with status 137: ":                               trust.EvidenceCrash,
		"the candidate ran past its 1m0s limit and was killed":                 trust.EvidenceTimeout,
		"the tour is not a tour of the instance":                               "",
	} {
		if got := failureKind(reason); got != want {
			t.Errorf("failureKind(%q) = %q, want %q", reason, got, want)
		}
	}
}
