package cmaes

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A random symmetric matrix is B diag(values) Bᵀ with B orthonormal and the
// values ascending.
func TestEigenSymReconstructs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 5, 10, 40} {
		for trial := range 5 {
			a := make([]float64, n*n)
			for i := range n {
				for j := 0; j <= i; j++ {
					v := rng.NormFloat64()
					if trial == 4 { // badly conditioned: scale rows and columns
						v *= math.Pow(10, float64(i+j)/float64(max(1, n-1))*3)
					}
					a[i*n+j], a[j*n+i] = v, v
				}
			}
			vals, b, err := eigenSym(n, a)
			if err != nil {
				t.Fatal(err)
			}
			scale := 0.0
			for _, v := range a {
				scale = math.Max(scale, math.Abs(v))
			}
			for i := 1; i < n; i++ {
				if vals[i] < vals[i-1] {
					t.Fatalf("n=%d: eigenvalues not ascending: %v", n, vals)
				}
			}
			for i := range n {
				for j := range n {
					rec, dot := 0.0, 0.0
					for k := range n {
						rec += b[i*n+k] * vals[k] * b[j*n+k]
						dot += b[k*n+i] * b[k*n+j]
					}
					if d := math.Abs(rec - a[i*n+j]); d > 1e-12*scale*float64(n) {
						t.Fatalf("n=%d trial %d: (BΛBᵀ)[%d][%d] = %g, want %g", n, trial, i, j, rec, a[i*n+j])
					}
					want := 0.0
					if i == j {
						want = 1
					}
					if math.Abs(dot-want) > 1e-12*float64(n) {
						t.Fatalf("n=%d: BᵀB[%d][%d] = %g", n, i, j, dot)
					}
				}
			}
		}
	}
}

func TestEigenSymKnownValues(t *testing.T) {
	// Diagonal, with a repeated eigenvalue, and the 2×2 [[2,1],[1,2]].
	vals, _, err := eigenSym(3, []float64{3, 0, 0, 0, 1, 0, 0, 0, 1})
	if err != nil || vals[0] != 1 || vals[1] != 1 || vals[2] != 3 {
		t.Fatalf("diag(3,1,1): %v %v", vals, err)
	}
	vals, b, err := eigenSym(2, []float64{2, 1, 1, 2})
	if err != nil || math.Abs(vals[0]-1) > 1e-15 || math.Abs(vals[1]-3) > 1e-15 {
		t.Fatalf("[[2,1],[1,2]]: %v %v", vals, err)
	}
	if math.Abs(math.Abs(b[0*2+1])-math.Sqrt(0.5)) > 1e-15 || math.Abs(b[0*2+1]-b[1*2+1]) > 1e-15 {
		t.Fatalf("eigenvector of 3 is (1,1)/√2, got column %v %v", b[1], b[3])
	}
	if _, _, err := eigenSym(2, []float64{1, math.NaN(), math.NaN(), 1}); err == nil {
		t.Fatal("NaN matrix: no error")
	}
	if _, _, err := eigenSym(2, []float64{1}); err == nil {
		t.Fatal("wrong size: no error")
	}
}
