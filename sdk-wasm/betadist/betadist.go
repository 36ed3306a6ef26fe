// Package betadist is the Beta distribution's CDF and quantile, what
// Beta-reputation trust scorers rank by (the lower 5% quantile). Pure Go,
// no allocation: it runs inside Wasm plugins as well as natively.
package betadist

import "math"

// RegInc returns the regularized incomplete beta function I_x(a, b), the
// CDF of Beta(a, b) at x, for a, b > 0: the continued fraction of Numerical
// Recipes (§6.4) evaluated by the modified Lentz method, on whichever side of
// the mean it converges fast.
func RegInc(x, a, b float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(x, a, b) / a
	}
	return 1 - front*betaCF(1-x, b, a)/b
}

// betaCF evaluates the continued fraction of I_x(a, b). It needs about
// sqrt(max(a, b)) terms; the cap is far above that for any evidence log.
func betaCF(x, a, b float64) float64 {
	const (
		maxTerms = 1_000_000
		eps      = 1e-15
		tiny     = 1e-300
	)
	guard := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	qab, qap, qam := a+b, a+1, a-1
	c := 1.0
	d := 1 / guard(1-qab*x/qap)
	h := d
	for m := 1; m <= maxTerms; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 / guard(1+aa*d)
		c = guard(1 + aa/c)
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 / guard(1+aa*d)
		c = guard(1 + aa/c)
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// Quantile returns the x with I_x(a, b) = p, by bisection: I_x is
// increasing in x, so 60 halvings of [0, 1] pin x to about 1e-18.
func Quantile(p, a, b float64) float64 {
	lo, hi := 0.0, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if RegInc(mid, a, b) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
