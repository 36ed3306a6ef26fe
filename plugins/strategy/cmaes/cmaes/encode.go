package cmaes

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// coordinate says how one CMA-ES coordinate becomes a gene.
type coordinate struct {
	param int // index into the space's parameters
}

// encoding maps between the search space and CMA-ES coordinates. Every
// float and int parameter with a non-empty range is one coordinate; the
// others (categorical, bool, sequence, text, code, and floats or ints whose
// min equals max) are not searched by CMA-ES.
//
// A coordinate x ∈ ℝ is first folded into [0, 1] by reflection at the
// bounds (see mirror) and then scaled to the parameter: linearly for a
// float, on the logarithm for a log-scale float, and for an int onto
// [min, max+1) and rounded down, so that every integer owns an interval of
// the same width (the continuous relaxation).
type encoding struct {
	space  sdk.SearchSpace
	coords []coordinate
	isDim  []int // per parameter: its coordinate index, or -1
}

func newEncoding(space sdk.SearchSpace) encoding {
	enc := encoding{space: space, isDim: make([]int, len(space.Parameters))}
	for i, p := range space.Parameters {
		enc.isDim[i] = -1
		switch p.Type() {
		case sdk.TypeFloat:
			if !(p.Float.Max > p.Float.Min) {
				continue
			}
		case sdk.TypeInt:
			if !(p.Int.Max > p.Int.Min) {
				continue
			}
		default:
			continue
		}
		enc.isDim[i] = len(enc.coords)
		enc.coords = append(enc.coords, coordinate{param: i})
	}
	return enc
}

// dim returns the number of CMA-ES coordinates.
func (enc encoding) dim() int { return len(enc.coords) }

// genome turns the coordinates x into a genome. Parameters that are not
// coordinates are drawn uniformly from rng, in the order of the space.
func (enc encoding) genome(x []float64, rng *sdk.Rand) sdk.Genome {
	g := make(sdk.Genome, len(enc.space.Parameters))
	for i, p := range enc.space.Parameters {
		c := enc.isDim[i]
		switch {
		case c >= 0:
			g[p.Name] = decode(p, mirror(x[c]))
		case p.Type() == sdk.TypeFloat:
			g[p.Name] = p.Float.Min
		case p.Type() == sdk.TypeInt:
			g[p.Name] = p.Int.Min
		default:
			g[p.Name] = rng.Value(p)
		}
	}
	return g
}

// mirror folds x ∈ ℝ into [0, 1] by mirroring at 0 and 1: the identity on
// [0, 1], x ↦ -x on [-1, 0], x ↦ 2-x on [1, 2], and so on with period 2.
// CMA-ES optimises f∘mirror on the unbounded coordinates, so its update
// equations stay exactly those of the unconstrained algorithm while every
// evaluated point respects the bounds.
func mirror(x float64) float64 {
	t := math.Mod(x, 2)
	if t < 0 {
		t += 2
	}
	if t > 1 {
		t = 2 - t
	}
	return math.Min(math.Max(t, 0), 1)
}

// decode maps u ∈ [0, 1] to a value of the float or int parameter p.
func decode(p sdk.Parameter, u float64) any {
	if p.Float != nil {
		lo, hi := p.Float.Min, p.Float.Max
		var v float64
		switch {
		case u <= 0:
			return lo
		case u >= 1:
			return hi
		case p.Float.Log:
			v = math.Exp(math.Log(lo)*(1-u) + math.Log(hi)*u)
		default:
			v = lo*(1-u) + hi*u // no overflow for huge ranges
		}
		return math.Min(math.Max(v, lo), hi)
	}
	lo, hi := p.Int.Min, p.Int.Max
	span := uint64(hi) - uint64(lo) // hi - lo without overflow
	f := math.Floor(u * (float64(span) + 1))
	var off uint64
	switch {
	case !(f > 0):
		off = 0
	case f >= 1<<64:
		off = span
	default:
		off = min(uint64(f), span)
	}
	return int64(uint64(lo) + off)
}

// num is a float64 whose JSON also carries the infinities and NaN (as the
// strings "+Inf", "-Inf", "NaN"): failed evaluations rank as +Inf.
type num float64

// MarshalJSON writes finite values as JSON numbers that read back exactly.
func (x num) MarshalJSON() ([]byte, error) {
	f := float64(x)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (x *num) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "NaN":
			*x = num(math.NaN())
		case "+Inf":
			*x = num(math.Inf(1))
		case "-Inf":
			*x = num(math.Inf(-1))
		default:
			return fmt.Errorf("number %q is not NaN, +Inf or -Inf", s)
		}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*x = num(f)
	return nil
}

// packed is a []float64 whose JSON is a string: the base64 (standard
// alphabet, padded) of the values' IEEE 754 bits, 8 bytes little-endian
// each. It is exact, carries infinities, and is far cheaper to write and
// read than decimal numbers, which matters in Wasm, where formatting and
// parsing a float64 costs tens of microseconds: the snapshot holds C and B
// (n² values each) and the stagnation histories.
type packed []float64

// MarshalJSON writes the values as one base64 string.
func (v packed) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
	}
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(raw))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, raw)
	return append(out, '"'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *packed) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("packed floats: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw)%8 != 0 {
		return fmt.Errorf("packed floats: not the base64 of 8-byte values")
	}
	out := make(packed, len(raw)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	*v = out
	return nil
}

// symmetric is a symmetric n×n matrix, row-major, whose JSON is the packed
// lower triangle (row by row, n(n+1)/2 values): half the size.
type symmetric []float64

// MarshalJSON writes the lower triangle as packed values.
func (m symmetric) MarshalJSON() ([]byte, error) {
	n := int(math.Round(math.Sqrt(float64(len(m)))))
	if n*n != len(m) {
		return nil, fmt.Errorf("symmetric: %d values do not make a square matrix", len(m))
	}
	tri := make(packed, 0, n*(n+1)/2)
	for i := range n {
		tri = append(tri, m[i*n:i*n+i+1]...)
	}
	return tri.MarshalJSON()
}

// UnmarshalJSON reads what MarshalJSON writes and mirrors it.
func (m *symmetric) UnmarshalJSON(b []byte) error {
	var tri packed
	if err := tri.UnmarshalJSON(b); err != nil {
		return err
	}
	n := int(math.Round((math.Sqrt(8*float64(len(tri))+1) - 1) / 2))
	if n*(n+1)/2 != len(tri) {
		return fmt.Errorf("symmetric: %d values are not a lower triangle", len(tri))
	}
	out := make(symmetric, n*n)
	k := 0
	for i := range n {
		for j := 0; j <= i; j++ {
			out[i*n+j], out[j*n+i] = tri[k], tri[k]
			k++
		}
	}
	*m = out
	return nil
}
