package evo

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Default returns the space's default genome, the deterministic starting
// point of a run that names none: floats at the middle of their range (the
// geometric middle on a log scale), ints at the middle, the first choice of
// a categorical, false, a sequence made of the choices in order (cycled up
// to minLength, cut at maxLength) and empty text and code.
func Default(space sdk.SearchSpace) sdk.Genome {
	g := make(sdk.Genome, len(space.Parameters))
	for _, p := range space.Parameters {
		g[p.Name] = DefaultValue(p)
	}
	return g
}

// DefaultValue is the default of one parameter (see Default); nil for an
// invalid parameter.
func DefaultValue(p sdk.Parameter) any {
	switch p.Type() {
	case sdk.TypeFloat:
		return Denormalize(p, 0.5)
	case sdk.TypeInt:
		return Denormalize(p, 0.5)
	case sdk.TypeCategorical:
		return p.Categorical.Choices[0]
	case sdk.TypeBool:
		return false
	case sdk.TypeSequence:
		s := p.Sequence
		n := min(max(len(s.Choices), s.MinLength), s.MaxLength)
		out := make([]string, n)
		for i := range out {
			out[i] = s.Choices[i%len(s.Choices)]
		}
		return out
	case sdk.TypeText, sdk.TypeCode:
		return ""
	}
	return nil
}

// Numeric reports whether a parameter has normalised coordinates (float or
// int).
func Numeric(p sdk.Parameter) bool {
	t := p.Type()
	return t == sdk.TypeFloat || t == sdk.TypeInt
}

// Normalize maps a float or int value to [0, 1] (log scale for log floats);
// ok is false for another type or a value that is not a number. Values
// outside the bounds are clamped. A parameter with Min == Max maps to 0.
func Normalize(p sdk.Parameter, v any) (u float64, ok bool) {
	x, ok := toFloat(v)
	if !ok || math.IsNaN(x) {
		return 0, false
	}
	switch p.Type() {
	case sdk.TypeFloat:
		lo, hi := p.Float.Min, p.Float.Max
		if p.Float.Log {
			if x <= 0 {
				return 0, true
			}
			lo, hi, x = math.Log(lo), math.Log(hi), math.Log(x)
		}
		if !(hi > lo) {
			return 0, true
		}
		return clamp01((x - lo) / (hi - lo)), true
	case sdk.TypeInt:
		lo, hi := float64(p.Int.Min), float64(p.Int.Max)
		if !(hi > lo) {
			return 0, true
		}
		return clamp01((x - lo) / (hi - lo)), true
	}
	return 0, false
}

// Denormalize maps u in [0, 1] back to a value of a float (float64) or int
// (int64, rounded) parameter, inside its bounds; nil for another type.
func Denormalize(p sdk.Parameter, u float64) any {
	u = clamp01(u)
	switch p.Type() {
	case sdk.TypeFloat:
		lo, hi := p.Float.Min, p.Float.Max
		if !(hi > lo) {
			return lo
		}
		if p.Float.Log {
			return clampF(math.Exp(math.Log(lo)+u*(math.Log(hi)-math.Log(lo))), lo, hi)
		}
		return clampF(lo+u*(hi-lo), lo, hi)
	case sdk.TypeInt:
		lo, hi := p.Int.Min, p.Int.Max
		if hi <= lo {
			return lo
		}
		x := math.Round(float64(lo) + u*(float64(hi)-float64(lo)))
		return clampInt(x, lo, hi)
	}
	return nil
}

// Clamp returns a genome of space made from g: missing or unreadable genes
// get their default (DefaultValue), numbers are clamped into their bounds
// (ints rounded), an unknown category becomes the first choice, sequence
// elements that are not choices are dropped and the sequence is cut at
// maxLength or padded with the choices in order up to minLength, text and
// code are cut at maxLength characters, and keys that are not parameters are
// dropped. Values come out in canonical Go types. The result always
// satisfies Validate.
func Clamp(space sdk.SearchSpace, g sdk.Genome) sdk.Genome {
	out := make(sdk.Genome, len(space.Parameters))
	for _, p := range space.Parameters {
		out[p.Name] = ClampValue(p, g[p.Name])
	}
	return out
}

// ClampValue is Clamp for one value of p.
func ClampValue(p sdk.Parameter, v any) any {
	switch p.Type() {
	case sdk.TypeFloat:
		x, ok := toFloat(v)
		if !ok || math.IsNaN(x) {
			return DefaultValue(p)
		}
		return clampF(x, p.Float.Min, p.Float.Max)
	case sdk.TypeInt:
		x, ok := toFloat(v)
		if !ok || math.IsNaN(x) {
			return DefaultValue(p)
		}
		return clampInt(math.Round(x), p.Int.Min, p.Int.Max)
	case sdk.TypeCategorical:
		if s, ok := v.(string); ok && slices.Contains(p.Categorical.Choices, s) {
			return s
		}
		return DefaultValue(p)
	case sdk.TypeBool:
		b, _ := v.(bool)
		return b
	case sdk.TypeSequence:
		s := p.Sequence
		seq, _ := seqOf(v)
		out := make([]string, 0, len(seq))
		for _, e := range seq {
			if slices.Contains(s.Choices, e) && len(out) < s.MaxLength {
				out = append(out, e)
			}
		}
		for i := 0; len(out) < s.MinLength; i++ {
			out = append(out, s.Choices[i%len(s.Choices)])
		}
		return out
	case sdk.TypeText, sdk.TypeCode:
		s, _ := v.(string)
		return truncateRunes(s, maxLen(p))
	}
	return nil
}

// Validate checks that g is a point of space (sdk.Genome.Validate).
func Validate(space sdk.SearchSpace, g sdk.Genome) error { return g.Validate(space) }

// Equal reports whether a and b hold the same value for every parameter of
// space (numbers compare by value whatever their Go type).
func Equal(space sdk.SearchSpace, a, b sdk.Genome) bool {
	for _, p := range space.Parameters {
		if !EqualValue(p, a[p.Name], b[p.Name]) {
			return false
		}
	}
	return true
}

// EqualValue reports whether two values of p are the same.
func EqualValue(p sdk.Parameter, a, b any) bool {
	switch p.Type() {
	case sdk.TypeFloat, sdk.TypeInt:
		x, ok1 := toFloat(a)
		y, ok2 := toFloat(b)
		return ok1 && ok2 && x == y
	case sdk.TypeSequence:
		x, ok1 := seqOf(a)
		y, ok2 := seqOf(b)
		return ok1 && ok2 && slices.Equal(x, y)
	case sdk.TypeBool:
		x, ok1 := a.(bool)
		y, ok2 := b.(bool)
		return ok1 && ok2 && x == y
	default:
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		return ok1 && ok2 && x == y
	}
}

// Distance is a genome distance in [0, 1]: the mean over the space's
// parameters of a per-gene distance, each in [0, 1]: the difference of the
// normalised coordinates for floats and ints, 0 or 1 for categoricals and
// booleans, the edit distance over the longer length for sequences, and one
// minus the Jaccard similarity of the word sets for text and code (linear
// time, so long code stays cheap). A space without parameters gives 0.
func Distance(space sdk.SearchSpace, a, b sdk.Genome) float64 {
	if len(space.Parameters) == 0 {
		return 0
	}
	sum := 0.0
	for _, p := range space.Parameters {
		sum += GeneDistance(p, a[p.Name], b[p.Name])
	}
	return sum / float64(len(space.Parameters))
}

// GeneDistance is the per-gene distance of Distance.
func GeneDistance(p sdk.Parameter, a, b any) float64 {
	switch p.Type() {
	case sdk.TypeFloat, sdk.TypeInt:
		x, ok1 := Normalize(p, a)
		y, ok2 := Normalize(p, b)
		if !ok1 || !ok2 {
			return 1
		}
		return math.Abs(x - y)
	case sdk.TypeSequence:
		x, _ := seqOf(a)
		y, _ := seqOf(b)
		n := max(len(x), len(y))
		if n == 0 {
			return 0
		}
		return float64(Levenshtein(x, y)) / float64(n)
	case sdk.TypeText, sdk.TypeCode:
		x, _ := a.(string)
		y, _ := b.(string)
		if x == y {
			return 0
		}
		return 1 - jaccard(strings.Fields(x), strings.Fields(y))
	default:
		if EqualValue(p, a, b) {
			return 0
		}
		return 1
	}
}

// Levenshtein is the edit distance (insert, delete, substitute) between two
// sequences.
func Levenshtein(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	set := make(map[string]uint8, len(a)+len(b))
	for _, w := range a {
		set[w] |= 1
	}
	for _, w := range b {
		set[w] |= 2
	}
	both := 0
	for _, v := range set {
		if v == 3 {
			both++
		}
	}
	return float64(both) / float64(len(set))
}

// Canonical returns JSON for g with keys sorted (encoding/json sorts map
// keys), for keys, prompts and comparisons.
func Canonical(g sdk.Genome) string {
	b, err := json.Marshal(g)
	if err != nil {
		return ""
	}
	return string(b)
}

func maxLen(p sdk.Parameter) int {
	switch {
	case p.Text != nil:
		return p.Text.MaxLength
	case p.Code != nil:
		return p.Code.MaxLength
	}
	return 0
}

// truncateRunes cuts s to n code points; n <= 0 means no bound.
func truncateRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}

func clamp01(u float64) float64 { return clampF(u, 0, 1) }

func clampF(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

// clampInt converts a rounded float to an int64 inside [lo, hi] without
// overflow.
func clampInt(x float64, lo, hi int64) int64 {
	if x <= float64(lo) {
		return lo
	}
	if x >= float64(hi) {
		return hi
	}
	return int64(x)
}

// toFloat reads a number the way sdk.Genome.Float does, without building a
// genome: float64 and int64 directly, anything else through the SDK.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return sdk.Genome{"v": v}.Float("v")
}

// seqOf reads a sequence the way sdk.Genome.Sequence does; a []string is
// returned as is (callers must not modify it).
func seqOf(v any) ([]string, bool) {
	if s, ok := v.([]string); ok {
		return s, true
	}
	return sdk.Genome{"v": v}.Sequence("v")
}
