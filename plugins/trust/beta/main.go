// Command beta is the built-in trust plugin "beta": a Beta reputation score
// over the evidence log.
//
// Positive evidence adds its weight to r, negative evidence to s, each weight
// decayed by 0.5^(age/halfLife), where age is now minus the evidence time
// (evidence without a time, or from after now, is not decayed). Then
//
//	score       = (r+1) / (r+s+2)      the mean of Beta(r+1, s+1)
//	uncertainty = 2 / (r+s+2)          1 with no evidence, falling as it grows
//	lowerBound  = the 5% quantile of Beta(r+1, s+1)
//
// so no evidence gives 0.5 with uncertainty 1 and lower bound 0.05. The
// decayed weights are summed in sorted order, so the score depends only on
// the evidence, not on its order. When the request has no "now", the latest
// evidence time is used.
//
// Configuration (the optional "config" object of the request):
//
//	{"halfLifeSeconds": 604800}   the half-life of evidence; default 7 days
package main

import (
	"encoding/json"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/betadist"
	"math"
	"slices"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/trust"
)

func init() {
	trust.Register(func() sdk.TrustScorer { return Beta{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}

// DefaultHalfLifeSeconds is the half-life of evidence when the configuration
// names none: 7 days.
const DefaultHalfLifeSeconds = 7 * 24 * 3600

// lowerQuantile is the quantile reported as lowerBound.
const lowerQuantile = 0.05

// Beta is the scorer. It keeps no state between calls.
type Beta struct{}

// config is the scorer's configuration.
type config struct {
	HalfLifeSeconds float64 `json:"halfLifeSeconds"`
}

func parseConfig(raw json.RawMessage) (config, error) {
	c := config{HalfLifeSeconds: DefaultHalfLifeSeconds}
	if len(raw) == 0 {
		return c, nil
	}
	var in config
	if err := json.Unmarshal(raw, &in); err != nil {
		return c, sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
	}
	switch {
	case in.HalfLifeSeconds == 0:
	case in.HalfLifeSeconds < 0 || math.IsInf(in.HalfLifeSeconds, 0):
		return c, sdk.Errorf(sdk.CodeInvalid, "config: halfLifeSeconds must be positive and finite, got %v", in.HalfLifeSeconds)
	default:
		c.HalfLifeSeconds = in.HalfLifeSeconds
	}
	return c, nil
}

// Score computes the Beta reputation of the request's evidence.
func (Beta) Score(req sdk.ScoreRequest) (sdk.TrustScore, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return sdk.TrustScore{}, err
	}
	now := req.Now
	if now.IsZero() {
		for _, e := range req.Evidence {
			if e.Time.After(now) {
				now = e.Time
			}
		}
	}
	var pos, neg []float64
	for i, e := range req.Evidence {
		if e.Weight < 0 || math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) {
			return sdk.TrustScore{}, sdk.Errorf(sdk.CodeInvalid, "evidence[%d]: weight must be a non-negative finite number, got %v", i, e.Weight)
		}
		age := 0.0
		if !e.Time.IsZero() {
			age = math.Max(0, now.Sub(e.Time).Seconds())
		}
		w := e.Weight * math.Exp2(-age/cfg.HalfLifeSeconds)
		if e.Positive {
			pos = append(pos, w)
		} else {
			neg = append(neg, w)
		}
	}
	return betaScore(sortedSum(pos), sortedSum(neg)), nil
}

// sortedSum adds the values from the smallest up: the order of the evidence
// does not change the result, and small weights are not lost.
func sortedSum(v []float64) float64 {
	slices.Sort(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum
}

// betaScore is the score of r positive and s negative (decayed) observations.
func betaScore(r, s float64) sdk.TrustScore {
	a, b := r+1, s+1
	return sdk.TrustScore{
		Score:       clamp01(a / (a + b)),
		Uncertainty: clamp01(2 / (a + b)),
		LowerBound:  clamp01(betadist.Quantile(lowerQuantile, a, b)),
	}
}

func clamp01(x float64) float64 { return math.Min(1, math.Max(0, x)) }
