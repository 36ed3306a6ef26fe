package solver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

// goodGenome is a strong design: greedy edge, 2-opt then or-opt, segment
// double bridges, with the given iteration budget.
func goodGenome(iterations int) Genome {
	return Genome{
		Construction:         ConstructionGreedyEdge,
		Improvements:         []string{Step2Opt, StepOrOpt},
		Neighbors:            10,
		Perturbation:         PerturbDoubleBridge,
		PerturbationStrength: 10,
		Acceptance:           AcceptBetter,
		Temperature:          0.1,
		MaxIterations:        iterations,
		TimeBudgetMS:         0,
	}
}

func load(t testing.TB, name string) *tsplib.Instance {
	t.Helper()
	in, err := tsplib.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func optimum(t testing.TB, name string) int {
	t.Helper()
	opt, err := tsplib.KnownOptima()
	if err != nil {
		t.Fatal(err)
	}
	return opt[name]
}

// randomInstance has n cities on a small grid, so that some share
// coordinates and many distances tie (degenerate cases for the moves).
func randomInstance(n int, seed uint64, grid float64) *tsplib.Instance {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := &tsplib.Instance{Name: fmt.Sprintf("rand%d-%d", n, seed)}
	for i := 0; i < n; i++ {
		in.X = append(in.X, float64(rng.IntN(int(grid))))
		in.Y = append(in.Y, float64(rng.IntN(int(grid))))
	}
	return in
}

// testInstances are small suite instances and random ones, some tiny and
// degenerate.
func testInstances(t *testing.T) []*tsplib.Instance {
	return []*tsplib.Instance{
		load(t, "eil51"), load(t, "berlin52"),
		randomInstance(8, 1, 4), randomInstance(9, 2, 100), randomInstance(12, 3, 3),
		randomInstance(40, 4, 10), randomInstance(150, 5, 1000),
	}
}

func solve(t testing.TB, in *tsplib.Instance, g Genome, seed uint64) Result {
	t.Helper()
	r, err := Solve(in, g, Options{Seed: seed, Deterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.ValidTour(r.Tour); err != nil {
		t.Fatalf("%s: %v", in.Name, err)
	}
	if l := in.TourLength(r.Tour); l != r.Length {
		t.Fatalf("%s: reported length %d, tour length %d", in.Name, r.Length, l)
	}
	return r
}

// checkSearch verifies the search's invariants: the tour is a permutation,
// pos is its inverse, and the tracked length is the tour's length.
func checkSearch(t *testing.T, s *search, what string) {
	t.Helper()
	if err := s.p.in.ValidTour(s.t.order); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for i, c := range s.t.order {
		if s.t.pos[c] != i {
			t.Fatalf("%s: pos[%d] = %d, want %d", what, c, s.t.pos[c], i)
		}
	}
	if l := s.tourLength(); l != s.length {
		t.Fatalf("%s: tracked length %d, tour length %d", what, s.length, l)
	}
}

// TestEveryConstructionAndStep builds a tour with every construction,
// improves it with every step alone and with all of them, and checks that
// the tour stays a permutation whose tracked length is exact and that local
// search never makes it longer.
func TestEveryConstructionAndStep(t *testing.T) {
	sequences := [][]string{{Step2Opt}, {StepOrOpt}, {Step3Opt}, {StepSwap}, {StepSwap, Step3Opt, StepOrOpt, Step2Opt, StepSwap}}
	for _, in := range testInstances(t) {
		p := newProblem(in, 20)
		for _, cons := range []string{ConstructionNearestNeighbor, ConstructionGreedyEdge, ConstructionFarthestInsertion, ConstructionSpaceFillingCurve} {
			order, err := construct(cons, p, 3%in.Len())
			if err != nil {
				t.Fatal(err)
			}
			if err := in.ValidTour(order); err != nil {
				t.Fatalf("%s %s: %v", in.Name, cons, err)
			}
			initial := in.TourLength(order)
			for _, seq := range sequences {
				for _, k := range []int{4, 20} {
					steps := make([]step, len(seq))
					for i, name := range seq {
						steps[i], _ = stepByName(name)
					}
					what := fmt.Sprintf("%s %s %v k=%d", in.Name, cons, seq, k)
					s := newSearch(p, order, steps, k)
					s.activateAll()
					s.localSearch()
					checkSearch(t, s, what)
					if s.length > initial {
						t.Errorf("%s: local search made %d into %d", what, initial, s.length)
					}
				}
			}
		}
	}
}

// TestPerturbationsKeepInvariants runs iterated local search by hand with
// every perturbation and checks the invariants after every kick and every
// local search.
func TestPerturbationsKeepInvariants(t *testing.T) {
	for _, in := range testInstances(t) {
		p := newProblem(in, 10)
		for _, pert := range []string{PerturbDoubleBridge, PerturbSegmentReversal, PerturbRandomRestarts} {
			for _, cons := range []string{ConstructionNearestNeighbor, ConstructionSpaceFillingCurve} {
				g := DefaultGenome()
				g.Construction, g.Perturbation, g.PerturbationStrength = cons, pert, 7
				order, err := construct(cons, p, 0)
				if err != nil {
					t.Fatal(err)
				}
				s := newSearch(p, order, []step{step2Opt, stepOrOpt, step3Opt, stepSwap}, 8)
				rng := rand.New(rand.NewPCG(9, 9))
				for it := 0; it < 30; it++ {
					if err := s.perturb(g, rng); err != nil {
						t.Fatal(err)
					}
					s.length = s.tourLength()
					checkSearch(t, s, fmt.Sprintf("%s %s after kick %d", in.Name, pert, it))
					before := s.length
					s.localSearch()
					checkSearch(t, s, fmt.Sprintf("%s %s after search %d", in.Name, pert, it))
					if s.length > before {
						t.Fatalf("%s %s: local search made %d into %d", in.Name, pert, before, s.length)
					}
				}
			}
		}
	}
}

// TestTwoOptReachesALocalOptimum checks, with complete candidate lists,
// that no 2-opt move improves the tour 2-opt local search returns.
func TestTwoOptReachesALocalOptimum(t *testing.T) {
	for _, in := range []*tsplib.Instance{load(t, "eil51"), randomInstance(60, 7, 50)} {
		n := in.Len()
		p := newProblem(in, n-1)
		s := newSearch(p, nearestNeighbor(p, 0), []step{step2Opt}, n-1)
		s.activateAll()
		s.localSearch()
		checkSearch(t, s, in.Name)
		o := s.t.order
		for i := 0; i < n; i++ {
			for j := i + 2; j < n; j++ {
				a, b, c, d := o[i], o[i+1], o[j], o[(j+1)%n]
				if d == a {
					continue
				}
				if gain := p.d(a, b) + p.d(c, d) - p.d(a, c) - p.d(b, d); gain > 0 {
					t.Fatalf("%s: 2-opt move (%d,%d)(%d,%d) still gains %d", in.Name, a, b, c, d, gain)
				}
			}
		}
	}
}

func TestEveryDesignSolves(t *testing.T) {
	in := load(t, "eil51")
	for _, cons := range []string{ConstructionNearestNeighbor, ConstructionGreedyEdge, ConstructionFarthestInsertion, ConstructionSpaceFillingCurve} {
		for _, pert := range []string{PerturbDoubleBridge, PerturbSegmentReversal, PerturbRandomRestarts, PerturbNone} {
			for _, acc := range []string{AcceptBetter, AcceptSlightlyWorse} {
				g := DefaultGenome()
				g.Construction, g.Perturbation, g.Acceptance = cons, pert, acc
				g.Improvements = []string{Step3Opt, StepSwap}
				r := solve(t, in, g, 2)
				want := g.MaxIterations
				if pert == PerturbNone {
					want = 0
				}
				if r.Iterations != want {
					t.Errorf("%s %s %s: %d iterations, want %d", cons, pert, acc, r.Iterations, want)
				}
			}
		}
	}
}

// TestGoodGenomeGap checks that a good design gets within 3% of the optimum
// on the deterministic iteration budget.
func TestGoodGenomeGap(t *testing.T) {
	for _, name := range []string{"eil51", "berlin52", "kroA100"} {
		in := load(t, name)
		opt := optimum(t, name)
		r := solve(t, in, goodGenome(2000), 1)
		gap := float64(r.Length-opt) / float64(opt)
		t.Logf("%s: length %d, optimum %d, gap %.4f", name, r.Length, opt, gap)
		if gap >= 0.03 {
			t.Errorf("%s: gap %.4f, want < 0.03", name, gap)
		}
		if r.Length < opt {
			t.Errorf("%s: length %d is below the optimum %d", name, r.Length, opt)
		}
	}
}

// TestDefaultIsWorseThanGood compares total tour length over instances and
// seeds.
func TestDefaultIsWorseThanGood(t *testing.T) {
	def, good := 0, 0
	for _, name := range []string{"eil51", "kroA100", "kroA200", "a280"} {
		in := load(t, name)
		for seed := uint64(1); seed <= 3; seed++ {
			def += solve(t, in, DefaultGenome(), seed).Length
			good += solve(t, in, goodGenome(2000), seed).Length
		}
	}
	t.Logf("total length: default %d, good %d", def, good)
	if def <= good {
		t.Errorf("default design total %d is not worse than the good design's %d", def, good)
	}
}

func TestDeterminism(t *testing.T) {
	in := load(t, "kroA100")
	lsmc := goodGenome(500)
	lsmc.Acceptance, lsmc.Temperature = AcceptSlightlyWorse, 0.05
	restarts := DefaultGenome()
	restarts.Construction, restarts.Perturbation = ConstructionFarthestInsertion, PerturbRandomRestarts
	for _, g := range []Genome{DefaultGenome(), goodGenome(500), lsmc, restarts} {
		a, b := solve(t, in, g, 7), solve(t, in, g, 7)
		if !slices.Equal(a.Tour, b.Tour) || a.Iterations != b.Iterations {
			t.Errorf("%+v: same seed, different results", g)
		}
	}
	// Deterministic runs ignore the time budget.
	g := goodGenome(3000)
	g.TimeBudgetMS = 1
	r, err := Solve(in, g, Options{Seed: 7, Deterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	g.TimeBudgetMS = 0
	if r.Iterations != 3000 || !slices.Equal(r.Tour, solve(t, in, g, 7).Tour) {
		t.Errorf("deterministic run with a time budget: %d iterations", r.Iterations)
	}
}

func TestSmallInstances(t *testing.T) {
	for n := 1; n < smallN+2; n++ {
		in := randomInstance(n, uint64(n), 20)
		r := solve(t, in, goodGenome(50), 1)
		if n < smallN {
			// Exhaustive search: no tour is shorter than the result.
			rng := rand.New(rand.NewPCG(1, 2))
			for range 200 {
				perm := rng.Perm(n)
				if l := in.TourLength(perm); l < r.Length {
					t.Errorf("n=%d: tour %v of length %d beats %d", n, perm, l, r.Length)
				}
			}
		}
	}
	if _, err := Solve(&tsplib.Instance{Name: "empty"}, DefaultGenome(), Options{}); err == nil {
		t.Error("an empty instance solved")
	}
	bad := DefaultGenome()
	bad.Neighbors = 99
	if _, err := Solve(load(t, "eil51"), bad, Options{}); err == nil {
		t.Error("an invalid genome solved")
	}
}

func TestHilbertIndex(t *testing.T) {
	// The order-1 curve visits (0,0), (0,1), (1,1), (1,0).
	for i, c := range [][2]uint32{{0, 0}, {0, 1}, {1, 1}, {1, 0}} {
		if d := hilbertIndex(2, c[0], c[1]); d != uint64(i) {
			t.Errorf("(%d,%d): %d, want %d", c[0], c[1], d, i)
		}
	}
	// Consecutive cells of the order-4 curve are adjacent.
	const side = 16
	at := make(map[uint64][2]int)
	for x := 0; x < side; x++ {
		for y := 0; y < side; y++ {
			at[hilbertIndex(side, uint32(x), uint32(y))] = [2]int{x, y}
		}
	}
	for d := uint64(1); d < side*side; d++ {
		a, b := at[d-1], at[d]
		if abs(a[0]-b[0])+abs(a[1]-b[1]) != 1 {
			t.Fatalf("cells %d %v and %d %v are not adjacent", d-1, a, d, b)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkSolve solves kroA100 with the default design and with a good one
// (2000 iterations), reporting the mean gap to the optimum over the runs
// (seeds 0, 1, ...).
func BenchmarkSolve(b *testing.B) {
	in := load(b, "kroA100")
	opt := optimum(b, "kroA100")
	for _, c := range []struct {
		name string
		g    Genome
	}{{"default", DefaultGenome()}, {"good", goodGenome(2000)}} {
		b.Run(c.name, func(b *testing.B) {
			total, runs := 0, 0
			for b.Loop() {
				r, err := Solve(in, c.g, Options{Seed: uint64(runs), Deterministic: true})
				if err != nil {
					b.Fatal(err)
				}
				total += r.Length
				runs++
			}
			b.ReportMetric(float64(total-runs*opt)/float64(runs*opt), "mean-gap")
		})
	}
}

// randomGenome draws a genome uniformly from the search space (iterations
// capped to keep the test short).
func randomGenome(rng *rand.Rand) Genome {
	g := DefaultGenome()
	for _, p := range params() {
		var v any
		switch p.kind {
		case kindFloat:
			v = p.min + rng.Float64()*(p.max-p.min)
		case kindInt:
			v = int(p.min) + rng.IntN(int(p.max-p.min)+1)
		case kindCategorical:
			v = p.choices[rng.IntN(len(p.choices))]
		case kindSequence:
			xs := make([]string, p.minLen+rng.IntN(p.maxLen-p.minLen+1))
			for i := range xs {
				xs[i] = p.choices[rng.IntN(len(p.choices))]
			}
			v = xs
		}
		p.set(&g, v)
	}
	g.MaxIterations %= 40
	return g
}

// TestRandomDesigns solves random instances, many with coinciding cities,
// with random designs from the search space.
func TestRandomDesigns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		g := randomGenome(rng)
		if err := g.Validate(); err != nil {
			t.Fatal(err)
		}
		in := randomInstance(2+rng.IntN(120), uint64(i), float64(2+rng.IntN(200)))
		r := solve(t, in, g, uint64(i))
		if r.Iterations > g.MaxIterations {
			t.Errorf("%d iterations, budget %d", r.Iterations, g.MaxIterations)
		}
	}
}
