package evo

import (
	"fmt"
	"math"
	"slices"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Goal is the objective a strategy optimises: a score's name and its
// direction. Strategies of this module optimise one objective; with several,
// the first (or the one the config names) counts.
type Goal struct {
	// Name is the key of Result.Scores; "" takes the result's only score
	// (the alphabetically first one when there are several).
	Name string `json:"name"`
	// Minimize says lower is better.
	Minimize bool `json:"minimize,omitempty"`
}

// NewGoal picks the objective called name from objectives, or the first
// objective when name is "". A name that is not among non-empty objectives is
// an error; with no objectives the goal is name, maximised. MINIMIZE means
// lower is better; MAXIMIZE and an unspecified direction mean higher is
// better.
func NewGoal(objectives []sdk.Objective, name string) (Goal, error) {
	if len(objectives) == 0 {
		return Goal{Name: name}, nil
	}
	i := 0
	if name != "" {
		i = slices.IndexFunc(objectives, func(o sdk.Objective) bool { return o.Name == name })
		if i < 0 {
			return Goal{}, fmt.Errorf("objective %q is not one of the run's objectives", name)
		}
	}
	o := objectives[i]
	return Goal{Name: o.Name, Minimize: o.Direction == sdk.Minimize}, nil
}

// pick returns the goal's value in scores.
func (g Goal) pick(scores map[string]float64) (float64, bool) {
	if g.Name != "" {
		v, ok := scores[g.Name]
		return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	if len(scores) == 0 {
		return 0, false
	}
	keys := make([]string, 0, len(scores))
	for k := range scores {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	v := scores[keys[0]]
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

// Score returns the result's raw score for the goal; ok is false when the
// evaluation failed or the score is missing or not finite.
func (g Goal) Score(r sdk.Result) (v float64, ok bool) {
	if r.Failed {
		return 0, false
	}
	return g.pick(r.Scores)
}

// Utility turns a raw score into one where higher is better (the score
// negated when minimising).
func (g Goal) Utility(raw float64) float64 {
	if g.Minimize {
		return -raw
	}
	return raw
}

// Better reports whether raw score a is strictly better than b.
func (g Goal) Better(a, b float64) bool { return g.Utility(a) > g.Utility(b) }

// TaskOutcome is one task's result for the goal.
type TaskOutcome struct {
	// Task is the task's name.
	Task string `json:"task"`
	// Score is the raw score, when Scored.
	Score float64 `json:"score"`
	// Scored says the task has a finite score for the goal.
	Scored bool `json:"scored"`
	// Failed says the task failed.
	Failed bool `json:"failed,omitempty"`
}

// Tasks returns the per-task outcomes of a result for the goal, in the
// result's order; nil when the result has no tasks.
func (g Goal) Tasks(r sdk.Result) []TaskOutcome {
	if len(r.Tasks) == 0 {
		return nil
	}
	out := make([]TaskOutcome, len(r.Tasks))
	for i, t := range r.Tasks {
		v, ok := g.pick(t.Scores)
		out[i] = TaskOutcome{Task: t.Task, Score: v, Scored: ok, Failed: t.Failed}
	}
	return out
}
