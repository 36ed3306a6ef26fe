package bbob

import "math"

// This file follows numbbo/coco code-experiments/src/suite_bbob_legacy_code.c,
// the BBOB-2009 legacy code that every bbob function in COCO builds on:
// the pseudo-random generator (bbob2009_unif, bbob2009_gauss), the random
// rotations (bbob2009_compute_rotation), the location of the optimum
// (bbob2009_compute_xopt) and the objective offset (bbob2009_compute_fopt).
//
// C's long is 64 bits on the platforms COCO's reference data comes from, so
// int64 reproduces it; every floating-point operation is written in the same
// order as in C so that the results agree to the last bit wherever the
// elementary functions (log, cos, sqrt) do.

// legacyUnif is bbob2009_unif: n uniform numbers in (0, 1] from a
// Park-Miller minimal standard generator with a 32-slot shuffle table
// (Bays-Durham), seeded with inseed.
func legacyUnif(n int, inseed int64) []float64 {
	if inseed < 0 {
		inseed = -inseed
	}
	if inseed < 1 {
		inseed = 1
	}
	aktseed := inseed
	var rgrand [32]int64
	for i := 39; i >= 0; i-- {
		tmp := int64(math.Floor(float64(aktseed) / 127773))
		aktseed = 16807*(aktseed-tmp*127773) - 2836*tmp
		if aktseed < 0 {
			aktseed += 2147483647
		}
		if i < 32 {
			rgrand[i] = aktseed
		}
	}
	aktrand := rgrand[0]
	r := make([]float64, n)
	for i := range r {
		tmp := int64(math.Floor(float64(aktseed) / 127773))
		aktseed = 16807*(aktseed-tmp*127773) - 2836*tmp
		if aktseed < 0 {
			aktseed += 2147483647
		}
		tmp = int64(math.Floor(float64(aktrand) / 67108865))
		aktrand = rgrand[tmp]
		rgrand[tmp] = aktseed
		r[i] = float64(aktrand) / 2.147483647e9
		if r[i] == 0 {
			r[i] = 1e-99
		}
	}
	return r
}

// legacyGauss is bbob2009_gauss: n standard normal numbers by the
// Box-Muller transform of 2n numbers from legacyUnif(2n, seed).
func legacyGauss(n int, seed int64) []float64 {
	u := legacyUnif(2*n, seed)
	g := make([]float64, n)
	for i := range g {
		g[i] = math.Sqrt(-2*math.Log(u[i])) * math.Cos(2*math.Pi*u[n+i])
		if g[i] == 0 {
			g[i] = 1e-99
		}
	}
	return g
}

// legacyRotation is bbob2009_compute_rotation: a d×d orthogonal matrix,
// row-major (element [i][j] at i*d+j), obtained by Gram-Schmidt
// orthonormalisation of the columns of a Gaussian matrix. The Gaussian
// numbers fill the matrix column by column (bbob2009_reshape).
func legacyRotation(seed int64, d int) []float64 {
	g := legacyGauss(d*d, seed)
	b := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			b[i*d+j] = g[j*d+i]
		}
	}
	for i := 0; i < d; i++ {
		for j := 0; j < i; j++ {
			prod := 0.0
			for k := 0; k < d; k++ {
				prod += b[k*d+i] * b[k*d+j]
			}
			for k := 0; k < d; k++ {
				b[k*d+i] -= prod * b[k*d+j]
			}
		}
		prod := 0.0
		for k := 0; k < d; k++ {
			prod += b[k*d+i] * b[k*d+i]
		}
		for k := 0; k < d; k++ {
			b[k*d+i] /= math.Sqrt(prod)
		}
	}
	return b
}

// legacyXopt is bbob2009_compute_xopt: a point on the grid of step 8e-4 in
// [-4, 4), with an exact zero replaced by -1e-5.
func legacyXopt(seed int64, d int) []float64 {
	x := legacyUnif(d, seed)
	for i := range x {
		x[i] = 8*math.Floor(1e4*x[i])/1e4 - 4
		if x[i] == 0 {
			x[i] = -1e-5
		}
	}
	return x
}

// legacyFopt is bbob2009_compute_fopt: the objective offset of a noiseless
// function, a Cauchy-distributed number rounded to 0.01 and clipped to
// [-1000, 1000]. f4 and f18 draw theirs with the seeds of f3 and f17.
func legacyFopt(function, instance int) float64 {
	rseed := int64(function)
	switch function {
	case 4:
		rseed = 3
	case 18:
		rseed = 17
	}
	rrseed := rseed + int64(10000*instance)
	gval := legacyGauss(1, rrseed)[0]
	gval2 := legacyGauss(1, rrseed+1)[0]
	return math.Min(1000, math.Max(-1000, math.Floor(100*100*gval/gval2+0.5)/100))
}
