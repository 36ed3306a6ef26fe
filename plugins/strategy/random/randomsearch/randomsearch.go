// Package randomsearch is the logic of the built-in strategy plugin
// "random" (uniform random search over the whole search space), kept apart
// from the plugin's main package so that it can be tested and benchmarked
// natively.
//
// Each proposal draws every parameter independently (sdk.Rand.Value): floats
// uniformly (log-uniformly when the parameter says log), integers, categories
// and booleans uniformly, sequences with a uniform length in
// [minLength, maxLength] and uniform elements; text and code parameters keep
// the empty string, since random text means nothing. Observations are counted
// and otherwise ignored. The generator is seeded by the run's seed and its
// state is part of the snapshot, so a restored instance proposes exactly what
// the original would have.
//
// Under a personality's mutation bias (sdk.MutationBiaser) below the neutral
// 0.5, random search turns local: with w = sdk.StepScale(bias) < 1, each
// proposal is drawn around the best complete result observed so far (its
// parent, operator "random-local"): float and int genes uniformly in a
// window of width w of their normalised range centred on the parent's
// value (reflected at the bounds), every other gene redrawn with
// probability w and the parent's value kept otherwise. At the neutral bias
// and above (w ≥ 1), or before any result, proposals are uniform over the
// whole space as ever: uniform search is already as exploratory as it gets.
// To know the best genome the strategy keeps the genomes it proposed until
// they are observed, and the best one; both are in the snapshot.
package randomsearch

import (
	"encoding/json"
	"fmt"
	"math"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

// Random is the strategy. Its state is the snapshot, but for the step
// scale of the current propose, which the SDK sets before each one.
type Random struct {
	st state
	// scale is sdk.StepScale of the current mutation bias; 0 means neutral.
	scale float64
}

// state is what Snapshot writes and Restore reads.
type state struct {
	Space    sdk.SearchSpace `json:"space"`
	Seed     uint64          `json:"seed"`
	Proposed uint64          `json:"proposed"`
	Observed uint64          `json:"observed"`
	RNG      *sdk.Rand       `json:"rng"`
	// Objective is the primary objective, "" when the run has none;
	// Maximize says higher is better.
	Objective string `json:"objective,omitempty"`
	Maximize  bool   `json:"maximize,omitempty"`
	// Pending holds the genomes proposed and not yet observed.
	Pending map[string]sdk.Genome `json:"pending,omitempty"`
	// Best is the best complete result observed so far.
	Best *best `json:"best,omitempty"`
}

// best is a result with its genome.
type best struct {
	ID     string     `json:"id"`
	Score  float64    `json:"score"`
	Genome sdk.Genome `json:"genome"`
}

// Init starts a run over req.Space seeded with req.Seed. The strategy has no
// configuration; any config is ignored.
func (r *Random) Init(req sdk.InitRequest) error {
	r.st = state{Space: req.Space, Seed: req.Seed, RNG: sdk.NewRand(req.Seed)}
	if len(req.Objectives) > 0 {
		r.st.Objective, r.st.Maximize = req.Objectives[0].Name, req.Objectives[0].Direction == sdk.Maximize
	}
	return nil
}

// SetMutationBias takes the mutation bias of the next Propose
// (sdk.MutationBiaser): below 0.5 proposals are local to the best result.
func (r *Random) SetMutationBias(bias float64) { r.scale = sdk.StepScale(bias) }

// Propose draws n genomes. Candidate ids are "r-" and a counter, so they are
// unique within the run and continue across a restore.
func (r *Random) Propose(n int) ([]sdk.Candidate, error) {
	out := make([]sdk.Candidate, n)
	local := r.scale > 0 && r.scale < 1 && r.st.Best != nil
	for i := range out {
		r.st.Proposed++
		c := sdk.Candidate{ID: fmt.Sprintf("r-%06d", r.st.Proposed), Operator: "random"}
		if local {
			c.Genome, c.Operator, c.Parents = r.around(r.st.Best.Genome), "random-local", []string{r.st.Best.ID}
		} else {
			c.Genome = r.st.RNG.Genome(r.st.Space)
		}
		if r.st.Objective != "" {
			if r.st.Pending == nil {
				r.st.Pending = map[string]sdk.Genome{}
			}
			r.st.Pending[c.ID] = c.Genome
		}
		out[i] = c
	}
	return out, nil
}

// around draws a genome near parent: numeric genes uniformly within
// r.scale of their normalised range around the parent's value, the others
// redrawn with probability r.scale.
func (r *Random) around(parent sdk.Genome) sdk.Genome {
	g := make(sdk.Genome, len(r.st.Space.Parameters))
	for _, p := range r.st.Space.Parameters {
		if evo.Numeric(p) {
			if u, ok := evo.Normalize(p, parent[p.Name]); ok {
				g[p.Name] = evo.Denormalize(p, evo.Reflect(u+r.scale*(r.st.RNG.Float64()-0.5)))
				continue
			}
		}
		v := r.st.RNG.Value(p)
		if r.st.RNG.Float64() >= r.scale {
			if pv, ok := parent[p.Name]; ok {
				v = evo.ClampValue(p, pv)
			}
		}
		g[p.Name] = v
	}
	return g
}

// Observe counts the results and keeps the best complete one; random
// search learns nothing else from them.
func (r *Random) Observe(results []sdk.Result) error {
	r.st.Observed += uint64(len(results))
	for _, res := range results {
		g, ok := r.st.Pending[res.ID]
		if !ok {
			continue
		}
		delete(r.st.Pending, res.ID)
		v, scored := res.Scores[r.st.Objective]
		if res.Failed || !scored || math.IsNaN(v) || !(res.Complete || res.Stage == "") {
			continue
		}
		if r.st.Maximize {
			v = -v
		}
		if r.st.Best == nil || v < r.st.Best.Score {
			r.st.Best = &best{ID: res.ID, Score: v, Genome: g}
		}
	}
	return nil
}

// Snapshot returns the space, the seed, the counters and the generator state.
func (r *Random) Snapshot() (json.RawMessage, error) {
	return json.Marshal(r.st)
}

// Restore loads a snapshot into a fresh instance.
func (r *Random) Restore(raw json.RawMessage) error {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: %v", err)
	}
	if st.RNG == nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: no generator state (rng)")
	}
	if err := st.Space.Validate(); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: space: %v", err)
	}
	r.st = st
	return nil
}
