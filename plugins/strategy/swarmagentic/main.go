// Command swarmagentic is the built-in strategy plugin "swarmagentic":
// SwarmAgentic's particle swarm (Zhang et al., arXiv 2506.15672) over
// genomes.
//
// A few particles start at different diversities (the paper's sampling
// temperatures 0.2..1.0). Numeric genes move by standard PSO; the other genes
// move by a velocity of edits tied to the flaws of the last evaluation, with
// failure-aware inertia (an edit whose flaw persisted is dropped and never
// repeated) and cognitive and social terms towards the personal and global
// bests, which are updated with >=. With a granted LLM the plan and the
// initial designs come from the LLM. The logic lives in package
// swarmagentic; README.md documents the configuration and the fidelity to
// the paper.
//
// Build it with plugins/build.sh (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/stratoswarm/stratoswarm/plugins/strategy/swarmagentic/swarmagentic"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { register() }

// register makes SwarmAgentic the plugin's strategy; a reactor runs init,
// not main.
func register() {
	strategy.Register(func() sdk.Strategy { return &swarmagentic.SwarmAgentic{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}
