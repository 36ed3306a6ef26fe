package trust

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// TrustScore is a subject's trust. Scorers fill Score, Uncertainty and
// LowerBound; the Service fills the rest.
type TrustScore struct {
	// Score is the expected trustworthiness, in [0, 1].
	Score float64
	// Uncertainty is how unsure Score is, in [0, 1] (1: no evidence).
	Uncertainty float64
	// LowerBound is a pessimistic score in [0, 1] (beta: the 5% quantile);
	// gates and rankings use it.
	LowerBound float64

	// Seq is the subject's last record the score reflects (0: none).
	Seq uint64
	// Stale says the scorer failed and this is the previous score, or the
	// Prior when there was none; Reason says why.
	Stale bool
	// Clamped says the scorer answered values outside [0, 1], which were
	// clamped; Reason says which.
	Clamped bool
	// Reason explains Stale or Clamped; "" otherwise.
	Reason string
}

// Prior is the score of a subject nothing is known about: the mean 0.5 of
// Beta(1, 1) with full uncertainty and its 5% quantile, 0.05. The Service
// answers it when the scorer fails before any score succeeded.
func Prior() TrustScore { return TrustScore{Score: 0.5, Uncertainty: 1, LowerBound: 0.05} }

// ScoreRequest is what a Scorer scores.
type ScoreRequest struct {
	// Subject is the version being scored.
	Subject Subject
	// Now is the time to score at; evidence ages relative to it. The
	// Service sets it from its caller, never from the clock, so a replay
	// scores the same.
	Now time.Time
	// Evidence is the subject's whole log in Seq order; for graph scorers
	// (ServiceOptions.CallGraph) the call records are those of the whole
	// log instead of the subject's own.
	Evidence []Evidence
}

// Scorer turns evidence into a score. Implementations must be
// deterministic: the same request gives the same score. They must be safe
// for concurrent use.
type Scorer interface {
	Score(ctx context.Context, req ScoreRequest) (TrustScore, error)
}

// clamp puts the three values into [0, 1] and says what it changed, e.g.
// "score 1.5 clamped to 1". It fails on NaN, which has no place to clamp to.
func clamp(s TrustScore) (TrustScore, []string, error) {
	var changed []string
	for _, f := range []struct {
		name string
		v    *float64
	}{{"score", &s.Score}, {"uncertainty", &s.Uncertainty}, {"lowerBound", &s.LowerBound}} {
		x := *f.v
		if math.IsNaN(x) {
			return s, nil, fmt.Errorf("%s is NaN", f.name)
		}
		if c := math.Min(1, math.Max(0, x)); c != x {
			changed = append(changed, fmt.Sprintf("%s %g clamped to %g", f.name, x, c))
			*f.v = c
		}
	}
	return s, changed, nil
}

// clampReason joins clamp's notes.
func clampReason(changed []string) string { return strings.Join(changed, "; ") }
