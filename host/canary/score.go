package canary

import (
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
)

// NodataLimit is the share of metrics (in percent) that may be Nodata
// before the canary fails: at or above it the score is 0.
const NodataLimit = 50.0

// GroupScore is one metric group's score: 100·Pass/(Pass + High + Low +
// NodataFailMetric). A group none of whose metrics counts has NoData, and
// counts as 100 in the summary.
type GroupScore struct {
	Name   string  `json:"name"`
	Score  float64 `json:"score"`
	NoData bool    `json:"noData"`
	// Weight is the percentage the group carries in the summary: its
	// configured weight, or its share of what the configured weights leave.
	Weight float64 `json:"weight"`
	// Counts of the group's (unmuted) metrics by classification.
	Counts map[Classification]int `json:"counts"`
}

// Scores are what Kayenta's WeightedSumScorer computes from a judgement's
// rows.
type Scores struct {
	// Summary is Σ score·weight/100 over the groups, rounded half-up to two
	// decimals, or 0 when Reason says why not.
	Summary float64
	Groups  []GroupScore // sorted by name
	Reason  string
}

// Score scores metric rows as Kayenta's WeightedSumScorer does. Muted rows
// are left out. The summary is 0 when a row is a critical failure (Critical
// and not Pass) or when NodataLimit percent or more of the rows are
// Nodata. Groups without a weight share 100 − Σweights equally; weights are
// taken as given (Config.Validate checks them).
func Score(rows []MetricResult, groupWeights map[string]float64) Scores {
	scored := slices.DeleteFunc(slices.Clone(rows), func(r MetricResult) bool { return r.Muted })
	byGroup := map[string]map[Classification]int{}
	for _, r := range scored {
		if byGroup[r.Group] == nil {
			byGroup[r.Group] = map[Classification]int{}
		}
		byGroup[r.Group][r.Classification]++
	}

	weighted := 0.0
	for _, w := range groupWeights {
		weighted += w
	}
	unweighted := 0
	for g := range byGroup {
		if _, ok := groupWeights[g]; !ok {
			unweighted++
		}
	}
	share := 0.0
	if unweighted > 0 {
		share = (100 - weighted) / float64(unweighted)
	}

	var out Scores
	summary := 0.0
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		c := byGroup[g]
		total := c[Pass] + c[High] + c[Low] + c[NodataFailMetric]
		gs := GroupScore{Name: g, NoData: total == 0, Counts: c, Weight: share}
		if w, ok := groupWeights[g]; ok {
			gs.Weight = w
		}
		effective := 100.0
		if !gs.NoData {
			gs.Score = float64(c[Pass]) / float64(total) * 100
			effective = gs.Score
		}
		summary += effective * (gs.Weight / 100)
		out.Groups = append(out.Groups, gs)
	}

	nodata := 0
	for _, r := range scored {
		if r.Critical && r.Classification != Pass && out.Reason == "" {
			out.Reason = fmt.Sprintf("canary failed: critical metric %q is %s: %s", r.Name, r.Classification, r.Reason)
		}
		if r.Classification == Nodata {
			nodata++
		}
	}
	switch {
	case out.Reason != "":
	case len(scored) == 0:
		out.Reason = "canary failed: no metric was scored (every metric is muted)"
	case float64(nodata)/float64(len(scored))*100 >= NodataLimit:
		out.Reason = fmt.Sprintf("canary failed: %d of %d metrics (%g%% or more) returned Nodata", nodata, len(scored), NodataLimit)
	default:
		out.Summary = roundHalfUp2(summary)
	}
	return out
}

// roundHalfUp2 rounds x to two decimals, halves away from zero, on x's
// shortest decimal form, as Commons Math's MathUtils.round(x, 2) (a
// BigDecimal of Double.toString) does: 1.005 rounds to 1.01.
func roundHalfUp2(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	if !ok {
		return x
	}
	r.Mul(r, big.NewRat(100, 1))
	half := big.NewRat(1, 2)
	if r.Sign() < 0 {
		half.Neg(half)
	}
	r.Add(r, half)
	q := new(big.Int).Quo(r.Num(), r.Denom()) // truncates toward zero
	f, _ := new(big.Rat).SetFrac(q, big.NewInt(100)).Float64()
	return f
}

// ClassifyScore is Kayenta's ThresholdScoreClassifier: Pass at or above
// t.Pass, Marginal at or above t.Marginal, otherwise Fail.
func ClassifyScore(score float64, t Thresholds) Verdict {
	switch {
	case score >= t.Pass:
		return VerdictPass
	case score >= t.Marginal:
		return VerdictMarginal
	default:
		return VerdictFail
	}
}
