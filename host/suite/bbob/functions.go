package bbob

import (
	"math"
	"slices"
	"sort"
)

// The 24 functions. For each, setupFN precomputes what
// <file>_bbob_problem_allocate in numbbo/coco code-experiments/src builds,
// and evalFN applies the chain of transformations in the order COCO's
// wrapped problems apply them (the transformation added last is applied to
// x first), then the raw function, then the objective transformations.
// Scratch vectors live on the stack, so Eval allocates nothing.

// setup precomputes the data of p's function; rseed is the problem seed of
// suite_bbob.c.
func (p *Problem) setup(rseed int64) {
	d := p.dimension
	switch p.function {
	case 1: // f_sphere.c
		p.xopt = legacyXopt(rseed, d)
		p.eval = evalSphere
	case 2: // f_ellipsoid.c, f_ellipsoid_bbob_problem_allocate
		p.xopt = legacyXopt(rseed, d)
		p.lambda = exponentFactors(1.0e6, d)
		p.eval = evalEllipsoid
	case 3: // f_rastrigin.c, f_rastrigin_bbob_problem_allocate
		p.xopt = legacyXopt(rseed, d)
		p.lambda = conditioningFactors(10.0, d)
		p.eval = evalRastrigin
	case 4: // f_bueche_rastrigin.c; rseed is that of f3
		p.xopt = legacyXopt(rseed, d)
		// "This step is in the legacy C code but _not_ in the function
		// description": odd coordinates (1-based) of xopt are made positive.
		for i := 0; i < d; i += 2 {
			p.xopt[i] = math.Abs(p.xopt[i])
		}
		p.lambda = exponentFactors(math.Sqrt(10.0), d) // transform_vars_brs.c
		p.eval = evalBuecheRastrigin
	case 5: // f_linear_slope.c
		xopt := legacyXopt(rseed, d)
		p.best = make([]float64, d)
		p.lambda = make([]float64, d) // s_i, with the sign of the optimum
		base := math.Sqrt(100.0)
		for i := range xopt {
			if xopt[i] < 0 {
				p.best[i] = LowerBound
			} else {
				p.best[i] = UpperBound
			}
			exponent := float64(i) / (float64(d) - 1)
			if p.best[i] > 0 {
				p.lambda[i] = math.Pow(base, exponent)
			} else {
				p.lambda[i] = -math.Pow(base, exponent)
			}
		}
		p.eval = evalLinearSlope
	case 6: // f_attractive_sector.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		p.m = combine(p.rot1, exponentFactors(math.Sqrt(10.0), d), p.rot2, d)
		p.eval = evalAttractiveSector
	case 7: // f_step_ellipsoid.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		const condition = 100.0
		p.lambda = make([]float64, d) // c1 = sqrt((condition/10)^(i/(D-1)))
		p.weight = make([]float64, d) // condition^(i/(D-1)) of the core
		for i := range p.lambda {
			p.lambda[i] = math.Sqrt(math.Pow(condition/10., float64(i)/float64(d-1)))
			exponent := float64(i) / (float64(d) - 1.0)
			p.weight[i] = math.Pow(condition, exponent)
		}
		p.eval = evalStepEllipsoid
	case 8: // f_rosenbrock.c, f_rosenbrock_bbob_problem_allocate
		p.xopt = legacyXopt(rseed, d)
		for i := range p.xopt {
			p.xopt[i] *= 0.75
		}
		p.scale = math.Max(1.0, math.Sqrt(float64(d))/8.0)
		p.eval = evalRosenbrock
	case 9: // f_rosenbrock.c, f_rosenbrock_rotated_bbob_problem_allocate
		rot := legacyRotation(rseed, d)
		p.scale = math.Max(1.0, math.Sqrt(float64(d))/8.0)
		p.m = make([]float64, d*d)
		for i := range p.m {
			p.m[i] = p.scale * rot[i]
		}
		p.best = columnSums(rot, d, 2.*p.scale)
		p.eval = evalRosenbrockRotated
	case 10: // f_ellipsoid.c, f_ellipsoid_rotated_bbob_problem_allocate
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.lambda = exponentFactors(1.0e6, d)
		p.eval = evalEllipsoidRotated
	case 11: // f_discus.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.eval = evalDiscus
	case 12: // f_bent_cigar.c: xopt also uses rseed + 1000000
		p.xopt = legacyXopt(rseed+1000000, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.eval = evalBentCigar
	case 13: // f_sharp_ridge.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		p.m = combine(p.rot1, exponentFactors(math.Sqrt(10.0), d), p.rot2, d)
		p.eval = evalSharpRidge
	case 14: // f_different_powers.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.lambda = make([]float64, d)
		for i := range p.lambda {
			p.lambda[i] = 2.0 + (4.0*float64(i))/(float64(d)-1.0)
		}
		p.eval = evalDifferentPowers
	case 15: // f_rastrigin.c, f_rastrigin_rotated_bbob_problem_allocate
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		p.m = combine(p.rot1, exponentFactors(math.Sqrt(10.0), d), p.rot2, d)
		p.eval = evalRastriginRotated
	case 16: // f_weierstrass.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		const condition = 100.0
		p.m = combine(p.rot1, exponentFactors(1.0/math.Sqrt(condition), d), p.rot2, d)
		p.scale = 10.0 / float64(d) // penalty factor
		p.weier = newWeierstrassData()
		p.eval = evalWeierstrass
	case 17, 18: // f_schaffers.c, conditioning 10 (f17) or 1000 (f18)
		conditioning := 10.0
		if p.function == 18 {
			conditioning = 1000.0
		}
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		p.m = make([]float64, d*d)
		for i := 0; i < d; i++ {
			exponent := 1.0 * float64(i) / (float64(d) - 1.0)
			for j := 0; j < d; j++ {
				p.m[i*d+j] = p.rot2[i*d+j] * math.Pow(math.Sqrt(conditioning), exponent)
			}
		}
		p.eval = evalSchaffers
	case 19: // f_griewank_rosenbrock.c
		rot := legacyRotation(rseed, d)
		p.scale = math.Max(1., math.Sqrt(float64(d))/8.)
		p.m = make([]float64, d*d)
		for i := range p.m {
			p.m[i] = rot[i] * p.scale
		}
		// COCO sums the columns of the scaled matrix here; both agree for
		// D <= 64, where the scale is 1.
		p.best = columnSums(rot, d, 2.)
		p.eval = evalGriewankRosenbrock
	case 20: // f_schwefel.c, transform_vars_x_hat.c, transform_vars_z_hat.c
		u := legacyUnif(d, rseed)
		p.xopt = make([]float64, d)
		p.signs = make([]float64, d)
		p.best = make([]float64, d)
		for i := range p.xopt {
			p.xopt[i] = 0.5 * 4.2096874637
			p.signs[i] = 1
			if u[i]-0.5 < 0 {
				p.xopt[i] *= -1
				p.signs[i] = -1
			}
			// transform_vars_x_hat: COCO's best_parameter.
			p.best[i] = p.signs[i] * 0.5 * 4.2096874633
		}
		p.lambda = conditioningFactors(10.0, d)
		p.eval = evalSchwefel
	case 21: // f_gallagher.c with 101 peaks
		p.setupGallagher(rseed, 101)
	case 22: // f_gallagher.c with 21 peaks
		p.setupGallagher(rseed, 21)
	case 23: // f_katsuura.c
		p.xopt = legacyXopt(rseed, d)
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		p.m = combine(p.rot1, exponentFactors(math.Sqrt(100), d), p.rot2, d)
		p.eval = evalKatsuura
	case 24: // f_lunacek_bi_rastrigin.c
		p.rot1 = legacyRotation(rseed+1000000, d)
		p.rot2 = legacyRotation(rseed, d)
		const mu0 = 2.5
		g := legacyGauss(d, rseed)
		p.xopt = make([]float64, d)
		p.signs = make([]float64, d)
		for i := range p.xopt {
			p.xopt[i] = 0.5 * mu0
			p.signs[i] = 1
			if g[i] < 0.0 {
				p.xopt[i] *= -1.0
				p.signs[i] = -1
			}
		}
		const condition = 100.
		p.lambda = make([]float64, d)
		for i := range p.lambda {
			p.lambda[i] = math.Pow(math.Sqrt(condition), float64(i)/float64(d-1))
		}
		p.eval = evalLunacek
	}
	if p.best == nil {
		p.best = slices.Clone(p.xopt)
	}
}

// columnSums returns sum_i m[i][j] / div for every column j.
func columnSums(m []float64, d int, div float64) []float64 {
	s := make([]float64, d)
	for j := 0; j < d; j++ {
		tmp := 0.0
		for i := 0; i < d; i++ {
			tmp += m[i*d+j]
		}
		s[j] = tmp / div
	}
	return s
}

// rastriginRaw is f_rastrigin_raw (also f_bueche_rastrigin_raw).
func rastriginRaw(z []float64) float64 {
	sum1, sum2 := 0.0, 0.0
	for _, v := range z {
		sum1 += math.Cos(2 * math.Pi * v)
		sum2 += v * v
	}
	return 10.0*(float64(len(z))-sum1) + sum2
}

// ellipsoidRaw is f_ellipsoid_raw with w[i] = (10^6)^(i/(D-1)).
func ellipsoidRaw(z, w []float64) float64 {
	r := z[0] * z[0]
	for i := 1; i < len(z); i++ {
		r += w[i] * z[i] * z[i]
	}
	return r
}

// rosenbrockRaw is f_rosenbrock_raw.
func rosenbrockRaw(z []float64) float64 {
	s1, s2 := 0.0, 0.0
	for i := 0; i < len(z)-1; i++ {
		tmp := z[i]*z[i] - z[i+1]
		s1 += tmp * tmp
		tmp = z[i] - 1.0
		s2 += tmp * tmp
	}
	return 100.0*s1 + s2
}

func evalSphere(p *Problem, x []float64) float64 {
	r := 0.0
	for i, v := range x {
		t := v - p.xopt[i]
		r += t * t
	}
	return r + p.fopt
}

func evalEllipsoid(p *Problem, x []float64) float64 {
	var zb [MaxDimension]float64
	z := zb[:len(x)]
	shiftVec(z, x, p.xopt)
	toszVec(z)
	return ellipsoidRaw(z, p.lambda) + p.fopt
}

func evalRastrigin(p *Problem, x []float64) float64 {
	var zb [MaxDimension]float64
	z := zb[:len(x)]
	shiftVec(z, x, p.xopt)
	toszVec(z)
	tasyVec(z, 0.2)
	for i := range z {
		z[i] = p.lambda[i] * z[i]
	}
	return rastriginRaw(z) + p.fopt
}

func evalBuecheRastrigin(p *Problem, x []float64) float64 {
	var zb [MaxDimension]float64
	z := zb[:len(x)]
	shiftVec(z, x, p.xopt)
	toszVec(z)
	for i, v := range z {
		factor := p.lambda[i]
		if v > 0.0 && i%2 == 0 {
			factor *= 10.0
		}
		z[i] = factor * v
	}
	return rastriginRaw(z) + p.fopt + 100.0*penalty(x)
}

func evalLinearSlope(p *Problem, x []float64) float64 {
	r := 0.0
	for i, v := range x {
		si := p.lambda[i]
		if v*p.best[i] < 25.0 {
			r += 5.0*math.Abs(si) - si*v
		} else {
			r += 5.0*math.Abs(si) - si*p.best[i]
		}
	}
	return r + p.fopt
}

func evalAttractiveSector(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.m, v, 0)
	r := 0.0
	for i, zi := range z {
		if p.xopt[i]*zi > 0.0 {
			r += 100.0 * 100.0 * zi * zi
		} else {
			r += zi * zi
		}
	}
	return math.Pow(toszObj(r), 0.9) + p.fopt
}

func evalStepEllipsoid(p *Problem, x []float64) float64 {
	const alpha = 10.0
	d := len(x)
	var zb, zzb [MaxDimension]float64
	z := zb[:d]
	zz := zzb[:d]
	pen := 0.0
	for _, v := range x {
		tmp := math.Abs(v) - 5.0
		if tmp > 0.0 {
			pen += tmp * tmp
		}
	}
	for i := 0; i < d; i++ {
		c1 := p.lambda[i]
		acc := 0.0
		for j := 0; j < d; j++ {
			acc += c1 * p.rot2[i*d+j] * (x[j] - p.xopt[j])
		}
		z[i] = acc
	}
	x1 := z[0]
	for i, v := range z {
		if math.Abs(v) > 0.5 {
			z[i] = math.Floor(v + 0.5)
		} else {
			z[i] = math.Floor(alpha*v+0.5) / alpha
		}
	}
	affine(zz, p.rot1, z, 0)
	r := 0.0
	for i, v := range zz {
		r += p.weight[i] * v * v
	}
	return 0.1*math.Max(math.Abs(x1)*1.0e-4, r) + pen + p.fopt
}

func evalRosenbrock(p *Problem, x []float64) float64 {
	var zb [MaxDimension]float64
	z := zb[:len(x)]
	for i, v := range x {
		z[i] = p.scale*(v-p.xopt[i]) - (-1.0)
	}
	return rosenbrockRaw(z) + p.fopt
}

func evalRosenbrockRotated(p *Problem, x []float64) float64 {
	var zb [MaxDimension]float64
	z := zb[:len(x)]
	affine(z, p.m, x, 0.5)
	return rosenbrockRaw(z) + p.fopt
}

func evalEllipsoidRotated(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	toszVec(z)
	return ellipsoidRaw(z, p.lambda) + p.fopt
}

func evalDiscus(p *Problem, x []float64) float64 {
	const condition = 1.0e6
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	toszVec(z)
	r := condition * z[0] * z[0]
	for _, zi := range z[1:] {
		r += zi * zi
	}
	return r + p.fopt
}

func evalBentCigar(p *Problem, x []float64) float64 {
	const condition = 1.0e6
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	tasyVec(z, 0.5)
	affine(v, p.rot1, z, 0)
	r := v[0] * v[0]
	for _, zi := range v[1:] {
		r += condition * zi * zi
	}
	return r + p.fopt
}

func evalSharpRidge(p *Problem, x []float64) float64 {
	const alpha = 100.0
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.m, v, 0)
	r := 0.0
	for _, zi := range z[1:] {
		r += zi * zi
	}
	return alpha*math.Sqrt(r) + z[0]*z[0] + p.fopt
}

func evalDifferentPowers(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	sum := 0.0
	for i, zi := range z {
		sum += math.Pow(math.Abs(zi), p.lambda[i])
	}
	return math.Sqrt(sum) + p.fopt
}

func evalRastriginRotated(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	toszVec(z)
	tasyVec(z, 0.2)
	affine(v, p.m, z, 0)
	return rastriginRaw(v) + p.fopt
}

// weierstrassSummands is F_WEIERSTRASS_SUMMANDS.
const weierstrassSummands = 12

// weierstrassData is f_weierstrass_data_t: a_k = 0.5^k, b_k = 3^k and
// f0 = sum_k a_k cos(pi b_k).
type weierstrassData struct {
	f0     float64
	ak, bk [weierstrassSummands]float64
}

func newWeierstrassData() *weierstrassData {
	w := &weierstrassData{}
	for i := 0; i < weierstrassSummands; i++ {
		w.ak[i] = math.Pow(0.5, float64(i))
		w.bk[i] = math.Pow(3., float64(i))
		w.f0 += w.ak[i] * math.Cos(2*math.Pi*w.bk[i]*0.5)
	}
	return w
}

func evalWeierstrass(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	toszVec(z)
	affine(v, p.m, z, 0)
	w := p.weier
	r := 0.0
	for _, vi := range v {
		for j := 0; j < weierstrassSummands; j++ {
			r += math.Cos(2*math.Pi*(vi+0.5)*w.bk[j]) * w.ak[j]
		}
	}
	r = 10.0 * math.Pow(r/float64(len(x))-w.f0, 3.0)
	return r + p.fopt + p.scale*penalty(x)
}

func evalSchaffers(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	v := vb[:len(x)]
	z := zb[:len(x)]
	shiftVec(v, x, p.xopt)
	affine(z, p.rot1, v, 0)
	tasyVec(z, 0.5)
	affine(v, p.m, z, 0)
	r := 0.0
	for i := 0; i < len(v)-1; i++ {
		tmp := v[i]*v[i] + v[i+1]*v[i+1]
		r += math.Pow(tmp, 0.25) * (1.0 + math.Pow(math.Sin(50.0*math.Pow(tmp, 0.1)), 2.0))
	}
	r = math.Pow(r/(float64(len(v))-1.0), 2.0)
	return r + p.fopt + 10.0*penalty(x)
}

func evalGriewankRosenbrock(p *Problem, x []float64) float64 {
	const facftrue = 10.0
	var zb [MaxDimension]float64
	z := zb[:len(x)]
	affine(z, p.m, x, 0)
	for i := range z {
		z[i] -= -0.5
	}
	r := 0.0
	for i := 0; i < len(z)-1; i++ {
		c1 := z[i]*z[i] - z[i+1]
		c2 := 1.0 - z[i]
		tmp := 100.0*c1*c1 + c2*c2
		r += tmp/4000. - math.Cos(tmp)
	}
	return facftrue + facftrue*r/float64(len(z)-1) + p.fopt
}

func evalSchwefel(p *Problem, x []float64) float64 {
	d := len(x)
	var sb, zb [MaxDimension]float64
	s := sb[:d]
	z := zb[:d]
	// transform_vars_x_hat, then transform_vars_scale(2).
	for i, v := range x {
		if p.signs[i] < 0 {
			v = -v
		}
		s[i] = 2 * v
	}
	// transform_vars_z_hat.
	z[0] = s[0]
	for i := 1; i < d; i++ {
		z[i] = s[i] + 0.25*(s[i-1]-2.0*math.Abs(p.xopt[i-1]))
	}
	// shift by 2|xopt|, condition by 10, shift by -2|xopt|, scale by 100.
	for i := range z {
		t := z[i] - 2*math.Abs(p.xopt[i])
		t = p.lambda[i] * t
		t -= -2 * math.Abs(p.xopt[i])
		z[i] = 100 * t
	}
	pen, sum := 0.0, 0.0
	for _, v := range z {
		tmp := math.Abs(v) - 500.0
		if tmp > 0.0 {
			pen += tmp * tmp
		}
	}
	for _, v := range z {
		sum += v * math.Sin(math.Sqrt(math.Abs(v)))
	}
	r := 0.01 * (pen + 418.9828872724339 - sum/float64(d))
	return r + p.fopt
}

// gallagherData is the peak data of f_gallagher_data_t.
type gallagherData struct {
	peaks  int
	local  []float64 // peak i, coordinate j at i*d+j (x_local[j][i] in C)
	scales []float64 // arr_scales[i][j] at i*d+j
	values []float64 // peak_values
}

// setupGallagher follows f_gallagher_bbob_problem_allocate.
func (p *Problem) setupGallagher(rseed int64, peaks int) {
	d := p.dimension
	const maxcondition = 1000.
	maxcondition1 := 1000.
	fitvalues := [2]float64{1.1, 9.1}
	var b, c float64
	if peaks == 101 {
		maxcondition1 = math.Sqrt(maxcondition1)
		b, c = 10., 5.
	} else {
		b, c = 9.8, 4.9
	}
	g := &gallagherData{peaks: peaks}
	p.rot1 = legacyRotation(rseed, d)

	type perm struct {
		value float64
		index int
	}
	sortPerm := func(r []float64) []perm {
		ps := make([]perm, len(r))
		for i, v := range r {
			ps[i] = perm{v, i}
		}
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].value < ps[b].value })
		return ps
	}

	rperm := sortPerm(legacyUnif(peaks-1, rseed))
	arrCondition := make([]float64, peaks)
	arrCondition[0] = maxcondition1
	g.values = make([]float64, peaks)
	g.values[0] = 10
	for i := 1; i < peaks; i++ {
		arrCondition[i] = math.Pow(maxcondition, float64(rperm[i-1].index)/float64(peaks-2))
		g.values[i] = float64(i-1)/float64(peaks-2)*(fitvalues[1]-fitvalues[0]) + fitvalues[0]
	}

	g.scales = make([]float64, peaks*d)
	for i := 0; i < peaks; i++ {
		rp := sortPerm(legacyUnif(d, rseed+int64(1000*i)))
		for j := 0; j < d; j++ {
			g.scales[i*d+j] = math.Pow(arrCondition[i], float64(rp[j].index)/float64(d-1)-0.5)
		}
	}

	r := legacyUnif(d*peaks, rseed)
	p.best = make([]float64, d)
	g.local = make([]float64, peaks*d)
	for i := 0; i < d; i++ {
		p.best[i] = 0.8 * (b*r[i] - c)
		for j := 0; j < peaks; j++ {
			acc := 0.
			for k := 0; k < d; k++ {
				acc += p.rot1[i*d+k] * (b*r[j*d+k] - c)
			}
			if j == 0 {
				acc *= 0.8
			}
			g.local[j*d+i] = acc
		}
	}
	p.xopt = p.best
	p.gallagher = g
	p.eval = evalGallagher
}

func evalGallagher(p *Problem, x []float64) float64 {
	const a = 0.1
	d := len(x)
	g := p.gallagher
	fac := -0.5 / float64(d)
	fAdd := 0.0
	for _, v := range x {
		tmp := math.Abs(v) - 5.
		if tmp > 0. {
			fAdd += tmp * tmp
		}
	}
	var tb [MaxDimension]float64
	tmx := tb[:d]
	affine(tmx, p.rot1, x, 0)
	f := 0.
	for i := 0; i < g.peaks; i++ {
		local := g.local[i*d : i*d+d]
		scales := g.scales[i*d : i*d+d]
		tmp2 := 0.
		for j, v := range tmx {
			tmp := v - local[j]
			tmp2 += scales[j] * tmp * tmp
		}
		tmp2 = g.values[i] * math.Exp(fac*tmp2)
		if !(f >= tmp2) {
			f = tmp2
		}
	}
	f = 10. - f
	var fTrue float64
	switch {
	case f > 0:
		fTrue = math.Log(f) / a
		fTrue = math.Pow(math.Exp(fTrue+0.49*(math.Sin(fTrue)+math.Sin(0.79*fTrue))), a)
	case f < 0:
		fTrue = math.Log(-f) / a
		fTrue = -math.Pow(math.Exp(fTrue+0.49*(math.Sin(0.55*fTrue)+math.Sin(0.31*fTrue))), a)
	default:
		fTrue = f
	}
	fTrue *= fTrue
	fTrue += fAdd
	return fTrue + p.fopt
}

func evalKatsuura(p *Problem, x []float64) float64 {
	var vb, zb [MaxDimension]float64
	d := len(x)
	v := vb[:d]
	z := zb[:d]
	shiftVec(v, x, p.xopt)
	affine(z, p.m, v, 0)
	r := 1.0
	for i, zi := range z {
		tmp := 0.0
		for j := 1; j < 33; j++ {
			tmp2 := math.Pow(2., float64(j))
			tmp += math.Abs(tmp2*zi-math.Floor(tmp2*zi+0.5)) / tmp2
		}
		tmp = 1.0 + (float64(i)+1)*tmp
		r *= tmp
	}
	fd := float64(d)
	r = 10. / fd / fd * (-1. + math.Pow(r, 10./math.Pow(fd, 1.2)))
	return r + p.fopt + 1.0*penalty(x)
}

func evalLunacek(p *Problem, x []float64) float64 {
	const (
		mu0 = 2.5
		dd  = 1.
	)
	n := len(x)
	fn := float64(n)
	s := 1. - 0.5/(math.Sqrt(float64(n+20))-4.1)
	mu1 := -math.Sqrt((mu0*mu0 - dd) / s)
	pen := 0.0
	for _, v := range x {
		tmp := math.Abs(v) - 5.0
		if tmp > 0.0 {
			pen += tmp * tmp
		}
	}
	var hb, tb, zb [MaxDimension]float64
	xHat := hb[:n]
	tmpvect := tb[:n]
	z := zb[:n]
	for i, v := range x {
		xHat[i] = 2. * v
		if p.xopt[i] < 0. {
			xHat[i] *= -1.
		}
	}
	for i := 0; i < n; i++ {
		c1 := p.lambda[i]
		acc := 0.0
		for j := 0; j < n; j++ {
			acc += c1 * p.rot2[i*n+j] * (xHat[j] - mu0)
		}
		tmpvect[i] = acc
	}
	affine(z, p.rot1, tmpvect, 0)
	sum1, sum2, sum3 := 0., 0., 0.
	for i := 0; i < n; i++ {
		sum1 += (xHat[i] - mu0) * (xHat[i] - mu0)
		sum2 += (xHat[i] - mu1) * (xHat[i] - mu1)
		sum3 += math.Cos(2 * math.Pi * z[i])
	}
	r := math.Min(sum1, dd*fn+s*sum2) + 10.*(fn-sum3) + 1e4*pen
	return r + p.fopt
}
