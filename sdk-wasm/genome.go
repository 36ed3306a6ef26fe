package sdk

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Genome is one point of a search space: parameter name to value. Values are
// float64 (float), int64 (int), string (categorical, text, code), bool (bool)
// and []string (sequence); the accessors also accept what encoding/json
// produces when it decodes a genome (float64 for every number, []any for a
// list, json.Number with UseNumber) and the other Go integer and float types.
type Genome map[string]any

// Float returns a numeric value as float64. ok is false when the name is
// missing or the value is not a number.
func (g Genome) Float(name string) (v float64, ok bool) {
	return toFloat(g[name])
}

// Int returns an integral value as int64. ok is false when the name is
// missing, the value is not a number, or it has a fractional part or does not
// fit in an int64.
func (g Genome) Int(name string) (v int64, ok bool) {
	return toInt(g[name])
}

// String returns a string value (categorical, text, code). ok is false when
// the name is missing or the value is not a string.
func (g Genome) String(name string) (v string, ok bool) {
	v, ok = g[name].(string)
	return v, ok
}

// Bool returns a boolean value. ok is false when the name is missing or the
// value is not a boolean.
func (g Genome) Bool(name string) (v bool, ok bool) {
	v, ok = g[name].(bool)
	return v, ok
}

// Sequence returns a sequence value as a new []string. ok is false when the
// name is missing or the value is not a list of strings.
func (g Genome) Sequence(name string) (v []string, ok bool) {
	switch s := g[name].(type) {
	case []string:
		return slices.Clone(s), true
	case []any:
		out := make([]string, len(s))
		for i, e := range s {
			str, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = str
		}
		return out, true
	}
	return nil, false
}

// Clone returns a copy of the genome; sequence values are copied too.
func (g Genome) Clone() Genome {
	if g == nil {
		return nil
	}
	out := make(Genome, len(g))
	for k, v := range g {
		switch s := v.(type) {
		case []string:
			v = slices.Clone(s)
		case []any:
			v = slices.Clone(s)
		}
		out[k] = v
	}
	return out
}

// Validate checks that the genome is a point of space: every parameter is
// present with a value of its type inside its bounds, and there is no other
// key.
func (g Genome) Validate(space SearchSpace) error {
	for _, p := range space.Parameters {
		if _, ok := g[p.Name]; !ok {
			return fmt.Errorf("genome lacks parameter %q", p.Name)
		}
		if err := checkValue(p, g); err != nil {
			return fmt.Errorf("parameter %q: %w", p.Name, err)
		}
	}
	for k := range g {
		if _, ok := space.Lookup(k); !ok {
			return fmt.Errorf("genome has %q, which is not a parameter of the space", k)
		}
	}
	return nil
}

func checkValue(p Parameter, g Genome) error {
	switch p.Type() {
	case TypeFloat:
		v, ok := g.Float(p.Name)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%v is not a finite number", g[p.Name])
		}
		if v < p.Float.Min || v > p.Float.Max {
			return fmt.Errorf("%v is outside [%v, %v]", v, p.Float.Min, p.Float.Max)
		}
	case TypeInt:
		v, ok := g.Int(p.Name)
		if !ok {
			return fmt.Errorf("%v is not an integer", g[p.Name])
		}
		if v < p.Int.Min || v > p.Int.Max {
			return fmt.Errorf("%d is outside [%d, %d]", v, p.Int.Min, p.Int.Max)
		}
	case TypeCategorical:
		v, ok := g.String(p.Name)
		if !ok || !slices.Contains(p.Categorical.Choices, v) {
			return fmt.Errorf("%v is not one of %q", g[p.Name], p.Categorical.Choices)
		}
	case TypeBool:
		if _, ok := g.Bool(p.Name); !ok {
			return fmt.Errorf("%v is not a boolean", g[p.Name])
		}
	case TypeSequence:
		v, ok := g.Sequence(p.Name)
		if !ok {
			return fmt.Errorf("%v is not a list of strings", g[p.Name])
		}
		if len(v) < p.Sequence.MinLength || len(v) > p.Sequence.MaxLength {
			return fmt.Errorf("length %d is outside [%d, %d]", len(v), p.Sequence.MinLength, p.Sequence.MaxLength)
		}
		for _, e := range v {
			if !slices.Contains(p.Sequence.Choices, e) {
				return fmt.Errorf("element %q is not one of %q", e, p.Sequence.Choices)
			}
		}
	case TypeText, TypeCode:
		v, ok := g.String(p.Name)
		if !ok {
			return fmt.Errorf("%v is not a string", g[p.Name])
		}
		limit := 0
		if p.Text != nil {
			limit = p.Text.MaxLength
		} else {
			limit = p.Code.MaxLength
		}
		if n := utf8.RuneCountInString(v); limit > 0 && n > limit {
			return fmt.Errorf("%d characters exceed maxLength %d", n, limit)
		}
	default:
		return p.Validate()
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return 0, false
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
	}
	f, ok := toFloat(v)
	// -2^63 is exactly representable; 2^63 is not an int64.
	if !ok || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}
