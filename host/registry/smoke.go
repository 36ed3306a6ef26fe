package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/space"
)

// The smoke workloads are the reference workloads of each kind until the
// evolution engine's suites exist: small, deterministic, and strict about
// the ABI contract (schemas, ranges, reproducible restore).

// smokeSpace is the strategy smoke search space: a 4-D sphere plus a
// categorical whose only free choice is "a".
func smokeSpace() *v1.SearchSpace {
	s := &v1.SearchSpace{}
	for _, n := range []string{"x0", "x1", "x2", "x3"} {
		s.Parameters = append(s.Parameters, &v1.Parameter{Name: n, Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: -5, Max: 5}}})
	}
	s.Parameters = append(s.Parameters, &v1.Parameter{Name: "mode", Type: &v1.Parameter_Categorical{Categorical: &v1.Parameter_Choices{Choices: []string{"a", "b", "c"}}}})
	return s
}

// sphere is the smoke objective: lower is better, 0 at the optimum.
func sphere(g space.Genome) float64 {
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

type candidate struct {
	ID       string         `json:"id"`
	Genome   space.Genome   `json:"genome"`
	Parents  []string       `json:"parents,omitempty"`
	Operator string         `json:"operator,omitempty"`
	Extra    map[string]any `json:"-"`
}

type proposeResult struct {
	Version    int         `json:"version"`
	Candidates []candidate `json:"candidates"`
}

type observation struct {
	ID     string             `json:"id"`
	Scores map[string]float64 `json:"scores"`
	Failed bool               `json:"failed"`
}

// smoke runs the kind's workload and returns its scores.
func (r *Registry) smoke(ctx context.Context, id string, module []byte, m Manifest) (map[string]float64, error) {
	granted, optional := r.grantsFor(m)
	p, err := r.opts.Host.Load(ctx, module, plugin.Config{
		ID: id, Kind: plugin.Kind(m.Kind), Capabilities: granted, Optional: optional, Limits: limits(m), Seed: 1, MaxInstances: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer p.Close(context.Background())
	switch m.Kind {
	case KindStrategy:
		return smokeStrategy(ctx, p)
	case KindTrust:
		return smokeTrust(ctx, p)
	case KindPersonality:
		return smokePersonality(ctx, p)
	}
	return nil, fmt.Errorf("no smoke workload for kind %q", m.Kind)
}

func call(ctx context.Context, c interface {
	Call(context.Context, string, []byte) (json.RawMessage, error)
}, op string, req any, out any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	res, err := c.Call(ctx, op, b)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(res, out); err != nil {
		return fmt.Errorf("%s: result does not match the schema: %v", op, err)
	}
	return nil
}

func smokeStrategy(ctx context.Context, p *plugin.Plugin) (map[string]float64, error) {
	const gens, batch, snapAt = 8, 8, 4
	spaceJSON, err := protojson.Marshal(smokeSpace())
	if err != nil {
		return nil, err
	}
	init := map[string]any{
		"version": 1, "space": json.RawMessage(spaceJSON), "seed": 1,
		"objectives": []map[string]string{{"name": "f", "direction": "MINIMIZE"}}, "config": map[string]any{},
	}
	s, err := p.Session(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close(context.Background())
	if err := call(ctx, s, "init", init, nil); err != nil {
		return nil, err
	}
	best, calls, evals := math.Inf(1), 0, 0
	var spent time.Duration
	var snapshot json.RawMessage
	var afterSnap []candidate
	for gen := range gens {
		var pr proposeResult
		t0 := time.Now()
		if err := call(ctx, s, "propose", map[string]any{"version": 1, "n": batch}, &pr); err != nil {
			return nil, err
		}
		spent += time.Since(t0)
		calls++
		if len(pr.Candidates) == 0 || len(pr.Candidates) > batch {
			return nil, fmt.Errorf("propose: asked for %d candidates, got %d", batch, len(pr.Candidates))
		}
		if gen == snapAt {
			afterSnap = pr.Candidates
		}
		var obs []observation
		for _, c := range pr.Candidates {
			if err := space.CheckGenome(smokeSpace(), c.Genome); err != nil {
				return nil, fmt.Errorf("proposed genome outside the search space: candidate %q: %w", c.ID, err)
			}
			f := sphere(c.Genome)
			best = math.Min(best, f)
			evals++
			obs = append(obs, observation{ID: c.ID, Scores: map[string]float64{"f": f}})
		}
		t0 = time.Now()
		if err := call(ctx, s, "observe", map[string]any{"version": 1, "results": obs}, nil); err != nil {
			return nil, err
		}
		spent += time.Since(t0)
		calls++
		if gen == snapAt-1 {
			var snap struct {
				Version int             `json:"version"`
				State   json.RawMessage `json:"state"`
			}
			if err := call(ctx, s, "snapshot", map[string]any{"version": 1}, &snap); err != nil {
				return nil, err
			}
			snapshot, _ = json.Marshal(snap)
		}
	}
	// A fresh instance restored from the snapshot must propose what the
	// original proposed next: the host can always rebuild a plugin's state.
	s2, err := p.Session(ctx)
	if err != nil {
		return nil, err
	}
	defer s2.Close(context.Background())
	if _, err := s2.Call(ctx, "restore", snapshot); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	var again proposeResult
	if err := call(ctx, s2, "propose", map[string]any{"version": 1, "n": batch}, &again); err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(genomes(again.Candidates), genomes(afterSnap)) {
		return nil, fmt.Errorf("restore does not reproduce the strategy: after restoring the snapshot, propose returned other genomes than the original instance")
	}
	return map[string]float64{
		"smoke_best":        best,
		"smoke_evaluations": float64(evals),
		"smoke_ms_per_call": float64(spent.Microseconds()) / 1000 / float64(calls),
	}, nil
}

func genomes(cs []candidate) []space.Genome {
	out := make([]space.Genome, len(cs))
	for i, c := range cs {
		out[i] = c.Genome
	}
	return out
}

type trustScore struct {
	Version     int     `json:"version"`
	Score       float64 `json:"score"`
	Uncertainty float64 `json:"uncertainty"`
	LowerBound  float64 `json:"lowerBound"`
}

func smokeTrust(ctx context.Context, p *plugin.Plugin) (map[string]float64, error) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evidence := func(pos, neg int) []map[string]any {
		var out []map[string]any
		for i := range pos + neg {
			out = append(out, map[string]any{"time": now.Add(-time.Hour).Format(time.RFC3339), "kind": "task", "positive": i < pos, "weight": 1})
		}
		return out
	}
	var scores [3]trustScore
	for i, e := range [][2]int{{9, 1}, {0, 0}, {1, 9}} {
		req := map[string]any{"version": 1, "now": now.Format(time.RFC3339), "evidence": evidence(e[0], e[1])}
		if err := call(ctx, p, "score", req, &scores[i]); err != nil {
			return nil, err
		}
		for name, x := range map[string]float64{"score": scores[i].Score, "uncertainty": scores[i].Uncertainty, "lowerBound": scores[i].LowerBound} {
			if math.IsNaN(x) || x < 0 || x > 1 {
				return nil, fmt.Errorf("score: %s = %g is outside [0, 1]", name, x)
			}
		}
	}
	if !(scores[0].Score > scores[1].Score && scores[1].Score > scores[2].Score) {
		return nil, fmt.Errorf("score: not monotonic in the evidence: 9 good/1 bad gave %.3f, none gave %.3f, 1 good/9 bad gave %.3f", scores[0].Score, scores[1].Score, scores[2].Score)
	}
	return map[string]float64{"smoke_separation": scores[0].Score - scores[2].Score}, nil
}

func smokePersonality(ctx context.Context, p *plugin.Plugin) (map[string]float64, error) {
	var pace []float64
	for _, trust := range []float64{0.1, 0.5, 0.9} {
		var adj struct {
			Version          int     `json:"version"`
			MutationBias     float64 `json:"mutationBias"`
			ResourceHeadroom float64 `json:"resourceHeadroom"`
			CanaryPace       float64 `json:"canaryPace"`
		}
		if err := call(ctx, p, "adjust", map[string]any{"version": 1, "role": "solver", "generation": 1, "trust": trust}, &adj); err != nil {
			return nil, err
		}
		for name, x := range map[string]float64{"mutationBias": adj.MutationBias, "resourceHeadroom": adj.ResourceHeadroom, "canaryPace": adj.CanaryPace} {
			if math.IsNaN(x) || x < 0 || x > 1 {
				return nil, fmt.Errorf("adjust: %s = %g is outside [0, 1]", name, x)
			}
		}
		pace = append(pace, adj.CanaryPace)
	}
	return map[string]float64{"smoke_canary_pace_range": pace[2] - pace[0]}, nil
}
