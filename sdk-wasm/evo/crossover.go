package evo

import (
	"slices"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Crossover returns a child of a and b (both clamped into space): uniform
// crossover, each gene from a or b with probability 1/2, except sequences,
// which get one-point crossover (OnePoint).
func Crossover(space sdk.SearchSpace, a, b sdk.Genome, rng *sdk.Rand) sdk.Genome {
	a, b = Clamp(space, a), Clamp(space, b)
	out := make(sdk.Genome, len(space.Parameters))
	for _, p := range space.Parameters {
		if p.Type() == sdk.TypeSequence {
			s := p.Sequence
			out[p.Name] = OnePoint(a[p.Name].([]string), b[p.Name].([]string), s.MinLength, s.MaxLength, rng)
			continue
		}
		if rng.IntN(2) == 0 {
			out[p.Name] = a[p.Name]
		} else {
			out[p.Name] = b[p.Name]
		}
	}
	return out
}

// OnePoint is one-point crossover of two sequences of possibly different
// lengths: a head of a (cut at i) followed by a tail of b (cut at j), with i
// and j uniform; up to 8 draws are made to land inside [minLen, maxLen],
// after which a copy of a or b (uniformly) is returned.
func OnePoint(a, b []string, minLen, maxLen int, rng *sdk.Rand) []string {
	for range 8 {
		i, j := rng.IntN(len(a)+1), rng.IntN(len(b)+1)
		if n := i + len(b) - j; n >= minLen && n <= maxLen {
			return append(slices.Clone(a[:i]), b[j:]...)
		}
	}
	if rng.IntN(2) == 0 {
		return slices.Clone(a)
	}
	return slices.Clone(b)
}
