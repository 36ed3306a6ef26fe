package canary

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var th = Thresholds{Pass: 90, Marginal: 75}

func constant(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// A judgement of five metrics in two groups, one with constant sides (so
// noise), one identical, one without canary data.
func judgeFixture() (Config, map[string]Samples) {
	cfg := Config{
		Metrics: []MetricConfig{
			{Name: "latency", Group: "perf", Direction: DirectionIncrease},
			{Name: "throughput", Group: "perf", Direction: DirectionDecrease},
			{Name: "cpu", Group: "perf"},
			{Name: "errors", Group: "errors", NaNStrategy: NaNReplace, Direction: DirectionIncrease},
			{Name: "restarts", Group: "errors"},
		},
		Thresholds: th,
	}
	nan := math.NaN()
	return cfg, map[string]Samples{
		"latency":    {Control: around10b, Experiment: around20},
		"throughput": {Control: around10, Experiment: around10b},
		"cpu":        {Control: constant(3, 20), Experiment: constant(3.5, 20)},
		"errors":     {Control: []float64{nan, 1, nan}, Experiment: []float64{1, nan, nan}},
		"restarts":   {Control: []float64{0, 1}},
	}
}

func TestJudge(t *testing.T) {
	cfg, s := judgeFixture()
	r, err := Judge(cfg, s, 42)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Classification{}
	for _, m := range r.Metrics {
		got[m.Name] = m.Classification
	}
	want := map[string]Classification{"latency": High, "throughput": Pass, "cpu": High, "errors": Pass, "restarts": Nodata}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("classifications %v, want %v", got, want)
	}
	// perf: 1 Pass of 3 → 33.33; errors: 1 Pass, 1 Nodata → 100; 50/50.
	if r.Score != 66.67 || r.Verdict != VerdictFail || r.Reason != "" || r.Seed != 42 {
		t.Errorf("score %v verdict %s reason %q seed %d", r.Score, r.Verdict, r.Reason, r.Seed)
	}
	if names := []string{r.Metrics[0].Name, r.Metrics[4].Name}; names[0] != "latency" || names[1] != "restarts" {
		t.Errorf("rows not in configuration order: %v", names)
	}
}

// The same samples and seed give the same Result; a metric's noise depends
// on the seed and its name only, not on the other metrics or their order.
func TestJudgeIsReproducible(t *testing.T) {
	cfg, s := judgeFixture()
	a, _ := Judge(cfg, s, 7)
	b, _ := Judge(cfg, s, 7)
	if !sameResult(a, b) {
		t.Fatalf("two judgements with seed 7 differ:\n%+v\n%+v", a, b)
	}
	c, _ := Judge(cfg, s, 8)
	if row(a, "cpu").Estimate == row(c, "cpu").Estimate {
		t.Errorf("seeds 7 and 8 drew the same noise")
	}
	reordered := cfg
	reordered.Metrics = slices.Clone(cfg.Metrics)
	slices.Reverse(reordered.Metrics)
	reordered.Metrics = reordered.Metrics[1:] // without restarts
	d, err := Judge(reordered, map[string]Samples{"cpu": s["cpu"], "latency": s["latency"], "throughput": s["throughput"], "errors": s["errors"]}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRow(row(a, "cpu"), row(d, "cpu")) {
		t.Errorf("reordering and dropping other metrics changed cpu's row:\n%+v\n%+v", row(a, "cpu"), row(d, "cpu"))
	}
}

func row(r Result, name string) MetricResult {
	i := slices.IndexFunc(r.Metrics, func(m MetricResult) bool { return m.Name == name })
	return r.Metrics[i]
}

// sameRow compares rows treating NaN as equal to NaN.
func sameRow(a, b MetricResult) bool {
	f := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return a.Name == b.Name && a.Classification == b.Classification && a.Critical == b.Critical && a.Reason == b.Reason &&
		f(a.CILow, b.CILow) && f(a.CIHigh, b.CIHigh) && f(a.Estimate, b.Estimate) && f(a.Effect, b.Effect) &&
		a.ControlCount == b.ControlCount && a.ExperimentCount == b.ExperimentCount && f(a.ControlMean, b.ControlMean) && f(a.ExperimentMean, b.ExperimentMean)
}

func sameResult(a, b Result) bool {
	if a.Score != b.Score || a.Verdict != b.Verdict || a.Reason != b.Reason || len(a.Metrics) != len(b.Metrics) || !reflect.DeepEqual(a.Groups, b.Groups) {
		return false
	}
	for i := range a.Metrics {
		if !sameRow(a.Metrics[i], b.Metrics[i]) {
			return false
		}
	}
	return true
}

func TestJudgeEdgeCases(t *testing.T) {
	nan := math.NaN()
	pass := Samples{Control: around10, Experiment: around10b}
	high := Samples{Control: around10b, Experiment: around20}
	for _, c := range []struct {
		name    string
		metrics []MetricConfig
		samples map[string]Samples
		weights map[string]float64
		score   float64
		verdict Verdict
		reason  string
	}{
		{"no samples at all for half the metrics", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "g"}},
			map[string]Samples{"a": pass}, nil, 0, VerdictFail, "1 of 2 metrics"},
		{"all NaN on one side", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "g"}, {Name: "c", Group: "g"}},
			map[string]Samples{"a": pass, "b": pass, "c": {Control: []float64{nan, nan}, Experiment: around10}}, nil, 100, VerdictPass, ""},
		{"identical samples", []MetricConfig{{Name: "a", Group: "g"}},
			map[string]Samples{"a": {Control: []float64{3, 1, 2}, Experiment: []float64{1, 2, 3}}}, nil, 100, VerdictPass, ""},
		{"constant and equal", []MetricConfig{{Name: "a", Group: "g"}},
			map[string]Samples{"a": {Control: constant(4, 9), Experiment: constant(4, 3)}}, nil, 100, VerdictPass, ""},
		{"mustHaveData without data fails its group", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "g", MustHaveData: true}},
			map[string]Samples{"a": pass}, nil, 50, VerdictFail, ""},
		{"critical High fails the canary", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "h", Critical: true}},
			map[string]Samples{"a": pass, "b": high}, nil, 0, VerdictFail, `critical metric "b" is High`},
		{"critical without data fails the canary", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "g"}, {Name: "c", Group: "h", Critical: true, MustHaveData: true}},
			map[string]Samples{"a": pass, "b": pass}, nil, 0, VerdictFail, `critical metric "c" is Nodata`},
		{"critical Pass does not", []MetricConfig{{Name: "a", Group: "g", Critical: true}}, map[string]Samples{"a": pass}, nil, 100, VerdictPass, ""},
		{"muted High is reported, not scored", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "g", Muted: true}},
			map[string]Samples{"a": pass, "b": high}, nil, 100, VerdictPass, ""},
		{"weights below 100", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "h"}},
			map[string]Samples{"a": pass, "b": pass}, map[string]float64{"g": 60, "h": 20}, 80, VerdictMarginal, ""},
		{"one weight, the rest shared", []MetricConfig{{Name: "a", Group: "g"}, {Name: "b", Group: "h"}, {Name: "c", Group: "i"}},
			map[string]Samples{"a": high, "b": pass, "c": pass}, map[string]float64{"g": 10}, 90, VerdictPass, ""},
	} {
		r, err := Judge(Config{Metrics: c.metrics, GroupWeights: c.weights, Thresholds: th}, c.samples, 1)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if r.Score != c.score || r.Verdict != c.verdict || !strings.Contains(r.Reason, c.reason) || (c.reason == "") != (r.Reason == "") {
			t.Errorf("%s: score %v %s reason %q; want %v %s reason with %q", c.name, r.Score, r.Verdict, r.Reason, c.score, c.verdict, c.reason)
		}
	}
}

func TestJudgeRefuses(t *testing.T) {
	ok := MetricConfig{Name: "a", Group: "g"}
	for _, c := range []struct {
		name    string
		cfg     Config
		samples map[string]Samples
		want    string
	}{
		{"no metrics", Config{Thresholds: th}, nil, "no metrics"},
		{"samples for an unknown metric", Config{Metrics: []MetricConfig{ok}, Thresholds: th}, map[string]Samples{"b": {}}, `samples for metric "b"`},
		{"duplicate metric", Config{Metrics: []MetricConfig{ok, ok}, Thresholds: th}, nil, "appears twice"},
		{"no group", Config{Metrics: []MetricConfig{{Name: "a"}}, Thresholds: th}, nil, "has no group"},
		{"bad direction", Config{Metrics: []MetricConfig{{Name: "a", Group: "g", Direction: "up"}}, Thresholds: th}, nil, `direction "up"`},
		{"bad nanStrategy", Config{Metrics: []MetricConfig{{Name: "a", Group: "g", NaNStrategy: "zero"}}, Thresholds: th}, nil, "nanStrategy"},
		{"bad effect measure", Config{Metrics: []MetricConfig{{Name: "a", Group: "g", EffectSize: EffectSize{Measure: "cohen"}}}, Thresholds: th}, nil, "meanRatio or cles"},
		{"cles above 1", Config{Metrics: []MetricConfig{{Name: "a", Group: "g", EffectSize: EffectSize{Measure: EffectCLES, AllowedIncrease: 1.2}}}, Thresholds: th}, nil, "CLES is a probability"},
		{"weights over 100", Config{Metrics: []MetricConfig{ok, {Name: "b", Group: "h"}}, GroupWeights: map[string]float64{"g": 70, "h": 40}, Thresholds: th}, nil, "sum to 110"},
		{"weight for no group", Config{Metrics: []MetricConfig{ok}, GroupWeights: map[string]float64{"latency": 50}, Thresholds: th}, nil, `weight for "latency"`},
		{"marginal above pass", Config{Metrics: []MetricConfig{ok}, Thresholds: Thresholds{Pass: 70, Marginal: 80}}, nil, "marginal ≤ pass"},
		{"no thresholds", Config{Metrics: []MetricConfig{ok}}, nil, "pass > 0"},
	} {
		_, err := Judge(c.cfg, c.samples, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}
