// Package dgm is the logic of the built-in strategy plugin "dgm": the
// Darwin Gödel Machine's open-ended archive search (Zhang, Hu, Lu, Lange,
// Clune, arXiv 2505.22954; jennyzzt/dgm, DGM_outer.py), with genomes in
// place of coding agents and a genome mutation (or one LLM-proposed patch)
// in place of a self-modification.
//
// The archive starts with the initial genome (config "initial", else the
// space's default genome, evo.Default), which is proposed first. Every
// propose is one DGM generation: k = selfimprove_size parents are drawn
// with replacement with
//
//	p_i ∝ sigmoid(10·(α_i − 0.5)) · 1/(1 + n_i)
//
// (α_i the parent's score mapped to [0, 1], n_i its children already in
// the archive), and the engine's n children are made from them round-robin.
// A child is admitted when its evaluation did not fail, produced a finite
// score (so it passed at least the engine's first stage) and it differs
// from its parent (DGM drops empty patches); keep_better also requires a
// score no worse than the initial's by more than the leeway. See the
// plugin's README for the configuration and the fidelity notes.
package dgm

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

// Parent-selection methods (config "selection"), DGM's choose_selfimproves.
const (
	// ScoreChildProp weighs each archive member by sigmoid(10(α−0.5)) ·
	// 1/(1+children), the DGM default.
	ScoreChildProp = "score_child_prop"
	// ScoreProp drops the children term (the score_prop ablation).
	ScoreProp = "score_prop"
	// Random draws parents uniformly.
	Random = "random"
)

// Archive-update methods (config "update_archive").
const (
	// KeepAll admits every valid child (the DGM default).
	KeepAll = "keep_all"
	// KeepBetter admits a valid child whose score is no worse than the
	// initial's by more than keep_better_leeway.
	KeepBetter = "keep_better"
)

// Score normalisations to α in [0, 1] (config "alpha").
const (
	// AlphaAuto is AlphaScore for a maximised objective whose archive
	// scores all lie in [0, 1], AlphaRank otherwise.
	AlphaAuto = "auto"
	// AlphaScore uses the score itself, clamped to [0, 1] (one minus it
	// when minimised): accuracies, resolve rates, error rates.
	AlphaScore = "score"
	// AlphaInverse maps a non-negative score s through 1/(1 + k·s) when
	// minimised (a gap or a cost: 0 gives 1) and k·s/(1 + k·s) when
	// maximised; k is alpha_k.
	AlphaInverse = "inverse"
	// AlphaRank is the member's rank among the archive's scores: the
	// fraction of other members it beats (ties count half); a lone member
	// gets 0.5.
	AlphaRank = "rank"
	// AlphaMinMax scales the archive's scores linearly to [0, 1] (all
	// equal: 0.5).
	AlphaMinMax = "minmax"
)

// Config is the strategy's configuration (InitRequest.config); every key is
// optional. Unknown keys are an error.
type Config struct {
	// Initial is the first archive member; default evo.Default(space).
	Initial sdk.Genome `json:"initial,omitempty"`
	// SelfimproveSize is k, the parents drawn per generation; default 2.
	SelfimproveSize int `json:"selfimprove_size,omitempty"`
	// Selection is ScoreChildProp (default), ScoreProp or Random.
	Selection string `json:"selection,omitempty"`
	// NoDarwin always takes the latest archive member as the parent (the
	// no_darwin baseline).
	NoDarwin bool `json:"no_darwin,omitempty"`
	// UpdateArchive is KeepAll (default) or KeepBetter.
	UpdateArchive string `json:"update_archive,omitempty"`
	// KeepBetterLeeway is the noise leeway of KeepBetter; default 0.1.
	KeepBetterLeeway *float64 `json:"keep_better_leeway,omitempty"`
	// Alpha is the score normalisation: AlphaAuto (default), AlphaScore,
	// AlphaInverse, AlphaRank or AlphaMinMax.
	Alpha string `json:"alpha,omitempty"`
	// AlphaK is k of AlphaInverse; default 1.
	AlphaK float64 `json:"alpha_k,omitempty"`
	// MutationStrength is the self-modification's evo.Mutation strength;
	// default 0.2.
	MutationStrength float64 `json:"mutation_strength,omitempty"`
	// MutationRate is the chance each gene mutates; default 1/len(genes).
	MutationRate float64 `json:"mutation_rate,omitempty"`
	// Phrases is the phrase bank of text mutation; default
	// evo.DefaultPhrases().
	Phrases []string `json:"phrases,omitempty"`
	// Objective names the objective to optimise; default the first.
	Objective string `json:"objective,omitempty"`
	// LLM is "auto" (default: use an LLM when granted) or "off".
	LLM string `json:"llm,omitempty"`
	// Model, Temperature and MaxTokens are passed to the LLM; by default
	// the host's model and temperature and 4096 tokens.
	Model string `json:"model,omitempty"`
	// Temperature is the sampling temperature (see the default above).
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxTokens bounds each completion (see the default above).
	MaxTokens int `json:"max_tokens,omitempty"`
}

// withDefaults fills in the defaults and checks the values.
func (c Config) withDefaults() (Config, error) {
	if c.SelfimproveSize == 0 {
		c.SelfimproveSize = 2
	}
	if c.SelfimproveSize < 0 {
		return c, fmt.Errorf("selfimprove_size %d must be positive", c.SelfimproveSize)
	}
	if c.Selection == "" {
		c.Selection = ScoreChildProp
	}
	if !slices.Contains([]string{ScoreChildProp, ScoreProp, Random}, c.Selection) {
		return c, fmt.Errorf("selection %q must be %s, %s or %s", c.Selection, ScoreChildProp, ScoreProp, Random)
	}
	if c.UpdateArchive == "" {
		c.UpdateArchive = KeepAll
	}
	if c.UpdateArchive != KeepAll && c.UpdateArchive != KeepBetter {
		return c, fmt.Errorf("update_archive %q must be %s or %s", c.UpdateArchive, KeepAll, KeepBetter)
	}
	if c.KeepBetterLeeway == nil {
		l := 0.1
		c.KeepBetterLeeway = &l
	}
	if c.Alpha == "" {
		c.Alpha = AlphaAuto
	}
	if !slices.Contains([]string{AlphaAuto, AlphaScore, AlphaInverse, AlphaRank, AlphaMinMax}, c.Alpha) {
		return c, fmt.Errorf("alpha %q must be one of auto, score, inverse, rank, minmax", c.Alpha)
	}
	if c.AlphaK == 0 {
		c.AlphaK = 1
	}
	if !(c.AlphaK > 0) || math.IsInf(c.AlphaK, 0) {
		return c, fmt.Errorf("alpha_k %v must be positive", c.AlphaK)
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
	if c.MaxTokens == 0 {
		c.MaxTokens = 4096
	}
	return c, evo.CheckMode(c.LLM)
}

// Node is an archive member.
type Node struct {
	// ID is the candidate id.
	ID string `json:"id"`
	// Parent is the parent's id ("" for the initial genome).
	Parent string `json:"parent,omitempty"`
	// Genome is the member's genome.
	Genome sdk.Genome `json:"genome"`
	// Scored says the member has been evaluated (the initial genome is in
	// the archive before its evaluation comes back).
	Scored bool `json:"scored"`
	// Failed says the (initial) member's evaluation failed: α = 0.
	Failed bool `json:"failed,omitempty"`
	// Score is the raw score of the objective.
	Score float64 `json:"score"`
	// Children counts its children admitted to the archive (n_i).
	Children int `json:"children"`
	// Generation is the generation that made it (0: initial).
	Generation int `json:"generation"`
	// Tasks counts its evaluated tasks.
	Tasks int `json:"tasks,omitempty"`
	// FailedTasks counts the tasks that failed or had no score.
	FailedTasks int `json:"failedTasks,omitempty"`
	// Unresolved names up to 10 failed or weakest tasks, worst first (what
	// the LLM is asked to fix).
	Unresolved []string `json:"unresolved,omitempty"`
	// Note is the LLM's problem description of the patch that made it.
	Note string `json:"note,omitempty"`
}

// pending is a proposed child awaiting its evaluation.
type pending struct {
	Parent     string     `json:"parent"`
	Genome     sdk.Genome `json:"genome"`
	Generation int        `json:"generation"`
	Note       string     `json:"note,omitempty"`
}

// state is the snapshot.
type state struct {
	Space           sdk.SearchSpace     `json:"space"`
	Goal            evo.Goal            `json:"goal"`
	Config          Config              `json:"config"`
	RNG             *sdk.Rand           `json:"rng"`
	LLMRNG          *sdk.Rand           `json:"llmRng"`
	LLM             evo.LLM             `json:"llm"`
	Counter         int                 `json:"counter"`
	Generation      int                 `json:"generation"`
	InitialProposed bool                `json:"initialProposed"`
	Archive         []Node              `json:"archive"`
	Pending         map[string]*pending `json:"pending"`
	Admitted        int                 `json:"admitted"`
	Rejected        int                 `json:"rejected"`

	// scale is sdk.StepScale of the current propose's mutation bias (0:
	// neutral); not in the snapshot: the host sends it with every propose.
	scale float64
}

// DGM is the strategy; its state is the snapshot.
type DGM struct {
	st state
}

// SetMutationBias takes the mutation bias of the next Propose
// (sdk.MutationBiaser): the evo mutation's strength is scaled by
// sdk.StepScale(bias). LLM patches are not affected.
func (d *DGM) SetMutationBias(bias float64) { d.st.scale = sdk.StepScale(bias) }

// Init starts a run: it reads the config and puts the initial genome in the
// archive.
func (d *DGM) Init(req sdk.InitRequest) error {
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
	initial := evo.Default(req.Space)
	if c.Initial != nil {
		if err := c.Initial.Validate(req.Space); err != nil {
			return sdk.Errorf(sdk.CodeInvalid, "config: initial: %v", err)
		}
		initial = evo.Clamp(req.Space, c.Initial)
		c.Initial = initial
	}
	d.st = state{
		Space: req.Space, Goal: goal, Config: c, RNG: sdk.NewRand(req.Seed), LLMRNG: sdk.NewRand(req.Seed ^ llmStream),
		LLM:     evo.LLM{Mode: c.LLM, Model: c.Model, Temperature: c.Temperature, MaxTokens: c.MaxTokens},
		Pending: map[string]*pending{},
	}
	d.st.Archive = []Node{{ID: d.st.newID(), Genome: initial}}
	return nil
}

// llmStream separates the generator of the LLM's prompts (which task to
// focus on) from the main one, so that a run without an LLM draws exactly
// what a run with llm "off" draws.
const llmStream = 0x6c6c6d // "llm"

func (st *state) newID() string {
	st.Counter++
	return fmt.Sprintf("dgm-%06d", st.Counter)
}

// Propose runs one DGM generation: the initial genome first (once), then n
// children of parents chosen from the archive.
func (d *DGM) Propose(n int) ([]sdk.Candidate, error) {
	st := &d.st
	var out []sdk.Candidate
	if !st.InitialProposed {
		st.InitialProposed = true
		init := st.Archive[0]
		out = append(out, sdk.Candidate{ID: init.ID, Genome: init.Genome.Clone(), Operator: "initial"})
		if n--; n == 0 {
			return out, nil
		}
	}
	st.Generation++
	parents := st.chooseParents()
	for j := range n {
		parent := parents[j%len(parents)]
		g, op, note := st.selfModify(parent)
		id := st.newID()
		st.Pending[id] = &pending{Parent: parent.ID, Genome: g, Generation: st.Generation, Note: note}
		out = append(out, sdk.Candidate{ID: id, Genome: g.Clone(), Parents: []string{parent.ID}, Operator: op})
	}
	return out, nil
}

// eligible returns the archive members that can be parents: the evaluated
// ones, or the initial genome while nothing is evaluated.
func (st *state) eligible() []Node {
	var out []Node
	for _, n := range st.Archive {
		if n.Scored {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return st.Archive[:1]
	}
	return out
}

// chooseParents is choose_selfimproves: k parents with replacement (one,
// the latest member, under no_darwin).
func (st *state) chooseParents() []Node {
	cands := st.eligible()
	if st.Config.NoDarwin {
		return cands[len(cands)-1:]
	}
	p := st.probabilities(cands)
	out := make([]Node, st.Config.SelfimproveSize)
	for i := range out {
		out[i] = cands[draw(p, st.RNG)]
	}
	return out
}

// draw picks an index with probability p[i] (p sums to 1).
func draw(p []float64, rng *sdk.Rand) int {
	u := rng.Float64()
	acc := 0.0
	for i, x := range p {
		acc += x
		if u < acc {
			return i
		}
	}
	return len(p) - 1
}

// probabilities are the selection probabilities of cands.
func (st *state) probabilities(cands []Node) []float64 {
	children := make([]int, len(cands))
	for i, n := range cands {
		children[i] = n.Children
	}
	return SelectionProbabilities(st.alphas(cands), children, st.Config.Selection)
}

// Probabilities returns the current parent-selection probabilities over
// the archive members that can be parents, with their ids (for tests and
// inspection).
func (d *DGM) Probabilities() (ids []string, p []float64) {
	cands := d.st.eligible()
	for _, n := range cands {
		ids = append(ids, n.ID)
	}
	return ids, d.st.probabilities(cands)
}

// Alphas returns α of the archive members that can be parents, in the order
// of Probabilities.
func (d *DGM) Alphas() []float64 { return d.st.alphas(d.st.eligible()) }

// SelectionProbabilities is DGM's parent distribution for archive members
// with normalised scores alphas and children counts: with ScoreChildProp
// p_i = s_i·h_i / Σ_j s_j·h_j, s_i = 1/(1+exp(−10(α_i−0.5))),
// h_i = 1/(1+children_i); ScoreProp drops h; Random is uniform.
func SelectionProbabilities(alphas []float64, children []int, method string) []float64 {
	w := make([]float64, len(alphas))
	total := 0.0
	for i, a := range alphas {
		switch method {
		case Random:
			w[i] = 1
		case ScoreProp:
			w[i] = sigmoid(a)
		default:
			w[i] = sigmoid(a) / float64(1+children[i])
		}
		total += w[i]
	}
	for i := range w {
		w[i] /= total
	}
	return w
}

func sigmoid(alpha float64) float64 { return 1 / (1 + math.Exp(-10*(alpha-0.5))) }

// alphas maps the members' scores to [0, 1] by the configured
// normalisation; a failed member gets 0.
func (st *state) alphas(nodes []Node) []float64 {
	goal, c := st.Goal, st.Config
	method := c.Alpha
	if method == AlphaAuto {
		method = AlphaScore
		for _, n := range st.Archive {
			if n.Scored && !n.Failed && (goal.Minimize || n.Score < 0 || n.Score > 1) {
				method = AlphaRank
				break
			}
		}
	}
	out := make([]float64, len(nodes))
	var us []float64 // utilities of the valid members
	for _, n := range nodes {
		if n.Scored && !n.Failed {
			us = append(us, goal.Utility(n.Score))
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, u := range us {
		lo, hi = math.Min(lo, u), math.Max(hi, u)
	}
	sorted := slices.Clone(us)
	slices.Sort(sorted)
	for i, n := range nodes {
		if !n.Scored || n.Failed {
			continue
		}
		u := goal.Utility(n.Score)
		switch method {
		case AlphaScore:
			a := math.Min(math.Max(n.Score, 0), 1)
			if goal.Minimize {
				a = 1 - a
			}
			out[i] = a
		case AlphaInverse:
			ks := c.AlphaK * math.Max(n.Score, 0)
			if goal.Minimize {
				out[i] = 1 / (1 + ks)
			} else {
				out[i] = ks / (1 + ks)
			}
		case AlphaRank:
			if len(us) < 2 {
				out[i] = 0.5
				continue
			}
			below, _ := slices.BinarySearch(sorted, u)                                   // members worse than u
			equal := sort.SearchFloat64s(sorted, math.Nextafter(u, math.Inf(1))) - below // u's ties, itself included
			out[i] = (float64(below) + 0.5*float64(equal-1)) / float64(len(us)-1)
		case AlphaMinMax:
			if hi > lo {
				out[i] = (u - lo) / (hi - lo)
			} else {
				out[i] = 0.5
			}
		}
	}
	return out
}

// selfModify makes one child of parent: one LLM patch when an LLM is
// available, else (or when the LLM's answer is unusable) an evo mutation.
func (st *state) selfModify(parent Node) (g sdk.Genome, op, note string) {
	if st.LLM.Enabled() {
		if g, note, ok := st.llmPatch(parent); ok {
			return g, "llm_patch", note
		}
	}
	m := evo.Mutation{Strength: st.Config.MutationStrength, Rate: st.Config.MutationRate, Phrases: st.Config.Phrases}.Scaled(st.scale)
	return evo.Mutate(st.Space, parent.Genome, m, st.RNG), "mutate", ""
}

// llmPatch asks for ONE improvement of parent (DGM's self_improve_step:
// diagnose one problem, describe it, change the agent), as a JSON patch of
// the genome.
func (st *state) llmPatch(parent Node) (sdk.Genome, string, bool) {
	entry := "Improve the overall score."
	switch {
	case parent.Tasks > 0 && float64(parent.FailedTasks) >= 0.1*float64(parent.Tasks) && st.LLMRNG.Float64() < 0.25:
		entry = fmt.Sprintf("%d of its %d tasks failed outright: make the design fail less.", parent.FailedTasks, parent.Tasks)
	case len(parent.Unresolved) > 0:
		entry = fmt.Sprintf("Make the design solve the task %q, which it does not solve yet.", parent.Unresolved[st.LLMRNG.IntN(len(parent.Unresolved))])
	}
	dir := "maximize"
	if st.Goal.Minimize {
		dir = "minimize"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Search space\nEvery design is a JSON object over these parameters:\n%s\n\n", evo.DescribeSpace(st.Space))
	fmt.Fprintf(&b, "# Objective\n%s the score %q.\n\n", dir, st.Goal.Name)
	fmt.Fprintf(&b, "# Current design (archive member %s, score %v)\n%s\n\n", parent.ID, parent.Score, evo.Canonical(parent.Genome))
	fmt.Fprintf(&b, "# Evaluation log\nEvaluated on %d tasks, %d failed.", parent.Tasks, parent.FailedTasks)
	if len(parent.Unresolved) > 0 {
		fmt.Fprintf(&b, " Unresolved tasks, worst first: %s.", strings.Join(parent.Unresolved, ", "))
	}
	fmt.Fprintf(&b, "\n\n# Focus\n%s\n\n", entry)
	b.WriteString("# Task\nDiagnose ONE problem of the current design that the evaluation log shows, and propose ONE improvement that fixes it. " +
		"Reply EXACTLY with a JSON object {\"problem_description\": \"<the problem and the fix, in a few sentences>\", " +
		"\"patch\": {\"<parameter name>\": <new value>}}. The patch sets only the parameters the improvement changes; every value must lie " +
		"inside the search space (a sequence is the whole list of steps, text and code are complete strings).")
	msgs := []sdk.ChatMessage{
		{Role: "system", Content: "You improve designs by self-modification, as in the Darwin Gödel Machine. Reply with one well-formed JSON object."},
		{Role: "user", Content: b.String()},
	}
	var ans struct {
		ProblemDescription string         `json:"problem_description"`
		Patch              map[string]any `json:"patch"`
	}
	if _, err := st.LLM.Chat(msgs, &ans); err != nil {
		return nil, "", false
	}
	g, _ := evo.PatchGenome(st.Space, parent.Genome, ans.Patch)
	if evo.Equal(st.Space, g, parent.Genome) {
		st.LLM.Failures++ // an empty patch: DGM would not admit it
		return nil, "", false
	}
	return g, truncate(ans.ProblemDescription, 300), true
}

// Observe admits the children that compiled and records the initial
// genome's evaluation.
func (d *DGM) Observe(results []sdk.Result) error {
	st := &d.st
	for _, r := range results {
		if r.ID == st.Archive[0].ID {
			n := &st.Archive[0]
			n.Scored = true
			n.Score, n.Failed = 0, true
			if v, ok := st.Goal.Score(r); ok {
				n.Score, n.Failed = v, false
			}
			st.recordTasks(n, r)
			continue
		}
		p, ok := st.Pending[r.ID]
		if !ok {
			continue // not ours, or seen already
		}
		delete(st.Pending, r.ID)
		parent := st.find(p.Parent)
		v, ok := st.Goal.Score(r)
		if !ok || parent == nil || evo.Equal(st.Space, p.Genome, parent.Genome) || !st.keep(v) {
			st.Rejected++
			continue
		}
		parent.Children++
		n := Node{ID: r.ID, Parent: p.Parent, Genome: p.Genome, Scored: true, Score: v, Generation: p.Generation, Note: p.Note}
		st.recordTasks(&n, r)
		st.Archive = append(st.Archive, n)
		st.Admitted++
	}
	return nil
}

// keep is update_archive for a valid child's score.
func (st *state) keep(v float64) bool {
	init := st.Archive[0]
	if st.Config.UpdateArchive != KeepBetter || !init.Scored || init.Failed {
		return true
	}
	return st.Goal.Utility(v) >= st.Goal.Utility(init.Score)-*st.Config.KeepBetterLeeway
}

// recordTasks keeps the counts and the unresolved tasks of a result.
func (st *state) recordTasks(n *Node, r sdk.Result) {
	tasks := st.Goal.Tasks(r)
	n.Tasks, n.FailedTasks, n.Unresolved = len(tasks), 0, nil
	best := math.Inf(-1)
	for _, t := range tasks {
		if t.Failed || !t.Scored {
			n.FailedTasks++
		} else {
			best = math.Max(best, st.Goal.Utility(t.Score))
		}
	}
	var weak []evo.TaskOutcome
	for _, t := range tasks {
		switch {
		case t.Failed || !t.Scored:
			if len(n.Unresolved) < 10 {
				n.Unresolved = append(n.Unresolved, t.Task)
			}
		case st.Goal.Utility(t.Score) < best:
			weak = append(weak, t)
		}
	}
	slices.SortStableFunc(weak, func(a, b evo.TaskOutcome) int {
		ua, ub := st.Goal.Utility(a.Score), st.Goal.Utility(b.Score)
		switch {
		case ua < ub:
			return -1
		case ua > ub:
			return 1
		}
		return 0
	})
	for _, t := range weak {
		if len(n.Unresolved) >= 10 {
			break
		}
		n.Unresolved = append(n.Unresolved, t.Task)
	}
}

func (st *state) find(id string) *Node {
	for i := range st.Archive {
		if st.Archive[i].ID == id {
			return &st.Archive[i]
		}
	}
	return nil
}

// Archive returns a copy of the archive.
func (d *DGM) Archive() []Node { return slices.Clone(d.st.Archive) }

// Snapshot returns the whole state: space, config, generator, archive and
// the children awaiting evaluation.
func (d *DGM) Snapshot() (json.RawMessage, error) { return json.Marshal(d.st) }

// Restore loads a snapshot into a fresh instance.
func (d *DGM) Restore(raw json.RawMessage) error {
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
	if len(st.Archive) == 0 {
		return sdk.Errorf(sdk.CodeInvalid, "state: empty archive")
	}
	if _, err := st.Config.withDefaults(); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: config: %v", err)
	}
	for i := range st.Archive {
		st.Archive[i].Genome = evo.Clamp(st.Space, st.Archive[i].Genome)
	}
	if st.Pending == nil {
		st.Pending = map[string]*pending{}
	}
	for _, p := range st.Pending {
		p.Genome = evo.Clamp(st.Space, p.Genome)
	}
	d.st = st
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
