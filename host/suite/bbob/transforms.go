package bbob

import "math"

// The transformations of the BBOB definitions. Each follows one COCO file in
// numbbo/coco code-experiments/src and keeps its order of floating-point
// operations.

// tosz is T_osz of one coordinate, transform_vars_oscillate.c.
func tosz(x float64) float64 {
	const alpha = 0.1
	switch {
	case x > 0:
		tmp := math.Log(x) / alpha
		base := math.Exp(tmp + 0.49*(math.Sin(tmp)+math.Sin(0.79*tmp)))
		return math.Pow(base, alpha)
	case x < 0:
		tmp := math.Log(-x) / alpha
		base := math.Exp(tmp + 0.49*(math.Sin(0.55*tmp)+math.Sin(0.31*tmp)))
		return -math.Pow(base, alpha)
	}
	return 0
}

// toszVec applies T_osz to every coordinate of x in place.
func toszVec(x []float64) {
	for i, v := range x {
		x[i] = tosz(v)
	}
}

// toszObj is T_osz of an objective value, transform_obj_oscillate.c.
func toszObj(y float64) float64 {
	const factor = 0.1
	if y == 0 {
		return y
	}
	logY := math.Log(math.Abs(y)) / factor
	if y > 0 {
		return math.Pow(math.Exp(logY+0.49*(math.Sin(logY)+math.Sin(0.79*logY))), factor)
	}
	return -math.Pow(math.Exp(logY+0.49*(math.Sin(0.55*logY)+math.Sin(0.31*logY))), factor)
}

// tasyVec applies T_asy^beta in place, transform_vars_asymmetric.c.
func tasyVec(x []float64, beta float64) {
	d := float64(len(x))
	for i, v := range x {
		if v > 0 {
			exponent := 1.0 + (beta*float64(i))/(d-1.0)*math.Sqrt(v)
			x[i] = math.Pow(v, exponent)
		}
	}
}

// conditioningFactors returns the diagonal of Λ^alpha,
// alpha^(0.5 i/(D-1)), as transform_vars_conditioning.c computes it.
func conditioningFactors(alpha float64, d int) []float64 {
	f := make([]float64, d)
	for i := range f {
		f[i] = math.Pow(alpha, 0.5*float64(i)/(float64(d)-1.0))
	}
	return f
}

// exponentFactors returns base^(i/(D-1)) for i in [0, D), the form in which
// the legacy code writes most diagonal scalings (base = sqrt(10), 1/sqrt(100),
// 10^6, ...).
func exponentFactors(base float64, d int) []float64 {
	f := make([]float64, d)
	for i := range f {
		exponent := 1.0 * float64(i) / (float64(d) - 1.0)
		f[i] = math.Pow(base, exponent)
	}
	return f
}

// penalty is f_pen, the squared distance to the box [-5, 5]^D,
// transform_obj_penalize.c (and the inline copies in f_step_ellipsoid.c,
// f_gallagher.c and f_lunacek_bi_rastrigin.c, which compute the same sum).
func penalty(x []float64) float64 {
	p := 0.0
	for _, v := range x {
		c1 := v - 5
		c2 := -5 - v
		if c1 > 0 {
			p += c1 * c1
		} else if c2 > 0 {
			p += c2 * c2
		}
	}
	return p
}

// shiftVec sets dst = x - offset, transform_vars_shift.c.
func shiftVec(dst, x, offset []float64) {
	for i := range dst {
		dst[i] = x[i] - offset[i]
	}
}

// affine sets dst = M x + b for a row-major d×d M and a constant b,
// transform_vars_affine.c (the accumulator starts at b[i]). dst and x must
// not overlap.
func affine(dst, m, x []float64, b float64) {
	d := len(dst)
	for i := range dst {
		row := m[i*d : i*d+d]
		acc := b
		for j, v := range x {
			acc += v * row[j]
		}
		dst[i] = acc
	}
}

// combine returns the row-major product R diag(lambda) Q in the order of the
// legacy loops: M[i][j] = sum_k R[i][k]*lambda[k]*Q[k][j].
func combine(r []float64, lambda []float64, q []float64, d int) []float64 {
	m := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			acc := 0.0
			for k := 0; k < d; k++ {
				acc += r[i*d+k] * lambda[k] * q[k*d+j]
			}
			m[i*d+j] = acc
		}
	}
	return m
}
