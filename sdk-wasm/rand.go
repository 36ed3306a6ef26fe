package sdk

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
)

// Rand is a small deterministic generator for strategies: a PCG from
// math/rand/v2 whose whole state marshals to JSON, so a strategy can keep it in
// its snapshot and a restored instance goes on with the same numbers. It is a
// *rand.Rand, so every method of math/rand/v2 is available.
//
// A plugin that needs the host's seeded random source can ask for the
// "random" capability; Rand needs none, and the same seed gives the same
// sequence on every platform and in native tests.
type Rand struct {
	*rand.Rand
	src *rand.PCG
}

// pcgStream is the second PCG seed word, a fixed constant so that one seed
// picks one sequence.
const pcgStream = 0x5377_6172_6d53_444b // "SwarmSDK"

// NewRand returns a generator seeded with seed.
func NewRand(seed uint64) *Rand {
	src := rand.NewPCG(seed, pcgStream)
	return &Rand{Rand: rand.New(src), src: src}
}

// MarshalBinary returns the generator's state.
func (r *Rand) MarshalBinary() ([]byte, error) {
	if r == nil || r.src == nil {
		return nil, errors.New("sdk.Rand: not initialised (use NewRand)")
	}
	return r.src.MarshalBinary()
}

// UnmarshalBinary restores a state from MarshalBinary; it works on a zero Rand.
func (r *Rand) UnmarshalBinary(data []byte) error {
	src := &rand.PCG{}
	if err := src.UnmarshalBinary(data); err != nil {
		return err
	}
	r.src = src
	r.Rand = rand.New(src)
	return nil
}

// MarshalJSON writes the state as a JSON string (base64 of MarshalBinary).
func (r *Rand) MarshalJSON() ([]byte, error) {
	b, err := r.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// UnmarshalJSON restores a state written by MarshalJSON; it works on a zero
// Rand, so a *Rand field of a snapshot struct decodes directly.
func (r *Rand) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	return r.UnmarshalBinary(b)
}

// Uniform returns a number in [lo, hi] drawn uniformly (lo when lo >= hi).
func (r *Rand) Uniform(lo, hi float64) float64 {
	if !(hi > lo) {
		return lo
	}
	u := r.Float64()
	return clamp(lo*(1-u)+hi*u, lo, hi) // no overflow for huge ranges
}

// LogUniform returns a number in [lo, hi] whose logarithm is uniform; lo must
// be positive (lo is returned otherwise, and when lo >= hi).
func (r *Rand) LogUniform(lo, hi float64) float64 {
	if !(hi > lo) || !(lo > 0) {
		return lo
	}
	return clamp(math.Exp(r.Uniform(math.Log(lo), math.Log(hi))), lo, hi)
}

// IntRange returns an integer in [lo, hi] drawn uniformly (lo when lo >= hi).
// It covers the whole int64 range without overflow.
func (r *Rand) IntRange(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	span := uint64(hi) - uint64(lo) + 1 // wraps to 0 for the full range
	if span == 0 {
		return int64(r.Uint64())
	}
	return int64(uint64(lo) + r.Uint64N(span))
}

// Choice returns one of choices uniformly; "" when there is none.
func (r *Rand) Choice(choices []string) string {
	if len(choices) == 0 {
		return ""
	}
	return choices[r.IntN(len(choices))]
}

// Value draws one value of p uniformly: float (log-uniform when Log), int,
// categorical, bool, a sequence of uniform length in [MinLength, MaxLength]
// with uniform elements; text and code get the empty string, since no
// distribution over free text means anything. An invalid parameter gives nil.
func (r *Rand) Value(p Parameter) any {
	switch p.Type() {
	case TypeFloat:
		if p.Float.Log {
			return r.LogUniform(p.Float.Min, p.Float.Max)
		}
		return r.Uniform(p.Float.Min, p.Float.Max)
	case TypeInt:
		return r.IntRange(p.Int.Min, p.Int.Max)
	case TypeCategorical:
		return r.Choice(p.Categorical.Choices)
	case TypeBool:
		return r.IntN(2) == 1
	case TypeSequence:
		s := p.Sequence
		n := int(r.IntRange(int64(s.MinLength), int64(s.MaxLength)))
		out := make([]string, n)
		for i := range out {
			out[i] = r.Choice(s.Choices)
		}
		return out
	case TypeText, TypeCode:
		return ""
	}
	return nil
}

// Genome draws a genome of space, one Value per parameter in the order of the
// space (so the draws, and the generator's state after them, are
// reproducible). Validate the space first: invalid parameters get nil values.
func (r *Rand) Genome(space SearchSpace) Genome {
	g := make(Genome, len(space.Parameters))
	for _, p := range space.Parameters {
		g[p.Name] = r.Value(p)
	}
	return g
}

func clamp(v, lo, hi float64) float64 {
	return math.Min(math.Max(v, lo), hi)
}
