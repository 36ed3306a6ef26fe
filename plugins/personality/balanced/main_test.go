package main

import (
	"encoding/json"
	"math"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

func TestAdjustRanges(t *testing.T) {
	var prev sdk.Adjustment
	for i, trust := range []float64{math.Inf(-1), -3, 0, 0.1, 0.25, 0.5, 0.8, 1, 7, math.Inf(1)} {
		a, err := Balanced{}.Adjust(sdk.AdjustRequest{Version: 1, Role: "solver", Generation: i, Trust: trust})
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]float64{"mutationBias": a.MutationBias, "resourceHeadroom": a.ResourceHeadroom, "canaryPace": a.CanaryPace} {
			if math.IsNaN(v) || v < 0 || v > 1 {
				t.Fatalf("trust %v: %s = %v is outside [0, 1]", trust, name, v)
			}
		}
		if a.MutationBias != 0.5 || a.ResourceHeadroom != 0.2 {
			t.Fatalf("trust %v: %+v", trust, a)
		}
		if i > 0 && a.CanaryPace < prev.CanaryPace {
			t.Fatalf("canaryPace fell from %v to %v as trust rose to %v", prev.CanaryPace, a.CanaryPace, trust)
		}
		prev = a
	}
	for trust, want := range map[float64]float64{0: 0.25, 0.5: 0.5, 0.8: 0.65, 1: 0.75, -1: 0.25, 2: 0.75, math.NaN(): 0.25} {
		a, _ := Balanced{}.Adjust(sdk.AdjustRequest{Version: 1, Trust: trust})
		if math.Abs(a.CanaryPace-want) > 1e-15 {
			t.Errorf("trust %v: canaryPace %v, want %v", trust, a.CanaryPace, want)
		}
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
	if e.V != 1 || e.Error != nil || e.Result != (sdk.Adjustment{Version: 1, MutationBias: 0.5, ResourceHeadroom: 0.2, CanaryPace: 0.65}) {
		t.Fatalf("adjust = %s", got)
	}
}
