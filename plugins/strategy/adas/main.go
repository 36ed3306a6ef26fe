// Command adas is the built-in strategy plugin "adas": Meta Agent Search
// (Hu, Lu, Clune, arXiv 2408.08435) over genomes.
//
// A seed archive is evaluated first; afterwards each proposal is
// conditioned on the whole archive (with a granted LLM, one prompt with the
// archive and its fitness strings plus two reflection turns; without one,
// a tournament over the fitness intervals, recombination, mutation and a
// novelty check against the archive). A failed design is repaired until
// debug_max evaluations have failed. Fitness is a percentile bootstrap over
// the per-task scores, kept as the paper's "95% Bootstrap Confidence
// Interval" string, and every valid design joins the archive. The logic
// lives in package adas; README.md documents the configuration and the
// fidelity to the paper.
//
// Build it with plugins/build.sh (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/stratoswarm/stratoswarm/plugins/strategy/adas/adas"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { register() }

// register makes ADAS the plugin's strategy; a reactor runs init, not main.
func register() {
	strategy.Register(func() sdk.Strategy { return &adas.ADAS{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}
