// Package evotest helps test strategies natively: toy problems with
// per-task scores, a driver that runs the ask/tell loop the way the engine
// does while checking every proposal against the space, a restore check, a
// random-search baseline, and a cassette of recorded LLM answers for
// sdk.SetLLM.
package evotest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

// Problem is a toy benchmark: a space, its objectives, and an evaluation.
type Problem struct {
	// Space is the search space.
	Space sdk.SearchSpace
	// Objectives has one objective, the one Evaluate scores.
	Objectives []sdk.Objective
	// Evaluate scores a genome; the driver sets the result's ID.
	Evaluate func(g sdk.Genome) sdk.Result
}

// Minimize reports whether the problem's objective is minimised.
func (p Problem) Minimize() bool { return p.Objectives[0].Direction == sdk.Minimize }

// Target is the workflow the toy problems reward: C A D B.
func Target() []string { return []string{"C", "A", "D", "B"} }

// Center is the sphere's optimum, away from the middle of the space (the
// default genome) so that starting there is no shortcut.
func Center() []float64 { return []float64{1.5, -2.5, 3, -1} }

// toySpace is a 4-D sphere, a categorical whose right choice is "c" (not the
// first), and an ordered workflow of 1..6 steps over A-D whose right value
// is C A D B.
func toySpace() sdk.SearchSpace {
	s := sdk.SearchSpace{}
	for _, n := range []string{"x0", "x1", "x2", "x3"} {
		s.Parameters = append(s.Parameters, sdk.Parameter{Name: n, Float: &sdk.FloatParam{Min: -5, Max: 5}})
	}
	s.Parameters = append(s.Parameters,
		sdk.Parameter{Name: "mode", Categorical: &sdk.CategoricalParam{Choices: []string{"a", "b", "c"}}},
		sdk.Parameter{Name: "steps", Sequence: &sdk.SequenceParam{Choices: []string{"A", "B", "C", "D"}, MinLength: 1, MaxLength: 6}},
	)
	return s
}

// parts are the toy problem's three task scores, each >= 0, 0 at the
// optimum: the shifted sphere, the category, the workflow's edit distance.
func parts(g sdk.Genome) (sphere, mode, workflow float64) {
	for i, n := range []string{"x0", "x1", "x2", "x3"} {
		x, _ := g.Float(n)
		sphere += (x - Center()[i]) * (x - Center()[i])
	}
	if m, _ := g.String("mode"); m != "c" {
		mode = 1
	}
	steps, _ := g.Sequence("steps")
	workflow = float64(evo.Levenshtein(steps, Target()))
	return sphere, mode, workflow
}

// Sphere is the minimised toy problem "f" = sphere + category + workflow
// edit distance, with the three parts as tasks "sphere", "mode" and
// "workflow".
func Sphere() Problem {
	return Problem{
		Space:      toySpace(),
		Objectives: []sdk.Objective{{Name: "f", Direction: sdk.Minimize}},
		Evaluate: func(g sdk.Genome) sdk.Result {
			s, m, w := parts(g)
			return sdk.Result{
				Scores: map[string]float64{"f": s + m + w},
				Tasks: []sdk.TaskScore{
					{Task: "sphere", Scores: map[string]float64{"f": s}},
					{Task: "mode", Scores: map[string]float64{"f": m}, Failed: m > 0},
					{Task: "workflow", Scores: map[string]float64{"f": w}},
				},
			}
		},
	}
}

// Accuracy is the maximised toy problem "acc" in [0, 1]: ten 0/1 tasks
// t0..t9, task t solved when exp(−f/20) >= (t+0.5)/10, f as in Sphere; acc is
// the fraction solved (like an accuracy over a validation set).
func Accuracy() Problem {
	return Problem{
		Space:      toySpace(),
		Objectives: []sdk.Objective{{Name: "acc", Direction: sdk.Maximize}},
		Evaluate: func(g sdk.Genome) sdk.Result {
			s, m, w := parts(g)
			q := math.Exp(-(s + m + w) / 20)
			var tasks []sdk.TaskScore
			solved := 0.0
			for t := range 10 {
				v := 0.0
				if q >= (float64(t)+0.5)/10 {
					v = 1
					solved++
				}
				tasks = append(tasks, sdk.TaskScore{Task: fmt.Sprintf("t%d", t), Scores: map[string]float64{"acc": v}})
			}
			return sdk.Result{Scores: map[string]float64{"acc": solved / 10}, Tasks: tasks}
		},
	}
}

// Trace is what Drive saw.
type Trace struct {
	// Candidates are all proposals in order.
	Candidates []sdk.Candidate
	// Best is the best raw score seen (per the objective's direction).
	Best float64
}

// Init starts s on p with seed and a JSON config ("" for none).
func Init(s sdk.Strategy, p Problem, seed uint64, config string) error {
	req := sdk.InitRequest{Version: 1, Space: p.Space, Objectives: p.Objectives, Seed: seed}
	if config != "" {
		req.Config = json.RawMessage(config)
	}
	return s.Init(req)
}

// Step proposes n candidates, checks them (between 1 and n, ids new and
// non-empty, genomes inside the space), evaluates them with p and observes
// the results. seen collects ids across steps.
func Step(s sdk.Strategy, p Problem, n int, seen map[string]bool) ([]sdk.Candidate, []sdk.Result, error) {
	cs, err := s.Propose(n)
	if err != nil {
		return nil, nil, fmt.Errorf("propose: %w", err)
	}
	if len(cs) == 0 || len(cs) > n {
		return nil, nil, fmt.Errorf("propose(%d) returned %d candidates", n, len(cs))
	}
	results := make([]sdk.Result, len(cs))
	for i, c := range cs {
		if c.ID == "" || seen[c.ID] {
			return nil, nil, fmt.Errorf("candidate id %q is empty or repeated", c.ID)
		}
		seen[c.ID] = true
		if err := c.Genome.Validate(p.Space); err != nil {
			return nil, nil, fmt.Errorf("candidate %s outside the space: %v (%v)", c.ID, err, c.Genome)
		}
		results[i] = p.Evaluate(c.Genome)
		results[i].ID = c.ID
	}
	if err := s.Observe(results); err != nil {
		return nil, nil, fmt.Errorf("observe: %w", err)
	}
	return cs, results, nil
}

// Drive initialises s and runs gens propose/observe steps of batch n,
// checking every proposal (see Step).
func Drive(s sdk.Strategy, p Problem, seed uint64, config string, gens, n int) (Trace, error) {
	tr := Trace{Best: math.Inf(1)}
	if !p.Minimize() {
		tr.Best = math.Inf(-1)
	}
	if err := Init(s, p, seed, config); err != nil {
		return tr, fmt.Errorf("init: %w", err)
	}
	seen := map[string]bool{}
	for range gens {
		cs, rs, err := Step(s, p, n, seen)
		if err != nil {
			return tr, err
		}
		tr.Candidates = append(tr.Candidates, cs...)
		for _, r := range rs {
			v := r.Scores[p.Objectives[0].Name]
			if p.Minimize() && v < tr.Best || !p.Minimize() && v > tr.Best {
				tr.Best = v
			}
		}
	}
	return tr, nil
}

// CheckRestore runs fresh() on p for at steps, takes a snapshot (through
// JSON, as the host stores it), runs both the original and a fresh instance
// restored from the snapshot for more steps with the same observations, and
// returns an error at the first proposal that differs.
func CheckRestore(fresh func() sdk.Strategy, p Problem, seed uint64, config string, at, more, n int) error {
	orig := fresh()
	if err := Init(orig, p, seed, config); err != nil {
		return err
	}
	seen := map[string]bool{}
	for range at {
		if _, _, err := Step(orig, p, n, seen); err != nil {
			return err
		}
	}
	state, err := orig.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if !json.Valid(state) {
		return errors.New("snapshot is not JSON")
	}
	restored := fresh()
	if err := restored.Restore(append(json.RawMessage(nil), state...)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	seen2 := map[string]bool{}
	for k := range seen {
		seen2[k] = true
	}
	for i := range more {
		a, _, err := Step(orig, p, n, seen)
		if err != nil {
			return err
		}
		b, _, err := Step(restored, p, n, seen2)
		if err != nil {
			return fmt.Errorf("restored: %w", err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			return fmt.Errorf("step %d after the restore differs:\n original %s\n restored %s", i, ja, jb)
		}
	}
	return nil
}

// RandomBest is the best raw score of uniform random search with evals
// evaluations.
func RandomBest(p Problem, seed uint64, evals int) float64 {
	rng := sdk.NewRand(seed)
	best := math.Inf(1)
	if !p.Minimize() {
		best = math.Inf(-1)
	}
	for range evals {
		v := p.Evaluate(rng.Genome(p.Space)).Scores[p.Objectives[0].Name]
		if p.Minimize() && v < best || !p.Minimize() && v > best {
			best = v
		}
	}
	return best
}

// Same reports whether two traces proposed the same candidates.
func Same(a, b Trace) bool { return reflect.DeepEqual(a.Candidates, b.Candidates) }

// Cassette replays recorded LLM answers in order, for sdk.SetLLM. Each
// entry's Match must occur in the request it answers; a request past the
// end, or one that does not match, gets an error answer (which strategies
// treat as a failed completion and fall back from).
type Cassette struct {
	mu      sync.Mutex
	entries []Entry
	next    int
	// Requests are the requests received, decoded.
	Requests []sdk.ChatRequest
	// Mismatches names requests that did not match their entry.
	Mismatches []string
}

// Entry is one recorded exchange.
type Entry struct {
	// Match is a substring the request's JSON must contain.
	Match string
	// Answer is the assistant message's content.
	Answer string
}

// NewCassette returns a cassette of entries.
func NewCassette(entries ...Entry) *Cassette { return &Cassette{entries: entries} }

// Hook is the function to pass to sdk.SetLLM.
func (c *Cassette) Hook() func([]byte) ([]byte, error) {
	return func(req []byte) ([]byte, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		var r sdk.ChatRequest
		_ = json.Unmarshal(req, &r)
		c.Requests = append(c.Requests, r)
		if c.next >= len(c.entries) {
			return []byte(`{"error":{"message":"cassette exhausted","type":"cassette"}}`), nil
		}
		e := c.entries[c.next]
		if !strings.Contains(string(req), e.Match) {
			c.Mismatches = append(c.Mismatches, fmt.Sprintf("request %d lacks %q", c.next, e.Match))
			return []byte(`{"error":{"message":"request does not match the cassette","type":"cassette"}}`), nil
		}
		c.next++
		return json.Marshal(map[string]any{
			"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": e.Answer}, "finish_reason": "stop"}},
		})
	}
}

// Used is how many entries have been played.
func (c *Cassette) Used() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}
