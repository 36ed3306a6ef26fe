package pluginrelease

import "github.com/stratoswarm/stratoswarm/host/canary"

// The judge's groups of the default metrics.
const (
	GroupQuality  = "quality"
	GroupFailures = "failures"
	GroupLatency  = "latency"
)

// DefaultMetrics are the judge metrics of a plugin canary whose
// configuration names none:
//
//   - best_score_gain_per_evaluation, group quality, fails on a decrease:
//     the canary finds less per evaluation than the default version;
//   - strategy_failures, group failures, fails on an increase, critical
//     (a significant increase fails the whole canary), NaN counted as 0;
//   - strategy_call_seconds, group latency, fails on an increase whose
//     mean ratio is at least 1.25 (a call mix shifts latencies by a few
//     per cent between arms; a quarter slower is a real regression).
func DefaultMetrics() []canary.MetricConfig {
	return []canary.MetricConfig{
		{Name: MetricGainPerEvaluation, Group: GroupQuality, Direction: canary.DirectionDecrease},
		{Name: MetricFailures, Group: GroupFailures, Direction: canary.DirectionIncrease, NaNStrategy: canary.NaNReplace, Critical: true},
		{Name: MetricCallSeconds, Group: GroupLatency, Direction: canary.DirectionIncrease,
			EffectSize: canary.EffectSize{AllowedIncrease: 1.25, CriticalIncrease: 1.25}},
	}
}

// DefaultConfig is the whole judge configuration of a plugin canary:
// DefaultMetrics, quality weighing 50 % and failures and latency 25 %
// each, pass at 90 and marginal at 75. So a canary that is only slower
// (latency High: 75) pauses for a person, one that finds less (quality
// Low: 50) is rolled back, and one that fails more is rolled back
// whatever else it does (critical).
func DefaultConfig() canary.Config {
	return canary.Config{
		Metrics:      DefaultMetrics(),
		GroupWeights: map[string]float64{GroupQuality: 50, GroupFailures: 25, GroupLatency: 25},
		Thresholds:   canary.Thresholds{Pass: 90, Marginal: 75},
	}
}
