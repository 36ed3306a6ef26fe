package solver

import (
	"fmt"
	"math"
	"sort"
)

// greedyCandidates is the candidate-list size greedy_edge draws its first
// edges from (the rest are joined greedily among fragment ends).
const greedyCandidates = 10

// construct builds a tour with the named heuristic; start is the first city
// of the heuristics that have one (nearest_neighbor, farthest_insertion).
func construct(name string, p *problem, start int) ([]int, error) {
	switch name {
	case ConstructionNearestNeighbor:
		return nearestNeighbor(p, start), nil
	case ConstructionGreedyEdge:
		return greedyEdge(p), nil
	case ConstructionFarthestInsertion:
		return farthestInsertion(p, start), nil
	case ConstructionSpaceFillingCurve:
		return hilbertOrder(p), nil
	}
	return nil, fmt.Errorf("unknown construction %q", name)
}

// hasStart reports whether the construction depends on its start city.
func hasStart(name string) bool {
	return name == ConstructionNearestNeighbor || name == ConstructionFarthestInsertion
}

// nearestNeighbor walks from start to the nearest unvisited city until all
// are visited. O(n²).
func nearestNeighbor(p *problem, start int) []int {
	n := p.n
	visited := make([]bool, n)
	order := make([]int, 0, n)
	cur := start
	for {
		visited[cur] = true
		order = append(order, cur)
		if len(order) == n {
			return order
		}
		best, bestD := -1, math.MaxInt
		// The candidate list usually has an unvisited city; scan all if not.
		for _, c := range p.near(cur) {
			if !visited[c] {
				best = c
				break
			}
		}
		if best < 0 {
			for c := 0; c < n; c++ {
				if !visited[c] {
					if d := p.d(cur, c); d < bestD {
						best, bestD = c, d
					}
				}
			}
		}
		cur = best
	}
}

// greedyEdge adds edges shortest first whenever both ends have degree < 2
// and no cycle closes: first among candidate-list edges, then among all
// pairs of fragment ends, which joins the fragments into one path; the tour
// closes that path.
func greedyEdge(p *problem) []int {
	n := p.n
	deg := make([]int, n)
	adj := make([][2]int, n)
	comp := make([]int, n) // union-find parent
	for i := range comp {
		comp[i] = i
	}
	find := func(x int) int {
		for comp[x] != x {
			comp[x] = comp[comp[x]]
			x = comp[x]
		}
		return x
	}
	type edge struct{ d, i, j int }
	add := func(edges []edge) {
		sort.Slice(edges, func(a, b int) bool {
			ea, eb := edges[a], edges[b]
			if ea.d != eb.d {
				return ea.d < eb.d
			}
			if ea.i != eb.i {
				return ea.i < eb.i
			}
			return ea.j < eb.j
		})
		for _, e := range edges {
			if deg[e.i] >= 2 || deg[e.j] >= 2 {
				continue
			}
			ri, rj := find(e.i), find(e.j)
			if ri == rj {
				continue
			}
			comp[ri] = rj
			adj[e.i][deg[e.i]] = e.j
			adj[e.j][deg[e.j]] = e.i
			deg[e.i]++
			deg[e.j]++
		}
	}
	k := min(greedyCandidates, p.k)
	var cand []edge
	for i := 0; i < n; i++ {
		for _, j := range p.near(i)[:k] {
			if i < j {
				cand = append(cand, edge{p.d(i, j), i, j})
			} else if !contains(p.near(j)[:k], i) {
				cand = append(cand, edge{p.d(i, j), j, i})
			}
		}
	}
	add(cand)
	var ends []int
	for i := 0; i < n; i++ {
		if deg[i] < 2 {
			ends = append(ends, i)
		}
	}
	var rest []edge
	for a := 0; a < len(ends); a++ {
		for b := a + 1; b < len(ends); b++ {
			rest = append(rest, edge{p.d(ends[a], ends[b]), ends[a], ends[b]})
		}
	}
	add(rest)
	// Walk the Hamiltonian path from one end.
	start := 0
	for i := 0; i < n; i++ {
		if deg[i] < 2 {
			start = i
			break
		}
	}
	order := make([]int, 0, n)
	prev, cur := -1, start
	for len(order) < n {
		order = append(order, cur)
		next := -1
		for e := 0; e < deg[cur]; e++ {
			if adj[cur][e] != prev {
				next = adj[cur][e]
				break
			}
		}
		prev, cur = cur, next
	}
	return order
}

func contains(list []int, x int) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// farthestInsertion starts from start and repeatedly inserts the city
// farthest from the tour where it lengthens the tour least. O(n²).
func farthestInsertion(p *problem, start int) []int {
	n := p.n
	next := make([]int, n)
	in := make([]bool, n)
	minD := make([]int, n)
	next[start] = start
	in[start] = true
	for i := range minD {
		minD[i] = p.d(start, i)
	}
	for size := 1; size < n; size++ {
		c, far := -1, -1
		for i := 0; i < n; i++ {
			if !in[i] && minD[i] > far {
				c, far = i, minD[i]
			}
		}
		bestU, bestCost := start, math.MaxInt
		u := start
		for {
			v := next[u]
			if cost := p.d(u, c) + p.d(c, v) - p.d(u, v); cost < bestCost {
				bestU, bestCost = u, cost
			}
			u = v
			if u == start {
				break
			}
		}
		next[c] = next[bestU]
		next[bestU] = c
		in[c] = true
		for i := 0; i < n; i++ {
			if d := p.d(c, i); d < minD[i] {
				minD[i] = d
			}
		}
	}
	order := make([]int, 0, n)
	for c := start; len(order) < n; c = next[c] {
		order = append(order, c)
	}
	return order
}

// hilbertOrder visits the cities in the order of a Hilbert curve over their
// bounding square (2^16 cells a side).
func hilbertOrder(p *problem) []int {
	in := p.in
	n := p.n
	minX, maxX, minY, maxY := in.X[0], in.X[0], in.Y[0], in.Y[0]
	for i := 1; i < n; i++ {
		minX, maxX = math.Min(minX, in.X[i]), math.Max(maxX, in.X[i])
		minY, maxY = math.Min(minY, in.Y[i]), math.Max(maxY, in.Y[i])
	}
	span := math.Max(maxX-minX, maxY-minY)
	if span == 0 {
		span = 1
	}
	const side = 1 << 16
	keys := make([]uint64, n)
	for i := 0; i < n; i++ {
		x := uint32(math.Min((in.X[i]-minX)/span*side, side-1))
		y := uint32(math.Min((in.Y[i]-minY)/span*side, side-1))
		keys[i] = hilbertIndex(side, x, y)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	return order
}

// hilbertIndex returns the distance of cell (x, y) along the Hilbert curve
// filling a side×side grid (side a power of two).
func hilbertIndex(side, x, y uint32) uint64 {
	var d uint64
	for s := side / 2; s > 0; s /= 2 {
		var rx, ry uint32
		if x&s != 0 {
			rx = 1
		}
		if y&s != 0 {
			ry = 1
		}
		d += uint64(s) * uint64(s) * uint64((3*rx)^ry)
		// Rotate the quadrant so the curve is continuous.
		if ry == 0 {
			if rx == 1 {
				x = side - 1 - x
				y = side - 1 - y
			}
			x, y = y, x
		}
	}
	return d
}
