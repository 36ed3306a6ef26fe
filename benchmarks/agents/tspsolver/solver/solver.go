// Package solver is the tspsolver agent: an iterated local search for the
// symmetric Euclidean TSP whose design (construction heuristic, ordered
// local-search steps, candidate-list size, perturbation, acceptance and
// budgets) is a Genome that the evolution engine searches over (Space).
package solver

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

// smallN is the size below which Solve enumerates all tours instead of
// searching: (smallN-2)! = 720 tours at most.
const smallN = 8

// Options are the settings of one run that are not part of the design.
type Options struct {
	// Seed seeds the random choices (start city, kicks, acceptance).
	Seed uint64
	// Deterministic ignores the genome's time budget, so that only
	// MaxIterations bounds the run and the same genome, seed and instance
	// give the same tour.
	Deterministic bool
}

// Result is the outcome of Solve.
type Result struct {
	// Tour is the best tour found, as 0-based city indices, starting at 0.
	Tour []int
	// Length is the length of Tour.
	Length int
	// Iterations is the number of perturbation + local-search rounds run.
	Iterations int
}

// Solve runs the solver designed by g on in.
func Solve(in *tsplib.Instance, g Genome, opt Options) (Result, error) {
	if err := g.Validate(); err != nil {
		return Result{}, err
	}
	n := in.Len()
	if n == 0 {
		return Result{}, fmt.Errorf("solver: instance %s has no cities", in.Name)
	}
	if n < smallN {
		tour := exhaustive(in)
		return Result{Tour: tour, Length: in.TourLength(tour)}, nil
	}
	steps := make([]step, len(g.Improvements))
	for i, name := range g.Improvements {
		st, ok := stepByName(name)
		if !ok {
			return Result{}, fmt.Errorf("solver: unknown improvement %q", name)
		}
		steps[i] = st
	}
	start := time.Now()
	var deadline time.Time
	if !opt.Deterministic && g.TimeBudgetMS > 0 {
		deadline = start.Add(time.Duration(g.TimeBudgetMS) * time.Millisecond)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x7473707370616365))
	p := newProblem(in, max(g.Neighbors, greedyCandidates))

	order, err := construct(g.Construction, p, rng.IntN(n))
	if err != nil {
		return Result{}, fmt.Errorf("solver: %w", err)
	}
	s := newSearch(p, order, steps, g.Neighbors)
	s.activateAll()
	s.localSearch()

	best := slices.Clone(s.t.order)
	bestLen := s.length
	saved := make([]int, n)
	iterations := 0
	if g.Perturbation != PerturbNone {
		for iterations < g.MaxIterations {
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				break
			}
			iterations++
			copy(saved, s.t.order)
			savedLen := s.length
			if err := s.perturb(g, rng); err != nil {
				return Result{}, err
			}
			s.length = s.tourLength()
			s.localSearch()
			if s.length < bestLen {
				copy(best, s.t.order)
				bestLen = s.length
			}
			if !accept(g, rng, s.length, savedLen, n) {
				s.t.set(saved)
				s.length = savedLen
			}
		}
	}
	// Start the tour at city 0.
	at := slices.Index(best, 0)
	best = slices.Concat(best[at:], best[:at])
	return Result{Tour: best, Length: bestLen, Iterations: iterations}, nil
}

// perturb applies the genome's kick to the current tour and activates the
// cities it touched.
func (s *search) perturb(g Genome, rng *rand.Rand) error {
	switch g.Perturbation {
	case PerturbDoubleBridge:
		s.doubleBridge(rng, g.PerturbationStrength)
	case PerturbSegmentReversal:
		s.segmentReversal(rng, g.PerturbationStrength)
	case PerturbRandomRestarts:
		order, err := construct(g.Construction, s.p, rng.IntN(s.p.n))
		if err != nil {
			return fmt.Errorf("solver: %w", err)
		}
		s.t.set(order)
		if !hasStart(g.Construction) {
			// The tour does not depend on a start city: randomise it with
			// global double bridges instead.
			for range g.PerturbationStrength {
				s.doubleBridge(rng, s.p.n)
			}
		}
		s.activateAll()
	default:
		return fmt.Errorf("solver: unknown perturbation %q", g.Perturbation)
	}
	return nil
}

// accept reports whether the search continues from a tour of length next
// rather than from the previous one of length cur.
func accept(g Genome, rng *rand.Rand, next, cur, n int) bool {
	if next <= cur {
		return true
	}
	if g.Acceptance != AcceptSlightlyWorse {
		return false
	}
	// Metropolis criterion, with the temperature in mean edge lengths.
	scale := g.Temperature * float64(cur) / float64(n)
	if scale <= 0 {
		return false
	}
	return rng.Float64() < math.Exp(-float64(next-cur)/scale)
}

// exhaustive returns an optimal tour of a small instance by trying every
// tour that starts at city 0.
func exhaustive(in *tsplib.Instance) []int {
	n := in.Len()
	cur := make([]int, n)
	for i := range cur {
		cur[i] = i
	}
	best := slices.Clone(cur)
	bestLen := in.TourLength(cur)
	var permute func(k int)
	permute = func(k int) {
		if k == n {
			if l := in.TourLength(cur); l < bestLen {
				bestLen = l
				copy(best, cur)
			}
			return
		}
		for i := k; i < n; i++ {
			cur[k], cur[i] = cur[i], cur[k]
			permute(k + 1)
			cur[k], cur[i] = cur[i], cur[k]
		}
	}
	if n > 1 {
		permute(1)
	}
	return best
}
