// Package evo holds the deterministic genome operators that the built-in
// evolution strategies share (dgm, adas, swarmagentic): per-kind mutation,
// crossover, edits between genomes, clamping into a search space, a genome
// distance, the percentile bootstrap, the objective helper and a small
// wrapper around the optional LLM.
//
// Everything random takes an *sdk.Rand, so a strategy that keeps its
// generator in its snapshot reproduces its proposals after a restore.
// Functions never iterate over a Go map while drawing numbers: genes are
// visited in the order of the search space.
//
// Genomes coming back from JSON (a snapshot, an LLM answer) hold float64
// for every number and []any for lists; every function here reads them
// through the sdk.Genome accessors and returns canonical values: float64
// (float), int64 (int), string (categorical, text, code), bool and
// []string (sequence).
//
// Normalised coordinates: a float gene maps to [0, 1] linearly between Min
// and Max (logarithmically when Log), an int gene linearly. Mutation
// strengths and distances are in these units, so one setting means the
// same for every gene.
package evo
