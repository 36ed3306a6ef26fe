// Command badstrategy is a misbehaving strategy for the engine's tests. Its
// config picks the misbehaviour: "outside" proposes genomes outside the
// space, "trap_at": N panics on the N-th propose (the SDK turns a panic into
// a "panic" envelope, which the host counts as a crash).
package main

import (
	"encoding/json"
	"fmt"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

func init() { strategy.Register(func() sdk.Strategy { return &bad{} }) }

func main() {}

type config struct {
	Outside bool `json:"outside"`
	TrapAt  int  `json:"trap_at"`
}

type state struct {
	Space    sdk.SearchSpace `json:"space"`
	Cfg      config          `json:"cfg"`
	Proposed int             `json:"proposed"`
	Calls    int             `json:"calls"`
	RNG      *sdk.Rand       `json:"rng"`
}

type bad struct{ st state }

func (b *bad) Init(req sdk.InitRequest) error {
	b.st = state{Space: req.Space, RNG: sdk.NewRand(req.Seed)}
	if len(req.Config) > 0 {
		if err := json.Unmarshal(req.Config, &b.st.Cfg); err != nil {
			return sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
		}
	}
	return nil
}

func (b *bad) Propose(n int) ([]sdk.Candidate, error) {
	b.st.Calls++
	if b.st.Cfg.TrapAt > 0 && b.st.Calls >= b.st.Cfg.TrapAt {
		panic(fmt.Sprintf("propose %d: deliberate crash", b.st.Calls))
	}
	out := make([]sdk.Candidate, n)
	for i := range out {
		b.st.Proposed++
		g := b.st.RNG.Genome(b.st.Space)
		if b.st.Cfg.Outside {
			for _, p := range b.st.Space.Parameters {
				g[p.Name] = 1e9
			}
		}
		out[i] = sdk.Candidate{ID: fmt.Sprintf("b-%04d", b.st.Proposed), Genome: g, Operator: "bad"}
	}
	return out, nil
}

func (b *bad) Observe([]sdk.Result) error { return nil }

func (b *bad) Snapshot() (json.RawMessage, error) { return json.Marshal(b.st) }

func (b *bad) Restore(raw json.RawMessage) error {
	if err := json.Unmarshal(raw, &b.st); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: %v", err)
	}
	return nil
}
