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
package randomsearch

import (
	"encoding/json"
	"fmt"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Random is the strategy. Its whole state is the snapshot.
type Random struct {
	st state
}

// state is what Snapshot writes and Restore reads.
type state struct {
	Space    sdk.SearchSpace `json:"space"`
	Seed     uint64          `json:"seed"`
	Proposed uint64          `json:"proposed"`
	Observed uint64          `json:"observed"`
	RNG      *sdk.Rand       `json:"rng"`
}

// Init starts a run over req.Space seeded with req.Seed. The strategy has no
// configuration; any config is ignored.
func (r *Random) Init(req sdk.InitRequest) error {
	r.st = state{Space: req.Space, Seed: req.Seed, RNG: sdk.NewRand(req.Seed)}
	return nil
}

// Propose draws n genomes. Candidate ids are "r-" and a counter, so they are
// unique within the run and continue across a restore.
func (r *Random) Propose(n int) ([]sdk.Candidate, error) {
	out := make([]sdk.Candidate, n)
	for i := range out {
		r.st.Proposed++
		out[i] = sdk.Candidate{
			ID:       fmt.Sprintf("r-%06d", r.st.Proposed),
			Genome:   r.st.RNG.Genome(r.st.Space),
			Operator: "random",
		}
	}
	return out, nil
}

// Observe counts the results; random search learns nothing from them.
func (r *Random) Observe(results []sdk.Result) error {
	r.st.Observed += uint64(len(results))
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
