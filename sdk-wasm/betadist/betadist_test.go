package betadist

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.15g, want %.15g (±%g)", what, got, want, tol)
	}
}

func TestRegIncBeta(t *testing.T) {
	// Closed forms: I_x(1,1) = x, I_x(a,1) = x^a, I_x(1,b) = 1-(1-x)^b, and
	// the Beta(2,3) CDF at 0.4 is a binomial tail: 0.3456+0.1536+0.0256.
	for _, x := range []float64{0.001, 0.1, 0.37, 0.5, 0.9, 0.999} {
		near(t, "I(1,1)", RegInc(x, 1, 1), x, 1e-13)
		near(t, "I(4,1)", RegInc(x, 4, 1), math.Pow(x, 4), 1e-13)
		near(t, "I(1,7.5)", RegInc(x, 1, 7.5), 1-math.Pow(1-x, 7.5), 1e-13)
		// Symmetry, with non-integer parameters.
		near(t, "symmetry", RegInc(x, 2.7, 13.2), 1-RegInc(1-x, 13.2, 2.7), 1e-13)
	}
	near(t, "I_0.4(2,3)", RegInc(0.4, 2, 3), 0.5248, 1e-13)
	near(t, "I_0.5(a,a)", RegInc(0.5, 3000.5, 3000.5), 0.5, 1e-10)
	if RegInc(0, 2, 2) != 0 || RegInc(1, 2, 2) != 1 || RegInc(-1, 2, 2) != 0 || RegInc(2, 2, 2) != 1 {
		t.Error("I_x outside (0, 1) should clamp to 0 and 1")
	}
	// Increasing in x.
	prev := 0.0
	for x := 0.01; x < 1; x += 0.01 {
		v := RegInc(x, 5.5, 2.25)
		if v < prev {
			t.Fatalf("I_x not increasing at x=%v", x)
		}
		prev = v
	}
}

func TestBetaQuantile(t *testing.T) {
	near(t, "q(1,1)", Quantile(0.05, 1, 1), 0.05, 1e-12)
	for _, k := range []float64{1, 9, 100, 1000} {
		near(t, "q(k+1,1)", Quantile(0.05, k+1, 1), math.Pow(0.05, 1/(k+1)), 1e-12)
		near(t, "q(1,k+1)", Quantile(0.05, 1, k+1), 1-math.Pow(0.95, 1/(k+1)), 1e-12)
	}
	// Large and symmetric: close to the normal approximation.
	a := 501.0
	sd := math.Sqrt(a * a / ((2 * a) * (2 * a) * (2*a + 1)))
	near(t, "q(501,501)", Quantile(0.05, a, a), 0.5-1.6448536269514722*sd, 2e-4)
	// The quantile inverts the CDF.
	for _, p := range []float64{0.01, 0.05, 0.5, 0.95} {
		near(t, "I(q(p))", RegInc(Quantile(p, 3.3, 8.1), 3.3, 8.1), p, 1e-12)
	}
}
