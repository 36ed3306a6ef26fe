// Command explorer is the built-in personality plugin "explorer": it leans
// towards new ground, keeps room to try things, and canaries fast only when
// trust is high.
//
//	mutationBias     = 0.9 − 0.15 · g/(g+10)   0.9 at generation 0, cooling towards 0.75
//	resourceHeadroom = 0.35                    keep over a third of the resources spare
//	canaryPace       = 0.15 + 0.8 · trust²     0.15 at trust 0, 0.35 at 0.5, 0.95 at 1
//
// g is the generation (negative counts as 0) and trust is clamped to [0, 1]
// (NaN counts as 0). Against balanced (0.5, 0.2, 0.25 + 0.5·trust): the
// mutation bias is always higher, the headroom larger, and the canary pace
// faster only above trust ≈ 0.78 (where 0.8t² − 0.5t − 0.1 = 0), slower
// below. Role does not matter to this personality.
package main

import (
	"math"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/personality"
)

func init() {
	personality.Register(func() sdk.Personality { return Explorer{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}

// The explorer's constants.
const (
	// MutationBiasStart is the mutation bias at generation 0; it cools by
	// up to MutationBiasCooling as generations pass.
	MutationBiasStart   = 0.9
	MutationBiasCooling = 0.15
	// CoolingGenerations is the generation at which half the cooling is done.
	CoolingGenerations = 10
	ResourceHeadroom   = 0.35
	// CanaryPaceMin is the pace at trust 0; CanaryPaceMin + CanaryPaceGain
	// the pace at trust 1.
	CanaryPaceMin  = 0.15
	CanaryPaceGain = 0.8
)

// Explorer is the personality. It keeps no state.
type Explorer struct{}

// Adjust returns the explorer's adjustment for the request's generation
// and trust.
func (Explorer) Adjust(req sdk.AdjustRequest) (sdk.Adjustment, error) {
	g := float64(max(req.Generation, 0))
	trust := req.Trust
	if math.IsNaN(trust) {
		trust = 0
	}
	trust = math.Min(1, math.Max(0, trust))
	return sdk.Adjustment{
		MutationBias:     MutationBiasStart - MutationBiasCooling*g/(g+CoolingGenerations),
		ResourceHeadroom: ResourceHeadroom,
		CanaryPace:       CanaryPaceMin + CanaryPaceGain*trust*trust,
	}, nil
}
