package randomsearch

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

const spaceJSON = `{"parameters": [
  {"name": "x", "float": {"min": -5, "max": 5}},
  {"name": "lr", "float": {"min": 0.0001, "max": 0.1, "log": true}},
  {"name": "k", "int": {"min": "-3", "max": "3"}},
  {"name": "algo", "categorical": {"choices": ["ga", "de", "cma"]}},
  {"name": "on", "bool": {}},
  {"name": "steps", "sequence": {"choices": ["2opt", "oropt", "swap"], "minLength": 1, "maxLength": 4}},
  {"name": "prompt", "text": {"maxLength": 100}},
  {"name": "solver", "code": {"language": "python"}}
]}`

func space(t *testing.T) sdk.SearchSpace {
	t.Helper()
	var s sdk.SearchSpace
	if err := json.Unmarshal([]byte(spaceJSON), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newRun(t *testing.T, seed uint64) *Random {
	t.Helper()
	r := &Random{}
	if err := r.Init(sdk.InitRequest{Version: 1, Space: space(t), Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return r
}

func propose(t *testing.T, r *Random, n int) []sdk.Candidate {
	t.Helper()
	c, err := r.Propose(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != n {
		t.Fatalf("asked for %d candidates, got %d", n, len(c))
	}
	return c
}

func TestProposalsStayInsideTheSpace(t *testing.T) {
	s := space(t)
	r := newRun(t, 1)
	ids := map[string]bool{}
	belowMid, seqLens, cats := 0, map[int]int{}, map[string]int{}
	const batches, n = 50, 40
	for range batches {
		for _, c := range propose(t, r, n) {
			if err := c.Genome.Validate(s); err != nil {
				t.Fatalf("%s: %v: %v", c.ID, c.Genome, err)
			}
			if ids[c.ID] {
				t.Fatalf("id %s proposed twice", c.ID)
			}
			ids[c.ID] = true
			if c.Operator != "random" || len(c.Parents) != 0 {
				t.Fatalf("%s: operator %q parents %v", c.ID, c.Operator, c.Parents)
			}
			if p, _ := c.Genome.String("prompt"); p != "" {
				t.Fatalf("text should stay empty, got %q", p)
			}
			if lr, _ := c.Genome.Float("lr"); lr < math.Sqrt(0.0001*0.1) {
				belowMid++
			}
			steps, _ := c.Genome.Sequence("steps")
			seqLens[len(steps)]++
			a, _ := c.Genome.String("algo")
			cats[a]++
		}
	}
	total := batches * n
	// Log-uniform: half the draws lie below the geometric midpoint (a
	// uniform draw would put 3% there).
	if f := float64(belowMid) / float64(total); f < 0.45 || f > 0.55 {
		t.Fatalf("%.3f of log-scale draws below the geometric midpoint, want about 0.5", f)
	}
	if len(seqLens) != 4 || len(cats) != 3 {
		t.Fatalf("not every length or category was drawn: %v %v", seqLens, cats)
	}
}

func TestSeedPicksTheProposals(t *testing.T) {
	a, b, c := propose(t, newRun(t, 42), 5), propose(t, newRun(t, 42), 5), propose(t, newRun(t, 43), 5)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different proposals")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 gave the same proposals")
	}
}

func TestRestoreReproducesProposals(t *testing.T) {
	orig := newRun(t, 7)
	propose(t, orig, 3)
	if err := orig.Observe([]sdk.Result{{ID: "r-000001", Scores: map[string]float64{"f": 1}}}); err != nil {
		t.Fatal(err)
	}
	snap, err := orig.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := propose(t, orig, 6)

	fresh := &Random{}
	if err := fresh.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got := propose(t, fresh, 6)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after restore:\n got %v\nwant %v", got, want)
	}
	if got[0].ID != "r-000004" {
		t.Fatalf("ids should continue after a restore, got %s", got[0].ID)
	}
	if fresh.st.Observed != 1 {
		t.Fatalf("observed = %d after restore, want 1", fresh.st.Observed)
	}

	for _, bad := range []string{`{}`, `[]`, `{"rng": "AAAA"}`, `{"rng": 5}`,
		`{"space": {"parameters": [{"name": "x"}]}, "rng": ` + string(mustJSON(t, sdk.NewRand(1))) + `}`} {
		if err := (&Random{}).Restore(json.RawMessage(bad)); err == nil {
			t.Errorf("Restore(%s) succeeded", bad)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
