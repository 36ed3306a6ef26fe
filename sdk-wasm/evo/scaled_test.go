package evo

import (
	"math"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Scaled multiplies the effective strength (the default 0.1 when unset);
// 0 and 1 change nothing. A larger strength moves float genes further.
func TestMutationScaled(t *testing.T) {
	if got := (Mutation{}).Scaled(1.4).Strength; math.Abs(got-0.14) > 1e-12 {
		t.Fatalf("default strength scaled by 1.4: %v", got)
	}
	if got := (Mutation{Strength: 0.3}).Scaled(0.5).Strength; got != 0.15 {
		t.Fatalf("0.3 scaled by 0.5: %v", got)
	}
	for _, f := range []float64{0, 1} {
		if got := (Mutation{Strength: 0.3, Rate: 0.2}).Scaled(f); got.Strength != 0.3 || got.Rate != 0.2 {
			t.Fatalf("scaled by %v: %+v", f, got)
		}
	}
	p := sdk.Parameter{Name: "x", Float: &sdk.FloatParam{Min: 0, Max: 1}}
	step := func(f float64) float64 {
		rng := sdk.NewRand(9)
		sum := 0.0
		for range 2000 {
			sum += math.Abs(MutateValue(p, 0.5, Mutation{}.Scaled(f), rng).(float64) - 0.5)
		}
		return sum
	}
	if a, b, c := step(1.4), step(1), step(0.7); !(a > b && b > c) {
		t.Fatalf("mean steps %v, %v, %v: want them in the order of the scale", a, b, c)
	}
}
