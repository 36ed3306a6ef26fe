package eigentrust

import (
	"encoding/json"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/betadist"
	"math"
	"time"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// KindCall is the evidence kind of call records, the edges of the graph.
const KindCall = "call"

// LowerQuantile is the quantile of the Beta posterior reported as lowerBound.
const LowerQuantile = 0.05

// Config is the scorer's configuration, the request's optional "config".
type Config struct {
	// Subject is the id of the agent being scored, as call records name
	// it; the host sets it. Without it, call records only shape the graph.
	Subject string `json:"subject"`
	// PreTrusted are the ids of the pre-trusted peers; without them p is
	// uniform over all peers, and a collective that rates itself keeps its
	// share of the trust.
	PreTrusted []string `json:"preTrusted"`
	// Alpha is a, in (0, 1]; default 0.15.
	Alpha float64 `json:"alpha"`
	// Tolerance is the L1 change that ends the iteration; default 1e-10.
	Tolerance float64 `json:"tolerance"`
	// MaxIterations bounds the iteration, 1..100000; default 1000.
	MaxIterations int `json:"maxIterations"`
	// HalfLifeSeconds decays every weight by 0.5^(age/halfLife); 0, the
	// default, keeps all evidence at full weight, as EigenTrust does.
	HalfLifeSeconds float64 `json:"halfLifeSeconds"`
}

// ParseConfig reads and checks the request's config (empty: defaults).
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			return c, sdk.Errorf(sdk.CodeInvalid, "config: %v", err)
		}
	}
	switch {
	case c.Alpha == 0:
		c.Alpha = DefaultAlpha
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return c, sdk.Errorf(sdk.CodeInvalid, "config: alpha must be in (0, 1], got %v", c.Alpha)
	}
	switch {
	case c.Tolerance == 0:
		c.Tolerance = DefaultTolerance
	case !(c.Tolerance > 0) || math.IsInf(c.Tolerance, 0):
		return c, sdk.Errorf(sdk.CodeInvalid, "config: tolerance must be positive and finite, got %v", c.Tolerance)
	}
	switch {
	case c.MaxIterations == 0:
		c.MaxIterations = DefaultMaxIterations
	case c.MaxIterations < 1 || c.MaxIterations > 100000:
		return c, sdk.Errorf(sdk.CodeInvalid, "config: maxIterations must be in 1..100000, got %d", c.MaxIterations)
	}
	if c.HalfLifeSeconds < 0 || math.IsInf(c.HalfLifeSeconds, 0) || math.IsNaN(c.HalfLifeSeconds) {
		return c, sdk.Errorf(sdk.CodeInvalid, "config: halfLifeSeconds must be 0 (no decay) or positive and finite, got %v", c.HalfLifeSeconds)
	}
	for i, id := range c.PreTrusted {
		if id == "" {
			return c, sdk.Errorf(sdk.CodeInvalid, "config: preTrusted[%d] is empty: name a peer as call records do (e.g. agent/tsp@1.0.0)", i)
		}
	}
	return c, nil
}

// callDetail is the detail of a call record.
type callDetail struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Outcome is a score with what went into it.
type Outcome struct {
	Score sdk.TrustScore
	// Global is the global trust of the call graph.
	Global Result
	// Positive and Negative are the credibility-weighted evidence for and
	// against the subject, the Beta posterior's r and s.
	Positive, Negative float64
}

// Evaluate scores req's subject:
//
//  1. Call records (kind "call", detail {"from": ID, "to": ID}; positive:
//     satisfied; weight: how many interactions) give s_ij = satisfied −
//     unsatisfied, and GlobalTrust the global trust t of every peer.
//  2. Every other record is the host's own observation of the subject and
//     counts with its weight. A call record rating the subject (to ==
//     config.subject) counts with its weight times the rater's
//     Credibility, min(1, n·t_from): ratings from peers nobody trusts, such
//     as a collective that only rates itself, count for nothing.
//  3. Positive weights sum to r, negative ones to s, and the score is the
//     Beta reputation of beta: score (r+1)/(r+s+2), uncertainty 2/(r+s+2),
//     lowerBound the 5% quantile of Beta(r+1, s+1).
//
// Weights decay by 0.5^(age/halfLife) when config.halfLifeSeconds is set.
func Evaluate(req sdk.ScoreRequest) (Outcome, error) {
	cfg, err := ParseConfig(req.Config)
	if err != nil {
		return Outcome{}, err
	}
	now := req.Now
	if now.IsZero() {
		for _, e := range req.Evidence {
			if e.Time.After(now) {
				now = e.Time
			}
		}
	}
	type rated struct {
		from     string
		w        float64
		positive bool
	}
	var ratings []Rating
	var direct, toSubject []rated
	for i, e := range req.Evidence {
		if e.Weight < 0 || math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) {
			return Outcome{}, sdk.Errorf(sdk.CodeInvalid, "evidence[%d]: weight must be a non-negative finite number, got %v", i, e.Weight)
		}
		w := e.Weight * decay(now, e.Time, cfg.HalfLifeSeconds)
		if e.Kind != KindCall {
			direct = append(direct, rated{w: w, positive: e.Positive})
			continue
		}
		var d callDetail
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil || d.From == "" || d.To == "" {
			return Outcome{}, sdk.Errorf(sdk.CodeInvalid, `evidence[%d]: a call record's detail must be {"from": ID, "to": ID}, got %.80q`, i, e.Detail)
		}
		if d.From == d.To {
			continue // a self-rating says nothing
		}
		s := w
		if !e.Positive {
			s = -w
		}
		ratings = append(ratings, Rating{From: d.From, To: d.To, Satisfaction: s})
		if cfg.Subject != "" && d.To == cfg.Subject {
			toSubject = append(toSubject, rated{from: d.From, w: w, positive: e.Positive})
		}
	}
	global := GlobalTrust(ratings, cfg.PreTrusted, Params{Alpha: cfg.Alpha, Tolerance: cfg.Tolerance, MaxIterations: cfg.MaxIterations})
	var pos, neg []float64
	add := func(w float64, positive bool) {
		if positive {
			pos = append(pos, w)
		} else {
			neg = append(neg, w)
		}
	}
	for _, r := range direct {
		add(r.w, r.positive)
	}
	for _, r := range toSubject {
		add(r.w*global.Credibility(r.from), r.positive)
	}
	o := Outcome{Global: global, Positive: sortedSum(pos), Negative: sortedSum(neg)}
	o.Score = betaScore(o.Positive, o.Negative)
	return o, nil
}

// Scorer is the plugin's sdk.TrustScorer. It keeps no state.
type Scorer struct{}

// Score returns Evaluate's score.
func (Scorer) Score(req sdk.ScoreRequest) (sdk.TrustScore, error) {
	o, err := Evaluate(req)
	return o.Score, err
}

// decay is 0.5^(age/halfLife), 1 without a half-life, for evidence without
// a time and for evidence from after now.
func decay(now, t time.Time, halfLife float64) float64 {
	if halfLife == 0 || t.IsZero() {
		return 1
	}
	return math.Exp2(-math.Max(0, now.Sub(t).Seconds()) / halfLife)
}

// betaScore is the Beta reputation of r positive and s negative weights.
func betaScore(r, s float64) sdk.TrustScore {
	a, b := r+1, s+1
	return sdk.TrustScore{
		Score:       clamp01(a / (a + b)),
		Uncertainty: clamp01(2 / (a + b)),
		LowerBound:  clamp01(betadist.Quantile(LowerQuantile, a, b)),
	}
}

func clamp01(x float64) float64 { return math.Min(1, math.Max(0, x)) }
