// Command balanced is the built-in personality plugin "balanced": the
// middle-of-the-road defaults, with one nudge.
//
//	mutationBias     = 0.5                  as much exploration as exploitation
//	resourceHeadroom = 0.2                  keep a fifth of the resources spare
//	canaryPace       = 0.25 + 0.5 * trust   trust 0 → 0.25, 0.5 → 0.5, 1 → 0.75
//
// Trust is clamped to [0, 1] first (a request without it counts as trust 0),
// so a less trusted agent's canary steps up more slowly and every value stays
// inside [0, 1]. Role and generation do not matter to this personality.
package main

import (
	"math"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/personality"
)

func init() {
	personality.Register(func() sdk.Personality { return Balanced{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}

// The balanced defaults.
const (
	MutationBias     = 0.5
	ResourceHeadroom = 0.2
	// CanaryPaceMin and CanaryPaceMax are the canary paces at trust 0 and 1.
	CanaryPaceMin = 0.25
	CanaryPaceMax = 0.75
)

// Balanced is the personality. It keeps no state.
type Balanced struct{}

// Adjust returns the balanced adjustment for the request's trust.
func (Balanced) Adjust(req sdk.AdjustRequest) (sdk.Adjustment, error) {
	trust := req.Trust
	if math.IsNaN(trust) {
		trust = 0
	}
	trust = math.Min(1, math.Max(0, trust))
	return sdk.Adjustment{
		MutationBias:     MutationBias,
		ResourceHeadroom: ResourceHeadroom,
		CanaryPace:       CanaryPaceMin + (CanaryPaceMax-CanaryPaceMin)*trust,
	}, nil
}
