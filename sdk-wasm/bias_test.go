package sdk

import (
	"encoding/json"
	"testing"
)

// biasedStrategy is a fakeStrategy that remembers the biases it was given.
type biasedStrategy struct {
	fakeStrategy
	got []float64
}

func (b *biasedStrategy) SetMutationBias(bias float64) { b.got = append(b.got, bias) }

// The SDK hands the propose request's mutationBias (or the neutral 0.5)
// to a MutationBiaser before every Propose, under either spelling, and
// refuses one outside [0, 1].
func TestProposePassesTheMutationBias(t *testing.T) {
	s := &biasedStrategy{}
	RegisterStrategy(func() Strategy { return s })
	t.Cleanup(func() { RegisterStrategy(nil) })
	var a ack
	wantResult(t, call(t, OpStrategyInit, initReq), &a)
	var pr ProposeResult
	for _, req := range []string{
		`{"version":1,"n":1}`,
		`{"version":1,"n":1,"mutationBias":0.9}`,
		`{"version":1,"n":1,"mutation_bias":"0.2"}`,
		`{"version":1,"n":1,"mutationBias":null}`,
	} {
		wantResult(t, call(t, OpStrategyPropose, req), &pr)
	}
	if want := []float64{0.5, 0.9, 0.2, 0.5}; len(s.got) != len(want) || s.got[0] != want[0] || s.got[1] != want[1] || s.got[2] != want[2] || s.got[3] != want[3] {
		t.Fatalf("biases %v, want %v", s.got, want)
	}
	for _, bad := range []string{`1.5`, `-0.1`, `"NaN"`, `"high"`} {
		wantError(t, call(t, OpStrategyPropose, `{"version":1,"n":1,"mutationBias":`+bad+`}`), CodeInvalid, "mutationBias")
	}
	if len(s.got) != 4 {
		t.Fatalf("a refused request reached the strategy: %v", s.got)
	}
}

func TestProposeRequestEncodesTheBiasOnlyWhenSet(t *testing.T) {
	b, _ := json.Marshal(ProposeRequest{Version: 1, N: 3})
	if string(b) != `{"version":1,"n":3}` {
		t.Fatalf("without a bias: %s", b)
	}
	bias := 0.75
	b, _ = json.Marshal(ProposeRequest{Version: 1, N: 3, MutationBias: &bias})
	if string(b) != `{"version":1,"n":3,"mutationBias":0.75}` {
		t.Fatalf("with a bias: %s", b)
	}
	if StepScale(NeutralMutationBias) != 1 || StepScale(0) != 0.5 || StepScale(1) != 1.5 {
		t.Fatal("StepScale")
	}
}
