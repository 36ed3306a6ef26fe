// Package space checks search spaces and the genomes proposed in them.
// Errors name the parameter and say what is allowed.
package space

import (
	"errors"
	"fmt"
	"math"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// Genome is a genome as JSON decodes it: parameter name to value.
type Genome = map[string]any

// Check validates a search space.
func Check(s *v1.SearchSpace) error {
	if s == nil || len(s.GetParameters()) == 0 {
		return errors.New("search space has no parameters")
	}
	seen := map[string]bool{}
	for i, p := range s.GetParameters() {
		name := p.GetName()
		if name == "" {
			return fmt.Errorf("parameter %d: name is required", i)
		}
		if seen[name] {
			return fmt.Errorf("parameter %q appears twice", name)
		}
		seen[name] = true
		if err := checkParam(p); err != nil {
			return fmt.Errorf("parameter %q: %w", name, err)
		}
	}
	return nil
}

func checkParam(p *v1.Parameter) error {
	switch t := p.GetType().(type) {
	case *v1.Parameter_Float:
		f := t.Float
		if math.IsNaN(f.GetMin()) || math.IsNaN(f.GetMax()) || math.IsInf(f.GetMin(), 0) || math.IsInf(f.GetMax(), 0) {
			return errors.New("float bounds must be finite")
		}
		if f.GetMin() >= f.GetMax() {
			return fmt.Errorf("float min %g must be below max %g", f.GetMin(), f.GetMax())
		}
		if f.GetLog() && f.GetMin() <= 0 {
			return fmt.Errorf("a log-scale float needs min > 0, got %g", f.GetMin())
		}
	case *v1.Parameter_Int:
		if t.Int.GetMin() > t.Int.GetMax() {
			return fmt.Errorf("int min %d is above max %d", t.Int.GetMin(), t.Int.GetMax())
		}
	case *v1.Parameter_Categorical:
		if err := checkChoices(t.Categorical.GetChoices()); err != nil {
			return err
		}
	case *v1.Parameter_Bool:
	case *v1.Parameter_Sequence:
		q := t.Sequence
		if err := checkChoices(q.GetChoices()); err != nil {
			return err
		}
		if q.GetMinLength() < 0 || q.GetMaxLength() < q.GetMinLength() || q.GetMaxLength() == 0 {
			return fmt.Errorf("sequence lengths must satisfy 0 <= min_length <= max_length, max_length > 0; got %d..%d", q.GetMinLength(), q.GetMaxLength())
		}
	case *v1.Parameter_Text:
		if t.Text.GetMaxLength() < 0 {
			return errors.New("text max_length must not be negative")
		}
	case *v1.Parameter_Code:
		if t.Code.GetMaxLength() < 0 {
			return errors.New("code max_length must not be negative")
		}
	default:
		return errors.New("no type: set one of float, int, categorical, bool, sequence, text, code")
	}
	return nil
}

func checkChoices(c []string) error {
	if len(c) == 0 {
		return errors.New("needs at least one choice")
	}
	seen := map[string]bool{}
	for _, x := range c {
		if seen[x] {
			return fmt.Errorf("choice %q appears twice", x)
		}
		seen[x] = true
	}
	return nil
}

// CheckGenome reports whether g gives every parameter of s a value inside
// its domain, and nothing else.
func CheckGenome(s *v1.SearchSpace, g Genome) error {
	params := map[string]*v1.Parameter{}
	for _, p := range s.GetParameters() {
		params[p.GetName()] = p
		v, ok := g[p.GetName()]
		if !ok {
			return fmt.Errorf("parameter %q has no value", p.GetName())
		}
		if err := checkValue(p, v); err != nil {
			return fmt.Errorf("parameter %q: %w", p.GetName(), err)
		}
	}
	for name := range g {
		if params[name] == nil {
			return fmt.Errorf("parameter %q is not in the search space", name)
		}
	}
	return nil
}

func checkValue(p *v1.Parameter, v any) error {
	switch t := p.GetType().(type) {
	case *v1.Parameter_Float:
		x, ok := v.(float64)
		if !ok || math.IsNaN(x) {
			return fmt.Errorf("want a number, got %v", v)
		}
		if x < t.Float.GetMin() || x > t.Float.GetMax() {
			return fmt.Errorf("%g is outside [%g, %g]", x, t.Float.GetMin(), t.Float.GetMax())
		}
	case *v1.Parameter_Int:
		x, ok := v.(float64)
		if !ok || x != math.Trunc(x) {
			return fmt.Errorf("want an integer, got %v", v)
		}
		if int64(x) < t.Int.GetMin() || int64(x) > t.Int.GetMax() {
			return fmt.Errorf("%d is outside [%d, %d]", int64(x), t.Int.GetMin(), t.Int.GetMax())
		}
	case *v1.Parameter_Categorical:
		x, ok := v.(string)
		if !ok || !member(t.Categorical.GetChoices(), x) {
			return fmt.Errorf("%v is not one of %v", v, t.Categorical.GetChoices())
		}
	case *v1.Parameter_Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want true or false, got %v", v)
		}
	case *v1.Parameter_Sequence:
		xs, ok := v.([]any)
		if !ok {
			return fmt.Errorf("want a list of choices, got %v", v)
		}
		q := t.Sequence
		if len(xs) < int(q.GetMinLength()) || len(xs) > int(q.GetMaxLength()) {
			return fmt.Errorf("length %d is outside [%d, %d]", len(xs), q.GetMinLength(), q.GetMaxLength())
		}
		for i, x := range xs {
			s, ok := x.(string)
			if !ok || !member(q.GetChoices(), s) {
				return fmt.Errorf("step %d: %v is not one of %v", i, x, q.GetChoices())
			}
		}
	case *v1.Parameter_Text:
		return checkText(v, t.Text.GetMaxLength())
	case *v1.Parameter_Code:
		return checkText(v, t.Code.GetMaxLength())
	}
	return nil
}

func checkText(v any, max int32) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want a string, got %v", v)
	}
	if max > 0 && len(s) > int(max) {
		return fmt.Errorf("%d characters is over the limit of %d", len(s), max)
	}
	return nil
}

func member(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
