package evotest

import (
	"encoding/json"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// smokeSpace is host/registry's smoke workload space: a 4-D sphere and a
// categorical.
const smokeSpace = `{"parameters": [{"name": "x0", "float": {"min": -5, "max": 5}}, {"name": "x1", "float": {"min": -5, "max": 5}},
 {"name": "x2", "float": {"min": -5, "max": 5}}, {"name": "x3", "float": {"min": -5, "max": 5}},
 {"name": "mode", "categorical": {"choices": ["a", "b", "c"]}}]}`

// ThroughTheDispatcher drives a registered strategy as the host does,
// through the SDK's dispatcher (sdk.Handle): the envelopes, every
// proposal inside the space, and restore on a fresh registration (what a
// fresh wasm instance is) reproducing the proposals, in the registry's
// smoke workload shape (8 generations of 8, snapshot after the fourth).
// register makes the plugin's registration again, as its init does.
func ThroughTheDispatcher(t *testing.T, register func()) {
	t.Helper()
	type envelope struct {
		V      int
		Result json.RawMessage
		Error  *sdk.Error
	}
	do := func(op, req string) json.RawMessage {
		t.Helper()
		var e envelope
		if err := json.Unmarshal(sdk.Handle(op, []byte(req)), &e); err != nil {
			t.Fatal(err)
		}
		if e.V != 1 || e.Error != nil {
			t.Fatalf("%s: %+v", op, e.Error)
		}
		return e.Result
	}
	sphere := func(g sdk.Genome) float64 {
		f := 0.0
		for _, n := range []string{"x0", "x1", "x2", "x3"} {
			x, _ := g.Float(n)
			f += x * x
		}
		if g["mode"] != "a" {
			f++
		}
		return f
	}
	var space sdk.SearchSpace
	if err := json.Unmarshal([]byte(smokeSpace), &space); err != nil {
		t.Fatal(err)
	}
	do(sdk.OpStrategyInit, `{"version":1,"space":`+smokeSpace+`,"objectives":[{"name":"f","direction":"MINIMIZE"}],"seed":"1","config":{}}`)
	var snap, want json.RawMessage
	for gen := range 8 {
		raw := do(sdk.OpStrategyPropose, `{"version":1,"n":8}`)
		if gen == 4 {
			want = raw
		}
		var pr sdk.ProposeResult
		if err := json.Unmarshal(raw, &pr); err != nil || len(pr.Candidates) == 0 || len(pr.Candidates) > 8 {
			t.Fatalf("propose: %s %v", raw, err)
		}
		var res []sdk.Result
		for _, c := range pr.Candidates {
			if err := c.Genome.Validate(space); err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			res = append(res, sdk.Result{ID: c.ID, Scores: map[string]float64{"f": sphere(c.Genome)}})
		}
		obs, _ := json.Marshal(sdk.ObserveRequest{Version: 1, Results: res})
		do(sdk.OpStrategyObserve, string(obs))
		if gen == 3 {
			snap = do(sdk.OpStrategySnapshot, `{"version":1}`)
		}
	}
	register() // drops the live instance, like a fresh wasm instance
	do(sdk.OpStrategyRestore, string(snap))
	if got := do(sdk.OpStrategyPropose, `{"version":1,"n":8}`); string(got) != string(want) {
		t.Fatalf("after restore:\n got %s\nwant %s", got, want)
	}
}
