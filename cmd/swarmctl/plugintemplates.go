package main

// The templates of plugin init: main.go and main_test.go per kind. They are
// text/template sources with [[ ]] delimiters, filled with a pluginProject;
// the tests build every kind and push it through the gates.

// mainTemplates are main.go by kind.
var mainTemplates = map[string]string{
	"strategy":    strategyMain,
	"trust":       trustMain,
	"personality": personalityMain,
}

// testTemplates are main_test.go by kind.
var testTemplates = map[string]string{
	"strategy":    strategyTest,
	"trust":       trustTest,
	"personality": personalityTest,
}

const strategyMain = `// Command [[.Name]] is a Stratoswarm strategy plugin: an ask/tell optimiser
// that proposes genomes of a search space and learns from their scores.
//
// Build it with: swarmctl plugin build .
package main

import (
	"encoding/json"
	"strconv"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
)

// search is a random search that remembers its best candidate. Everything it
// knows is in its exported fields, so its snapshot is json.Marshal of it and
// a restored instance carries on exactly where the original was.
//
// Make it smarter in Propose (for example, mutate Best) and Observe.
type search struct {
	Space     sdk.SearchSpace       ` + "`json:\"space\"`" + `
	Objective sdk.Objective         ` + "`json:\"objective\"`" + `
	Rand      *sdk.Rand             ` + "`json:\"rand\"`" + `
	Next      int                   ` + "`json:\"next\"`" + `
	Best      sdk.Genome            ` + "`json:\"best,omitempty\"`" + `
	BestScore float64               ` + "`json:\"bestScore\"`" + `
	Proposed  map[string]sdk.Genome ` + "`json:\"proposed\"`" + `
}

// Init starts a run: the SDK has checked the request and the search space.
func (s *search) Init(req sdk.InitRequest) error {
	if len(req.Objectives) == 0 {
		return sdk.Errorf(sdk.CodeInvalid, "no objective to optimise")
	}
	s.Space, s.Objective = req.Space, req.Objectives[0]
	s.Rand = sdk.NewRand(req.Seed) // all randomness from the seed: reproducible
	s.Proposed = map[string]sdk.Genome{}
	return nil
}

// Propose draws n genomes uniformly from the search space.
func (s *search) Propose(n int) ([]sdk.Candidate, error) {
	out := make([]sdk.Candidate, 0, n)
	for range n {
		s.Next++
		c := sdk.Candidate{ID: "c-" + strconv.Itoa(s.Next), Genome: s.Rand.Genome(s.Space), Operator: "random"}
		s.Proposed[c.ID] = c.Genome
		out = append(out, c)
	}
	return out, nil
}

// Observe keeps the best genome seen so far.
func (s *search) Observe(results []sdk.Result) error {
	for _, r := range results {
		g, ok := s.Proposed[r.ID]
		delete(s.Proposed, r.ID)
		score, scored := r.Scores[s.Objective.Name]
		if !ok || r.Failed || !scored {
			continue
		}
		better := score < s.BestScore
		if s.Objective.Direction == sdk.Maximize {
			better = score > s.BestScore
		}
		if s.Best == nil || better {
			s.Best, s.BestScore = g, score
		}
	}
	return nil
}

// Snapshot returns the whole state.
func (s *search) Snapshot() (json.RawMessage, error) { return json.Marshal(s) }

// Restore loads a snapshot into a fresh instance.
func (s *search) Restore(state json.RawMessage) error { return json.Unmarshal(state, s) }

// A reactor module never runs main: register from init.
func init() { strategy.Register(func() sdk.Strategy { return &search{} }) }

func main() {}
`

const strategyTest = `package main

import (
	"encoding/json"
	"reflect"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// These tests run natively (go test): the SDK's types are plain Go.

func testSpace() sdk.SearchSpace {
	return sdk.SearchSpace{Parameters: []sdk.Parameter{
		{Name: "x", Float: &sdk.FloatParam{Min: -5, Max: 5}},
		{Name: "mode", Categorical: &sdk.CategoricalParam{Choices: []string{"a", "b"}}},
	}}
}

func TestProposalsAreInTheSpaceAndReproducible(t *testing.T) {
	req := sdk.InitRequest{Version: 1, Space: testSpace(), Seed: 7,
		Objectives: []sdk.Objective{{Name: "f", Direction: sdk.Minimize}}}
	a, b := &search{}, &search{}
	for _, s := range []*search{a, b} {
		if err := s.Init(req); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := a.Propose(4)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := b.Propose(4)
	for i, c := range ca {
		if err := c.Genome.Validate(testSpace()); err != nil {
			t.Errorf("candidate %s: %v", c.ID, err)
		}
		if !reflect.DeepEqual(c.Genome, cb[i].Genome) {
			t.Errorf("the same seed proposed %v and %v", c.Genome, cb[i].Genome)
		}
	}
	var results []sdk.Result
	for i, c := range ca {
		results = append(results, sdk.Result{ID: c.ID, Scores: map[string]float64{"f": float64(10 - i)}})
	}
	if err := a.Observe(results); err != nil {
		t.Fatal(err)
	}
	if a.BestScore != 7 || !reflect.DeepEqual(a.Best, ca[3].Genome) {
		t.Errorf("best %v (%g), want the last candidate (7)", a.Best, a.BestScore)
	}
}

func TestRestoreContinuesTheRun(t *testing.T) {
	s := &search{}
	if err := s.Init(sdk.InitRequest{Version: 1, Space: testSpace(), Seed: 1,
		Objectives: []sdk.Objective{{Name: "f", Direction: sdk.Minimize}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Propose(3); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := &search{}
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	want, _ := s.Propose(3)
	got, _ := restored.Propose(3)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Errorf("after restore:\n got %s\nwant %s", gj, wj)
	}
}
`

const trustMain = `// Command [[.Name]] is a Stratoswarm trust plugin: it turns the evidence
// recorded about an agent into a trust score.
//
// Build it with: swarmctl plugin build .
package main

import (
	"math"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/trust"
)

// beta scores with the mean of a Beta posterior: each piece of evidence adds
// its weight to the good or the bad count, starting from one of each. The
// lower bound is two standard deviations below the mean.
//
// Replaying the same evidence must give the same score, so the score
// depends on the request only.
type beta struct{}

// Score computes the trust score of the request's evidence.
func (beta) Score(req sdk.ScoreRequest) (sdk.TrustScore, error) {
	good, bad := 1.0, 1.0
	for _, e := range req.Evidence {
		w := e.Weight
		if w <= 0 {
			w = 1
		}
		if e.Positive {
			good += w
		} else {
			bad += w
		}
	}
	n := good + bad
	mean := good / n
	sd := math.Sqrt(good * bad / (n * n * (n + 1)))
	return sdk.TrustScore{
		Score:       mean,
		Uncertainty: math.Min(1, 2*sd),
		LowerBound:  math.Max(0, mean-2*sd),
	}, nil
}

// A reactor module never runs main: register from init.
func init() { trust.Register(func() sdk.TrustScorer { return beta{} }) }

func main() {}
`

const trustTest = `package main

import (
	"testing"
	"time"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// These tests run natively (go test): the SDK's types are plain Go.

func evidence(good, bad int) []sdk.Evidence {
	var out []sdk.Evidence
	for i := range good + bad {
		out = append(out, sdk.Evidence{Time: time.Unix(0, 0), Kind: "task", Positive: i < good, Weight: 1})
	}
	return out
}

func TestMoreGoodEvidenceScoresHigher(t *testing.T) {
	var prev float64 = 2
	for _, e := range [][2]int{{9, 1}, {0, 0}, {1, 9}} {
		s, err := beta{}.Score(sdk.ScoreRequest{Version: 1, Evidence: evidence(e[0], e[1])})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []float64{s.Score, s.Uncertainty, s.LowerBound} {
			if x < 0 || x > 1 {
				t.Errorf("%v: %+v is outside [0, 1]", e, s)
			}
		}
		if s.Score >= prev {
			t.Errorf("%v: score %g is not below the previous %g", e, s.Score, prev)
		}
		prev = s.Score
	}
}
`

const personalityMain = `// Command [[.Name]] is a Stratoswarm personality plugin: it shapes how an
// agent evolves from its role, generation and trust.
//
// Build it with: swarmctl plugin build .
package main

import (
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/personality"
)

// cautious explores while trust is low and rolls out faster as it grows.
type cautious struct{}

// Adjust returns the agent's adjustment; every value is in [0, 1].
func (cautious) Adjust(req sdk.AdjustRequest) (sdk.Adjustment, error) {
	t := min(max(req.Trust, 0), 1)
	return sdk.Adjustment{
		MutationBias:     1 - t, // mutate more while unproven
		ResourceHeadroom: 0.2,
		CanaryPace:       t, // roll out as fast as trust allows
	}, nil
}

// A reactor module never runs main: register from init.
func init() { personality.Register(func() sdk.Personality { return cautious{} }) }

func main() {}
`

const personalityTest = `package main

import (
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// These tests run natively (go test): the SDK's types are plain Go.

func TestAdjustmentsAreInRange(t *testing.T) {
	var pace []float64
	for _, trust := range []float64{-1, 0.1, 0.5, 0.9, 2} {
		a, err := cautious{}.Adjust(sdk.AdjustRequest{Version: 1, Role: "solver", Trust: trust})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []float64{a.MutationBias, a.ResourceHeadroom, a.CanaryPace} {
			if x < 0 || x > 1 {
				t.Errorf("trust %g: %+v is outside [0, 1]", trust, a)
			}
		}
		pace = append(pace, a.CanaryPace)
	}
	if pace[3] <= pace[1] {
		t.Errorf("canary pace does not grow with trust: %v", pace)
	}
}
`
