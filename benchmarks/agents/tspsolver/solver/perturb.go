package solver

import "math/rand/v2"

// doubleBridge applies the double-bridge kick (the non-sequential 4-opt
// move) to three consecutive segments B C D of random lengths 1..maxSeg at a
// random position: A B C D becomes A D C B, which changes four edges and
// cannot be undone by one 2-opt, or-opt or or-3opt move. It activates the
// eight end cities.
func (s *search) doubleBridge(rng *rand.Rand, maxSeg int) {
	t := s.t
	n := t.n()
	maxSeg = max(1, min(maxSeg, (n-1)/3))
	l1, l2, l3 := 1+rng.IntN(maxSeg), 1+rng.IntN(maxSeg), 1+rng.IntN(maxSeg)
	w := l1 + l2 + l3
	at := rng.IntN(n) // position of A's last city
	win := make([]int, w)
	for i := range win {
		win[i] = t.order[(at+1+i)%n]
	}
	b, c, d := win[:l1], win[l1:l1+l2], win[l1+l2:]
	ends := [...]int{t.order[at], b[0], b[l1-1], c[0], c[l2-1], d[0], d[l3-1], t.order[(at+1+w)%n]}
	i := (at + 1) % n
	for _, seg := range [][]int{d, c, b} {
		for _, city := range seg {
			t.order[i] = city
			t.pos[city] = i
			if i++; i == n {
				i = 0
			}
		}
	}
	for _, x := range ends {
		s.activate(x)
	}
}

// segmentReversal reverses strength random sub-segments of one random
// window of 2·strength+4 consecutive cities (at most n-1), activating the
// end cities of every reversal.
func (s *search) segmentReversal(rng *rand.Rand, strength int) {
	t := s.t
	n := t.n()
	w := min(2*strength+4, n-1)
	at := rng.IntN(n)
	for r := 0; r < strength; r++ {
		i := rng.IntN(w - 1)
		j := i + 1 + rng.IntN(w-1-i)
		lo, hi := (at+i)%n, (at+j)%n
		s.activate(t.order[(lo+n-1)%n])
		s.activate(t.order[(hi+1)%n])
		for k := 0; k < (j-i+1)/2; k++ {
			a, b := t.order[lo], t.order[hi]
			t.order[lo], t.order[hi] = b, a
			t.pos[b], t.pos[a] = lo, hi
			lo, hi = (lo+1)%n, (hi+n-1)%n
		}
		s.activate(t.order[(at+i)%n])
		s.activate(t.order[(at+j)%n])
	}
}
