package telemetry

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var latency = Series{Agent: "solver", Version: "v2", Source: SourceMesh, Metric: "request_latency_seconds"}

// feed observes values spaced every step from start and returns the events
// with the index of the sample that raised each.
func feed(t *testing.T, d *Detector, s Series, start time.Time, step time.Duration, values []float64) (events []Event, at []int) {
	t.Helper()
	for i, v := range values {
		ev, ok, err := d.Observe(s, Sample{Time: start.Add(time.Duration(i) * step), Value: v})
		if err != nil {
			t.Fatalf("sample %d (%v): %v", i, v, err)
		}
		if ok {
			events = append(events, ev)
			at = append(at, i)
		}
	}
	return events, at
}

// uniform returns n samples of level ± width, uniformly distributed.
func uniform(rng *rand.Rand, n int, level, width float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = level + width*(2*rng.Float64()-1)
	}
	return out
}

func newDetector(t *testing.T, p Params) *Detector {
	t.Helper()
	d, err := NewDetector(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSteadyNoiseRaisesNothing(t *testing.T) {
	for seed := range uint64(5) {
		d := newDetector(t, Params{})
		rng := rand.New(rand.NewPCG(seed, 1))
		events, _ := feed(t, d, latency, t0, time.Second, uniform(rng, 5000, 100, 10))
		if len(events) != 0 {
			t.Fatalf("seed %d: steady noise raised %d events, first %v", seed, len(events), events[0])
		}
		st, _ := d.State(latency)
		// The uniform distribution on 100±10 has mean 100 and sd 10/√3.
		if math.Abs(st.Mean-100) > 3 || math.Abs(st.StdDev-10/math.Sqrt(3)) > 2 {
			t.Fatalf("seed %d: state %+v, want mean ≈ 100 and sd ≈ 5.8", seed, st)
		}
	}
}

func TestGaussianNoiseRaisesFewEvents(t *testing.T) {
	// Gaussian noise has tails: about 0.3 % of samples lie beyond 3σ, so
	// some events are expected; hysteresis keeps them to one per excursion.
	d := newDetector(t, Params{})
	rng := rand.New(rand.NewPCG(7, 7))
	values := make([]float64, 20000)
	for i := range values {
		values[i] = 50 + 4*rng.NormFloat64()
	}
	events, _ := feed(t, d, latency, t0, time.Second, values)
	if rate := float64(len(events)) / float64(len(values)); rate > 0.01 {
		t.Fatalf("Gaussian noise raised %d events in %d samples (%.2f%%), want under 1%%", len(events), len(values), 100*rate)
	}
}

func TestStepChangeRaisesOneEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		to   float64
		kind Kind
	}{{"up", 150, KindSpike}, {"down", 60, KindDrop}} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(t, Params{})
			rng := rand.New(rand.NewPCG(3, 4))
			values := append(uniform(rng, 300, 100, 5), uniform(rng, 300, tc.to, 5)...)
			events, at := feed(t, d, latency, t0, time.Second, values)
			if len(events) != 1 {
				t.Fatalf("step to %v raised %d events (at %v), want 1", tc.to, len(events), at)
			}
			ev := events[0]
			if at[0] != 300 || ev.Kind != tc.kind || ev.Value != values[300] || !ev.Time.Equal(t0.Add(300*time.Second)) {
				t.Fatalf("event %v at sample %d, want a %s at sample 300", ev, at[0], tc.kind)
			}
			if math.Abs(ev.Mean-100) > 2 || ev.StdDev <= 0 || math.Abs(ev.Z-(ev.Value-ev.Mean)/ev.StdDev) > 1e-9 || math.Abs(ev.Z) < 3 {
				t.Fatalf("event %+v: want the state before the step (mean ≈ 100) and z = (value-mean)/sd ≥ 3", ev)
			}
			if st := d.Stats(); st.Events != 1 || st.Held == 0 {
				t.Fatalf("stats %+v: want one event and samples held back by hysteresis", st)
			}
		})
	}
}

func TestSpikeThenRecoveryRaisesOneEventThenRearms(t *testing.T) {
	d := newDetector(t, Params{})
	rng := rand.New(rand.NewPCG(5, 6))
	values := uniform(rng, 400, 100, 5)
	values[100] = 400 // one spike
	values[300] = 400 // a second one, well after the first
	events, at := feed(t, d, latency, t0, time.Second, values)
	if len(events) != 2 || at[0] != 100 || at[1] != 300 {
		t.Fatalf("two isolated spikes raised events at %v, want at [100 300]", at)
	}
}

func TestLowTrafficRaisesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	values := append(uniform(rng, 100, 100, 5), uniform(rng, 100, 200, 5)...)

	// One sample every 30 s is 2 a minute, under the floor of 5.
	slow := newDetector(t, Params{})
	if events, _ := feed(t, slow, latency, t0, 30*time.Second, values); len(events) != 0 {
		t.Fatalf("2 samples a minute raised %v", events)
	}
	if st := slow.Stats(); st.BelowFloor == 0 {
		t.Fatalf("stats %+v: the step should have been held back by the floor", st)
	}
	// The same values at one sample every 10 s (6 a minute) are over it.
	fast := newDetector(t, Params{})
	if events, _ := feed(t, fast, latency, t0, 10*time.Second, values); len(events) != 1 {
		t.Fatalf("6 samples a minute raised %d events, want 1", len(events))
	}
	// And without a floor, the slow series raises it too.
	nofloor := newDetector(t, Params{MinSamples: -1})
	if events, _ := feed(t, nofloor, latency, t0, 30*time.Second, values); len(events) != 1 {
		t.Fatalf("with no floor, 2 samples a minute raised %d events, want 1", len(events))
	}
}

func TestTrafficCountEstimatesTheLastInterval(t *testing.T) {
	var tr tracker
	minute := int64(time.Minute)
	base := t0.UnixNano()
	var got float64
	for i := range 12 { // every 5 s over one minute: 12 samples
		got = tr.count(base+int64(i)*int64(5*time.Second), minute)
		tr.n++
	}
	if got != 12 {
		t.Fatalf("12 samples in the first minute counted %v", got)
	}
	// Halfway through the next minute with 6 more: half of the previous
	// minute's 12 are still in the last 60 s.
	for i := range 6 {
		got = tr.count(base+minute+int64(i)*int64(5*time.Second)+int64(5*time.Second), minute)
	}
	if got != 6+12*0.5 {
		t.Fatalf("counted %v, want 12", got)
	}
	// After a silent minute the old samples are gone.
	if got = tr.count(base+3*minute, minute); got != 1 {
		t.Fatalf("after a gap counted %v, want 1", got)
	}
}

func TestWarmUpSuppresses(t *testing.T) {
	d := newDetector(t, Params{})
	rng := rand.New(rand.NewPCG(1, 2))
	values := uniform(rng, 200, 100, 5)
	values[10] = 1000 // inside the warm-up of 30
	events, _ := feed(t, d, latency, t0, time.Second, values[:30])
	if len(events) != 0 {
		t.Fatalf("warm-up raised %v", events)
	}
	st, _ := d.State(latency)
	if !st.WarmedUp || st.Samples != 30 {
		t.Fatalf("state after 30 samples: %+v", st)
	}
	// A shorter warm-up lets the same outlier through.
	short := newDetector(t, Params{WarmUp: 5})
	if events, at := feed(t, short, latency, t0, time.Second, values); len(events) != 1 || at[0] != 10 {
		t.Fatalf("warm-up 5: events at %v, want one at 10", at)
	}
}

func TestNonFiniteSamplesAreRejected(t *testing.T) {
	d := newDetector(t, Params{})
	rng := rand.New(rand.NewPCG(11, 12))
	feed(t, d, latency, t0, time.Second, uniform(rng, 100, 100, 5))
	before, _ := d.State(latency)
	for i, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, ok, err := d.Observe(latency, Sample{Time: t0.Add(time.Duration(100+i) * time.Second), Value: v})
		if !errors.Is(err, ErrNotFinite) || ok {
			t.Fatalf("%v: event %v err %v, want ErrNotFinite", v, ok, err)
		}
	}
	after, _ := d.State(latency)
	if after != before {
		t.Fatalf("rejected samples changed the state: %+v → %+v", before, after)
	}
	if st := d.Stats(); st.Rejected != 3 || st.Observed != 100 {
		t.Fatalf("stats %+v: want 3 rejected, 100 observed", st)
	}
	// The detector still works: steady data raises nothing, a step one event.
	values := append(uniform(rng, 100, 100, 5), uniform(rng, 50, 200, 5)...)
	if events, at := feed(t, d, latency, t0.Add(200*time.Second), time.Second, values); len(events) != 1 || at[0] != 100 {
		t.Fatalf("after rejections: events at %v, want one at 100", at)
	}
}

func TestDetectorIsDeterministic(t *testing.T) {
	values := make([]float64, 3000)
	rng := rand.New(rand.NewPCG(21, 22))
	for i := range values {
		values[i] = 10 + rng.NormFloat64()
		if i%500 == 499 {
			values[i] += 20
		}
	}
	a, _ := feed(t, newDetector(t, Params{}), latency, t0, time.Second, values)
	b, _ := feed(t, newDetector(t, Params{}), latency, t0, time.Second, values)
	if len(a) < 6 || len(a) != len(b) {
		t.Fatalf("two runs raised %d and %d events, want the same, at least the 6 planted", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestSeriesAreIndependent(t *testing.T) {
	d := newDetector(t, Params{})
	other := latency
	other.Version = "v3"
	rng := rand.New(rand.NewPCG(31, 32))
	quiet := uniform(rng, 200, 100, 5)
	loud := append(uniform(rng, 100, 100, 5), uniform(rng, 100, 300, 5)...)
	for i := range 200 {
		at := t0.Add(time.Duration(i) * time.Second)
		if _, ok, _ := d.Observe(latency, Sample{Time: at, Value: quiet[i]}); ok {
			t.Fatalf("the quiet series raised an event at %d", i)
		}
		if _, ok, _ := d.Observe(other, Sample{Time: at, Value: loud[i]}); ok != (i == 100) {
			t.Fatalf("the loud series: event=%v at %d", ok, i)
		}
	}
	d.Forget(other)
	if _, ok := d.State(other); ok || d.Stats().Series != 1 {
		t.Fatal("Forget kept the series")
	}
}

func TestParamsAreChecked(t *testing.T) {
	for _, p := range []Params{
		{Alpha: 1.5}, {Alpha: -0.1}, {Alpha: math.NaN()}, {WarmUp: 1}, {Threshold: -1},
		{Threshold: 3, Rearm: 3}, {Rearm: -1}, {MinStdDev: -1}, {FloorInterval: -time.Second},
	} {
		if _, err := NewDetector(p); err == nil {
			t.Errorf("params %+v accepted", p)
		}
	}
	d := newDetector(t, Params{})
	if d.Params() != DefaultParams() || d.Params().Threshold != 3 || d.Params().WarmUp != 30 {
		t.Fatalf("defaults %+v", d.Params())
	}
}
