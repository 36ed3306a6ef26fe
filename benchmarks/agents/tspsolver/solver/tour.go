package solver

// tour is a cyclic tour stored as an array with the inverse permutation, so
// that successor, predecessor and "is b between a and c" are O(1) and a
// 2-opt move costs at most n/2 swaps.
type tour struct {
	order []int // order[i] is the city at position i
	pos   []int // pos[c] is the position of city c
}

func newTour(order []int) *tour {
	t := &tour{order: append([]int(nil), order...), pos: make([]int, len(order))}
	for i, c := range t.order {
		t.pos[c] = i
	}
	return t
}

// set replaces the tour with order (which must have the same length).
func (t *tour) set(order []int) {
	copy(t.order, order)
	for i, c := range t.order {
		t.pos[c] = i
	}
}

func (t *tour) n() int { return len(t.order) }

// next returns the city after c.
func (t *tour) next(c int) int {
	i := t.pos[c] + 1
	if i == len(t.order) {
		i = 0
	}
	return t.order[i]
}

// prev returns the city before c.
func (t *tour) prev(c int) int {
	i := t.pos[c] - 1
	if i < 0 {
		i = len(t.order) - 1
	}
	return t.order[i]
}

// step returns the city after c if fwd, else the one before.
func (t *tour) step(c int, fwd bool) int {
	if fwd {
		return t.next(c)
	}
	return t.prev(c)
}

// offset returns how many steps from a to b going forward if fwd, else
// backward: 0 for a == b, up to n-1.
func (t *tour) offset(a, b int, fwd bool) int {
	n := len(t.order)
	d := t.pos[b] - t.pos[a]
	if !fwd {
		d = -d
	}
	if d < 0 {
		d += n
	}
	return d
}

// reversePath reverses the forward path from city a to city b. It reverses
// the complement instead when that is shorter, which gives the same cyclic
// tour read in the other direction.
func (t *tour) reversePath(a, b int) {
	n := len(t.order)
	i, j := t.pos[a], t.pos[b]
	inner := j - i
	if inner < 0 {
		inner += n
	}
	inner++ // cities on the path a..b
	if 2*inner > n {
		// Reverse next(b)..prev(a) instead.
		i, j = j+1, i-1
		if i == n {
			i = 0
		}
		if j < 0 {
			j = n - 1
		}
		inner = n - inner
	}
	for s := 0; s < inner/2; s++ {
		ci, cj := t.order[i], t.order[j]
		t.order[i], t.order[j] = cj, ci
		t.pos[cj], t.pos[ci] = i, j
		i++
		if i == n {
			i = 0
		}
		j--
		if j < 0 {
			j = n - 1
		}
	}
}

// moveSegment moves the segment s1..s2 (s1 first when walking in direction
// fwd, p before s1 and q after s2) between the adjacent cities x and
// y = step(x, fwd), which must not be in the segment, so that the tour reads
// x s2..s1 y if reversed, else x s1..s2 y, in direction fwd.
func (t *tour) moveSegment(p, s1, s2, q, x, y int, reversed bool) {
	// p s1..s2 q .. x y  ->  p x .. q s2..s1 y  ->  p q .. x s2..s1 y
	t.twoOpt(p, s1, x, y)
	t.twoOpt(p, x, q, s2)
	if !reversed {
		t.twoOpt(x, s2, s1, y)
	}
}

// twoOpt is the 2-opt move that replaces tour edges (a,b) and (c,d) with
// (a,c) and (b,d). Both edges must run the same way: b = next(a) and
// d = next(c), or b = prev(a) and d = prev(c).
func (t *tour) twoOpt(a, b, c, d int) {
	if b == c || a == d {
		// Degenerate: the edges share a city, nothing to change.
		return
	}
	if t.next(a) == b {
		t.reversePath(b, c)
	} else {
		t.reversePath(c, b)
	}
}

// queue is a FIFO of active cities (those whose don't-look bit is off).
type queue struct {
	buf        []int
	head, size int
	in         []bool
}

func newQueue(n int) *queue {
	return &queue{buf: make([]int, n), in: make([]bool, n)}
}

func (q *queue) push(c int) {
	if q.in[c] {
		return
	}
	q.in[c] = true
	i := q.head + q.size
	if i >= len(q.buf) {
		i -= len(q.buf)
	}
	q.buf[i] = c
	q.size++
}

func (q *queue) pop() int {
	c := q.buf[q.head]
	q.head++
	if q.head == len(q.buf) {
		q.head = 0
	}
	q.size--
	q.in[c] = false
	return c
}

func (q *queue) empty() bool { return q.size == 0 }
