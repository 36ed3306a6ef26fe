package solver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Genome is the design of the solver: which construction heuristic builds
// the first tour, which local-search steps improve it, and how the iterated
// local search perturbs and accepts tours. Its JSON form is the genome the
// evolution engine proposes (see Space); absent keys take DefaultGenome's
// values.
type Genome struct {
	// Construction is the heuristic that builds the first tour:
	// nearest_neighbor, greedy_edge, farthest_insertion or space_filling_curve.
	Construction string `json:"construction"`
	// Improvements are the local-search steps (2opt, oropt, 3opt, swap),
	// each run to a local optimum in this order, the sequence repeated until
	// no step improves.
	Improvements []string `json:"improvements"`
	// Neighbors is the size of each city's candidate list (its nearest
	// cities), which drives every local-search step.
	Neighbors int `json:"neighbors"`
	// Perturbation kicks the tour between local searches: double_bridge,
	// segment_reversal, random_restarts or none.
	Perturbation string `json:"perturbation"`
	// PerturbationStrength sizes the kick (see README.md).
	PerturbationStrength int `json:"perturbation_strength"`
	// Acceptance decides whether a perturbed and improved tour replaces the
	// current one: better (if not longer) or slightly_worse (Metropolis).
	Acceptance string `json:"acceptance"`
	// Temperature scales slightly_worse acceptance, in units of the current
	// tour's mean edge length.
	Temperature float64 `json:"temperature"`
	// MaxIterations is the number of perturbation + local-search rounds.
	MaxIterations int `json:"max_iterations"`
	// TimeBudgetMS stops the search after this many milliseconds of wall
	// time; 0 means no limit. Ignored in deterministic runs.
	TimeBudgetMS int `json:"time_budget_ms"`
}

// DefaultGenome returns the default design: a sane but mediocre solver
// (nearest neighbour, 2-opt, few small double-bridge kicks) that leaves
// evolution room to improve.
func DefaultGenome() Genome {
	return Genome{
		Construction:         "nearest_neighbor",
		Improvements:         []string{"2opt"},
		Neighbors:            8,
		Perturbation:         "double_bridge",
		PerturbationStrength: 10,
		Acceptance:           "better",
		Temperature:          0.1,
		MaxIterations:        20,
		TimeBudgetMS:         1000,
	}
}

// kind is the type of a genome parameter, as in the API's Parameter.
type kind int

const (
	kindFloat kind = iota
	kindInt
	kindCategorical
	kindSequence
)

// param describes one gene: its domain (for Space and validation) and how
// to read and write it in a Genome.
type param struct {
	name, desc     string
	kind           kind
	min, max       float64 // float and int
	log            bool
	choices        []string // categorical and sequence
	minLen, maxLen int      // sequence
	get            func(*Genome) any
	set            func(*Genome, any)
}

// Choices of the categorical and sequence genes.
const (
	ConstructionNearestNeighbor   = "nearest_neighbor"
	ConstructionGreedyEdge        = "greedy_edge"
	ConstructionFarthestInsertion = "farthest_insertion"
	ConstructionSpaceFillingCurve = "space_filling_curve"

	Step2Opt  = "2opt"
	StepOrOpt = "oropt"
	Step3Opt  = "3opt"
	StepSwap  = "swap"

	PerturbDoubleBridge    = "double_bridge"
	PerturbSegmentReversal = "segment_reversal"
	PerturbRandomRestarts  = "random_restarts"
	PerturbNone            = "none"

	AcceptBetter        = "better"
	AcceptSlightlyWorse = "slightly_worse"
)

// params returns the genes in the order of Space.
func params() []param {
	return []param{
		{name: "construction", kind: kindCategorical,
			desc:    "heuristic that builds the first tour",
			choices: []string{ConstructionNearestNeighbor, ConstructionGreedyEdge, ConstructionFarthestInsertion, ConstructionSpaceFillingCurve},
			get:     func(g *Genome) any { return g.Construction },
			set:     func(g *Genome, v any) { g.Construction = v.(string) }},
		{name: "improvements", kind: kindSequence,
			desc:    "local-search steps, each run to a local optimum in order, repeated until none improves",
			choices: []string{Step2Opt, StepOrOpt, Step3Opt, StepSwap}, minLen: 1, maxLen: 6,
			get: func(g *Genome) any { return slices.Clone(g.Improvements) },
			set: func(g *Genome, v any) { g.Improvements = v.([]string) }},
		{name: "neighbors", kind: kindInt, min: 4, max: 20,
			desc: "candidate-list size (nearest cities) for the local search",
			get:  func(g *Genome) any { return g.Neighbors },
			set:  func(g *Genome, v any) { g.Neighbors = v.(int) }},
		{name: "perturbation", kind: kindCategorical,
			desc:    "kick applied between local searches",
			choices: []string{PerturbDoubleBridge, PerturbSegmentReversal, PerturbRandomRestarts, PerturbNone},
			get:     func(g *Genome) any { return g.Perturbation },
			set:     func(g *Genome, v any) { g.Perturbation = v.(string) }},
		{name: "perturbation_strength", kind: kindInt, min: 1, max: 50,
			desc: "size of a kick (segment length bound / number of reversals)",
			get:  func(g *Genome) any { return g.PerturbationStrength },
			set:  func(g *Genome, v any) { g.PerturbationStrength = v.(int) }},
		{name: "acceptance", kind: kindCategorical,
			desc:    "which tours the iterated local search continues from",
			choices: []string{AcceptBetter, AcceptSlightlyWorse},
			get:     func(g *Genome) any { return g.Acceptance },
			set:     func(g *Genome, v any) { g.Acceptance = v.(string) }},
		{name: "temperature", kind: kindFloat, min: 0.001, max: 10, log: true,
			desc: "slightly_worse acceptance temperature, in mean edge lengths",
			get:  func(g *Genome) any { return g.Temperature },
			set:  func(g *Genome, v any) { g.Temperature = v.(float64) }},
		{name: "max_iterations", kind: kindInt, min: 0, max: 20000,
			desc: "perturbation + local-search rounds",
			get:  func(g *Genome) any { return g.MaxIterations },
			set:  func(g *Genome, v any) { g.MaxIterations = v.(int) }},
		{name: "time_budget_ms", kind: kindInt, min: 0, max: 60000,
			desc: "wall-time limit in milliseconds, 0 for none; ignored in deterministic runs",
			get:  func(g *Genome) any { return g.TimeBudgetMS },
			set:  func(g *Genome, v any) { g.TimeBudgetMS = v.(int) }},
	}
}

// ParseGenome decodes a genome from JSON. Absent keys keep DefaultGenome's
// values. A top-level object with a "genome" key holding an object (such as
// {"genome": {...}} or a candidate record printed by the engine) is
// unwrapped first; its other keys are then ignored. Unknown keys, values of
// the wrong type and values outside the gene's domain are errors that name
// the key.
func ParseGenome(data []byte) (Genome, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return Genome{}, fmt.Errorf("genome: %w", err)
	}
	if inner, ok := obj["genome"]; ok {
		for k := range obj {
			if k != "genome" && paramByName(k) != nil {
				return Genome{}, fmt.Errorf("genome: key %q is beside a \"genome\" wrapper; put it inside", k)
			}
		}
		if obj, err = decodeObject(inner); err != nil {
			return Genome{}, fmt.Errorf("genome: \"genome\" wrapper: %w", err)
		}
	}
	g := DefaultGenome()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error for the same input
	for _, k := range keys {
		p := paramByName(k)
		if p == nil {
			return Genome{}, fmt.Errorf("genome: unknown key %q (known: %s)", k, strings.Join(paramNames(), ", "))
		}
		v, err := p.decode(obj[k])
		if err != nil {
			return Genome{}, fmt.Errorf("genome: key %q: %w", k, err)
		}
		p.set(&g, v)
	}
	return g, nil
}

// decodeObject decodes a JSON object into its raw members.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("want a JSON object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return obj, nil
}

// Validate reports whether every gene of g is inside its domain; the error
// names the key.
func (g Genome) Validate() error {
	for _, p := range params() {
		if err := p.check(p.get(&g)); err != nil {
			return fmt.Errorf("genome: key %q: %w", p.name, err)
		}
	}
	return nil
}

// Map returns g as the engine's genome representation: parameter name to
// value, with numbers as float64 and sequences as []any, as encoding/json
// decodes them.
func (g Genome) Map() map[string]any {
	m := map[string]any{}
	for _, p := range params() {
		switch v := p.get(&g).(type) {
		case int:
			m[p.name] = float64(v)
		case []string:
			xs := make([]any, len(v))
			for i, s := range v {
				xs[i] = s
			}
			m[p.name] = xs
		default:
			m[p.name] = v
		}
	}
	return m
}

func paramByName(name string) *param {
	for _, p := range params() {
		if p.name == name {
			return &p
		}
	}
	return nil
}

func paramNames() []string {
	var names []string
	for _, p := range params() {
		names = append(names, p.name)
	}
	return names
}

// decode parses one raw JSON value into the Go type of the gene (float64,
// int, string or []string) and checks its domain.
func (p *param) decode(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("invalid JSON value %s: %w", raw, err)
	}
	var v any
	switch p.kind {
	case kindFloat, kindInt:
		num, ok := x.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number, got %s", raw)
		}
		f, err := num.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want a finite number, got %s", raw)
		}
		v = f
		if p.kind == kindInt {
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, fmt.Errorf("want an integer, got %s", raw)
			}
			v = int(f)
		}
	case kindCategorical:
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("want a string (one of %s), got %s", strings.Join(p.choices, ", "), raw)
		}
		v = s
	case kindSequence:
		list, ok := x.([]any)
		if !ok {
			return nil, fmt.Errorf("want a list of strings (each one of %s), got %s", strings.Join(p.choices, ", "), raw)
		}
		xs := make([]string, len(list))
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("step %d: want a string (one of %s), got %v", i, strings.Join(p.choices, ", "), e)
			}
			xs[i] = s
		}
		v = xs
	}
	if err := p.check(v); err != nil {
		return nil, err
	}
	return v, nil
}

// check reports whether v (of the gene's Go type) is in the gene's domain.
func (p *param) check(v any) error {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || x < p.min || x > p.max {
			return fmt.Errorf("%g is outside [%g, %g]", x, p.min, p.max)
		}
	case int:
		if float64(x) < p.min || float64(x) > p.max {
			return fmt.Errorf("%d is outside [%g, %g]", x, p.min, p.max)
		}
	case string:
		if !slices.Contains(p.choices, x) {
			return fmt.Errorf("%q is not one of %s", x, strings.Join(p.choices, ", "))
		}
	case []string:
		if len(x) < p.minLen || len(x) > p.maxLen {
			return fmt.Errorf("%d steps is outside [%d, %d]", len(x), p.minLen, p.maxLen)
		}
		for i, s := range x {
			if !slices.Contains(p.choices, s) {
				return fmt.Errorf("step %d: %q is not one of %s", i, s, strings.Join(p.choices, ", "))
			}
		}
	}
	return nil
}
