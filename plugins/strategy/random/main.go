// Command random is the built-in strategy plugin "random": uniform random
// search over the whole search space. It is the baseline every other strategy
// must beat, and the smallest example of a strategy written with the SDK.
//
// Each proposal draws every parameter independently (sdk.Rand.Value): floats
// uniformly (log-uniformly when the parameter says log), integers, categories
// and booleans uniformly, sequences with a uniform length in
// [minLength, maxLength] and uniform elements; text and code parameters keep
// the empty string, since random text means nothing. Observations are counted
// and otherwise ignored. The generator is seeded by the run's seed and its
// state is part of the snapshot, so a restored instance proposes exactly what
// the original would have.
//
// Build it with plugins/build.sh (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/stratoswarm/stratoswarm/plugins/strategy/random/randomsearch"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { register() }

// register makes Random the plugin's strategy; a reactor runs init, not main.
func register() {
	strategy.Register(func() sdk.Strategy { return &randomsearch.Random{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}
