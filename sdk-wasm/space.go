package sdk

import (
	"errors"
	"fmt"
	"math"
)

// Type returns which type the parameter has (TypeFloat, TypeInt, ...), or ""
// when none or more than one of the type fields is set.
func (p Parameter) Type() string {
	var t string
	n := 0
	set := func(ok bool, name string) {
		if ok {
			n++
			t = name
		}
	}
	set(p.Float != nil, TypeFloat)
	set(p.Int != nil, TypeInt)
	set(p.Categorical != nil, TypeCategorical)
	set(p.Bool != nil, TypeBool)
	set(p.Sequence != nil, TypeSequence)
	set(p.Text != nil, TypeText)
	set(p.Code != nil, TypeCode)
	if n != 1 {
		return ""
	}
	return t
}

// Validate checks the parameter's own settings: a name, exactly one type,
// finite ordered bounds (a positive minimum for a log scale), non-empty
// choices, ordered non-negative lengths.
func (p Parameter) Validate() error {
	if p.Name == "" {
		return errors.New("parameter has no name")
	}
	switch p.Type() {
	case TypeFloat:
		f := p.Float
		if math.IsNaN(f.Min) || math.IsInf(f.Min, 0) || math.IsNaN(f.Max) || math.IsInf(f.Max, 0) {
			return fmt.Errorf("parameter %q: float bounds must be finite", p.Name)
		}
		if f.Min > f.Max {
			return fmt.Errorf("parameter %q: float min %v is above max %v", p.Name, f.Min, f.Max)
		}
		if f.Log && f.Min <= 0 {
			return fmt.Errorf("parameter %q: a log-scale float needs min > 0, got %v", p.Name, f.Min)
		}
	case TypeInt:
		if p.Int.Min > p.Int.Max {
			return fmt.Errorf("parameter %q: int min %d is above max %d", p.Name, p.Int.Min, p.Int.Max)
		}
	case TypeCategorical:
		if len(p.Categorical.Choices) == 0 {
			return fmt.Errorf("parameter %q: categorical needs at least one choice", p.Name)
		}
	case TypeBool:
	case TypeSequence:
		s := p.Sequence
		if s.MinLength < 0 || s.MaxLength < s.MinLength {
			return fmt.Errorf("parameter %q: sequence lengths must satisfy 0 <= minLength <= maxLength, got %d and %d",
				p.Name, s.MinLength, s.MaxLength)
		}
		if s.MaxLength > 0 && len(s.Choices) == 0 {
			return fmt.Errorf("parameter %q: sequence needs at least one choice", p.Name)
		}
	case TypeText:
		if p.Text.MaxLength < 0 {
			return fmt.Errorf("parameter %q: text maxLength is negative", p.Name)
		}
	case TypeCode:
		if p.Code.MaxLength < 0 {
			return fmt.Errorf("parameter %q: code maxLength is negative", p.Name)
		}
	default:
		return fmt.Errorf("parameter %q must have exactly one type (float, int, categorical, bool, sequence, text or code)", p.Name)
	}
	return nil
}

// Validate checks every parameter and that names are unique.
func (s SearchSpace) Validate() error {
	seen := make(map[string]bool, len(s.Parameters))
	for i, p := range s.Parameters {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("parameters[%d]: %w", i, err)
		}
		if seen[p.Name] {
			return fmt.Errorf("parameters[%d]: duplicate name %q", i, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Lookup returns the parameter called name.
func (s SearchSpace) Lookup(name string) (Parameter, bool) {
	for _, p := range s.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}
