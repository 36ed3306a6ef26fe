// Command dgm is the built-in strategy plugin "dgm": the Darwin Gödel
// Machine's archive search (Zhang et al., arXiv 2505.22954) over genomes.
//
// The archive starts from an initial genome and keeps every valid child.
// Each propose is one generation: selfimprove_size parents are drawn with
// probability proportional to sigmoid(10·(α−0.5))/(1+children), and the
// batch's children are made from them round-robin, by a seeded genome
// mutation or, when the operator grants the plugin an LLM, by one
// LLM-proposed improvement (a JSON patch of the genome) per child. The
// logic lives in package dgm; README.md documents the configuration and how
// it follows the paper and its code.
//
// Build it with plugins/build.sh (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/stratoswarm/stratoswarm/plugins/strategy/dgm/dgm"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { register() }

// register makes DGM the plugin's strategy; a reactor runs init, not main.
func register() {
	strategy.Register(func() sdk.Strategy { return &dgm.DGM{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}
