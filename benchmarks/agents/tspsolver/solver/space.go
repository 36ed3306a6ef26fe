package solver

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Space returns the solver's search space as the API's SearchSpace in
// protojson form (stratoswarm.v1alpha1.SearchSpace; int64 bounds are JSON
// strings as protojson writes them), one parameter per Genome field.
func Space() []byte {
	type floatRange struct {
		Min float64 `json:"min"`
		Max float64 `json:"max"`
		Log bool    `json:"log,omitempty"`
	}
	type intRange struct {
		Min string `json:"min"`
		Max string `json:"max"`
	}
	type choices struct {
		Choices []string `json:"choices"`
	}
	type steps struct {
		Choices   []string `json:"choices"`
		MinLength int      `json:"minLength"`
		MaxLength int      `json:"maxLength"`
	}
	type parameter struct {
		Name        string      `json:"name"`
		Description string      `json:"description,omitempty"`
		Float       *floatRange `json:"float,omitempty"`
		Int         *intRange   `json:"int,omitempty"`
		Categorical *choices    `json:"categorical,omitempty"`
		Sequence    *steps      `json:"sequence,omitempty"`
	}
	var out struct {
		Parameters []parameter `json:"parameters"`
	}
	for _, p := range params() {
		q := parameter{Name: p.name, Description: p.desc}
		switch p.kind {
		case kindFloat:
			q.Float = &floatRange{Min: p.min, Max: p.max, Log: p.log}
		case kindInt:
			q.Int = &intRange{Min: strconv.FormatInt(int64(p.min), 10), Max: strconv.FormatInt(int64(p.max), 10)}
		case kindCategorical:
			q.Categorical = &choices{Choices: p.choices}
		case kindSequence:
			q.Sequence = &steps{Choices: p.choices, MinLength: p.minLen, MaxLength: p.maxLen}
		}
		out.Parameters = append(out.Parameters, q)
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Only plain strings, numbers and slices are marshalled.
		panic(fmt.Sprintf("solver: marshalling the search space: %v", err))
	}
	return b
}
