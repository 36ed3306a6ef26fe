// Package adas is the logic of the built-in strategy plugin "adas": Meta
// Agent Search (Hu, Lu, Clune, arXiv 2408.08435, ICLR 2025; its code's
// search.py), with genomes in place of forward() functions.
//
// A seed archive is proposed first. Afterwards every proposal is
// conditioned on the whole archive: with an LLM, one prompt carries the
// archive with its fitness strings and the answer {thought, name, genome}
// goes through the paper's two reflection turns in the same chat; without
// one, parents are drawn with weights that respect the fitness confidence
// intervals, recombined and mutated, and a proposal too close to an archive
// member (or to a design that failed) is redone (the reflection on
// interestingness). A failed evaluation is repaired and re-proposed until
// debug_max evaluations have failed. The fitness of a valid candidate is a
// percentile bootstrap over its per-task scores, kept as the paper's string
// "95% Bootstrap Confidence Interval: (lo%, hi%), Median: m%", and every
// valid candidate is appended to the archive. See the plugin's README.
package adas

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
	// Seeds is the seed archive: genomes, or objects {"name", "thought",
	// "genome"}. Default: NumSeeds genomes derived from the space.
	Seeds []json.RawMessage `json:"seeds,omitempty"`
	// NumSeeds is the number of derived seeds when Seeds is empty: the
	// space's default genome, then genomes chosen by farthest-point sampling
	// among random ones; default 5 (ADAS's ARC archive has 5 seeds).
	NumSeeds int `json:"num_seeds,omitempty"`
	// Resamples is the bootstrap's resample count; default 100000, the
	// paper's. MaxDraws bounds the work for scores with more than two
	// distinct values, where a resample draws one index per task: the
	// resamples are cut to max(1000, MaxDraws/tasks); default 1000000.
	// Two-valued (0/1) scores take a constant-time shortcut per resample
	// and are never cut. See the README for the measured cost in Wasm.
	Resamples int `json:"resamples,omitempty"`
	// MaxDraws is the index-draw budget described with Resamples.
	MaxDraws int `json:"max_draws,omitempty"`
	// NoveltyThreshold is the smallest evo.Distance a proposal must keep
	// from every archive member, pending proposal and failed design;
	// default 0.02.
	NoveltyThreshold *float64 `json:"novelty_threshold,omitempty"`
	// NoveltyTries is how often a proposal is redone before the most novel
	// attempt is taken; default 10.
	NoveltyTries int `json:"novelty_tries,omitempty"`
	// DebugMax is the evaluations a design gets before it is skipped
	// (the first one and its repairs); default 3.
	DebugMax int `json:"debug_max,omitempty"`
	// FailBelow, for a maximised objective, counts a score below it as a
	// failure (ADAS: mean accuracy < 0.01); unset by default.
	FailBelow *float64 `json:"fail_below,omitempty"`
	// CrossoverRate is the chance a proposal recombines two parents;
	// default 0.5.
	CrossoverRate *float64 `json:"crossover_rate,omitempty"`
	// MutationStrength is evo.Mutation's strength; default 0.2.
	MutationStrength float64 `json:"mutation_strength,omitempty"`
	// MutationRate is the chance each gene mutates; default 1/len(genes).
	MutationRate float64 `json:"mutation_rate,omitempty"`
	// PromptArchiveMax caps the archive entries in the LLM prompt (the
	// seeds and the latest); default 50.
	PromptArchiveMax int `json:"prompt_archive_max,omitempty"`
	// Phrases is the phrase bank of text mutation; default
	// evo.DefaultPhrases().
	Phrases []string `json:"phrases,omitempty"`
	// Selection is how parents are drawn from the archive: Tournament
	// (default) or Thompson.
	Selection string `json:"selection,omitempty"`
	// TournamentSize is the tournament's size; default 3.
	TournamentSize int `json:"tournament_size,omitempty"`
	// Objective names the objective to optimise; default the first.
	Objective string `json:"objective,omitempty"`
	// LLM is "auto" (default: use an LLM when granted) or "off".
	LLM string `json:"llm,omitempty"`
	// Model, Temperature (default 0.8, the meta agent's) and MaxTokens
	// (default 4096) are passed to the LLM.
	Model string `json:"model,omitempty"`
	// Temperature is the sampling temperature (see the default above).
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxTokens bounds each completion (see the default above).
	MaxTokens int `json:"max_tokens,omitempty"`
}

func ptr(x float64) *float64 { return &x }

func (c Config) withDefaults(goal evo.Goal) (Config, error) {
	if c.NumSeeds == 0 {
		c.NumSeeds = 5
	}
	if c.NumSeeds < 1 || c.NumSeeds > 100 {
		return c, fmt.Errorf("num_seeds %d must be in [1, 100]", c.NumSeeds)
	}
	if c.Resamples == 0 {
		c.Resamples = 100000
	}
	if c.Resamples < 1 || c.Resamples > 1000000 {
		return c, fmt.Errorf("resamples %d must be in [1, 1000000]", c.Resamples)
	}
	if c.MaxDraws == 0 {
		c.MaxDraws = 1000000
	}
	if c.MaxDraws < 1 {
		return c, fmt.Errorf("max_draws %d must be positive", c.MaxDraws)
	}
	if c.Selection == "" {
		c.Selection = Tournament
	}
	if c.Selection != Tournament && c.Selection != Thompson {
		return c, fmt.Errorf("selection %q must be %s or %s", c.Selection, Tournament, Thompson)
	}
	if c.TournamentSize == 0 {
		c.TournamentSize = 3
	}
	if c.TournamentSize < 1 {
		return c, fmt.Errorf("tournament_size %d must be positive", c.TournamentSize)
	}
	if c.NoveltyThreshold == nil {
		c.NoveltyThreshold = ptr(0.02)
	}
	if !(*c.NoveltyThreshold >= 0 && *c.NoveltyThreshold < 1) {
		return c, fmt.Errorf("novelty_threshold %v must be in [0, 1)", *c.NoveltyThreshold)
	}
	if c.NoveltyTries == 0 {
		c.NoveltyTries = 10
	}
	if c.NoveltyTries < 1 {
		return c, fmt.Errorf("novelty_tries %d must be positive", c.NoveltyTries)
	}
	if c.DebugMax == 0 {
		c.DebugMax = 3
	}
	if c.DebugMax < 1 {
		return c, fmt.Errorf("debug_max %d must be positive", c.DebugMax)
	}
	if c.FailBelow != nil && goal.Minimize {
		return c, fmt.Errorf("fail_below applies to a maximised objective, and %q is minimised", goal.Name)
	}
	if c.CrossoverRate == nil {
		c.CrossoverRate = ptr(0.5)
	}
	if !(*c.CrossoverRate >= 0 && *c.CrossoverRate <= 1) {
		return c, fmt.Errorf("crossover_rate %v must be in [0, 1]", *c.CrossoverRate)
	}
	if c.MutationStrength == 0 {
		c.MutationStrength = 0.2
	}
	if !(c.MutationStrength > 0 && c.MutationStrength <= 10) {
		return c, fmt.Errorf("mutation_strength %v must be in (0, 10]", c.MutationStrength)
	}
	if !(c.MutationRate >= 0 && c.MutationRate <= 1) {
		return c, fmt.Errorf("mutation_rate %v must be in [0, 1]", c.MutationRate)
	}
	if c.PromptArchiveMax == 0 {
		c.PromptArchiveMax = 50
	}
	if c.PromptArchiveMax < 1 {
		return c, fmt.Errorf("prompt_archive_max %d must be positive", c.PromptArchiveMax)
	}
	if c.Temperature == nil {
		c.Temperature = ptr(0.8)
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 4096
	}
	return c, evo.CheckMode(c.LLM)
}

// Entry is an archive member: the paper's {thought, name, code, fitness,
// generation} with a genome for the code.
type Entry struct {
	// ID is the candidate id that was evaluated.
	ID string `json:"id"`
	// Name is the design's name.
	Name string `json:"name"`
	// Thought is the reasoning behind the design.
	Thought string `json:"thought"`
	// Genome is the design.
	Genome sdk.Genome `json:"genome"`
	// Fitness is the paper's string; "" for a seed whose evaluation
	// failed (ADAS keeps such seeds without a fitness).
	Fitness string `json:"fitness"`
	// Lo is the interval's lower end (2.5th percentile), in the
	// objective's units.
	Lo float64 `json:"lo"`
	// Median is the median of the bootstrap means.
	Median float64 `json:"median"`
	// Hi is the interval's upper end (97.5th percentile).
	Hi float64 `json:"hi"`
	// Generation is 0 for seeds ("initial" in the paper), else the
	// generation that proposed it.
	Generation int `json:"generation"`
}

// Valid says the entry has a fitness.
func (e Entry) Valid() bool { return e.Fitness != "" }

// proposal is a design proposed or waiting to be proposed.
type proposal struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Thought    string     `json:"thought"`
	Genome     sdk.Genome `json:"genome"`
	Seed       bool       `json:"seed,omitempty"`
	Generation int        `json:"generation"`
	// Try is the evaluation attempt this proposal is (1: first).
	Try      int      `json:"try"`
	Operator string   `json:"operator"`
	Parents  []string `json:"parents,omitempty"`
}

// Wrong is a design that failed, kept as a "WRONG implementation example"
// for the prompt and for the novelty check.
type Wrong struct {
	// Name is the design's name.
	Name string `json:"name"`
	// Genome is the design.
	Genome sdk.Genome `json:"genome"`
	// Error is why its evaluation failed.
	Error string `json:"error"`
}

// maxWrong caps the failed designs kept.
const maxWrong = 10

// state is the snapshot.
type state struct {
	Space      sdk.SearchSpace      `json:"space"`
	Goal       evo.Goal             `json:"goal"`
	Config     Config               `json:"config"`
	RNG        *sdk.Rand            `json:"rng"`
	BootRNG    *sdk.Rand            `json:"bootRng"`
	LLM        evo.LLM              `json:"llm"`
	Counter    int                  `json:"counter"`
	Generation int                  `json:"generation"`
	Archive    []Entry              `json:"archive"`
	Seeds      []proposal           `json:"seeds"`
	Repairs    []proposal           `json:"repairs"`
	Pending    map[string]*proposal `json:"pending"`
	Wrong      []Wrong              `json:"wrong"`
	// Redone counts proposals the novelty check sent back; Skipped counts
	// designs that failed debug_max times.
	Redone  int `json:"redone"`
	Skipped int `json:"skipped"`

	// scale is sdk.StepScale of the current propose's mutation bias (0:
	// neutral); not in the snapshot: the host sends it with every propose.
	scale float64
}

// ADAS is the strategy; its state is the snapshot.
type ADAS struct {
	st state
}

// SetMutationBias takes the mutation bias of the next Propose
// (sdk.MutationBiaser): the evo mutations' strength is scaled by
// sdk.StepScale(bias). LLM designs are not affected.
func (a *ADAS) SetMutationBias(bias float64) { a.st.scale = sdk.StepScale(bias) }

// Streams of the bootstrap's generator (kept apart so that the bootstrap's
// resample count does not change the proposals' draws).
const bootStream = 0x626f6f74 // "boot"

// Init starts a run: it reads the config and builds the seed archive.
func (a *ADAS) Init(req sdk.InitRequest) error {
	var c Config
	if len(req.Config) > 0 && string(req.Config) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(req.Config)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
		}
	}
	goal, err := evo.NewGoal(req.Objectives, c.Objective)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
	}
	c, err = c.withDefaults(goal)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
	}
	a.st = state{
		Space: req.Space, Goal: goal, Config: c, RNG: sdk.NewRand(req.Seed), BootRNG: sdk.NewRand(req.Seed ^ bootStream),
		LLM:     evo.LLM{Mode: c.LLM, Model: c.Model, Temperature: c.Temperature, MaxTokens: c.MaxTokens},
		Pending: map[string]*proposal{},
	}
	seeds, err := a.st.seeds()
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
	}
	a.st.Seeds = seeds
	a.st.Config.Seeds = nil // the seeds live in the state
	return nil
}

func (st *state) newID() string {
	st.Counter++
	return fmt.Sprintf("adas-%06d", st.Counter)
}

// seeds builds the seed archive from the config, or derives it from the
// space: the default genome, then farthest-point samples among 32 random
// genomes each.
func (st *state) seeds() ([]proposal, error) {
	var out []proposal
	for i, raw := range st.Config.Seeds {
		var wrapped struct {
			Name    string     `json:"name"`
			Thought string     `json:"thought"`
			Genome  sdk.Genome `json:"genome"`
		}
		var g sdk.Genome
		_, named := st.Space.Lookup("genome")
		if err := json.Unmarshal(raw, &wrapped); err == nil && wrapped.Genome != nil && !named {
			g = wrapped.Genome
		} else if err := json.Unmarshal(raw, &g); err != nil {
			return nil, fmt.Errorf("seeds[%d]: %v", i, err)
		}
		if err := g.Validate(st.Space); err != nil {
			return nil, fmt.Errorf("seeds[%d]: %v", i, err)
		}
		name := wrapped.Name
		if name == "" {
			name = fmt.Sprintf("seed-%d", i+1)
		}
		out = append(out, proposal{Name: name, Thought: wrapped.Thought, Genome: evo.Clamp(st.Space, g), Seed: true, Try: 1, Operator: "seed"})
	}
	if len(out) > 0 {
		return out, nil
	}
	chosen := []sdk.Genome{evo.Default(st.Space)}
	out = append(out, proposal{Name: "seed-1", Thought: "The space's default genome: every parameter at its middle or first choice.",
		Genome: chosen[0], Seed: true, Try: 1, Operator: "seed"})
	for i := 1; i < st.Config.NumSeeds; i++ {
		var best sdk.Genome
		bestD := -1.0
		for range 32 {
			g := evo.Clamp(st.Space, st.RNG.Genome(st.Space))
			d := math.Inf(1)
			for _, c := range chosen {
				d = math.Min(d, evo.Distance(st.Space, g, c))
			}
			if d > bestD {
				best, bestD = g, d
			}
		}
		chosen = append(chosen, best)
		out = append(out, proposal{Name: fmt.Sprintf("seed-%d", i+1), Thought: "A random genome far from the other seeds (farthest-point sampling).",
			Genome: best, Seed: true, Try: 1, Operator: "seed"})
	}
	return out, nil
}

// seedsPending reports whether a seed awaits its evaluation.
func (st *state) seedsPending() bool {
	if len(st.Seeds) > 0 {
		return true
	}
	for _, p := range st.Pending {
		if p.Seed {
			return true
		}
	}
	return false
}

// Propose returns repairs first, then seeds; new designs only once no seed
// awaits its evaluation (or when there is nothing else to propose).
func (a *ADAS) Propose(n int) ([]sdk.Candidate, error) {
	st := &a.st
	var out []sdk.Candidate
	emit := func(p proposal) {
		p.ID = st.newID()
		q := p
		st.Pending[p.ID] = &q
		out = append(out, sdk.Candidate{ID: p.ID, Genome: p.Genome.Clone(), Parents: p.Parents, Operator: p.Operator})
	}
	for len(out) < n && len(st.Repairs) > 0 {
		p := st.Repairs[0]
		st.Repairs = st.Repairs[1:]
		emit(p)
	}
	for len(out) < n && len(st.Seeds) > 0 {
		p := st.Seeds[0]
		st.Seeds = st.Seeds[1:]
		emit(p)
	}
	if len(out) > 0 && st.seedsPending() {
		return out, nil
	}
	for len(out) < n {
		st.Generation++
		emit(st.design())
	}
	return out, nil
}

// utility returns an entry's interval as utilities (higher is better):
// lo, median, hi.
func (st *state) utility(e Entry) (lo, med, hi float64) {
	if st.Goal.Minimize {
		return -e.Hi, -e.Median, -e.Lo
	}
	return e.Lo, e.Median, e.Hi
}

// Parent selections (config "selection").
const (
	// Tournament draws tournament_size valid entries uniformly and keeps
	// the best: the higher bootstrap median, then the higher lower bound,
	// then the narrower interval (the default).
	Tournament = "tournament"
	// Thompson draws a utility for every valid entry from its interval and
	// keeps the highest draw.
	Thompson = "thompson"
)

// pick chooses a parent among the valid archive entries other than skip;
// -1 when there is none.
func (st *state) pick(skip int) int {
	var idx []int
	for i, e := range st.Archive {
		if i != skip && e.Valid() {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	if st.Config.Selection == Thompson {
		best, bestU := -1, math.Inf(-1)
		for _, i := range idx {
			if u := st.draw(st.Archive[i]); best < 0 || u > bestU {
				best, bestU = i, u
			}
		}
		return best
	}
	best := idx[st.RNG.IntN(len(idx))]
	for range st.Config.TournamentSize - 1 {
		if i := idx[st.RNG.IntN(len(idx))]; st.beats(st.Archive[i], st.Archive[best]) {
			best = i
		}
	}
	return best
}

// beats orders entries for the tournament: the higher median, then the
// higher lower bound, then the narrower interval (the surer of two equal
// designs).
func (st *state) beats(a, b Entry) bool {
	la, ma, ha := st.utility(a)
	lb, mb, hb := st.utility(b)
	switch {
	case ma != mb:
		return ma > mb
	case la != lb:
		return la > lb
	}
	return ha-la < hb-lb
}

// draw is one Thompson draw of an entry's utility: Normal(median, σ) with σ
// = (hi − lo)/3.92, the standard deviation a 95% interval of that width
// implies (σ = 0 for a single task: the median itself).
func (st *state) draw(e Entry) float64 {
	lo, med, hi := st.utility(e)
	return med + st.RNG.NormFloat64()*(hi-lo)/3.92
}

// PickCounts draws n parents as design does and counts how often each
// archive entry is chosen (for tests and inspection; it advances the
// generator).
func (a *ADAS) PickCounts(n int) []int {
	out := make([]int, len(a.st.Archive))
	for range n {
		if i := a.st.pick(-1); i >= 0 {
			out[i]++
		}
	}
	return out
}

// design makes one new proposal conditioned on the whole archive.
func (st *state) design() proposal {
	if st.LLM.Enabled() {
		if p, ok := st.llmDesign(); ok {
			return p
		}
	}
	c := st.Config
	m := evo.Mutation{Strength: c.MutationStrength, Rate: c.MutationRate, Phrases: c.Phrases}.Scaled(st.scale)
	i := st.pick(-1)
	var base sdk.Genome
	var parents []string
	thought := ""
	switch {
	case i >= 0:
		base, parents = st.Archive[i].Genome, []string{st.Archive[i].ID}
		thought = fmt.Sprintf("Builds on %s (%s)", st.Archive[i].Name, st.Archive[i].Fitness)
	case len(st.Archive) > 0:
		k := st.RNG.IntN(len(st.Archive))
		base, parents = st.Archive[k].Genome, []string{st.Archive[k].ID}
		thought = fmt.Sprintf("Builds on %s, which has no fitness yet", st.Archive[k].Name)
	default:
		base = evo.Default(st.Space)
		thought = "Starts from the space's default genome"
	}
	op := "mutate"
	if i >= 0 && st.RNG.Float64() < *c.CrossoverRate {
		if j := st.pick(i); j >= 0 {
			base = evo.Crossover(st.Space, base, st.Archive[j].Genome, st.RNG)
			parents = append(parents, st.Archive[j].ID)
			thought += fmt.Sprintf(" and recombines it with %s (%s)", st.Archive[j].Name, st.Archive[j].Fitness)
			op = "crossover"
		}
	}
	// Reflection on interestingness: redo a proposal that is too close to
	// an archive member, a pending proposal or a design that failed.
	// Each redo mutates harder: 1.5 times the step and the gene rate.
	var best sdk.Genome
	bestD := -1.0
	rate := c.MutationRate
	if rate == 0 && len(st.Space.Parameters) > 0 {
		rate = 1 / float64(len(st.Space.Parameters))
	}
	m.Strength, m.Rate = c.MutationStrength, rate
	for range c.NoveltyTries {
		g := evo.Mutate(st.Space, base, m, st.RNG)
		d := st.nearest(g)
		if d > bestD {
			best, bestD = g, d
		}
		if d >= *c.NoveltyThreshold {
			break
		}
		st.Redone++
		m.Strength, m.Rate = m.Strength*1.5, math.Min(1, m.Rate*1.5)
	}
	thought += fmt.Sprintf(", then mutates it (distance %.3f from the nearest known design).", bestD)
	return proposal{Name: fmt.Sprintf("design-%d", st.Generation), Thought: thought, Genome: best, Generation: st.Generation, Try: 1,
		Operator: op + "+mutate", Parents: parents}
}

// nearest is the distance from g to the closest archive member, pending
// proposal or failed design (1 when there is none).
func (st *state) nearest(g sdk.Genome) float64 {
	d := 1.0
	for _, e := range st.Archive {
		d = math.Min(d, evo.Distance(st.Space, g, e.Genome))
	}
	for _, p := range st.Pending { // a minimum: the order does not matter
		d = math.Min(d, evo.Distance(st.Space, g, p.Genome))
	}
	for _, w := range st.Wrong {
		d = math.Min(d, evo.Distance(st.Space, g, w.Genome))
	}
	return d
}

// Observe scores the proposals: a valid one is appended to the archive with
// its bootstrap fitness; a failed one is repaired and queued until debug_max
// evaluations have failed (a failed seed stays in the archive without a
// fitness, as in ADAS).
func (a *ADAS) Observe(results []sdk.Result) error {
	st := &a.st
	for _, r := range results {
		p, ok := st.Pending[r.ID]
		if !ok {
			continue
		}
		delete(st.Pending, r.ID)
		v, valid := st.Goal.Score(r)
		reason := r.Reason
		if !valid && reason == "" {
			reason = "the evaluation failed or gave no score"
		}
		if valid && st.Config.FailBelow != nil && v < *st.Config.FailBelow {
			valid, reason = false, fmt.Sprintf("score %v is below %v (all wrong)", v, *st.Config.FailBelow)
		}
		if valid {
			e := Entry{ID: p.ID, Name: p.Name, Thought: p.Thought, Genome: p.Genome, Generation: p.Generation}
			e.Fitness, e.Lo, e.Median, e.Hi = st.fitness(r, v)
			st.Archive = append(st.Archive, e)
			continue
		}
		st.remember(Wrong{Name: p.Name, Genome: p.Genome, Error: truncate(reason, 500)})
		if p.Seed {
			st.Archive = append(st.Archive, Entry{ID: p.ID, Name: p.Name, Thought: p.Thought, Genome: p.Genome})
			continue
		}
		if p.Try >= st.Config.DebugMax {
			st.Skipped++
			continue
		}
		st.Repairs = append(st.Repairs, st.repair(*p, reason))
	}
	return nil
}

// samples are the per-task raw scores of a result (the aggregate score when
// it has no tasks). A failed task without a score counts 0 when maximising
// (ADAS scores an exception as wrong) and as the worst scored task when
// minimising.
func (st *state) samples(r sdk.Result, aggregate float64) []float64 {
	tasks := st.Goal.Tasks(r)
	if len(tasks) == 0 {
		return []float64{aggregate}
	}
	var out []float64
	worst, missing := math.Inf(-1), 0
	for _, t := range tasks {
		if t.Scored {
			out = append(out, t.Score)
			worst = math.Max(worst, t.Score)
		} else {
			missing++
		}
	}
	for range missing {
		switch {
		case !st.Goal.Minimize:
			out = append(out, 0)
		case len(out) > 0:
			out = append(out, worst)
		}
	}
	if len(out) == 0 {
		return []float64{aggregate}
	}
	return out
}

// fitness is bootstrap_confidence_interval over the result's samples.
func (st *state) fitness(r sdk.Result, aggregate float64) (s string, lo, med, hi float64) {
	xs := st.samples(r, aggregate)
	b := st.Config.Resamples
	if evo.BootstrapDraws(xs, b) > st.Config.MaxDraws {
		b = min(b, max(1000, st.Config.MaxDraws/len(xs)))
	}
	lo, med, hi = evo.BootstrapCI(xs, b, st.BootRNG)
	percent := !st.Goal.Minimize && !slices.ContainsFunc(xs, func(x float64) bool { return x < 0 || x > 1 })
	return evo.FormatCI(lo, med, hi, percent), lo, med, hi
}

func (st *state) remember(w Wrong) {
	st.Wrong = append(st.Wrong, w)
	if len(st.Wrong) > maxWrong {
		st.Wrong = st.Wrong[len(st.Wrong)-maxWrong:]
	}
}

// repair makes the next attempt of a failed design: the LLM is given the
// error, else the design gets a small mutation (half the strength) that
// keeps its thought.
func (st *state) repair(p proposal, reason string) proposal {
	next := p
	next.Try++
	next.Parents = []string{p.ID}
	if st.LLM.Enabled() {
		if q, ok := st.llmRepair(p, reason); ok {
			q.Try, q.Parents, q.Generation = next.Try, next.Parents, p.Generation
			return q
		}
	}
	c := st.Config
	next.Genome = evo.Mutate(st.Space, p.Genome, evo.Mutation{Strength: c.MutationStrength / 2, Rate: c.MutationRate, Phrases: c.Phrases}.Scaled(st.scale), st.RNG)
	next.Operator = "repair"
	next.Thought = p.Thought
	return next
}

// Archive returns a copy of the archive.
func (a *ADAS) Archive() []Entry { return slices.Clone(a.st.Archive) }

// Snapshot returns the whole state.
func (a *ADAS) Snapshot() (json.RawMessage, error) { return json.Marshal(a.st) }

// Restore loads a snapshot into a fresh instance.
func (a *ADAS) Restore(raw json.RawMessage) error {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: %v", err)
	}
	if st.RNG == nil || st.BootRNG == nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: no generator state (rng, bootRng)")
	}
	if err := st.Space.Validate(); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: space: %v", err)
	}
	if _, err := st.Config.withDefaults(st.Goal); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: config: %v", err)
	}
	for i := range st.Archive {
		st.Archive[i].Genome = evo.Clamp(st.Space, st.Archive[i].Genome)
	}
	for _, list := range [][]proposal{st.Seeds, st.Repairs} {
		for i := range list {
			list[i].Genome = evo.Clamp(st.Space, list[i].Genome)
		}
	}
	if st.Pending == nil {
		st.Pending = map[string]*proposal{}
	}
	for _, p := range st.Pending {
		p.Genome = evo.Clamp(st.Space, p.Genome)
	}
	for i := range st.Wrong {
		st.Wrong[i].Genome = evo.Clamp(st.Space, st.Wrong[i].Genome)
	}
	a.st = st
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
