package canary

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Classify judges one metric with Kayenta's Mann-Whitney classifier at
// Tolerance and ConfidenceLevel. rng supplies the Gaussian noise added when
// both sides are constant; nil means no noise is possible and such a
// metric is an Error.
func Classify(m MetricConfig, s Samples, rng *rand.Rand) MetricResult {
	return classifier{tolerance: Tolerance, confLevel: ConfidenceLevel}.classify(m, s, rng)
}

// classifier is Kayenta's MannWhitneyClassifier with its two constants
// open, so that Kayenta's own test vectors (tolerance 0.10, confidence
// 0.95) can be replayed.
type classifier struct {
	tolerance float64
	confLevel float64
}

// noiseScale is the noise's standard deviation relative to the constant.
const noiseScale = 1e-5

// classify follows MannWhitneyClassifier.classify: clean, then the
// short-circuits in Kayenta's order (a side without data, identical
// samples, a single distinct value), then noise for constant sides, the
// test, the effect size, and the critical check.
func (c classifier) classify(m MetricConfig, s Samples, rng *rand.Rand) MetricResult {
	// clean sorts both sides: the short-circuits and the means do not
	// depend on the order the samples came in.
	exp := clean(s.Experiment, m)
	ctl := clean(s.Control, m)
	row := MetricResult{
		Name: m.Name, Group: m.Group, Muted: m.Muted,
		CILow: math.NaN(), CIHigh: math.NaN(), Estimate: math.NaN(), Effect: math.NaN(),
		ControlCount: len(ctl), ExperimentCount: len(exp),
		ControlMean: mean(ctl), ExperimentMean: mean(exp),
	}
	if len(exp) == 0 || len(ctl) == 0 {
		missing := fmt.Sprintf("%d canary and %d baseline values", len(exp), len(ctl))
		switch {
		case m.NaNStrategy == NaNReplace:
			row.Classification = Pass
			row.Reason = "no data, and nanStrategy replace counts no data as none of the events: " + missing
		case m.MustHaveData && !m.Critical:
			row.Classification = NodataFailMetric
			row.Reason = "no data for a metric that must have data: " + missing
		default:
			row.Classification = Nodata
			row.Critical = m.Critical
			row.Reason = "no data: " + missing
			if m.Critical {
				row.Reason = "no data for a critical metric: " + missing
			}
		}
		return row
	}
	// Sorted, so an infinity is at an end.
	for _, v := range []float64{exp[0], exp[len(exp)-1], ctl[0], ctl[len(ctl)-1]} {
		if math.IsInf(v, 0) {
			return errorRow(row, m, fmt.Sprintf("value %v is not finite; Mann-Whitney needs finite samples", v))
		}
	}
	row.Effect = effect(m.EffectSize.Measure, exp, ctl)
	if slices.Equal(exp, ctl) {
		row.Classification = Pass
		row.Reason = "the canary and baseline data are identical"
		return row
	}
	if exp[0] == exp[len(exp)-1] && ctl[0] == ctl[len(ctl)-1] {
		if exp[0] == ctl[0] { // one distinct value in all (different counts)
			row.Classification = Pass
			row.Reason = fmt.Sprintf("every value on both sides is %v", exp[0])
			return row
		}
		// Both sides constant: all ranks tie within a side. Kayenta adds
		// Gaussian noise of 1e-5 times the value to each side.
		if rng == nil {
			return errorRow(row, m, "both sides are constant and no noise source was given")
		}
		exp = addNoise(exp, rng)
		ctl = addNoise(ctl, rng)
		row.Effect = effect(m.EffectSize.Measure, exp, ctl)
	}

	mw, err := MannWhitney(exp, ctl, c.confLevel)
	if err != nil {
		return errorRow(row, m, err.Error())
	}
	row.CILow, row.CIHigh, row.Estimate = mw.CILow, mw.CIHigh, mw.Estimate
	bound := c.tolerance * math.Abs(mw.Estimate)
	allowInc, allowDec, critInc, critDec := thresholds(m.EffectSize)
	nan := math.IsNaN(row.Effect) // a NaN effect skips the effect size checks
	dir := m.Direction
	high := (dir == DirectionIncrease || dir == DirectionEither || dir == "") &&
		mw.CILow > bound && (nan || row.Effect >= allowInc)
	low := (dir == DirectionDecrease || dir == DirectionEither || dir == "") &&
		mw.CIHigh < -bound && (nan || row.Effect <= allowDec)
	interval := fmt.Sprintf("%.0f%% CI of canary − baseline [%.6g, %.6g]", 100*c.confLevel, mw.CILow, mw.CIHigh)
	switch {
	case high:
		row.Classification = High
		row.Reason = fmt.Sprintf("canary higher: %s lies above +%.6g (%g of |estimate| %.6g); %s", interval, bound, c.tolerance, mw.Estimate, effectWords(m.EffectSize.Measure, row.Effect, ">=", allowInc))
		row.Critical = m.Critical && (nan || row.Effect >= critInc)
	case low:
		row.Classification = Low
		row.Reason = fmt.Sprintf("canary lower: %s lies below −%.6g (%g of |estimate| %.6g); %s", interval, bound, c.tolerance, mw.Estimate, effectWords(m.EffectSize.Measure, row.Effect, "<=", allowDec))
		row.Critical = m.Critical && (nan || row.Effect <= critDec)
	default:
		row.Classification = Pass
		row.Reason = fmt.Sprintf("no significant change in the direction checked: %s, tolerance ±%.6g; %s %.6g", interval, bound, measureName(m.EffectSize.Measure), row.Effect)
	}
	if row.Critical {
		row.Reason += " (critical)"
	}
	return row
}

// errorRow marks a metric that could not be classified. A critical metric
// that errors fails the canary: Kayenta's classifier means to (it flags
// Error rows of critical metrics), but its judge catches the exception
// outside the classifier and loses the flag.
func errorRow(row MetricResult, m MetricConfig, why string) MetricResult {
	row.Classification = Error
	row.Critical = m.Critical
	row.Reason = "classification failed: " + why
	return row
}

// clean applies the NaN strategy and the outlier strategy and returns the
// values sorted.
func clean(values []float64, m MetricConfig) []float64 {
	out := make([]float64, 0, len(values))
	for _, v := range values {
		switch {
		case !math.IsNaN(v):
			out = append(out, v)
		case m.NaNStrategy == NaNReplace:
			out = append(out, 0)
		}
	}
	if m.Outliers == OutliersRemove {
		factor := m.OutlierFactor
		if factor == 0 {
			factor = DefaultOutlierFactor
		}
		out = removeOutliers(out, factor, true)
	}
	slices.Sort(out)
	return out
}

// removeOutliers drops, keeping the order of the rest, the values outside
// Kayenta's IQRDetector fences: [Q1 − k·IQR, Q3 + k·IQR], widened with
// reduceSensitivity to at least [P1, P99].
func removeOutliers(values []float64, factor float64, reduceSensitivity bool) []float64 {
	if len(values) == 0 {
		return values
	}
	lo, hi := iqrFences(values, factor, reduceSensitivity)
	return slices.DeleteFunc(slices.Clone(values), func(v float64) bool { return v < lo || v > hi })
}

// iqrFences are the IQR detector's fences of values (any order).
func iqrFences(values []float64, factor float64, reduceSensitivity bool) (lo, hi float64) {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	q1, q3 := percentile(sorted, 25), percentile(sorted, 75)
	iqr := q3 - q1
	lo, hi = q1-factor*iqr, q3+factor*iqr
	if reduceSensitivity {
		lo = min(percentile(sorted, 1), lo)
		hi = max(percentile(sorted, 99), hi)
	}
	return lo, hi
}

// percentile is the p-th percentile (0 < p ≤ 100) of sorted values as
// Apache Commons Math's StatUtils.percentile computes it (its default,
// "legacy" estimate: position p·(n+1)/100, interpolated, clamped to the
// extremes; R's type 6), which Kayenta's IQRDetector calls.
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	pos := p * float64(n+1) / 100
	fpos := math.Floor(pos)
	if pos < 1 {
		return sorted[0]
	}
	if pos >= float64(n) {
		return sorted[n-1]
	}
	lower, upper := sorted[int(fpos)-1], sorted[int(fpos)]
	return lower + (pos-fpos)*(upper-lower)
}

// addNoise adds Gaussian noise with standard deviation noiseScale times the
// value to a constant sample.
func addNoise(constant []float64, rng *rand.Rand) []float64 {
	sd := constant[0] * noiseScale
	out := make([]float64, len(constant))
	for i, v := range constant {
		out[i] = v + rng.NormFloat64()*sd
	}
	return out
}

// effect is the effect size of exp against ctl.
func effect(measure EffectMeasure, exp, ctl []float64) float64 {
	if measure == EffectCLES {
		return cles(exp, ctl)
	}
	me, mc := mean(exp), mean(ctl)
	if me == 0 || mc == 0 {
		return math.NaN()
	}
	return me / mc
}

// cles is the common-language effect size (2R₁ − m(m+1)) / (2mn) = U/(mn),
// R₁ the canary's rank sum among both samples, m and n the sizes: P(canary
// > baseline) + P(tie)/2.
func cles(exp, ctl []float64) float64 {
	w, err := newRankSum(exp, ctl)
	if err != nil {
		return math.NaN()
	}
	u, _ := w.ranks(0)
	return u / (w.nx * w.ny)
}

// thresholds are an effect size's four thresholds with zero meaning the
// measure's neutral value.
func thresholds(e EffectSize) (allowInc, allowDec, critInc, critDec float64) {
	neutral := 1.0
	if e.Measure == EffectCLES {
		neutral = 0.5
	}
	or := func(v float64) float64 {
		if v == 0 {
			return neutral
		}
		return v
	}
	return or(e.AllowedIncrease), or(e.AllowedDecrease), or(e.CriticalIncrease), or(e.CriticalDecrease)
}

func measureName(m EffectMeasure) string {
	if m == EffectCLES {
		return "cles"
	}
	return "mean ratio"
}

func effectWords(m EffectMeasure, v float64, op string, limit float64) string {
	if math.IsNaN(v) {
		return measureName(m) + " undefined (a mean is 0), effect size not checked"
	}
	return fmt.Sprintf("%s %.6g %s %.6g", measureName(m), v, op, limit)
}

// mean is the arithmetic mean, NaN for no values.
func mean(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, v := range values {
		sum += v
	}
	return sum / float64(len(values))
}
