package main

import (
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

const spaceJSON = `{"parameters": [{"name": "x", "float": {"min": -5, "max": 5}}, {"name": "steps", "sequence": {"choices": ["2opt", "oropt", "swap"], "minLength": 1, "maxLength": 4}}]}`

// The plugin as the host drives it, through the SDK's dispatcher: the
// registration in init, the envelopes, and restore on a fresh registration
// (what a fresh wasm instance is).
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
	do(sdk.OpStrategyInit, `{"version":1,"space":`+spaceJSON+`,"objectives":[{"name":"f","direction":"MINIMIZE"}],"seed":"9","config":{}}`)
	do(sdk.OpStrategyPropose, `{"version":1,"n":5}`)
	do(sdk.OpStrategyObserve, `{"version":1,"results":[{"id":"r-000001","scores":{"f":2},"failed":false,"reason":""}]}`)
	snap := do(sdk.OpStrategySnapshot, `{"version":1}`)
	want := do(sdk.OpStrategyPropose, `{"version":1,"n":8}`)

	register() // drops the live instance, like a fresh wasm instance
	do(sdk.OpStrategyRestore, string(snap))
	got := do(sdk.OpStrategyPropose, `{"version":1,"n":8}`)
	if string(got) != string(want) {
		t.Fatalf("after restore:\n got %s\nwant %s", got, want)
	}
	var pr sdk.ProposeResult
	if err := json.Unmarshal(got, &pr); err != nil || pr.Version != 1 || len(pr.Candidates) != 8 {
		t.Fatalf("propose result %s: %v", got, err)
	}
	if !strings.HasPrefix(pr.Candidates[0].ID, "r-0000") {
		t.Fatalf("id = %s", pr.Candidates[0].ID)
	}
}
