package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/personality"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// kindCanary is the store kind of canaries.
const kindCanary = "canary"

// Target kinds of a canary.
const (
	targetAgent  = "Agent"
	targetPlugin = "Plugin"
)

// Defaults of a canary spec.
const (
	defaultCanaryInterval    = time.Minute
	defaultPassThreshold     = 75
	defaultMarginalThreshold = 50
	// apiActor is who the decisions taken through the API are recorded as.
	apiActor = "api"
)

// pluginVersionRE matches a plugin version (a semantic version, loosely).
var pluginVersionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]{0,127}$`)

// defaultStepWeights are the canary's shares when a spec gives none.
func defaultStepWeights() []int32 { return []int32{10, 25, 50} }

// canaryTrust is the trust the canary controller needs: evidence in,
// a gate out (host/trust's Log and Service, through trustGate).
type canaryTrust interface {
	// Append records evidence about subject.
	Append(ctx context.Context, subject trust.Subject, es ...trust.Evidence) error
	// Admit scores subject and says whether its lower bound reaches
	// threshold.
	Admit(ctx context.Context, subject trust.Subject, threshold float64, now time.Time) (bool, trust.TrustScore, error)
	// Carry copies from's evidence to to (a candidate's evidence to the
	// agent version it becomes), marked as carried.
	Carry(ctx context.Context, from, to trust.Subject) error
}

// pluginCanaries builds the environment of a Plugin canary (nil: plugin
// canaries are refused).
type pluginCanaries interface {
	// Env returns the canary.Env of rollout, a canary of plugin name from
	// its default version to canaryVersion, judged on metrics.
	Env(ctx context.Context, name, baselineVersion, canaryVersion string, metrics []string, rollout *canary.Rollout) (canary.Env, error)
	// DefaultConfig is the judge configuration of a plugin canary whose
	// spec names no metrics (and its thresholds, when it gives none).
	DefaultConfig() canary.Config
	// DefaultVersion is plugin name's default version.
	DefaultVersion(ctx context.Context, name string) (string, error)
}

// personalities opens an agent's personality plugin (the registry).
type personalities interface {
	Open(ctx context.Context, name, version string, want plugin.Kind) (*plugin.Plugin, string, error)
}

// canaryService serves CanaryService: it runs each canary's rollout
// (host/canary) against its environment — for an Agent, host/release over
// the deployer and the mesh — records every decision on the Canary and as
// trust evidence, and updates the agent when its canary is promoted.
type canaryService struct {
	v1.UnimplementedCanaryServiceServer
	canaries *store.Repository[*v1.Canary]
	agents   *store.Repository[*v1.Agent]
	engine   *evolve.Engine
	runner   *agentRunner
	// agentEnv builds an Agent canary's environment (release.Env).
	agentEnv func(ctx context.Context, a *v1.Agent, live, baseline, canaryVersion string, genome *structpb.Struct, metrics []string) (canary.Env, error)
	plugins  pluginCanaries
	persona  personalities
	trust    canaryTrust // nil: no trust gate
	// threshold is the daemon's trust-threshold.
	threshold float64
	clock     canary.Clock
	log       *slog.Logger
	stopping  context.Context
	wg        *sync.WaitGroup

	mu     sync.Mutex
	active map[string]*canaryRun // by canary name
}

// prepared is a canary ready to run.
type prepared struct {
	env     canary.Env
	subject trust.Subject
	rollout *canary.Rollout
}

// canaryRun is one canary in progress.
type canaryRun struct {
	name    string
	c       *v1.Canary // the spec, as created (read-only)
	rollout *canary.Rollout
	subject trust.Subject // the canary version's
	done    chan struct{}

	// wmu serialises status writes and evidence, so that the last write is
	// the newest snapshot and each decision is recorded once.
	wmu      sync.Mutex
	recorded int // decisions recorded as evidence
	trust    *v1.TrustScore
}

// checkCanary validates what a client may set on a canary.
func checkCanary(c *v1.Canary) error {
	if c == nil {
		return invalidField("canary", "is required")
	}
	if err := checkName("canary.metadata.name", c.GetMetadata().GetName()); err != nil {
		return err
	}
	if err := checkLabels("canary.metadata.labels", c.GetMetadata().GetLabels()); err != nil {
		return err
	}
	s := c.GetSpec()
	if s == nil {
		return invalidField("canary.spec", "is required: say what is canaried (target) and how it is judged (metrics)")
	}
	switch s.GetTargetKind() {
	case "", targetAgent, targetPlugin:
	default:
		return invalidField("canary.spec.target_kind", "%q is not a target kind: use %q or %q", s.GetTargetKind(), targetAgent, targetPlugin)
	}
	if err := checkName("canary.spec.target", s.GetTarget()); err != nil {
		return err
	}
	if s.GetTargetKind() == targetPlugin {
		if s.GetGenome() != nil || s.GetEvolution() != "" {
			return invalidField("canary.spec", "a Plugin canary runs a plugin version (canary_version), not a genome or an evolution's candidate")
		}
		if s.GetCanaryVersion() == "" {
			return invalidField("canary.spec.canary_version", "is required for a Plugin canary: name the uploaded version to canary")
		}
	} else {
		switch {
		case s.GetGenome() != nil && s.GetEvolution() != "":
			return invalidField("canary.spec", "give the canary's genome or an evolution to take it from, not both")
		case s.GetGenome() == nil && s.GetEvolution() == "":
			return invalidField("canary.spec", "an Agent canary needs the new version's genome: give genome, or evolution (and candidate) to take it from")
		case s.GetCandidate() != "" && s.GetEvolution() == "":
			return invalidField("canary.spec.candidate", "names a candidate of an evolution: give evolution too")
		}
		if len(s.GetMetrics()) == 0 {
			return invalidField("canary.spec.metrics", "no metrics to judge: name the agent's metrics the canary is judged on, e.g. tspsolver_request_seconds_mean (direction increase)")
		}
		if !slices.ContainsFunc(s.GetMetrics(), func(m *v1.CanaryMetric) bool { return !m.GetMuted() }) {
			return invalidField("canary.spec.metrics", "every metric is muted: at least one must be judged")
		}
	}
	for _, v := range []struct{ field, v string }{{"baseline_version", s.GetBaselineVersion()}, {"canary_version", s.GetCanaryVersion()}} {
		switch {
		case v.v == "":
		case s.GetTargetKind() == targetPlugin:
			if !pluginVersionRE.MatchString(v.v) {
				return invalidField("canary.spec."+v.field, "%q is not a plugin version: give the semantic version it was uploaded as, e.g. 1.2.0", v.v)
			}
		default:
			if err := checkName("canary.spec."+v.field, v.v); err != nil {
				return err
			}
		}
	}
	for i, m := range s.GetMetrics() {
		field := fmt.Sprintf("canary.spec.metrics[%d]", i)
		if m.GetName() == "" {
			return invalidField(field+".name", "is required")
		}
		switch m.GetDirection() {
		case "", "increase", "decrease", "either":
		default:
			return invalidField(field+".direction", "%q: use increase (a rise fails), decrease (a fall fails) or either", m.GetDirection())
		}
		switch m.GetNanStrategy() {
		case "", "remove", "replace":
		default:
			return invalidField(field+".nan_strategy", "%q: use remove or replace", m.GetNanStrategy())
		}
		if w := m.GetGroupWeight(); math.IsNaN(w) || w < 0 || w > 100 {
			return invalidField(field+".group_weight", "%v is outside [0, 100]", w)
		}
		if v := m.GetAllowedIncrease(); math.IsNaN(v) || v < 0 || (v > 0 && v < 1) {
			return invalidField(field+".allowed_increase", "%v: give a mean ratio of 1 or more (1.5 tolerates a 50%% rise), or 0 for none", v)
		}
		if v := m.GetAllowedDecrease(); math.IsNaN(v) || v < 0 || v > 1 {
			return invalidField(field+".allowed_decrease", "%v: give a mean ratio from 0 to 1 (0.8 tolerates a 20%% fall), 0 for none", v)
		}
	}
	for _, f := range []struct {
		field string
		v     float64
	}{{"pass_threshold", s.GetPassThreshold()}, {"marginal_threshold", s.GetMarginalThreshold()}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 100 {
			return invalidField("canary.spec."+f.field, "%v is outside [0, 100]", f.v)
		}
	}
	if t := s.GetTrustThreshold(); math.IsNaN(t) || t > 1 {
		return invalidField("canary.spec.trust_threshold", "%v is above 1: give a lower bound of trust in [0, 1], 0 for the daemon's, or a negative value to turn the gate off", t)
	}
	if s.GetMinSamples() < 0 || s.GetMaxNoData() < 0 {
		return invalidField("canary.spec", "min_samples and max_no_data must not be negative")
	}
	if d := s.GetInterval(); d != nil && (d.CheckValid() != nil || d.AsDuration() <= 0) {
		return invalidField("canary.spec.interval", "%v is not a positive duration", d.AsDuration())
	}
	return nil
}

// planOf is the rollout plan of spec, defaults filled in (also into spec):
// defaults, if not nil, gives the metrics when spec names none and the
// thresholds when it gives none.
func planOf(spec *v1.CanarySpec, pace float64, defaults *canary.Config) (canary.Plan, error) {
	if len(spec.GetStepWeights()) == 0 {
		spec.StepWeights = defaultStepWeights()
	}
	if spec.GetInterval() == nil {
		spec.Interval = durationpb.New(defaultCanaryInterval)
	}
	if spec.GetPassThreshold() == 0 && spec.GetMarginalThreshold() == 0 {
		spec.PassThreshold, spec.MarginalThreshold = defaultPassThreshold, defaultMarginalThreshold
		if defaults != nil {
			spec.PassThreshold, spec.MarginalThreshold = defaults.Thresholds.Pass, defaults.Thresholds.Marginal
		}
	}
	p := canary.Plan{
		Interval:   spec.GetInterval().AsDuration(),
		MaxNoData:  int(spec.GetMaxNoData()),
		MinSamples: int(spec.GetMinSamples()),
		Pace:       pace,
		Judge: canary.Config{
			Thresholds:   canary.Thresholds{Pass: spec.GetPassThreshold(), Marginal: spec.GetMarginalThreshold()},
			GroupWeights: map[string]float64{},
		},
	}
	for _, w := range spec.GetStepWeights() {
		p.StepWeights = append(p.StepWeights, int(w))
	}
	if len(spec.GetMetrics()) == 0 && defaults != nil {
		for _, m := range defaults.Metrics {
			spec.Metrics = append(spec.Metrics, &v1.CanaryMetric{
				Name: m.Name, Group: m.Group, Direction: string(m.Direction), Critical: m.Critical,
				MustHaveData: m.MustHaveData, NanStrategy: string(m.NaNStrategy), RemoveOutliers: m.Outliers == canary.OutliersRemove,
				GroupWeight: defaults.GroupWeights[m.Group], AllowedIncrease: m.EffectSize.AllowedIncrease, AllowedDecrease: m.EffectSize.AllowedDecrease, Muted: m.Muted,
			})
		}
	}
	for _, m := range spec.GetMetrics() {
		mc := canary.MetricConfig{
			Name: m.GetName(), Group: m.GetGroup(), Direction: canary.Direction(m.GetDirection()),
			NaNStrategy: canary.NaNStrategy(m.GetNanStrategy()), Critical: m.GetCritical(), MustHaveData: m.GetMustHaveData(),
			Muted: m.GetMuted(),
		}
		if mc.Group == "" {
			mc.Group = mc.Name
			m.Group = mc.Name
		}
		if mc.Direction == "" {
			mc.Direction = canary.DirectionEither
			m.Direction = string(canary.DirectionEither)
		}
		if m.GetRemoveOutliers() {
			mc.Outliers = canary.OutliersRemove
		}
		if inc, dec := m.GetAllowedIncrease(), m.GetAllowedDecrease(); inc > 0 || dec > 0 {
			mc.EffectSize = canary.EffectSize{Measure: canary.EffectMeanRatio,
				AllowedIncrease: inc, AllowedDecrease: dec, CriticalIncrease: inc, CriticalDecrease: dec}
		}
		if w := m.GetGroupWeight(); w > 0 {
			p.Judge.GroupWeights[mc.Group] = w
		}
		p.Judge.Metrics = append(p.Judge.Metrics, mc)
	}
	if len(p.Judge.GroupWeights) == 0 {
		p.Judge.GroupWeights = nil
	}
	if err := p.Validate(); err != nil {
		return canary.Plan{}, err
	}
	return p, nil
}

// rolloutOf is the rollout of spec's plan (planOf, defaults filled in)
// and the names of the metrics it judges.
func rolloutOf(spec *v1.CanarySpec, pace float64, defaults *canary.Config) (*canary.Rollout, []string, error) {
	plan, err := planOf(spec, pace, defaults)
	if err != nil {
		return nil, nil, invalidField("canary.spec", "%v", err)
	}
	run, err := canary.NewRollout(plan)
	if err != nil {
		return nil, nil, invalidField("canary.spec", "%v", err)
	}
	metrics := make([]string, 0, len(plan.Judge.Metrics))
	for _, m := range plan.Judge.Metrics {
		metrics = append(metrics, m.Name)
	}
	return run, metrics, nil
}

func (s *canaryService) CreateCanary(ctx context.Context, req *v1.CreateCanaryRequest) (*v1.Canary, error) {
	c := proto.Clone(req.GetCanary()).(*v1.Canary)
	if err := checkCanary(c); err != nil {
		return nil, err
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, err
	}
	name := c.GetMetadata().GetName()
	if _, err := s.canaries.Get(ctx, name); err == nil {
		// A retry with the same request ID gets the canary; any other
		// request an AlreadyExists.
		out, _, err := s.canaries.Create(ctx, c, req.GetRequestId())
		return out, storeError(err)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, storeError(err)
	}
	spec := c.GetSpec()
	if spec.GetTargetKind() == "" {
		spec.TargetKind = targetAgent
	}
	if spec.GetTrustThreshold() == 0 {
		spec.TrustThreshold = s.threshold
	}
	if err := s.lockTarget(ctx, spec); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var (
		pr  prepared
		err error
	)
	if spec.GetTargetKind() == targetPlugin {
		pr, err = s.preparePlugin(ctx, c)
	} else {
		pr, err = s.prepareAgent(ctx, c)
	}
	if err != nil {
		return nil, err
	}
	run := &canaryRun{name: name, rollout: pr.rollout, subject: pr.subject, done: make(chan struct{})}
	env := pr.env
	now := time.Now()
	c.Status = &v1.CanaryStatus{StartTime: timestamppb.New(now), Pace: pr.rollout.Plan().Pace}
	fillStatus(c.Status, run.rollout.Status())
	run.c = proto.Clone(c).(*v1.Canary)
	out, created, err := s.canaries.Create(ctx, c, req.GetRequestId())
	if err != nil || !created {
		return out, storeError(err)
	}
	s.active[name] = run
	s.wg.Add(1)
	go s.drive(run, env)
	return out, nil
}

// lockTarget takes s.mu once spec's target has no canary in progress,
// waiting for one that has finished deciding but is still carrying its end
// out; a canary in progress is an error saying which.
func (s *canaryService) lockTarget(ctx context.Context, spec *v1.CanarySpec) error {
	for {
		s.mu.Lock()
		var busy *canaryRun
		for _, r := range s.active {
			if r.c.GetSpec().GetTargetKind() == spec.GetTargetKind() && r.c.GetSpec().GetTarget() == spec.GetTarget() {
				busy = r
			}
		}
		if busy == nil {
			return nil
		}
		s.mu.Unlock()
		if !busy.rollout.Status().Phase.Finished() {
			return status.Errorf(codes.FailedPrecondition, "%s %s already has canary %s in progress: wait for it, or end it with swarmctl canary promote|rollback %s", strings.ToLower(spec.GetTargetKind()), spec.GetTarget(), busy.name, busy.name)
		}
		select {
		case <-busy.done:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// prepareAgent resolves an Agent canary: the live version, the genome, the
// trust gate on the candidate, the personality's pace and the environment.
func (s *canaryService) prepareAgent(ctx context.Context, c *v1.Canary) (prepared, error) {
	spec := c.GetSpec()
	if s.runner.deployer == nil {
		return prepared{}, status.Errorf(codes.FailedPrecondition, "agent canaries run replicas on the native runtime, which is unavailable: %v", s.runner.why)
	}
	a, err := s.agents.Get(ctx, spec.GetTarget())
	if errors.Is(err, store.ErrNotFound) {
		return prepared{}, status.Errorf(codes.NotFound, "agent %s not found: a canary releases a new version of a running agent; create it first (swarmctl agent create %s --replicas 2 ...)", spec.GetTarget(), spec.GetTarget())
	} else if err != nil {
		return prepared{}, storeError(err)
	}
	live := a.GetStatus().GetVersion()
	if a.GetStatus().GetPhase() != "Running" || live == "" {
		return prepared{}, status.Errorf(codes.FailedPrecondition, "agent %s is not running (phase %s): a canary is judged beside a live version that serves traffic; give the agent replicas and wait until swarmctl agent describe %s says Running", a.GetMetadata().GetName(), orPhase(a), a.GetMetadata().GetName())
	}
	if b := spec.GetBaselineVersion(); b != "" && b != live {
		return prepared{}, invalidField("canary.spec.baseline_version", "%s is not agent %s's live version %s: leave it empty to take the live one", b, a.GetMetadata().GetName(), live)
	}
	spec.BaselineVersion = live
	used, err := s.usedVersions(ctx, a.GetMetadata().GetName())
	if err != nil {
		return prepared{}, err
	}
	fresh := nextVersion(live)
	for used[fresh] != "" {
		fresh = nextVersion(fresh)
	}
	if spec.GetCanaryVersion() == "" {
		spec.CanaryVersion = fresh
	}
	if v := spec.GetCanaryVersion(); v == live || v == baselineName(live) {
		return prepared{}, invalidField("canary.spec.canary_version", "%s is taken by the live version or its baseline: name a new version, or leave it empty for %s", v, fresh)
	} else if by := used[v]; by != "" {
		return prepared{}, invalidField("canary.spec.canary_version", "%s was canaried before (canary %s), and its trust evidence is that version's: name a new version, or leave it empty for %s", v, by, fresh)
	}
	subject := trust.Subject{Kind: trust.SubjectAgent, Name: a.GetMetadata().GetName(), Version: spec.GetCanaryVersion()}
	trustNow := 0.5
	if spec.GetEvolution() != "" {
		genome, from, score, err := s.candidateGenome(ctx, spec)
		if err != nil {
			return prepared{}, err
		}
		spec.Genome = genome
		trustNow = score
		if s.trust != nil {
			if err := s.trust.Carry(ctx, from, subject); err != nil {
				return prepared{}, status.Errorf(codes.Internal, "carry candidate %s's trust evidence to %s: %v", from, subject, err)
			}
		}
	}
	pace, why := s.pace(ctx, a, trustNow)
	if why != "" {
		s.log.Warn("canary pace", "canary", c.GetMetadata().GetName(), "reason", why)
	}
	run, metrics, err := rolloutOf(spec, pace, nil)
	if err != nil {
		return prepared{}, err
	}
	env, err := s.agentEnv(ctx, a, live, baselineName(live), spec.GetCanaryVersion(), spec.GetGenome(), metrics)
	if err != nil {
		return prepared{}, status.Errorf(codes.FailedPrecondition, "canary of agent %s: %v", a.GetMetadata().GetName(), err)
	}
	return prepared{env: env, subject: subject, rollout: run}, nil
}

// usedVersions are the versions agent's canaries have run, each with the
// canary that ran it: a version name is never given to another design.
func (s *canaryService) usedVersions(ctx context.Context, agent string) (map[string]string, error) {
	used := map[string]string{}
	for c, err := range s.canaries.All(ctx) {
		if err != nil {
			return nil, storeError(err)
		}
		if sp := c.GetSpec(); sp.GetTargetKind() == targetAgent && sp.GetTarget() == agent {
			used[sp.GetCanaryVersion()] = c.GetMetadata().GetName()
		}
	}
	return used, nil
}

// candidateGenome is the genome of the spec's evolution candidate (its best
// by default), after the trust gate: the candidate's subject and its score.
func (s *canaryService) candidateGenome(ctx context.Context, spec *v1.CanarySpec) (*structpb.Struct, trust.Subject, float64, error) {
	evo, err := s.engine.Evolutions().Get(ctx, spec.GetEvolution())
	if errors.Is(err, store.ErrNotFound) {
		return nil, trust.Subject{}, 0, status.Errorf(codes.NotFound, "evolution %s not found: see swarmctl evolution ls", spec.GetEvolution())
	} else if err != nil {
		return nil, trust.Subject{}, 0, storeError(err)
	}
	id := spec.GetCandidate()
	if id == "" {
		id = evo.GetStatus().GetBestCandidate()
		if id == "" {
			return nil, trust.Subject{}, 0, status.Errorf(codes.FailedPrecondition, "evolution %s has no best candidate yet (phase %s): wait for evaluations, or name a candidate", evo.GetMetadata().GetName(), evo.GetStatus().GetPhase())
		}
		spec.Candidate = id
	}
	cand, err := s.engine.Candidates(evo.GetMetadata().GetName()).Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, trust.Subject{}, 0, status.Errorf(codes.NotFound, "evolution %s has no candidate %s: see swarmctl evolution archive %s", evo.GetMetadata().GetName(), id, evo.GetMetadata().GetName())
	} else if err != nil {
		return nil, trust.Subject{}, 0, storeError(err)
	}
	if p := cand.GetStatus().GetPhase(); p != evolve.CandidateEvaluated {
		return nil, trust.Subject{}, 0, status.Errorf(codes.FailedPrecondition, "candidate %s of evolution %s is %s, not Evaluated: only an evaluated candidate can be canaried", id, evo.GetMetadata().GetName(), p)
	}
	if cand.GetSpec().GetGenome() == nil {
		return nil, trust.Subject{}, 0, status.Errorf(codes.FailedPrecondition, "candidate %s of evolution %s has no genome", id, evo.GetMetadata().GetName())
	}
	owner := evo.GetSpec().GetAgent()
	if owner == "" {
		owner = evo.GetMetadata().GetName()
	}
	from := trust.Subject{Kind: trust.SubjectAgent, Name: owner, Version: id}
	score := 0.5
	if s.trust != nil && spec.GetTrustThreshold() >= 0 {
		ok, ts, err := s.trust.Admit(ctx, from, spec.GetTrustThreshold(), time.Now())
		if err != nil {
			return nil, trust.Subject{}, 0, status.Errorf(codes.Internal, "trust of candidate %s: %v", from, err)
		}
		if !ok {
			return nil, trust.Subject{}, 0, status.Errorf(codes.FailedPrecondition, "candidate %s of evolution %s is not trusted enough to canary: its trust lower bound %.3f is below the threshold %.3f (%d evidence records): pick another candidate, or lower canary.spec.trust_threshold", id, evo.GetMetadata().GetName(), ts.LowerBound, spec.GetTrustThreshold(), ts.Seq)
		}
		score = ts.Score
	}
	return proto.Clone(cand.GetSpec().GetGenome()).(*structpb.Struct), from, score, nil
}

// preparePlugin resolves a Plugin canary: the default version as the
// baseline, the plugin metrics, and the environment.
func (s *canaryService) preparePlugin(ctx context.Context, c *v1.Canary) (prepared, error) {
	spec := c.GetSpec()
	if s.plugins == nil {
		return prepared{}, status.Error(codes.Unimplemented, "plugin canaries are not available in this swarmd")
	}
	def, err := s.plugins.DefaultVersion(ctx, spec.GetTarget())
	if err != nil {
		return prepared{}, status.Errorf(codes.FailedPrecondition, "plugin %s: %v", spec.GetTarget(), err)
	}
	if b := spec.GetBaselineVersion(); b != "" && b != def {
		return prepared{}, invalidField("canary.spec.baseline_version", "%s is not plugin %s's default version %s: leave it empty to take the default", b, spec.GetTarget(), def)
	}
	if spec.GetCanaryVersion() == def {
		return prepared{}, invalidField("canary.spec.canary_version", "%s is already plugin %s's default version: canary a new version", def, spec.GetTarget())
	}
	spec.BaselineVersion = def
	defaults := s.plugins.DefaultConfig()
	run, metrics, err := rolloutOf(spec, canary.DefaultPace, &defaults)
	if err != nil {
		return prepared{}, err
	}
	env, err := s.plugins.Env(ctx, spec.GetTarget(), def, spec.GetCanaryVersion(), metrics, run)
	if err != nil {
		return prepared{}, status.Errorf(codes.FailedPrecondition, "canary of plugin %s: %v", spec.GetTarget(), err)
	}
	subject := trust.Subject{Kind: trust.SubjectPlugin, Name: spec.GetTarget(), Version: spec.GetCanaryVersion()}
	return prepared{env: env, subject: subject, rollout: run}, nil
}

// pace is the canary pace of agent a's personality (canary.DefaultPace
// without one), and why the default was taken when the personality failed.
func (s *canaryService) pace(ctx context.Context, a *v1.Agent, trustScore float64) (float64, string) {
	ref := a.GetSpec().GetPersonality()
	if ref.GetName() == "" || s.persona == nil {
		return canary.DefaultPace, ""
	}
	p, _, err := s.persona.Open(ctx, ref.GetName(), ref.GetVersion(), plugin.KindPersonality)
	if err != nil {
		return canary.DefaultPace, fmt.Sprintf("personality %s: %v; the default pace %v is used", ref.GetName(), err, canary.DefaultPace)
	}
	var cfg []byte
	if ref.GetConfig() != nil {
		if cfg, err = ref.GetConfig().MarshalJSON(); err != nil {
			return canary.DefaultPace, fmt.Sprintf("personality %s: config: %v", ref.GetName(), err)
		}
	}
	adj, err := personality.Adjust(ctx, p, personality.Request{
		Role: a.GetSpec().GetRole(), Generation: int(a.GetStatus().GetLineage().GetGeneration()), Trust: trustScore, Config: cfg,
	})
	if err != nil {
		return canary.DefaultPace, fmt.Sprintf("personality %s: %v; the default pace %v is used", p.ID(), err, canary.DefaultPace)
	}
	if len(adj.Clamped) > 0 {
		s.log.Warn("personality answered out of range; clamped and recorded against it", "personality", p.ID(), "clamped", strings.Join(adj.Clamped, "; "))
	}
	return adj.CanaryPace, ""
}

// drive runs one canary to its end, writing its status at every decision.
func (s *canaryService) drive(run *canaryRun, env canary.Env) {
	defer s.wg.Done()
	defer close(run.done)
	gated := &gatedEnv{Env: env, s: s, run: run}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			st, changed := run.rollout.Watch()
			if st.Phase.Finished() {
				// The end is written once Drive has carried it out, so
				// that a canary recorded as Promoted is promoted.
				return
			}
			s.write(run)
			<-changed
		}
	}()
	st, err := canary.Drive(s.stopping, run.rollout, gated, s.clock)
	<-watchDone
	if err != nil {
		s.log.Warn("canary ended", "canary", run.name, "phase", st.Phase, "err", err)
	} else {
		s.log.Info("canary ended", "canary", run.name, "phase", st.Phase, "reason", st.Reason)
	}
	s.write(run)
	s.mu.Lock()
	delete(s.active, run.name)
	s.mu.Unlock()
}

// write records the rollout's newest snapshot on the Canary, and its new
// decisions as trust evidence.
func (s *canaryService) write(run *canaryRun) {
	run.wmu.Lock()
	defer run.wmu.Unlock()
	st := run.rollout.Status()
	s.recordEvidence(run, st)
	_, err := s.canaries.Modify(context.Background(), run.name, nil, func(c *v1.Canary) error {
		if c.Status == nil {
			c.Status = &v1.CanaryStatus{}
		}
		fillStatus(c.Status, st)
		if run.trust != nil {
			c.Status.Trust = run.trust
		}
		if st.Phase.Finished() && c.Status.EndTime == nil {
			c.Status.EndTime = timestamppb.Now()
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("record canary status", "canary", run.name, "err", err)
	}
}

// recordEvidence appends the decisions not yet recorded as evidence about
// the canary version: a Pass for it, a Fail or a crash against it, a
// Marginal half against it. The caller holds run.wmu.
func (s *canaryService) recordEvidence(run *canaryRun, st canary.Status) {
	if s.trust == nil {
		run.recorded = len(st.Decisions)
		return
	}
	var es []trust.Evidence
	for _, d := range st.Decisions[run.recorded:] {
		e := trust.Evidence{Time: d.Time, Kind: trust.EvidenceCanary, Weight: 1, Source: "canary/" + run.name,
			Detail: fmt.Sprintf("%s %s: %s", d.Verdict, d.Action, d.Reason)}
		switch {
		case d.Verdict == canary.VerdictPass:
			e.Positive = true
		case d.Verdict == canary.VerdictMarginal:
			e.Weight = 0.5
		case d.Verdict == canary.VerdictFail:
		case d.Action == canary.ActionRollback && d.By == canary.Actor && strings.Contains(d.Reason, "crash"):
			e.Kind = trust.EvidenceCrash
		default:
			continue // no data, manual actions, steps without a verdict
		}
		if len(e.Detail) > 1024 {
			e.Detail = e.Detail[:1024]
		}
		es = append(es, e)
	}
	if len(es) > 0 {
		if err := s.trust.Append(context.Background(), run.subject, es...); err != nil {
			s.log.Warn("record canary evidence", "canary", run.name, "subject", run.subject.String(), "err", err)
			return // tried again at the next write
		}
	}
	run.recorded = len(st.Decisions)
}

// gate is the promotion gate: the canary version's trust must reach the
// spec's threshold. Its score is kept for the status.
func (s *canaryService) gate(ctx context.Context, run *canaryRun) error {
	if s.trust == nil || run.c.GetSpec().GetTrustThreshold() < 0 {
		return nil
	}
	run.wmu.Lock()
	s.recordEvidence(run, run.rollout.Status())
	run.wmu.Unlock()
	th := run.c.GetSpec().GetTrustThreshold()
	ok, ts, err := s.trust.Admit(ctx, run.subject, th, time.Now())
	if err != nil {
		return fmt.Errorf("the trust gate: %w", err)
	}
	run.wmu.Lock()
	run.trust = &v1.TrustScore{Score: ts.Score, Uncertainty: ts.Uncertainty, LowerBound: ts.LowerBound, EvidenceCount: int64(ts.Seq)}
	run.wmu.Unlock()
	if !ok {
		return fmt.Errorf("%s's trust lower bound %.3f is below the promotion threshold %.3f (%d evidence records): let the canary gather more passing analyses, or lower canary.spec.trust_threshold", run.subject, ts.LowerBound, th, ts.Seq)
	}
	return nil
}

// gatedEnv is a canary's Env with the trust gate before a promotion and
// the agent's record updated after it.
type gatedEnv struct {
	canary.Env
	s   *canaryService
	run *canaryRun
}

// Promote refuses an untrusted canary (Drive then rolls it back as
// Failed), promotes, and makes the canary the agent's live version.
func (g *gatedEnv) Promote(ctx context.Context) error {
	if err := g.s.gate(ctx, g.run); err != nil {
		return err
	}
	if err := g.Env.Promote(ctx); err != nil {
		return err
	}
	if g.run.c.GetSpec().GetTargetKind() == targetAgent {
		return g.s.promoted(context.WithoutCancel(ctx), g.run.c)
	}
	return nil
}

// promoted makes the canary's version and genome the agent's live ones,
// with their lineage, so that a restarted swarmd runs them.
func (s *canaryService) promoted(ctx context.Context, c *v1.Canary) error {
	spec := c.GetSpec()
	_, err := s.agents.Modify(ctx, spec.GetTarget(), nil, func(a *v1.Agent) error {
		parent := a.GetStatus().GetVersion()
		a.Spec.Genome = proto.Clone(spec.GetGenome()).(*structpb.Struct)
		if a.Status == nil {
			a.Status = &v1.AgentStatus{}
		}
		gen := a.GetStatus().GetLineage().GetGeneration() + 1
		a.Status.Version = spec.GetCanaryVersion()
		a.Status.Lineage = &v1.Lineage{ParentVersion: parent, Evolution: spec.GetEvolution(), Candidate: spec.GetCandidate(), Generation: gen}
		setCondition(a.Status, "Ready", "True", "Promoted", fmt.Sprintf("canary %s promoted %s over %s", c.GetMetadata().GetName(), spec.GetCanaryVersion(), parent))
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the promotion on agent %s: %w", spec.GetTarget(), err)
	}
	return nil
}

func (s *canaryService) GetCanary(ctx context.Context, req *v1.GetCanaryRequest) (*v1.Canary, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	c, err := s.canaries.Get(ctx, req.GetName())
	return c, storeError(err)
}

func (s *canaryService) ListCanaries(ctx context.Context, req *v1.ListCanariesRequest) (*v1.ListCanariesResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := s.canaries.List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListCanariesResponse{Canaries: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (s *canaryService) WatchCanaries(req *v1.WatchCanariesRequest, stream v1.CanaryService_WatchCanariesServer) error {
	return watch(stream.Context(), s.canaries, req.GetResourceVersion(), func(t v1.EventType, obj *v1.Canary) error {
		return stream.Send(&v1.WatchCanariesResponse{Type: t, Canary: obj})
	})
}

// running is canary name's run, or an error saying why it cannot be acted
// on.
func (s *canaryService) running(ctx context.Context, name, what string) (*canaryRun, error) {
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	run := s.active[name]
	s.mu.Unlock()
	if run != nil {
		return run, nil
	}
	c, err := s.canaries.Get(ctx, name)
	if err != nil {
		return nil, storeError(err)
	}
	return nil, status.Errorf(codes.FailedPrecondition, "cannot %s canary %s: it has ended as %s: %s", what, name, c.GetStatus().GetPhase(), c.GetStatus().GetReason())
}

// acted waits until the driver has carried out a final decision (or the
// request ends) and returns the canary as recorded.
func (s *canaryService) acted(ctx context.Context, run *canaryRun, final bool) (*v1.Canary, error) {
	if final {
		select {
		case <-run.done:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	} else {
		s.write(run)
	}
	c, err := s.canaries.Get(ctx, run.name)
	return c, storeError(err)
}

// actErr maps a rollout's refusal of what onto a status.
func actErr(run *canaryRun, what string, err error) error {
	switch {
	case errors.Is(err, canary.ErrFinished):
		st := run.rollout.Status()
		return status.Errorf(codes.FailedPrecondition, "cannot %s canary %s: it has ended as %s: %s", what, run.name, st.Phase, st.Reason)
	case errors.Is(err, canary.ErrNotPaused):
		return status.Errorf(codes.FailedPrecondition, "cannot %s canary %s: it is not paused (%s); only a paused canary resumes", what, run.name, run.rollout.Status().Phase)
	}
	return status.Errorf(codes.Internal, "%s canary %s: %v", what, run.name, err)
}

// PromoteCanary promotes now, if the canary version passes the trust gate.
// Of concurrent promote and rollback calls exactly one wins; the other
// gets FailedPrecondition saying how the canary ended.
func (s *canaryService) PromoteCanary(ctx context.Context, req *v1.PromoteCanaryRequest) (*v1.Canary, error) {
	run, err := s.running(ctx, req.GetName(), "promote")
	if err != nil {
		return nil, err
	}
	if err := s.gate(ctx, run); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "canary %s cannot be promoted: %v", run.name, err)
	}
	if _, err := run.rollout.Promote(time.Now(), apiActor); err != nil {
		return nil, actErr(run, "promote", err)
	}
	return s.acted(ctx, run, true)
}

// RollbackCanary rolls back now.
func (s *canaryService) RollbackCanary(ctx context.Context, req *v1.RollbackCanaryRequest) (*v1.Canary, error) {
	run, err := s.running(ctx, req.GetName(), "roll back")
	if err != nil {
		return nil, err
	}
	if _, err := run.rollout.Rollback(time.Now(), apiActor, req.GetReason()); err != nil {
		return nil, actErr(run, "roll back", err)
	}
	return s.acted(ctx, run, true)
}

// ResumeCanary resumes a paused canary.
func (s *canaryService) ResumeCanary(ctx context.Context, req *v1.ResumeCanaryRequest) (*v1.Canary, error) {
	run, err := s.running(ctx, req.GetName(), "resume")
	if err != nil {
		return nil, err
	}
	if _, err := run.rollout.Resume(time.Now(), apiActor); err != nil {
		return nil, actErr(run, "resume", err)
	}
	return s.acted(ctx, run, false)
}

// abortAgent rolls back agent name's canary in progress, if any, and
// waits for it to end: the agent is being deleted.
func (s *canaryService) abortAgent(ctx context.Context, name string) {
	s.mu.Lock()
	var runs []*canaryRun
	for _, r := range s.active {
		if r.c.GetSpec().GetTargetKind() == targetAgent && r.c.GetSpec().GetTarget() == name {
			runs = append(runs, r)
		}
	}
	s.mu.Unlock()
	for _, r := range runs {
		_, _ = r.rollout.Rollback(time.Now(), apiActor, "the agent is being deleted")
		select {
		case <-r.done:
		case <-ctx.Done():
		}
	}
}

// reconcile ends the canaries a previous swarmd left in progress: their
// replicas stopped with it, and the agent's live version took all its
// traffic back when it restarted.
func (s *canaryService) reconcile(ctx context.Context) error {
	for c, err := range s.canaries.All(ctx) {
		if err != nil {
			return err
		}
		if canary.Phase(c.GetStatus().GetPhase()).Finished() {
			continue
		}
		_, err = s.canaries.Modify(ctx, c.GetMetadata().GetName(), nil, func(c *v1.Canary) error {
			reason := "swarmd stopped while this canary ran: its replicas stopped with it and the live version took all the traffic back; nothing was promoted. Start a new canary to try again."
			c.Status.Phase, c.Status.Reason, c.Status.EndTime = string(canary.PhaseFailed), reason, timestamppb.Now()
			c.Status.Weight, c.Status.BaselineWeight, c.Status.LiveWeight = 0, 0, 100
			c.Status.Decisions = append(c.Status.Decisions, &v1.CanaryDecision{Time: timestamppb.Now(), Action: string(canary.ActionRollback), By: canary.Actor, Reason: reason, Step: c.Status.GetStep()})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fillStatus copies a rollout snapshot onto a Canary's status.
func fillStatus(out *v1.CanaryStatus, st canary.Status) {
	out.Phase, out.Step, out.Reason, out.Passes = string(st.Phase), int32(st.Step), st.Reason, int32(st.Passes)
	out.LiveWeight, out.BaselineWeight, out.Weight = int32(st.Split.Live), int32(st.Split.Baseline), int32(st.Split.Canary)
	out.Schedule = out.Schedule[:0]
	for _, sg := range st.Schedule {
		out.Schedule = append(out.Schedule, &v1.CanaryStage{Weight: int32(sg.Weight), Analyses: int32(sg.Analyses)})
	}
	out.Decisions = out.Decisions[:0]
	for _, d := range st.Decisions {
		out.Decisions = append(out.Decisions, decisionProto(d))
	}
}

// decisionProto is a decision with its metric table.
func decisionProto(d canary.Decision) *v1.CanaryDecision {
	pd := &v1.CanaryDecision{
		Time: timestamppb.New(d.Time), Score: d.Score, Verdict: string(d.Verdict), Action: string(d.Action),
		Step: int32(d.Step), By: d.By, Reason: d.Reason, Weight: int32(d.After.Canary),
	}
	for _, m := range d.Result.Metrics {
		pd.Metrics = append(pd.Metrics, &v1.MetricResult{
			Name: m.Name, Classification: string(m.Classification), CiLow: m.CILow, CiHigh: m.CIHigh,
			Estimate: m.Estimate, Effect: m.Effect, ExperimentCount: int64(m.ExperimentCount), ControlCount: int64(m.ControlCount),
			ExperimentMean: m.ExperimentMean, ControlMean: m.ControlMean, Reason: m.Reason, Critical: m.Critical,
		})
	}
	return pd
}

// nextVersion is the version after v: v1 → v2; anything else gets "-next".
func nextVersion(v string) string {
	if n, err := strconv.Atoi(strings.TrimPrefix(v, "v")); err == nil && strings.HasPrefix(v, "v") {
		return "v" + strconv.Itoa(n+1)
	}
	return v + "-next"
}

// baselineName is the fresh baseline's version name beside live.
func baselineName(live string) string { return live + "-baseline" }

// newCanaryService builds the CanaryService of s.
func (s *Server) newCanaryService(agents *store.Repository[*v1.Agent]) *canaryService {
	return &canaryService{
		// Canaries are synced: their decisions are the record of a release.
		canaries:  store.NewRepository[*v1.Canary](s.store, kindCanary, true),
		agents:    agents,
		engine:    s.engine,
		runner:    s.agentRunner,
		agentEnv:  s.agentRunner.releaseEnv,
		persona:   s.registry,
		plugins:   s.pluginCanaries(),
		trust:     serverTrust{s},
		threshold: s.cfg.TrustThreshold,
		clock:     canary.SystemClock{},
		log:       s.log.With("component", "canary"),
		stopping:  s.stopping,
		wg:        &s.wg,
		active:    map[string]*canaryRun{},
	}
}

// serverTrust is the canaries' trust over swarmd's evidence log and its
// default scorer.
type serverTrust struct{ s *Server }

func (t serverTrust) Append(ctx context.Context, subject trust.Subject, es ...trust.Evidence) error {
	if t.s.trustLog == nil {
		return errors.New("swarmd has no trust log")
	}
	_, err := t.s.trustLog.Append(ctx, subject, es...)
	return err
}

func (t serverTrust) Admit(ctx context.Context, subject trust.Subject, threshold float64, now time.Time) (bool, trust.TrustScore, error) {
	svc, err := t.s.trustService(ctx, nil)
	if err != nil {
		return false, trust.TrustScore{}, err
	}
	return svc.Admit(ctx, subject, threshold, now)
}

// Carry copies from's evidence to to, each record marked with where it
// came from: a promoted candidate's record is its new version's.
func (t serverTrust) Carry(ctx context.Context, from, to trust.Subject) error {
	if t.s.trustLog == nil {
		return errors.New("swarmd has no trust log")
	}
	es, err := t.s.trustLog.List(ctx, from, 0)
	if err != nil || len(es) == 0 {
		return err
	}
	for i := range es {
		es[i].Seq = 0
		es[i].Source = truncate("carried from "+from.String()+": "+es[i].Source, 253)
	}
	_, err = t.s.trustLog.Append(ctx, to, es...)
	return err
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
