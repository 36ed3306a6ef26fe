// Package swarmagentic is the logic of the built-in strategy plugin
// "swarmagentic": SwarmAgentic's particle swarm over designs (Zhang et al.,
// arXiv 2506.15672; its code's pso.py), with genomes as particle positions.
//
// Each particle is a genome. Float and int genes move by standard PSO in
// normalised coordinates (inertia w, cognitive c1, social c2; Clerc's
// constants by default). Every other gene moves by a velocity that is a
// list of edits (evo.Edit), each tied to a flaw of the particle's last
// evaluation, built as in SwarmAgentic's update_velocity:
//
//   - failure-aware inertia: a previous edit whose flaw persisted is a
//     failed adjustment: it is dropped and remembered, and never proposed
//     again for that flaw; an edit whose flaw was fixed stays (with
//     probability w) and is re-applied if something undid it;
//   - new fixes: one random edit per current flaw (improve_failure);
//   - cognitive and social terms: the edits from the position to the
//     personal and to the global best (evo.Diff), each taken with
//     probability min(1, c1·r1) and min(1, c2·r2) (set-based PSO).
//
// With an LLM, the plan (a JSON list of {flaw, adjustment}) is asked of the
// LLM with the flaws, the failed adjustments and the two bests, and the
// initial particles are asked of it at temperatures 0.2..1.0. Personal and
// global bests are updated with >=. See the plugin's README.
package swarmagentic

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

// Config is the strategy's configuration (InitRequest.config); every key is
// optional. Unknown keys are an error.
type Config struct {
	// Particles is the swarm size; default 5.
	Particles int `json:"particles,omitempty"`
	// Temperatures are the particles' initial diversities in [0, 1] (the
	// paper's sampling temperatures; evo.Diversify); default evenly from
	// 0.2 to 1.0 (0.2, 0.4, 0.6, 0.8, 1.0 for five particles).
	Temperatures []float64 `json:"temperatures,omitempty"`
	// Initial is the genome the particles start around; default
	// evo.Default(space).
	Initial sdk.Genome `json:"initial,omitempty"`
	// W is PSO's inertia; default 0.7298 (Clerc's constriction).
	W *float64 `json:"w,omitempty"`
	// C1 is the cognitive coefficient; default 1.49618.
	C1 *float64 `json:"c1,omitempty"`
	// C2 is the social coefficient; default 1.49618.
	C2 *float64 `json:"c2,omitempty"`
	// MaxFlaws caps the flaws addressed per particle and iteration; default 3.
	MaxFlaws int `json:"max_flaws,omitempty"`
	// MutationStrength is the strength of the random fixes
	// (evo.Mutation); default 0.2.
	MutationStrength float64 `json:"mutation_strength,omitempty"`
	// FailedMemory caps the failed adjustments each particle remembers
	// (oldest forgotten first); default 256.
	FailedMemory int `json:"failed_memory,omitempty"`
	// Phrases is the phrase bank of text fixes; default
	// evo.DefaultPhrases().
	Phrases []string `json:"phrases,omitempty"`
	// Objective names the objective to optimise; default the first.
	Objective string `json:"objective,omitempty"`
	// LLM is "auto" (default: use an LLM when granted) or "off".
	LLM string `json:"llm,omitempty"`
	// Model, Temperature (default 0.001, the paper's update calls) and
	// MaxTokens (default 4096) are passed to the LLM.
	Model string `json:"model,omitempty"`
	// Temperature is the sampling temperature (see the default above).
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxTokens bounds each completion (see the default above).
	MaxTokens int `json:"max_tokens,omitempty"`
}

func ptr(x float64) *float64 { return &x }

func (c Config) withDefaults() (Config, error) {
	if c.Particles == 0 {
		c.Particles = 5
	}
	if c.Particles < 1 || c.Particles > 1000 {
		return c, fmt.Errorf("particles %d must be in [1, 1000]", c.Particles)
	}
	if c.Temperatures == nil {
		c.Temperatures = make([]float64, c.Particles)
		for i := range c.Temperatures {
			c.Temperatures[i] = 0.6
			if c.Particles > 1 {
				c.Temperatures[i] = math.Min(1, 0.2+0.8*float64(i)/float64(c.Particles-1))
			}
		}
	}
	if len(c.Temperatures) != c.Particles {
		return c, fmt.Errorf("temperatures has %d values for %d particles", len(c.Temperatures), c.Particles)
	}
	for _, t := range c.Temperatures {
		if !(t >= 0 && t <= 1) {
			return c, fmt.Errorf("temperature %v must be in [0, 1]", t)
		}
	}
	if c.W == nil {
		c.W = ptr(0.7298)
	}
	if c.C1 == nil {
		c.C1 = ptr(1.49618)
	}
	if c.C2 == nil {
		c.C2 = ptr(1.49618)
	}
	for i, v := range []float64{*c.W, *c.C1, *c.C2} {
		if !(v >= 0 && v <= 4) {
			return c, fmt.Errorf("%s %v must be in [0, 4]", []string{"w", "c1", "c2"}[i], v)
		}
	}
	if c.MaxFlaws == 0 {
		c.MaxFlaws = 3
	}
	if c.MaxFlaws < 1 {
		return c, fmt.Errorf("max_flaws %d must be positive", c.MaxFlaws)
	}
	if c.MutationStrength == 0 {
		c.MutationStrength = 0.2
	}
	if !(c.MutationStrength > 0 && c.MutationStrength <= 10) {
		return c, fmt.Errorf("mutation_strength %v must be in (0, 10]", c.MutationStrength)
	}
	if c.FailedMemory == 0 {
		c.FailedMemory = 256
	}
	if c.FailedMemory < 1 {
		return c, fmt.Errorf("failed_memory %d must be positive", c.FailedMemory)
	}
	if c.Temperature == nil {
		c.Temperature = ptr(0.001)
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 4096
	}
	return c, evo.CheckMode(c.LLM)
}

// Aggregate is the flaw name of the whole score, for results without tasks.
const Aggregate = "*"

// TaskState is one task of an evaluation.
type TaskState struct {
	// Task is the task's name (Aggregate for the whole score).
	Task string `json:"task"`
	// U is its utility (higher is better; 0 when it failed without a
	// score).
	U float64 `json:"u"`
	// Failed says the task failed.
	Failed bool `json:"failed,omitempty"`
}

// Eval is an evaluated position.
type Eval struct {
	// Fitness is the objective's utility (higher is better), unless Failed.
	Fitness float64 `json:"fitness"`
	// Failed says the evaluation failed or gave no finite score.
	Failed bool `json:"failed,omitempty"`
	// Tasks are the per-task outcomes, or one Aggregate task.
	Tasks []TaskState `json:"tasks"`
}

// F is the fitness, -Inf when the evaluation failed.
func (e *Eval) F() float64 {
	if e.Failed {
		return math.Inf(-1)
	}
	return e.Fitness
}

func (e *Eval) task(name string) (TaskState, bool) {
	if e == nil {
		return TaskState{}, false
	}
	for _, t := range e.Tasks {
		if t.Task == name {
			return t, true
		}
	}
	return TaskState{}, false
}

// Move is one entry of a particle's discrete velocity: SwarmAgentic's
// {Identified Flaw, Proposed Adjustment}.
type Move struct {
	// Flaw is the task the edit addresses.
	Flaw string `json:"flaw"`
	// Edit is the adjustment.
	Edit evo.Edit `json:"edit"`
	// Source is "inertia", "fix", "cognitive", "social" or "llm".
	Source string `json:"source"`
}

// Particle is one member of the swarm.
type Particle struct {
	// Temperature is its initial diversity.
	Temperature float64 `json:"temperature"`
	// Position is its current genome.
	Position sdk.Genome `json:"position"`
	// U are the normalised coordinates of its numeric genes, in the
	// space's order of float and int parameters.
	U []float64 `json:"u"`
	// V is the velocity of its numeric genes.
	V []float64 `json:"v"`
	// Velocity is the discrete velocity that made the current position.
	Velocity []Move `json:"velocity"`
	// Eval is the evaluation of the current position.
	Eval *Eval `json:"eval,omitempty"`
	// Prev is the evaluation of the previous position.
	Prev *Eval `json:"prev,omitempty"`
	// EvalID is the candidate id of Eval.
	EvalID string `json:"evalId,omitempty"`
	// Best is the personal best.
	Best *Best `json:"best,omitempty"`
	// Failed are the failed adjustments (flaw and edit key), oldest first.
	Failed []string `json:"failed,omitempty"`
	// Last is the operator that made the current position.
	Last string `json:"last,omitempty"`
}

// Best is a remembered position and its evaluation.
type Best struct {
	// Genome is the position.
	Genome sdk.Genome `json:"genome"`
	// U are its normalised numeric coordinates.
	U []float64 `json:"u"`
	// Fitness is as in Eval.
	Fitness float64 `json:"fitness"`
	// Failed is as in Eval.
	Failed bool `json:"failed,omitempty"`
	// ID is the candidate that was evaluated there.
	ID string `json:"id"`
}

// F is the fitness, -Inf when the evaluation failed.
func (b *Best) F() float64 {
	if b.Failed {
		return math.Inf(-1)
	}
	return b.Fitness
}

// state is the snapshot.
type state struct {
	Space     sdk.SearchSpace `json:"space"`
	Goal      evo.Goal        `json:"goal"`
	Config    Config          `json:"config"`
	RNG       *sdk.Rand       `json:"rng"`
	LLMRNG    *sdk.Rand       `json:"llmRng"`
	LLM       evo.LLM         `json:"llm"`
	Counter   int             `json:"counter"`
	Iteration int             `json:"iteration"`
	Started   bool            `json:"started"`
	Particles []Particle      `json:"particles"`
	// Queue are the particles whose next position waits to be proposed.
	Queue []int `json:"queue"`
	// Waiting maps a proposed candidate to its particle (-1: a scout).
	Waiting map[string]int        `json:"waiting"`
	Global  *Best                 `json:"global,omitempty"`
	Scouts  map[string]sdk.Genome `json:"scouts,omitempty"`

	// scale is sdk.StepScale of the current propose's mutation bias (0:
	// neutral); not in the snapshot: the host sends it with every propose.
	scale float64
}

// SwarmAgentic is the strategy; its state is the snapshot.
type SwarmAgentic struct {
	st state
}

// SetMutationBias takes the mutation bias of the next Propose
// (sdk.MutationBiaser): the evo mutations' strength is scaled by
// sdk.StepScale(bias). LLM plans are not affected.
func (s *SwarmAgentic) SetMutationBias(bias float64) { s.st.scale = sdk.StepScale(bias) }

// llmStream separates the LLM's generator from the main one, so a run
// without an LLM draws what a run with llm "off" draws.
const llmStream = 0x6c6c6d

// Init starts a run: it reads the config and places the particles.
func (s *SwarmAgentic) Init(req sdk.InitRequest) error {
	var c Config
	if len(req.Config) > 0 && string(req.Config) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(req.Config)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
		}
	}
	c, err := c.withDefaults()
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
	}
	goal, err := evo.NewGoal(req.Objectives, c.Objective)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
	}
	if c.Initial != nil {
		if err := c.Initial.Validate(req.Space); err != nil {
			return sdk.Errorf(sdk.CodeInvalid, "config: initial: %v", err)
		}
		c.Initial = evo.Clamp(req.Space, c.Initial)
	}
	s.st = state{
		Space: req.Space, Goal: goal, Config: c, RNG: sdk.NewRand(req.Seed), LLMRNG: sdk.NewRand(req.Seed ^ llmStream),
		LLM:     evo.LLM{Mode: c.LLM, Model: c.Model, Temperature: c.Temperature, MaxTokens: c.MaxTokens},
		Waiting: map[string]int{}, Scouts: map[string]sdk.Genome{},
	}
	return nil
}

func (st *state) newID() string {
	st.Counter++
	return fmt.Sprintf("sa-%06d", st.Counter)
}

// numeric returns the float and int parameters, in the space's order.
func (st *state) numeric() []sdk.Parameter {
	var out []sdk.Parameter
	for _, p := range st.Space.Parameters {
		if evo.Numeric(p) {
			out = append(out, p)
		}
	}
	return out
}

// discrete returns the space restricted to the other parameters.
func (st *state) discrete() sdk.SearchSpace {
	var out sdk.SearchSpace
	for _, p := range st.Space.Parameters {
		if !evo.Numeric(p) {
			out.Parameters = append(out.Parameters, p)
		}
	}
	return out
}

// start places the particles: around the initial genome at each particle's
// temperature, or as the LLM proposes at that temperature.
func (st *state) start() {
	st.Started = true
	base := st.Config.Initial
	if base == nil {
		base = evo.Default(st.Space)
	}
	num := st.numeric()
	for i, t := range st.Config.Temperatures {
		g := evo.Diversify(st.Space, base, t, st.RNG)
		op := "init"
		if st.LLM.Enabled() {
			if lg, ok := st.llmInit(base, t); ok {
				g, op = lg, "llm_init"
			}
		}
		p := Particle{Temperature: t, Position: g, U: make([]float64, len(num)), V: make([]float64, len(num)), Last: op}
		for j, q := range num {
			p.U[j], _ = evo.Normalize(q, g[q.Name])
			// SPSO 2007: v0 = (U(0,1) − x0)/2 in normalised units.
			p.V[j] = (st.RNG.Float64() - p.U[j]) / 2
		}
		st.Particles = append(st.Particles, p)
		st.Queue = append(st.Queue, i)
	}
}

// Propose returns the next positions of up to n particles whose positions
// are ready; when none is (every particle of this iteration is proposed and
// some await their evaluation), it returns n scouts around the global best.
func (s *SwarmAgentic) Propose(n int) ([]sdk.Candidate, error) {
	st := &s.st
	if !st.Started {
		st.start()
	}
	var out []sdk.Candidate
	for len(out) < n && len(st.Queue) > 0 {
		i := st.Queue[0]
		st.Queue = st.Queue[1:]
		p := &st.Particles[i]
		id := st.newID()
		st.Waiting[id] = i
		c := sdk.Candidate{ID: id, Genome: p.Position.Clone(), Operator: p.Last}
		if p.Best != nil {
			c.Parents = []string{p.Best.ID}
		}
		out = append(out, c)
	}
	if len(out) > 0 {
		return out, nil
	}
	for range n {
		var g sdk.Genome
		var parents []string
		if st.Global != nil {
			g = evo.Mutate(st.Space, st.Global.Genome, evo.Mutation{Strength: 0.1}.Scaled(st.scale), st.RNG)
			parents = []string{st.Global.ID}
		} else {
			g = st.RNG.Genome(st.Space)
		}
		id := st.newID()
		st.Waiting[id] = -1
		st.Scouts[id] = g
		out = append(out, sdk.Candidate{ID: id, Genome: g.Clone(), Parents: parents, Operator: "scout"})
	}
	return out, nil
}

// evaluate turns a result into an Eval.
func (st *state) evaluate(r sdk.Result) *Eval {
	e := &Eval{Failed: true}
	if v, ok := st.Goal.Score(r); ok {
		e.Fitness, e.Failed = st.Goal.Utility(v), false
	}
	tasks := st.Goal.Tasks(r)
	if len(tasks) == 0 {
		e.Tasks = []TaskState{{Task: Aggregate, U: e.Fitness, Failed: e.Failed}}
		return e
	}
	for _, t := range tasks {
		u := 0.0
		if t.Scored {
			u = st.Goal.Utility(t.Score)
		}
		e.Tasks = append(e.Tasks, TaskState{Task: t.Task, U: u, Failed: t.Failed || !t.Scored || r.Failed})
	}
	return e
}

// Observe records evaluations; when the whole swarm of the iteration is
// evaluated it updates the global best and moves every particle.
func (s *SwarmAgentic) Observe(results []sdk.Result) error {
	st := &s.st
	for _, r := range results {
		i, ok := st.Waiting[r.ID]
		if !ok {
			continue
		}
		delete(st.Waiting, r.ID)
		e := st.evaluate(r)
		if i < 0 {
			g := st.Scouts[r.ID]
			delete(st.Scouts, r.ID)
			if st.Global == nil || e.F() >= st.Global.F() {
				st.Global = &Best{Genome: g, U: st.coords(g), Fitness: e.Fitness, Failed: e.Failed, ID: r.ID}
			}
			continue
		}
		p := &st.Particles[i]
		p.Prev, p.Eval, p.EvalID = p.Eval, e, r.ID
		// Personal best with >= (pso.py: if self.fitness >= self.best_fitness).
		if p.Best == nil || e.F() >= p.Best.F() {
			p.Best = &Best{Genome: p.Position.Clone(), U: slices.Clone(p.U), Fitness: e.Fitness, Failed: e.Failed, ID: r.ID}
		}
	}
	if len(st.Queue) == 0 && !st.particlesWaiting() && st.Started {
		st.endIteration()
	}
	return nil
}

func (st *state) particlesWaiting() bool {
	for _, i := range st.Waiting {
		if i >= 0 {
			return true
		}
	}
	return false
}

// coords are the normalised numeric coordinates of g.
func (st *state) coords(g sdk.Genome) []float64 {
	num := st.numeric()
	u := make([]float64, len(num))
	for j, q := range num {
		u[j], _ = evo.Normalize(q, g[q.Name])
	}
	return u
}

// endIteration updates the global best (>=, in particle order, as
// update_global_best), then each particle's velocity and position.
func (st *state) endIteration() {
	for i := range st.Particles {
		p := &st.Particles[i]
		if p.Eval == nil {
			continue
		}
		if st.Global == nil || p.Eval.F() >= st.Global.F() {
			st.Global = &Best{Genome: p.Position.Clone(), U: slices.Clone(p.U), Fitness: p.Eval.Fitness, Failed: p.Eval.Failed, ID: p.EvalID}
		}
	}
	st.Iteration++
	for i := range st.Particles {
		st.move(&st.Particles[i])
		st.Queue = append(st.Queue, i)
	}
}

// Flaws returns the flaws of e against the previous evaluation prev, at
// most max: failed tasks first (in the result's order), then tasks that
// scored worse than in prev (largest drop first), and when there is none,
// the weakest task, since every design has a weakest point.
func Flaws(e, prev *Eval, max int) []string {
	if e == nil {
		return nil
	}
	var out []string
	type drop struct {
		task string
		d    float64
	}
	var drops []drop
	for _, t := range e.Tasks {
		if t.Failed {
			out = append(out, t.Task)
			continue
		}
		if pt, ok := prev.task(t.Task); ok && !pt.Failed && t.U < pt.U {
			drops = append(drops, drop{t.Task, pt.U - t.U})
		}
	}
	slices.SortStableFunc(drops, func(a, b drop) int {
		switch {
		case a.d > b.d:
			return -1
		case a.d < b.d:
			return 1
		}
		return 0
	})
	for _, d := range drops {
		out = append(out, d.task)
	}
	if len(out) == 0 && len(e.Tasks) > 0 {
		weakest := e.Tasks[0]
		for _, t := range e.Tasks[1:] {
			if t.U < weakest.U {
				weakest = t
			}
		}
		out = append(out, weakest.Task)
	}
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// Persisted reports whether flaw is still a flaw in e after the move from
// prev: the task failed again, or its score did not improve. A flaw that
// e does not report counts as fixed.
func Persisted(flaw string, e, prev *Eval) bool {
	t, ok := e.task(flaw)
	if !ok {
		return false
	}
	if t.Failed {
		return true
	}
	pt, ok := prev.task(flaw)
	if !ok || pt.Failed {
		return false
	}
	return t.U <= pt.U
}

func failKey(flaw string, e evo.Edit) string { return flaw + "\x1f" + e.Key() }

// rememberFailed adds a failed adjustment to the particle's memory.
func (st *state) rememberFailed(p *Particle, m Move) {
	k := failKey(m.Flaw, m.Edit)
	if slices.Contains(p.Failed, k) {
		return
	}
	p.Failed = append(p.Failed, k)
	if over := len(p.Failed) - st.Config.FailedMemory; over > 0 {
		p.Failed = slices.Delete(p.Failed, 0, over)
	}
}

// move updates a particle's velocity and position (update_velocity, then
// update_position).
func (st *state) move(p *Particle) {
	c := st.Config
	w, c1, c2 := *c.W, *c.C1, *c.C2
	flaws := Flaws(p.Eval, p.Prev, c.MaxFlaws)

	// Numeric genes: standard PSO in normalised coordinates.
	num := st.numeric()
	pb, gb := p.U, p.U
	if p.Best != nil {
		pb = p.Best.U
	}
	if st.Global != nil {
		gb = st.Global.U
	}
	pos := p.Position.Clone()
	for j, q := range num {
		r1, r2 := st.RNG.Float64(), st.RNG.Float64()
		v := w*p.V[j] + c1*r1*(pb[j]-p.U[j]) + c2*r2*(gb[j]-p.U[j])
		v = math.Max(-1, math.Min(1, v))
		u := p.U[j] + v
		if u < 0 || u > 1 {
			u, v = math.Max(0, math.Min(1, u)), 0
		}
		p.U[j], p.V[j] = u, v
		pos[q.Name] = evo.Denormalize(q, u)
	}

	// Discrete genes: failure-aware inertia, fixes, cognitive, social.
	failed := func(m Move) bool { return slices.Contains(p.Failed, failKey(m.Flaw, m.Edit)) }
	var inertia []Move
	for _, m := range p.Velocity {
		if p.Prev != nil && Persisted(m.Flaw, p.Eval, p.Prev) {
			st.rememberFailed(p, m)
			continue
		}
		if st.RNG.Float64() < w {
			m.Source = "inertia"
			inertia = append(inertia, m)
		}
	}
	disc := st.discrete()
	var plan []Move
	op := "pso"
	if st.LLM.Enabled() && len(disc.Parameters) > 0 {
		if moves, ok := st.llmPlan(p, pos, flaws, inertia); ok {
			plan, op = moves, "pso_llm"
		}
	}
	if op == "pso" {
		plan = append(plan, inertia...)
		m := evo.Mutation{Strength: c.MutationStrength, Phrases: c.Phrases}.Scaled(st.scale)
		for _, f := range flaws {
			for range 10 {
				e, ok := evo.RandomEdit(disc, pos, m, true, st.RNG)
				if !ok {
					break
				}
				if mv := (Move{Flaw: f, Edit: e, Source: "fix"}); !failed(mv) {
					plan = append(plan, mv)
					break
				}
			}
		}
		k := 0
		for _, term := range []struct {
			source string
			best   *Best
			c      float64
		}{{"cognitive", p.Best, c1}, {"social", st.Global, c2}} {
			if term.best == nil || len(flaws) == 0 {
				continue
			}
			prob := math.Min(1, term.c*st.RNG.Float64())
			for _, e := range evo.Diff(disc, pos, term.best.Genome) {
				if st.RNG.Float64() >= prob {
					continue
				}
				mv := Move{Flaw: flaws[k%len(flaws)], Edit: e, Source: term.source}
				k++
				if !failed(mv) {
					plan = append(plan, mv)
				}
			}
		}
	}
	var velocity []Move
	for _, m := range plan {
		if m.Edit.InEffect(st.Space, pos) {
			velocity = append(velocity, m)
			continue
		}
		next, err := m.Edit.Apply(st.Space, pos)
		if err != nil {
			continue
		}
		pos = next
		velocity = append(velocity, m)
		if q, ok := st.Space.Lookup(m.Edit.Param); ok && evo.Numeric(q) {
			for j, nq := range num {
				if nq.Name == q.Name {
					p.U[j], _ = evo.Normalize(q, pos[q.Name])
				}
			}
		}
	}
	p.Velocity = velocity
	p.Position = evo.Clamp(st.Space, pos)
	p.Last = op
}

// Particles returns a copy of the swarm (for tests and inspection).
func (s *SwarmAgentic) Particles() []Particle { return slices.Clone(s.st.Particles) }

// Global returns the global best, or nil before any evaluation.
func (s *SwarmAgentic) Global() *Best { return s.st.Global }

// Snapshot returns the whole state.
func (s *SwarmAgentic) Snapshot() (json.RawMessage, error) { return json.Marshal(s.st) }

// Restore loads a snapshot into a fresh instance.
func (s *SwarmAgentic) Restore(raw json.RawMessage) error {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: %v", err)
	}
	if st.RNG == nil || st.LLMRNG == nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: no generator state (rng, llmRng)")
	}
	if err := st.Space.Validate(); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: space: %v", err)
	}
	if _, err := st.Config.withDefaults(); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: config: %v", err)
	}
	n := len(st.numeric())
	for i := range st.Particles {
		p := &st.Particles[i]
		if len(p.U) != n || len(p.V) != n {
			return sdk.Errorf(sdk.CodeInvalid, "state: particle %d has %d coordinates, want %d", i, len(p.U), n)
		}
		p.Position = evo.Clamp(st.Space, p.Position)
		if p.Best != nil {
			p.Best.Genome = evo.Clamp(st.Space, p.Best.Genome)
		}
	}
	if st.Global != nil {
		st.Global.Genome = evo.Clamp(st.Space, st.Global.Genome)
	}
	if st.Waiting == nil {
		st.Waiting = map[string]int{}
	}
	if st.Scouts == nil {
		st.Scouts = map[string]sdk.Genome{}
	}
	for k, g := range st.Scouts {
		st.Scouts[k] = evo.Clamp(st.Space, g)
	}
	s.st = st
	return nil
}
