package solver

// step is one kind of local-search move.
type step int

const (
	step2Opt step = iota
	stepOrOpt
	step3Opt
	stepSwap
	numSteps
)

// stepByName maps the genome's step names to steps.
func stepByName(name string) (step, bool) {
	switch name {
	case Step2Opt:
		return step2Opt, true
	case StepOrOpt:
		return stepOrOpt, true
	case Step3Opt:
		return step3Opt, true
	case StepSwap:
		return stepSwap, true
	}
	return 0, false
}

// orOptMaxLen is the longest segment the oropt step moves.
const orOptMaxLen = 3

// search is a tour under local search. Every step keeps its own queue of
// active cities (don't-look bits off); a move activates the end cities of
// the edges it changes in every step's queue.
type search struct {
	p      *problem
	t      *tour
	k      int    // candidate-list size used by the steps
	steps  []step // in the genome's order
	queues [numSteps]*queue
	length int // current tour length
}

func newSearch(p *problem, order []int, steps []step, k int) *search {
	s := &search{p: p, t: newTour(order), k: min(k, p.k), steps: steps}
	for _, st := range steps {
		if s.queues[st] == nil {
			s.queues[st] = newQueue(p.n)
		}
	}
	s.length = s.tourLength()
	return s
}

// tourLength computes the length of the current tour.
func (s *search) tourLength() int {
	total := 0
	o := s.t.order
	prev := o[len(o)-1]
	for _, c := range o {
		total += s.p.d(prev, c)
		prev = c
	}
	return total
}

// activate turns off city c's don't-look bit in every step.
func (s *search) activate(c int) {
	for _, q := range s.queues {
		if q != nil {
			q.push(c)
		}
	}
}

// activateAll activates every city, in tour order.
func (s *search) activateAll() {
	for _, c := range s.t.order {
		s.activate(c)
	}
}

// localSearch runs the steps in order, each until its queue is empty, and
// repeats the sequence until no step has an active city left: the tour is
// then a local optimum of every step (within the candidate lists).
func (s *search) localSearch() {
	for {
		busy := false
		for _, st := range s.steps {
			q := s.queues[st]
			for !q.empty() {
				busy = true
				s.try(st, q.pop())
			}
		}
		if !busy {
			return
		}
	}
}

// try looks for an improving move of kind st around city c and applies the
// first one found.
func (s *search) try(st step, c int) bool {
	switch st {
	case step2Opt:
		return s.try2Opt(c)
	case stepOrOpt:
		return s.tryOrOpt(c)
	case step3Opt:
		return s.tryOr3Opt(c)
	case stepSwap:
		return s.trySwap(c)
	}
	return false
}

// try2Opt tries the 2-opt moves that remove an edge at a and add an edge
// from a to one of its candidates.
func (s *search) try2Opt(a int) bool {
	t, p := s.t, s.p
	for _, fwd := range [2]bool{true, false} {
		b := t.step(a, fwd)
		dab := p.d(a, b)
		for _, c := range p.near(a)[:s.k] {
			g1 := dab - p.d(a, c)
			if g1 <= 0 {
				break
			}
			d := t.step(c, fwd)
			if c == b || d == a {
				continue
			}
			if gain := g1 + p.d(c, d) - p.d(b, d); gain > 0 {
				t.twoOpt(a, b, c, d)
				s.length -= gain
				s.activate(a)
				s.activate(b)
				s.activate(c)
				s.activate(d)
				return true
			}
		}
	}
	return false
}

// tryOrOpt tries to move a segment of 1 to orOptMaxLen cities starting at
// s1 to a place next to one of s1's candidates, kept or reversed.
func (s *search) tryOrOpt(s1 int) bool {
	t, p := s.t, s.p
	n := t.n()
	for _, fwd := range [2]bool{true, false} {
		pr := t.step(s1, !fwd)
		s2 := s1
		for l := 1; l <= orOptMaxLen && l <= n-3; l++ {
			if l > 1 {
				s2 = t.step(s2, fwd)
			}
			q := t.step(s2, fwd)
			remove := p.d(pr, s1) + p.d(s2, q) - p.d(pr, q)
			if remove <= 0 {
				continue
			}
			for _, c := range p.near(s1)[:s.k] {
				dc := p.d(s1, c)
				if dc >= remove {
					break
				}
				if t.offset(s1, c, fwd) < l {
					continue // c is in the segment
				}
				// c s1..s2 y
				if c != pr {
					y := t.step(c, fwd)
					if gain := remove + p.d(c, y) - dc - p.d(s2, y); gain > 0 {
						s.applySegment(pr, s1, s2, q, c, y, false, gain)
						return true
					}
				}
				// x s2..s1 c
				if c != q {
					x := t.step(c, !fwd)
					if gain := remove + p.d(x, c) - dc - p.d(x, s2); gain > 0 {
						s.applySegment(pr, s1, s2, q, x, c, true, gain)
						return true
					}
				}
			}
		}
	}
	return false
}

// tryOr3Opt tries or-3opt moves: a segment s1..s2 of any length moved
// between two adjacent cities elsewhere, kept or reversed, where both new
// edges at the segment's ends come from candidate lists (s1 to one of its
// candidates, s2 from a candidate list of the city across), with a positive
// partial gain at each choice as in Lin-Kernighan.
func (s *search) tryOr3Opt(s1 int) bool {
	t, p := s.t, s.p
	for _, fwd := range [2]bool{true, false} {
		pr := t.step(s1, !fwd)
		g0 := p.d(pr, s1)
		for _, c := range p.near(s1)[:s.k] {
			dc := p.d(s1, c)
			if dc >= g0 {
				break
			}
			// c s1..s2 y: the segment ends before c.
			if c != pr {
				oc := t.offset(s1, c, fwd)
				y := t.step(c, fwd)
				g1 := g0 - dc + p.d(c, y)
				for _, s2 := range p.near(y)[:s.k] {
					dy := p.d(s2, y)
					if dy >= g1 {
						break
					}
					if t.offset(s1, s2, fwd) >= oc {
						continue
					}
					q := t.step(s2, fwd)
					if gain := g1 - dy + p.d(s2, q) - p.d(pr, q); gain > 0 {
						s.applySegment(pr, s1, s2, q, c, y, false, gain)
						return true
					}
				}
			}
			// x s2..s1 c: the segment ends before x.
			x := t.step(c, !fwd)
			if x == s1 {
				continue
			}
			ox := t.offset(s1, x, fwd)
			g1 := g0 - dc + p.d(x, c)
			for _, s2 := range p.near(x)[:s.k] {
				dx := p.d(x, s2)
				if dx >= g1 {
					break
				}
				if t.offset(s1, s2, fwd) >= ox {
					continue
				}
				q := t.step(s2, fwd)
				if gain := g1 - dx + p.d(s2, q) - p.d(pr, q); gain > 0 {
					s.applySegment(pr, s1, s2, q, x, c, true, gain)
					return true
				}
			}
		}
	}
	return false
}

// applySegment moves s1..s2 between x and y (see tour.moveSegment) and
// records the gain.
func (s *search) applySegment(pr, s1, s2, q, x, y int, reversed bool, gain int) {
	s.t.moveSegment(pr, s1, s2, q, x, y, reversed)
	s.length -= gain
	for _, c := range [...]int{pr, s1, s2, q, x, y} {
		s.activate(c)
	}
}

// trySwap tries exchanging city a with a city next to one of a's
// candidates, so that a lands beside that candidate.
func (s *search) trySwap(a int) bool {
	t, p := s.t, s.p
	worst := max(p.d(t.prev(a), a), p.d(a, t.next(a)))
	for _, c := range p.near(a)[:s.k] {
		if p.d(a, c) >= worst {
			break
		}
		for _, b := range [2]int{t.prev(c), t.next(c)} {
			if b == a {
				continue
			}
			if gain := s.swapGain(a, b); gain > 0 {
				pa, na, pb, nb := t.prev(a), t.next(a), t.prev(b), t.next(b)
				i, j := t.pos[a], t.pos[b]
				t.order[i], t.order[j] = b, a
				t.pos[a], t.pos[b] = j, i
				s.length -= gain
				for _, x := range [...]int{a, b, pa, na, pb, nb} {
					s.activate(x)
				}
				return true
			}
		}
	}
	return false
}

// swapGain returns how much shorter the tour gets by exchanging the
// positions of cities a and b.
func (s *search) swapGain(a, b int) int {
	t, p := s.t, s.p
	if t.next(b) == a {
		a, b = b, a
	}
	if t.next(a) == b { // pa a b nb -> pa b a nb
		pa, nb := t.prev(a), t.next(b)
		return p.d(pa, a) + p.d(b, nb) - p.d(pa, b) - p.d(a, nb)
	}
	pa, na, pb, nb := t.prev(a), t.next(a), t.prev(b), t.next(b)
	return p.d(pa, a) + p.d(a, na) + p.d(pb, b) + p.d(b, nb) -
		p.d(pa, b) - p.d(b, na) - p.d(pb, a) - p.d(a, nb)
}
