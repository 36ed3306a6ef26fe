package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

type envelope struct {
	V      int
	Result json.RawMessage
	Error  *sdk.Error
}

func call(t *testing.T, op, req string) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(sdk.Handle(op, []byte(req)), &e); err != nil {
		t.Fatal(err)
	}
	if e.V != 1 {
		t.Fatalf("%s: envelope version %d", op, e.V)
	}
	return e
}

func do(t *testing.T, op, req string) json.RawMessage {
	t.Helper()
	e := call(t, op, req)
	if e.Error != nil {
		t.Fatalf("%s: %+v", op, e.Error)
	}
	return e.Result
}

// smokeSpace is the host's strategy smoke workload (host/registry/smoke.go):
// a 4-D sphere plus a categorical whose only free choice is "a", as
// protojson writes it.
const smokeSpace = `{"parameters":[{"name":"x0","float":{"min":-5,"max":5}},{"name":"x1","float":{"min":-5,"max":5}},` +
	`{"name":"x2","float":{"min":-5,"max":5}},{"name":"x3","float":{"min":-5,"max":5}},` +
	`{"name":"mode","categorical":{"choices":["a","b","c"]}}]}`

func sphere(g map[string]any) float64 {
	f := 0.0
	for _, n := range []string{"x0", "x1", "x2", "x3"} {
		x, _ := g[n].(float64)
		f += x * x
	}
	if g["mode"] != "a" {
		f++
	}
	return f
}

// The plugin as the host drives it, through the SDK's dispatcher: the smoke
// workload's 8 generations of batch 8 (λ = 8 for 4 coordinates), a snapshot
// after the fourth, and a fresh registration (what a fresh wasm instance
// is) restored from it, which must propose what the original did.
func TestThroughTheDispatcher(t *testing.T) {
	register()
	do(t, sdk.OpStrategyInit, `{"version":1,"space":`+smokeSpace+`,"objectives":[{"name":"f","direction":"MINIMIZE"}],"seed":1,"config":{}}`)
	type proposeResult struct {
		Version    int
		Candidates []sdk.Candidate
	}
	var snap, afterSnap json.RawMessage
	best := math.Inf(1)
	for gen := range 8 {
		raw := do(t, sdk.OpStrategyPropose, `{"version":1,"n":8}`)
		var pr proposeResult
		if err := json.Unmarshal(raw, &pr); err != nil || pr.Version != 1 || len(pr.Candidates) != 8 {
			t.Fatalf("generation %d: propose result %s: %v", gen, raw, err)
		}
		if gen == 4 {
			afterSnap = raw
		}
		var obs []string
		for i, c := range pr.Candidates {
			if want := fmt.Sprintf("g%04d-c%02d", gen, i); c.ID != want || c.Operator != "cmaes" {
				t.Fatalf("candidate %s (operator %q), want id %s", c.ID, c.Operator, want)
			}
			f := sphere(c.Genome)
			best = math.Min(best, f)
			obs = append(obs, fmt.Sprintf(`{"id":%q,"scores":{"f":%v},"failed":false,"reason":""}`, c.ID, f))
		}
		do(t, sdk.OpStrategyObserve, `{"version":1,"results":[`+strings.Join(obs, ",")+`]}`)
		if gen == 3 {
			snap = do(t, sdk.OpStrategySnapshot, `{"version":1}`)
		}
	}
	if !(best < 10) {
		t.Fatalf("best after 64 evaluations: %v", best)
	}
	register() // drops the live instance, like a fresh wasm instance
	do(t, sdk.OpStrategyRestore, string(snap))
	if got := do(t, sdk.OpStrategyPropose, `{"version":1,"n":8}`); string(got) != string(afterSnap) {
		t.Fatalf("after restore:\n got %s\nwant %s", got, afterSnap)
	}
}

// Configuration errors come back as "invalid" envelopes.
func TestConfigErrorsThroughTheDispatcher(t *testing.T) {
	register()
	for _, config := range []string{`{"lambda":1}`, `{"sigma":0.3}`, `{"restarts":"sometimes"}`, `[1]`} {
		e := call(t, sdk.OpStrategyInit, `{"version":1,"space":`+smokeSpace+`,"objectives":[{"name":"f"}],"seed":1,"config":`+config+`}`)
		if e.Error == nil || e.Error.Code != sdk.CodeInvalid {
			t.Errorf("config %s: %+v", config, e.Error)
		}
	}
	e := call(t, sdk.OpStrategyInit, `{"version":1,"space":`+smokeSpace+`,"seed":1}`)
	if e.Error == nil || e.Error.Code != sdk.CodeInvalid || !strings.Contains(e.Error.Message, "objective") {
		t.Errorf("no objective: %+v", e.Error)
	}
}
