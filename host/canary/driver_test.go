package canary

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock's After advances the time at once.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

var errBoom = errors.New("boom")

// fakeEnv draws each interval's samples from src and records what it was
// told. Only Drive's goroutine calls it.
type fakeEnv struct {
	src sampleSource
	// silentFrom is the first collection (1-based) without canary data; 0
	// for never.
	silentFrom int
	// crashAt is the canary share at which the canary crashes; 0 for never.
	crashAt int
	// fail is the call (1-based) of each operation that fails with errBoom.
	fail map[string]int

	calls     map[string]int
	split     Split
	weights   []Split
	windows   [][2]time.Time
	promotes  int
	rollbacks int
}

func (e *fakeEnv) call(op string) error {
	if e.calls == nil {
		e.calls = map[string]int{}
	}
	e.calls[op]++
	if n, ok := e.fail[op]; ok && n == e.calls[op] {
		return errBoom
	}
	return nil
}

func (e *fakeEnv) Start(context.Context) error { return e.call("start") }

func (e *fakeEnv) SetWeights(_ context.Context, live, baseline, canary int) error {
	if err := e.call("weights"); err != nil {
		return err
	}
	e.split = Split{live, baseline, canary}
	e.weights = append(e.weights, e.split)
	return nil
}

func (e *fakeEnv) Collect(_ context.Context, from, to time.Time) (Observation, error) {
	if err := e.call("collect"); err != nil {
		return Observation{}, err
	}
	e.windows = append(e.windows, [2]time.Time{from, to})
	n := len(e.windows)
	o := e.src.draw(uint64(n))
	if e.crashAt != 0 && e.split.Canary == e.crashAt {
		o.CanaryCrashed, o.CrashReason = true, "OOMKilled (exit 137)"
	}
	if e.silentFrom != 0 && n >= e.silentFrom {
		o = silence(o)
	}
	return o, nil
}

func (e *fakeEnv) Promote(context.Context) error {
	if err := e.call("promote"); err != nil {
		return err
	}
	e.promotes++
	return nil
}

func (e *fakeEnv) Rollback(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err() // a rollback must not inherit a cancellation
	}
	if err := e.call("rollback"); err != nil {
		return err
	}
	e.rollbacks++
	return nil
}

type driven struct {
	st  Status
	err error
}

func drive(ctx context.Context, r *Rollout, e *fakeEnv) driven {
	st, err := Drive(ctx, r, e, &fakeClock{now: t0})
	return driven{st, err}
}

func driveAsync(ctx context.Context, r *Rollout, e *fakeEnv) <-chan driven {
	done := make(chan driven, 1)
	go func() { done <- drive(ctx, r, e) }()
	return done
}

// waitPhase waits until r reaches phase; it fails if Drive returns first.
func waitPhase(t *testing.T, r *Rollout, phase Phase, done <-chan driven) Status {
	t.Helper()
	for {
		st, changed := r.Watch()
		if st.Phase == phase {
			return st
		}
		select {
		case <-changed:
		case d := <-done:
			t.Fatalf("Drive returned %v in phase %s before reaching %s", d.err, d.st.Phase, phase)
		}
	}
}

func TestDriveGoodCanaryPromotes(t *testing.T) {
	e := &fakeEnv{src: good(11)}
	r := newRollout(t, testPlan(DefaultPace))
	d := drive(context.Background(), r, e)
	if d.err != nil || d.st.Phase != PhasePromoted {
		t.Fatalf("phase %s, error %v; reason %q", d.st.Phase, d.err, d.st.Reason)
	}
	if want := []Split{{80, 10, 10}, {50, 25, 25}, {0, 50, 50}}; !reflect.DeepEqual(e.weights, want) {
		t.Errorf("weights %v, want %v", e.weights, want)
	}
	if e.calls["start"] != 1 || e.promotes != 1 || e.rollbacks != 0 {
		t.Errorf("starts %d, promotes %d, rollbacks %d", e.calls["start"], e.promotes, e.rollbacks)
	}
	if !reflect.DeepEqual(actions(d.st.Decisions), []Action{ActionStep, ActionStep, ActionPromote}) {
		t.Errorf("actions %v", actions(d.st.Decisions))
	}
	for i, w := range e.windows {
		if w[1].Sub(w[0]) != 5*time.Minute || (i > 0 && !w[0].Equal(e.windows[i-1][1])) || !d.st.Decisions[i].Time.Equal(w[1]) {
			t.Errorf("interval %d: %v, decided at %v", i, w, d.st.Decisions[i].Time)
		}
	}
	if l, b, c := r.Weights(); l != 100 || b != 0 || c != 0 {
		t.Errorf("weights after promotion %d/%d/%d", l, b, c)
	}
}

func TestDriveWorseCanaryRollsBack(t *testing.T) {
	e := &fakeEnv{src: worse(12)}
	d := drive(context.Background(), newRollout(t, testPlan(DefaultPace)), e)
	if d.err != nil || d.st.Phase != PhaseRolledBack || len(d.st.Decisions) != 1 {
		t.Fatalf("phase %s, error %v, %d decisions", d.st.Phase, d.err, len(d.st.Decisions))
	}
	dec := d.st.Decisions[0]
	if dec.Action != ActionRollback || dec.Verdict != VerdictFail || row(dec.Result, "latency").Classification != High {
		t.Errorf("decision %+v", dec)
	}
	if m := row(dec.Result, "latency"); !(m.ExperimentMean > 120 && m.ControlMean < 110) {
		t.Errorf("latency row %+v", m)
	}
	if !reflect.DeepEqual(e.weights, []Split{{80, 10, 10}}) || e.rollbacks != 1 || e.promotes != 0 {
		t.Errorf("weights %v, rollbacks %d, promotes %d", e.weights, e.rollbacks, e.promotes)
	}
}

func TestDriveSilentCanaryPauses(t *testing.T) {
	e := &fakeEnv{src: good(13), silentFrom: 2}
	r := newRollout(t, testPlan(DefaultPace))
	done := driveAsync(context.Background(), r, e)
	st := waitPhase(t, r, PhasePaused, done)
	if last := st.Decisions[len(st.Decisions)-1]; last.Verdict != VerdictNoData || !strings.Contains(last.Reason, "no data at step 2 of 3") || !strings.Contains(last.Reason, "no data is not a pass") {
		t.Errorf("pause decision %+v", last)
	}
	// Resumed, it is still silent: paused again. Then rolled back by hand.
	if _, err := r.Resume(t0, "alice"); err != nil {
		t.Fatal(err)
	}
	st = waitPhase(t, r, PhasePaused, done)
	if !reflect.DeepEqual(actions(st.Decisions), []Action{ActionStep, ActionPause, ActionResume, ActionPause}) {
		t.Errorf("actions %v", actions(st.Decisions))
	}
	if _, err := r.Rollback(t0, "alice", "no metrics from the canary"); err != nil {
		t.Fatal(err)
	}
	d := <-done
	if d.err != nil || d.st.Phase != PhaseRolledBack || e.rollbacks != 1 {
		t.Errorf("phase %s, error %v, rollbacks %d", d.st.Phase, d.err, e.rollbacks)
	}
	if !reflect.DeepEqual(e.weights, []Split{{80, 10, 10}, {50, 25, 25}}) {
		t.Errorf("weights %v", e.weights)
	}
}

func TestDriveCrashRollsBack(t *testing.T) {
	e := &fakeEnv{src: good(14), crashAt: 25}
	d := drive(context.Background(), newRollout(t, testPlan(DefaultPace)), e)
	if d.err != nil || d.st.Phase != PhaseRolledBack || e.rollbacks != 1 {
		t.Fatalf("phase %s, error %v, rollbacks %d", d.st.Phase, d.err, e.rollbacks)
	}
	if !strings.Contains(d.st.Reason, "crashed at step 2 of 3 (canary 25%): OOMKilled (exit 137)") {
		t.Errorf("reason %q", d.st.Reason)
	}
	if !reflect.DeepEqual(actions(d.st.Decisions), []Action{ActionStep, ActionRollback}) || !reflect.DeepEqual(e.weights, []Split{{80, 10, 10}, {50, 25, 25}}) {
		t.Errorf("actions %v, weights %v", actions(d.st.Decisions), e.weights)
	}
}

func TestDriveMarginalWaitsForAPerson(t *testing.T) {
	p := testPlan(DefaultPace)
	p.Judge = rolloutJudge(map[string]float64{"latency": 20, "errors": 80})
	r := newRollout(t, p)
	e := &fakeEnv{src: worse(15)}
	done := driveAsync(context.Background(), r, e)
	st := waitPhase(t, r, PhasePaused, done)
	if st.Decisions[0].Verdict != VerdictMarginal || !strings.Contains(st.Reason, "is marginal") {
		t.Errorf("decision %+v", st.Decisions[0])
	}
	if _, err := r.Promote(t0, "dave"); err != nil {
		t.Fatal(err)
	}
	d := <-done
	if d.err != nil || d.st.Phase != PhasePromoted || e.promotes != 1 || e.rollbacks != 0 {
		t.Errorf("phase %s, error %v, promotes %d, rollbacks %d", d.st.Phase, d.err, e.promotes, e.rollbacks)
	}
}

// A slower pace takes more analysis intervals for the same plan.
func TestDrivePaceChangesIntervals(t *testing.T) {
	intervals := map[float64]int{}
	for _, pace := range []float64{0.2, 0.5, 0.8} {
		e := &fakeEnv{src: good(16)}
		r := newRollout(t, testPlan(pace))
		d := drive(context.Background(), r, e)
		if d.err != nil || d.st.Phase != PhasePromoted {
			t.Fatalf("pace %v: phase %s, error %v; %s", pace, d.st.Phase, d.err, d.st.Reason)
		}
		want := 0
		for _, s := range r.Plan().Schedule() {
			want += s.Analyses
		}
		if len(e.windows) != want {
			t.Errorf("pace %v: %d intervals, want %d", pace, len(e.windows), want)
		}
		intervals[pace] = len(e.windows)
	}
	if !(intervals[0.2] > intervals[0.5] && intervals[0.5] > intervals[0.8]) {
		t.Errorf("intervals by pace %v: slower paces should take more", intervals)
	}
}

// Over many seeds, good canaries are promoted (false alarms are rare) and
// worse ones always rolled back at their first analysis.
func TestDriveDiscriminates(t *testing.T) {
	const runs = 100
	promoted := 0
	for seed := range uint64(runs) {
		if d := drive(context.Background(), newRollout(t, testPlan(DefaultPace)), &fakeEnv{src: good(1000 + seed)}); d.st.Phase == PhasePromoted {
			promoted++
		}
		d := drive(context.Background(), newRollout(t, testPlan(DefaultPace)), &fakeEnv{src: worse(1000 + seed)})
		if d.st.Phase != PhaseRolledBack || len(d.st.Decisions) != 1 {
			t.Errorf("seed %d: a worse canary ended %s after %d decisions", seed, d.st.Phase, len(d.st.Decisions))
		}
	}
	if promoted < 90 {
		t.Errorf("%d of %d good canaries promoted, want at least 90", promoted, runs)
	}
}

func TestDriveEnvErrors(t *testing.T) {
	for _, c := range []struct {
		fail          map[string]int
		phase         Phase
		rollbacks     int
		weights       int
		want, wantErr string
	}{
		{map[string]int{"start": 1}, PhaseFailed, 0, 0, "starting the canary and a fresh baseline failed", "nothing took traffic"},
		{map[string]int{"weights": 1}, PhaseFailed, 1, 0, "setting the weights live 80%, baseline 10%, canary 10% failed", "the canary was rolled back"},
		{map[string]int{"weights": 2}, PhaseFailed, 1, 1, "setting the weights live 50%", "the canary was rolled back"},
		{map[string]int{"collect": 2}, PhaseFailed, 1, 2, "collecting the samples", "the canary was rolled back"},
		{map[string]int{"promote": 1}, PhaseFailed, 1, 3, "promoting failed", "the canary was rolled back"},
		{map[string]int{"collect": 1, "rollback": 1}, PhaseFailed, 0, 1, "the canary may still take traffic", "rolling back failed too"},
	} {
		e := &fakeEnv{src: good(17), fail: c.fail}
		d := drive(context.Background(), newRollout(t, testPlan(DefaultPace)), e)
		if !errors.Is(d.err, errBoom) || !strings.Contains(d.err.Error(), c.wantErr) {
			t.Errorf("%v: error %v", c.fail, d.err)
		}
		if d.st.Phase != c.phase || !strings.Contains(d.st.Reason, c.want) || e.rollbacks != c.rollbacks || len(e.weights) != c.weights {
			t.Errorf("%v: phase %s, reason %q, rollbacks %d, weights %v", c.fail, d.st.Phase, d.st.Reason, e.rollbacks, e.weights)
		}
	}
}

func TestDriveStopsAndRollsBackAtContextEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRollout(t, testPlan(DefaultPace))
	e := &fakeEnv{src: good(18), silentFrom: 1}
	done := driveAsync(ctx, r, e)
	waitPhase(t, r, PhasePaused, done)
	cancel()
	d := <-done
	if !errors.Is(d.err, context.Canceled) || d.st.Phase != PhaseRolledBack || e.rollbacks != 1 {
		t.Fatalf("error %v, phase %s, rollbacks %d", d.err, d.st.Phase, e.rollbacks)
	}
	if last := d.st.Decisions[len(d.st.Decisions)-1]; last.By != Actor || !strings.Contains(last.Reason, "the controller stopped (context canceled)") {
		t.Errorf("last decision %+v", last)
	}
}

func TestDriveRefusesAFinishedRollout(t *testing.T) {
	r := newRollout(t, testPlan(DefaultPace))
	if _, err := r.Promote(t0, "erin"); err != nil {
		t.Fatal(err)
	}
	e := &fakeEnv{src: good(19)}
	if d := drive(context.Background(), r, e); !errors.Is(d.err, ErrFinished) || e.calls["start"] != 0 || e.promotes != 0 {
		t.Errorf("error %v, starts %d, promotes %d", d.err, e.calls["start"], e.promotes)
	}
}
