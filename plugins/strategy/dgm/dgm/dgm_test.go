package dgm

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo/evotest"
)

func fresh() sdk.Strategy { return &DGM{} }

// richProblem covers every parameter type; its score rewards a long prompt
// and a large x, so that there is something to select on.
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
			return sdk.Result{Scores: map[string]float64{"score": x + float64(len(p))/10}}
		},
	}
}

func TestSeedPicksTheProposals(t *testing.T) {
	p := evotest.Sphere()
	a, err := evotest.Drive(&DGM{}, p, 42, "", 6, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := evotest.Drive(&DGM{}, p, 42, "", 6, 8)
	c, _ := evotest.Drive(&DGM{}, p, 43, "", 6, 8)
	if !evotest.Same(a, b) {
		t.Fatal("the same seed gave different proposals")
	}
	if evotest.Same(a, c) {
		t.Fatal("seeds 42 and 43 gave the same proposals")
	}
	if a.Candidates[0].Operator != "initial" || a.Candidates[0].ID != "dgm-000001" {
		t.Fatalf("first proposal %+v, want the initial genome", a.Candidates[0])
	}
	if !evo.Equal(p.Space, a.Candidates[0].Genome, evo.Default(p.Space)) {
		t.Fatalf("initial genome %v, want the space's default", a.Candidates[0].Genome)
	}
}

func TestRestoreReproducesProposals(t *testing.T) {
	for _, cfg := range []string{"", `{"selection":"score_prop"}`, `{"no_darwin":true}`, `{"update_archive":"keep_better","alpha":"inverse"}`} {
		for _, p := range []evotest.Problem{evotest.Sphere(), evotest.Accuracy(), richProblem(t)} {
			if err := evotest.CheckRestore(fresh, p, 7, cfg, 4, 4, 8); err != nil {
				t.Fatalf("config %s: %v", cfg, err)
			}
		}
	}
	for _, bad := range []string{`{}`, `[]`, `{"rng": "AAAA"}`} {
		if err := (&DGM{}).Restore(json.RawMessage(bad)); err == nil {
			t.Errorf("Restore(%s) succeeded", bad)
		}
	}
}

func TestProposalsStayInsideTheSpace(t *testing.T) {
	p := richProblem(t)
	for _, cfg := range []string{"", `{"mutation_strength": 1, "mutation_rate": 1}`, `{"selfimprove_size": 5}`} {
		// Drive checks every genome against the space.
		tr, err := evotest.Drive(&DGM{}, p, 3, cfg, 40, 5)
		if err != nil {
			t.Fatalf("config %s: %v", cfg, err)
		}
		for _, c := range tr.Candidates[1:] {
			if len(c.Parents) != 1 || c.Operator != "mutate" {
				t.Fatalf("child %+v", c)
			}
		}
	}
	for _, bad := range []string{`{"selection":"best"}`, `{"selfimprove_size":-1}`, `{"alpha":"zscore"}`, `{"typo":1}`,
		`{"initial":{"x":1}}`, `{"llm":"maybe"}`, `{"update_archive":"keep_some"}`, `{"alpha_k":-1}`} {
		if err := evotest.Init(&DGM{}, p, 1, bad); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
}

// archiveOf builds an archive by hand through Observe: the initial genome
// and children with the given parents and scores.
func archiveOf(t *testing.T, cfg string, initial float64, children []struct {
	parent int
	score  float64
}) *DGM {
	t.Helper()
	d := &DGM{}
	if err := evotest.Init(d, evotest.Accuracy(), 1, cfg); err != nil {
		t.Fatal(err)
	}
	cs, _ := d.Propose(1)
	if err := d.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"acc": initial}}}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range children {
		// Force the parent: propose, then rewrite the pending child's parent.
		cs, _ := d.Propose(1)
		pend := d.st.Pending[cs[0].ID]
		pend.Parent = d.st.Archive[ch.parent].ID
		pend.Genome = evo.Mutate(d.st.Space, d.st.Archive[ch.parent].Genome, evo.Mutation{}, sdk.NewRand(uint64(len(d.st.Archive))))
		if err := d.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"acc": ch.score}}}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestSelectionProbabilitiesExact(t *testing.T) {
	// Archive: initial (0.5) with children A (0.8) and B (0.2); A has child C (0.6).
	d := archiveOf(t, "", 0.5, []struct {
		parent int
		score  float64
	}{{0, 0.8}, {0, 0.2}, {1, 0.6}})
	ids, p := d.Probabilities()
	if len(ids) != 4 {
		t.Fatalf("archive %v", ids)
	}
	s := func(a float64) float64 { return 1 / (1 + math.Exp(-10*(a-0.5))) }
	w := []float64{s(0.5) / 3, s(0.8) / 2, s(0.2) / 1, s(0.6) / 1}
	total := w[0] + w[1] + w[2] + w[3]
	// The same numbers written out: s = 0.5, 0.952574, 0.047426, 0.731059.
	want := []float64{0.5 / 3 / total, 0.9525741268 / 2 / total, 0.0474258732 / total, 0.7310585786 / total}
	for i := range p {
		if math.Abs(p[i]-w[i]/total) > 1e-12 || math.Abs(p[i]-want[i]) > 1e-9 {
			t.Fatalf("p = %v, want %v", p, want)
		}
	}
	if a := d.Alphas(); a[0] != 0.5 || a[1] != 0.8 || a[2] != 0.2 || a[3] != 0.6 {
		t.Fatalf("alphas %v (auto on scores in [0, 1] must be the scores)", a)
	}
	// score_prop drops the children term; random is uniform.
	sp := SelectionProbabilities([]float64{0.5, 0.8, 0.2, 0.6}, []int{2, 1, 0, 0}, ScoreProp)
	tot := s(0.5) + s(0.8) + s(0.2) + s(0.6)
	if math.Abs(sp[1]-s(0.8)/tot) > 1e-12 {
		t.Fatalf("score_prop %v", sp)
	}
	if r := SelectionProbabilities([]float64{0.1, 0.9}, []int{5, 0}, Random); r[0] != 0.5 || r[1] != 0.5 {
		t.Fatalf("random %v", r)
	}
	// The draws follow p.
	counts := map[string]int{}
	const draws = 40000
	for range draws / 2 {
		for _, n := range d.st.chooseParents() {
			counts[n.ID]++
		}
	}
	for i, id := range ids {
		if f := float64(counts[id]) / draws; math.Abs(f-p[i]) > 0.01 {
			t.Fatalf("%s drawn %.4f of the time, p = %.4f", id, f, p[i])
		}
	}
	// no_darwin takes the latest member.
	nd := archiveOf(t, `{"no_darwin":true}`, 0.5, []struct {
		parent int
		score  float64
	}{{0, 0.9}, {0, 0.1}})
	cs, _ := nd.Propose(4)
	for _, c := range cs {
		if c.Parents[0] != nd.st.Archive[2].ID {
			t.Fatalf("no_darwin parent %v, want the latest member %s", c.Parents, nd.st.Archive[2].ID)
		}
	}
}

func TestChildrenAreMadeRoundRobin(t *testing.T) {
	d := archiveOf(t, `{"selfimprove_size":3}`, 0.5, []struct {
		parent int
		score  float64
	}{{0, 0.8}, {0, 0.2}, {1, 0.6}, {3, 0.7}})
	cs, _ := d.Propose(9)
	for i := 3; i < 9; i++ {
		if cs[i].Parents[0] != cs[i-3].Parents[0] {
			t.Fatalf("child %d has parent %v, child %d %v: not round-robin over 3 parents", i, cs[i].Parents, i-3, cs[i-3].Parents)
		}
	}
}

func TestAdmission(t *testing.T) {
	d := &DGM{}
	if err := evotest.Init(d, evotest.Sphere(), 1, `{"update_archive":"keep_better","keep_better_leeway":0.5}`); err != nil {
		t.Fatal(err)
	}
	cs, _ := d.Propose(6)
	init := cs[0]
	res := []sdk.Result{
		{ID: init.ID, Scores: map[string]float64{"f": 2}},
		{ID: cs[1].ID, Scores: map[string]float64{"f": 2.4}},                    // within the leeway: in
		{ID: cs[2].ID, Scores: map[string]float64{"f": 2.6}},                    // worse than 2 + 0.5: out
		{ID: cs[3].ID, Failed: true, Reason: "crash"},                           // failed: out
		{ID: cs[4].ID, Scores: map[string]float64{"other": 1}},                  // no score: out
		{ID: cs[5].ID, Scores: map[string]float64{"f": math.NaN()}},             // not finite: out
		{ID: "dgm-999999", Scores: map[string]float64{"f": 0}},                  // unknown: ignored
		{ID: cs[1].ID, Scores: map[string]float64{"f": 0}},                      // repeated: ignored
		{ID: cs[2].ID + "x", Scores: map[string]float64{"f": 0}, Failed: false}, // unknown
	}
	if err := d.Observe(res); err != nil {
		t.Fatal(err)
	}
	arch := d.Archive()
	if len(arch) != 2 || arch[1].ID != cs[1].ID || arch[0].Children != 1 || arch[1].Score != 2.4 {
		t.Fatalf("archive %+v", arch)
	}
	if d.st.Admitted != 1 || d.st.Rejected != 4 {
		t.Fatalf("admitted %d rejected %d", d.st.Admitted, d.st.Rejected)
	}
	// A child identical to its parent (an empty patch) is not admitted.
	cs, _ = d.Propose(1)
	d.st.Pending[cs[0].ID].Genome = arch[0].Genome.Clone()
	d.st.Pending[cs[0].ID].Parent = arch[0].ID
	if err := d.Observe([]sdk.Result{{ID: cs[0].ID, Scores: map[string]float64{"f": 0}}}); err != nil || len(d.Archive()) != 2 {
		t.Fatalf("empty patch admitted: %v", err)
	}
	// Per-task outcomes are kept for the LLM's diagnosis, worst first.
	cs, _ = d.Propose(1)
	r := evotest.Sphere().Evaluate(cs[0].Genome)
	r.ID = cs[0].ID
	r.Scores["f"] = 1
	if err := d.Observe([]sdk.Result{r}); err != nil {
		t.Fatal(err)
	}
	last := d.Archive()[len(d.Archive())-1]
	if last.Tasks != 3 || last.Unresolved == nil {
		t.Fatalf("tasks %d unresolved %v", last.Tasks, last.Unresolved)
	}
}

func TestAlphaNormalisations(t *testing.T) {
	nodes := []Node{{Scored: true, Score: 0.0}, {Scored: true, Score: 1.0}, {Scored: true, Score: 3.0}, {Scored: true, Failed: true}}
	for _, c := range []struct {
		alpha string
		min   bool
		want  []float64
	}{
		{AlphaRank, true, []float64{1, 0.5, 0, 0}},
		{AlphaRank, false, []float64{0, 0.5, 1, 0}},
		{AlphaMinMax, true, []float64{1, 2.0 / 3, 0, 0}},
		{AlphaInverse, true, []float64{1, 0.5, 0.25, 0}},
		{AlphaInverse, false, []float64{0, 0.5, 0.75, 0}},
		{AlphaScore, true, []float64{1, 0, 0, 0}},
		{AlphaAuto, true, []float64{1, 0.5, 0, 0}}, // minimised: rank
	} {
		st := state{Goal: evo.Goal{Name: "f", Minimize: c.min}, Config: Config{Alpha: c.alpha, AlphaK: 1}, Archive: nodes}
		got := st.alphas(nodes)
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Fatalf("%s (minimise %v): %v, want %v", c.alpha, c.min, got, c.want)
			}
		}
	}
}

func TestLLMPatchFromCassette(t *testing.T) {
	defer sdk.SetLLM(nil)
	p := richProblem(t)
	cas := evotest.NewCassette(
		evotest.Entry{Match: "ONE improvement", Answer: `{"problem_description": "The prompt is empty, so the solver gets no guidance.", "patch": {"prompt": "Think step by step. Verify every constraint.", "solver": "def solve(x):\n    return x * 2\n"}}`},
		evotest.Entry{Match: "ONE improvement", Answer: "not json at all"},
		evotest.Entry{Match: "ONE improvement", Answer: `{"problem_description": "nothing", "patch": {}}`},
	)
	sdk.SetLLM(cas.Hook())
	d := &DGM{}
	if err := evotest.Init(d, p, 5, ""); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	if _, _, err := evotest.Step(d, p, 1, seen); err != nil { // the initial genome
		t.Fatal(err)
	}
	cs, _, err := evotest.Step(d, p, 3, seen)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Operator != "llm_patch" || cs[0].Genome["prompt"] != "Think step by step. Verify every constraint." ||
		!strings.HasPrefix(cs[0].Genome["solver"].(string), "def solve") {
		t.Fatalf("first child %+v, want the LLM's patch", cs[0])
	}
	// An unusable answer and an empty patch fall back to a mutation.
	if cs[1].Operator != "mutate" || cs[2].Operator != "mutate" {
		t.Fatalf("fallback operators %q %q", cs[1].Operator, cs[2].Operator)
	}
	if cas.Used() != 3 || len(cas.Mismatches) != 0 {
		t.Fatalf("cassette used %d, mismatches %v", cas.Used(), cas.Mismatches)
	}
	req := cas.Requests[0]
	if len(req.Messages) != 2 || !strings.Contains(req.Messages[1].Content, `"prompt"`) || string(req.ResponseFormat) != `{"type":"json_object"}` {
		t.Fatalf("request %+v", req)
	}
	if arch := d.Archive(); arch[1].Note != "The prompt is empty, so the solver gets no guidance." {
		t.Fatalf("archive note %q", arch[1].Note)
	}

	// Without an LLM (the native default answers ErrNoLLM) the run is the
	// same as with llm "off".
	sdk.SetLLM(nil)
	a, err := evotest.Drive(&DGM{}, p, 9, "", 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := evotest.Drive(&DGM{}, p, 9, `{"llm":"off"}`, 5, 4)
	if !evotest.Same(a, b) {
		t.Fatal("a run without an LLM differs from llm off")
	}
}

func TestBeatsRandomSearch(t *testing.T) {
	const gens, batch = 20, 8
	for _, c := range []struct {
		p   evotest.Problem
		cfg string
	}{{evotest.Sphere(), ""}, {evotest.Accuracy(), ""}, {evotest.Sphere(), `{"alpha":"inverse","alpha_k":0.2}`}} {
		var mine, rnd float64
		const seeds = 6
		for seed := range uint64(seeds) {
			tr, err := evotest.Drive(&DGM{}, c.p, seed+100, c.cfg, gens, batch)
			if err != nil {
				t.Fatal(err)
			}
			mine += tr.Best / seeds
			rnd += evotest.RandomBest(c.p, seed+100, len(tr.Candidates)) / seeds
		}
		t.Logf("%s %s: dgm %.3f, random %.3f", c.p.Objectives[0].Name, c.cfg, mine, rnd)
		if c.p.Minimize() && !(mine < rnd) || !c.p.Minimize() && !(mine > rnd) {
			t.Fatalf("%s %s: dgm %.3f does not beat random search %.3f", c.p.Objectives[0].Name, c.cfg, mine, rnd)
		}
	}
}
