package swarmagentic

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo/evotest"
)

func fresh() sdk.Strategy { return &SwarmAgentic{} }

// richProblem covers every parameter type; without tasks, so the flaw is
// the aggregate score.
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
		Objectives: []sdk.Objective{{Name: "score", Direction: sdk.Maximize}},
		Evaluate: func(g sdk.Genome) sdk.Result {
			x, _ := g.Float("x")
			p, _ := g.String("prompt")
			steps, _ := g.Sequence("steps")
			return sdk.Result{Scores: map[string]float64{"score": x + float64(len(p))/10 + float64(len(steps))}}
		},
	}
}

func TestSeedPicksTheProposals(t *testing.T) {
	p := evotest.Sphere()
	a, err := evotest.Drive(&SwarmAgentic{}, p, 42, "", 6, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := evotest.Drive(&SwarmAgentic{}, p, 42, "", 6, 8)
	c, _ := evotest.Drive(&SwarmAgentic{}, p, 43, "", 6, 8)
	if !evotest.Same(a, b) {
		t.Fatal("the same seed gave different proposals")
	}
	if evotest.Same(a, c) {
		t.Fatal("seeds 42 and 43 gave the same proposals")
	}
	// Five particles: each propose of 8 returns the five next positions.
	if len(a.Candidates) != 30 || a.Candidates[0].Operator != "init" || a.Candidates[5].Operator != "pso" {
		t.Fatalf("%d candidates, operators %q %q", len(a.Candidates), a.Candidates[0].Operator, a.Candidates[5].Operator)
	}
	// Diverse start: the particle at temperature 1.0 is farther from the
	// default genome than the one at 0.2, on average over seeds.
	near, far := 0.0, 0.0
	for seed := range uint64(40) {
		tr, _ := evotest.Drive(&SwarmAgentic{}, p, seed, "", 1, 5)
		near += evo.Distance(p.Space, evo.Default(p.Space), tr.Candidates[0].Genome)
		far += evo.Distance(p.Space, evo.Default(p.Space), tr.Candidates[4].Genome)
	}
	if near >= far {
		t.Fatalf("temperature 0.2 starts at distance %.3f, 1.0 at %.3f", near/40, far/40)
	}
}

func TestRestoreReproducesProposals(t *testing.T) {
	for _, cfg := range []string{"", `{"particles":3}`, `{"particles":7,"w":0.5}`} {
		for _, p := range []evotest.Problem{evotest.Sphere(), evotest.Accuracy(), richProblem(t)} {
			// Batch 3 puts snapshots in the middle of iterations.
			for _, n := range []int{8, 3} {
				if err := evotest.CheckRestore(fresh, p, 7, cfg, 5, 5, n); err != nil {
					t.Fatalf("config %s, batch %d: %v", cfg, n, err)
				}
			}
		}
	}
	for _, bad := range []string{`{}`, `[]`, `{"rng": "AAAA"}`} {
		if err := (&SwarmAgentic{}).Restore(json.RawMessage(bad)); err == nil {
			t.Errorf("Restore(%s) succeeded", bad)
		}
	}
}

func TestProposalsStayInsideTheSpace(t *testing.T) {
	p := richProblem(t)
	for _, cfg := range []string{"", `{"particles": 2, "mutation_strength": 1}`, `{"c1": 4, "c2": 4, "w": 1}`} {
		if _, err := evotest.Drive(&SwarmAgentic{}, p, 3, cfg, 40, 4); err != nil {
			t.Fatalf("config %s: %v", cfg, err)
		}
	}
	for _, bad := range []string{`{"particles":-1}`, `{"temperatures":[0.5]}`, `{"w":-1}`, `{"typo":1}`, `{"initial":{"x":1}}`, `{"llm":"maybe"}`} {
		if err := evotest.Init(&SwarmAgentic{}, p, 1, bad); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
}

func TestBatchesSmallerThanTheSwarmAndScouts(t *testing.T) {
	p := evotest.Sphere()
	s := &SwarmAgentic{}
	if err := evotest.Init(s, p, 1, ""); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var sizes []int
	for range 3 {
		cs, _, err := evotest.Step(s, p, 2, seen)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(cs))
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) || s.st.Iteration != 1 {
		t.Fatalf("batch sizes %v, iteration %d: five particles in batches of 2 make one iteration", sizes, s.st.Iteration)
	}
	// Proposing again before observing: the five positions, then scouts.
	cs, _ := s.Propose(8)
	if len(cs) != 5 {
		t.Fatalf("%d candidates", len(cs))
	}
	scouts, _ := s.Propose(3)
	if len(scouts) != 3 || scouts[0].Operator != "scout" || scouts[0].Parents[0] != s.Global().ID {
		t.Fatalf("scouts %+v", scouts)
	}
	// A scout at least as good as the global best replaces it (>=).
	g := evo.Clamp(p.Space, sdk.Genome{"x0": 1.5, "x1": -2.5, "x2": 3.0, "x3": -1.0, "mode": "c", "steps": []string{"C", "A", "D", "B"}})
	s.st.Scouts[scouts[0].ID] = g
	if err := s.Observe([]sdk.Result{{ID: scouts[0].ID, Scores: map[string]float64{"f": 0}}}); err != nil {
		t.Fatal(err)
	}
	if s.Global().ID != scouts[0].ID || s.Global().Fitness != 0 {
		t.Fatalf("global best %+v", s.Global())
	}
}

func TestBestsUseGreaterOrEqual(t *testing.T) {
	p := evotest.Sphere()
	s := &SwarmAgentic{}
	if err := evotest.Init(s, p, 1, `{"particles":2}`); err != nil {
		t.Fatal(err)
	}
	cs, _ := s.Propose(2)
	// Both particles score the same: the global best is the later one.
	if err := s.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"f": 3}}, {ID: cs[1].ID, Scores: map[string]float64{"f": 3}}}); err != nil {
		t.Fatal(err)
	}
	if s.Global().ID != cs[1].ID {
		t.Fatalf("global best %s, want %s (ties go to the later particle, >=)", s.Global().ID, cs[1].ID)
	}
	// A new position with the same fitness replaces the personal best.
	cs2, _ := s.Propose(2)
	if err := s.Observe([]sdk.Result{{ID: cs2[0].ID, Scores: map[string]float64{"f": 3}}, {ID: cs2[1].ID, Scores: map[string]float64{"f": 5}}}); err != nil {
		t.Fatal(err)
	}
	ps := s.Particles()
	if ps[0].Best.ID != cs2[0].ID || ps[1].Best.ID != cs[1].ID {
		t.Fatalf("personal bests %s %s, want %s (equal: replaced) and %s (worse: kept)", ps[0].Best.ID, ps[1].Best.ID, cs2[0].ID, cs[1].ID)
	}
	if s.Global().ID != cs2[0].ID {
		t.Fatalf("global best %s, want %s (equal fitness, later evaluation)", s.Global().ID, cs2[0].ID)
	}
}

func TestFlawsAndPersistence(t *testing.T) {
	prev := &Eval{Tasks: []TaskState{{Task: "a", U: 1}, {Task: "b", U: 2}, {Task: "c", U: 3}, {Task: "d", Failed: true}}}
	cur := &Eval{Tasks: []TaskState{{Task: "a", U: 0.5}, {Task: "b", Failed: true}, {Task: "c", U: 0}, {Task: "d", U: 9}}}
	if got := Flaws(cur, prev, 5); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("flaws %v, want failed b, then c (dropped 3), then a (dropped 0.5)", got)
	}
	if got := Flaws(cur, prev, 2); len(got) != 2 {
		t.Fatalf("cap: %v", got)
	}
	ok := &Eval{Tasks: []TaskState{{Task: "a", U: 5}, {Task: "b", U: 1}}}
	if got := Flaws(ok, nil, 3); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("no failure, no previous: the weakest task, got %v", got)
	}
	for _, c := range []struct {
		flaw string
		want bool
	}{{"a", true}, {"b", true}, {"c", true}, {"d", false}, {"gone", false}} {
		if Persisted(c.flaw, cur, prev) != c.want {
			t.Errorf("Persisted(%s) = %v", c.flaw, !c.want)
		}
	}
	better := &Eval{Tasks: []TaskState{{Task: "a", U: 1.5}}}
	if Persisted("a", better, prev) {
		t.Error("an improved task persisted")
	}
}

// TestDropsEditsWhoseFlawPersisted checks the failure-aware inertia: of two
// previous adjustments, the one whose flaw was fixed stays (w = 1), the one
// whose flaw persisted is dropped and remembered, and is not proposed again.
func TestDropsEditsWhoseFlawPersisted(t *testing.T) {
	p := richProblem(t)
	s := &SwarmAgentic{}
	if err := evotest.Init(s, p, 1, `{"particles":1,"w":1,"c1":0,"c2":0,"max_flaws":1}`); err != nil {
		t.Fatal(err)
	}
	cs, _ := s.Propose(1)
	if err := s.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"score": 1}}}); err != nil {
		t.Fatal(err)
	}
	st := &s.st
	pt := &st.Particles[0]
	fixed := evo.Edit{Op: evo.OpModifyParam, Param: "algo", Value: "cma"}
	stuck := evo.Edit{Op: evo.OpModifyParam, Param: "on", Value: true}
	pt.Position["algo"], pt.Position["on"] = "cma", true
	pt.Velocity = []Move{{Flaw: "t1", Edit: fixed, Source: "fix"}, {Flaw: "t2", Edit: stuck, Source: "fix"}}
	pt.Prev = &Eval{Tasks: []TaskState{{Task: "t1", Failed: true}, {Task: "t2", U: 1}}}
	pt.Eval = &Eval{Tasks: []TaskState{{Task: "t1", U: 1}, {Task: "t2", U: 1}}}
	st.move(pt)
	if !slices.Contains(pt.Failed, failKey("t2", stuck)) || slices.Contains(pt.Failed, failKey("t1", fixed)) {
		t.Fatalf("failed adjustments %q", pt.Failed)
	}
	var kept []string
	for _, m := range pt.Velocity {
		if m.Source == "inertia" {
			kept = append(kept, m.Edit.Key())
		}
		if m.Flaw == "t2" && m.Edit.Key() == stuck.Key() {
			t.Fatalf("the failed adjustment is in the new velocity: %+v", pt.Velocity)
		}
	}
	if !slices.Equal(kept, []string{fixed.Key()}) {
		t.Fatalf("inertia %v, want the fixed flaw's edit", kept)
	}

	// Over whole runs, no velocity ever holds a remembered failed adjustment.
	for seed := range uint64(5) {
		s := &SwarmAgentic{}
		q := evotest.Sphere()
		if err := evotest.Init(s, q, seed, ""); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		remembered := 0
		for range 30 {
			if _, _, err := evotest.Step(s, q, 8, seen); err != nil {
				t.Fatal(err)
			}
			for _, pt := range s.Particles() {
				remembered += len(pt.Failed)
				for _, m := range pt.Velocity {
					if slices.Contains(pt.Failed, failKey(m.Flaw, m.Edit)) {
						t.Fatalf("particle repeats failed adjustment %s for %s", m.Edit.Key(), m.Flaw)
					}
				}
			}
		}
		if remembered == 0 {
			t.Fatal("no adjustment ever failed: the test proves nothing")
		}
	}
}

func TestNumericPSO(t *testing.T) {
	p := evotest.Sphere()
	s := &SwarmAgentic{}
	if err := evotest.Init(s, p, 1, `{"particles":2,"w":0,"c1":0,"c2":0}`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	first, _, _ := evotest.Step(s, p, 2, seen)
	second, _, _ := evotest.Step(s, p, 2, seen)
	for i := range first {
		for _, n := range []string{"x0", "x1", "x2", "x3"} {
			if first[i].Genome[n] != second[i].Genome[n] {
				t.Fatalf("w = c1 = c2 = 0 moved %s: %v -> %v", n, first[i].Genome[n], second[i].Genome[n])
			}
		}
	}
	// The standard update: v' = w v + c1 r1 (p − x) + c2 r2 (g − x).
	s = &SwarmAgentic{}
	if err := evotest.Init(s, p, 1, `{"particles":1,"w":0.5,"c1":0,"c2":1}`); err != nil {
		t.Fatal(err)
	}
	s.Propose(1)
	pt := &s.st.Particles[0]
	pt.U = []float64{0.5, 0.5, 0.5, 0.5}
	pt.V = []float64{0.1, 0.1, 0.1, 0.1}
	s.st.Global = &Best{U: []float64{0.9, 0.1, 0.5, 0.5}, Genome: pt.Position.Clone()}
	pt.Eval = &Eval{Tasks: []TaskState{{Task: "*", U: 1}}}
	before := slices.Clone(pt.U)
	s.st.move(pt)
	for j := range before {
		d := pt.U[j] - before[j]
		g := s.st.Global.U[j] - before[j]
		// d = 0.05 + r2·g with r2 in [0, 1).
		if lo, hi := math.Min(0.05, 0.05+g), math.Max(0.05, 0.05+g); d < lo-1e-12 || d > hi+1e-12 {
			t.Fatalf("coordinate %d moved %v, want within [%v, %v]", j, d, lo, hi)
		}
	}
}

func TestLLMPlanFromCassette(t *testing.T) {
	defer sdk.SetLLM(nil)
	p := richProblem(t)
	cas := evotest.NewCassette(
		evotest.Entry{Match: "initial design", Answer: `{"genome": {"prompt": "Plan the route, then verify it.", "algo": "de", "steps": ["swap", "2opt"]}}`},
		evotest.Entry{Match: "initial design", Answer: `I cannot help with that.`},
		evotest.Entry{Match: "Identified flaws", Answer: `{"adjustments": [{"flaw": "*", "adjustment": {"op": "modify_param", "param": "prompt", "value": "Plan the route. Check each constraint."}},
		  {"flaw": "*", "adjustment": {"op": "add_step", "param": "steps", "index": 0, "value": "oropt"}},
		  {"flaw": "*", "adjustment": {"op": "modify_param", "param": "ghost", "value": 1}}]}`},
		evotest.Entry{Match: "Identified flaws", Answer: `{"adjustments": []}`},
	)
	sdk.SetLLM(cas.Hook())
	s := &SwarmAgentic{}
	if err := evotest.Init(s, p, 5, `{"particles":2}`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	first, _, err := evotest.Step(s, p, 2, seen)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Operator != "llm_init" || first[0].Genome["prompt"] != "Plan the route, then verify it." || first[1].Operator != "init" {
		t.Fatalf("initial particles %+v", first)
	}
	if cas.Requests[0].Temperature == nil || *cas.Requests[0].Temperature != 0.2 || *cas.Requests[1].Temperature != 1.0 {
		t.Fatal("initial designs are not asked at the particles' temperatures")
	}
	second, _, err := evotest.Step(s, p, 2, seen)
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Operator != "pso_llm" || second[0].Genome["prompt"] != "Plan the route. Check each constraint." ||
		!slices.Equal(second[0].Genome["steps"].([]string), []string{"oropt", "swap", "2opt"}) {
		t.Fatalf("LLM move %+v", second[0])
	}
	if second[1].Operator != "pso" { // an empty plan falls back
		t.Fatalf("fallback operator %q", second[1].Operator)
	}
	if cas.Used() != 4 || len(cas.Mismatches) != 0 {
		t.Fatalf("cassette used %d, mismatches %v", cas.Used(), cas.Mismatches)
	}
	if req := cas.Requests[2].Messages[1].Content; !strings.Contains(req, "# Identified flaws") || !strings.Contains(req, `task "*"`) {
		t.Fatalf("plan request %s", req)
	}

	// Without an LLM the run is the same as with llm "off".
	sdk.SetLLM(nil)
	a, err := evotest.Drive(&SwarmAgentic{}, p, 9, "", 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := evotest.Drive(&SwarmAgentic{}, p, 9, `{"llm":"off"}`, 5, 8)
	if !evotest.Same(a, b) {
		t.Fatal("a run without an LLM differs from llm off")
	}
}

func TestBeatsRandomSearch(t *testing.T) {
	const gens, batch, seeds = 20, 8, 6
	for _, p := range []evotest.Problem{evotest.Sphere(), evotest.Accuracy()} {
		var mine, rnd float64
		for seed := range uint64(seeds) {
			tr, err := evotest.Drive(&SwarmAgentic{}, p, seed+100, "", gens, batch)
			if err != nil {
				t.Fatal(err)
			}
			mine += tr.Best / seeds
			rnd += evotest.RandomBest(p, seed+100, len(tr.Candidates)) / seeds
		}
		t.Logf("%s: swarmagentic %.3f, random %.3f", p.Objectives[0].Name, mine, rnd)
		if p.Minimize() && !(mine < rnd) || !p.Minimize() && !(mine > rnd) {
			t.Fatalf("%s: swarmagentic %.3f does not beat random search %.3f", p.Objectives[0].Name, mine, rnd)
		}
	}
}
