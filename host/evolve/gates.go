package evolve

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/personality"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/suite"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// The trust gate and the personality of an evolution.
//
// Evidence: when the batch of a generation is evaluated, each candidate
// that ran (Evaluated or Failed, not Rejected) gets its evaluation recorded
// in the trust log (Options.Evidence) under CandidateSubject: one "task"
// record per task it ran, positive when the task succeeded, and for a
// failed task a "crash", "oom" or "timeout" record too when its reason says
// so (failureKind). A candidate is recorded once, even across a restart.
//
// Gate: each such candidate is then scored by the evolution's trust scorer
// (Options.Trust, spec.trust_scorer, the built-in beta by default) and the
// score is stored in its status (CandidateStatus.trust). An Evaluated
// candidate whose lower bound is below the threshold (spec.trust_threshold,
// else Options.TrustThreshold) keeps its phase and scores but gets the
// reason "untrusted: lower bound L < threshold T (scorer S)": the strategy
// is told it failed, so it is never a parent, and it cannot be the
// evolution's best candidate (what a canary deploys). A scorer that fails
// (a trap, a timeout, garbage) is the trust service's business: the
// previous score stands, the failure is evidence against the scorer, and
// the evolution goes on.
//
// Personality: with spec.personality, the engine asks the personality
// before every propose (host/personality.Adjust: the agent's role, the
// generation, the trust score of the best candidate so far or 0.5). Its
// mutation bias goes to the strategy in the propose request
// ("mutationBias", sdk-wasm/ABI.md §3); its resource headroom h multiplies
// the candidates' memory limit by 1 + h (suite.Options.MemoryScale). An
// answer out of range is clamped by Adjust, recorded against the plugin
// version (in the registry and, as "invalid" evidence, in the trust log)
// and logged; a personality that fails leaves the previous adjustment (none
// before the first: no bias, no headroom). The evolution's status shows
// the last adjustment in a "Personality" condition and the gate in a
// "TrustGate" condition.

// Evidence is the trust evidence log the engine records evaluations in;
// host/trust's *trust.Log implements it.
type Evidence interface {
	// Append adds records to the subject's log.
	Append(ctx context.Context, s trust.Subject, es ...trust.Evidence) ([]trust.Evidence, error)
	// List returns the subject's records after since (0: all).
	List(ctx context.Context, s trust.Subject, since uint64) ([]trust.Evidence, error)
}

// TrustServices returns the trust Service that scores with the trust
// plugin ref names; a nil ref or one without a name is the daemon's
// default scorer (the built-in beta). swarmd's implementation caches one
// Service per plugin version, so that a failing scorer's previous scores
// stand.
type TrustServices func(ctx context.Context, ref *v1.PluginRef) (*trust.Service, error)

// SourceEvolve is the Source of the evidence the engine records.
const SourceEvolve = "evolve"

// UntrustedPrefix starts the reason of an Evaluated candidate the trust gate
// kept out.
const UntrustedPrefix = "untrusted: "

// Condition types the engine sets on an evolution's status.
const (
	ConditionPersonality = "Personality"
	ConditionTrustGate   = "TrustGate"
)

// CandidateSubject is the trust subject of an evolution's candidate:
// agent/NAME@CANDIDATE, NAME being spec.agent or, without an agent, the
// evolution's name. The canary's trust gate reads the same subject. (Two
// evolutions of one agent share the subjects of equal candidate ids.)
func CandidateSubject(evo *v1.Evolution, candidate string) trust.Subject {
	name := evo.GetSpec().GetAgent()
	if name == "" {
		name = evo.GetMetadata().GetName()
	}
	return trust.Subject{Kind: trust.SubjectAgent, Name: name, Version: candidate}
}

// Untrusted reports whether the trust gate kept candidate c out: Evaluated,
// with a reason that starts with UntrustedPrefix.
func Untrusted(c *v1.Candidate) bool {
	st := c.GetStatus()
	return st.GetPhase() == CandidateEvaluated && strings.HasPrefix(st.GetReason(), UntrustedPrefix)
}

// gates is a runner's trust gate and personality.
type gates struct {
	svc       *trust.Service // nil: candidates are not scored
	threshold float64        // 0: scored, not gated

	pers     *plugin.Plugin // nil: no personality
	role     string
	config   json.RawMessage
	adj      *personality.Adjustment // the last answer; nil before one
	adjGen   int32
	headroom float64 // the headroom the suite's limits carry
}

// threshold resolves an evolution's gate: spec.trust_threshold, 0 taking
// the daemon's, a negative one none (0).
func (e *Engine) threshold(spec *v1.EvolutionSpec) float64 {
	switch t := spec.GetTrustThreshold(); {
	case t < 0:
		return 0
	case t == 0:
		return e.opts.TrustThreshold
	default:
		return t
	}
}

// checkGates checks the spec's trust threshold, trust scorer and
// personality when an evolution is created.
func (e *Engine) checkGates(ctx context.Context, spec *v1.EvolutionSpec) error {
	switch t := spec.GetTrustThreshold(); {
	case math.IsNaN(t):
		return fieldErr("spec.trust_threshold", "is NaN: give a trust lower bound in [0, 1] (0: swarmd's trust-threshold; negative: no gate)")
	case t > 1:
		return fieldErr("spec.trust_threshold", "%v is above 1: give a trust lower bound in [0, 1] (0: swarmd's trust-threshold; negative: no gate)", t)
	}
	if ref := spec.GetTrustScorer(); ref.GetName() != "" && e.opts.Trust != nil {
		if _, err := e.opts.Trust(ctx, ref); err != nil {
			return fieldErr("spec.trust_scorer", "%v", err)
		}
	}
	if ref := spec.GetPersonality(); ref.GetName() != "" {
		if _, _, err := e.opts.Plugins.Open(ctx, ref.GetName(), ref.GetVersion(), plugin.KindPersonality); err != nil {
			return fieldErr("spec.personality", "%v (swarmctl plugin ls --kind personality lists them: explorer, balanced, conservative)", err)
		}
	}
	return nil
}

// openGates opens the evolution's trust scorer and personality.
func (r *runner) openGates(ctx context.Context) error {
	spec := r.evo.GetSpec()
	if r.e.opts.Trust != nil {
		svc, err := r.e.opts.Trust(ctx, spec.GetTrustScorer())
		if err != nil {
			return fmt.Errorf("trust scorer %s: %w", refName(spec.GetTrustScorer(), "the default"), err)
		}
		r.gates.svc, r.gates.threshold = svc, r.e.threshold(spec)
	}
	ref := spec.GetPersonality()
	if ref.GetName() == "" {
		return nil
	}
	p, _, err := r.e.opts.Plugins.Open(ctx, ref.GetName(), ref.GetVersion(), plugin.KindPersonality)
	if err != nil {
		return fmt.Errorf("personality %s: %w", ref.GetName(), err)
	}
	r.gates.pers = p
	if cfg := ref.GetConfig(); cfg != nil {
		if r.gates.config, err = cfg.MarshalJSON(); err != nil {
			return fmt.Errorf("personality %s: config: %w", ref.GetName(), err)
		}
	}
	if name := spec.GetAgent(); name != "" && r.e.opts.Agents != nil {
		if a, err := r.e.opts.Agents.Get(ctx, name); err == nil {
			r.gates.role = a.GetSpec().GetRole()
		}
	}
	return nil
}

func refName(ref *v1.PluginRef, none string) string {
	switch {
	case ref.GetName() == "":
		return none
	case ref.GetVersion() == "":
		return ref.GetName()
	}
	return ref.GetName() + "@" + ref.GetVersion()
}

// proposeRequest is the propose request for n candidates: with a
// personality, asked first, it carries the mutation bias.
func (r *runner) proposeRequest(ctx context.Context, n int) []byte {
	r.adjust(ctx)
	if r.gates.adj == nil {
		return []byte(`{"version":1,"n":` + strconv.Itoa(n) + `}`)
	}
	b, _ := json.Marshal(struct {
		Version      int     `json:"version"`
		N            int     `json:"n"`
		MutationBias float64 `json:"mutationBias"`
	}{1, n, r.gates.adj.MutationBias}) // numbers only: cannot fail
	return b
}

// adjust asks the personality for this generation's adjustment and applies
// its headroom. A failure keeps the previous adjustment.
func (r *runner) adjust(ctx context.Context) {
	g := &r.gates
	if g.pers == nil {
		return
	}
	gen := r.ck.GetGeneration()
	t := r.bestTrust(ctx)
	a, err := personality.Adjust(ctx, g.pers, personality.Request{Role: g.role, Generation: int(gen), Trust: t, Config: g.config})
	if err != nil {
		if ctx.Err() == nil {
			r.e.log.Warn("the personality failed; the previous adjustment stands", "evolution", r.name, "personality", g.pers.ID(), "generation", gen, "err", err)
		}
		return
	}
	if len(a.Clamped) > 0 {
		detail := fmt.Sprintf("evolution %s, generation %d: adjust answered out of range: %s", r.name, gen, strings.Join(a.Clamped, "; "))
		r.e.log.Warn("the personality answered out of range; clamped", "evolution", r.name, "personality", g.pers.ID(), "clamped", strings.Join(a.Clamped, "; "))
		r.recordAgainstPlugin(ctx, g.pers.ID(), trust.Evidence{Time: r.e.now(), Kind: trust.EvidenceInvalid, Weight: 1, Detail: detail, Source: SourceEvolve})
	}
	g.adj, g.adjGen = &a, gen
	r.applyHeadroom(a.ResourceHeadroom)
}

// bestTrust is the trust score of the evolution's best candidate so far,
// 0.5 without one (or without a score).
func (r *runner) bestTrust(ctx context.Context) float64 {
	evo, err := r.e.evolutions.Get(ctx, r.name)
	if err != nil || evo.GetStatus().GetBestCandidate() == "" {
		return 0.5
	}
	c, err := r.cands.Get(ctx, evo.GetStatus().GetBestCandidate())
	if err != nil || c.GetStatus().GetTrust() == nil {
		return 0.5
	}
	return math.Min(1, math.Max(0, c.GetStatus().GetTrust().GetScore()))
}

// applyHeadroom looks the suite up again with the memory limit scaled by
// 1 + headroom, when the headroom changed. The plan's tasks stay: the
// suite is the same, only its candidates' limits differ.
func (r *runner) applyHeadroom(h float64) {
	if h == r.gates.headroom {
		return
	}
	spec := r.evo.GetSpec()
	opts, err := suiteOptions(spec)
	if err == nil {
		opts.MemoryScale = 1 + h
		var st suite.Suite
		if st, err = r.e.opts.Suites.Lookup(spec.GetSuite(), opts); err == nil {
			r.plan.suite = st
			r.gates.headroom = h
			return
		}
	}
	r.e.log.Warn("the personality's resource headroom could not be applied; the candidates keep their limits", "evolution", r.name, "headroom", h, "err", err)
}

// recordAgainstPlugin appends e to the trust log of plugin version id
// (NAME@VERSION), when there is a log.
func (r *runner) recordAgainstPlugin(ctx context.Context, id string, e trust.Evidence) {
	if r.e.opts.Evidence == nil {
		return
	}
	subj, err := trust.PluginSubject(id)
	if err == nil {
		_, err = r.e.opts.Evidence.Append(context.WithoutCancel(ctx), subj, e)
	}
	if err != nil {
		r.e.log.Warn("record evidence against a plugin", "plugin", id, "err", err)
	}
}

// gateBatch records the evaluation evidence of the batch's candidates,
// scores them and marks those under the threshold untrusted; batch is
// updated in place with what is stored.
func (r *runner) gateBatch(ctx context.Context, batch []*v1.Candidate) error {
	if r.e.opts.Evidence == nil && r.gates.svc == nil {
		return nil
	}
	now := r.e.now()
	for i, c := range batch {
		switch c.GetStatus().GetPhase() {
		case CandidateEvaluated, CandidateFailed:
		default:
			continue
		}
		id := c.GetMetadata().GetName()
		subj := CandidateSubject(r.evo, id)
		if err := subj.Validate(); err != nil {
			r.e.log.Warn("candidate has no valid trust subject; not recorded or gated", "evolution", r.name, "candidate", id, "err", err)
			continue
		}
		at, err := r.recordEvaluation(ctx, subj, c, now)
		if err != nil {
			return err
		}
		if r.gates.svc == nil || c.GetStatus().GetTrust() != nil {
			continue // no scorer, or gated before a restart
		}
		// Scored as of its evaluation's records, not the clock: the same
		// log gives the same score, in a resumed run as in an
		// uninterrupted one.
		ts, err := r.gates.svc.Score(ctx, subj, at)
		if err != nil {
			return fmt.Errorf("trust of candidate %s: %w", id, err)
		}
		if ts.Stale {
			r.e.log.Warn("the trust scorer failed; the previous score stands", "evolution", r.name, "candidate", id, "reason", ts.Reason)
		}
		scorer := r.gates.svc.Scorer()
		reason := c.GetStatus().GetReason()
		if c.GetStatus().GetPhase() == CandidateEvaluated && r.gates.threshold > 0 && ts.LowerBound < r.gates.threshold {
			reason = fmt.Sprintf("%slower bound %.3g < threshold %.3g (%s, %d evidence records)", UntrustedPrefix, ts.LowerBound, r.gates.threshold, scorer.Name+"@"+scorer.Version, ts.Seq)
			if ts.Stale {
				reason += "; the scorer failed and the previous score stands"
			}
		}
		score := &v1.TrustScore{Score: ts.Score, Uncertainty: ts.Uncertainty, LowerBound: ts.LowerBound,
			Scorer: &v1.PluginRef{Name: scorer.Name, Version: scorer.Version}, EvidenceCount: int64(ts.Seq)}
		out, err := r.cands.Modify(context.WithoutCancel(ctx), id, nil, func(cand *v1.Candidate) error {
			cand.Status.Trust, cand.Status.Reason = score, reason
			return nil
		})
		if err != nil {
			return fmt.Errorf("store candidate %s's trust: %w", id, err)
		}
		batch[i] = out
	}
	return nil
}

// recordEvaluation appends candidate c's evaluation to subject's log at
// now, unless this evolution recorded it already (a restart between the
// append and the observe). It returns the time of the records: now, or
// that of the records found.
func (r *runner) recordEvaluation(ctx context.Context, subj trust.Subject, c *v1.Candidate, now time.Time) (time.Time, error) {
	if r.e.opts.Evidence == nil {
		return now, nil
	}
	prefix := "evolution " + r.name + ": "
	old, err := r.e.opts.Evidence.List(ctx, subj, 0)
	if err != nil {
		return now, fmt.Errorf("read the trust evidence of %s: %w", subj, err)
	}
	var at time.Time
	for _, e := range old {
		if e.Source == SourceEvolve && strings.HasPrefix(e.Detail, prefix) && e.Time.After(at) {
			at = e.Time
		}
	}
	if !at.IsZero() {
		return at, nil
	}
	es := evaluationEvidence(prefix+"candidate "+c.GetMetadata().GetName(), c, now)
	if len(es) == 0 {
		return now, nil
	}
	if _, err := r.e.opts.Evidence.Append(context.WithoutCancel(ctx), subj, es...); err != nil {
		return now, fmt.Errorf("record the trust evidence of %s: %w", subj, err)
	}
	return now, nil
}

// evaluationEvidence is the evidence of one evaluation: a task record per
// task result, and a failure record for a failed task whose reason names
// a crash, an OOM kill or a timeout.
func evaluationEvidence(what string, c *v1.Candidate, now time.Time) []trust.Evidence {
	var es []trust.Evidence
	for _, tr := range c.GetStatus().GetTaskResults() {
		detail := what + ": task " + tr.GetTask()
		if !tr.GetFailed() {
			es = append(es, trust.Evidence{Time: now, Kind: trust.EvidenceTask, Positive: true, Weight: 1, Detail: clip(detail + ": succeeded"), Source: SourceEvolve})
			continue
		}
		es = append(es, trust.Evidence{Time: now, Kind: trust.EvidenceTask, Weight: 1, Detail: clip(detail + ": failed: " + tr.GetReason()), Source: SourceEvolve})
		if kind := failureKind(tr.GetReason()); kind != "" {
			es = append(es, trust.Evidence{Time: now, Kind: kind, Weight: 1, Detail: clip(detail + ": " + tr.GetReason()), Source: SourceEvolve})
		}
	}
	return es
}

// failureKind reads a failed task's reason as host/suite words it: an OOM
// kill ("OOM-killed"), a timeout ("ran past its ... limit"), a crash
// ("exited with ..."), or "" for anything else (output that is not a
// result, a tour that is not a tour: the task record says it).
func failureKind(reason string) string {
	switch {
	case strings.Contains(reason, "OOM-killed"):
		return trust.EvidenceOOM
	case strings.Contains(reason, "ran past its"):
		return trust.EvidenceTimeout
	case strings.Contains(reason, "exited with"), strings.Contains(reason, "crashed"):
		return trust.EvidenceCrash
	}
	return ""
}

// clip keeps a detail within a trust record's 4 KiB.
func clip(s string) string {
	const max = 4096
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}

// gateConditions sets the Personality and TrustGate conditions.
func (r *runner) gateConditions(st *v1.EvolutionStatus) {
	g := &r.gates
	if g.adj != nil {
		msg := fmt.Sprintf("%s at generation %d: mutation bias %.3g, resource headroom %.3g, canary pace %.3g",
			g.pers.ID(), g.adjGen, g.adj.MutationBias, g.adj.ResourceHeadroom, g.adj.CanaryPace)
		reason := "Adjusted"
		if len(g.adj.Clamped) > 0 {
			reason, msg = "Clamped", msg+"; clamped: "+strings.Join(g.adj.Clamped, "; ")
		}
		setEvolutionCondition(st, ConditionPersonality, "True", reason, msg)
	}
	if g.svc != nil {
		s := g.svc.Scorer()
		if g.threshold > 0 {
			setEvolutionCondition(st, ConditionTrustGate, "True", "Gating", fmt.Sprintf(
				"candidates whose trust lower bound (%s) is below %.3g are untrusted: told to the strategy as failed, never the best", s.Name+"@"+s.Version, g.threshold))
		} else {
			setEvolutionCondition(st, ConditionTrustGate, "False", "NoThreshold", fmt.Sprintf(
				"candidates are scored (%s) but not gated: the trust threshold is off", s.Name+"@"+s.Version))
		}
	}
}

// setEvolutionCondition sets the condition of type typ, keeping its
// transition time while its status does not change.
func setEvolutionCondition(st *v1.EvolutionStatus, typ, status, reason, message string) {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			if c.GetStatus() != status {
				c.LastTransitionTime = timestamppb.Now()
			}
			c.Status, c.Reason, c.Message = status, reason, message
			return
		}
	}
	st.Conditions = append(st.Conditions, &v1.Condition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: timestamppb.Now()})
}
