// Package eigentrust is the logic of the built-in trust plugin "eigentrust",
// kept apart from the plugin's main package so that it can be tested
// natively.
//
// Global trust is EigenTrust's (Kamvar, Schlosser, Garcia-Molina, "The
// EigenTrust Algorithm for Reputation Management in P2P Networks", WWW 2003,
// §4): from s_ij, peer i's satisfied minus unsatisfied interactions with
// peer j,
//
//	c_ij = max(s_ij, 0) / Σ_j max(s_ij, 0)     (c_ij = p_j when i rated nobody positively)
//	t    ← (1 − a) Cᵀ t + a p                   from t = p, until ‖Δt‖₁ < tolerance
//
// where p is the pre-trusted distribution: uniform over the pre-trusted
// peers, or over all peers when none are named. Peers are ordered by name
// and every sum runs in a fixed order, so the result depends only on the
// ratings, not on the order they come in.
package eigentrust

import (
	"math"
	"slices"
	"strings"
)

// Defaults of Params.
const (
	DefaultAlpha         = 0.15
	DefaultTolerance     = 1e-10
	DefaultMaxIterations = 1000
)

// Params tune the iteration; zero fields take the defaults.
type Params struct {
	// Alpha is a, the weight of the pre-trusted distribution, in (0, 1].
	Alpha float64
	// Tolerance ends the iteration when the L1 change of t falls below it.
	Tolerance float64
	// MaxIterations bounds the iteration.
	MaxIterations int
}

func (p Params) withDefaults() Params {
	if p.Alpha == 0 {
		p.Alpha = DefaultAlpha
	}
	if p.Tolerance == 0 {
		p.Tolerance = DefaultTolerance
	}
	if p.MaxIterations == 0 {
		p.MaxIterations = DefaultMaxIterations
	}
	return p
}

// Rating is s_ij: peer From's satisfied minus unsatisfied interactions with
// peer To. Several ratings of one pair add up; self-ratings are ignored.
type Rating struct {
	From, To     string
	Satisfaction float64
}

// Result is the global trust of every peer.
type Result struct {
	// Peers are every peer named in a rating or as pre-trusted, sorted.
	Peers []string
	// Trust is each peer's global trust; it sums to 1.
	Trust []float64
	// Iterations is how many steps ran; Converged says the change fell
	// below the tolerance within MaxIterations.
	Iterations int
	Converged  bool
}

// Of returns the global trust of peer, 0 for a peer not in the graph.
func (r Result) Of(peer string) float64 {
	if i, ok := slices.BinarySearch(r.Peers, peer); ok {
		return r.Trust[i]
	}
	return 0
}

// Credibility is how much peer's word counts, min(1, n·t): a peer with at
// least the average global trust 1/n counts fully, one with less in
// proportion, and one nobody trusts not at all. It is 0 for a peer not in
// the graph.
func (r Result) Credibility(peer string) float64 {
	return math.Min(1, float64(len(r.Peers))*r.Of(peer))
}

// edge is one aggregated rating c_ij's numerator, max(s_ij, 0).
type edge struct {
	to int
	w  float64
}

// GlobalTrust computes the global trust vector of the peers in ratings.
// Params must be valid (Config checks them); zero fields take defaults.
func GlobalTrust(ratings []Rating, preTrusted []string, params Params) Result {
	params = params.withDefaults()
	peers := peerList(ratings, preTrusted)
	n := len(peers)
	if n == 0 {
		return Result{Converged: true}
	}
	index := func(name string) int { i, _ := slices.BinarySearch(peers, name); return i }

	// s_ij per pair, summed in a fixed order.
	sat := map[[2]int][]float64{}
	for _, r := range ratings {
		if r.From == r.To {
			continue
		}
		k := [2]int{index(r.From), index(r.To)}
		sat[k] = append(sat[k], r.Satisfaction)
	}
	rows := make([][]edge, n)
	for k, vs := range sat {
		if s := sortedSum(vs); s > 0 {
			rows[k[0]] = append(rows[k[0]], edge{to: k[1], w: s})
		}
	}
	dangling := make([]bool, n)
	for i, row := range rows {
		slices.SortFunc(row, func(a, b edge) int { return a.to - b.to })
		total := 0.0
		for _, e := range row {
			total += e.w
		}
		if total == 0 {
			dangling[i] = true
			continue
		}
		for j := range row {
			row[j].w /= total
		}
	}

	// p: uniform over the pre-trusted peers, or over all.
	p := make([]float64, n)
	if len(preTrusted) > 0 {
		var named []int
		for _, name := range preTrusted {
			named = append(named, index(name))
		}
		slices.Sort(named)
		named = slices.Compact(named)
		for _, i := range named {
			p[i] = 1 / float64(len(named))
		}
	} else {
		for i := range p {
			p[i] = 1 / float64(n)
		}
	}

	a := params.Alpha
	t, next := slices.Clone(p), make([]float64, n)
	res := Result{Peers: peers}
	for res.Iterations < params.MaxIterations {
		res.Iterations++
		// Mass of peers who rated nobody goes where p sends it.
		lost := 0.0
		for i := range n {
			if dangling[i] {
				lost += t[i]
			}
		}
		for j := range n {
			next[j] = (1-a)*lost*p[j] + a*p[j]
		}
		for i, row := range rows {
			for _, e := range row {
				next[e.to] += (1 - a) * e.w * t[i]
			}
		}
		delta := 0.0
		for j := range n {
			delta += math.Abs(next[j] - t[j])
		}
		t, next = next, t
		if delta < params.Tolerance {
			res.Converged = true
			break
		}
	}
	res.Trust = t
	return res
}

// peerList returns every peer named in ratings or preTrusted, sorted and
// without repeats.
func peerList(ratings []Rating, preTrusted []string) []string {
	peers := slices.Clone(preTrusted)
	for _, r := range ratings {
		peers = append(peers, r.From, r.To)
	}
	slices.SortFunc(peers, strings.Compare)
	return slices.Compact(peers)
}

// sortedSum adds the values from the smallest up: the order they come in
// does not change the result.
func sortedSum(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum
}
