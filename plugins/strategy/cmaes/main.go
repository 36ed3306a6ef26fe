// Command cmaes is the built-in strategy plugin "cmaes": the CMA-ES of
// Hansen's tutorial (arXiv:1604.00772), (μ/μ_w, λ) with rank-one and rank-μ
// (active) covariance updates and cumulative step-size adaptation, with
// BIPOP (default) or IPOP restarts. It is the baseline for continuous
// genes: float and int parameters are the coordinates of the search
// distribution (normalised to their box, log-scale floats on the logarithm,
// ints relaxed and rounded, bounds kept by reflection); categorical, bool,
// sequence, text and code parameters are drawn uniformly per candidate.
//
// Config (all optional): {"lambda": int ≥ 2, "sigma0": fraction of the box
// in (0, 1] (default 0.3), "restarts": "none" | "ipop" | "bipop"}. A
// generation is λ candidates (default 4 + ⌊3 ln n⌋ for n float and int
// parameters); the engine should use batch size λ. Package
// plugins/strategy/cmaes/cmaes holds the logic and documents it in full.
//
// Build it with plugins/build.sh (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/stratoswarm/stratoswarm/plugins/strategy/cmaes/cmaes"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { register() }

// register makes CMAES the plugin's strategy; a reactor runs init, not main.
func register() {
	strategy.Register(func() sdk.Strategy { return &cmaes.CMAES{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}
