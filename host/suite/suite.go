// Package suite holds the benchmark suites evolutions are judged on: a
// Suite names its tasks, the objectives it reports and, for suites that run
// a fixed kind of candidate, the genome space; Evaluate runs one genome on
// one task. Built in: bbob (the COCO noiseless functions, in process) and
// tsplib (the example TSP solver, one process per evaluation).
package suite

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// Objective is a score a suite reports and which way is better.
type Objective struct {
	Name     string
	Maximize bool
}

// Task is one input of a suite.
type Task struct {
	Name string
}

// Outcome is how one genome did on one task.
type Outcome struct {
	// Scores maps objective names to values (empty when Failed).
	Scores map[string]float64
	// Failed says the evaluation failed; Reason says why, for people.
	Failed bool
	Reason string
	// Duration is the wall time of the evaluation.
	Duration time.Duration
}

// Suite judges genomes. Implementations are safe for concurrent Evaluate
// calls; with the same genome, task and seed an evaluation gives the same
// scores (deterministic suites) or as close as the runner allows.
type Suite interface {
	// Name is the suite's name, e.g. "bbob-f8-d10" or "tsplib".
	Name() string
	// Tasks are the suite's inputs, in a fixed order.
	Tasks() []Task
	// Subsets name groups of tasks for staged evaluation.
	Subsets() map[string][]string
	// Objectives are the scores every outcome carries; the first is the
	// primary one.
	Objectives() []Objective
	// Space is the genome space the suite's runner reads, or nil when the
	// evolution must bring its own.
	Space() *v1.SearchSpace
	// Evaluate runs genome on task. It never panics; a candidate that
	// crashes, hangs or answers garbage gets a failed Outcome.
	Evaluate(ctx context.Context, genome map[string]any, task Task, seed uint64) Outcome
}

// Aggregate combines per-task outcomes into one score per objective: the
// mean over the tasks that did not fail. It reports failed when every task
// failed, with the first reason.
func Aggregate(outcomes []Outcome, objectives []Objective) (scores map[string]float64, failed bool, reason string) {
	scores = map[string]float64{}
	n := 0
	for _, o := range outcomes {
		if o.Failed {
			if reason == "" {
				reason = o.Reason
			}
			continue
		}
		n++
		for _, obj := range objectives {
			scores[obj.Name] += o.Scores[obj.Name]
		}
	}
	if n == 0 {
		if reason == "" {
			reason = "no task was evaluated"
		}
		return map[string]float64{}, true, reason
	}
	for k := range scores {
		scores[k] /= float64(n)
	}
	if n < len(outcomes) {
		// A candidate that fails some tasks is worse than its mean says:
		// count each failed task at the worst score of the batch.
		worst := map[string]float64{}
		for _, o := range outcomes {
			if o.Failed {
				continue
			}
			for _, obj := range objectives {
				v, seen := worst[obj.Name]
				x := o.Scores[obj.Name]
				if !seen || (obj.Maximize && x < v) || (!obj.Maximize && x > v) {
					worst[obj.Name] = x
				}
			}
		}
		for _, obj := range objectives {
			scores[obj.Name] = (scores[obj.Name]*float64(n) + worst[obj.Name]*float64(len(outcomes)-n)) / float64(len(outcomes))
		}
	}
	return scores, false, ""
}

// Better reports whether a beats b on objective o (NaN never wins).
func Better(o Objective, a, b float64) bool {
	switch {
	case math.IsNaN(a):
		return false
	case math.IsNaN(b):
		return true
	case o.Maximize:
		return a > b
	default:
		return a < b
	}
}

// BetterScores reports whether scores a beat scores b: on the first
// objective, then, when equal, on the next, and so on (a missing score
// loses).
func BetterScores(objectives []Objective, a, b map[string]float64) bool {
	for _, o := range objectives {
		x, xok := a[o.Name]
		y, yok := b[o.Name]
		switch {
		case xok && !yok:
			return true
		case !xok:
			return false
		case Better(o, x, y):
			return true
		case Better(o, y, x):
			return false
		}
	}
	return false
}

// Options are per-evolution options a suite may honour; zero fields take
// the catalog's defaults.
type Options struct {
	// Limits bound each candidate evaluation's container (process-based
	// suites); zero fields take Catalog.DefaultLimits.
	Limits container.Limits
	// MemoryScale multiplies the memory limit (and the cpu tier's quota,
	// which is the same limit) after the defaults are applied: an
	// evolution's personality gives candidates 1 + its resource headroom.
	// 0 means 1; it must not be negative or NaN.
	MemoryScale float64
}

// scaleMemory returns l with its memory limit multiplied by f (0: 1).
func scaleMemory(l container.Limits, f float64) (container.Limits, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return l, fmt.Errorf("memory scale %v must be a finite number, 0 or more", f)
	}
	if f == 0 || f == 1 {
		return l, nil
	}
	scale := func(q int64) int64 { return int64(math.Round(float64(q) * f)) }
	l.MemoryBytes = scale(l.MemoryBytes)
	if q, ok := l.Tiers[container.TierCPU]; ok && q > 0 {
		tiers := maps.Clone(l.Tiers)
		tiers[container.TierCPU] = scale(q)
		l.Tiers = tiers
	}
	return l, nil
}

// Catalog resolves suite names to built-in suites.
type Catalog struct {
	// TSPSolver is the command that runs the tspsolver example agent, e.g.
	// ["/usr/local/bin/tspsolver"] or [swarmd, "tspsolver"].
	TSPSolver []string
	// DataDir is where suites unpack their data (tsplib instances).
	DataDir string
	// DefaultLimits bound each candidate evaluation of a process-based
	// suite where the evolution's Options leave a limit unset (swarmd's
	// eval-memory, eval-cpus and eval-pids).
	DefaultLimits container.Limits
	// Runtime runs the candidates of process-based suites: "native" or
	// "containerd" (a container per evaluation), or "process" (a plain
	// child process, unconfined); empty is "process" (swarmd's
	// eval-runtime).
	Runtime string
	// Runtimes are the container runtimes by name ("native",
	// "containerd"); Runtime picks one. A missing one makes Lookup of a
	// process-based suite fail with what to do.
	Runtimes map[string]container.Runtime
	// Image is the image candidates' containers run in (default
	// "scratch", the native runtime's empty image: the solver is static
	// and bind-mounted).
	Image string
}

// Names lists the built-in suite names (bbob ones are patterns).
func (c Catalog) Names() []string {
	return []string{"bbob-f<F>-d<D>[-i<I>]", "tsplib", "tsplib-small"}
}

// Lookup returns the built-in suite called name: "bbob-f8-d10" (function
// 8 in 10 dimensions, instance 1), "bbob-f15-d20-i3", "tsplib" (every
// instance of the training set up to 200 cities) or "tsplib-small"
// (eil51, berlin52, st70). opts.Limits over c.DefaultLimits bound the
// candidates of process-based suites; limits that do not validate are an
// error.
func (c Catalog) Lookup(name string, opts Options) (Suite, error) {
	limits, err := scaleMemory(opts.Limits.WithDefaults(c.DefaultLimits), opts.MemoryScale)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %w", name, err)
	}
	if err := limits.Validate(); err != nil {
		return nil, fmt.Errorf("suite %s: candidate limits: %w", name, err)
	}
	switch {
	case strings.HasPrefix(name, "bbob-"):
		return parseBBOB(name)
	case name == "tsplib" || name == "tsplib-small":
		return newTSPLIB(name, c, limits)
	}
	return nil, fmt.Errorf("unknown suite %q: built-in suites are %s", name, strings.Join(c.Names(), ", "))
}

// TaskNames returns the names of tasks in order.
func TaskNames(tasks []Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.Name
	}
	return out
}

// pick returns the tasks of s named in names, in the suite's order.
func pick(s Suite, names []string) []Task {
	var out []Task
	for _, t := range s.Tasks() {
		if slices.Contains(names, t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// StageTasks returns, for each stage in order, the tasks it adds: stage i
// runs the tasks of its subset not run by an earlier stage; the last stage
// also runs every remaining task when its subset is "" or "full". With no
// stages, one stage runs every task.
func StageTasks(s Suite, subsets []string) ([][]Task, error) {
	if len(subsets) == 0 {
		return [][]Task{s.Tasks()}, nil
	}
	done := map[string]bool{}
	var out [][]Task
	for i, name := range subsets {
		var tasks []Task
		if name == "" || name == "full" {
			tasks = s.Tasks()
		} else {
			names, ok := s.Subsets()[name]
			if !ok {
				return nil, fmt.Errorf("stage %d: suite %s has no subset %q (it has %s)", i, s.Name(), name, strings.Join(sortedKeys(s.Subsets()), ", "))
			}
			tasks = pick(s, names)
		}
		var add []Task
		for _, t := range tasks {
			if !done[t.Name] {
				done[t.Name] = true
				add = append(add, t)
			}
		}
		out = append(out, add)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
