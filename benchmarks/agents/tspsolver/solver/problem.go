package solver

import (
	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

// matrixLimit is the largest instance whose distances are precomputed
// (4 bytes per pair: 100 MB at 5000 cities); larger ones compute distances
// on demand.
const matrixLimit = 5000

// problem is an instance prepared for search: distances and candidate lists.
type problem struct {
	in *tsplib.Instance
	n  int
	m  []int32 // n×n distances, nil above matrixLimit
	// neigh[i*k : i*k+k] are city i's k nearest cities, nearest first.
	neigh []int
	k     int
}

func newProblem(in *tsplib.Instance, k int) *problem {
	n := in.Len()
	p := &problem{in: in, n: n}
	if n <= matrixLimit {
		p.m = make([]int32, n*n)
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				d := int32(in.Dist(i, j))
				p.m[i*n+j], p.m[j*n+i] = d, d
			}
		}
	}
	p.k = min(k, n-1)
	p.neigh = nearest(p, p.k)
	return p
}

// d returns the distance between cities a and b.
func (p *problem) d(a, b int) int {
	if p.m != nil {
		return int(p.m[a*p.n+b])
	}
	return p.in.Dist(a, b)
}

// near returns city a's candidate list: its k nearest cities.
func (p *problem) near(a int) []int {
	return p.neigh[a*p.k : a*p.k+p.k]
}

// nearest computes each city's k nearest other cities, ordered by distance
// and then by city number.
func nearest(p *problem, k int) []int {
	n := p.n
	out := make([]int, n*k)
	if k == 0 {
		return out
	}
	dist := make([]int, k)
	for i := 0; i < n; i++ {
		list := out[i*k : i*k+k]
		size := 0
		for j := 0; j < n; j++ {
			if j == i {
				continue
			}
			dj := p.d(i, j)
			if size == k && dj >= dist[k-1] {
				continue
			}
			// Insertion into the sorted list; equal distances keep city order.
			pos := size
			if size == k {
				pos = k - 1
			} else {
				size++
			}
			for pos > 0 && dist[pos-1] > dj {
				dist[pos], list[pos] = dist[pos-1], list[pos-1]
				pos--
			}
			dist[pos], list[pos] = dj, j
		}
	}
	return out
}
