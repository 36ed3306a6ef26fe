package sdk

import (
	"encoding/json"
	"fmt"
	"time"
)

// The types of this file are the schemas of ABI.md §3, version 1. Their JSON
// is lowerCamel like protojson. Requests decode leniently (see json.go); every
// type encodes to the ABI.md form.

// SearchSpace is the typed parameters of a genome, the JSON of the API's
// SearchSpace message.
type SearchSpace struct {
	// Parameters are the genes, each with a unique name.
	Parameters []Parameter `json:"parameters"`
}

// MarshalJSON writes an empty list rather than null for a space without
// parameters.
func (s SearchSpace) MarshalJSON() ([]byte, error) {
	type plain SearchSpace
	if s.Parameters == nil {
		s.Parameters = []Parameter{}
	}
	return json.Marshal(plain(s))
}

// Parameter is one gene. Exactly one of the type fields (Float, Int,
// Categorical, Bool, Sequence, Text, Code) is set.
type Parameter struct {
	// Name is the gene's key in a Genome.
	Name string `json:"name"`
	// Description is free text for people.
	Description string `json:"description,omitempty"`

	// Float is a real number in [Min, Max].
	Float *FloatParam `json:"float,omitempty"`
	// Int is an integer in [Min, Max].
	Int *IntParam `json:"int,omitempty"`
	// Categorical is one of a list of strings.
	Categorical *CategoricalParam `json:"categorical,omitempty"`
	// Bool is true or false.
	Bool *BoolParam `json:"bool,omitempty"`
	// Sequence is an ordered list of choices.
	Sequence *SequenceParam `json:"sequence,omitempty"`
	// Text is free text, opaque to the engine.
	Text *TextParam `json:"text,omitempty"`
	// Code is source text in a language, opaque to the engine.
	Code *CodeParam `json:"code,omitempty"`
}

// Parameter types, as returned by Parameter.Type.
const (
	TypeFloat       = "float"
	TypeInt         = "int"
	TypeCategorical = "categorical"
	TypeBool        = "bool"
	TypeSequence    = "sequence"
	TypeText        = "text"
	TypeCode        = "code"
)

// FloatParam is a real number in [Min, Max], searched on a log scale if Log
// (then Min must be positive).
type FloatParam struct {
	// Min is the smallest allowed value.
	Min float64 `json:"min"`
	// Max is the largest allowed value.
	Max float64 `json:"max"`
	// Log asks for a log-uniform search.
	Log bool `json:"log,omitempty"`
}

// UnmarshalJSON accepts numbers or numeric strings.
func (p *FloatParam) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.float64("min", &p.Min)
	d.float64("max", &p.Max)
	d.plain("log", &p.Log)
	return d.err
}

// IntParam is an integer in [Min, Max].
type IntParam struct {
	// Min is the smallest allowed value.
	Min int64 `json:"min"`
	// Max is the largest allowed value.
	Max int64 `json:"max"`
}

// UnmarshalJSON accepts numbers or, as protojson writes int64, strings.
func (p *IntParam) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int64("min", &p.Min)
	d.int64("max", &p.Max)
	return d.err
}

// CategoricalParam is one of Choices.
type CategoricalParam struct {
	// Choices are the allowed values; at least one.
	Choices []string `json:"choices"`
}

// BoolParam is true or false; it has no settings.
type BoolParam struct{}

// SequenceParam is an ordered list of MinLength to MaxLength elements, each
// one of Choices (repeats allowed), for example the steps of a workflow.
type SequenceParam struct {
	// Choices are the allowed elements.
	Choices []string `json:"choices"`
	// MinLength is the fewest elements.
	MinLength int `json:"minLength"`
	// MaxLength is the most elements.
	MaxLength int `json:"maxLength"`
}

// UnmarshalJSON accepts lowerCamel and proto (snake_case) field names.
func (p *SequenceParam) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.plain("choices", &p.Choices)
	d.int("minLength", &p.MinLength)
	d.int("maxLength", &p.MaxLength)
	return d.err
}

// TextParam is free text, opaque to the engine (prompts).
type TextParam struct {
	// MaxLength bounds the text in characters (Unicode code points); 0 means
	// no bound.
	MaxLength int `json:"maxLength,omitempty"`
}

// UnmarshalJSON accepts lowerCamel and proto (snake_case) field names.
func (p *TextParam) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("maxLength", &p.MaxLength)
	return d.err
}

// CodeParam is source text in Language, opaque to the engine.
type CodeParam struct {
	// Language names the language, e.g. "python".
	Language string `json:"language,omitempty"`
	// MaxLength bounds the code in characters (Unicode code points); 0 means
	// no bound.
	MaxLength int `json:"maxLength,omitempty"`
}

// UnmarshalJSON accepts lowerCamel and proto (snake_case) field names.
func (p *CodeParam) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.plain("language", &p.Language)
	d.int("maxLength", &p.MaxLength)
	return d.err
}

// Direction says which way an objective is better.
type Direction string

// The directions of an objective, as protojson names them.
const (
	Minimize             Direction = "MINIMIZE"
	Maximize             Direction = "MAXIMIZE"
	DirectionUnspecified Direction = "DIRECTION_UNSPECIFIED"
)

// UnmarshalJSON accepts the enum name or, as protojson may write it, the enum
// number.
func (d *Direction) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*d = Direction(s)
		return nil
	}
	n, err := decodeInt64(data)
	if err != nil {
		return fmt.Errorf("direction: %s is neither a name nor a number", data)
	}
	switch n {
	case 0:
		*d = DirectionUnspecified
	case 1:
		*d = Minimize
	case 2:
		*d = Maximize
	default:
		return fmt.Errorf("direction: unknown value %d", n)
	}
	return nil
}

// Objective is a score to optimise: the key of Result.Scores and the way it is
// better.
type Objective struct {
	// Name is the score's key.
	Name string `json:"name"`
	// Direction is Minimize or Maximize.
	Direction Direction `json:"direction"`
}

// InitRequest starts a strategy (operation swarm_strategy_init).
type InitRequest struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// Space is the search space of the run.
	Space SearchSpace `json:"space"`
	// Objectives are the scores the run optimises.
	Objectives []Objective `json:"objectives"`
	// Seed is the run's seed; the same seed must give the same proposals.
	Seed uint64 `json:"seed"`
	// Config is the strategy-specific configuration from the evolution's
	// plugin reference; empty when none was given.
	Config json.RawMessage `json:"config,omitempty"`
}

// UnmarshalJSON accepts the seed as a number or, as protojson writes uint64,
// a string.
func (r *InitRequest) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("version", &r.Version)
	d.plain("space", &r.Space)
	d.plain("objectives", &r.Objectives)
	d.uint64("seed", &r.Seed)
	d.raw("config", &r.Config)
	return d.err
}

// ProposeRequest asks for up to N candidates (operation
// swarm_strategy_propose).
type ProposeRequest struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// N is how many candidates to propose; positive.
	N int `json:"n"`
	// MutationBias, when present, is the personality's mutation bias in
	// [0, 1] (ABI.md §3): how far this batch should stray from what the
	// strategy would propose on its own, 0.5 being neutral. A strategy that
	// implements MutationBiaser gets it before Propose; StepScale turns it
	// into a factor for step sizes. Absent (nil) means 0.5.
	MutationBias *float64 `json:"mutationBias,omitempty"`
}

// UnmarshalJSON accepts numbers or numeric strings, and mutation_bias
// beside mutationBias.
func (r *ProposeRequest) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("version", &r.Version)
	d.int("n", &r.N)
	r.MutationBias = nil
	if !isNull(d.fields[normKey("mutationBias")]) {
		var b float64
		d.float64("mutationBias", &b)
		r.MutationBias = &b
	}
	return d.err
}

// NeutralMutationBias is the mutation bias that changes nothing: a propose
// request without mutationBias means it.
const NeutralMutationBias = 0.5

// StepScale is the factor a strategy multiplies its mutation or sampling
// step sizes by under a mutation bias: 0.5 + bias, so the neutral 0.5
// keeps the strategy's own steps, 0 halves them and 1 makes them half as
// large again. The built-in strategies use it.
func StepScale(bias float64) float64 { return 0.5 + bias }

// MutationBiaser is a Strategy that follows the host's mutation bias. The
// SDK calls SetMutationBias before every Propose with the request's
// mutationBias, or NeutralMutationBias when the request has none, so a
// strategy needs no state for it (and none in its snapshot). A Strategy
// that does not implement it proposes as ever.
type MutationBiaser interface {
	SetMutationBias(bias float64)
}

// Candidate is one proposed genome.
type Candidate struct {
	// ID names the candidate, unique within a run; chosen by the strategy.
	ID string `json:"id"`
	// Genome is the proposed parameter values.
	Genome Genome `json:"genome"`
	// Parents are the ids of the candidates it was derived from.
	Parents []string `json:"parents,omitempty"`
	// Operator names how it was made, e.g. "random", "mutate", "crossover".
	Operator string `json:"operator,omitempty"`
}

// ProposeResult is the answer to a ProposeRequest.
type ProposeResult struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// Candidates are the proposals, at most N.
	Candidates []Candidate `json:"candidates"`
}

// ObserveRequest reports evaluated candidates (operation
// swarm_strategy_observe).
type ObserveRequest struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// Results are the evaluations, one per candidate.
	Results []Result `json:"results"`
}

// UnmarshalJSON accepts lowerCamel and proto field names.
func (r *ObserveRequest) UnmarshalJSON(data []byte) error {
	// Fast path: the host writes plain numbers, so one struct decode does
	// it; the field decoder (numeric strings) is the fallback. Decoding is
	// most of an observe call's cost in Wasm.
	var fast struct {
		Version int          `json:"version"`
		Results []fastResult `json:"results"`
	}
	if err := json.Unmarshal(data, &fast); err == nil {
		r.Version = fast.Version
		r.Results = make([]Result, len(fast.Results))
		for i, x := range fast.Results {
			r.Results[i] = Result(x)
		}
		return nil
	}
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("version", &r.Version)
	d.plain("results", &r.Results)
	return d.err
}

// Result is the evaluation of one candidate.
type Result struct {
	// ID is the candidate's id.
	ID string `json:"id"`
	// Scores maps objective names to values.
	Scores map[string]float64 `json:"scores"`
	// Failed says the evaluation failed; Scores may then be empty.
	Failed bool `json:"failed"`
	// Reason says why it failed.
	Reason string `json:"reason"`
	// Tasks are the per-task outcomes behind Scores, when the suite has
	// tasks (ADAS bootstraps its fitness over them); may be empty.
	Tasks []TaskScore `json:"tasks,omitempty"`
	// Stage is the last evaluation stage the candidate reached ("" when
	// the evolution has no stages); Complete says it went through all of
	// them, so Scores cover every task.
	Stage    string `json:"stage,omitempty"`
	Complete bool   `json:"complete,omitempty"`
}

// fastResult is Result without its UnmarshalJSON, for the fast path.
type fastResult Result

// TaskScore is one task's outcome for one candidate.
type TaskScore struct {
	// Task is the task's name.
	Task string `json:"task"`
	// Scores maps objective names to this task's values.
	Scores map[string]float64 `json:"scores"`
	// Failed says the task failed for this candidate.
	Failed bool `json:"failed,omitempty"`
}

// UnmarshalJSON accepts scores as numbers or numeric strings.
func (r *Result) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.plain("id", &r.ID)
	var scores map[string]json.RawMessage
	d.plain("scores", &scores)
	if scores != nil {
		r.Scores = make(map[string]float64, len(scores))
		for k, v := range scores {
			f, err := decodeFloat64(v)
			if err != nil {
				d.fail("scores."+k, err)
				continue
			}
			r.Scores[k] = f
		}
	}
	d.plain("failed", &r.Failed)
	d.plain("reason", &r.Reason)
	d.plain("tasks", &r.Tasks)
	d.plain("stage", &r.Stage)
	d.plain("complete", &r.Complete)
	return d.err
}

// Snapshot is a strategy's state: the result of swarm_strategy_snapshot and
// the request of swarm_strategy_restore.
type Snapshot struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// State is any JSON the strategy chooses.
	State json.RawMessage `json:"state"`
}

// UnmarshalJSON accepts lowerCamel and proto field names.
func (s *Snapshot) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("version", &s.Version)
	if v, ok := d.fields["state"]; ok {
		s.State = append(json.RawMessage(nil), v...)
	}
	return d.err
}

// ScoreRequest asks a trust scorer for a score (operation swarm_trust_score).
type ScoreRequest struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// Now is the time to score at; evidence ages relative to it.
	Now time.Time `json:"now"`
	// Evidence is the evidence log.
	Evidence []Evidence `json:"evidence"`
	// Config is the scorer's configuration from its plugin reference. It is
	// an optional field that ABI.md does not list yet; empty when absent.
	Config json.RawMessage `json:"config,omitempty"`
}

// UnmarshalJSON accepts lowerCamel and proto field names.
func (r *ScoreRequest) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("version", &r.Version)
	d.plain("now", &r.Now)
	d.plain("evidence", &r.Evidence)
	d.raw("config", &r.Config)
	return d.err
}

// Evidence is one recorded fact for or against the subject.
type Evidence struct {
	// Time is when it happened.
	Time time.Time `json:"time"`
	// Kind is e.g. "task", "trap", "timeout", "benchmark", "canary".
	Kind string `json:"kind"`
	// Positive says it speaks for the subject.
	Positive bool `json:"positive"`
	// Weight is how much it counts.
	Weight float64 `json:"weight"`
	// Detail is free text.
	Detail string `json:"detail"`
}

// UnmarshalJSON accepts the weight as a number or a numeric string.
func (e *Evidence) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.plain("time", &e.Time)
	d.plain("kind", &e.Kind)
	d.plain("positive", &e.Positive)
	d.float64("weight", &e.Weight)
	d.plain("detail", &e.Detail)
	return d.err
}

// TrustScore is a trust scorer's answer. All three values are in [0, 1].
type TrustScore struct {
	// Version is the schema version, 1; the SDK sets it.
	Version int `json:"version"`
	// Score is the expected trustworthiness.
	Score float64 `json:"score"`
	// Uncertainty is how unsure the score is (1: no evidence).
	Uncertainty float64 `json:"uncertainty"`
	// LowerBound is a pessimistic score (e.g. the 5% quantile) used for ranking.
	LowerBound float64 `json:"lowerBound"`
}

// AdjustRequest asks a personality for an adjustment (operation
// swarm_personality_adjust).
type AdjustRequest struct {
	// Version is the schema version, 1.
	Version int `json:"version"`
	// Role is the agent's role, e.g. "solver".
	Role string `json:"role"`
	// Generation is the evolution's generation.
	Generation int `json:"generation"`
	// Trust is the agent's current trust score in [0, 1].
	Trust float64 `json:"trust"`
	// Config is the personality's configuration from its plugin reference.
	// It is an optional field that ABI.md does not list yet; empty when
	// absent.
	Config json.RawMessage `json:"config,omitempty"`
}

// UnmarshalJSON accepts lowerCamel and proto field names and numbers as
// strings.
func (r *AdjustRequest) UnmarshalJSON(data []byte) error {
	d, err := newFieldDecoder(data)
	if err != nil {
		return err
	}
	d.int("version", &r.Version)
	d.plain("role", &r.Role)
	d.int("generation", &r.Generation)
	d.float64("trust", &r.Trust)
	d.raw("config", &r.Config)
	return d.err
}

// Adjustment is a personality's answer. All three values are in [0, 1].
type Adjustment struct {
	// Version is the schema version, 1; the SDK sets it.
	Version int `json:"version"`
	// MutationBias leans the strategy towards exploration (1) or
	// exploitation (0).
	MutationBias float64 `json:"mutationBias"`
	// ResourceHeadroom is the share of resources to keep spare.
	ResourceHeadroom float64 `json:"resourceHeadroom"`
	// CanaryPace is how fast a canary's traffic share steps up (0: slowest).
	CanaryPace float64 `json:"canaryPace"`
}
