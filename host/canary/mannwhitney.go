package canary

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MannWhitneyResult is the outcome of a two-sided Mann-Whitney U test of
// experiment against control: a confidence interval for the location shift
// (experiment − control) and the Hodges–Lehmann estimate of that shift.
type MannWhitneyResult struct {
	CILow    float64
	CIHigh   float64
	Estimate float64
}

// rootTolerance and rootMaxIter are R's wilcox.test defaults (tol.root =
// 1e-4, uniroot's maxiter = 1000), which Kayenta copies.
const (
	rootTolerance = 1e-4
	rootMaxIter   = 1000
)

// MannWhitney runs the two-sided Mann-Whitney U (Wilcoxon rank-sum) test of
// experiment against control with the normal approximation, the tie
// correction of the variance and the ±0.5 continuity correction, and
// inverts it into a confidence interval at confLevel. It returns what R's
// wilcox.test(experiment, control, conf.int=TRUE, conf.level=confLevel,
// exact=FALSE, correct=TRUE) returns: the interval's bounds are the roots
// of the standardised statistic minus ∓z(α/2) over the shift, found with
// R's Brent root finder (zeroin, tolerance 1e-4), and the estimate is the
// root at z = 0 without the continuity correction (the Hodges–Lehmann
// estimate). Both samples must be non-empty and finite.
func MannWhitney(experiment, control []float64, confLevel float64) (MannWhitneyResult, error) {
	if !(confLevel > 0 && confLevel < 1) {
		return MannWhitneyResult{}, fmt.Errorf("mann-whitney: confidence level %v is outside (0, 1); use e.g. 0.98", confLevel)
	}
	w, err := newRankSum(experiment, control)
	if err != nil {
		return MannWhitneyResult{}, err
	}
	alpha := 1 - confLevel
	zq := normalQuantile(alpha / 2) // negative
	lo, err := w.root(-zq)
	if err != nil {
		return MannWhitneyResult{}, err
	}
	hi, err := w.root(zq)
	if err != nil {
		return MannWhitneyResult{}, err
	}
	est, err := w.estimate()
	if err != nil {
		return MannWhitneyResult{}, err
	}
	return MannWhitneyResult{CILow: lo, CIHigh: hi, Estimate: est}, nil
}

// normalQuantile is the standard normal quantile function Φ⁻¹(p).
func normalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// errAllTied is returned when every observation is tied at some shift, so
// the statistic's variance is zero (R stops with the same words).
var errAllTied = errors.New("mann-whitney: cannot compute the confidence interval when all observations are tied")

// rankSum holds both samples sorted, so that the statistic at any shift d
// is one pass over x − d and y: x − d stays sorted because floating-point
// subtraction is monotone.
type rankSum struct {
	x, y         []float64 // experiment, control; sorted
	nx, ny       float64
	yTies        float64 // Σ(t³ − t) over the runs of equal values in y
	mumin, mumax float64 // the shifts beyond which every x − d is above (below) every y
}

func newRankSum(experiment, control []float64) (*rankSum, error) {
	if len(experiment) == 0 || len(control) == 0 {
		return nil, fmt.Errorf("mann-whitney: %d experiment and %d control values; both samples need at least one", len(experiment), len(control))
	}
	for _, s := range [][]float64{experiment, control} {
		for _, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("mann-whitney: value %v is not finite; drop or replace NaN and ±Inf first", v)
			}
		}
	}
	x, y := slices.Clone(experiment), slices.Clone(control)
	slices.Sort(x)
	slices.Sort(y)
	w := &rankSum{
		x: x, y: y, nx: float64(len(x)), ny: float64(len(y)),
		mumin: x[0] - y[len(y)-1], mumax: x[len(x)-1] - y[0],
	}
	for j := 0; j < len(y); {
		t := 1
		for j+t < len(y) && y[j+t] == y[j] {
			t++
		}
		w.yTies += cubeMinus(t)
		j += t
	}
	return w, nil
}

// cubeMinus is t³ − t, a tie group's term in the variance correction.
func cubeMinus(t int) float64 {
	f := float64(t)
	return f*f*f - f
}

// ranks ranks x − d among y (ties get their average rank, as R's rank
// does) and returns U, the sum of x's ranks less nx(nx+1)/2 (the pairs
// with x − d above y, ties counting half), and Σ(t³ − t) over the tie
// groups of the pooled values. For each run of equal x − d it counts the
// y below and equal to it: x's ranks among x alone sum to nx(nx+1)/2
// whatever the ties, so only the y count. U is exact: it is a sum of
// halves far below 2⁵³.
func (w *rankSum) ranks(d float64) (u, ties float64) {
	x, y := w.x, w.y
	u2 := 0 // 2U
	ties = w.yTies
	j := 0 // y[:j] < the current x − d
	for i := 0; i < len(x); {
		v := x[i] - d
		tx := 1
		for i+tx < len(x) && x[i+tx]-d == v {
			tx++
		}
		for j < len(y) && y[j] < v {
			j++
		}
		ty := 0
		for j+ty < len(y) && y[j+ty] == v {
			ty++
		}
		u2 += tx * (2*j + ty)
		if tx > 1 || ty > 0 { // the pooled group replaces y's own
			ties += cubeMinus(tx+ty) - cubeMinus(ty)
		}
		i += tx
		j += ty
	}
	return float64(u2) / 2, ties
}

// stat is R's standardised statistic W(d) of x − d against y, with or
// without the two-sided continuity correction. R computes dz as the rank
// sum less nx(nx+1)/2 + nx·ny/2, which is U − nx·ny/2 exactly.
func (w *rankSum) stat(d float64, correct bool) (float64, error) {
	u, ties := w.ranks(d)
	nx, ny := w.nx, w.ny
	dz := u - nx*ny/2
	corr := 0.0
	if correct {
		switch {
		case dz > 0:
			corr = 0.5
		case dz < 0:
			corr = -0.5
		}
	}
	sigma := math.Sqrt((nx * ny / 12) * ((nx + ny + 1) - ties/((nx+ny)*(nx+ny-1))))
	if sigma == 0 {
		return 0, errAllTied
	}
	return (dz - corr) / sigma, nil
}

// root returns the shift d at which the corrected statistic equals zq, or
// an end of [mumin, mumax] when the statistic does not cross zq inside it
// (R's root(), e.g. wilcox.test(1, 2:60, conf.int=TRUE)).
func (w *rankSum) root(zq float64) (float64, error) {
	fl, err := w.stat(w.mumin, true)
	if err != nil {
		return 0, err
	}
	if fl -= zq; fl <= 0 {
		return w.mumin, nil
	}
	fu, err := w.stat(w.mumax, true)
	if err != nil {
		return 0, err
	}
	if fu -= zq; fu >= 0 {
		return w.mumax, nil
	}
	return zeroin(w.mumin, w.mumax, fl, fu, func(d float64) (float64, error) {
		s, err := w.stat(d, true)
		return s - zq, err
	})
}

// estimate is the root of the uncorrected statistic (R sets correct <-
// FALSE before uniroot for the estimate).
func (w *rankSum) estimate() (float64, error) {
	f := func(d float64) (float64, error) { return w.stat(d, false) }
	fl, err := f(w.mumin)
	if err != nil {
		return 0, err
	}
	fu, err := f(w.mumax)
	if err != nil {
		return 0, err
	}
	if fl*fu > 0 {
		return 0, fmt.Errorf("mann-whitney: statistic has the same sign (%v, %v) at both ends of [%v, %v]", fl, fu, w.mumin, w.mumax)
	}
	return zeroin(w.mumin, w.mumax, fl, fu, f)
}

// zeroin is R's R_zeroin2 (src/library/stats/src/zeroin.c): Brent's root
// finder on [ax, bx] given f(ax) = fa and f(bx) = fb of opposite signs, to
// tolerance rootTolerance within rootMaxIter evaluations. It is a line-for-
// line port so that the roots of the (piecewise constant) Wilcoxon statistic
// land on the same points as R's and Kayenta's.
func zeroin(ax, bx, fa, fb float64, f func(float64) (float64, error)) (float64, error) {
	const eps = 2.220446049250313e-16 // DBL_EPSILON
	a, b := ax, bx
	c, fc := a, fa
	if fa == 0 {
		return a, nil
	}
	if fb == 0 {
		return b, nil
	}
	for range rootMaxIter + 1 {
		prevStep := b - a
		if math.Abs(fc) < math.Abs(fb) { // make b the best approximation
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tolAct := 2*eps*math.Abs(b) + rootTolerance/2
		newStep := (c - b) / 2
		if math.Abs(newStep) <= tolAct || fb == 0 {
			return b, nil
		}
		if math.Abs(prevStep) >= tolAct && math.Abs(fa) > math.Abs(fb) {
			// Interpolate: linear with two distinct points, inverse
			// quadratic with three.
			var p, q float64
			cb := c - b
			if a == c {
				t1 := fb / fa
				p = cb * t1
				q = 1 - t1
			} else {
				q = fa / fc
				t1 := fb / fc
				t2 := fb / fa
				p = t2 * (cb*q*(q-t1) - (b-a)*(t1-1))
				q = (q - 1) * (t1 - 1) * (t2 - 1)
			}
			if p > 0 {
				q = -q
			} else {
				p = -p
			}
			if p < 0.75*cb*q-math.Abs(tolAct*q)/2 && p < math.Abs(prevStep*q/2) {
				newStep = p / q
			}
		}
		if math.Abs(newStep) < tolAct {
			if newStep > 0 {
				newStep = tolAct
			} else {
				newStep = -tolAct
			}
		}
		a, fa = b, fb
		b += newStep
		var err error
		if fb, err = f(b); err != nil {
			return 0, err
		}
		if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
			c, fc = a, fa
		}
	}
	return 0, fmt.Errorf("mann-whitney: root finder did not converge in %d iterations (last point %v)", rootMaxIter, b)
}
