package canary

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// rolloutJudge judges latency (baseline ~ N(100, 10)) and errors, each in
// its own group, both failing on an increase. Without weights the groups
// count 50/50, so one High metric makes 50: Fail; with latency at 20 % it
// makes 80: Marginal.
func rolloutJudge(weights map[string]float64) Config {
	return Config{
		Metrics: []MetricConfig{
			{Name: "latency", Group: "latency", Direction: DirectionIncrease},
			{Name: "errors", Group: "errors", Direction: DirectionIncrease},
		},
		GroupWeights: weights,
		Thresholds:   th,
	}
}

func testPlan(pace float64) Plan {
	return Plan{StepWeights: []int{10, 25, 50}, Interval: 5 * time.Minute, Judge: rolloutJudge(nil), Pace: pace}
}

func newRollout(t *testing.T, p Plan) *Rollout {
	t.Helper()
	r, err := NewRollout(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sampleSource draws one interval's samples: n per side, latency from
// N(100, 10) for the baseline and N(canaryLatency, 10) for the canary,
// errors from N(5, 1) for both. The interval's number seeds the draw.
type sampleSource struct {
	seed          uint64
	n             int
	canaryLatency float64
}

func (s sampleSource) draw(interval uint64) Observation {
	rng := rand.New(rand.NewPCG(s.seed, interval))
	norm := func(mean, sd float64) []float64 {
		out := make([]float64, s.n)
		for i := range out {
			out[i] = mean + sd*rng.NormFloat64()
		}
		return out
	}
	return Observation{
		Samples: map[string]Samples{
			"latency": {Control: norm(100, 10), Experiment: norm(s.canaryLatency, 10)},
			"errors":  {Control: norm(5, 1), Experiment: norm(5, 1)},
		},
		Seed: interval,
	}
}

func good(seed uint64) sampleSource  { return sampleSource{seed: seed, n: 100, canaryLatency: 100} }
func worse(seed uint64) sampleSource { return sampleSource{seed: seed, n: 100, canaryLatency: 130} }

// silence drops the canary's samples, as when its data stops.
func silence(o Observation) Observation {
	for name, s := range o.Samples {
		o.Samples[name] = Samples{Control: s.Control}
	}
	return o
}

func actions(ds []Decision) []Action {
	var out []Action
	for _, d := range ds {
		out = append(out, d.Action)
	}
	return out
}

func TestPlanValidate(t *testing.T) {
	ok := testPlan(DefaultPace)
	if err := ok.Validate(); err != nil {
		t.Fatalf("a good plan: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Plan)
		want string
	}{
		{"no steps", func(p *Plan) { p.StepWeights = nil }, "no step weights"},
		{"zero weight", func(p *Plan) { p.StepWeights = []int{0, 25} }, "step weight 1 is 0%"},
		{"over 50", func(p *Plan) { p.StepWeights = []int{10, 60} }, "step weight 2 is 60%; each must be from 1 to 50"},
		{"not increasing", func(p *Plan) { p.StepWeights = []int{10, 25, 25} }, "step weight 3 (25%) is not above step 2 (25%)"},
		{"decreasing", func(p *Plan) { p.StepWeights = []int{25, 10} }, "must increase"},
		{"no interval", func(p *Plan) { p.Interval = 0 }, "interval is 0s"},
		{"negative maxNoData", func(p *Plan) { p.MaxNoData = -1 }, "maxNoData is -1"},
		{"negative minSamples", func(p *Plan) { p.MinSamples = -3 }, "minSamples is -3"},
		{"pace above 1", func(p *Plan) { p.Pace = 1.5 }, "pace 1.5 is outside [0, 1]"},
		{"pace NaN", func(p *Plan) { p.Pace = math.NaN() }, "pace NaN is outside"},
		{"bad judge", func(p *Plan) { p.Judge.Thresholds = Thresholds{Pass: 50, Marginal: 70} }, "judge configuration: canary: thresholds"},
	} {
		p := testPlan(DefaultPace)
		p.StepWeights = append([]int(nil), p.StepWeights...)
		c.edit(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if _, nerr := NewRollout(p); nerr == nil {
			t.Errorf("%s: NewRollout accepted the plan", c.name)
		}
	}
}

// Pace changes the schedule: slower paces repeat each step's analysis,
// faster ones skip every other intermediate step.
func TestPlanSchedule(t *testing.T) {
	weights := []int{5, 10, 20, 30, 50}
	st := func(n int, ws ...int) []Stage {
		var out []Stage
		for _, w := range ws {
			out = append(out, Stage{Weight: w, Analyses: n})
		}
		return out
	}
	for _, c := range []struct {
		pace float64
		want []Stage
	}{
		{0, st(3, 5, 10, 20, 30, 50)},
		{0.2, st(3, 5, 10, 20, 30, 50)},
		{0.25, st(2, 5, 10, 20, 30, 50)},
		{0.49, st(2, 5, 10, 20, 30, 50)},
		{0.5, st(1, 5, 10, 20, 30, 50)},
		{0.74, st(1, 5, 10, 20, 30, 50)},
		{0.75, st(1, 5, 20, 50)},
		{1, st(1, 5, 20, 50)},
	} {
		got := Plan{StepWeights: weights, Pace: c.pace}.Schedule()
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("pace %v: schedule %v, want %v", c.pace, got, c.want)
		}
	}
	// The last step is kept when it sits at an even position.
	if got := (Plan{StepWeights: []int{10, 25, 40, 50}, Pace: 0.9}).Schedule(); !reflect.DeepEqual(got, st(1, 10, 40, 50)) {
		t.Errorf("pace 0.9 over 10, 25, 40, 50: %v", got)
	}
}

func TestRolloutStepsAndPromotes(t *testing.T) {
	r := newRollout(t, testPlan(DefaultPace))
	if l, b, c := r.Weights(); l != 80 || b != 10 || c != 10 {
		t.Fatalf("initial weights %d/%d/%d, want 80/10/10", l, b, c)
	}
	src := good(1)
	var splits []Split
	for i := range 3 {
		now := t0.Add(time.Duration(i+1) * 5 * time.Minute)
		d, err := r.Observe(now, src.draw(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != VerdictPass || d.Score != 100 || !d.Time.Equal(now) || d.Step != i || d.By != Actor || len(d.Result.Metrics) != 2 {
			t.Fatalf("decision %d: %+v", i, d)
		}
		splits = append(splits, d.Before, d.After)
	}
	want := []Split{{80, 10, 10}, {50, 25, 25}, {50, 25, 25}, {0, 50, 50}, {0, 50, 50}, {100, 0, 0}}
	if !reflect.DeepEqual(splits, want) {
		t.Errorf("splits before/after %v, want %v", splits, want)
	}
	st := r.Status()
	if st.Phase != PhasePromoted || !reflect.DeepEqual(actions(st.Decisions), []Action{ActionStep, ActionStep, ActionPromote}) {
		t.Errorf("phase %s, actions %v", st.Phase, actions(st.Decisions))
	}
	if !strings.Contains(st.Reason, "analysis 1 of 1 at step 3 of 3 (canary 50%) passed with score 100") || !strings.Contains(st.Reason, "promoted") {
		t.Errorf("reason %q", st.Reason)
	}
	if _, err := r.Observe(t0, src.draw(9)); !errors.Is(err, ErrFinished) || !strings.Contains(err.Error(), "Promoted") {
		t.Errorf("Observe after promotion: %v", err)
	}
}

func TestRolloutFailRollsBack(t *testing.T) {
	r := newRollout(t, testPlan(DefaultPace))
	d, err := r.Observe(t0, worse(1).draw(0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != VerdictFail || d.Action != ActionRollback || r.Status().Phase != PhaseRolledBack {
		t.Fatalf("decision %+v, phase %s", d, r.Status().Phase)
	}
	if row(d.Result, "latency").Classification != High || row(d.Result, "errors").Classification != Pass {
		t.Errorf("metric table %+v", d.Result.Metrics)
	}
	if !strings.Contains(d.Reason, "failing: latency High") || d.After != (Split{Live: 100}) {
		t.Errorf("reason %q, after %v", d.Reason, d.After)
	}
}

func TestRolloutMarginalPausesAndResumes(t *testing.T) {
	p := testPlan(DefaultPace)
	p.Judge = rolloutJudge(map[string]float64{"latency": 20, "errors": 80})
	r := newRollout(t, p)
	d, err := r.Observe(t0, worse(2).draw(0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != VerdictMarginal || d.Score != 80 || d.Action != ActionPause || d.After != d.Before {
		t.Fatalf("decision %+v", d)
	}
	if _, err := r.Observe(t0, good(2).draw(1)); !errors.Is(err, ErrPaused) {
		t.Errorf("Observe while paused: %v", err)
	}
	if _, err := r.Resume(t0, ""); err == nil {
		t.Error("Resume without saying who succeeded")
	}
	rd, err := r.Resume(t0, "alice")
	if err != nil || rd.Action != ActionResume || rd.By != "alice" || r.Status().Phase != PhaseProgressing {
		t.Fatalf("resume: %+v, %v", rd, err)
	}
	if _, err := r.Resume(t0, "alice"); !errors.Is(err, ErrNotPaused) {
		t.Errorf("second resume: %v", err)
	}
	if d, _ := r.Observe(t0, good(2).draw(2)); d.Action != ActionStep {
		t.Errorf("after resuming, a pass: %+v", d)
	}
}

func TestRolloutNoData(t *testing.T) {
	// Default MaxNoData: the first interval without data pauses.
	r := newRollout(t, testPlan(DefaultPace))
	d, _ := r.Observe(t0, silence(good(3).draw(0)))
	if d.Verdict != VerdictNoData || d.Action != ActionPause || r.Status().Phase != PhasePaused {
		t.Fatalf("decision %+v", d)
	}
	if !strings.Contains(d.Reason, `no data at step 1 of 3 (canary 10%): metric "latency" has 100 baseline and 0 canary values`) {
		t.Errorf("reason %q", d.Reason)
	}

	// MaxNoData 2: one interval without data holds, data resets the count,
	// two in a row pause. Too few values count as none.
	p := testPlan(0) // three passes per step, so passes hold too
	p.MaxNoData = 2
	r = newRollout(t, p)
	few := good(3)
	few.n = DefaultMinSamples - 1
	for i, c := range []struct {
		obs  Observation
		want Action
	}{
		{silence(good(3).draw(0)), ActionHold},
		{good(3).draw(1), ActionHold},
		{few.draw(2), ActionHold},
		{silence(good(3).draw(3)), ActionPause},
	} {
		d, err := r.Observe(t0, c.obs)
		if err != nil || d.Action != c.want {
			t.Fatalf("interval %d: %+v, %v; want %s", i, d, err, c.want)
		}
	}
	if st := r.Status(); st.Passes != 1 || !strings.Contains(st.Reason, "2 interval(s) in a row without data, the most allowed is 2") {
		t.Errorf("passes %d, reason %q", st.Passes, st.Reason)
	}

	// A muted metric may lack data.
	p = testPlan(DefaultPace)
	p.Judge.Metrics[1].Muted = true
	r = newRollout(t, p)
	o := good(3).draw(0)
	o.Samples["errors"] = Samples{}
	if d, _ := r.Observe(t0, o); d.Action != ActionStep {
		t.Errorf("muted metric without data: %+v", d)
	}
}

func TestRolloutCrashRollsBackWithoutJudging(t *testing.T) {
	r := newRollout(t, testPlan(DefaultPace))
	o := good(4).draw(0)
	o.CanaryCrashed, o.CrashReason = true, "OOMKilled (exit 137)"
	d, err := r.Observe(t0, o)
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != ActionRollback || d.Verdict != VerdictFail || len(d.Result.Metrics) != 0 || !strings.Contains(d.Reason, "OOMKilled (exit 137)") {
		t.Errorf("decision %+v", d)
	}
}

func TestRolloutRefusesUnknownMetric(t *testing.T) {
	r := newRollout(t, testPlan(DefaultPace))
	o := good(5).draw(0)
	o.Samples["cpu"] = Samples{Control: []float64{1}}
	if _, err := r.Observe(t0, o); err == nil || !strings.Contains(err.Error(), `"cpu"`) {
		t.Errorf("unknown metric: %v", err)
	}
	if st := r.Status(); st.Phase != PhaseProgressing || len(st.Decisions) != 0 {
		t.Errorf("a refused observation changed the rollout: %+v", st)
	}
}

func TestRolloutManualActions(t *testing.T) {
	r := newRollout(t, testPlan(DefaultPace))
	if _, err := r.Promote(t0, " "); err == nil {
		t.Error("Promote without saying who succeeded")
	}
	d, err := r.Rollback(t0, "bob", "bad dashboards")
	if err != nil || d.By != "bob" || d.Action != ActionRollback || !strings.Contains(d.Reason, "rolled back by hand: bad dashboards") {
		t.Fatalf("rollback: %+v, %v", d, err)
	}
	_, err = r.Promote(t0, "carol")
	if !errors.Is(err, ErrFinished) || !strings.Contains(err.Error(), "RolledBack") || !strings.Contains(err.Error(), "bad dashboards") {
		t.Errorf("promote after rollback: %v", err)
	}
	if _, err := r.Resume(t0, "carol"); !errors.Is(err, ErrFinished) {
		t.Errorf("resume after rollback: %v", err)
	}
	if n := len(r.Status().Decisions); n != 1 {
		t.Errorf("%d decisions recorded, want 1", n)
	}
}

// Of concurrent Promote and Rollback calls (and an Observe) exactly one
// manual action wins; the rest get ErrFinished.
func TestRolloutPromoteRollbackRace(t *testing.T) {
	obs := good(6).draw(0)
	for round := range 100 {
		r := newRollout(t, testPlan(DefaultPace))
		start := make(chan struct{})
		var wins atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 17)
		for g := range 16 {
			wg.Go(func() {
				<-start
				var err error
				if g%2 == 0 {
					_, err = r.Promote(t0, fmt.Sprint("promoter-", g))
				} else {
					_, err = r.Rollback(t0, fmt.Sprint("roller-", g), "race")
				}
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrFinished):
					errs <- err
				}
			})
		}
		wg.Go(func() {
			<-start
			if _, err := r.Observe(t0, obs); err != nil && !errors.Is(err, ErrFinished) {
				errs <- err
			}
		})
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, wins.Load())
		}
		st := r.Status()
		var manual []Decision
		for _, d := range st.Decisions {
			if d.By != Actor {
				manual = append(manual, d)
			}
		}
		if len(manual) != 1 || (manual[0].Action == ActionPromote) != (st.Phase == PhasePromoted) {
			t.Fatalf("round %d: phase %s, manual decisions %+v", round, st.Phase, manual)
		}
	}
}
