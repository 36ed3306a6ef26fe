package evolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/space"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
)

// maxRejectedGenerations pauses an evolution whose strategy proposes only
// invalid candidates this many generations in a row.
const maxRejectedGenerations = 3

// idRE is what a candidate id must look like (it names a store record).
var idRE = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]{0,127}$`)

// runner is the state of one evolution's loop.
type runner struct {
	gates    gates // trust gate and personality (gates.go)
	e        *Engine
	name     string
	evo      *v1.Evolution
	plan     *plan
	cands    *store.Repository[*v1.Candidate]
	ck       *v1.EvolutionCheckpoint
	sess     *plugin.Session
	pluginID string
	started  time.Time
	rejected int      // generations in a row with only rejected candidates
	out      outcomes // canary arm and outcome reports (outcomes.go)
}

// strategyError marks a failure of the strategy plugin: the evolution
// pauses with the reason and can continue with another version.
type strategyError struct{ err error }

func (s *strategyError) Error() string { return s.err.Error() }
func (s *strategyError) Unwrap() error { return s.err }

// runEvolution is a runner goroutine's body.
func (e *Engine) runEvolution(ctx context.Context, name string) {
	evo, err := e.evolutions.Get(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("evolution runner", "evolution", name, "err", err)
		}
		return
	}
	if p := evo.GetStatus().GetPhase(); p != PhasePending && p != PhaseRunning {
		return
	}
	pl, err := e.planFor(ctx, evo.GetSpec())
	if err != nil {
		e.finish(name, PhaseFailed, err.Error())
		return
	}
	r := &runner{e: e, name: name, evo: evo, plan: pl, cands: e.Candidates(name), started: e.now()}
	err = r.loop(ctx)
	if r.sess != nil {
		_ = r.sess.Close(context.Background())
	}
	var se *strategyError
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errPaused), errors.Is(cause, errCancelled):
		// The phase was set by Pause or Cancel.
	case ctx.Err() != nil:
		// swarmd is stopping: stay Running, resume at the next start.
	case err == nil:
		e.finish(name, PhaseSucceeded, "")
	case errors.As(err, &se):
		e.log.Warn("evolution paused: the strategy failed", "evolution", name, "err", err)
		e.finish(name, PhasePaused, err.Error()+"; resume it, possibly with another strategy version (swarmctl evolution resume "+name+" --strategy NAME@VERSION)")
	default:
		e.log.Error("evolution failed", "evolution", name, "err", err)
		e.finish(name, PhaseFailed, err.Error())
	}
}

// finish records a final (or paused) phase.
func (e *Engine) finish(name, phase, reason string) {
	evo, err := e.evolutions.Modify(context.Background(), name, nil, func(evo *v1.Evolution) error {
		cur := evo.GetStatus().GetPhase()
		if cur == PhaseCancelled || cur == PhasePaused && phase != PhasePaused {
			return errors.New("unchanged")
		}
		evo.Status.Phase, evo.Status.Reason = phase, reason
		if phase != PhasePaused {
			evo.Status.EndTime = timestamppb.New(e.now())
		}
		return nil
	})
	if err != nil && err.Error() != "unchanged" {
		e.log.Warn("record evolution phase", "evolution", name, "phase", phase, "err", err)
	}
	e.endOperation(evo)
}

// loop runs generations until the budget is spent, ctx ends or something
// fails.
func (r *runner) loop(ctx context.Context) error {
	if err := r.openCheckpoint(ctx); err != nil {
		return err
	}
	if err := r.openStrategy(ctx); err != nil {
		return err
	}
	if err := r.openGates(ctx); err != nil {
		return err
	}
	if err := r.evaluateBaseline(ctx); err != nil {
		return err
	}
	if _, err := r.e.evolutions.Modify(ctx, r.name, nil, func(evo *v1.Evolution) error {
		if evo.Status.GetPhase() != PhasePending && evo.Status.GetPhase() != PhaseRunning {
			return fmt.Errorf("evolution %s became %s", r.name, evo.Status.GetPhase())
		}
		evo.Status.Phase = PhaseRunning
		if evo.Status.StartTime == nil {
			evo.Status.StartTime = timestamppb.New(r.e.now())
		}
		return nil
	}); err != nil {
		return err
	}
	for {
		if r.spent() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(r.ck.GetPending()) == 0 {
			if err := r.propose(ctx); err != nil {
				return err
			}
		}
		if err := r.evaluate(ctx); err != nil {
			return err
		}
		if err := r.observe(ctx); err != nil {
			return err
		}
	}
}

// spent reports whether a budget limit is reached.
func (r *runner) spent() bool {
	b := r.plan.budget
	return (b.evaluations > 0 && r.ck.GetEvaluations() >= b.evaluations) ||
		(b.generations > 0 && r.ck.GetGeneration() >= b.generations) ||
		(b.wall > 0 && r.elapsed() >= b.wall)
}

func (r *runner) elapsed() time.Duration {
	return r.ck.GetElapsed().AsDuration() + r.e.now().Sub(r.started)
}

// openCheckpoint loads the checkpoint or starts one.
func (r *runner) openCheckpoint(ctx context.Context) error {
	ck, err := r.e.checkpoints.Get(ctx, r.name)
	switch {
	case err == nil:
		r.ck = ck
	case errors.Is(err, store.ErrNotFound):
		r.ck = &v1.EvolutionCheckpoint{Metadata: &v1.ObjectMeta{Name: r.name}}
	default:
		return err
	}
	return nil
}

// saveCheckpoint writes the checkpoint, synced: the commit point of a step.
func (r *runner) saveCheckpoint(ctx context.Context) error {
	defer r.time("persist", r.e.now())
	r.ck.Elapsed = durationpb.New(r.elapsed())
	r.started = r.e.now()
	ck := r.ck
	fresh := func() *v1.EvolutionCheckpoint { return &v1.EvolutionCheckpoint{Metadata: &v1.ObjectMeta{Name: r.name}} }
	out, err := r.e.checkpoints.Modify(ctx, r.name, fresh, func(cur *v1.EvolutionCheckpoint) error {
		meta := cur.GetMetadata()
		*cur = v1.EvolutionCheckpoint{Metadata: meta, Generation: ck.GetGeneration(), StrategyVersion: ck.GetStrategyVersion(),
			Snapshot: ck.GetSnapshot(), Pending: ck.GetPending(), Evaluations: ck.GetEvaluations(), Proposed: ck.GetProposed(), Elapsed: ck.GetElapsed()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save the checkpoint: %w", err)
	}
	r.ck = out
	return nil
}

// openStrategy loads the strategy and brings a session to the checkpoint's
// state: init for a new run, restore for a resumed one, and — when the
// snapshot does not restore (another version) — init and a replay of every
// evaluated candidate.
func (r *runner) openStrategy(ctx context.Context) error {
	ref := r.evo.GetSpec().GetStrategy()
	p, version, err := r.openPlugin(ctx, ref, len(r.ck.GetSnapshot()) == 0)
	if err != nil {
		return fmt.Errorf("strategy %s: %w", ref.GetName(), err)
	}
	r.pluginID = ref.GetName() + "@" + version
	sess, err := p.Session(ctx)
	if err != nil {
		return &strategyError{fmt.Errorf("strategy %s: open a session: %w", r.pluginID, err)}
	}
	r.sess = sess
	if len(r.ck.GetSnapshot()) > 0 {
		if _, err := r.call(ctx, "restore", r.ck.GetSnapshot()); err == nil {
			if r.ck.GetStrategyVersion() != version {
				r.e.log.Info("strategy version changed; its snapshot restored", "evolution", r.name, "from", r.ck.GetStrategyVersion(), "to", version)
				r.ck.StrategyVersion = version
			}
			return nil
		} else if r.ck.GetStrategyVersion() == version {
			return err
		}
		r.e.log.Info("strategy version changed and the snapshot does not restore: init and replay", "evolution", r.name, "to", version)
		if err := r.init(ctx); err != nil {
			return err
		}
		if err := r.replay(ctx); err != nil {
			return err
		}
	} else if err := r.init(ctx); err != nil {
		return err
	}
	r.ck.StrategyVersion = version
	snap, err := r.call(ctx, "snapshot", []byte(`{"version":1}`))
	if err != nil {
		return err
	}
	r.ck.Snapshot = snap
	return r.saveCheckpoint(ctx)
}

func (r *runner) init(ctx context.Context) error {
	spaceJSON, err := marshalProto(r.plan.space)
	if err != nil {
		return err
	}
	var objectives []map[string]string
	for _, o := range r.plan.objectives {
		dir := "MINIMIZE"
		if o.Maximize {
			dir = "MAXIMIZE"
		}
		objectives = append(objectives, map[string]string{"name": o.Name, "direction": dir})
	}
	req := map[string]any{"version": 1, "space": json.RawMessage(spaceJSON), "objectives": objectives,
		"seed": strconv.FormatUint(r.evo.GetSpec().GetSeed(), 10)}
	if cfg := r.evo.GetSpec().GetStrategy().GetConfig(); cfg != nil {
		b, err := cfg.MarshalJSON()
		if err != nil {
			return err
		}
		req["config"] = json.RawMessage(b)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, "init", b)
	return err
}

// replay observes every evaluated candidate again, generation by
// generation, so that a fresh strategy instance learns the archive.
func (r *runner) replay(ctx context.Context) error {
	all, err := r.listCandidates(ctx)
	if err != nil {
		return err
	}
	byGen := map[int32][]*v1.Candidate{}
	var gens []int32
	for _, c := range all {
		if c.GetStatus().GetPhase() == CandidateProposed || c.GetMetadata().GetName() == BaselineCandidate {
			continue
		}
		g := c.GetSpec().GetGeneration()
		if _, ok := byGen[g]; !ok {
			gens = append(gens, g)
		}
		byGen[g] = append(byGen[g], c)
	}
	for _, g := range sortInt32(gens) {
		if err := r.tell(ctx, byGen[g]); err != nil {
			return err
		}
	}
	return nil
}

// call runs one strategy operation; a failure is a strategyError.
func (r *runner) call(ctx context.Context, op string, req []byte) (json.RawMessage, error) {
	defer r.time("strategy", r.e.now())
	start := r.e.now()
	res, err := r.sess.Call(ctx, op, req)
	r.reportCall(ctx, op, start, err)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &strategyError{fmt.Errorf("strategy %s failed in %s: %w", r.pluginID, op, err)}
	}
	return res, nil
}

// proposal is one candidate as the strategy proposes it.
type proposal struct {
	ID       string         `json:"id"`
	Genome   map[string]any `json:"genome"`
	Parents  []string       `json:"parents"`
	Operator string         `json:"operator"`
}

// propose asks for the next batch, checks and stores it, then commits the
// checkpoint with the batch pending.
func (r *runner) propose(ctx context.Context) error {
	n := r.plan.budget.batch
	if b := r.plan.budget.evaluations; b > 0 {
		n = int(min(int64(n), b-r.ck.GetEvaluations()))
	}
	res, err := r.call(ctx, "propose", r.proposeRequest(ctx, n))
	if err != nil {
		return err
	}
	var pr struct {
		Candidates []proposal `json:"candidates"`
	}
	if err := json.Unmarshal(res, &pr); err != nil {
		r.evidence("invalid_output", fmt.Sprintf("propose: the result does not decode: %v", err))
		return &strategyError{fmt.Errorf("strategy %s: propose: the result does not decode: %w", r.pluginID, err)}
	}
	if len(pr.Candidates) == 0 || len(pr.Candidates) > n {
		r.evidence("invalid_output", fmt.Sprintf("propose: asked for %d candidates, got %d", n, len(pr.Candidates)))
		return &strategyError{fmt.Errorf("strategy %s: propose: asked for %d candidates, got %d", r.pluginID, n, len(pr.Candidates))}
	}
	gen := r.ck.GetGeneration()
	var pending []string
	seen := map[string]bool{}
	valid := 0
	for i, c := range pr.Candidates {
		reason := ""
		switch {
		case !idRE.MatchString(c.ID):
			reason = fmt.Sprintf("candidate %d: id %q is not 1-128 letters, digits, '-', '_' or '.'", i, c.ID)
			c.ID = fmt.Sprintf("g%05d-bad%03d", gen, i)
		case seen[c.ID]:
			reason = fmt.Sprintf("candidate id %q appears twice in the batch", c.ID)
			c.ID = fmt.Sprintf("g%05d-dup%03d", gen, i)
		default:
			if old, err := r.cands.Get(ctx, c.ID); err == nil && old.GetSpec().GetGeneration() != gen {
				reason = fmt.Sprintf("candidate id %q was already used in generation %d", c.ID, old.GetSpec().GetGeneration())
				c.ID = fmt.Sprintf("g%05d-dup%03d", gen, i)
			}
		}
		if reason == "" {
			if err := space.CheckGenome(r.plan.space, c.Genome); err != nil {
				reason = "the genome is outside the search space: " + err.Error()
			}
		}
		seen[c.ID] = true
		if reason != "" {
			r.evidence("invalid_output", "propose: "+reason)
		} else {
			valid++
		}
		if err := r.storeProposal(ctx, gen, c, reason); err != nil {
			return err
		}
		pending = append(pending, c.ID)
	}
	if valid == 0 {
		r.rejected++
		if r.rejected >= maxRejectedGenerations {
			return &strategyError{fmt.Errorf("strategy %s proposed only invalid candidates for %d generations in a row (see swarmctl evolution archive %s)", r.pluginID, r.rejected, r.name)}
		}
	} else {
		r.rejected = 0
	}
	snap, err := r.call(ctx, "snapshot", []byte(`{"version":1}`))
	if err != nil {
		return err
	}
	r.ck.Snapshot, r.ck.Pending = snap, pending
	r.ck.Proposed += int64(len(pending))
	return r.saveCheckpoint(ctx)
}

// storeProposal writes a proposed (or rejected) candidate. A candidate
// written before a crash is overwritten by the same proposal on resume.
func (r *runner) storeProposal(ctx context.Context, gen int32, c proposal, reason string) error {
	var genome *structpb.Struct
	if reason == "" {
		g, err := structpb.NewStruct(c.Genome)
		if err != nil {
			reason = "the genome is not representable: " + err.Error()
		} else {
			genome = g
		}
	}
	phase := CandidateProposed
	if reason != "" {
		phase = CandidateRejected
	}
	fresh := func() *v1.Candidate {
		return &v1.Candidate{Metadata: &v1.ObjectMeta{Name: c.ID, Labels: map[string]string{"evolution": r.name}}}
	}
	_, err := r.cands.Modify(ctx, c.ID, fresh, func(cand *v1.Candidate) error {
		cand.Spec = &v1.CandidateSpec{Evolution: r.name, Generation: gen, Genome: genome, Parents: c.Parents, Operator: c.Operator}
		cand.Status = &v1.CandidateStatus{Phase: phase, Reason: reason}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store candidate %s: %w", c.ID, err)
	}
	return nil
}

// evaluate runs the pending candidates that have no result yet, at most
// parallelism at once, writing each result as it comes.
func (r *runner) evaluate(ctx context.Context) error {
	defer r.time("evaluate", r.e.now())
	var todo []*v1.Candidate
	for _, id := range r.ck.GetPending() {
		c, err := r.cands.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("pending candidate %s: %w", id, err)
		}
		if c.GetStatus().GetPhase() == CandidateProposed {
			todo = append(todo, c)
		}
	}
	sem := make(chan struct{}, r.plan.budget.parallelism)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, c := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.evaluateOne(ctx, c); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

// evaluateOne runs a candidate through the stages and stores the result.
func (r *runner) evaluateOne(ctx context.Context, c *v1.Candidate) error {
	genome := c.GetSpec().GetGenome().AsMap()
	seed := candidateSeed(r.evo.GetSpec().GetSeed(), c.GetMetadata().GetName())
	primary := r.plan.objectives[0]
	var outcomes []suite.Outcome
	var results []*v1.TaskResult
	stage := ""
	var scores map[string]float64
	failed, reason := false, ""
	for i, tasks := range r.plan.stageTasks {
		for _, t := range tasks {
			o := r.plan.suite.Evaluate(ctx, genome, t, seed)
			if ctx.Err() != nil {
				return nil // not stored: evaluated again on resume
			}
			outcomes = append(outcomes, o)
			results = append(results, &v1.TaskResult{Task: t.Name, Scores: o.Scores, Failed: o.Failed, Reason: o.Reason, Duration: durationpb.New(o.Duration)})
		}
		if len(r.plan.stages) > 0 {
			stage = r.plan.stages[i].GetName()
		}
		scores, failed, reason = suite.Aggregate(outcomes, r.plan.objectives)
		if failed || i == len(r.plan.stageTasks)-1 {
			break
		}
		if th := r.plan.stages[i].GetThreshold(); !passes(primary, scores[primary.Name], th) {
			break
		}
	}
	phase := CandidateEvaluated
	if failed {
		phase = CandidateFailed
	}
	// Store the result even if the run is being stopped: it was paid for.
	_, err := r.cands.Modify(context.WithoutCancel(ctx), c.GetMetadata().GetName(), nil, func(cand *v1.Candidate) error {
		cand.Status = &v1.CandidateStatus{Phase: phase, Scores: scores, TaskResults: results, Stage: stage, Reason: reason}
		return nil
	})
	return err
}

// baseliner is a suite with an incumbent design to measure against.
type baseliner interface {
	Baseline() map[string]any
}

// BaselineCandidate names the candidate that holds the suite's incumbent
// design, evaluated once before the first generation. The strategy never
// sees it and it does not count against the budget.
const BaselineCandidate = "baseline"

// evaluateBaseline evaluates the suite's incumbent design once, on every
// task, when the suite has one and the genome fits the evolution's space.
func (r *runner) evaluateBaseline(ctx context.Context) error {
	b, ok := r.plan.suite.(baseliner)
	if !ok {
		return nil
	}
	if c, err := r.cands.Get(ctx, BaselineCandidate); err == nil && c.GetStatus().GetPhase() != CandidateProposed {
		return nil
	}
	genome := b.Baseline()
	if err := space.CheckGenome(r.plan.space, genome); err != nil {
		return nil // another space: nothing to compare with
	}
	if err := r.storeProposal(ctx, 0, proposal{ID: BaselineCandidate, Genome: genome, Operator: "baseline"}, ""); err != nil {
		return err
	}
	c, err := r.cands.Get(ctx, BaselineCandidate)
	if err != nil {
		return err
	}
	full := *r.plan
	full.stages, full.stageTasks = nil, [][]suite.Task{r.plan.suite.Tasks()}
	return (&runner{e: r.e, name: r.name, evo: r.evo, plan: &full, cands: r.cands}).evaluateOne(ctx, c)
}

// candidateSeed derives a candidate's evaluation seed from the run's.
func candidateSeed(seed uint64, id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatUint(seed, 10) + "/" + id))
	return h.Sum64() >> 1
}

// observe tells the strategy the batch's results, then commits the next
// generation.
func (r *runner) observe(ctx context.Context) error {
	var batch []*v1.Candidate
	evaluated := int64(0)
	for _, id := range r.ck.GetPending() {
		c, err := r.cands.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("pending candidate %s: %w", id, err)
		}
		if c.GetStatus().GetPhase() == CandidateProposed {
			return fmt.Errorf("candidate %s was not evaluated", id)
		}
		if c.GetStatus().GetPhase() != CandidateRejected {
			evaluated++
		}
		batch = append(batch, c)
	}
	if err := r.gateBatch(ctx, batch); err != nil {
		return err
	}
	if err := r.tell(ctx, batch); err != nil {
		return err
	}
	snap, err := r.call(ctx, "snapshot", []byte(`{"version":1}`))
	if err != nil {
		return err
	}
	r.ck.Snapshot, r.ck.Pending = snap, nil
	r.ck.Generation++
	r.ck.Evaluations += evaluated
	if err := r.saveCheckpoint(ctx); err != nil {
		return err
	}
	r.reportGeneration(batch, evaluated)
	return r.updateStatus(ctx, batch)
}

// result is one entry of an ObserveRequest.
type result struct {
	ID       string             `json:"id"`
	Scores   map[string]float64 `json:"scores"`
	Failed   bool               `json:"failed"`
	Reason   string             `json:"reason"`
	Tasks    []taskScore        `json:"tasks,omitempty"`
	Stage    string             `json:"stage,omitempty"`
	Complete bool               `json:"complete,omitempty"`
}

type taskScore struct {
	Task   string             `json:"task"`
	Scores map[string]float64 `json:"scores"`
	Failed bool               `json:"failed,omitempty"`
}

// tell sends one observe call for batch.
func (r *runner) tell(ctx context.Context, batch []*v1.Candidate) error {
	req := struct {
		Version int      `json:"version"`
		Results []result `json:"results"`
	}{Version: 1}
	lastStage := ""
	if n := len(r.plan.stages); n > 0 {
		lastStage = r.plan.stages[n-1].GetName()
	}
	for _, c := range batch {
		st := c.GetStatus()
		res := result{ID: c.GetMetadata().GetName(), Scores: st.GetScores(), Stage: st.GetStage(),
			Failed: st.GetPhase() != CandidateEvaluated, Reason: st.GetReason()}
		if res.Scores == nil {
			res.Scores = map[string]float64{}
		}
		if st.GetPhase() == CandidateRejected {
			res.Reason = "rejected: " + st.GetReason()
		}
		res.Complete = st.GetPhase() == CandidateEvaluated && st.GetStage() == lastStage
		if Untrusted(c) { // the trust gate: never a parent
			res.Failed, res.Complete = true, false
		}
		if len(st.GetTaskResults()) > 1 { // one task's scores are the scores
			for _, t := range st.GetTaskResults() {
				res.Tasks = append(res.Tasks, taskScore{Task: t.GetTask(), Scores: t.GetScores(), Failed: t.GetFailed()})
			}
		}
		req.Results = append(req.Results, res)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = r.call(ctx, "observe", b)
	return err
}

// updateStatus records progress and the best candidate so far.
func (r *runner) updateStatus(ctx context.Context, batch []*v1.Candidate) error {
	defer r.time("persist", r.e.now())
	primary := r.plan.objectives[0]
	evo, err := r.e.evolutions.Modify(ctx, r.name, nil, func(evo *v1.Evolution) error {
		st := evo.Status
		st.Generation, st.Evaluations = r.ck.GetGeneration(), r.ck.GetEvaluations()
		r.gateConditions(st)
		for _, c := range batch {
			if c.GetStatus().GetPhase() != CandidateEvaluated || !r.complete(c) || Untrusted(c) {
				continue
			}
			if _, ok := st.GetBestScores()[primary.Name]; st.GetBestCandidate() == "" || !ok ||
				suite.BetterScores(r.plan.objectives, c.GetStatus().GetScores(), st.GetBestScores()) {
				st.BestCandidate, st.BestScores = c.GetMetadata().GetName(), c.GetStatus().GetScores()
			}
		}
		return nil
	})
	if err == nil && evo.GetStatus().GetGeneration()%10 == 1 {
		r.e.endOperation(evo) // progress, now and then
	}
	return err
}

// complete reports whether a candidate went through every stage, so its
// scores cover the whole suite and compare with the best.
func (r *runner) complete(c *v1.Candidate) bool {
	n := len(r.plan.stages)
	return n == 0 || c.GetStatus().GetStage() == r.plan.stages[n-1].GetName()
}

// time reports a step's duration to Options.Timings.
func (r *runner) time(step string, start time.Time) {
	if f := r.e.opts.Timings; f != nil {
		f(step, r.e.now().Sub(start))
	}
}

// evidence records a fact against the strategy version.
func (r *runner) evidence(kind, detail string) {
	r.e.opts.Plugins.RecordEvidence(r.pluginID, plugin.Evidence{Time: r.e.now(), Kind: kind, Detail: "evolution " + r.name + ": " + detail})
}

// listCandidates returns every candidate of the evolution.
func (r *runner) listCandidates(ctx context.Context) ([]*v1.Candidate, error) {
	var out []*v1.Candidate
	for obj, err := range r.cands.All(ctx) {
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}
