package evolve

import (
	"fmt"
	"math"
	"strings"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/space"
	"github.com/stratoswarm/stratoswarm/host/suite"
)

// Budget bounds and defaults.
const (
	MaxEvaluations     = 10_000_000
	MaxGenerations     = 1_000_000
	MaxParallelism     = 256
	MaxBatchSize       = 1024
	MaxWallTime        = 30 * 24 * time.Hour
	DefaultBatchSize   = 8
	DefaultParallelism = 2
)

// FieldError is a problem with one field of an Evolution, named by its
// proto path (spec.budget.max_evaluations).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// plan is a checked Evolution: what the runner needs, with defaults filled.
type plan struct {
	space      *v1.SearchSpace
	suite      suite.Suite
	objectives []suite.Objective // primary first
	stages     []*v1.Stage
	stageTasks [][]suite.Task
	budget     budget
}

type budget struct {
	evaluations int64
	generations int32
	parallelism int
	batch       int
	wall        time.Duration
}

// check validates spec against the suite (already looked up) and an agent
// template's search space (nil without an agent), and fills the defaults.
func check(spec *v1.EvolutionSpec, st suite.Suite, agentSpace *v1.SearchSpace) (*plan, error) {
	p := &plan{suite: st}
	if spec.GetStrategy().GetName() == "" {
		return nil, fieldErr("spec.strategy.name", "is required: name a strategy plugin (swarmctl plugin ls), e.g. random")
	}
	switch {
	case spec.GetSearchSpace() != nil && len(spec.GetSearchSpace().GetParameters()) > 0:
		p.space = spec.GetSearchSpace()
	case agentSpace != nil:
		p.space = agentSpace
	default:
		p.space = st.Space()
	}
	if p.space == nil {
		return nil, fieldErr("spec.search_space", "is required: suite %s has no genome space of its own; give a search_space or an agent that carries one", st.Name())
	}
	if err := space.Check(p.space); err != nil {
		return nil, fieldErr("spec.search_space", "%v", err)
	}
	known := map[string]suite.Objective{}
	for _, o := range st.Objectives() {
		known[o.Name] = o
	}
	for i, o := range spec.GetObjectives() {
		f := fmt.Sprintf("spec.objectives[%d]", i)
		base, ok := known[o.GetName()]
		if !ok {
			return nil, fieldErr(f+".name", "%q is not an objective of suite %s (it reports %s)", o.GetName(), st.Name(), objectiveNames(st.Objectives()))
		}
		switch o.GetDirection() {
		case v1.Objective_MAXIMIZE:
			base.Maximize = true
		case v1.Objective_MINIMIZE:
			base.Maximize = false
		}
		p.objectives = append(p.objectives, base)
	}
	if len(p.objectives) == 0 {
		p.objectives = st.Objectives()
	}
	b := spec.GetBudget()
	p.budget = budget{
		evaluations: b.GetMaxEvaluations(),
		generations: b.GetMaxGenerations(),
		parallelism: int(b.GetParallelism()),
		batch:       int(b.GetBatchSize()),
		wall:        b.GetWallTime().AsDuration(),
	}
	switch {
	case p.budget.evaluations == 0 && p.budget.generations == 0 && p.budget.wall == 0:
		return nil, fieldErr("spec.budget", "sets no limit: give max_evaluations, max_generations or wall_time")
	case p.budget.evaluations < 0 || p.budget.evaluations > MaxEvaluations:
		return nil, fieldErr("spec.budget.max_evaluations", "%d is outside 0..%d (0: no limit)", p.budget.evaluations, MaxEvaluations)
	case p.budget.generations < 0 || p.budget.generations > MaxGenerations:
		return nil, fieldErr("spec.budget.max_generations", "%d is outside 0..%d (0: no limit)", p.budget.generations, MaxGenerations)
	case p.budget.parallelism < 0 || p.budget.parallelism > MaxParallelism:
		return nil, fieldErr("spec.budget.parallelism", "%d is outside 1..%d", p.budget.parallelism, MaxParallelism)
	case p.budget.batch < 0 || p.budget.batch > MaxBatchSize:
		return nil, fieldErr("spec.budget.batch_size", "%d is outside 1..%d", p.budget.batch, MaxBatchSize)
	case p.budget.wall < 0 || p.budget.wall > MaxWallTime:
		return nil, fieldErr("spec.budget.wall_time", "%v is outside 0..%v (0: no limit)", p.budget.wall, MaxWallTime)
	}
	if p.budget.parallelism == 0 {
		p.budget.parallelism = DefaultParallelism
	}
	if p.budget.batch == 0 {
		p.budget.batch = DefaultBatchSize
	}
	var subsets []string
	for i, s := range spec.GetStages() {
		f := fmt.Sprintf("spec.stages[%d]", i)
		if math.IsNaN(s.GetThreshold()) || math.IsInf(s.GetThreshold(), 0) {
			return nil, fieldErr(f+".threshold", "must be a finite number")
		}
		subsets = append(subsets, s.GetSubset())
	}
	tasks, err := suite.StageTasks(st, subsets)
	if err != nil {
		return nil, fieldErr("spec.stages", "%v", err)
	}
	for i, ts := range tasks {
		if len(ts) == 0 && i == 0 {
			return nil, fieldErr("spec.stages[0].subset", "selects no task")
		}
	}
	p.stages, p.stageTasks = spec.GetStages(), tasks
	return p, nil
}

func objectiveNames(os []suite.Objective) string {
	var names []string
	for _, o := range os {
		names = append(names, o.Name)
	}
	return strings.Join(names, ", ")
}

// passes reports whether a stage's aggregate score lets a candidate go on.
func passes(o suite.Objective, score, threshold float64) bool {
	if o.Maximize {
		return score >= threshold
	}
	return score <= threshold
}
