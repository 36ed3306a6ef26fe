package cmaes

import (
	"encoding/json"
	"math"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// spreadAroundMean is the mean distance of the proposals' x from the
// distribution's mean, in the normalised box.
func spreadAroundMean(t *testing.T, bias float64, set bool) float64 {
	t.Helper()
	var space sdk.SearchSpace
	if err := json.Unmarshal([]byte(`{"parameters": [{"name": "x", "float": {"min": 0, "max": 100}}, {"name": "y", "float": {"min": 0, "max": 100}}]}`), &space); err != nil {
		t.Fatal(err)
	}
	s := newStrategy(t, initReq(space, 11, `{"lambda": 64, "sigma0": 0.05}`, sdk.Minimize))
	if set {
		s.SetMutationBias(bias)
	}
	m := s.st.Run.Mean
	sum := 0.0
	cands := propose(t, s, 64)
	for _, c := range cands {
		x, _ := c.Genome.Float("x")
		y, _ := c.Genome.Float("y")
		sum += math.Hypot(x/100-m[0], y/100-m[1])
	}
	return sum / float64(len(cands))
}

// A mutation bias scales the proposals' distance from the mean by
// sdk.StepScale(bias): explorer's 0.9 > the neutral 0.5 > conservative's
// 0.2, and the neutral bias proposes exactly what no bias does.
func TestMutationBiasScalesTheSpread(t *testing.T) {
	none := spreadAroundMean(t, 0, false)
	neutral := spreadAroundMean(t, 0.5, true)
	wide := spreadAroundMean(t, 0.9, true)
	narrow := spreadAroundMean(t, 0.2, true)
	if none != neutral {
		t.Fatalf("the neutral bias changed the proposals: %v vs %v", neutral, none)
	}
	// σ0 = 0.05 around a mean in the central 80%: no sample reaches a
	// bound, so the ratios are exact.
	for _, c := range []struct {
		got, want float64
	}{{wide / neutral, 1.4}, {narrow / neutral, 0.7}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Fatalf("spread ratios %v and %v, want 1.4 and 0.7", wide/neutral, narrow/neutral)
		}
	}
}

// The bias is not state: a run proposed under a bias restores, and the
// distribution learns from the unscaled samples, so two runs told the same
// ranking end in the same distribution whatever their biases.
func TestMutationBiasLeavesTheStateAlone(t *testing.T) {
	space := mixedSpace(t)
	a := newStrategy(t, initReq(space, 3, "", sdk.Minimize))
	b := newStrategy(t, initReq(space, 3, "", sdk.Minimize))
	b.SetMutationBias(0.9)
	ca, cb := propose(t, a, 8), propose(t, b, 8)
	rb := roundTrip(t, b)
	ra := results(space, ca)
	rbRes := make([]sdk.Result, len(cb))
	for i := range cb {
		rbRes[i] = sdk.Result{ID: cb[i].ID, Scores: ra[i].Scores} // the same ranking
	}
	observe(t, a, ra)
	observe(t, rb, rbRes)
	sa, _ := a.Snapshot()
	sb, _ := rb.Snapshot()
	if string(sa) != string(sb) {
		t.Fatal("the biased run's distribution differs from the unbiased one's under the same ranking")
	}
}
