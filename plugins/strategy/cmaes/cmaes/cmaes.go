// Package cmaes is the logic of the built-in strategy plugin "cmaes": the
// (μ/μ_w, λ)-CMA-ES of N. Hansen, "The CMA Evolution Strategy: A Tutorial"
// (arXiv:1604.00772), with IPOP or BIPOP restarts (Auger & Hansen 2005;
// Hansen 2009, "Benchmarking a BI-population CMA-ES on the BBOB-2009
// function testbed"). It is kept apart from the plugin's main package so
// that it can be tested and benchmarked natively.
//
// # Search space
//
// CMA-ES is a baseline for continuous genes. Every float and int parameter
// with min < max is one coordinate of the search distribution, scaled so
// that the parameter's box is [0, 1] (on the logarithm for a log-scale
// float; an int as the continuous relaxation [min, max+1), rounded down).
// The distribution lives on the unbounded coordinates and each sample is
// folded into the box by reflection at the bounds, so the update equations
// are exactly the unconstrained ones (applied to f∘mirror) and every
// proposal is inside the bounds. Categorical, bool, sequence, text and code
// parameters are not modelled: each candidate draws them uniformly
// (sdk.Rand.Value), and a float or int with min = max is that value.
//
// # Algorithm
//
// Per generation (the tutorial's Appendix A): λ samples x_k = m + σ B D z_k,
// z_k ~ N(0, I); weighted recombination of the best μ = ⌊λ/2⌋ with c_m = 1;
// cumulative step-size adaptation (p_σ, damping d_σ); rank-one update with
// the h_σ stall of p_c; rank-μ update over all λ samples with the negative
// ("active") weights, rescaled by n/‖C^{-1/2} y‖² as equation (46) says.
// Every constant is the default of the tutorial's Table 1: λ = 4 + ⌊3 ln n⌋,
// w'_i = ln((λ+1)/2) - ln i, μ_eff, α_cov = 2, c_1 = 2/((n+1.3)² + μ_eff),
// c_μ = min(1 - c_1, 2(¼ + μ_eff + 1/μ_eff - 2)/((n+2)² + μ_eff)) (the form
// with the ¼ offset, as in pycma), c_c = (4 + μ_eff/n)/(n + 4 + 2μ_eff/n),
// c_σ = (μ_eff + 2)/(n + μ_eff + 5), d_σ = 1 + 2 max(0, √((μ_eff-1)/(n+1)) - 1)
// + c_σ, the negative weights scaled to min(α_μ⁻, α_μeff⁻, α_posdef⁻), and
// E‖N(0, I)‖ ≈ √n (1 - 1/(4n) + 1/(21n²)); h_σ = 1 iff
// ‖p_σ‖/√(1 - (1-c_σ)^{2(g+1)}) < (1.4 + 2/(n+1)) E‖N(0, I)‖. B and D come
// from a symmetric eigendecomposition of C (Householder tridiagonalisation
// and implicit QL, written here) every max(1, ⌊1/(10n(c_1+c_μ))⌋)
// generations (Appendix B.2). When the best and the ⌈0.7λ⌉-th best values
// are equal, σ is multiplied by exp(0.2 + c_σ/d_σ) (flat fitness, B.4 and
// its purecmaes.m).
//
// A run stops on the first criterion that holds after a generation
// (Appendix B.3, which takes them from Auger & Hansen 2005 and Hansen
// 2009):
//
//   - MaxIter: 100 + 50(n+3)²/√λ generations (the BBOB-2009 setting);
//   - EqualFunValues: the best values of the last 10 + ⌈30n/λ⌉ generations
//     are all equal;
//   - TolFun: their range, with all values of the last generation, is below
//     1e-12;
//   - TolX: σ√c_ii and σ|p_c,i| are below 1e-12 σ0 in every coordinate;
//   - TolXUp: σ·max(D) grew by more than 1e4 (from σ0);
//   - ConditionCov: the condition number of C exceeds 1e14;
//   - NoEffectAxis: adding 0.1σ d_i b_i (i = g mod n) leaves m unchanged;
//   - NoEffectCoord: adding 0.2σ√c_ii to some m_i leaves it unchanged;
//   - Stagnation: over the last 20% of the generations (at least 120 +
//     30n/λ, at most 20000), the median of the newest 30% of both the best
//     and the median values is no better than that of the oldest 30%;
//   - Numerics (not in the literature): the state is no longer finite.
//
// Then, by the config key "restarts":
//
//   - "none": the run is over; the strategy keeps proposing samples of the
//     final distribution and adapts nothing any more (after Numerics alone
//     it starts the run afresh, since that distribution cannot be sampled);
//   - "ipop" (Auger & Hansen 2005): a new run from a fresh mean with σ0 and
//     λ doubled;
//   - "bipop" (Hansen 2009, the default): after the first run, each restart
//     runs the regime that has used fewer evaluations so far (the first run
//     counts for neither; ties go to the large one). Large: λ = 2^k λ0 for
//     the k-th large run and σ0. Small: λ_s = ⌊λ0 (½ λ_l/λ0)^{U²}⌋ with λ_l
//     the last large λ, σ = σ0·10^{-2U'} (U, U' uniform on [0, 1]) and at
//     most half the evaluations of the last large run.
//
// λ doubles at most nine times (Hansen 2009 ends after nine large
// restarts; here the restarts go on at that size), and never past
// λ·n² ≤ 2²⁴ and λ·n ≤ 2²⁰, which keep one generation's work and memory
// within what a Wasm call may use.
//
// Every run starts from a mean drawn uniformly in the central 80% of the
// box (Hansen 2009 draws x0 in [-4, 4]ⁿ of [-5, 5]ⁿ).
//
// # Ask and tell
//
// A generation is λ candidates. Propose(n) hands out the generation's
// candidates, sampled on demand, up to n at a time; Observe collects their
// results, and the distribution is updated as soon as λ results of the
// current generation are in. The engine should therefore use batch size λ
// (config "lambda"; by default 4 + ⌊3 ln n⌋): then every propose returns a
// whole generation and every observe completes it. With another batch
// size a propose returns at most the rest of the generation (fewer than
// asked, which the ABI allows). If the engine asks again while results are
// still out, the strategy draws up to λ extra samples from the same
// distribution and completes the generation with the first λ results that
// arrive; results of earlier generations, of unknown ids or repeated ones
// are ignored. Only when 2λ samples of a generation are out and still
// unanswered does Propose fail.
//
// The objective is the first of InitRequest.Objectives, minimised unless
// its direction is MAXIMIZE; a failed evaluation, a missing score or NaN
// ranks as the worst value. A generation in which every evaluation failed
// leaves the distribution unchanged (EqualFunValues then restarts the run
// after 10 + ⌈30n/λ⌉ such generations).
//
// Candidate ids are "g<generation>-c<index>" (e.g. "g0003-c07") with a
// generation counter that runs across restarts; the operator is "cmaes".
// The snapshot holds the complete state: the run (m, σ, C, B, D, p_σ, p_c,
// histories), the restart bookkeeping, the generator state and the
// generator state at the start of the current generation, from which a
// restored instance re-draws the generation's samples (so a snapshot stays
// small even for large λ) and checks that it reaches the same state.
//
// # Mutation bias
//
// Under a personality's mutation bias (sdk.MutationBiaser) each proposal of
// a propose call is the sample's step from the mean scaled by
// w = sdk.StepScale(bias): m + w(x − m), folded into the box as ever. The
// distribution is updated with the unscaled sample x, so a bias widens or
// narrows what is evaluated around the mean without compounding into σ
// (cumulative step-size adaptation would otherwise grow σ by a constant
// factor every generation under w > 1, and shrink it under w < 1). The
// neutral bias 0.5 (w = 1), or none, proposes exactly as before; the bias
// is not part of the snapshot, since the host sends it with every propose.
package cmaes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Restart schemes of the config key "restarts".
const (
	RestartsNone  = "none"
	RestartsIPOP  = "ipop"
	RestartsBIPOP = "bipop"
)

// DefaultSigma0 is the default initial step size, a fraction of each
// parameter's range.
const DefaultSigma0 = 0.3

// Operator is the operator of every candidate.
const Operator = "cmaes"

// maxDoublings bounds the population growth of IPOP and the large BIPOP
// regime: λ ≤ 2⁹ λ0.
const maxDoublings = 9

// maxLambda bounds the configured λ.
const maxLambda = 1 << 16

// MaxDim is the most float and int coordinates the strategy accepts. C and
// B are n×n: at 400 the snapshot is still well under the ABI's 4 MiB
// output cap. The eigendecomposition costs O(n³) in one observe call:
// under the default 2 s call timeout, about 150 coordinates is the
// practical limit (the plugin's manifest asks for 10 s).
const MaxDim = 400

// Work and memory bounds of one generation: λ·n² (the rank-μ update) and
// λ·n (the samples kept until the generation is complete). Restarts do
// not grow λ past them, and a configured λ must respect the second.
const (
	maxLambdaWork = 1 << 24
	maxLambdaMem  = 1 << 20
)

// lambdaCap is the largest λ a restart may use with n coordinates, at
// least λ0.
func lambdaCap(n, lambda0 int) int {
	n = max(n, 1)
	return max(lambda0, min(lambda0<<maxDoublings, maxLambdaWork/(n*n), maxLambdaMem/n))
}

// Config is the strategy's configuration, InitRequest.Config. Absent keys
// take their defaults; unknown keys are an error.
type Config struct {
	// Lambda is the population size λ of the first run, at least 2; 0
	// means the default 4 + ⌊3 ln n⌋ for n continuous coordinates.
	Lambda int `json:"lambda"`
	// Sigma0 is the initial step size as a fraction of each parameter's
	// range, in (0, 1]; 0 means DefaultSigma0.
	Sigma0 float64 `json:"sigma0"`
	// Restarts is RestartsNone, RestartsIPOP or RestartsBIPOP (default).
	Restarts string `json:"restarts"`
}

// ParseConfig reads and checks a config object; empty or null is the
// defaults. Every error is an sdk.CodeInvalid error.
func ParseConfig(raw json.RawMessage) (Config, error) {
	cfg := Config{Sigma0: DefaultSigma0, Restarts: RestartsBIPOP}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return cfg, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return cfg, sdk.Errorf(sdk.CodeInvalid, "config: not a JSON object")
	}
	for k, v := range fields {
		switch k {
		case "lambda":
			var f float64
			if err := json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) || f < 2 || f > maxLambda {
				return cfg, sdk.Errorf(sdk.CodeInvalid, "config: lambda must be an integer in [2, %d], got %s", maxLambda, v)
			}
			cfg.Lambda = int(f)
		case "sigma0":
			var f float64
			if err := json.Unmarshal(v, &f); err != nil || !(f > 0 && f <= 1) {
				return cfg, sdk.Errorf(sdk.CodeInvalid, "config: sigma0 must be a number in (0, 1] (a fraction of each parameter's range), got %s", v)
			}
			cfg.Sigma0 = f
		case "restarts":
			var s string
			if err := json.Unmarshal(v, &s); err != nil || (s != RestartsNone && s != RestartsIPOP && s != RestartsBIPOP) {
				return cfg, sdk.Errorf(sdk.CodeInvalid, "config: restarts must be %q, %q or %q, got %s", RestartsNone, RestartsIPOP, RestartsBIPOP, v)
			}
			cfg.Restarts = s
		default:
			return cfg, sdk.Errorf(sdk.CodeInvalid, "config: unknown key %q (known: lambda, sigma0, restarts)", k)
		}
	}
	return cfg, nil
}

// CMAES is the strategy. Its state is the snapshot.
type CMAES struct {
	st state

	// Derived from st, rebuilt by Restore.
	enc     encoding
	p       params
	samples [][]float64 // coordinates of the generation's issued samples
	seen    []bool      // per issued sample: its result is in

	// scale is sdk.StepScale of the current propose's mutation bias; 0
	// means neutral (1). Not state: the host sends it with every propose.
	scale float64
}

// SetMutationBias takes the mutation bias of the next Propose
// (sdk.MutationBiaser; see "Mutation bias" in the package documentation).
func (s *CMAES) SetMutationBias(bias float64) { s.scale = sdk.StepScale(bias) }

// state is what Snapshot writes and Restore reads.
type state struct {
	Format    int             `json:"format"`
	Space     sdk.SearchSpace `json:"space"`
	Objective string          `json:"objective"`
	Maximize  bool            `json:"maximize"`
	Config    Config          `json:"config"`
	Lambda0   int             `json:"lambda0"`

	RNG    *sdk.Rand `json:"rng"`    // the generator, now
	GenRNG *sdk.Rand `json:"genRng"` // the generator when the generation began

	Gen      int        `json:"gen"`      // generation counter, across restarts
	Issued   int        `json:"issued"`   // samples of this generation handed out
	Observed []observed `json:"observed"` // results of this generation, in arrival order

	Run  *run         `json:"run"`
	Runs []runSummary `json:"runs,omitempty"` // the last finished runs

	// BIPOP bookkeeping.
	LargeRuns  int `json:"largeRuns"`  // large runs after the first
	SmallRuns  int `json:"smallRuns"`  // small runs
	LargeEvals int `json:"largeEvals"` // evaluations of the large runs after the first
	SmallEvals int `json:"smallEvals"` // evaluations of the small runs
	LastLargeL int `json:"lastLargeLambda"`
	LastLargeE int `json:"lastLargeEvals"`

	Evals   int    `json:"evals"`   // results used
	Ignored int    `json:"ignored"` // results of other generations, unknown or repeated
	Best    num    `json:"best"`    // best objective value seen (internal sign: lower is better)
	BestID  string `json:"bestId,omitempty"`
}

// observed is one result of the current generation.
type observed struct {
	K int `json:"k"` // the sample's index in the generation
	F num `json:"f"` // its value, lower is better
}

// runSummary records a finished run.
type runSummary struct {
	Regime string  `json:"regime"`
	Lambda int     `json:"lambda"`
	Sigma0 float64 `json:"sigma0"`
	Gens   int     `json:"gens"`
	Evals  int     `json:"evals"`
	Stop   string  `json:"stop"`
	Best   num     `json:"best"`
}

const stateFormat = 1

// maxRunSummaries bounds the history of finished runs in the snapshot.
const maxRunSummaries = 32

// Init starts a run over req.Space with the first objective of
// req.Objectives and the configuration in req.Config.
func (s *CMAES) Init(req sdk.InitRequest) error {
	cfg, err := ParseConfig(req.Config)
	if err != nil {
		return err
	}
	if len(req.Objectives) == 0 || req.Objectives[0].Name == "" {
		return sdk.Errorf(sdk.CodeInvalid, "cmaes needs an objective to optimise (objectives[0] with a name)")
	}
	obj := req.Objectives[0]
	var maximize bool
	switch obj.Direction {
	case sdk.Minimize, sdk.DirectionUnspecified, "":
	case sdk.Maximize:
		maximize = true
	default:
		return sdk.Errorf(sdk.CodeInvalid, "objective %q: unknown direction %q", obj.Name, obj.Direction)
	}
	enc := newEncoding(req.Space)
	n := enc.dim()
	if n > MaxDim {
		return sdk.Errorf(sdk.CodeInvalid, "cmaes searches at most %d float and int parameters, the space has %d", MaxDim, n)
	}
	lambda0 := cfg.Lambda
	if lambda0 == 0 {
		lambda0 = defaultLambda(n)
	}
	if lambda0*max(n, 1) > maxLambdaMem {
		return sdk.Errorf(sdk.CodeInvalid, "config: lambda %d is too large for %d coordinates (λ·n must not exceed %d)", lambda0, n, maxLambdaMem)
	}
	*s = CMAES{
		st: state{
			Format: stateFormat, Space: req.Space, Objective: obj.Name, Maximize: maximize,
			Config: cfg, Lambda0: lambda0, RNG: sdk.NewRand(req.Seed), Best: num(math.Inf(1)),
		},
		enc: enc,
	}
	s.startRun("first", lambda0, cfg.Sigma0, maxIter(n, lambda0))
	s.beginGeneration()
	return nil
}

// startRun begins a CMA-ES run with a fresh mean.
func (s *CMAES) startRun(regime string, lambda int, sigma0 float64, maxGen int) {
	n := s.enc.dim()
	mean := make([]float64, n)
	for i := range mean {
		mean[i] = 0.1 + 0.8*s.st.RNG.Float64()
	}
	s.st.Run = newRun(n, lambda, sigma0, mean, regime, maxGen)
	s.p = newParams(n, lambda)
}

// beginGeneration starts an empty generation.
func (s *CMAES) beginGeneration() {
	s.st.Issued = 0
	s.st.Observed = nil
	s.samples = nil
	s.seen = nil
	s.st.GenRNG = cloneRand(s.st.RNG)
}

func cloneRand(r *sdk.Rand) *sdk.Rand {
	b, err := r.MarshalBinary()
	if err != nil {
		panic(err) // an initialised generator always marshals
	}
	c := &sdk.Rand{}
	if err := c.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	return c
}

// candidateID names sample k of generation gen.
func candidateID(gen, k int) string { return fmt.Sprintf("g%04d-c%02d", gen, k) }

// parseID returns the generation and index of an id made by candidateID.
func parseID(id string) (gen, k int, ok bool) {
	rest, found := strings.CutPrefix(id, "g")
	if !found {
		return 0, 0, false
	}
	g, c, found := strings.Cut(rest, "-c")
	if !found {
		return 0, 0, false
	}
	gen, err1 := strconv.Atoi(g)
	k, err2 := strconv.Atoi(c)
	if err1 != nil || err2 != nil || gen < 0 || k < 0 || candidateID(gen, k) != id {
		return 0, 0, false
	}
	return gen, k, true
}

// draw makes the next sample of the generation: its coordinates (from n
// standard normal numbers) and its genome (the other parameters drawn
// after them, in the order of the space). The genome is that of the
// sample's step from the mean scaled by the mutation bias; the coordinates
// returned, which the update uses, are the unscaled sample's.
func (s *CMAES) draw(rng *sdk.Rand) ([]float64, sdk.Genome) {
	n := s.enc.dim()
	z := make([]float64, n)
	for i := range z {
		z[i] = rng.NormFloat64()
	}
	x := s.st.Run.sample(n, z)
	return x, s.enc.genome(s.biased(x), rng)
}

// biased returns m + scale·(x − m), or x itself at the neutral scale.
func (s *CMAES) biased(x []float64) []float64 {
	if s.scale <= 0 || s.scale == 1 {
		return x
	}
	m := s.st.Run.Mean
	out := make([]float64, len(x))
	for i := range x {
		out[i] = m[i] + s.scale*(x[i]-m[i])
	}
	return out
}

// Propose returns up to n candidates of the current generation: the rest
// of its λ samples, or, when all λ are out, extra samples of the same
// distribution (see the package documentation).
func (s *CMAES) Propose(n int) ([]sdk.Candidate, error) {
	lambda := s.st.Run.Lambda
	var room int
	if s.st.Issued < lambda {
		room = lambda - s.st.Issued
	} else {
		missing := lambda - len(s.st.Observed)
		room = min(missing, 2*lambda-s.st.Issued)
	}
	if room <= 0 {
		return nil, sdk.Errorf(sdk.CodeFailed,
			"cmaes: all %d samples of generation %d are out and %d of the %d results it needs are missing; observe them first (use batch size λ = %d)",
			s.st.Issued, s.st.Gen, lambda-len(s.st.Observed), lambda, lambda)
	}
	out := make([]sdk.Candidate, min(n, room))
	for i := range out {
		x, g := s.draw(s.st.RNG)
		k := s.st.Issued
		s.samples = append(s.samples, x)
		s.seen = append(s.seen, false)
		s.st.Issued++
		out[i] = sdk.Candidate{ID: candidateID(s.st.Gen, k), Genome: g, Operator: Operator}
	}
	return out, nil
}

// value is a result's objective value with lower better: the score, negated
// when maximising; +Inf for a failed evaluation, a missing score or NaN.
func (s *CMAES) value(r sdk.Result) float64 {
	v, ok := r.Scores[s.st.Objective]
	if r.Failed || !ok || math.IsNaN(v) {
		return math.Inf(1)
	}
	if s.st.Maximize {
		return -v
	}
	return v
}

// Observe takes results. Those of the current generation count (the first
// one per candidate); the generation is complete, and the distribution
// updated, when λ have arrived.
func (s *CMAES) Observe(results []sdk.Result) error {
	for _, r := range results {
		gen, k, ok := parseID(r.ID)
		if !ok || gen != s.st.Gen || k >= s.st.Issued || s.seen[k] {
			s.st.Ignored++
			continue
		}
		f := s.value(r)
		s.seen[k] = true
		s.st.Observed = append(s.st.Observed, observed{K: k, F: num(f)})
		s.st.Evals++
		if f < float64(s.st.Best) {
			s.st.Best, s.st.BestID = num(f), r.ID
		}
		if len(s.st.Observed) == s.st.Run.Lambda {
			s.completeGeneration()
		}
	}
	return nil
}

// completeGeneration updates the distribution with the generation's λ
// results, restarts if a stopping criterion holds, and begins the next
// generation.
func (s *CMAES) completeGeneration() {
	r := s.st.Run
	n := s.enc.dim()
	if n > 0 && r.Stop == "" {
		xs := make([][]float64, len(s.st.Observed))
		fs := make([]float64, len(s.st.Observed))
		for i, o := range s.st.Observed {
			xs[i], fs[i] = s.samples[o.K], float64(o.F)
		}
		// Rank ties by sample index rather than arrival order.
		sortByIndex(s.st.Observed, xs, fs)
		r.tell(s.p, xs, fs)
		// Without restarts a stopped run stays, unless its state is no
		// longer finite (it could not be sampled or snapshotted).
		if r.Stop != "" && (s.st.Config.Restarts != RestartsNone || r.Stop == "Numerics") {
			s.restart()
		}
	}
	s.st.Gen++
	s.beginGeneration()
}

// sortByIndex orders the observations (and xs, fs with them) by sample index.
func sortByIndex(obs []observed, xs [][]float64, fs []float64) {
	for i := 1; i < len(obs); i++ { // insertion sort: λ is small and it is stable
		for j := i; j > 0 && obs[j].K < obs[j-1].K; j-- {
			obs[j], obs[j-1] = obs[j-1], obs[j]
			xs[j], xs[j-1] = xs[j-1], xs[j]
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// restart ends the current run and starts the next one of the scheme.
func (s *CMAES) restart() {
	old := s.st.Run
	n := s.enc.dim()
	best := math.Inf(1)
	for _, v := range old.BestHist {
		best = math.Min(best, v)
	}
	s.st.Runs = append(s.st.Runs, runSummary{Regime: old.Regime, Lambda: old.Lambda, Sigma0: old.Sigma0,
		Gens: old.G, Evals: old.Evals, Stop: old.Stop, Best: num(best)})
	if len(s.st.Runs) > maxRunSummaries {
		s.st.Runs = s.st.Runs[len(s.st.Runs)-maxRunSummaries:]
	}
	lambda0, sigma0 := s.st.Lambda0, s.st.Config.Sigma0
	large := func(regime string) {
		s.st.LargeRuns++
		lambda := min(lambda0<<min(s.st.LargeRuns, maxDoublings), lambdaCap(n, lambda0))
		s.startRun(regime, lambda, sigma0, maxIter(n, lambda))
	}
	switch s.st.Config.Restarts {
	case RestartsNone: // only after Numerics: the same run again
		s.startRun("first", lambda0, sigma0, maxIter(n, lambda0))
		return
	case RestartsIPOP:
		large("ipop")
		return
	}
	// BIPOP.
	switch old.Regime {
	case "large":
		s.st.LargeEvals += old.Evals
		s.st.LastLargeL, s.st.LastLargeE = old.Lambda, old.Evals
	case "small":
		s.st.SmallEvals += old.Evals
	}
	if s.st.LargeRuns == 0 || s.st.SmallEvals >= s.st.LargeEvals {
		large("large")
		return
	}
	u, u2 := s.st.RNG.Float64(), s.st.RNG.Float64()
	ls := int(math.Floor(float64(lambda0) * math.Pow(0.5*float64(s.st.LastLargeL)/float64(lambda0), u*u)))
	ls = max(ls, 2)
	sigma := sigma0 * math.Pow(10, -2*u2)
	budget := max(1, int(math.Ceil(0.5*float64(s.st.LastLargeE)/float64(ls))))
	s.st.SmallRuns++
	s.startRun("small", ls, sigma, min(budget, maxIter(n, ls)))
}

// Snapshot returns the complete state as JSON.
func (s *CMAES) Snapshot() (json.RawMessage, error) {
	st := s.st
	if st.Run.Fresh {
		r := *st.Run
		r.B = nil // Restore recomputes it from C
		st.Run = &r
	}
	return json.Marshal(st)
}

// Restore loads a snapshot into a fresh instance: it checks the state,
// re-draws the samples already handed out in the current generation from
// the generator state at its start, and checks that this reproduces the
// saved generator state.
func (s *CMAES) Restore(raw json.RawMessage) error {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return sdk.Errorf(sdk.CodeInvalid, "state: %v", err)
	}
	bad := func(format string, args ...any) error {
		return sdk.Errorf(sdk.CodeInvalid, "state: "+format, args...)
	}
	if st.Format != stateFormat {
		return bad("unknown format %d (want %d)", st.Format, stateFormat)
	}
	if err := st.Space.Validate(); err != nil {
		return bad("space: %v", err)
	}
	if err := st.Config.validate(); err != nil {
		return bad("config: %v", err)
	}
	if st.RNG == nil || st.GenRNG == nil || st.Run == nil {
		return bad("rng, genRng and run are required")
	}
	enc := newEncoding(st.Space)
	n := enc.dim()
	if n > MaxDim {
		return bad("the space has %d coordinates, more than %d", n, MaxDim)
	}
	if err := st.Run.check(n); err != nil {
		return bad("run: %v", err)
	}
	if st.Lambda0 < 2 || st.Gen < 0 || st.Issued < 0 || st.Issued > 2*st.Run.Lambda || len(st.Observed) >= st.Run.Lambda {
		return bad("inconsistent counters")
	}
	if len(st.Run.B) == 0 && n > 0 {
		// B was left out because it is the eigendecomposition of C: the
		// same computation gives the same bits, and D must come out equal.
		d := slices.Clone(st.Run.D)
		if !st.Run.Fresh || st.Run.EigenG != st.Run.G {
			return bad("run: b is missing")
		}
		if err := st.Run.decompose(n); err != nil || !slices.Equal(d, st.Run.D) {
			return bad("run: recomputing B from C does not reproduce D")
		}
	}
	next := CMAES{st: st, enc: enc, p: newParams(n, st.Run.Lambda)}
	next.seen = make([]bool, st.Issued)
	for _, o := range st.Observed {
		if o.K < 0 || o.K >= st.Issued || next.seen[o.K] {
			return bad("observation of sample %d does not match the %d issued", o.K, st.Issued)
		}
		next.seen[o.K] = true
	}
	rng := cloneRand(st.GenRNG)
	for range st.Issued {
		x, _ := next.draw(rng)
		next.samples = append(next.samples, x)
	}
	a, _ := rng.MarshalBinary()
	b, _ := st.RNG.MarshalBinary()
	if !bytes.Equal(a, b) {
		return bad("re-drawing the %d samples of generation %d does not reproduce the generator state", st.Issued, st.Gen)
	}
	*s = next
	return nil
}

// validate checks a decoded configuration (defaults filled in).
func (c Config) validate() error {
	switch {
	case c.Lambda != 0 && (c.Lambda < 2 || c.Lambda > maxLambda):
		return fmt.Errorf("lambda %d is outside [2, %d]", c.Lambda, maxLambda)
	case !(c.Sigma0 > 0 && c.Sigma0 <= 1):
		return fmt.Errorf("sigma0 %v is outside (0, 1]", c.Sigma0)
	case c.Restarts != RestartsNone && c.Restarts != RestartsIPOP && c.Restarts != RestartsBIPOP:
		return fmt.Errorf("unknown restarts %q", c.Restarts)
	}
	return nil
}
