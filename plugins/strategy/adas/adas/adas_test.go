package adas

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo/evotest"
)

func fresh() sdk.Strategy { return &ADAS{} }

// richProblem covers every parameter type; designs with on = true and
// algo = "de" fail their evaluation, so repairs and failed seeds happen.
func richProblem(t *testing.T) evotest.Problem {
	t.Helper()
	var s sdk.SearchSpace
	err := json.Unmarshal([]byte(`{"parameters": [
	  {"name": "x", "float": {"min": -5, "max": 5}},
	  {"name": "lr", "float": {"min": 0.0001, "max": 0.1, "log": true}},
	  {"name": "k", "int": {"min": -3, "max": 3}},
	  {"name": "algo", "categorical": {"choices": ["ga", "de", "cma"]}},
	  {"name": "on", "bool": {}},
	  {"name": "steps", "sequence": {"choices": ["2opt", "oropt", "swap"], "minLength": 1, "maxLength": 4}},
	  {"name": "prompt", "text": {"maxLength": 120}},
	  {"name": "solver", "code": {"language": "python", "maxLength": 200}}
	]}`), &s)
	if err != nil {
		t.Fatal(err)
	}
	return evotest.Problem{
		Space:      s,
		Objectives: []sdk.Objective{{Name: "acc", Direction: sdk.Maximize}},
		Evaluate: func(g sdk.Genome) sdk.Result {
			if on, _ := g.Bool("on"); on && g["algo"] == "de" {
				return sdk.Result{Failed: true, Reason: "Traceback: de cannot run with on"}
			}
			x, _ := g.Float("x")
			var tasks []sdk.TaskScore
			sum := 0.0
			for i := range 8 {
				v := 0.0
				if x > float64(i)-4 {
					v = 1
				}
				sum += v
				tasks = append(tasks, sdk.TaskScore{Task: string(rune('a' + i)), Scores: map[string]float64{"acc": v}})
			}
			return sdk.Result{Scores: map[string]float64{"acc": sum / 8}, Tasks: tasks}
		},
	}
}

func TestSeedsComeFirstAndTheSeedPicksTheProposals(t *testing.T) {
	p := evotest.Sphere()
	a, err := evotest.Drive(&ADAS{}, p, 42, "", 6, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := evotest.Drive(&ADAS{}, p, 42, "", 6, 8)
	c, _ := evotest.Drive(&ADAS{}, p, 43, "", 6, 8)
	if !evotest.Same(a, b) {
		t.Fatal("the same seed gave different proposals")
	}
	if evotest.Same(a, c) {
		t.Fatal("seeds 42 and 43 gave the same proposals")
	}
	// The first propose returns only the five seeds, the default genome first.
	for i, cand := range a.Candidates[:6] {
		if want := i < 5; (cand.Operator == "seed") != want {
			t.Fatalf("candidate %d operator %q", i, cand.Operator)
		}
	}
	if !evo.Equal(p.Space, a.Candidates[0].Genome, evo.Default(p.Space)) {
		t.Fatal("the first seed is not the default genome")
	}
	// Derived seeds are diverse: farther apart than random pairs on average.
	seedD, randD := 0.0, 0.0
	rng := sdk.NewRand(1)
	for i := range 5 {
		for j := range i {
			seedD += evo.Distance(p.Space, a.Candidates[i].Genome, a.Candidates[j].Genome)
			randD += evo.Distance(p.Space, rng.Genome(p.Space), rng.Genome(p.Space))
		}
	}
	if seedD <= randD {
		t.Fatalf("seeds are no more diverse than random genomes: %.3f vs %.3f", seedD/10, randD/10)
	}
	// Configured seeds, plain or wrapped, in order.
	ad := &ADAS{}
	cfg := `{"seeds": [{"x0": 1, "x1": 1, "x2": 1, "x3": 1, "mode": "b", "steps": ["A"]},
	  {"name": "CoT", "thought": "step by step", "genome": {"x0": 2, "x1": 2, "x2": 2, "x3": 2, "mode": "c", "steps": ["B", "C"]}}]}`
	if err := evotest.Init(ad, p, 1, cfg); err != nil {
		t.Fatal(err)
	}
	cs, _ := ad.Propose(8)
	if len(cs) != 2 || cs[0].Genome["mode"] != "b" || cs[1].Genome["mode"] != "c" || ad.st.Pending[cs[1].ID].Name != "CoT" {
		t.Fatalf("configured seeds %+v", cs)
	}
}

func TestRestoreReproducesProposals(t *testing.T) {
	for _, cfg := range []string{`{"resamples":2000}`, `{"selection":"thompson","resamples":2000}`, `{"num_seeds":2,"crossover_rate":1,"resamples":500}`} {
		for _, p := range []evotest.Problem{evotest.Sphere(), evotest.Accuracy(), richProblem(t)} {
			for _, n := range []int{8, 3} {
				if err := evotest.CheckRestore(fresh, p, 7, cfg, 4, 4, n); err != nil {
					t.Fatalf("config %s, batch %d: %v", cfg, n, err)
				}
			}
		}
	}
	for _, bad := range []string{`{}`, `[]`, `{"rng": "AAAA"}`} {
		if err := (&ADAS{}).Restore(json.RawMessage(bad)); err == nil {
			t.Errorf("Restore(%s) succeeded", bad)
		}
	}
}

func TestProposalsStayInsideTheSpace(t *testing.T) {
	p := richProblem(t)
	for _, cfg := range []string{`{"resamples":2000}`, `{"mutation_strength": 1, "mutation_rate": 1, "novelty_threshold": 0.5, "resamples":2000}`} {
		if _, err := evotest.Drive(&ADAS{}, p, 3, cfg, 30, 5); err != nil {
			t.Fatalf("config %s: %v", cfg, err)
		}
	}
	for _, bad := range []string{`{"num_seeds":-1}`, `{"debug_max":-2}`, `{"selection":"best"}`, `{"typo":1}`, `{"seeds":[{"x":1}]}`,
		`{"novelty_threshold":2}`, `{"llm":"maybe"}`, `{"resamples":-5}`} {
		if err := evotest.Init(&ADAS{}, p, 1, bad); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
	if err := evotest.Init(&ADAS{}, evotest.Sphere(), 1, `{"fail_below":0.01}`); err == nil {
		t.Error("fail_below accepted for a minimised objective")
	}
}

func TestNoveltyRejection(t *testing.T) {
	p := richProblem(t)
	a := &ADAS{}
	if err := evotest.Init(a, p, 1, `{"novelty_threshold":0.15,"mutation_strength":0.05}`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 6 {
		if _, _, err := evotest.Step(a, p, 4, seen); err != nil {
			t.Fatal(err)
		}
	}
	if a.st.Redone == 0 {
		t.Fatal("weak mutations never came too close to the archive: nothing was redone")
	}
	// Every accepted design keeps the threshold from what was known when
	// it was made, whenever one of the tries reached it.
	for range 50 {
		a.st.Generation++
		prop := a.st.design()
		if d := a.st.nearest(prop.Genome); d < 0.15 {
			t.Fatalf("design at distance %.3f from the archive, threshold 0.15", d)
		}
	}
	// Where nothing can be novel (a one-gene space), the most novel try is
	// taken rather than nothing.
	tiny := evotest.Problem{
		Space:      sdk.SearchSpace{Parameters: []sdk.Parameter{{Name: "on", Bool: &sdk.BoolParam{}}}},
		Objectives: []sdk.Objective{{Name: "s", Direction: sdk.Maximize}},
		Evaluate:   func(sdk.Genome) sdk.Result { return sdk.Result{Scores: map[string]float64{"s": 1}} },
	}
	if _, err := evotest.Drive(&ADAS{}, tiny, 1, "", 5, 4); err != nil {
		t.Fatal(err)
	}
}

func TestRepairUpToDebugMaxThenSkip(t *testing.T) {
	p := evotest.Accuracy()
	// Every design fails; the seeds succeed.
	failing := p
	failing.Evaluate = func(g sdk.Genome) sdk.Result { return sdk.Result{Failed: true, Reason: "SyntaxError"} }
	a := &ADAS{}
	if err := evotest.Init(a, p, 1, `{"num_seeds":1}`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	if _, _, err := evotest.Step(a, p, 1, seen); err != nil { // the seed
		t.Fatal(err)
	}
	first, _, err := evotest.Step(a, failing, 1, seen)
	if err != nil {
		t.Fatal(err)
	}
	chain := []sdk.Candidate{first[0]}
	for range 2 {
		cs, _, err := evotest.Step(a, failing, 1, seen)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, cs[0])
	}
	for i, c := range chain[1:] {
		if c.Operator != "repair" || c.Parents[0] != chain[i].ID {
			t.Fatalf("attempt %d: %+v, want a repair of %s", i+2, c, chain[i].ID)
		}
		if d := evo.Distance(p.Space, c.Genome, chain[i].Genome); d == 0 || d > 0.5 {
			t.Fatalf("repair moved %.3f from the failed design", d)
		}
	}
	// Three failed evaluations (debug_max): the design is skipped, and the
	// next proposal is a new design.
	next, _ := a.Propose(1)
	if next[0].Operator == "repair" || a.st.Skipped != 1 || len(a.Archive()) != 1 {
		t.Fatalf("after debug_max failures: %+v, skipped %d, archive %d", next[0], a.st.Skipped, len(a.Archive()))
	}
	if len(a.st.Wrong) != 3 || a.st.Wrong[0].Error != "SyntaxError" {
		t.Fatalf("WRONG examples %+v", a.st.Wrong)
	}
	// A failed seed stays in the archive without a fitness and is not repaired.
	b := &ADAS{}
	if err := evotest.Init(b, p, 1, `{"num_seeds":2}`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := evotest.Step(b, failing, 2, map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	if arch := b.Archive(); len(arch) != 2 || arch[0].Valid() || len(b.st.Repairs) != 0 {
		t.Fatalf("failed seeds: archive %+v, repairs %d", arch, len(b.st.Repairs))
	}
	// fail_below counts a (near) zero score as a failure, like ADAS's
	// "All 0 accuracy".
	c := &ADAS{}
	if err := evotest.Init(c, p, 1, `{"num_seeds":1,"fail_below":0.01}`); err != nil {
		t.Fatal(err)
	}
	cs, _ := c.Propose(1)
	if err := c.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"acc": 0}}}); err != nil || c.Archive()[0].Valid() {
		t.Fatalf("a zero score passed fail_below: %v", err)
	}
}

func TestFitnessIsTheBootstrapString(t *testing.T) {
	a := &ADAS{}
	if err := evotest.Init(a, evotest.Accuracy(), 1, `{"num_seeds":3,"resamples":2000}`); err != nil {
		t.Fatal(err)
	}
	cs, _ := a.Propose(3)
	tasks := func(vals ...float64) []sdk.TaskScore {
		var out []sdk.TaskScore
		for i, v := range vals {
			out = append(out, sdk.TaskScore{Task: string(rune('a' + i)), Scores: map[string]float64{"acc": v}})
		}
		return out
	}
	res := []sdk.Result{
		{ID: cs[0].ID, Scores: map[string]float64{"acc": 1}, Tasks: tasks(1, 1, 1, 1)},
		{ID: cs[1].ID, Scores: map[string]float64{"acc": 0.5}, Tasks: tasks(1, 0, 1, 0, 1, 0, 1, 0, 1, 0)},
		{ID: cs[2].ID, Scores: map[string]float64{"acc": 0.25}}, // no tasks: the aggregate
	}
	if err := a.Observe(res); err != nil {
		t.Fatal(err)
	}
	arch := a.Archive()
	if arch[0].Fitness != "95% Bootstrap Confidence Interval: (100.0%, 100.0%), Median: 100.0%" {
		t.Fatalf("fitness %q", arch[0].Fitness)
	}
	re := regexp.MustCompile(`^95% Bootstrap Confidence Interval: \((\d+\.\d)%, (\d+\.\d)%\), Median: (\d+\.\d)%$`)
	if m := re.FindStringSubmatch(arch[1].Fitness); m == nil || !(arch[1].Lo < arch[1].Median && arch[1].Median < arch[1].Hi) {
		t.Fatalf("fitness %q (%v %v %v)", arch[1].Fitness, arch[1].Lo, arch[1].Median, arch[1].Hi)
	}
	// The bootstrap itself: same resamples and stream, same numbers.
	lo, med, hi := evo.BootstrapCI([]float64{1, 0, 1, 0, 1, 0, 1, 0, 1, 0}, 2000, sdk.NewRand(1^bootStream))
	if arch[1].Lo != lo || arch[1].Median != med || arch[1].Hi != hi {
		t.Fatalf("interval (%v, %v, %v), want (%v, %v, %v)", arch[1].Lo, arch[1].Median, arch[1].Hi, lo, med, hi)
	}
	if arch[2].Fitness != "95% Bootstrap Confidence Interval: (25.0%, 25.0%), Median: 25.0%" {
		t.Fatalf("aggregate fitness %q", arch[2].Fitness)
	}
	// A minimised objective keeps its units, without percent signs.
	m := &ADAS{}
	if err := evotest.Init(m, evotest.Sphere(), 1, `{"num_seeds":1}`); err != nil {
		t.Fatal(err)
	}
	cs, _ = m.Propose(1)
	if err := m.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"f": 2.5}}}); err != nil {
		t.Fatal(err)
	}
	if f := m.Archive()[0].Fitness; f != "95% Bootstrap Confidence Interval: (2.5, 2.5), Median: 2.5" {
		t.Fatalf("minimised fitness %q", f)
	}
}

func TestParentsFollowTheIntervals(t *testing.T) {
	a := &ADAS{}
	if err := evotest.Init(a, evotest.Accuracy(), 1, ""); err != nil {
		t.Fatal(err)
	}
	a.st.Seeds = nil
	mk := func(lo, med, hi float64, fit string) Entry {
		return Entry{Genome: evo.Default(a.st.Space), Lo: lo, Median: med, Hi: hi, Fitness: fit}
	}
	a.st.Archive = []Entry{
		mk(0.1, 0.2, 0.3, "x"),
		mk(0.5, 0.6, 0.7, "x"),
		mk(0.4, 0.6, 0.8, "x"), // same median, lower bound lower: loses ties
		mk(0, 0, 0, ""),        // no fitness: never a parent
	}
	counts := a.PickCounts(30000)
	if counts[3] != 0 || !(counts[1] > counts[2] && counts[2] > counts[0]) {
		t.Fatalf("tournament picks %v", counts)
	}
	// Three entrants from three valid entries: the worst wins only when all
	// three entrants are it, (1/3)^3.
	if f := float64(counts[0]) / 30000; f < 0.025 || f > 0.049 {
		t.Fatalf("worst entry picked %.4f of the time, want about 1/27", f)
	}
	a.st.Config.Selection = Thompson
	counts = a.PickCounts(30000)
	if counts[3] != 0 || counts[0] > 100 || counts[2] < 5000 {
		t.Fatalf("thompson picks %v", counts)
	}
}

func TestLLMMetaAgentFromCassette(t *testing.T) {
	defer sdk.SetLLM(nil)
	p := richProblem(t)
	design := func(name, prompt string) string {
		b, _ := json.Marshal(map[string]any{"thought": "A careful solver.", "name": name,
			"genome": map[string]any{"x": 4.5, "prompt": prompt, "solver": "def solve(t):\n    return plan(t)\n", "algo": "cma"}})
		return string(b)
	}
	cas := evotest.NewCassette(
		evotest.Entry{Match: "Discovered design archive", Answer: design("Planner", "Plan first.")},
		evotest.Entry{Match: "Interestingness", Answer: design("Planner", "Plan first. Then verify.")},
		evotest.Entry{Match: "revise the design further", Answer: "```json\n" + design("Verified Planner", "Plan first. Then verify every step.") + "\n```"},
		// The next design: the first turn fails, so the deterministic operator steps in.
		evotest.Entry{Match: "Discovered design archive", Answer: "no"},
	)
	sdk.SetLLM(cas.Hook())
	a := &ADAS{}
	if err := evotest.Init(a, p, 5, `{"num_seeds":2}`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	if _, _, err := evotest.Step(a, p, 2, seen); err != nil { // seeds: no LLM call
		t.Fatal(err)
	}
	if len(cas.Requests) != 0 {
		t.Fatal("seeds should not call the LLM")
	}
	cs, _, err := evotest.Step(a, p, 2, seen)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Operator != "meta_agent" || cs[0].Genome["prompt"] != "Plan first. Then verify every step." || cs[0].Genome["x"] != 4.5 {
		t.Fatalf("meta agent design %+v", cs[0])
	}
	if cs[1].Operator == "meta_agent" {
		t.Fatalf("second design should fall back: %+v", cs[1])
	}
	if cas.Used() != 4 || len(cas.Mismatches) != 0 {
		t.Fatalf("cassette used %d, mismatches %v", cas.Used(), cas.Mismatches)
	}
	// One chat: the reflections see the earlier turns.
	if n := []int{len(cas.Requests[0].Messages), len(cas.Requests[1].Messages), len(cas.Requests[2].Messages)}; !slices.Equal(n, []int{2, 4, 6}) {
		t.Fatalf("chat lengths %v", n)
	}
	first := cas.Requests[0].Messages[1].Content
	if !strings.Contains(first, "95% Bootstrap Confidence Interval") || !strings.Contains(first, `"name":"seed-1"`) {
		t.Fatalf("the prompt lacks the archive with its fitness strings:\n%s", first)
	}
	if arch := a.Archive(); arch[len(arch)-2].Name != "Verified Planner" || arch[len(arch)-2].Thought != "A careful solver." {
		t.Fatalf("archive entry %+v", arch[len(arch)-2])
	}

	// Repair through the LLM: the error goes back into the chat.
	fix := evotest.NewCassette(
		evotest.Entry{Match: "Discovered design archive", Answer: design("Crasher", "x")},
		evotest.Entry{Match: "Interestingness", Answer: design("Crasher", "x")},
		evotest.Entry{Match: "revise the design further", Answer: `{"thought": "t", "name": "Crasher", "genome": {"on": true, "algo": "de"}}`},
		evotest.Entry{Match: "Error during evaluation:\\nTraceback: de cannot run with on", Answer: `{"thought": "t", "name": "Crasher", "debug_thought": "drop on", "genome": {"on": false}}`},
	)
	sdk.SetLLM(fix.Hook())
	b := &ADAS{}
	if err := evotest.Init(b, p, 5, `{"num_seeds":1}`); err != nil {
		t.Fatal(err)
	}
	seen = map[string]bool{}
	evotest.Step(b, p, 1, seen)
	bad, _, _ := evotest.Step(b, p, 1, seen)
	repaired, _, err := evotest.Step(b, p, 1, seen)
	if err != nil {
		t.Fatal(err)
	}
	if bad[0].Genome["on"] != true || repaired[0].Operator != "meta_agent_debug" || repaired[0].Genome["on"] != false || repaired[0].Parents[0] != bad[0].ID {
		t.Fatalf("repair %+v of %+v", repaired[0], bad[0])
	}

	// Without an LLM the run is the same as with llm "off".
	sdk.SetLLM(nil)
	x, err := evotest.Drive(&ADAS{}, p, 9, "", 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := evotest.Drive(&ADAS{}, p, 9, `{"llm":"off"}`, 5, 4)
	if !evotest.Same(x, y) {
		t.Fatal("a run without an LLM differs from llm off")
	}
}

func TestBeatsRandomSearch(t *testing.T) {
	const gens, batch, seeds = 25, 8, 6
	for _, p := range []evotest.Problem{evotest.Sphere(), evotest.Accuracy()} {
		var mine, rnd float64
		for seed := range uint64(seeds) {
			tr, err := evotest.Drive(&ADAS{}, p, seed+100, `{"resamples":5000}`, gens, batch)
			if err != nil {
				t.Fatal(err)
			}
			mine += tr.Best / seeds
			rnd += evotest.RandomBest(p, seed+100, len(tr.Candidates)) / seeds
		}
		t.Logf("%s: adas %.3f, random %.3f", p.Objectives[0].Name, mine, rnd)
		if p.Minimize() && !(mine < rnd) || !p.Minimize() && !(mine > rnd) {
			t.Fatalf("%s: adas %.3f does not beat random search %.3f", p.Objectives[0].Name, mine, rnd)
		}
	}
}
