package main

import (
	"encoding/json"
	"math"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// balancedPace is the balanced personality's canary pace (plugins/personality/balanced).
func balancedPace(trust float64) float64 { return 0.25 + 0.5*math.Min(1, math.Max(0, trust)) }

func TestAdjustGrid(t *testing.T) {
	trusts := []float64{math.Inf(-1), -3, 0, 0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1, 7, math.Inf(1), math.NaN()}
	for _, g := range []int{-5, 0, 1, 2, 5, 10, 50, 1000, math.MaxInt32} {
		var prevPace float64
		for i, trust := range trusts {
			a, err := Explorer{}.Adjust(sdk.AdjustRequest{Version: 1, Role: "solver", Generation: g, Trust: trust})
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range map[string]float64{"mutationBias": a.MutationBias, "resourceHeadroom": a.ResourceHeadroom, "canaryPace": a.CanaryPace} {
				if math.IsNaN(v) || v < 0 || v > 1 {
					t.Fatalf("g %d trust %v: %s = %v is outside [0, 1]", g, trust, name, v)
				}
			}
			// More exploratory than balanced (0.5, 0.2) everywhere.
			if !(a.MutationBias > 0.5+0.2 && a.ResourceHeadroom > 0.2) {
				t.Fatalf("g %d trust %v: %+v is not more exploratory than balanced", g, trust, a)
			}
			if i > 0 && i < len(trusts)-1 && a.CanaryPace < prevPace {
				t.Fatalf("g %d: canaryPace fell from %v to %v as trust rose to %v", g, prevPace, a.CanaryPace, trust)
			}
			prevPace = a.CanaryPace
			// Fast canaries only when trust is high.
			switch {
			case trust >= 0.8 && !(a.CanaryPace > balancedPace(trust)):
				t.Errorf("trust %v: pace %v is not faster than balanced's %v", trust, a.CanaryPace, balancedPace(trust))
			case trust <= 0.7 && !(a.CanaryPace < balancedPace(trust)):
				t.Errorf("trust %v: pace %v is not slower than balanced's %v", trust, a.CanaryPace, balancedPace(trust))
			}
		}
	}
	// The formulas at a few points.
	for _, tc := range []struct {
		g           int
		trust, bias float64
		pace        float64
	}{{0, 0, 0.9, 0.15}, {10, 0.5, 0.825, 0.35}, {0, 1, 0.9, 0.95}, {90, 0.9, 0.765, 0.798}} {
		a, _ := Explorer{}.Adjust(sdk.AdjustRequest{Version: 1, Generation: tc.g, Trust: tc.trust})
		if math.Abs(a.MutationBias-tc.bias) > 1e-12 || math.Abs(a.CanaryPace-tc.pace) > 1e-12 || a.ResourceHeadroom != 0.35 {
			t.Errorf("g %d trust %v: %+v, want bias %v pace %v", tc.g, tc.trust, a, tc.bias, tc.pace)
		}
	}
}

func TestMutationBiasCoolsWithGenerations(t *testing.T) {
	prev := 2.0
	for _, g := range []int{0, 1, 3, 10, 30, 100, 1000} {
		a, _ := Explorer{}.Adjust(sdk.AdjustRequest{Version: 1, Generation: g, Trust: 0.5})
		if !(a.MutationBias < prev) {
			t.Fatalf("generation %d: mutationBias %v did not fall below %v", g, a.MutationBias, prev)
		}
		prev = a.MutationBias
	}
}

// Through the SDK's dispatcher, with the ABI.md example request.
func TestThroughTheDispatcher(t *testing.T) {
	got := string(sdk.Handle(sdk.OpPersonalityAdjust, []byte(`{"version": 1, "role": "solver", "generation": 3, "trust": 0.8}`)))
	var e struct {
		V      int
		Result sdk.Adjustment
		Error  *sdk.Error
	}
	if err := json.Unmarshal([]byte(got), &e); err != nil {
		t.Fatal(err)
	}
	want := sdk.Adjustment{Version: 1, MutationBias: 0.9 - 0.15*3.0/13, ResourceHeadroom: 0.35, CanaryPace: 0.15 + 0.8*0.64}
	if e.V != 1 || e.Error != nil || math.Abs(e.Result.MutationBias-want.MutationBias) > 1e-15 ||
		math.Abs(e.Result.CanaryPace-want.CanaryPace) > 1e-15 || e.Result.ResourceHeadroom != want.ResourceHeadroom || e.Result.Version != 1 {
		t.Fatalf("adjust = %s, want %+v", got, want)
	}
}
