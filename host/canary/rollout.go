package canary

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxStepWeight is the largest canary share a step may give: the baseline
// gets the same share beside it, so at 50 the live version gets nothing.
const MaxStepWeight = 50

// DefaultMinSamples is how many values each side of a metric needs in an
// interval before the interval counts as data (Spinnaker's advice: at least
// 50 points per metric per run).
const DefaultMinSamples = 50

// DefaultPace is the pace that keeps a plan's steps as written: one passing
// analysis per step. Pass it when no personality has chosen a pace.
const DefaultPace = 0.5

// Actor is who the decisions the controller takes by itself are recorded as.
const Actor = "controller"

// Plan is what a rollout steps through and how each step is judged.
type Plan struct {
	// StepWeights are the canary's traffic shares in percent, strictly
	// increasing, each from 1 to MaxStepWeight, e.g. 10, 25, 50. The
	// baseline gets the same share; the live version the rest.
	StepWeights []int
	// Interval is how long each analysis collects samples.
	Interval time.Duration
	// Judge is how each interval's samples are judged.
	Judge Config
	// MaxNoData is how many intervals in a row may lack data before the
	// rollout pauses; 0 means 1 (no data is not a pass).
	MaxNoData int
	// MinSamples is how many values each side of every unmuted metric needs
	// for an interval to count as data; 0 means DefaultMinSamples.
	MinSamples int
	// Pace in [0, 1] is how fast the canary's share steps up (a
	// personality's canary pace; 0 is the most cautious, DefaultPace keeps
	// the steps as written). See Plan.Schedule.
	Pace float64
}

// Stage is one step of a rollout's schedule: the canary's share and how many
// passing analyses it needs before the rollout moves on.
type Stage struct {
	Weight   int `json:"weight"`
	Analyses int `json:"analyses"`
}

// Validate reports the first thing wrong with p, in words that say how to
// fix it.
func (p Plan) Validate() error {
	if len(p.StepWeights) == 0 {
		return fmt.Errorf("canary: the plan has no step weights; give the canary's traffic shares to step through, e.g. 10, 25, 50")
	}
	for i, w := range p.StepWeights {
		if w < 1 || w > MaxStepWeight {
			return fmt.Errorf("canary: step weight %d is %d%%; each must be from 1 to %d, since the baseline gets as much as the canary beside the live version", i+1, w, MaxStepWeight)
		}
		if i > 0 && w <= p.StepWeights[i-1] {
			return fmt.Errorf("canary: step weight %d (%d%%) is not above step %d (%d%%); step weights must increase", i+1, w, i, p.StepWeights[i-1])
		}
	}
	if p.Interval <= 0 {
		return fmt.Errorf("canary: the analysis interval is %v; give a positive duration, e.g. 5m", p.Interval)
	}
	if p.MaxNoData < 0 {
		return fmt.Errorf("canary: maxNoData is %d; give the number of intervals without data to allow in a row (0 means 1)", p.MaxNoData)
	}
	if p.MinSamples < 0 {
		return fmt.Errorf("canary: minSamples is %d; give the values each side needs per interval (0 means %d)", p.MinSamples, DefaultMinSamples)
	}
	if !(p.Pace >= 0 && p.Pace <= 1) {
		return fmt.Errorf("canary: pace %v is outside [0, 1]; use the personality's canary pace, or %v to keep the steps as written", p.Pace, DefaultPace)
	}
	if err := p.Judge.Validate(); err != nil {
		return fmt.Errorf("canary: the plan's judge configuration: %w", err)
	}
	return nil
}

// Schedule is the stages the plan's pace makes of its step weights:
//
//   - pace below 0.25: every step needs 3 passing analyses;
//   - pace from 0.25 to below 0.5: every step needs 2;
//   - pace from 0.5 to below 0.75: every step needs 1 (the plan as written);
//   - pace 0.75 and up: every step needs 1, and only the steps at odd
//     positions (first, third, …) and the last are kept.
//
// So a slower pace never takes fewer analyses than a faster one. The plan
// must be valid.
func (p Plan) Schedule() []Stage {
	n := 1
	switch {
	case p.Pace < 0.25:
		n = 3
	case p.Pace < 0.5:
		n = 2
	}
	var out []Stage
	last := len(p.StepWeights) - 1
	for i, w := range p.StepWeights {
		if p.Pace >= 0.75 && i%2 == 1 && i != last {
			continue
		}
		out = append(out, Stage{Weight: w, Analyses: n})
	}
	return out
}

// VerdictNoData is a decision's verdict when the interval had too few
// samples to judge. Judge never returns it.
const VerdictNoData Verdict = "NoData"

// Phase is where a rollout stands.
type Phase string

// The phases. Promoted, RolledBack and Failed are final.
const (
	PhaseProgressing Phase = "Progressing"
	PhasePaused      Phase = "Paused"
	PhasePromoted    Phase = "Promoted"
	PhaseRolledBack  Phase = "RolledBack"
	// PhaseFailed is a rollout the driver stopped on an error of its
	// environment; it rolled back if it could (the reason says).
	PhaseFailed Phase = "Failed"
)

// Finished reports whether the phase is final.
func (p Phase) Finished() bool {
	return p == PhasePromoted || p == PhaseRolledBack || p == PhaseFailed
}

// Action is what a decision did.
type Action string

// The actions.
const (
	ActionStep     Action = "step"     // to the next stage's weights
	ActionHold     Action = "hold"     // stay at this stage and analyse again
	ActionPause    Action = "pause"    // stop analysing until resumed
	ActionResume   Action = "resume"   // a person resumed a paused rollout
	ActionPromote  Action = "promote"  // the canary takes all traffic
	ActionRollback Action = "rollback" // the live version takes all traffic back
)

// Split is a traffic split in percent. After a promotion Live is the
// promoted version.
type Split struct {
	Live     int `json:"live"`
	Baseline int `json:"baseline"`
	Canary   int `json:"canary"`
}

// Observation is what one interval showed.
type Observation struct {
	// Samples are each metric's values: Control from the baseline,
	// Experiment from the canary.
	Samples map[string]Samples
	// CanaryCrashed says the canary crashed during the interval;
	// CrashReason says how.
	CanaryCrashed bool
	CrashReason   string
	// Seed seeds the judge's noise (Judge); record it to recompute.
	Seed uint64
}

// Decision is one thing a rollout did, and why.
type Decision struct {
	Time time.Time `json:"time"`
	// Step is the stage the decision was taken at (0-based, in Schedule).
	Step   int   `json:"step"`
	Before Split `json:"before"`
	After  Split `json:"after"`
	// Verdict, Score and Result are the judgement; empty for manual
	// actions and for a crash, which is not judged.
	Verdict Verdict `json:"verdict,omitempty"`
	Score   float64 `json:"score"`
	Result  Result  `json:"result,omitzero"`
	Action  Action  `json:"action"`
	// By is Actor for the controller's decisions, else who acted.
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Status is a snapshot of a rollout. Its Decisions share their judge
// Results with the rollout: read them, do not change them.
type Status struct {
	Phase    Phase   `json:"phase"`
	Step     int     `json:"step"`
	Schedule []Stage `json:"schedule"`
	Split    Split   `json:"split"`
	// Passes are the passing analyses at the current step so far.
	Passes int `json:"passes"`
	// Reason is the last decision's reason.
	Reason string `json:"reason,omitempty"`
	// Decisions are every decision so far, oldest first.
	Decisions []Decision `json:"decisions"`
}

// ErrFinished is wrapped by what a finished rollout refuses to do.
var ErrFinished = errors.New("canary: the rollout has finished")

// ErrPaused is wrapped by what a paused rollout refuses (Observe).
var ErrPaused = errors.New("canary: the rollout is paused")

// ErrNotPaused is wrapped by what needs a paused rollout (Resume).
var ErrNotPaused = errors.New("canary: the rollout is not paused")

// Rollout is a canary rollout's state machine: it steps the canary's
// traffic share through its plan's schedule on the judge's verdicts. It has
// no clock and starts nothing: each call takes the time, and Drive carries
// the decisions out. Its methods are safe for concurrent use.
//
// Every decision is kept, none is trimmed: between two acts of a person
// (Resume) a rollout records at most MaxNoData decisions per analysis in its
// schedule, plus one to end or pause.
type Rollout struct {
	plan     Plan
	schedule []Stage

	mu        sync.Mutex
	phase     Phase
	step      int
	passes    int
	noData    int
	decisions []Decision
	changed   chan struct{} // closed at the next decision
}

// NewRollout starts a rollout of plan at its first stage, Progressing.
func NewRollout(plan Plan) (*Rollout, error) {
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	plan.StepWeights = slices.Clone(plan.StepWeights)
	plan.Judge.Metrics = slices.Clone(plan.Judge.Metrics)
	plan.Judge.GroupWeights = maps.Clone(plan.Judge.GroupWeights)
	if plan.MaxNoData == 0 {
		plan.MaxNoData = 1
	}
	if plan.MinSamples == 0 {
		plan.MinSamples = DefaultMinSamples
	}
	return &Rollout{plan: plan, schedule: plan.Schedule(), phase: PhaseProgressing, changed: make(chan struct{})}, nil
}

// Plan is the rollout's plan, defaults filled in.
func (r *Rollout) Plan() Plan {
	p := r.plan
	p.StepWeights = slices.Clone(p.StepWeights)
	return p
}

// Weights is the current traffic split: the baseline's share equals the
// canary's, the live version gets the rest; once finished, the live version
// (after a promotion, the canary's version) gets everything.
func (r *Rollout) Weights() (live, baseline, canary int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.split()
	return s.Live, s.Baseline, s.Canary
}

// Status is a snapshot of the rollout.
func (r *Rollout) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status()
}

// Watch is a snapshot of the rollout and a channel closed at its next
// decision.
func (r *Rollout) Watch() (Status, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status(), r.changed
}

// Observe judges one interval of the current stage and decides:
//
//   - a crashed canary rolls back, without judging;
//   - too few samples (fewer than MinSamples on a side of an unmuted
//     metric) is NoData: the rollout holds, and pauses at the MaxNoData-th
//     such interval in a row;
//   - Pass counts towards the stage's analyses; the last one steps to the
//     next stage, or promotes after the last stage;
//   - Marginal pauses;
//   - Fail rolls back.
//
// It refuses (ErrFinished, ErrPaused) when the rollout is not
// Progressing, and fails without deciding when the judge refuses the
// samples (a metric the configuration does not have).
func (r *Rollout) Observe(now time.Time, obs Observation) (Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.progressing("observe an interval"); err != nil {
		return Decision{}, err
	}
	stage := r.schedule[r.step]
	where := fmt.Sprintf("step %d of %d (canary %d%%)", r.step+1, len(r.schedule), stage.Weight)
	d := Decision{Time: now, Step: r.step, Before: r.split(), By: Actor}

	if obs.CanaryCrashed {
		why := obs.CrashReason
		if why == "" {
			why = "no reason given"
		}
		d.Verdict, d.Action = VerdictFail, ActionRollback
		d.Reason = fmt.Sprintf("the canary crashed at %s: %s; rolled back without judging.", where, why)
		r.phase = PhaseRolledBack
		return r.record(d), nil
	}

	res, err := Judge(r.plan.Judge, obs.Samples, obs.Seed)
	if err != nil {
		return Decision{}, fmt.Errorf("canary: judging %s: %w", where, err)
	}
	d.Verdict, d.Score, d.Result = res.Verdict, res.Score, res
	if short := r.shortMetrics(obs.Samples); len(short) > 0 {
		r.noData++
		d.Verdict = VerdictNoData
		missing := fmt.Sprintf("no data at %s: %s (each side needs %d)", where, strings.Join(short, "; "), r.plan.MinSamples)
		if r.noData >= r.plan.MaxNoData {
			d.Action = ActionPause
			d.Reason = fmt.Sprintf("%s; %d interval(s) in a row without data, the most allowed is %d: paused, since no data is not a pass.", missing, r.noData, r.plan.MaxNoData)
			r.phase = PhasePaused
		} else {
			d.Action = ActionHold
			d.Reason = fmt.Sprintf("%s; %d of %d interval(s) without data allowed in a row: analysing again.", missing, r.noData, r.plan.MaxNoData)
		}
		return r.record(d), nil
	}
	r.noData = 0

	th := r.plan.Judge.Thresholds
	switch res.Verdict {
	case VerdictPass:
		r.passes++
		passed := fmt.Sprintf("analysis %d of %d at %s passed with score %g (pass %g)", r.passes, stage.Analyses, where, res.Score, th.Pass)
		switch {
		case r.passes < stage.Analyses:
			d.Action = ActionHold
			d.Reason = fmt.Sprintf("%s; %d more to pass before stepping up.", passed, stage.Analyses-r.passes)
		case r.step == len(r.schedule)-1:
			d.Action = ActionPromote
			d.Reason = fmt.Sprintf("%s; that was the last step: promoted.", passed)
			r.phase = PhasePromoted
		default:
			r.step++
			r.passes = 0
			d.Action = ActionStep
			d.Reason = fmt.Sprintf("%s; stepped up to canary %d%%.", passed, r.schedule[r.step].Weight)
		}
	case VerdictMarginal:
		d.Action = ActionPause
		d.Reason = fmt.Sprintf("score %g at %s is marginal (at least %g, below %g)%s: paused until someone resumes, promotes or rolls back.", res.Score, where, th.Marginal, th.Pass, failing(res))
		r.phase = PhasePaused
	default:
		d.Action = ActionRollback
		d.Reason = fmt.Sprintf("score %g at %s is below marginal %g%s: rolled back.", res.Score, where, th.Marginal, failing(res))
		r.phase = PhaseRolledBack
	}
	return r.record(d), nil
}

// Promote ends the rollout by promoting the canary now, on who's word. It
// fails with ErrFinished on a finished rollout: of concurrent Promote and
// Rollback calls exactly one wins.
func (r *Rollout) Promote(now time.Time, who string) (Decision, error) {
	return r.manual(now, who, ActionPromote, PhasePromoted, "promoted by hand")
}

// Rollback ends the rollout by rolling the canary back now, on who's word,
// for reason. It fails with ErrFinished on a finished rollout.
func (r *Rollout) Rollback(now time.Time, who, reason string) (Decision, error) {
	if strings.TrimSpace(reason) == "" {
		reason = "no reason given"
	}
	return r.manual(now, who, ActionRollback, PhaseRolledBack, "rolled back by hand: "+reason)
}

// Resume sets a paused rollout progressing again at the stage it paused
// at; the stage's analyses start over. It fails with ErrNotPaused when the
// rollout is progressing and ErrFinished when it has finished.
func (r *Rollout) Resume(now time.Time, who string) (Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.actor("resume", who); err != nil {
		return Decision{}, err
	}
	if r.phase.Finished() {
		return Decision{}, r.finishedErr("resume")
	}
	if r.phase != PhasePaused {
		return Decision{}, fmt.Errorf("canary: resume: %w: it is %s already; resume only a paused rollout", ErrNotPaused, r.phase)
	}
	r.phase, r.passes, r.noData = PhaseProgressing, 0, 0
	s := r.split()
	return r.record(Decision{Time: now, Step: r.step, Before: s, After: s, Action: ActionResume, By: who,
		Reason: fmt.Sprintf("resumed by hand at step %d of %d (canary %d%%); its analyses start over.", r.step+1, len(r.schedule), s.Canary)}), nil
}

// fail ends the rollout as Failed: the driver's environment failed. Unlike
// the public actions it also overrides a finished phase, since the
// environment did not carry that phase out.
func (r *Rollout) fail(now time.Time, reason string) Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := Decision{Time: now, Step: r.step, Before: r.split(), Action: ActionRollback, By: Actor, Reason: reason}
	r.phase = PhaseFailed
	return r.record(d)
}

func (r *Rollout) manual(now time.Time, who string, a Action, to Phase, reason string) (Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.actor(string(a), who); err != nil {
		return Decision{}, err
	}
	if r.phase.Finished() {
		return Decision{}, r.finishedErr(string(a))
	}
	d := Decision{Time: now, Step: r.step, Before: r.split(), Action: a, By: who,
		Reason: fmt.Sprintf("%s at step %d of %d (canary %d%%) by %s.", reason, r.step+1, len(r.schedule), r.schedule[r.step].Weight, who)}
	r.phase = to
	return r.record(d), nil
}

func (r *Rollout) actor(what, who string) error {
	if strings.TrimSpace(who) == "" {
		return fmt.Errorf("canary: %s: say who is acting (a user or service name); the decision record names them", what)
	}
	return nil
}

// progressing is nil when the rollout is Progressing. The caller holds mu.
func (r *Rollout) progressing(what string) error {
	switch {
	case r.phase.Finished():
		return r.finishedErr(what)
	case r.phase == PhasePaused:
		return fmt.Errorf("canary: %s: %w (%s); resume it first", what, ErrPaused, r.lastReason())
	}
	return nil
}

// finishedErr says how the rollout ended. The caller holds mu.
func (r *Rollout) finishedErr(what string) error {
	return fmt.Errorf("canary: %s: %w as %s: %s", what, ErrFinished, r.phase, r.lastReason())
}

func (r *Rollout) lastReason() string {
	if len(r.decisions) == 0 {
		return ""
	}
	return r.decisions[len(r.decisions)-1].Reason
}

// record fills in the split after d, appends d and wakes the watchers. The
// caller holds mu and has set the new phase.
func (r *Rollout) record(d Decision) Decision {
	d.After = r.split()
	r.decisions = append(r.decisions, d)
	close(r.changed)
	r.changed = make(chan struct{})
	return d
}

// split is the current traffic split. The caller holds mu.
func (r *Rollout) split() Split {
	if r.phase.Finished() {
		return Split{Live: 100}
	}
	w := r.schedule[r.step].Weight
	return Split{Live: 100 - 2*w, Baseline: w, Canary: w}
}

func (r *Rollout) status() Status {
	return Status{
		Phase:     r.phase,
		Step:      r.step,
		Schedule:  slices.Clone(r.schedule),
		Split:     r.split(),
		Passes:    r.passes,
		Reason:    r.lastReason(),
		Decisions: slices.Clone(r.decisions),
	}
}

// shortMetrics describes the unmuted metrics with fewer than MinSamples
// usable values on a side (NaNs count only under NaNReplace).
func (r *Rollout) shortMetrics(samples map[string]Samples) []string {
	var out []string
	for _, m := range r.plan.Judge.Metrics {
		if m.Muted {
			continue
		}
		s := samples[m.Name]
		b, c := usable(m, s.Control), usable(m, s.Experiment)
		if b < r.plan.MinSamples || c < r.plan.MinSamples {
			out = append(out, fmt.Sprintf("metric %q has %d baseline and %d canary values", m.Name, b, c))
		}
	}
	return out
}

func usable(m MetricConfig, xs []float64) int {
	if m.NaNStrategy == NaNReplace {
		return len(xs)
	}
	n := 0
	for _, x := range xs {
		if !math.IsNaN(x) {
			n++
		}
	}
	return n
}

// failing names the unmuted metrics that counted against the canary, and
// the judge's reason for a forced 0, as a clause.
func failing(res Result) string {
	var bad []string
	for _, m := range res.Metrics {
		switch m.Classification {
		case High, Low, NodataFailMetric, Error:
			if !m.Muted {
				bad = append(bad, fmt.Sprintf("%s %s", m.Name, m.Classification))
			}
		}
	}
	out := ""
	if len(bad) > 0 {
		out = "; failing: " + strings.Join(bad, ", ")
	}
	if res.Reason != "" {
		out += "; " + res.Reason
	}
	return out
}
