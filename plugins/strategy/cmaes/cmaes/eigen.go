package cmaes

import (
	"errors"
	"math"
	"sort"
)

// eigenSym computes the eigendecomposition A = B diag(values) Bᵀ of the
// symmetric n×n matrix a (row-major; only its lower triangle is read, as if
// the upper one mirrored it). It returns the eigenvalues in ascending order
// and B row-major with the unit eigenvectors as columns, in the same order.
// a is not modified.
//
// The method is the classical one for dense symmetric matrices: Householder
// reduction to tridiagonal form followed by the implicit QL algorithm with
// Wilkinson-style shifts (Wilkinson and Reinsch, Handbook for Automatic
// Computation vol. II, routines tred2 and tql2), written here from the
// algorithm's description. It costs about 9n³ flops and is backward stable.
func eigenSym(n int, a []float64) (values, b []float64, err error) {
	if len(a) != n*n {
		return nil, nil, errors.New("eigen: matrix has the wrong size")
	}
	for _, x := range a {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil, errors.New("eigen: matrix has a non-finite entry")
		}
	}
	if n == 0 {
		return nil, nil, nil
	}
	v := make([]float64, n*n)
	for i := range n {
		for j := 0; j <= i; j++ {
			v[i*n+j] = a[i*n+j]
			v[j*n+i] = a[i*n+j]
		}
	}
	d := make([]float64, n)
	e := make([]float64, n)
	tridiagonalize(n, v, d, e)
	// The QL rotations combine pairs of columns of v: work on its transpose,
	// whose rows are those columns, so that the inner loop runs over
	// contiguous memory.
	w := make([]float64, n*n)
	for i := range n {
		for j := range n {
			w[j*n+i] = v[i*n+j]
		}
	}
	if err := implicitQL(n, w, d, e); err != nil {
		return nil, nil, err
	}
	// Sort ascending, carrying the columns along.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return d[idx[x]] < d[idx[y]] })
	values = make([]float64, n)
	b = make([]float64, n*n)
	for c, src := range idx {
		values[c] = d[src]
		for r := range n {
			b[r*n+c] = w[src*n+r]
		}
	}
	return values, b, nil
}

// tridiagonalize reduces the symmetric matrix in v to tridiagonal form by
// Householder reflections. On return d holds the diagonal, e[1:] the
// subdiagonal (e[0] = 0) and v the orthogonal matrix of the accumulated
// transformations.
func tridiagonalize(n int, v, d, e []float64) {
	for j := range n {
		d[j] = v[(n-1)*n+j]
	}
	for i := n - 1; i > 0; i-- {
		scale, h := 0.0, 0.0
		for k := range i {
			scale += math.Abs(d[k])
		}
		if scale == 0 {
			e[i] = d[i-1]
			for j := range i {
				d[j] = v[(i-1)*n+j]
				v[i*n+j] = 0
				v[j*n+i] = 0
			}
		} else {
			// The Householder vector, scaled to avoid under- and overflow.
			for k := range i {
				d[k] /= scale
				h += d[k] * d[k]
			}
			f := d[i-1]
			g := math.Sqrt(h)
			if f > 0 {
				g = -g
			}
			e[i] = scale * g
			h -= f * g
			d[i-1] = f - g
			for j := range i {
				e[j] = 0
			}
			// Apply the similarity transformation to the remaining columns.
			for j := range i {
				f = d[j]
				v[j*n+i] = f
				g = e[j] + v[j*n+j]*f
				for k := j + 1; k <= i-1; k++ {
					g += v[k*n+j] * d[k]
					e[k] += v[k*n+j] * f
				}
				e[j] = g
			}
			f = 0
			for j := range i {
				e[j] /= h
				f += e[j] * d[j]
			}
			hh := f / (h + h)
			for j := range i {
				e[j] -= hh * d[j]
			}
			for j := range i {
				f = d[j]
				g = e[j]
				for k := j; k <= i-1; k++ {
					v[k*n+j] -= f*e[k] + g*d[k]
				}
				d[j] = v[(i-1)*n+j]
				v[i*n+j] = 0
			}
		}
		d[i] = h
	}
	// Accumulate the transformations.
	for i := 0; i < n-1; i++ {
		v[(n-1)*n+i] = v[i*n+i]
		v[i*n+i] = 1
		h := d[i+1]
		if h != 0 {
			for k := 0; k <= i; k++ {
				d[k] = v[k*n+i+1] / h
			}
			for j := 0; j <= i; j++ {
				g := 0.0
				for k := 0; k <= i; k++ {
					g += v[k*n+i+1] * v[k*n+j]
				}
				for k := 0; k <= i; k++ {
					v[k*n+j] -= g * d[k]
				}
			}
		}
		for k := 0; k <= i; k++ {
			v[k*n+i+1] = 0
		}
	}
	for j := range n {
		d[j] = v[(n-1)*n+j]
		v[(n-1)*n+j] = 0
	}
	v[(n-1)*n+n-1] = 1
	e[0] = 0
}

// implicitQL diagonalizes the tridiagonal matrix (d, e) from tridiagonalize
// by QL iterations with implicit shifts, applying the rotations to w, the
// transpose of tridiagonalize's v. On return d holds the eigenvalues
// (unsorted) and w's rows the eigenvectors.
func implicitQL(n int, w, d, e []float64) error {
	const maxIter = 60 // per eigenvalue; convergence is cubic, a few suffice
	eps := math.Ldexp(1, -52)
	for i := 1; i < n; i++ {
		e[i-1] = e[i]
	}
	e[n-1] = 0
	f, tst1 := 0.0, 0.0
	for l := range n {
		tst1 = math.Max(tst1, math.Abs(d[l])+math.Abs(e[l]))
		m := l
		for m < n-1 && math.Abs(e[m]) > eps*tst1 {
			m++
		}
		if m > l {
			for iter := 0; ; iter++ {
				if iter == maxIter {
					return errors.New("eigen: QL iteration did not converge")
				}
				// The shift.
				g := d[l]
				p := (d[l+1] - g) / (2 * e[l])
				r := math.Hypot(p, 1)
				if p < 0 {
					r = -r
				}
				d[l] = e[l] / (p + r)
				d[l+1] = e[l] * (p + r)
				dl1 := d[l+1]
				h := g - d[l]
				for i := l + 2; i < n; i++ {
					d[i] -= h
				}
				f += h
				// The implicit QL transformation.
				p = d[m]
				c, c2, c3 := 1.0, 1.0, 1.0
				el1 := e[l+1]
				s, s2 := 0.0, 0.0
				for i := m - 1; i >= l; i-- {
					c3 = c2
					c2 = c
					s2 = s
					g = c * e[i]
					h = c * p
					r = math.Hypot(p, e[i])
					e[i+1] = s * r
					s = e[i] / r
					c = p / r
					p = c*d[i] - s*g
					d[i+1] = h + s*(c*g+s*d[i])
					wi, wi1 := w[i*n:i*n+n], w[(i+1)*n:(i+1)*n+n]
					for k := range wi1 {
						h = wi1[k]
						wi1[k] = s*wi[k] + c*h
						wi[k] = c*wi[k] - s*h
					}
				}
				p = -s * s2 * c3 * el1 * e[l] / dl1
				e[l] = s * p
				d[l] = c * p
				if !(math.Abs(e[l]) > eps*tst1) {
					break
				}
			}
		}
		d[l] += f
		e[l] = 0
	}
	return nil
}
