package main

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/betadist"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.15g, want %.15g (±%g)", what, got, want, tol)
	}
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ev(n int, positive bool, age time.Duration) []sdk.Evidence {
	out := make([]sdk.Evidence, n)
	for i := range out {
		out[i] = sdk.Evidence{Time: now.Add(-age), Kind: "task", Positive: positive, Weight: 1}
	}
	return out
}

func score(t *testing.T, evidence []sdk.Evidence, cfg string) sdk.TrustScore {
	t.Helper()
	req := sdk.ScoreRequest{Version: 1, Now: now, Evidence: evidence}
	if cfg != "" {
		req.Config = json.RawMessage(cfg)
	}
	s, err := Beta{}.Score(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{s.Score, s.Uncertainty, s.LowerBound} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			t.Fatalf("%+v is outside [0, 1]", s)
		}
	}
	return s
}

func TestScoreVectors(t *testing.T) {
	s := score(t, nil, "")
	near(t, "E(0,0)", s.Score, 0.5, 0)
	near(t, "u(0,0)", s.Uncertainty, 1, 0)
	near(t, "lower(0,0)", s.LowerBound, 0.05, 1e-12)

	s = score(t, append(ev(9, true, 0), ev(1, false, 0)...), "")
	near(t, "E(9,1)", s.Score, 10.0/12, 1e-15)
	near(t, "u(9,1)", s.Uncertainty, 2.0/12, 1e-15)
	// Beta(10, 2): the CDF is 1 - 11 (1-x) x^10... checked by inverting.
	near(t, "I(lower)", betadist.RegInc(s.LowerBound, 10, 2), 0.05, 1e-12)
	near(t, "I(lower) closed form", 11*math.Pow(s.LowerBound, 10)-10*math.Pow(s.LowerBound, 11), 0.05, 1e-12)
}

func TestDecay(t *testing.T) {
	// One positive one half-life old counts 0.5: E = 1.5/2.5.
	near(t, "default half-life", score(t, ev(1, true, 7*24*time.Hour), "").Score, 0.6, 1e-12)
	near(t, "configured half-life", score(t, ev(1, true, time.Hour), `{"halfLifeSeconds": 3600}`).Score, 0.6, 1e-12)
	near(t, "two half-lives", score(t, ev(1, true, 2*time.Hour), `{"halfLifeSeconds": 3600}`).Score, 1.25/2.25, 1e-12)
	// Future evidence and evidence without a time are not decayed.
	near(t, "future", score(t, ev(1, true, -time.Hour), `{"halfLifeSeconds": 60}`).Score, 2.0/3, 1e-12)
	untimed := []sdk.Evidence{{Kind: "task", Positive: true, Weight: 1}}
	near(t, "untimed", score(t, untimed, `{"halfLifeSeconds": 60}`).Score, 2.0/3, 1e-12)
	// Ancient evidence counts nothing.
	near(t, "ancient", score(t, ev(50, false, 200*365*24*time.Hour), "").Score, 0.5, 1e-12)
	// Weights scale.
	heavy := ev(1, true, 0)
	heavy[0].Weight = 3
	near(t, "weight 3", score(t, heavy, "").Score, 4.0/5, 1e-15)
}

func TestMonotonic(t *testing.T) {
	var prev sdk.TrustScore
	for k := range 30 {
		s := score(t, ev(k, true, time.Hour), "")
		if k > 0 && !(s.Score > prev.Score && s.LowerBound > prev.LowerBound && s.Uncertainty < prev.Uncertainty) {
			t.Fatalf("%d positives: %+v, %d: %+v", k, s, k-1, prev)
		}
		if s.LowerBound >= s.Score {
			t.Fatalf("lower bound %v above score %v", s.LowerBound, s.Score)
		}
		prev = s
	}
	for k := range 30 {
		s := score(t, append(ev(10, true, 0), ev(k, false, time.Hour)...), "")
		if k > 0 && !(s.Score < prev.Score && s.LowerBound < prev.LowerBound) {
			t.Fatalf("%d negatives: %+v, %d: %+v", k, s, k-1, prev)
		}
		prev = s
	}
	// Fresh evidence counts more than old evidence.
	fresh, old := score(t, ev(5, true, time.Hour), ""), score(t, ev(5, true, 30*24*time.Hour), "")
	if !(fresh.Score > old.Score) {
		t.Fatalf("fresh %+v should beat old %+v", fresh, old)
	}
	fresh, old = score(t, ev(5, false, time.Hour), ""), score(t, ev(5, false, 30*24*time.Hour), "")
	if !(fresh.Score < old.Score) {
		t.Fatalf("fresh negatives %+v should hurt more than old %+v", fresh, old)
	}
}

func TestReplayIgnoresOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var evidence []sdk.Evidence
	for i := range 500 {
		evidence = append(evidence, sdk.Evidence{
			Time: now.Add(-time.Duration(r.IntN(1e6)) * time.Second), Kind: "task",
			Positive: r.IntN(3) > 0, Weight: r.Float64() * 2, Detail: string(rune('a' + i%26)),
		})
	}
	want := score(t, evidence, "")
	for range 5 {
		r.Shuffle(len(evidence), func(i, j int) { evidence[i], evidence[j] = evidence[j], evidence[i] })
		if got := score(t, evidence, ""); got != want {
			t.Fatalf("shuffled evidence scored %+v, want %+v", got, want)
		}
	}
	// A large log stays finite and ordered.
	big := score(t, append(ev(200000, true, 0), ev(1000, false, 0)...), "")
	if !(big.LowerBound < big.Score && big.Score < 1 && big.Uncertainty > 0) {
		t.Fatalf("large log: %+v", big)
	}
}

func TestNowDefaultsToLatestEvidence(t *testing.T) {
	evidence := append(ev(1, true, 0), ev(1, true, time.Hour)...)
	req := sdk.ScoreRequest{Version: 1, Evidence: evidence, Config: json.RawMessage(`{"halfLifeSeconds": 3600}`)}
	s, err := Beta{}.Score(req)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "score", s.Score, 2.5/3.5, 1e-12)
}

func TestBadRequests(t *testing.T) {
	neg := ev(1, true, 0)
	neg[0].Weight = -1
	for _, tc := range []struct {
		req  sdk.ScoreRequest
		want string
	}{
		{sdk.ScoreRequest{Now: now, Evidence: neg}, "weight"},
		{sdk.ScoreRequest{Now: now, Config: json.RawMessage(`{"halfLifeSeconds": -5}`)}, "halfLifeSeconds"},
		{sdk.ScoreRequest{Now: now, Config: json.RawMessage(`{"halfLifeSeconds": "week"}`)}, "config"},
	} {
		_, err := Beta{}.Score(tc.req)
		var e *sdk.Error
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &e) || e.Code != sdk.CodeInvalid {
			t.Errorf("%+v: error %v, want invalid containing %q", tc.req, err, tc.want)
		}
	}
}

// Through the SDK's dispatcher, with the ABI.md example request.
func TestThroughTheDispatcher(t *testing.T) {
	req := `{"version": 1, "now": "2026-11-25T12:00:00Z",
	  "evidence": [{"time": "2026-11-25T12:00:00Z", "kind": "task", "positive": true, "weight": 1, "detail": ""}]}`
	var e struct {
		V      int
		Result sdk.TrustScore
		Error  *sdk.Error
	}
	if err := json.Unmarshal(sdk.Handle(sdk.OpTrustScore, []byte(req)), &e); err != nil {
		t.Fatal(err)
	}
	if e.V != 1 || e.Error != nil || e.Result.Version != 1 {
		t.Fatalf("envelope %+v", e)
	}
	near(t, "score", e.Result.Score, 2.0/3, 1e-15)
	near(t, "lower", e.Result.LowerBound, math.Sqrt(0.05), 1e-12) // Beta(2,1): CDF x²
}
