package cmaes

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Equation and table numbers below refer to N. Hansen, "The CMA Evolution
// Strategy: A Tutorial", arXiv:1604.00772 (the tutorial), Table 1 and
// Appendix A/B. The stopping criteria are those of its Appendix B.3, which
// come from Auger & Hansen 2005 and Hansen 2009 (BBOB).

// params are the strategy parameters of one run, Table 1 of the tutorial;
// they depend only on the dimension n and the population size λ.
type params struct {
	n, lambda, mu int
	w             []float64 // λ recombination weights, positive then negative
	sumW          float64   // Σ w_i over all λ (used in the C update)
	mueff         float64   // variance effective selection mass of the positive weights
	cc, cs        float64   // cumulation constants for p_c and p_σ
	c1, cmu       float64   // learning rates of the rank-one and rank-μ updates
	ds            float64   // damping of the step-size update
	chiN          float64   // E‖N(0, I)‖
	eigenEvery    int       // generations between eigendecompositions (B.2)
}

// defaultLambda is λ = 4 + ⌊3 ln n⌋ (Table 1).
func defaultLambda(n int) int {
	if n < 1 {
		return 4
	}
	return 4 + int(math.Floor(3*math.Log(float64(n))))
}

func newParams(n, lambda int) params {
	p := params{n: n, lambda: lambda, mu: lambda / 2, eigenEvery: 1}
	if n == 0 {
		return p // nothing to adapt
	}
	N := float64(n)
	// Preliminary weights w'_i = ln((λ+1)/2) - ln i, i = 1..λ.
	wp := make([]float64, lambda)
	for i := range wp {
		wp[i] = math.Log(float64(lambda+1)/2) - math.Log(float64(i+1))
	}
	sum, sq, sumNeg, sqNeg := 0.0, 0.0, 0.0, 0.0
	for i, w := range wp {
		if i < p.mu {
			sum += w
			sq += w * w
		} else {
			sumNeg += w
			sqNeg += w * w
		}
	}
	p.mueff = sum * sum / sq
	mueffNeg := 0.0
	if sqNeg > 0 {
		mueffNeg = sumNeg * sumNeg / sqNeg
	}
	const alphaCov = 2
	p.c1 = alphaCov / ((N+1.3)*(N+1.3) + p.mueff)
	p.cmu = math.Min(1-p.c1, alphaCov*(0.25+p.mueff+1/p.mueff-2)/((N+2)*(N+2)+alphaCov*p.mueff/2))
	p.cs = (p.mueff + 2) / (N + p.mueff + 5)
	p.ds = 1 + 2*math.Max(0, math.Sqrt((p.mueff-1)/(N+1))-1) + p.cs
	p.cc = (4 + p.mueff/N) / (N + 4 + 2*p.mueff/N)
	p.chiN = math.Sqrt(N) * (1 - 1/(4*N) + 1/(21*N*N))

	// Final weights: the positive ones sum to 1; the negative ones sum to
	// -min(α_μ⁻, α_μeff⁻, α_posdef⁻).
	alphaMu := 1 + p.c1/p.cmu
	alphaMueff := 1 + 2*mueffNeg/(p.mueff+2)
	alphaPosdef := (1 - p.c1 - p.cmu) / (N * p.cmu)
	alphaNeg := math.Min(alphaMu, math.Min(alphaMueff, alphaPosdef))
	pos, neg := 0.0, 0.0
	for _, w := range wp {
		if w > 0 {
			pos += w
		} else {
			neg -= w
		}
	}
	p.w = make([]float64, lambda)
	for i, w := range wp {
		if w >= 0 {
			p.w[i] = w / pos
		} else {
			p.w[i] = alphaNeg * w / neg
		}
		p.sumW += p.w[i]
	}
	p.eigenEvery = max(1, int(math.Floor(1/(10*N*(p.c1+p.cmu)))))
	return p
}

// run is the state of one CMA-ES run (one restart). It is part of the
// snapshot, so every field is exported to JSON.
type run struct {
	Regime string  `json:"regime"` // "first", "large" or "small" (BIPOP), "ipop"
	Lambda int     `json:"lambda"`
	Sigma0 float64 `json:"sigma0"`
	MaxGen int     `json:"maxGen"` // MaxIter: the run stops after this many generations
	G      int     `json:"g"`      // generations completed
	Evals  int     `json:"evals"`  // evaluations used (λ per generation)

	Mean   []float64 `json:"mean"`
	Sigma  float64   `json:"sigma"`
	Ps     []float64 `json:"ps"`
	Pc     []float64 `json:"pc"`
	C      symmetric `json:"c"`           // n×n, row-major
	B      packed    `json:"b,omitempty"` // n×n, eigenvectors of C as columns
	D      []float64 `json:"d"`           // square roots of C's eigenvalues
	EigenG int       `json:"eigenG"`      // G at the last eigendecomposition
	// Fresh says B and D are the eigendecomposition of the current C (C
	// has not changed since): the snapshot then leaves B out and Restore
	// recomputes it, which gives the same bits.
	Fresh bool `json:"fresh"`

	BestHist   packed `json:"bestHist"`   // best f per generation, newest last
	MedianHist packed `json:"medianHist"` // median f per generation
	Stop       string `json:"stop,omitempty"`
}

// newRun starts a run at mean with step size sigma0 and C = I.
func newRun(n, lambda int, sigma0 float64, mean []float64, regime string, maxGen int) *run {
	r := &run{
		Regime: regime, Lambda: lambda, Sigma0: sigma0, MaxGen: maxGen,
		Mean: mean, Sigma: sigma0,
		Ps: make([]float64, n), Pc: make([]float64, n),
		C: make(symmetric, n*n), B: make(packed, n*n), D: make([]float64, n),
	}
	for i := range n {
		r.C[i*n+i], r.B[i*n+i], r.D[i] = 1, 1, 1
	}
	return r
}

// maxIter is MaxIter = 100 + 50 (n+3)² / √λ generations (Hansen 2009).
func maxIter(n, lambda int) int {
	return int(math.Ceil(100 + 50*float64((n+3)*(n+3))/math.Sqrt(float64(lambda))))
}

// check reports whether the run's state is consistent with dimension n.
func (r *run) check(n int) error {
	switch {
	case r.Lambda < 2:
		return fmt.Errorf("lambda %d is below 2", r.Lambda)
	case len(r.Mean) != n || len(r.Ps) != n || len(r.Pc) != n || len(r.D) != n:
		return fmt.Errorf("vectors do not have the dimension %d", n)
	case len(r.C) != n*n || len(r.B) != n*n && !(len(r.B) == 0 && r.Fresh):
		return fmt.Errorf("matrices are not %d×%d", n, n)
	case !(r.Sigma > 0) || !(r.Sigma0 > 0):
		return errors.New("sigma must be positive")
	case r.G < 0 || r.EigenG < 0 || r.EigenG > r.G || r.Evals < 0:
		return errors.New("negative or inconsistent counters")
	}
	return nil
}

// sample returns x = m + σ B (D ∘ z) for z ~ N(0, I) given as z.
func (r *run) sample(n int, z []float64) []float64 {
	dz := make([]float64, n)
	for i := range n {
		dz[i] = r.D[i] * z[i]
	}
	x := make([]float64, n)
	for i := range n {
		s := 0.0
		row := r.B[i*n : i*n+n]
		for j, v := range dz {
			s += row[j] * v
		}
		x[i] = r.Mean[i] + r.Sigma*s
	}
	return x
}

// invSqrtC returns C^{-1/2} v = B D⁻¹ Bᵀ v with the current B and D.
func (r *run) invSqrtC(n int, v []float64) []float64 {
	t := make([]float64, n)
	for j := range n {
		s := 0.0
		for i := range n {
			s += r.B[i*n+j] * v[i]
		}
		t[j] = s / r.D[j]
	}
	out := make([]float64, n)
	for i := range n {
		s := 0.0
		for j := range n {
			s += r.B[i*n+j] * t[j]
		}
		out[i] = s
	}
	return out
}

// tell updates the distribution from the λ evaluated points xs with values
// fs (lower is better; +Inf for a failed evaluation), then checks the
// stopping criteria and records the first that holds in r.Stop.
func (r *run) tell(p params, xs [][]float64, fs []float64) {
	n, lambda := p.n, p.lambda
	order := make([]int, lambda)
	for i := range order {
		order[i] = i
	}
	// Rank by f; ties keep the sampling order, so the update is a function
	// of the values alone.
	sort.SliceStable(order, func(a, b int) bool { return fs[order[a]] < fs[order[b]] })
	sorted := make([]float64, lambda)
	for i, k := range order {
		sorted[i] = fs[k]
	}
	r.G++
	r.Evals += lambda
	r.BestHist = append(r.BestHist, sorted[0])
	r.MedianHist = append(r.MedianHist, sorted[lambda/2])

	if !math.IsInf(sorted[0], 1) { // at least one evaluation succeeded
		r.update(p, xs, order)
		// Flat fitness (tutorial B.4 and its purecmaes.m): if the best and
		// the ⌈0.7λ⌉-th best are equal, enlarge σ to escape the plateau.
		if sorted[0] == sorted[int(math.Ceil(0.7*float64(lambda)))-1] {
			r.Sigma *= math.Exp(0.2 + p.cs/p.ds)
		}
		// Eigendecomposition every max(1, ⌊1/(10n(c1+cμ))⌋) generations
		// (B.2), which keeps the cost per generation at O(n²) amortised.
		if r.G-r.EigenG >= p.eigenEvery {
			if err := r.decompose(n); err != nil {
				r.Stop = "Numerics"
			}
		}
	}
	r.trimHistory(p)
	if r.Stop == "" {
		r.Stop = r.stopCriterion(p, sorted)
	}
}

// update is one generation of the (μ/μ_w, λ)-CMA-ES with weighted
// recombination, cumulative step-size adaptation and the rank-one and
// rank-μ covariance updates with negative weights (tutorial, Appendix A,
// equations (39) to (47)); order lists the samples best first.
func (r *run) update(p params, xs [][]float64, order []int) {
	n, lambda, mu := p.n, p.lambda, p.mu
	// y_{i:λ} = (x_{i:λ} - m) / σ
	ys := make([][]float64, lambda)
	for i, k := range order {
		y := make([]float64, n)
		for j := range n {
			y[j] = (xs[k][j] - r.Mean[j]) / r.Sigma
		}
		ys[i] = y
	}
	// ⟨y⟩_w = Σ_{i≤μ} w_i y_{i:λ}  (41);  m ← m + c_m σ ⟨y⟩_w with c_m = 1 (42)
	yw := make([]float64, n)
	for i := range mu {
		for j := range n {
			yw[j] += p.w[i] * ys[i][j]
		}
	}
	for j := range n {
		r.Mean[j] += r.Sigma * yw[j]
	}
	// p_σ ← (1-c_σ) p_σ + √(c_σ(2-c_σ)μ_eff) C^{-1/2} ⟨y⟩_w  (43)
	cy := r.invSqrtC(n, yw)
	a := math.Sqrt(p.cs * (2 - p.cs) * p.mueff)
	psNorm := 0.0
	for j := range n {
		r.Ps[j] = (1-p.cs)*r.Ps[j] + a*cy[j]
		psNorm += r.Ps[j] * r.Ps[j]
	}
	psNorm = math.Sqrt(psNorm)
	// h_σ = 1 if ‖p_σ‖ / √(1-(1-c_σ)^{2(g+1)}) < (1.4 + 2/(n+1)) E‖N(0,I)‖
	hsig := 0.0
	if psNorm/math.Sqrt(1-math.Pow(1-p.cs, 2*float64(r.G))) < (1.4+2/float64(n+1))*p.chiN {
		hsig = 1
	}
	// p_c ← (1-c_c) p_c + h_σ √(c_c(2-c_c)μ_eff) ⟨y⟩_w  (45)
	b := hsig * math.Sqrt(p.cc*(2-p.cc)*p.mueff)
	for j := range n {
		r.Pc[j] = (1-p.cc)*r.Pc[j] + b*yw[j]
	}
	// w°_i = w_i · (1 if w_i ≥ 0 else n / ‖C^{-1/2} y_{i:λ}‖²)  (46)
	wo := make([]float64, lambda)
	for i := range lambda {
		wo[i] = p.w[i]
		if p.w[i] < 0 {
			q := r.invSqrtC(n, ys[i])
			sq := 0.0
			for _, v := range q {
				sq += v * v
			}
			if sq > 0 {
				wo[i] *= float64(n) / sq
			} else {
				wo[i] = 0 // y = 0 adds nothing to the rank-μ sum anyway
			}
		}
	}
	// C ← (1 + c1 δ(h_σ) - c1 - c_μ Σw_j) C + c1 p_c p_cᵀ + c_μ Σ w°_i y_i y_iᵀ  (47)
	// with δ(h_σ) = (1-h_σ) c_c (2-c_c).
	delta := (1 - hsig) * p.cc * (2 - p.cc)
	decay := 1 + p.c1*delta - p.c1 - p.cmu*p.sumW
	for i := range n {
		for j := 0; j <= i; j++ {
			s := 0.0
			for k := range lambda {
				if wo[k] != 0 {
					s += wo[k] * ys[k][i] * ys[k][j]
				}
			}
			v := decay*r.C[i*n+j] + p.c1*r.Pc[i]*r.Pc[j] + p.cmu*s
			r.C[i*n+j] = v
			r.C[j*n+i] = v
		}
	}
	r.Fresh = false
	// σ ← σ exp((c_σ/d_σ)(‖p_σ‖/E‖N(0,I)‖ - 1))  (44)
	r.Sigma *= math.Exp((p.cs / p.ds) * (psNorm/p.chiN - 1))
}

// decompose computes B and D from C. Eigenvalues that rounding made
// non-positive are raised to a tiny positive value, which ConditionCov then
// reports.
func (r *run) decompose(n int) error {
	vals, b, err := eigenSym(n, r.C)
	if err != nil {
		return err
	}
	top := vals[n-1]
	if !(top > 0) {
		return errors.New("covariance matrix is not positive definite")
	}
	for i, v := range vals {
		r.D[i] = math.Sqrt(math.Max(v, top*1e-20))
	}
	r.B = b
	r.EigenG = r.G
	r.Fresh = true
	return nil
}

// histLen is the number of generations of the stagnation window, 20% of the
// generations but at least 120 + 30n/λ and at most 20000 (B.3).
func histLen(p params, g int) int {
	return min(20000, max(stagnationMin(p), int(math.Ceil(0.2*float64(g)))))
}

func stagnationMin(p params) int {
	return 120 + int(math.Ceil(30*float64(p.n)/float64(p.lambda)))
}

// tolFunGens is 10 + ⌈30n/λ⌉, the history of TolFun and EqualFunValues.
func tolFunGens(p params) int {
	return 10 + int(math.Ceil(30*float64(p.n)/float64(p.lambda)))
}

// trimHistory drops what no criterion will read again: the window grows by
// at most one generation per generation.
func (r *run) trimHistory(p params) {
	keep := histLen(p, r.G+1)
	if d := len(r.BestHist) - keep; d > 0 {
		r.BestHist = slices.Clone(r.BestHist[d:])
		r.MedianHist = slices.Clone(r.MedianHist[d:])
	}
}

// Stopping thresholds (tutorial B.3; Hansen 2009).
const (
	tolFun        = 1e-12 // TolFun, absolute
	tolXFactor    = 1e-12 // TolX = 1e-12 σ0
	tolXUp        = 1e4   // TolXUp: σ·max(D) grew by more than this
	conditionCov  = 1e14  // ConditionCov
	noEffectAxis  = 0.1   // NoEffectAxis: 0.1 standard deviation
	noEffectCoord = 0.2   // NoEffectCoord: 0.2 standard deviation
)

// stopCriterion returns the name of the first stopping criterion that holds
// after a generation with sorted values fs, or "".
func (r *run) stopCriterion(p params, fs []float64) string {
	n := p.n
	if r.MaxGen > 0 && r.G >= r.MaxGen {
		return "MaxIter"
	}
	if !(r.Sigma > 0) || math.IsInf(r.Sigma, 0) || !finite(r.Mean) || !finite(r.C) || !finite(r.Pc) || !finite(r.Ps) || !finite(r.D) {
		return "Numerics"
	}
	// TolFun and EqualFunValues: the range of the best values of the last
	// 10 + ⌈30n/λ⌉ generations (and, for TolFun, of all values of this one).
	if k := tolFunGens(p); r.G >= k && len(r.BestHist) >= k {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range r.BestHist[len(r.BestHist)-k:] {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if spread(lo, hi) == 0 {
			return "EqualFunValues"
		}
		for _, v := range fs {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if spread(lo, hi) < tolFun {
			return "TolFun"
		}
	}
	// TolX: σ√c_ii and σ|p_c,i| below TolX in every coordinate.
	tolX := tolXFactor * r.Sigma0
	small := true
	for i := range n {
		if r.Sigma*math.Sqrt(r.C[i*n+i]) >= tolX || r.Sigma*math.Abs(r.Pc[i]) >= tolX {
			small = false
			break
		}
	}
	if small {
		return "TolX"
	}
	maxD, minD := slices.Max(r.D), slices.Min(r.D)
	if r.Sigma*maxD > tolXUp*r.Sigma0 {
		return "TolXUp"
	}
	if (maxD/minD)*(maxD/minD) > conditionCov {
		return "ConditionCov"
	}
	// NoEffectAxis: adding 0.1σ d_i b_i, i = g mod n, leaves m unchanged.
	ax := r.G % n
	same := true
	for j := range n {
		if r.Mean[j]+noEffectAxis*r.Sigma*r.D[ax]*r.B[j*n+ax] != r.Mean[j] {
			same = false
			break
		}
	}
	if same {
		return "NoEffectAxis"
	}
	// NoEffectCoord: adding 0.2σ√c_ii to any m_i leaves it unchanged.
	for i := range n {
		if r.Mean[i]+noEffectCoord*r.Sigma*math.Sqrt(r.C[i*n+i]) == r.Mean[i] {
			return "NoEffectCoord"
		}
	}
	// Stagnation: over the window, the median of the newest 30% of the best
	// and of the median values is no better than that of the oldest 30%.
	if r.G >= stagnationMin(p) {
		w := min(histLen(p, r.G), len(r.BestHist))
		if stagnated(r.BestHist[len(r.BestHist)-w:]) && stagnated(r.MedianHist[len(r.MedianHist)-w:]) {
			return "Stagnation"
		}
	}
	return ""
}

// spread is hi - lo, 0 when they are equal (infinities included).
func spread(lo, hi float64) float64 {
	if lo == hi {
		return 0
	}
	return hi - lo
}

func stagnated(h []float64) bool {
	k := int(math.Ceil(0.3 * float64(len(h))))
	return median(h[len(h)-k:]) >= median(h[:k])
}

func median(h []float64) float64 {
	s := slices.Clone(h)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 || s[m-1] == s[m] || math.IsInf(s[m-1], 0) || math.IsInf(s[m], 0) {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
