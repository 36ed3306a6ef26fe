package canary

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// kayentaTest is the classifier ClassifierSuite builds: MannWhitneyClassifier(
// tolerance = 0.10, confLevel = 0.95).
var kayentaTest = classifier{tolerance: 0.10, confLevel: 0.95}

func testRand() *rand.Rand { return rand.New(rand.NewPCG(7, 7)) }

// Every case is a test of Kayenta's ClassifierSuite (spinnaker/kayenta,
// kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ClassifierSuite.scala),
// named by its test name, with the classification (and critical flag) it
// asserts. Kayenta passes effectSizeThresholds = (allowedDecrease,
// allowedIncrease) and criticalThresholds = (criticalDecrease,
// criticalIncrease).
func TestClassifierSuite(t *testing.T) {
	for _, c := range []struct {
		name         string
		exp, ctl     []float64
		metric       MetricConfig
		want         Classification
		wantCritical bool
	}{
		{name: "Mann-Whitney Classifier Test: Pass Metric", exp: around10, ctl: around10b, want: Pass},
		{name: "Mann-Whitney Classifier Test: High Metric", exp: around20, ctl: around10b, want: High},
		{name: "Mann-Whitney Classifier Test: Low Metric", exp: around10, ctl: around20b, want: Low},
		{name: "Mann-Whitney Classifier Directional Test: Increase", exp: around10, ctl: around20b,
			metric: MetricConfig{Direction: DirectionIncrease}, want: Pass},
		{name: "Mann-Whitney Classifier Directional Test: Decrease", exp: around20, ctl: around10b,
			metric: MetricConfig{Direction: DirectionDecrease}, want: Pass},
		{name: "Mann-Whitney Classifier Directional Test: High Metric", exp: around20, ctl: around10b,
			metric: MetricConfig{Direction: DirectionIncrease}, want: High},
		{name: "Mann-Whitney Classifier Directional Test: Low Metric", exp: around10, ctl: around20b,
			metric: MetricConfig{Direction: DirectionDecrease}, want: Low},
		{name: "Mann-Whitney Classifier Test: High Metric (Large Input)", exp: largeExperiment, ctl: largeControl, want: High},
		{name: "Mann-Whitney Classifier Test - Mean Ratio Effect Size: High",
			exp: []float64{20, 22, 21, 25, 30}, ctl: []float64{1, 2.2, 1.1, 2.5, 3},
			metric: MetricConfig{EffectSize: EffectSize{AllowedDecrease: 0.8, AllowedIncrease: 1.2}}, want: High},
		{name: "Mann-Whitney Classifier Test - Mean Ratio Effect Size: Low", exp: around10, ctl: around20b,
			metric: MetricConfig{Direction: DirectionDecrease, EffectSize: EffectSize{AllowedDecrease: 0.8, AllowedIncrease: 1.2}}, want: Low},
		{name: "Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass",
			exp: []float64{10, 12.2, 10.1, 12.5, 23}, ctl: []float64{20, 22, 21, 25, 30},
			metric: MetricConfig{EffectSize: EffectSize{AllowedDecrease: 0.5, AllowedIncrease: 1.0}}, want: Pass},
		{name: "Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass (Large Input)", exp: largeExperiment, ctl: largeControl,
			metric: MetricConfig{EffectSize: EffectSize{AllowedDecrease: 1.0, AllowedIncrease: 5.0}}, want: Pass},
		{name: "Mann-Whitney Classifier Test - Critical Effect Size: Critical High",
			exp: []float64{20, 22, 21, 25, 30}, ctl: []float64{1, 2.2, 1.1, 2.5, 3},
			metric: MetricConfig{Critical: true, EffectSize: EffectSize{CriticalDecrease: 1.0, CriticalIncrease: 1.2}}, want: High, wantCritical: true},
		{name: "Mann-Whitney Classifier Test - Critical Effect Size: Critical Low",
			exp: []float64{2, 2, 2, 2, 3}, ctl: []float64{10, 20.2, 10.1, 20.5, 30},
			metric: MetricConfig{Critical: true, EffectSize: EffectSize{CriticalDecrease: 1.2, CriticalIncrease: 1.0}}, want: Low, wantCritical: true},
		{name: "Mann-Whitney Classifier Test - Critical Effect Size: High",
			exp: []float64{20, 22, 21, 25, 30}, ctl: []float64{1, 2.2, 1.1, 2.5, 3},
			metric: MetricConfig{Critical: true, EffectSize: EffectSize{AllowedDecrease: 1.0, AllowedIncrease: 5.0, CriticalDecrease: 1.0, CriticalIncrease: 13.0}}, want: High},
		{name: "Mann-Whitney Classifier Test - Critical Effect Size: Pass",
			exp: []float64{20, 22, 21, 25, 30}, ctl: []float64{1, 2.2, 1.1, 2.5, 3},
			metric: MetricConfig{Critical: true, EffectSize: EffectSize{AllowedDecrease: 1.0, AllowedIncrease: 13.0, CriticalDecrease: 1.0, CriticalIncrease: 15.0}}, want: Pass},
		{name: "Mann-Whitney Classifier Test - Critical Effect Size: Critical High (Default Thresholds)",
			exp: []float64{20, 22, 21, 25, 30}, ctl: []float64{1, 2.2, 1.1, 2.5, 3},
			metric: MetricConfig{Critical: true}, want: High, wantCritical: true},
		{name: "Mann-Whitney Tied Observations", exp: []float64{1, 1, 1}, ctl: []float64{1, 1},
			metric: MetricConfig{Direction: DirectionDecrease}, want: Pass},
		{name: "Mann-Whitney Identical Populations", exp: []float64{1, 2, 3, 4, 5}, ctl: []float64{5, 4, 3, 2, 1},
			metric: MetricConfig{Direction: DirectionDecrease}, want: Pass},
		{name: "Mann-Whitney Leading Zero Identical Population", exp: []float64{0, 1, 1, 1, 1}, ctl: []float64{1, 1, 1, 1, 1},
			metric: MetricConfig{Direction: DirectionDecrease}, want: Pass},
		{name: "Mann-Whitney Missing Experiment Data", exp: nil, ctl: []float64{1, 2, 3, 4, 5},
			metric: MetricConfig{Direction: DirectionDecrease}, want: Nodata},
		{name: "Mann-Whitney Missing Experiment Data: Critical Metric", exp: nil, ctl: []float64{1, 2, 3, 4, 5},
			metric: MetricConfig{Direction: DirectionDecrease, Critical: true}, want: Nodata, wantCritical: true},
		{name: "Mann-Whitney Missing Experiment Data with NaN Replacement", exp: nil, ctl: []float64{1, 2, 3, 4, 5},
			metric: MetricConfig{Direction: DirectionDecrease, NaNStrategy: NaNReplace}, want: Pass},
		{name: "Mann-Whitney Majority Tied Observations", exp: []float64{1, 1, 1, 1, 10}, ctl: []float64{1, 1, 1, 1, 1}, want: Pass},
		{name: "Mann-Whitney Tied Ranks", exp: []float64{10, 10, 10, 10, 10}, ctl: []float64{1, 1, 1, 1, 1}, want: High},
		{name: "Mann-Whitney Tied Ranks With Zeros", exp: []float64{10, 10, 10, 10, 10}, ctl: []float64{0, 0, 0, 0, 0}, want: High},
	} {
		m := c.metric
		m.Name, m.Group = "test-metric", "test"
		got := kayentaTest.classify(m, Samples{Control: c.ctl, Experiment: c.exp}, testRand())
		if got.Classification != c.want || got.Critical != c.wantCritical {
			t.Errorf("%s: got %s (critical %v): %s; want %s (critical %v)", c.name, got.Classification, got.Critical, got.Reason, c.want, c.wantCritical)
		}
		if got.Reason == "" { // "Mann-Whitney Missing Data: Reason String", for every row
			t.Errorf("%s: no reason", c.name)
		}
	}
}

// The same High at Kayenta's production constants (0.25, 0.98), and the
// row's numbers: a canary about 10 above a baseline about 10.
func TestClassifyRow(t *testing.T) {
	row := Classify(MetricConfig{Name: "latency", Group: "perf"}, Samples{Control: around10b, Experiment: around20}, nil)
	if row.Classification != High || row.Critical {
		t.Fatalf("got %s critical %v: %s", row.Classification, row.Critical, row.Reason)
	}
	if !(row.CILow > 0.25*math.Abs(row.Estimate)) || !(row.CILow <= row.Estimate && row.Estimate <= row.CIHigh) {
		t.Errorf("interval [%v, %v] estimate %v", row.CILow, row.CIHigh, row.Estimate)
	}
	if want := mean(around20) / mean(around10b); !near(row.Effect, want, 1e-12) {
		t.Errorf("effect %v, want the mean ratio %v", row.Effect, want)
	}
	if row.ControlCount != 30 || row.ExperimentCount != 30 || !near(row.ControlMean, mean(around10b), 1e-12) {
		t.Errorf("counts %d/%d, control mean %v", row.ControlCount, row.ExperimentCount, row.ControlMean)
	}
	if !strings.Contains(row.Reason, "canary higher") || !strings.Contains(row.Reason, "98% CI") {
		t.Errorf("reason %q", row.Reason)
	}
}

// With a CLES effect size, a significant but small shift passes when the
// allowed increase asks for a larger probability of the canary being
// higher.
func TestClassifyCLES(t *testing.T) {
	// A shift of 0.3 standard deviations: a canary value beats a baseline
	// value with probability Φ(0.3/√2) ≈ 0.58, significant at 2,000 each.
	rng := rand.New(rand.NewPCG(3, 4))
	ctl, exp := make([]float64, 2000), make([]float64, 2000)
	for i := range ctl {
		ctl[i] = rng.NormFloat64()
		exp[i] = rng.NormFloat64() + 0.3
	}
	m := MetricConfig{Name: "m", Group: "g", EffectSize: EffectSize{Measure: EffectCLES}}
	row := Classify(m, Samples{Control: ctl, Experiment: exp}, nil)
	if row.Classification != High || !(row.Effect > 0.55 && row.Effect < 0.65) {
		t.Fatalf("default cles thresholds: %s, cles %v: %s", row.Classification, row.Effect, row.Reason)
	}
	m.EffectSize.AllowedIncrease = 0.7
	if row := Classify(m, Samples{Control: ctl, Experiment: exp}, nil); row.Classification != Pass {
		t.Errorf("allowed increase 0.7 over cles %v: got %s", row.Effect, row.Classification)
	}
}

func TestCLES(t *testing.T) {
	for _, c := range []struct {
		exp, ctl []float64
		want     float64
	}{
		{[]float64{3, 4}, []float64{1, 2}, 1},
		{[]float64{1, 2}, []float64{3, 4}, 0},
		{[]float64{1, 2}, []float64{1, 2}, 0.5},
		{[]float64{2}, []float64{1, 2, 3}, 0.5}, // 1 win, 1 tie, 1 loss
		{[]float64{1, 5}, []float64{2, 3, 4}, 0.5},
	} {
		if got := cles(c.exp, c.ctl); got != c.want {
			t.Errorf("cles(%v, %v) = %v, want %v", c.exp, c.ctl, got, c.want)
		}
	}
}

// Kayenta's mean ratio is NaN when a mean is 0 and the effect size check is
// then skipped: the Spinnaker guide's "Example A" (an error count, NaN
// baseline replaced by zeros) is High, critical, with an undefined ratio.
func TestClassifyZeroBaselineMean(t *testing.T) {
	m := MetricConfig{Name: "errors", Group: "errors", NaNStrategy: NaNReplace, Direction: DirectionIncrease, Critical: true}
	nan := math.NaN()
	row := Classify(m, Samples{
		Control:    []float64{nan, nan, nan, nan, nan, nan, nan, nan},
		Experiment: []float64{3, 5, 2, 4, 6, 3, 5, 4},
	}, testRand())
	if row.Classification != High || !row.Critical || !math.IsNaN(row.Effect) {
		t.Errorf("got %s critical %v effect %v: %s", row.Classification, row.Critical, row.Effect, row.Reason)
	}
	// "Example B": no errors on either side is identical data.
	row = Classify(m, Samples{Control: []float64{nan, nan}, Experiment: []float64{nan, nan, nan}}, testRand())
	if row.Classification != Pass {
		t.Errorf("all NaN on both sides, replaced: %s: %s", row.Classification, row.Reason)
	}
}

// Constant sides get noise from the source given, so the same source gives
// the same row, and another source another interval but the same label.
func TestClassifyConstantSidesNoise(t *testing.T) {
	m := MetricConfig{Name: "m", Group: "g"}
	s := Samples{Control: []float64{5, 5, 5, 5, 5, 5}, Experiment: []float64{7, 7, 7, 7, 7, 7}}
	a := Classify(m, s, rand.New(rand.NewPCG(1, 1)))
	b := Classify(m, s, rand.New(rand.NewPCG(1, 1)))
	c := Classify(m, s, rand.New(rand.NewPCG(2, 1)))
	if a.Classification != High || c.Classification != High {
		t.Fatalf("constant 7 against constant 5: %s, %s", a.Classification, c.Classification)
	}
	if a.CILow != b.CILow || a.CIHigh != b.CIHigh || a.Estimate != b.Estimate || a.Effect != b.Effect {
		t.Errorf("same seed, different rows: %+v %+v", a, b)
	}
	if a.Estimate == c.Estimate {
		t.Errorf("different seeds drew the same noise: estimate %v", a.Estimate)
	}
	if !near(a.Estimate, 2, 1e-3) || a.ControlMean != 5 || a.ExperimentMean != 7 {
		t.Errorf("estimate %v (want ≈ 2), means %v %v (want the values before noise)", a.Estimate, a.ControlMean, a.ExperimentMean)
	}
	if row := Classify(m, s, nil); row.Classification != Error {
		t.Errorf("constant sides without a noise source: %s", row.Classification)
	}
}

func TestClassifyNoData(t *testing.T) {
	nan := math.NaN()
	allNaN := Samples{Control: []float64{1, 2, 3}, Experiment: []float64{nan, nan}}
	for _, c := range []struct {
		name         string
		m            MetricConfig
		want         Classification
		wantCritical bool
	}{
		{"plain", MetricConfig{}, Nodata, false},
		{"mustHaveData", MetricConfig{MustHaveData: true}, NodataFailMetric, false},
		{"critical", MetricConfig{Critical: true}, Nodata, true},
		{"critical mustHaveData", MetricConfig{Critical: true, MustHaveData: true}, Nodata, true},
	} {
		c.m.Name, c.m.Group = "m", "g"
		row := Classify(c.m, allNaN, nil)
		if row.Classification != c.want || row.Critical != c.wantCritical || row.ExperimentCount != 0 || row.ControlCount != 3 {
			t.Errorf("%s: %s critical %v counts %d/%d", c.name, row.Classification, row.Critical, row.ControlCount, row.ExperimentCount)
		}
	}
}

func TestClassifyInfinityIsAnError(t *testing.T) {
	for _, critical := range []bool{false, true} {
		m := MetricConfig{Name: "m", Group: "g", Critical: critical}
		row := Classify(m, Samples{Control: []float64{1, 2, 3}, Experiment: []float64{1, math.Inf(1)}}, nil)
		if row.Classification != Error || row.Critical != critical || !strings.Contains(row.Reason, "not finite") {
			t.Errorf("critical=%v: %s critical %v: %s", critical, row.Classification, row.Critical, row.Reason)
		}
	}
}

// With outliers removed, a wild canary value no longer counts. The fences
// are at least the 1st and 99th percentiles, which are the extremes below
// 99 values: outlier removal only bites on larger samples.
func TestClassifyOutlierRemoval(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ctl, exp := make([]float64, 200), make([]float64, 200)
	for i := range ctl {
		ctl[i] = 10 + rng.NormFloat64()
		exp[i] = 10 + rng.NormFloat64()
	}
	exp = append(exp, 1e6)
	m := MetricConfig{Name: "m", Group: "g"}
	kept := Classify(m, Samples{Control: ctl, Experiment: exp}, nil)
	m.Outliers = OutliersRemove
	removed := Classify(m, Samples{Control: ctl, Experiment: exp}, nil)
	if kept.ExperimentCount != 201 || removed.ExperimentCount != 200 || removed.ControlCount != 200 {
		t.Errorf("counts kept %d, removed %d/%d", kept.ExperimentCount, removed.ExperimentCount, removed.ControlCount)
	}
	if !(kept.ExperimentMean > 1000) || !(removed.ExperimentMean < 11) {
		t.Errorf("means kept %v, removed %v", kept.ExperimentMean, removed.ExperimentMean)
	}
	small := Classify(m, Samples{Control: around10b, Experiment: append(slices.Clone(around10), 1e6)}, nil)
	if small.ExperimentCount != 31 {
		t.Errorf("31 values: %d kept, want all (P99 is the maximum)", small.ExperimentCount)
	}
}

// TransformSuite "Remove Single NaN" and "Remove Multiple NaN" (clean also
// sorts, so the expected values are sorted).
func TestCleanNaN(t *testing.T) {
	nan := math.NaN()
	if got := clean([]float64{0, 1, nan, 1, 0}, MetricConfig{}); !slices.Equal(got, []float64{0, 0, 1, 1}) {
		t.Errorf("remove single NaN: %v", got)
	}
	if got := clean([]float64{nan, nan, nan}, MetricConfig{}); len(got) != 0 {
		t.Errorf("remove multiple NaN: %v", got)
	}
	if got := clean([]float64{2, nan, 1}, MetricConfig{NaNStrategy: NaNReplace}); !slices.Equal(got, []float64{0, 1, 2}) {
		t.Errorf("replace NaN: %v", got)
	}
}

// DetectorSuite "IQR Detection", "IQR Detect Two Sided", "IQR Reduce
// Sensitivity", "IQR Empty Data", and TransformSuite "IQR Outlier Removal".
func TestIQRDetectorSuite(t *testing.T) {
	for _, c := range []struct {
		name    string
		data    []float64
		factor  float64
		reduce  bool
		outlier []bool
	}{
		{"IQR Detection", []float64{21, 23, 24, 25, 50, 29, 23, 21}, 1.5, false,
			[]bool{false, false, false, false, true, false, false, false}},
		{"IQR Detect Two Sided", []float64{1, 1, 1, 5, -1, -1, -1, -5}, 1.5, false,
			[]bool{false, false, false, true, false, false, false, true}},
		// With R-7 percentiles P99 would be 18.1 and the 20 an outlier:
		// Kayenta's percentiles are Commons Math's (n+1)p ones.
		{"IQR Reduce Sensitivity", []float64{1, 1, 1, 1, 1, 20, 1, 1, 1, 1, 1}, 3, true,
			[]bool{false, false, false, false, false, false, false, false, false, false, false}},
	} {
		lo, hi := iqrFences(c.data, c.factor, c.reduce)
		for i, v := range c.data {
			if got := v < lo || v > hi; got != c.outlier[i] {
				t.Errorf("%s: value %v (index %d) outlier %v, want %v (fences [%v, %v])", c.name, v, i, got, c.outlier[i], lo, hi)
			}
		}
	}
	if got := removeOutliers(nil, 1.5, false); len(got) != 0 {
		t.Errorf("IQR Empty Data: %v", got)
	}
	got := removeOutliers([]float64{21, 23, 24, 25, 50, 29, 23, 21}, 1.5, false)
	if want := []float64{21, 23, 24, 25, 29, 23, 21}; !slices.Equal(got, want) {
		t.Errorf("IQR Outlier Removal: %v, want %v", got, want)
	}
}

// Commons Math's default percentile is R's type 6: quantile(1:10, 0.25,
// type = 6) is 2.75; its PercentileTest has 3 for the 75th of {1, 2, 3}.
func TestPercentile(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		data []float64
		p    float64
		want float64
	}{
		{ten, 25, 2.75}, {ten, 50, 5.5}, {ten, 1, 1}, {ten, 99, 10}, {[]float64{1, 2, 3}, 75, 3}, {[]float64{4}, 30, 4},
	} {
		if got := percentile(c.data, c.p); !near(got, c.want, 1e-12) {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.data, c.p, got, c.want)
		}
	}
}
