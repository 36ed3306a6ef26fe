package main

import (
	"encoding/json"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// The smoke workload's space (host/registry/smoke.go): a 4-D sphere and a
// categorical.
const spaceJSON = `{"parameters": [{"name": "x0", "float": {"min": -5, "max": 5}}, {"name": "x1", "float": {"min": -5, "max": 5}},
 {"name": "x2", "float": {"min": -5, "max": 5}}, {"name": "x3", "float": {"min": -5, "max": 5}},
 {"name": "mode", "categorical": {"choices": ["a", "b", "c"]}}]}`

// The plugin as the host drives it, through the SDK's dispatcher: the
// registration in init, the envelopes, and restore on a fresh registration
// (what a fresh wasm instance is), in the smoke workload's shape (8
// generations of 8, snapshot after the fourth).
func TestThroughTheDispatcher(t *testing.T) {
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
	if err := json.Unmarshal([]byte(spaceJSON), &space); err != nil {
		t.Fatal(err)
	}
	do(sdk.OpStrategyInit, `{"version":1,"space":`+spaceJSON+`,"objectives":[{"name":"f","direction":"MINIMIZE"}],"seed":"1","config":{}}`)
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
