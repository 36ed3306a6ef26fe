package pluginrelease

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// The metrics a plugin canary is judged on, as the Recorder records them.
const (
	// MetricCallSeconds is one strategy call's latency in seconds, one
	// sample per call (init, propose, observe, snapshot, restore).
	MetricCallSeconds = "strategy_call_seconds"
	// MetricFailures is 1 for a strategy call that failed (a trap, a
	// timeout, an error or garbage) and 0 for one that did not, one sample
	// per call.
	MetricFailures = "strategy_failures"
	// MetricGainPerEvaluation is one generation's relative gain of the
	// evolution's best primary score divided by the evaluations it spent,
	// higher is better (evolve.GenerationOutcome), one sample per
	// generation after the evolution's first complete one.
	MetricGainPerEvaluation = "best_score_gain_per_evaluation"
)

// Metrics are the metrics the Recorder records, the only ones a plugin
// canary can be judged on.
var Metrics = []string{MetricCallSeconds, MetricFailures, MetricGainPerEvaluation}

// SeriesFor is the telemetry series of metric for the evolutions of plugin
// version on arm: agent plugin, version "VERSION-ARM" (e.g. 1.1.0-canary,
// 1.0.0-baseline), source agent. The arm is part of the version so that
// the baseline and the live arm, which run the same plugin version, are
// two series.
func SeriesFor(plugin, version, arm, metric string) telemetry.Series {
	return telemetry.Series{Agent: plugin, Version: version + "-" + arm, Source: telemetry.SourceAgent, Metric: metric}
}

// Recorder is the engine's outcome sink (an evolve.Outcomes): it records
// the outcomes of evolutions routed to a canary's arm into a telemetry hub
// (SeriesFor), stamped by its clock; unrouted evolutions are not recorded.
// It is safe for concurrent use.
type Recorder struct {
	hub *telemetry.Hub
	now func() time.Time

	// mu orders the samples: each is stamped and recorded under it, so a
	// series never gets a sample older than its newest.
	mu      sync.Mutex
	dropped atomic.Int64
}

var _ evolve.Outcomes = (*Recorder)(nil)

// NewRecorder returns a recorder into hub, stamping samples with now
// (time.Now when nil): give it the clock the canary's driver collects by.
func NewRecorder(hub *telemetry.Hub, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{hub: hub, now: now}
}

// StrategyCall records a routed evolution's strategy call: its latency
// and whether it failed.
func (r *Recorder) StrategyCall(run evolve.StrategyRun, _ string, latency time.Duration, failed bool) {
	if run.Arm == "" {
		return
	}
	f := 0.0
	if failed {
		f = 1
	}
	r.record(run, map[string]float64{MetricCallSeconds: latency.Seconds(), MetricFailures: f})
}

// Generation records a routed evolution's gain per evaluation.
func (r *Recorder) Generation(run evolve.StrategyRun, g evolve.GenerationOutcome) {
	if run.Arm == "" || g.Evaluations <= 0 {
		return
	}
	r.record(run, map[string]float64{MetricGainPerEvaluation: g.Gain / float64(g.Evaluations)})
}

// Dropped is how many samples the hub refused (a full window, or a value
// that is not finite).
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

func (r *Recorder) record(run evolve.StrategyRun, values map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for m, v := range values {
		if err := r.hub.Record(SeriesFor(run.Plugin, run.Version, run.Arm, m), telemetry.Sample{Time: now, Value: v}); err != nil {
			r.dropped.Add(1)
		}
	}
}
