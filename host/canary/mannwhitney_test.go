package canary

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// MannWhitneySuite "returns expected values": Kayenta asserts these to 1e-6.
func TestMannWhitneyKayentaExpectedValues(t *testing.T) {
	r, err := MannWhitney([]float64{10, 20, 30, 40}, []float64{1, 2, 3, 4}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.CILow, 6, 1e-6) || !near(r.CIHigh, 39, 1e-6) || !near(r.Estimate, 22.5, 1e-6) {
		t.Errorf("got CI [%v, %v] estimate %v, want [6, 39] 22.5", r.CILow, r.CIHigh, r.Estimate)
	}
}

// MannWhitneySuite "tie out with R version": R's
// wilcox.test(x, y, conf.int=TRUE, conf.level=0.95) on the 90 + 90 tied
// samples gives the interval [−0.5000025, −3.486e-5] and the estimate
// −0.49994 (figures from the research note, control-plane.md §1.3).
func TestMannWhitneyTieOutWithR(t *testing.T) {
	r, err := MannWhitney(tieOutExperiment, tieOutControl, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.CILow, -0.5000025, 1e-6) || !near(r.CIHigh, -3.486e-5, 1e-6) {
		t.Errorf("CI [%v, %v], want [-0.5000025, -3.486e-05] within 1e-6", r.CILow, r.CIHigh)
	}
	if !near(r.Estimate, -0.49994, 1e-4) {
		t.Errorf("estimate %v, want -0.49994 within 1e-4", r.Estimate)
	}
	// To its published digits, which only the estimate without continuity
	// correction (R's) meets: Kayenta's corrected root is −0.499997.
	if !near(r.Estimate, -0.49994, 5e-6) {
		t.Errorf("estimate %v does not round to -0.49994", r.Estimate)
	}
}

// The confidence level Kayenta judges at, 0.98, puts z at Φ⁻¹(0.01).
func TestNormalQuantile(t *testing.T) {
	for _, c := range []struct{ p, z float64 }{{0.01, -2.326348}, {0.025, -1.959964}, {0.5, 0}, {0.99, 2.326348}} {
		if got := normalQuantile(c.p); !near(got, c.z, 1e-6) {
			t.Errorf("z(%v) = %v, want %v", c.p, got, c.z)
		}
	}
}

// The estimate is a root of a step function whose steps are the pairwise
// differences, so it lies, within the root tolerance, between the two
// middle differences (the exact Hodges–Lehmann estimate is their mean);
// the interval's ends lie on differences too, and hold the estimate.
func TestMannWhitneyAgainstPairwiseDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		n, m := 5+rng.IntN(40), 5+rng.IntN(40)
		shift := rng.NormFloat64() * 3
		x, y := make([]float64, n), make([]float64, m)
		for i := range x {
			x[i] = rng.NormFloat64()*2 + shift
		}
		for i := range y {
			y[i] = rng.ExpFloat64() * 2
		}
		if trial%4 == 0 { // rounded: heavy ties
			for i := range x {
				x[i] = math.Round(x[i])
			}
			for i := range y {
				y[i] = math.Round(y[i])
			}
		}
		var diffs []float64
		for _, a := range x {
			for _, b := range y {
				diffs = append(diffs, a-b)
			}
		}
		slices.Sort(diffs)
		k := len(diffs)
		lo, hi := diffs[(k-1)/2], diffs[k/2]
		r, err := MannWhitney(x, y, 0.95)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		const tol = 2 * rootTolerance
		if r.Estimate < lo-tol || r.Estimate > hi+tol {
			t.Errorf("trial %d: estimate %v outside the middle differences [%v, %v]", trial, r.Estimate, lo, hi)
		}
		if !(r.CILow <= r.Estimate && r.Estimate <= r.CIHigh) {
			t.Errorf("trial %d: estimate %v outside its interval [%v, %v]", trial, r.Estimate, r.CILow, r.CIHigh)
		}
		for _, end := range []float64{r.CILow, r.CIHigh} {
			i, _ := slices.BinarySearch(diffs, end)
			onStep := (i < k && near(diffs[i], end, tol)) || (i > 0 && near(diffs[i-1], end, tol))
			if !onStep {
				t.Errorf("trial %d: interval end %v is not on a pairwise difference", trial, end)
			}
		}
	}
}

// Exchanging the samples mirrors the interval. The estimate is any point
// where the statistic is zero, so it mirrors up to the gap between the two
// middle pairwise differences.
func TestMannWhitneySymmetry(t *testing.T) {
	a, err := MannWhitney(around20, around10, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MannWhitney(around10, around20, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []float64
	for _, x := range around20 {
		for _, y := range around10 {
			diffs = append(diffs, x-y)
		}
	}
	slices.Sort(diffs)
	gap := diffs[len(diffs)/2] - diffs[(len(diffs)-1)/2]
	const tol = 2 * rootTolerance
	if !near(a.CILow, -b.CIHigh, tol) || !near(a.CIHigh, -b.CILow, tol) || !near(a.Estimate, -b.Estimate, gap+tol) {
		t.Errorf("%+v is not the mirror of %+v (middle gap %v)", a, b, gap)
	}
	if !(a.CILow > 8 && a.CIHigh < 13) {
		t.Errorf("a shift of about 10 gave the interval [%v, %v]", a.CILow, a.CIHigh)
	}
}

func TestMannWhitneyRefuses(t *testing.T) {
	for _, c := range []struct {
		name     string
		exp, ctl []float64
		conf     float64
		want     string
	}{
		{"empty experiment", nil, []float64{1}, 0.95, "both samples need at least one"},
		{"empty control", []float64{1}, nil, 0.95, "both samples need at least one"},
		{"NaN", []float64{1, math.NaN()}, []float64{1}, 0.95, "not finite"},
		{"Inf", []float64{1}, []float64{math.Inf(-1)}, 0.95, "not finite"},
		{"confidence 1", []float64{1}, []float64{2}, 1, "outside (0, 1)"},
		{"all tied", []float64{3, 3}, []float64{3, 3, 3}, 0.95, "all observations are tied"},
	} {
		_, err := MannWhitney(c.exp, c.ctl, c.conf)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

// zeroin finds a smooth root to its tolerance and takes an end that is
// already a root.
func TestZeroin(t *testing.T) {
	f := func(x float64) (float64, error) { return x*x - 2, nil }
	r, err := zeroin(0, 2, -2, 2, f)
	if err != nil || !near(r, math.Sqrt2, rootTolerance) {
		t.Errorf("root of x²−2 on [0, 2]: %v, %v", r, err)
	}
	if r, _ := zeroin(1, 5, 0, 3, f); r != 1 {
		t.Errorf("a root at the lower end: got %v", r)
	}
}
