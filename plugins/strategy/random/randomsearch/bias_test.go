package randomsearch

import (
	"encoding/json"
	"math"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

func objectiveRun(t *testing.T, seed uint64) *Random {
	t.Helper()
	r := &Random{}
	if err := r.Init(sdk.InitRequest{Version: 1, Space: space(t), Seed: seed, Objectives: []sdk.Objective{{Name: "f", Direction: sdk.Minimize}}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// At the neutral bias and above random search proposes exactly what it
// does without one; below it, once a result is in, it proposes around the
// best within sdk.StepScale(bias) of each numeric range.
func TestMutationBiasMakesRandomSearchLocal(t *testing.T) {
	plain, neutral, high, low := objectiveRun(t, 5), objectiveRun(t, 5), objectiveRun(t, 5), objectiveRun(t, 5)
	neutral.SetMutationBias(0.5)
	high.SetMutationBias(0.9)
	low.SetMutationBias(0.2)
	first := propose(t, plain, 6)
	for _, r := range []*Random{neutral, high, low} {
		if got := propose(t, r, 6); candJSON(got) != candJSON(first) {
			t.Fatalf("before any result the bias changed the proposals")
		}
	}
	results := func(cs []sdk.Candidate) []sdk.Result {
		out := make([]sdk.Result, len(cs))
		for i, c := range cs {
			x, _ := c.Genome.Float("x")
			out[i] = sdk.Result{ID: c.ID, Scores: map[string]float64{"f": math.Abs(x - 1)}, Complete: true}
		}
		return out
	}
	for _, r := range []*Random{plain, neutral, high, low} {
		if err := r.Observe(results(first)); err != nil {
			t.Fatal(err)
		}
	}
	best := plain.st.Best
	if best == nil || low.st.Best.ID != best.ID {
		t.Fatalf("best %+v", best)
	}
	second := propose(t, plain, 40)
	for _, r := range []*Random{neutral, high} {
		if got := propose(t, r, 40); candJSON(got) != candJSON(second) {
			t.Fatal("a bias of 0.5 or more changed uniform search")
		}
	}
	s := space(t)
	for _, c := range propose(t, low, 40) {
		if c.Operator != "random-local" || len(c.Parents) != 1 || c.Parents[0] != best.ID {
			t.Fatalf("%s: operator %q parents %v", c.ID, c.Operator, c.Parents)
		}
		if err := c.Genome.Validate(s); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"x", "lr", "k"} {
			p := paramOf(s, name)
			u, _ := evo.Normalize(p, c.Genome[name])
			ub, _ := evo.Normalize(p, best.Genome[name])
			if d := math.Abs(u - ub); d > 0.35+1e-9+0.5/6 { // half of w = 0.7, and an int's rounding
				t.Fatalf("%s: %s is %v from the best's (normalised), more than the window", c.ID, name, d)
			}
		}
	}
	// The best and the pending genomes survive a snapshot.
	snap, _ := low.Snapshot()
	again := &Random{}
	if err := again.Restore(snap); err != nil || again.st.Best == nil || again.st.Best.ID != best.ID || len(again.st.Pending) != 40 {
		t.Fatalf("restore: %v %+v", err, again.st.Best)
	}
}

func paramOf(s sdk.SearchSpace, name string) sdk.Parameter {
	for _, p := range s.Parameters {
		if p.Name == name {
			return p
		}
	}
	panic(name)
}

func candJSON(cs []sdk.Candidate) string {
	b, err := json.Marshal(cs)
	if err != nil {
		panic(err)
	}
	return string(b)
}
