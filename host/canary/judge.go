// Package canary judges a canary against its baseline: a Go port of
// Kayenta's NetflixACAJudge-v1.0. Each metric's canary (experiment) and
// baseline (control) samples are compared with a Mann-Whitney U test and an
// effect size and classified Pass, High, Low, Nodata, NodataFailMetric or
// Error; the classifications are scored per group, the group scores are
// weighted into a score of 0–100, and the score becomes a verdict (Pass,
// Marginal, Fail) against two thresholds. The judge is a pure function of
// its inputs and a seed. Rollout is the controller's state machine over
// it (step weights beside a fresh baseline, pause on marginal or no data,
// rollback on failure or a crash, manual promote and rollback), also pure;
// Drive runs a Rollout against an Env that starts versions, sets weights
// and collects samples. docs/guides/canary.md describes the rules.
package canary

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Direction says which change of a metric counts against the canary.
type Direction string

// The directions. The zero value means DirectionEither.
const (
	DirectionEither   Direction = "either"
	DirectionIncrease Direction = "increase"
	DirectionDecrease Direction = "decrease"
)

// NaNStrategy says what happens to NaN samples before the comparison.
type NaNStrategy string

// The NaN strategies. The zero value means NaNRemove.
const (
	NaNRemove  NaNStrategy = "remove"
	NaNReplace NaNStrategy = "replace" // by 0: for counts, where no data means no events
)

// OutlierStrategy says whether outliers are removed before the comparison.
type OutlierStrategy string

// The outlier strategies. The zero value means OutliersKeep.
const (
	OutliersKeep   OutlierStrategy = "keep"
	OutliersRemove OutlierStrategy = "remove"
)

// EffectMeasure names the effect size checked after the significance test.
type EffectMeasure string

// The effect size measures. The zero value means EffectMeanRatio.
const (
	// EffectMeanRatio is mean(canary)/mean(baseline), NaN if either mean
	// is zero. Neutral is 1.
	EffectMeanRatio EffectMeasure = "meanRatio"
	// EffectCLES is the common-language effect size: the probability that
	// a canary value exceeds a baseline value, ties counting half. Neutral
	// is 0.5.
	EffectCLES EffectMeasure = "cles"
)

// DefaultOutlierFactor is the IQR multiple of the outlier fences.
const DefaultOutlierFactor = 3.0

// Tolerance and ConfidenceLevel are the two constants Kayenta hard-codes:
// a High (Low) needs the whole confidence interval of the shift above
// (below) ±Tolerance·|estimate|.
const (
	Tolerance       = 0.25
	ConfidenceLevel = 0.98
)

// EffectSize is the effect size measure and its thresholds. A zero
// threshold means the measure's neutral value (1 for meanRatio, 0.5 for
// cles), so that any significant change counts.
type EffectSize struct {
	Measure EffectMeasure `json:"measure,omitempty"`
	// AllowedIncrease is the least effect for a High; AllowedDecrease the
	// most for a Low.
	AllowedIncrease float64 `json:"allowedIncrease,omitempty"`
	AllowedDecrease float64 `json:"allowedDecrease,omitempty"`
	// CriticalIncrease and CriticalDecrease are the same limits for a
	// critical metric's High or Low to fail the whole canary.
	CriticalIncrease float64 `json:"criticalIncrease,omitempty"`
	CriticalDecrease float64 `json:"criticalDecrease,omitempty"`
}

// MetricConfig is how one metric is judged. Zero values are Kayenta's
// defaults.
type MetricConfig struct {
	Name  string `json:"name"`
	Group string `json:"group"`
	// Direction is the change that counts against the canary.
	Direction   Direction       `json:"direction,omitempty"`
	NaNStrategy NaNStrategy     `json:"nanStrategy,omitempty"`
	Outliers    OutlierStrategy `json:"outliers,omitempty"`
	// OutlierFactor is the IQR multiple of the fences (default 3).
	OutlierFactor float64 `json:"outlierFactor,omitempty"`
	// Critical metrics fail the canary (score 0) when they are High or Low
	// beyond their critical effect size, or have no data.
	Critical bool `json:"critical,omitempty"`
	// MustHaveData makes a metric without data count as a failure in its
	// group (NodataFailMetric) instead of being left out (Nodata).
	MustHaveData bool `json:"mustHaveData,omitempty"`
	// Muted metrics are classified and reported but not scored.
	Muted      bool       `json:"muted,omitempty"`
	EffectSize EffectSize `json:"effectSize,omitzero"`
}

// Thresholds turn a score into a verdict: Pass at or above Pass, Marginal
// at or above Marginal, Fail below.
type Thresholds struct {
	Pass     float64 `json:"pass"`
	Marginal float64 `json:"marginal"`
}

// Config is a canary configuration: its metrics, the groups' weights and
// the score thresholds.
type Config struct {
	Metrics []MetricConfig `json:"metrics"`
	// GroupWeights are percentages. Groups without a weight share what is
	// left of 100 equally.
	GroupWeights map[string]float64 `json:"groupWeights,omitempty"`
	Thresholds   Thresholds         `json:"thresholds"`
}

// Samples are one metric's values over the analysis interval. NaN marks a
// missing value.
type Samples struct {
	Control    []float64 `json:"control"`    // the baseline
	Experiment []float64 `json:"experiment"` // the canary
}

// Classification is a metric's label.
type Classification string

// The metric classifications, spelt as Kayenta spells them.
const (
	Pass             Classification = "Pass"
	High             Classification = "High"
	Low              Classification = "Low"
	Nodata           Classification = "Nodata"
	NodataFailMetric Classification = "NodataFailMetric"
	Error            Classification = "Error"
)

// Verdict is the canary's outcome.
type Verdict string

// The verdicts.
const (
	VerdictPass     Verdict = "Pass"
	VerdictMarginal Verdict = "Marginal"
	VerdictFail     Verdict = "Fail"
)

// MetricResult is one metric's row in a judgement. Float fields are NaN
// where nothing was computed (no test ran, or a mean ratio with a zero
// mean): encode them with protojson, or map NaN to null before encoding/json.
type MetricResult struct {
	Name           string         `json:"name"`
	Group          string         `json:"group"`
	Classification Classification `json:"classification"`
	// Critical is true when this row fails the whole canary.
	Critical bool   `json:"critical"`
	Muted    bool   `json:"muted"`
	Reason   string `json:"reason"`
	// CILow and CIHigh bound the shift canary − baseline at
	// ConfidenceLevel; Estimate is its Hodges–Lehmann estimate.
	CILow    float64 `json:"ciLow"`
	CIHigh   float64 `json:"ciHigh"`
	Estimate float64 `json:"estimate"`
	// Effect is the configured effect size (mean ratio or CLES).
	Effect float64 `json:"effect"`
	// Counts and means are of the samples as compared: after NaN handling
	// and outlier removal, before any noise.
	ControlCount    int     `json:"controlCount"`
	ExperimentCount int     `json:"experimentCount"`
	ControlMean     float64 `json:"controlMean"`
	ExperimentMean  float64 `json:"experimentMean"`
}

// Result is a judgement: the verdict, the score it came from, the groups'
// scores and every metric's row, in configuration order.
type Result struct {
	Verdict Verdict `json:"verdict"`
	Score   float64 `json:"score"`
	// Reason says why the score was forced to 0, if it was.
	Reason  string         `json:"reason,omitempty"`
	Groups  []GroupScore   `json:"groups"`
	Metrics []MetricResult `json:"metrics"`
	// Seed is the seed the noise for constant samples was drawn from;
	// judging the same samples with it again gives the same Result.
	Seed uint64 `json:"seed"`
}

// Judge classifies every metric of cfg on its samples (a metric without
// samples has no data), scores the classifications and returns the
// verdict. The seed drives the Gaussian noise Kayenta adds when both sides
// of a metric are constant; each metric draws from its own source seeded
// by seed and its name, so the same inputs and seed always give the same
// Result. It fails only on a configuration or input it cannot judge.
func Judge(cfg Config, samples map[string]Samples, seed uint64) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	for name := range samples {
		if !slices.ContainsFunc(cfg.Metrics, func(m MetricConfig) bool { return m.Name == name }) {
			return Result{}, fmt.Errorf("canary: samples for metric %q, which the configuration does not have; add it to the metrics or drop its samples", name)
		}
	}
	rows := make([]MetricResult, len(cfg.Metrics))
	for i, m := range cfg.Metrics {
		rows[i] = Classify(m, samples[m.Name], metricRand(seed, m.Name))
	}
	scores := Score(rows, cfg.GroupWeights)
	return Result{
		Verdict: ClassifyScore(scores.Summary, cfg.Thresholds),
		Score:   scores.Summary,
		Reason:  scores.Reason,
		Groups:  scores.Groups,
		Metrics: rows,
		Seed:    seed,
	}, nil
}

// metricRand is the noise source of one metric in a judgement.
func metricRand(seed uint64, metric string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(metric))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Validate reports the first thing wrong with cfg, in words that say how to
// fix it.
func (cfg Config) Validate() error {
	if len(cfg.Metrics) == 0 {
		return fmt.Errorf("canary: the configuration has no metrics; add at least one")
	}
	groups := map[string]bool{}
	names := map[string]bool{}
	for i, m := range cfg.Metrics {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("canary: metric %d: %w", i, err)
		}
		if names[m.Name] {
			return fmt.Errorf("canary: metric %q appears twice; give each metric its own name", m.Name)
		}
		names[m.Name] = true
		groups[m.Group] = true
	}
	sum := 0.0
	for g, w := range cfg.GroupWeights {
		if !groups[g] {
			return fmt.Errorf("canary: group weight for %q, which no metric belongs to; fix the group's name or drop its weight", g)
		}
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("canary: group %q has weight %v; weights are percentages from 0 to 100", g, w)
		}
		sum += w
	}
	if sum > 100 {
		return fmt.Errorf("canary: group weights sum to %v; they must not exceed 100 (groups without a weight share what is left)", sum)
	}
	t := cfg.Thresholds
	if !(t.Marginal >= 0 && t.Marginal <= t.Pass && t.Pass > 0 && t.Pass <= 100) {
		return fmt.Errorf("canary: thresholds pass %v and marginal %v; need 0 ≤ marginal ≤ pass ≤ 100 and pass > 0 (else every canary passes), e.g. pass 90 and marginal 75", t.Pass, t.Marginal)
	}
	return nil
}

// Validate reports the first thing wrong with a metric's configuration.
func (m MetricConfig) Validate() error {
	if strings.TrimSpace(m.Name) == "" {
		return fmt.Errorf("a metric has no name; name it after what it measures, e.g. \"latency-p99\"")
	}
	if strings.TrimSpace(m.Group) == "" {
		return fmt.Errorf("metric %q has no group; put it in one, e.g. \"latency\" (groups are what weights apply to)", m.Name)
	}
	switch m.Direction {
	case "", DirectionEither, DirectionIncrease, DirectionDecrease:
	default:
		return fmt.Errorf("metric %q: direction %q is not increase, decrease or either", m.Name, m.Direction)
	}
	switch m.NaNStrategy {
	case "", NaNRemove, NaNReplace:
	default:
		return fmt.Errorf("metric %q: nanStrategy %q is not remove or replace", m.Name, m.NaNStrategy)
	}
	switch m.Outliers {
	case "", OutliersKeep, OutliersRemove:
	default:
		return fmt.Errorf("metric %q: outliers %q is not keep or remove", m.Name, m.Outliers)
	}
	if m.OutlierFactor < 0 || math.IsNaN(m.OutlierFactor) || math.IsInf(m.OutlierFactor, 0) {
		return fmt.Errorf("metric %q: outlierFactor %v must be positive (0 means the default, %v)", m.Name, m.OutlierFactor, DefaultOutlierFactor)
	}
	switch m.EffectSize.Measure {
	case "", EffectMeanRatio, EffectCLES:
	default:
		return fmt.Errorf("metric %q: effect size measure %q is not meanRatio or cles", m.Name, m.EffectSize.Measure)
	}
	e := m.EffectSize
	for _, v := range []float64{e.AllowedIncrease, e.AllowedDecrease, e.CriticalIncrease, e.CriticalDecrease} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("metric %q: effect size threshold %v must be a finite number ≥ 0 (0 means the neutral value)", m.Name, v)
		}
	}
	if m.EffectSize.Measure == EffectCLES {
		for _, v := range []float64{e.AllowedIncrease, e.AllowedDecrease, e.CriticalIncrease, e.CriticalDecrease} {
			if v > 1 {
				return fmt.Errorf("metric %q: cles threshold %v is above 1; CLES is a probability", m.Name, v)
			}
		}
	}
	return nil
}
