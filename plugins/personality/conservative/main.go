// Command conservative is the built-in personality plugin "conservative":
// small steps, some spare resources, and slow canaries whatever the trust.
//
//	mutationBias     = 0.2 − 0.1 · g/(g+10)   0.2 at generation 0, settling towards 0.1
//	resourceHeadroom = 0.25                   a little more spare than balanced's 0.2
//	canaryPace       = 0.05 + 0.35 · trust    0.05 at trust 0, 0.4 at trust 1
//
// g is the generation (negative counts as 0) and trust is clamped to [0, 1]
// (NaN counts as 0). Against balanced (0.5, 0.2, 0.25 + 0.5·trust): the
// mutation bias is always lower and the canary pace always slower. Role
// does not matter to this personality.
package main

import (
	"math"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/personality"
)

func init() {
	personality.Register(func() sdk.Personality { return Conservative{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}

// The conservative constants.
const (
	// MutationBiasStart is the mutation bias at generation 0; it settles by
	// up to MutationBiasSettle as generations pass.
	MutationBiasStart  = 0.2
	MutationBiasSettle = 0.1
	// SettleGenerations is the generation at which half the settling is done.
	SettleGenerations = 10
	ResourceHeadroom  = 0.25
	// CanaryPaceMin is the pace at trust 0; CanaryPaceMin + CanaryPaceGain
	// the pace at trust 1.
	CanaryPaceMin  = 0.05
	CanaryPaceGain = 0.35
)

// Conservative is the personality. It keeps no state.
type Conservative struct{}

// Adjust returns the conservative adjustment for the request's generation
// and trust.
func (Conservative) Adjust(req sdk.AdjustRequest) (sdk.Adjustment, error) {
	g := float64(max(req.Generation, 0))
	trust := req.Trust
	if math.IsNaN(trust) {
		trust = 0
	}
	trust = math.Min(1, math.Max(0, trust))
	return sdk.Adjustment{
		MutationBias:     MutationBiasStart - MutationBiasSettle*g/(g+SettleGenerations),
		ResourceHeadroom: ResourceHeadroom,
		CanaryPace:       CanaryPaceMin + CanaryPaceGain*trust,
	}, nil
}
