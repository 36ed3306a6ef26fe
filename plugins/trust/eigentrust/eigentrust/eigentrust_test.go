package eigentrust

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/betadist"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.15g, want %.15g (±%g)", what, got, want, tol)
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// A graph small enough to solve by hand: a rates b and c 2 each, b rates c
// 1, c rates a 3, a is pre-trusted. C's rows: a (0, ½, ½), b (0, 0, 1), c
// (1, 0, 0), and t = 0.85 Cᵀt + 0.15 e_a gives
//
//	t_b = 0.425 t_a,  t_c = 0.85 (0.5 t_a + t_b) = 0.78625 t_a,
//	t_a = 0.85 t_c + 0.15  ⇒  t_a = 0.15 / (1 − 0.85·0.78625).
func TestGlobalTrustByHand(t *testing.T) {
	ratings := []Rating{{"a", "b", 2}, {"a", "c", 2}, {"b", "c", 1}, {"c", "a", 3}}
	r := GlobalTrust(ratings, []string{"a"}, Params{})
	ta := 0.15 / (1 - 0.85*0.78625)
	near(t, "t_a", r.Of("a"), ta, 1e-9)
	near(t, "t_b", r.Of("b"), 0.425*ta, 1e-9)
	near(t, "t_c", r.Of("c"), 0.78625*ta, 1e-9)
	near(t, "Σt", sum(r.Trust), 1, 1e-12)
	if !r.Converged || r.Iterations >= DefaultMaxIterations {
		t.Errorf("converged %v after %d iterations", r.Converged, r.Iterations)
	}
	if fmt.Sprint(r.Peers) != "[a b c]" || r.Of("nobody") != 0 || r.Credibility("nobody") != 0 {
		t.Errorf("peers %v", r.Peers)
	}
	// 3·t_a > 1: a counts fully; b has less than the average 1/3.
	near(t, "credibility a", r.Credibility("a"), 1, 0)
	near(t, "credibility b", r.Credibility("b"), 3*0.425*ta, 1e-9)
}

func TestGlobalTrustRules(t *testing.T) {
	// A peer that rated nobody positively trusts p: here a → b only, b
	// dangling, so t_a = 0.85 t_b + 0.15 and t_b = 0.85 t_a.
	r := GlobalTrust([]Rating{{"a", "b", 1}}, []string{"a"}, Params{})
	near(t, "t_a", r.Of("a"), 1/(2-0.15), 1e-9)
	near(t, "t_b", r.Of("b"), 0.85/(2-0.15), 1e-9)

	// Negative satisfaction counts as 0; repeated ratings of a pair add up
	// (b: 3 − 4 = −1); self-ratings are ignored.
	r = GlobalTrust([]Rating{{"a", "b", 3}, {"a", "b", -4}, {"a", "c", 1}, {"a", "a", 50}, {"c", "a", 1}}, []string{"a"}, Params{})
	near(t, "t_b", r.Of("b"), 0, 0)
	near(t, "t_c", r.Of("c"), 0.85/(2-0.15), 1e-9)

	// Without pre-trusted peers, p is uniform; a symmetric cycle is uniform.
	r = GlobalTrust([]Rating{{"a", "b", 1}, {"b", "c", 1}, {"c", "a", 1}}, nil, Params{})
	for _, p := range r.Peers {
		near(t, "t_"+p, r.Of(p), 1.0/3, 1e-9)
	}

	// Alpha 1 is p itself; MaxIterations stops early and says so.
	r = GlobalTrust([]Rating{{"a", "b", 1}}, []string{"b"}, Params{Alpha: 1})
	near(t, "t_b at alpha 1", r.Of("b"), 1, 0)
	r = GlobalTrust([]Rating{{"a", "b", 2}, {"a", "c", 2}, {"b", "c", 1}, {"c", "a", 3}}, []string{"a"}, Params{MaxIterations: 1})
	if r.Converged || r.Iterations != 1 {
		t.Errorf("MaxIterations 1: converged %v after %d", r.Converged, r.Iterations)
	}
	if r := GlobalTrust(nil, nil, Params{}); len(r.Peers) != 0 || !r.Converged {
		t.Errorf("empty graph: %+v", r)
	}
}

func TestGlobalTrustIgnoresOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ratings []Rating
	for range 400 {
		ratings = append(ratings, Rating{
			From: fmt.Sprintf("p%02d", rng.IntN(30)), To: fmt.Sprintf("p%02d", rng.IntN(30)),
			Satisfaction: rng.Float64()*4 - 1,
		})
	}
	want := GlobalTrust(ratings, []string{"p00", "p07"}, Params{})
	for range 5 {
		rng.Shuffle(len(ratings), func(i, j int) { ratings[i], ratings[j] = ratings[j], ratings[i] })
		got := GlobalTrust(ratings, []string{"p07", "p00", "p07"}, Params{})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("shuffled ratings gave another result:\n%v\n%v", got, want)
		}
	}
}

// collective is the paper's threat model B (§7): a malicious collective
// whose members rate each other as highly as they can and bad-mouth the
// honest peers, who in turn were mostly unsatisfied with them. P is the
// pre-trusted peer; G1..G4 are honest.
func collective(leak bool) []Rating {
	var r []Rating
	honest := []string{"G1", "G2", "G3", "G4"}
	bad := []string{"M1", "M2", "M3"}
	for _, g := range honest {
		r = append(r, Rating{"P", g, 10}, Rating{g, "P", 5})
		for _, h := range honest {
			r = append(r, Rating{g, h, 5})
		}
		for _, m := range bad {
			r = append(r, Rating{m, g, -10})
		}
	}
	for _, m := range bad {
		for _, n := range bad {
			r = append(r, Rating{m, n, 100})
		}
	}
	r = append(r, Rating{"G1", "M1", 2}, Rating{"G1", "M1", -8}, Rating{"G2", "M2", 1}, Rating{"G2", "M2", -4})
	if leak {
		// G3 was fooled a little: 3 satisfied, 1 not.
		r = append(r, Rating{"G3", "M3", 3}, Rating{"G3", "M3", -1})
	}
	return r
}

func collectiveTrust(r Result) float64 { return r.Of("M1") + r.Of("M2") + r.Of("M3") }

func TestPreTrustLimitsAMaliciousCollective(t *testing.T) {
	// Without pre-trust, p is uniform and nothing flows out of the
	// collective but teleportation: T = 0.85 T + 0.15·3/8, so the three
	// colluders keep their population share, 3/8, however bad their service.
	open := GlobalTrust(collective(false), nil, Params{})
	near(t, "collective's trust, no pre-trust", collectiveTrust(open), 3.0/8, 1e-9)
	// With P pre-trusted and no honest peer satisfied with them, they get
	// nothing.
	closed := GlobalTrust(collective(false), []string{"P"}, Params{})
	near(t, "collective's trust, pre-trust", collectiveTrust(closed), 0, 1e-12)
	// With a leak (G3 → M3 net +2 out of G3's 5·3 + 5 + 2 = 22), the trust
	// entering the collective stays there: T = 0.85 (T + c t_G3) ⇒
	// T = (0.85/0.15)·(2/22)·t_G3, a small share.
	leaky := GlobalTrust(collective(true), []string{"P"}, Params{})
	near(t, "collective's trust with a leak", collectiveTrust(leaky), 0.85/0.15*2.0/22*leaky.Of("G3"), 1e-9)
	if c := collectiveTrust(leaky); c > 0.15 {
		t.Errorf("the collective holds %.3f of the trust with one small leak", c)
	}

	// As a score: M1 is rated 100 by M2 and M3, and 2 good/8 bad by G1.
	// With pre-trust the colluders' ratings count for nothing.
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	evidence := func(rs []Rating) []sdk.Evidence {
		var out []sdk.Evidence
		for _, r := range rs {
			d, _ := json.Marshal(callDetail{From: r.From, To: r.To})
			out = append(out, sdk.Evidence{Time: now, Kind: KindCall, Positive: r.Satisfaction > 0, Weight: math.Abs(r.Satisfaction), Detail: string(d)})
		}
		return out
	}
	score := func(subject, pre string) Outcome {
		cfg := `{"subject": "` + subject + `"}`
		if pre != "" {
			cfg = `{"subject": "` + subject + `", "preTrusted": ["` + pre + `"]}`
		}
		o, err := Evaluate(sdk.ScoreRequest{Version: 1, Now: now, Evidence: evidence(collective(false)), Config: json.RawMessage(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	m1Open, m1Closed := score("M1", ""), score("M1", "P")
	t.Logf("M1 without pre-trust %+v, with %+v", m1Open.Score, m1Closed.Score)
	if !(m1Open.Score.Score > 0.9) {
		t.Errorf("without pre-trust the collective should be able to vouch for M1: %+v", m1Open.Score)
	}
	if !(m1Closed.Score.Score < 0.5) || m1Closed.Positive > 2 {
		t.Errorf("with pre-trust M1 should be scored on G1's bad experience only: %+v (r %v, s %v)", m1Closed.Score, m1Closed.Positive, m1Closed.Negative)
	}
	if g3 := score("G3", "P"); !(g3.Score.Score > 0.9 && g3.Score.LowerBound > 0.8) {
		t.Errorf("honest G3 with pre-trust: %+v", g3.Score)
	}
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func tasks(pos, neg int, age time.Duration) []sdk.Evidence {
	var out []sdk.Evidence
	for i := range pos + neg {
		out = append(out, sdk.Evidence{Time: now.Add(-age), Kind: "task", Positive: i < pos, Weight: 1})
	}
	return out
}

// Without call records the score is beta's with no forgetting: the test
// vectors of the trust-score spec hold, and the registry's smoke gate
// (9 good/1 bad > none > 1 good/9 bad) passes.
func TestDirectEvidenceScoresAsBeta(t *testing.T) {
	s, err := Scorer{}.Score(sdk.ScoreRequest{Version: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "E(0,0)", s.Score, 0.5, 0)
	near(t, "u(0,0)", s.Uncertainty, 1, 0)
	near(t, "lower(0,0)", s.LowerBound, 0.05, 1e-12)
	s, _ = Scorer{}.Score(sdk.ScoreRequest{Version: 1, Now: now, Evidence: tasks(9, 1, 400*24*time.Hour)})
	near(t, "E(9,1), old evidence", s.Score, 10.0/12, 1e-15)
	near(t, "u(9,1)", s.Uncertainty, 2.0/12, 1e-15)
	near(t, "lower(9,1)", 11*math.Pow(s.LowerBound, 10)-10*math.Pow(s.LowerBound, 11), 0.05, 1e-12)
	bad, _ := Scorer{}.Score(sdk.ScoreRequest{Version: 1, Now: now, Evidence: tasks(1, 9, 0)})
	near(t, "E(1,9)", bad.Score, 2.0/12, 1e-15)
	// With a half-life, one positive one half-life old counts 0.5.
	s, _ = Scorer{}.Score(sdk.ScoreRequest{Version: 1, Now: now, Evidence: tasks(1, 0, time.Hour), Config: json.RawMessage(`{"halfLifeSeconds": 3600}`)})
	near(t, "decayed", s.Score, 1.5/2.5, 1e-12)
}

func TestScoreIgnoresOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var ev []sdk.Evidence
	for range 300 {
		from, to := fmt.Sprintf("agent/p%d@1", rng.IntN(12)), fmt.Sprintf("agent/p%d@1", rng.IntN(12))
		d, _ := json.Marshal(callDetail{From: from, To: to})
		ev = append(ev, sdk.Evidence{Time: now.Add(-time.Duration(rng.IntN(1e6)) * time.Second), Kind: KindCall, Positive: rng.IntN(3) > 0, Weight: rng.Float64() * 3, Detail: string(d)})
	}
	ev = append(ev, tasks(4, 2, time.Hour)...)
	cfg := json.RawMessage(`{"subject": "agent/p3@1", "preTrusted": ["agent/p0@1"], "halfLifeSeconds": 86400}`)
	want, err := Scorer{}.Score(sdk.ScoreRequest{Version: 1, Now: now, Evidence: ev, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		rng.Shuffle(len(ev), func(i, j int) { ev[i], ev[j] = ev[j], ev[i] })
		if got, _ := (Scorer{}).Score(sdk.ScoreRequest{Version: 1, Now: now, Evidence: ev, Config: cfg}); got != want {
			t.Fatalf("shuffled evidence scored %+v, want %+v", got, want)
		}
	}
}

func TestBadRequests(t *testing.T) {
	neg := tasks(1, 0, 0)
	neg[0].Weight = -1
	call := func(detail string) []sdk.Evidence {
		return []sdk.Evidence{{Time: now, Kind: KindCall, Positive: true, Weight: 1, Detail: detail}}
	}
	for _, tc := range []struct {
		ev   []sdk.Evidence
		cfg  string
		want string
	}{
		{neg, "", "weight"},
		{call("not json"), "", "detail"},
		{call(`{"from": "agent/a@1"}`), "", "detail"},
		{nil, `{"alpha": 0}`, ""}, // 0 is the default: fine
		{nil, `{"alpha": 1.5}`, "alpha"},
		{nil, `{"alpha": -0.1}`, "alpha"},
		{nil, `{"tolerance": -1}`, "tolerance"},
		{nil, `{"maxIterations": 1000000}`, "maxIterations"},
		{nil, `{"halfLifeSeconds": -5}`, "halfLifeSeconds"},
		{nil, `{"preTrusted": [""]}`, "preTrusted"},
		{nil, `{"preTrusted": "agent/a@1"}`, "config"},
	} {
		req := sdk.ScoreRequest{Version: 1, Now: now, Evidence: tc.ev}
		if tc.cfg != "" {
			req.Config = json.RawMessage(tc.cfg)
		}
		_, err := Scorer{}.Score(req)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.cfg, err)
			}
			continue
		}
		var e *sdk.Error
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &e) || e.Code != sdk.CodeInvalid {
			t.Errorf("%v %s: error %v, want invalid containing %q", tc.ev, tc.cfg, err, tc.want)
		}
	}
}

func TestBetaQuantileMatchesClosedForms(t *testing.T) {
	for _, k := range []float64{1, 9, 100} {
		near(t, "q(k+1,1)", betadist.Quantile(0.05, k+1, 1), math.Pow(0.05, 1/(k+1)), 1e-12)
		near(t, "q(1,k+1)", betadist.Quantile(0.05, 1, k+1), 1-math.Pow(0.95, 1/(k+1)), 1e-12)
	}
}
