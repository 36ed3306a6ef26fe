package bbob

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// instances are COCO's classic instances 1..15 (BBOB-2010 to 2012).
const testInstances = 15

// forAll calls fn for every function, bbob dimension and instance 1..15.
func forAll(t *testing.T, fn func(t *testing.T, p *Problem)) {
	t.Helper()
	for f := 1; f <= NumFunctions; f++ {
		for _, d := range Dimensions() {
			for i := 1; i <= testInstances; i++ {
				p, err := New(f, d, i)
				if err != nil {
					t.Fatalf("New(%d, %d, %d): %v", f, d, i, err)
				}
				fn(t, p)
			}
		}
	}
}

// TestOptimum checks f(Xopt) = Fopt for every function, dimension and
// instance 1..15. Xopt is COCO's best_parameter; for f20 it is COCO's
// approximation of the optimum, which is within 1e-8 as well.
func TestOptimum(t *testing.T) {
	worst := make([]float64, NumFunctions+1)
	forAll(t, func(t *testing.T, p *Problem) {
		x := p.Xopt()
		if len(x) != p.Dimension() {
			t.Fatalf("%s: len(Xopt) = %d", p, len(x))
		}
		got := p.Eval(x)
		diff := math.Abs(got - p.Fopt())
		worst[p.Function()] = math.Max(worst[p.Function()], diff)
		if diff > 1e-8 {
			t.Errorf("%s: f(xopt) = %.17g, fopt = %.17g", p, got, p.Fopt())
		}
		if df := p.DeltaF(x); df < -1e-9 {
			t.Errorf("%s: DeltaF(xopt) = %g", p, df)
		}
	})
	t.Logf("worst |f(xopt) - fopt| per function: %.3g", worst[1:])
}

// TestDeltaFNonNegative checks Δf ≥ 0 (up to 1e-9) at random points in the
// region of interest, beyond it, and close to the optimum.
func TestDeltaFNonNegative(t *testing.T) {
	rng := rand.New(rand.NewPCG(2009, 24))
	forAll(t, func(t *testing.T, p *Problem) {
		d := p.Dimension()
		x := make([]float64, d)
		xopt := p.Xopt()
		check := func(kind string) {
			if df := p.DeltaF(x); df < -1e-9 || math.IsNaN(df) || math.IsInf(df, 0) {
				t.Errorf("%s: Δf = %g at a %s point %v", p, df, kind, x)
			}
		}
		for range 10 {
			for j := range x {
				x[j] = -5 + 10*rng.Float64()
			}
			check("uniform")
		}
		for range 3 {
			for j := range x {
				x[j] = -8 + 16*rng.Float64()
			}
			check("outside")
		}
		for _, step := range []float64{1e-2, 1e-4, 1e-7} {
			for j := range x {
				x[j] = xopt[j] + step*rng.NormFloat64()
			}
			check("near-optimal")
		}
	})
}

// TestFoptRange checks that fopt is what bbob2009_compute_fopt can return:
// a multiple of 0.01 in [-1000, 1000], shared by f3/f4 and f17/f18.
func TestFoptRange(t *testing.T) {
	forAll(t, func(t *testing.T, p *Problem) {
		fo := p.Fopt()
		if fo < -1000 || fo > 1000 {
			t.Errorf("%s: fopt %g outside [-1000, 1000]", p, fo)
		}
		if c := fo * 100; math.Abs(c-math.Round(c)) > 1e-6 {
			t.Errorf("%s: fopt %.17g is not a multiple of 0.01", p, fo)
		}
		switch p.Function() {
		case 4, 18:
			q, _ := New(p.Function()-1, p.Dimension(), p.Instance())
			if q.Fopt() != fo {
				t.Errorf("%s: fopt %g differs from f%d's %g", p, fo, q.Function(), q.Fopt())
			}
		}
	})
}

// TestXoptGrid checks the location of xopt where COCO draws it with
// bbob2009_compute_xopt: on the 8e-4 grid inside [-4, 4].
func TestXoptGrid(t *testing.T) {
	forAll(t, func(t *testing.T, p *Problem) {
		switch p.Function() {
		case 5, 9, 19, 20, 21, 22, 24:
			return
		}
		for j, v := range p.Xopt() {
			if p.Function() == 8 {
				v /= 0.75
			}
			if v < -4 || v > 4 {
				t.Fatalf("%s: xopt[%d] = %g outside [-4, 4]", p, j, v)
			}
			if v == -1e-5 {
				continue
			}
			if g := (v + 4) / 8e-4; math.Abs(g-math.Round(g)) > 1e-6 {
				t.Fatalf("%s: xopt[%d] = %.17g is not on COCO's grid", p, j, v)
			}
		}
	})
}

// TestLegacyRotationOrthogonal checks R R^T = I for the legacy rotations.
func TestLegacyRotationOrthogonal(t *testing.T) {
	for _, d := range Dimensions() {
		r := legacyRotation(1+10000*7, d)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				s := 0.0
				for k := 0; k < d; k++ {
					s += r[i*d+k] * r[j*d+k]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(s-want) > 1e-12 {
					t.Fatalf("d=%d: (R R^T)[%d][%d] = %g", d, i, j, s)
				}
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct{ f, d, i int }{
		{0, 2, 1}, {25, 2, 1}, {1, 1, 1}, {1, 41, 1}, {1, 0, 1}, {1, 2, 0}, {1, 2, -3}, {1, 2, MaxInstance + 1},
	} {
		if p, err := New(c.f, c.d, c.i); err == nil {
			t.Errorf("New(%d, %d, %d) = %v, want an error", c.f, c.d, c.i, p)
		}
	}
}

// TestAnyDimension checks that dimensions between COCO's are accepted and
// behave.
func TestAnyDimension(t *testing.T) {
	for f := 1; f <= NumFunctions; f++ {
		for _, d := range []int{4, 7, 13, 31, 39} {
			p, err := New(f, d, 3)
			if err != nil {
				t.Fatal(err)
			}
			if diff := math.Abs(p.Eval(p.Xopt()) - p.Fopt()); diff > 1e-8 {
				t.Errorf("%s: |f(xopt) - fopt| = %g", p, diff)
			}
		}
	}
}

func TestAccessors(t *testing.T) {
	p, err := New(8, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Name(); got != "bbob_f008_i01_d10" {
		t.Errorf("Name() = %q", got)
	}
	if got := fmt.Sprint(p); got != "bbob_f008_i01_d10" {
		t.Errorf("String() = %q", got)
	}
	q, _ := New(24, 40, 123)
	if got := q.Name(); got != "bbob_f024_i123_d40" {
		t.Errorf("Name() = %q", got)
	}
	if lo, hi := p.Bounds(); lo != -5 || hi != 5 {
		t.Errorf("Bounds() = %g, %g", lo, hi)
	}
	if p.Function() != 8 || p.Dimension() != 10 || p.Instance() != 1 {
		t.Errorf("accessors: %d %d %d", p.Function(), p.Dimension(), p.Instance())
	}
	x := p.Xopt()
	x[0] = 1e6
	if p.Xopt()[0] == 1e6 {
		t.Error("Xopt returns the internal slice")
	}
}

func TestEvalNaNAndLength(t *testing.T) {
	p, _ := New(15, 5, 2)
	if v := p.Eval([]float64{0, math.NaN(), 0, 0, 0}); !math.IsNaN(v) {
		t.Errorf("Eval with a NaN = %g, want NaN", v)
	}
	defer func() {
		if recover() == nil {
			t.Error("Eval with the wrong length did not panic")
		}
	}()
	p.Eval([]float64{1, 2})
}

// TestDeterministic checks that two problems built alike agree bit for bit
// and that concurrent evaluation gives the sequential results.
func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for f := 1; f <= NumFunctions; f++ {
		p, _ := New(f, 20, 7)
		q, _ := New(f, 20, 7)
		points := make([][]float64, 32)
		want := make([]float64, len(points))
		for k := range points {
			points[k] = make([]float64, 20)
			for j := range points[k] {
				points[k][j] = -5 + 10*rng.Float64()
			}
			want[k] = p.Eval(points[k])
			if got := q.Eval(points[k]); got != want[k] {
				t.Fatalf("f%d: two problems disagree: %v vs %v", f, got, want[k])
			}
		}
		var wg sync.WaitGroup
		errs := make(chan string, len(points))
		for k := range points {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := p.Eval(points[k]); got != want[k] {
					errs <- fmt.Sprintf("f%d point %d: concurrent %v, sequential %v", f, k, got, want[k])
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}

func TestEvalDoesNotAllocate(t *testing.T) {
	for f := 1; f <= NumFunctions; f++ {
		p, _ := New(f, 40, 1)
		x := p.Xopt()
		if n := testing.AllocsPerRun(10, func() { p.Eval(x) }); n != 0 {
			t.Errorf("f%d: Eval allocates %v times", f, n)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	for _, f := range []int{1, 8, 10, 15} {
		p, err := New(f, 10, 1)
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		x := make([]float64, 10)
		for j := range x {
			x[j] = -5 + 10*rng.Float64()
		}
		b.Run(fmt.Sprintf("f%d/d10", f), func(b *testing.B) {
			for b.Loop() {
				p.Eval(x)
			}
		})
	}
}
