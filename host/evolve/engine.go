// Package evolve runs evolutions: an ask/tell loop between a strategy
// plugin and a suite, with every evaluation and the strategy's state
// persisted before the next step so that a daemon killed at any point
// resumes where it was, losing nothing and evaluating nothing twice.
package evolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/resources"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
)

// Phases of an evolution.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhasePaused    = "Paused"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
	PhaseCancelled = "Cancelled"
)

// Phases of a candidate.
const (
	CandidateProposed  = "Proposed"
	CandidateEvaluated = "Evaluated"
	CandidateFailed    = "Failed"
	CandidateRejected  = "Rejected"
)

// Store kinds.
const (
	KindEvolutions  = "evolution"
	KindCheckpoints = "evolution-checkpoint"
	kindCandidates  = "candidate." // + evolution name
)

// Plugins opens strategy plugins and records evidence against them
// (host/registry implements it).
type Plugins interface {
	Open(ctx context.Context, name, version string, kind plugin.Kind) (*plugin.Plugin, string, error)
	RecordEvidence(id string, e plugin.Evidence)
}

// Suites resolves suite names (suite.Catalog implements it); opts carry
// the evolution's per-candidate limits.
type Suites interface {
	Lookup(name string, opts suite.Options) (suite.Suite, error)
}

// Options configure an Engine.
type Options struct {
	Store   *store.Store
	Plugins Plugins
	Suites  Suites
	// Agents, if set, provides agent templates' search spaces.
	Agents *store.Repository[*v1.Agent]
	// Operations, if set, gets one Operation per evolution
	// ("evolution-NAME"), done when the evolution ends.
	Operations *store.Repository[*v1.Operation]
	Logger     *slog.Logger
	// Timings, if set, is told how long each step of a generation took:
	// step is "strategy" (plugin calls), "evaluate" (the batch's
	// evaluations, wall time) or "persist" (checkpoint and status writes).
	// It must be safe for concurrent use.
	Timings func(step string, d time.Duration)
	// Evidence, if set, is the trust log each evaluated candidate's task
	// results, crashes, OOM kills and timeouts are recorded in (gates.go).
	Evidence Evidence
	// Trust, if set, scores candidates for the trust gate (gates.go);
	// TrustThreshold is the gate of evolutions whose spec.trust_threshold
	// is 0 (swarmd's trust-threshold; 0: none).
	Trust          TrustServices
	TrustThreshold float64
	// Router, if set, puts new evolutions on the arms of plugin canaries;
	// Outcomes, if set, is told every strategy call's latency and failure
	// and every generation's gain (outcomes.go).
	Router   Router
	Outcomes Outcomes
}

// Engine runs evolutions. Its methods are safe for concurrent use.
type Engine struct {
	opts        Options
	log         *slog.Logger
	evolutions  *store.Repository[*v1.Evolution]
	checkpoints *store.Repository[*v1.EvolutionCheckpoint]
	now         func() time.Time

	mu      sync.Mutex
	runs    map[string]*run // by evolution name
	closed  bool
	wg      sync.WaitGroup
	stopped context.Context
	stop    context.CancelFunc
}

// run is one evolution's runner goroutine.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Causes a runner stops for.
var (
	errPaused    = errors.New("paused")
	errCancelled = errors.New("cancelled")
)

// New returns an engine over opts.Store; Start resumes the evolutions a
// previous daemon left running.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		opts:        opts,
		log:         opts.Logger,
		evolutions:  store.NewRepository[*v1.Evolution](opts.Store, KindEvolutions, true),
		checkpoints: store.NewRepository[*v1.EvolutionCheckpoint](opts.Store, KindCheckpoints, true),
		now:         time.Now,
		runs:        map[string]*run{},
		stopped:     ctx,
		stop:        cancel,
	}
}

// Evolutions is the repository of Evolution records.
func (e *Engine) Evolutions() *store.Repository[*v1.Evolution] { return e.evolutions }

// Candidates is the repository of one evolution's candidates.
func (e *Engine) Candidates(evolution string) *store.Repository[*v1.Candidate] {
	// Not synced per write: the checkpoint's synced write after them
	// flushes them too (one badger log, written in order).
	return store.NewRepository[*v1.Candidate](e.opts.Store, kindCandidates+evolution, false)
}

// Start resumes every evolution that was Pending or Running.
func (e *Engine) Start(ctx context.Context) error {
	for evo, err := range e.evolutions.All(ctx) {
		if err != nil {
			return err
		}
		switch evo.GetStatus().GetPhase() {
		case PhasePending, PhaseRunning:
			e.log.Info("resuming evolution", "evolution", evo.GetMetadata().GetName(), "generation", evo.GetStatus().GetGeneration())
			e.launch(evo.GetMetadata().GetName())
		}
	}
	return nil
}

// Close stops every runner after its current evaluation; their
// evolutions stay Running and resume at the next Start.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.stop()
	e.wg.Wait()
}

// Wait blocks until the named evolution's runner has stopped (tests).
func (e *Engine) Wait(name string) {
	e.mu.Lock()
	r := e.runs[name]
	e.mu.Unlock()
	if r != nil {
		<-r.done
	}
}

// Create checks and stores a new evolution (phase Pending) and starts it.
// A create with the same request id, or of the same name with the same
// spec, returns the stored evolution.
func (e *Engine) Create(ctx context.Context, evo *v1.Evolution, requestID string) (*v1.Evolution, error) {
	pl, err := e.planFor(ctx, evo.GetSpec())
	if err != nil {
		return nil, err
	}
	// Record the objectives the run optimises, defaults included, so that
	// clients know the primary one and its direction.
	evo.Spec.Objectives = nil
	for _, o := range pl.objectives {
		dir := v1.Objective_MINIMIZE
		if o.Maximize {
			dir = v1.Objective_MAXIMIZE
		}
		evo.Spec.Objectives = append(evo.Spec.Objectives, &v1.Objective{Name: o.Name, Direction: dir})
	}
	ref := evo.GetSpec().GetStrategy()
	if _, _, err := e.opts.Plugins.Open(ctx, ref.GetName(), ref.GetVersion(), plugin.KindStrategy); err != nil {
		return nil, fieldErr("spec.strategy", "%v", err)
	}
	if err := e.checkGates(ctx, evo.GetSpec()); err != nil {
		return nil, err
	}
	evo.Status = &v1.EvolutionStatus{Phase: PhasePending}
	out, _, err := e.evolutions.Create(ctx, evo, requestID)
	if err != nil {
		return nil, err
	}
	if err := e.startOperation(ctx, out.GetMetadata().GetName()); err != nil {
		return nil, err
	}
	if out.GetStatus().GetPhase() == PhasePending {
		e.launch(out.GetMetadata().GetName())
	}
	return out, nil
}

// planFor checks a spec: the suite, the candidates' limits, the agent's
// space, the budget.
func (e *Engine) planFor(ctx context.Context, spec *v1.EvolutionSpec) (*plan, error) {
	if spec.GetSuite() == "" {
		return nil, fieldErr("spec.suite", "is required: name a suite, e.g. tsplib or bbob-f8-d10")
	}
	opts, err := suiteOptions(spec)
	if err != nil {
		return nil, err
	}
	st, err := e.opts.Suites.Lookup(spec.GetSuite(), opts)
	if err != nil {
		return nil, fieldErr("spec.suite", "%v", err)
	}
	var agentSpace *v1.SearchSpace
	if name := spec.GetAgent(); name != "" {
		if e.opts.Agents == nil {
			return nil, fieldErr("spec.agent", "agent templates are not available here")
		}
		a, err := e.opts.Agents.Get(ctx, name)
		if err != nil {
			return nil, fieldErr("spec.agent", "%v", err)
		}
		agentSpace = a.GetSpec().GetSearchSpace()
	}
	return check(spec, st, agentSpace)
}

// suiteOptions checks spec.candidate_resources and turns them into the
// suite's options: cpu_millis as cores, memory_bytes, pids, tier_bytes.
func suiteOptions(spec *v1.EvolutionSpec) (suite.Options, error) {
	r := spec.GetCandidateResources()
	if err := resources.Check(r); err != nil {
		var fe *resources.FieldError
		if errors.As(err, &fe) {
			return suite.Options{}, fieldErr("spec.candidate_resources."+fe.Field, "%s", fe.Msg)
		}
		return suite.Options{}, fieldErr("spec.candidate_resources", "%v", err)
	}
	return suite.Options{Limits: resources.Limits(r)}, nil
}

// Pause stops the evolution after its current generation's evaluations
// are persisted; Resume continues it.
func (e *Engine) Pause(ctx context.Context, name string) (*v1.Evolution, error) {
	evo, err := e.setPhase(ctx, name, PhasePaused, "paused by request", PhasePending, PhaseRunning)
	if err != nil {
		return nil, err
	}
	e.halt(name, errPaused)
	return evo, nil
}

// Cancel ends the evolution for good; what it found stays readable.
func (e *Engine) Cancel(ctx context.Context, name string) (*v1.Evolution, error) {
	evo, err := e.setPhase(ctx, name, PhaseCancelled, "cancelled by request", PhasePending, PhaseRunning, PhasePaused)
	if err != nil {
		return nil, err
	}
	e.halt(name, errCancelled)
	e.endOperation(evo)
	return evo, nil
}

// Resume continues a paused evolution, with another strategy version when
// strategy is set (name must stay the same or change deliberately).
func (e *Engine) Resume(ctx context.Context, name string, strategy *v1.PluginRef) (*v1.Evolution, error) {
	evo, err := e.evolutions.Modify(ctx, name, nil, func(evo *v1.Evolution) error {
		if evo.GetStatus().GetPhase() != PhasePaused {
			return fmt.Errorf("%w: evolution %s is %s; only a Paused evolution can be resumed", ErrState, name, evo.GetStatus().GetPhase())
		}
		if strategy != nil && strategy.GetName() != "" {
			if strategy.GetConfig() == nil {
				strategy.Config = evo.GetSpec().GetStrategy().GetConfig()
			}
			evo.Spec.Strategy = strategy
		}
		evo.Status.Phase, evo.Status.Reason = PhaseRunning, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.launch(name)
	return evo, nil
}

// OperationName is the name of an evolution's Operation.
func OperationName(evolution string) string { return "evolution-" + evolution }

// startOperation records the Operation that tracks an evolution.
func (e *Engine) startOperation(ctx context.Context, name string) error {
	if e.opts.Operations == nil {
		return nil
	}
	_, err := e.opts.Operations.Modify(ctx, OperationName(name), func() *v1.Operation {
		return &v1.Operation{Metadata: &v1.ObjectMeta{Name: OperationName(name)}, Kind: "Evolution", Target: "evolutions/" + name, Message: "pending"}
	}, func(*v1.Operation) error { return nil })
	return err
}

// endOperation marks the evolution's Operation done with the evolution as
// its response (or progress when it is not done).
func (e *Engine) endOperation(evo *v1.Evolution) {
	if e.opts.Operations == nil || evo == nil {
		return
	}
	st := evo.GetStatus()
	_, err := e.opts.Operations.Modify(context.Background(), OperationName(evo.GetMetadata().GetName()), nil, func(op *v1.Operation) error {
		op.Message = st.GetPhase()
		if st.GetReason() != "" {
			op.Message += ": " + st.GetReason()
		}
		if b := evo.GetSpec().GetBudget().GetMaxEvaluations(); b > 0 {
			op.Progress = min(1, float64(st.GetEvaluations())/float64(b))
		}
		switch st.GetPhase() {
		case PhaseSucceeded, PhaseFailed, PhaseCancelled:
			op.Done, op.Progress = true, 1
			resp, err := anypb.New(evo)
			if err != nil {
				return err
			}
			op.Result = &v1.Operation_Response{Response: resp}
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.log.Warn("update the evolution's operation", "evolution", evo.GetMetadata().GetName(), "err", err)
	}
}

// ErrState: the evolution is in the wrong phase for the request.
var ErrState = errors.New("evolution is in the wrong phase")

func (e *Engine) setPhase(ctx context.Context, name, phase, reason string, from ...string) (*v1.Evolution, error) {
	return e.evolutions.Modify(ctx, name, nil, func(evo *v1.Evolution) error {
		cur := evo.GetStatus().GetPhase()
		for _, f := range from {
			if cur == f {
				evo.Status.Phase, evo.Status.Reason = phase, reason
				if phase == PhaseCancelled {
					evo.Status.EndTime = timestamppb.New(e.now())
				}
				return nil
			}
		}
		return fmt.Errorf("%w: evolution %s is %s", ErrState, name, cur)
	})
}

// launch starts the evolution's runner unless one is running.
func (e *Engine) launch(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if r, ok := e.runs[name]; ok {
		select {
		case <-r.done:
		default:
			return
		}
	}
	ctx, cancel := context.WithCancelCause(e.stopped)
	r := &run{cancel: cancel, done: make(chan struct{})}
	e.runs[name] = r
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(r.done)
		defer cancel(nil)
		e.runEvolution(ctx, name)
	}()
}

// halt stops a runner with cause and waits for it.
func (e *Engine) halt(name string, cause error) {
	e.mu.Lock()
	r := e.runs[name]
	e.mu.Unlock()
	if r != nil {
		r.cancel(cause)
		<-r.done
	}
}
