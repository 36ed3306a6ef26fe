// Command trapstrategy is the built-in random strategy with a bug that its
// gates do not catch, for the plugin canary tests: it traps (panics) in
// propose whenever the search space has no parameter named "mode". The
// registry's smoke workload has one, so the version passes its gates and
// becomes a Candidate; real evolutions (bbob's x0, x1, ...) have none, so
// every one of them pauses at its first propose.
package main

import (
	"encoding/json"

	"github.com/stratoswarm/stratoswarm/plugins/strategy/random/randomsearch"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { strategy.Register(func() sdk.Strategy { return &trap{Random: &randomsearch.Random{}} }) }

func main() {}

type trap struct {
	*randomsearch.Random
	hasMode bool
}

func (t *trap) Init(req sdk.InitRequest) error {
	t.hasMode = false
	for _, p := range req.Space.Parameters {
		if p.Name == "mode" {
			t.hasMode = true
		}
	}
	return t.Random.Init(req)
}

// Restore reads the space back from the snapshot, so that a restored
// instance traps exactly when the original would.
func (t *trap) Restore(raw json.RawMessage) error {
	if err := t.Random.Restore(raw); err != nil {
		return err
	}
	var st struct {
		Space sdk.SearchSpace `json:"space"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	t.hasMode = false
	for _, p := range st.Space.Parameters {
		if p.Name == "mode" {
			t.hasMode = true
		}
	}
	return nil
}

func (t *trap) Propose(n int) ([]sdk.Candidate, error) {
	if !t.hasMode {
		panic("trapstrategy: no parameter \"mode\" in the search space")
	}
	return t.Random.Propose(n)
}
