package cmaes

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// mixedSpace has every parameter type, with bounds that test the encoding:
// a log-scale float, a float with min = max, a small and a full-range int,
// an int with min = max, and the non-continuous types.
const mixedSpaceJSON = `{"parameters": [
  {"name": "x", "float": {"min": -5, "max": 5}},
  {"name": "lr", "float": {"min": 0.0001, "max": 0.1, "log": true}},
  {"name": "huge", "float": {"min": -1e308, "max": 1e308}},
  {"name": "fixed", "float": {"min": 2.5, "max": 2.5}},
  {"name": "k", "int": {"min": "-3", "max": "3"}},
  {"name": "big", "int": {"min": "-9223372036854775808", "max": "9223372036854775807"}},
  {"name": "one", "int": {"min": 7, "max": 7}},
  {"name": "algo", "categorical": {"choices": ["ga", "de", "cma"]}},
  {"name": "on", "bool": {}},
  {"name": "steps", "sequence": {"choices": ["2opt", "oropt", "swap"], "minLength": 1, "maxLength": 4}},
  {"name": "prompt", "text": {"maxLength": 100}},
  {"name": "solver", "code": {"language": "python"}}
]}`

func mixedSpace(t testing.TB) sdk.SearchSpace {
	t.Helper()
	var s sdk.SearchSpace
	if err := json.Unmarshal([]byte(mixedSpaceJSON), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func initReq(space sdk.SearchSpace, seed uint64, config string, dir sdk.Direction) sdk.InitRequest {
	req := sdk.InitRequest{Version: 1, Space: space, Seed: seed, Objectives: []sdk.Objective{{Name: "f", Direction: dir}}}
	if config != "" {
		req.Config = json.RawMessage(config)
	}
	return req
}

func newStrategy(t testing.TB, req sdk.InitRequest) *CMAES {
	t.Helper()
	s := &CMAES{}
	if err := s.Init(req); err != nil {
		t.Fatal(err)
	}
	return s
}

func propose(t testing.TB, s *CMAES, n int) []sdk.Candidate {
	t.Helper()
	c, err := s.Propose(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) == 0 || len(c) > n {
		t.Fatalf("asked for %d candidates, got %d", n, len(c))
	}
	return c
}

func observe(t testing.TB, s *CMAES, results []sdk.Result) {
	t.Helper()
	if err := s.Observe(results); err != nil {
		t.Fatal(err)
	}
}

// numeric is a test objective over a genome: the sum of squares of every
// float and int parameter in space after scaling it to [0, 1], minus 0.3.
func numeric(space sdk.SearchSpace, g sdk.Genome) float64 {
	f := 0.0
	for _, p := range space.Parameters {
		var u float64
		switch {
		case p.Float != nil && p.Float.Max > p.Float.Min:
			v, _ := g.Float(p.Name)
			if p.Float.Log {
				u = math.Log(v/p.Float.Min) / math.Log(p.Float.Max/p.Float.Min)
			} else {
				u = (v/2 - p.Float.Min/2) / (p.Float.Max/2 - p.Float.Min/2) // no overflow
			}
		case p.Int != nil && p.Int.Max > p.Int.Min:
			v, _ := g.Int(p.Name)
			u = (float64(v) - float64(p.Int.Min)) / (float64(p.Int.Max) - float64(p.Int.Min))
		default:
			continue
		}
		f += (u - 0.3) * (u - 0.3)
	}
	return f
}

func results(space sdk.SearchSpace, cands []sdk.Candidate) []sdk.Result {
	out := make([]sdk.Result, len(cands))
	for i, c := range cands {
		out[i] = sdk.Result{ID: c.ID, Scores: map[string]float64{"f": numeric(space, c.Genome)}}
	}
	return out
}

// roundTrip snapshots s into a fresh instance through JSON, as the host
// does.
func roundTrip(t testing.TB, s *CMAES) *CMAES {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(snap) {
		t.Fatalf("snapshot is not JSON: %s", snap)
	}
	fresh := &CMAES{}
	if err := fresh.Restore(append(json.RawMessage(nil), snap...)); err != nil {
		t.Fatal(err)
	}
	return fresh
}

func candJSON(t testing.TB, c []sdk.Candidate) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// step is one engine action: propose n, then observe the proposals of this
// step in the given order (reverse, or none).
type step struct {
	n       int
	observe string // "all", "reverse", "none", "half"
}

// drive applies steps, evaluating numeric, and returns the proposals.
func drive(t testing.TB, s *CMAES, space sdk.SearchSpace, steps []step) []string {
	t.Helper()
	var out []string
	var held []sdk.Result
	for _, st := range steps {
		c := propose(t, s, st.n)
		out = append(out, candJSON(t, c))
		res := append(held, results(space, c)...)
		held = nil
		switch st.observe {
		case "all":
			observe(t, s, res)
		case "reverse":
			slices.Reverse(res)
			observe(t, s, res)
		case "half":
			observe(t, s, res[:len(res)/2])
			held = res[len(res)/2:]
		case "none":
			held = res
		}
	}
	return out
}

// A restored instance proposes exactly what the original would have, from
// any point: mid-generation with samples out, with some results in, right
// after a generation, after a restart, in every restart scheme, and through
// several snapshots in a row.
func TestRestoreReproducesProposals(t *testing.T) {
	space := mixedSpace(t)
	script := []step{{5, "all"}, {3, "half"}, {20, "all"}, {7, "none"}, {7, "reverse"}, {1, "all"}, {12, "all"}, {12, "half"}, {4, "all"}}
	for _, config := range []string{`{}`, `{"restarts":"ipop","lambda":6}`, `{"restarts":"none","sigma0":0.05}`, `{"lambda":4,"sigma0":1}`} {
		for cut := range len(script) + 1 {
			orig := newStrategy(t, initReq(space, 42, config, sdk.Minimize))
			before := drive(t, orig, space, script[:cut])
			restored := roundTrip(t, orig)
			want := drive(t, orig, space, script[cut:])
			got := drive(t, restored, space, script[cut:])
			if !slices.Equal(got, want) {
				t.Fatalf("config %s, restored after step %d (%d proposals): the restored instance proposes differently", config, cut, len(before))
			}
			// A snapshot of the restored instance is the original's.
			a, _ := orig.Snapshot()
			b, _ := restored.Snapshot()
			if string(a) != string(b) {
				t.Fatalf("config %s, cut %d: snapshots differ after the same calls", config, cut)
			}
		}
	}
}

// Restore also reproduces a run across restarts: on a constant objective
// runs stop quickly; an instance that is snapshotted and restored before
// and in the middle of every generation proposes what one that never is
// does.
func TestRestoreAcrossRestarts(t *testing.T) {
	space := boxSpace(3)
	for _, restarts := range []string{"ipop", "bipop", "none"} {
		config := `{"restarts":"` + restarts + `"}`
		plain := newStrategy(t, initReq(space, 5, config, sdk.Minimize))
		hopping := newStrategy(t, initReq(space, 5, config, sdk.Minimize))
		for range 150 {
			hopping = roundTrip(t, hopping)
			var want, got []sdk.Candidate
			for _, n := range []int{4, 1000} {
				want = append(want, propose(t, plain, n)...)
				got = append(got, propose(t, hopping, n)...)
				hopping = roundTrip(t, hopping)
			}
			if candJSON(t, got) != candJSON(t, want) {
				t.Fatalf("%s: generation %d differs after restores", restarts, plain.st.Gen)
			}
			res := make([]sdk.Result, len(want))
			for i, c := range want {
				res[i] = sdk.Result{ID: c.ID, Scores: map[string]float64{"f": 1}}
			}
			observe(t, plain, res)
			observe(t, hopping, res)
		}
		if restarts != "none" && len(plain.st.Runs) < 3 {
			t.Fatalf("%s: a constant objective should restart often, runs: %+v", restarts, plain.st.Runs)
		}
	}
}

func TestSeedDeterminism(t *testing.T) {
	space := mixedSpace(t)
	script := []step{{6, "all"}, {6, "all"}, {9, "reverse"}, {30, "all"}, {30, "all"}}
	a := drive(t, newStrategy(t, initReq(space, 7, "", sdk.Minimize)), space, script)
	b := drive(t, newStrategy(t, initReq(space, 7, "", sdk.Minimize)), space, script)
	c := drive(t, newStrategy(t, initReq(space, 8, "", sdk.Minimize)), space, script)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different proposals")
	}
	if a[0] == c[0] {
		t.Fatal("seeds 7 and 8 gave the same first proposals")
	}
}

// The order in which results arrive does not change the run: ranking ties
// go by sample index, not arrival.
func TestObservationOrderDoesNotMatter(t *testing.T) {
	space := boxSpace(4)
	fwd := newStrategy(t, initReq(space, 3, "", sdk.Minimize))
	rev := newStrategy(t, initReq(space, 3, "", sdk.Minimize))
	for range 30 {
		c := propose(t, fwd, 100)
		if got := propose(t, rev, 100); candJSON(t, got) != candJSON(t, c) {
			t.Fatal("proposals differ")
		}
		res := make([]sdk.Result, len(c))
		for i, cand := range c {
			// Ties on purpose: a coarse objective.
			res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"f": math.Round(numeric(space, cand.Genome) * 10)}}
		}
		observe(t, fwd, res)
		slices.Reverse(res)
		observe(t, rev, res)
	}
}

// Every proposal is a valid genome of the space, also when the optimum is
// at or beyond the bounds (it pushes samples outside the box, which the
// reflection folds back).
func TestBoundsRespected(t *testing.T) {
	space := mixedSpace(t)
	for _, dir := range []sdk.Direction{sdk.Minimize, sdk.Maximize} {
		s := newStrategy(t, initReq(space, 11, `{"sigma0": 1}`, dir))
		ids := map[string]bool{}
		for range 300 {
			c := propose(t, s, 50)
			res := make([]sdk.Result, len(c))
			for i, cand := range c {
				if err := cand.Genome.Validate(space); err != nil {
					t.Fatalf("%s: candidate %s: %v", dir, cand.ID, err)
				}
				if ids[cand.ID] {
					t.Fatalf("id %s proposed twice", cand.ID)
				}
				ids[cand.ID] = true
				if cand.Operator != Operator {
					t.Fatalf("operator %q", cand.Operator)
				}
				x, _ := cand.Genome.Float("x")
				k, _ := cand.Genome.Int("k")
				lr, _ := cand.Genome.Float("lr")
				// Monotonic in every coordinate: the optimum is a corner.
				f := x + float64(k) + math.Log(lr)
				if dir == sdk.Maximize {
					f = -f
				}
				res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"f": f}}
			}
			observe(t, s, res)
		}
		// The optimum is the corner (-5, -3, 1e-4), or (5, 3, 0.1) when
		// maximising; the best value is kept with the internal sign.
		if best, want := float64(s.st.Best), -5-3+math.Log(0.0001); best > want+0.01 {
			t.Fatalf("%s: towards the corner the best value is %v, want about %v", dir, best, want)
		}
	}
}

func TestEncoding(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 0}, {0.25, 0.25}, {1, 1}, {-0.25, 0.25}, {1.25, 0.75}, {2, 0}, {2.5, 0.5}, {-1.5, 0.5}, {-3.75, 0.25}, {1e300, 0},
	} {
		if got := mirror(c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("mirror(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	// An int gets equal shares of [0, 1]: -3..3 is 7 bins of width 1/7.
	k := sdk.Parameter{Name: "k", Int: &sdk.IntParam{Min: -3, Max: 3}}
	for i := range 7 {
		lo, hi := float64(i)/7+1e-9, float64(i+1)/7-1e-9
		if decode(k, lo) != int64(i-3) || decode(k, hi) != int64(i-3) {
			t.Errorf("bin %d: decode(%v) = %v, decode(%v) = %v", i, lo, decode(k, lo), hi, decode(k, hi))
		}
	}
	if decode(k, 1) != int64(3) || decode(k, 0) != int64(-3) {
		t.Errorf("ends: %v %v", decode(k, 0), decode(k, 1))
	}
	big := sdk.Parameter{Name: "b", Int: &sdk.IntParam{Min: math.MinInt64, Max: math.MaxInt64}}
	if decode(big, 0) != int64(math.MinInt64) || decode(big, 1) != int64(math.MaxInt64) || decode(big, 0.5) != int64(0) {
		t.Errorf("full int64 range: %v %v %v", decode(big, 0), decode(big, 1), decode(big, 0.5))
	}
	lr := sdk.Parameter{Name: "lr", Float: &sdk.FloatParam{Min: 1e-4, Max: 1e-1, Log: true}}
	if v := decode(lr, 0.5).(float64); math.Abs(math.Log10(v)+2.5) > 1e-12 {
		t.Errorf("log scale: decode(0.5) = %v, want 10^-2.5", v)
	}
	if decode(lr, 0).(float64) != 1e-4 || decode(lr, 1).(float64) != 1e-1 {
		t.Errorf("log scale ends: %v %v", decode(lr, 0), decode(lr, 1))
	}
	huge := sdk.Parameter{Name: "h", Float: &sdk.FloatParam{Min: -1e308, Max: 1e308}}
	if v := decode(huge, 0.75).(float64); math.IsInf(v, 0) || math.IsNaN(v) || v != 0.5e308 {
		t.Errorf("huge range: decode(0.75) = %v", v)
	}
	// Which parameters are coordinates.
	enc := newEncoding(mixedSpace(t))
	var names []string
	for _, c := range enc.coords {
		names = append(names, enc.space.Parameters[c.param].Name)
	}
	if want := []string{"x", "lr", "huge", "k", "big"}; !slices.Equal(names, want) {
		t.Errorf("coordinates %v, want %v", names, want)
	}
}

func TestJSONHelpers(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1.5, -math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1)}
	b, err := json.Marshal(packed(vals))
	if err != nil {
		t.Fatal(err)
	}
	var p packed
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if math.Float64bits(p[i]) != math.Float64bits(vals[i]) {
			t.Fatalf("packed round trip: %v, want %v", p, vals)
		}
	}
	if json.Unmarshal([]byte(`"AAAA"`), &p) == nil || json.Unmarshal([]byte(`[1]`), &p) == nil {
		t.Fatal("bad packed values accepted")
	}
	m := symmetric{1, 2, 3, 2, 4, 5, 3, 5, 6}
	b, _ = json.Marshal(m)
	var m2 symmetric
	if err := json.Unmarshal(b, &m2); err != nil || !slices.Equal(m, m2) {
		t.Fatalf("symmetric round trip: %v %v", m2, err)
	}
	if json.Unmarshal([]byte(`"`+strings.Repeat("A", 16)+`"`), &m2) == nil { // 12 bytes: not 8k
		t.Fatal("bad triangle accepted")
	}
	for _, v := range []float64{math.Inf(1), math.Inf(-1), 2.25} {
		b, _ := json.Marshal(num(v))
		var n num
		if err := json.Unmarshal(b, &n); err != nil || float64(n) != v {
			t.Fatalf("num %v: %s → %v %v", v, b, n, err)
		}
	}
	var n num
	if err := json.Unmarshal([]byte(`"NaN"`), &n); err != nil || !math.IsNaN(float64(n)) {
		t.Fatal("num NaN")
	}
	if json.Unmarshal([]byte(`"x"`), &n) == nil {
		t.Fatal("num accepted a word")
	}
}

func TestConfig(t *testing.T) {
	space := boxSpace(10)
	for _, c := range []struct {
		config string
		want   Config
	}{
		{``, Config{Sigma0: 0.3, Restarts: "bipop"}},
		{`null`, Config{Sigma0: 0.3, Restarts: "bipop"}},
		{`{}`, Config{Sigma0: 0.3, Restarts: "bipop"}},
		{`{"lambda": 12, "sigma0": 0.1, "restarts": "ipop"}`, Config{Lambda: 12, Sigma0: 0.1, Restarts: "ipop"}},
		{`{"lambda": 12.0, "restarts": "none"}`, Config{Lambda: 12, Sigma0: 0.3, Restarts: "none"}},
		{`{"sigma0": 1}`, Config{Sigma0: 1, Restarts: "bipop"}},
	} {
		s := newStrategy(t, initReq(space, 1, c.config, sdk.Minimize))
		if s.st.Config != c.want {
			t.Errorf("config %s: %+v, want %+v", c.config, s.st.Config, c.want)
		}
		lambda := c.want.Lambda
		if lambda == 0 {
			lambda = 10 // 4 + ⌊3 ln 10⌋
		}
		if s.st.Run.Lambda != lambda || len(propose(t, s, 100)) != lambda {
			t.Errorf("config %s: λ = %d, want %d", c.config, s.st.Run.Lambda, lambda)
		}
	}
	for _, config := range []string{
		`{"lambda": 1}`, `{"lambda": 0}`, `{"lambda": 2.5}`, `{"lambda": "10"}`, `{"lambda": 1e9}`,
		`{"sigma0": 0}`, `{"sigma0": -0.1}`, `{"sigma0": 1.5}`, `{"sigma0": "big"}`,
		`{"restarts": "always"}`, `{"restarts": 2}`, `{"popsize": 10}`, `{"Lambda": 10}`,
		`[]`, `5`, `"bipop"`,
	} {
		err := (&CMAES{}).Init(initReq(space, 1, config, sdk.Minimize))
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalid {
			t.Errorf("config %s: error %v, want code invalid", config, err)
		}
	}
	// λ·n is bounded (memory), and so is n (C and B are n×n).
	for _, c := range []struct {
		n      int
		config string
	}{{20, `{"lambda": 65536}`}, {MaxDim + 1, ``}} {
		err := (&CMAES{}).Init(initReq(boxSpace(c.n), 1, c.config, sdk.Minimize))
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalid {
			t.Errorf("n = %d, config %s: error %v, want code invalid", c.n, c.config, err)
		}
	}
	if lambdaCap(10, 10) != 10<<maxDoublings || lambdaCap(100, 14) != maxLambdaWork/10000 || lambdaCap(400, 500) != 500 {
		t.Errorf("lambdaCap: %d %d %d", lambdaCap(10, 10), lambdaCap(100, 14), lambdaCap(400, 500))
	}
	for _, req := range []sdk.InitRequest{
		{Version: 1, Space: space},
		{Version: 1, Space: space, Objectives: []sdk.Objective{{Name: ""}}},
		{Version: 1, Space: space, Objectives: []sdk.Objective{{Name: "f", Direction: "UPWARDS"}}},
	} {
		err := (&CMAES{}).Init(req)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalid {
			t.Errorf("objectives %+v: error %v, want code invalid", req.Objectives, err)
		}
	}
}

// Maximising -f is minimising f: the same seed gives the same proposals,
// bit for bit, and the best score is recorded in the internal sign.
func TestMaximize(t *testing.T) {
	space := boxSpace(5)
	min := newStrategy(t, initReq(space, 9, "", sdk.Minimize))
	max := newStrategy(t, initReq(space, 9, "", sdk.Maximize))
	x := make([]float64, 5)
	for range 150 {
		a, b := propose(t, min, 100), propose(t, max, 100)
		if candJSON(t, a) != candJSON(t, b) {
			t.Fatal("maximising -f proposes differently from minimising f")
		}
		ra, rb := make([]sdk.Result, len(a)), make([]sdk.Result, len(b))
		for i, c := range a {
			for j, p := range space.Parameters {
				x[j], _ = c.Genome.Float(p.Name)
			}
			f := sphere(x)
			ra[i] = sdk.Result{ID: c.ID, Scores: map[string]float64{"f": f}}
			rb[i] = sdk.Result{ID: c.ID, Scores: map[string]float64{"f": -f}}
		}
		observe(t, min, ra)
		observe(t, max, rb)
	}
	if !(float64(min.st.Best) < 1e-8) || min.st.Best != max.st.Best {
		t.Fatalf("best %v (minimise) and %v (maximise, internal sign)", min.st.Best, max.st.Best)
	}
}

// Failed evaluations, missing scores and NaN rank as the worst values: the
// search still converges when a third of the evaluations fail and when the
// failures mark an infeasible region; a generation that fails entirely
// changes nothing and produces no NaN.
func TestFailedResults(t *testing.T) {
	space := boxSpace(6)
	x := make([]float64, 6)
	s := newStrategy(t, initReq(space, 4, "", sdk.Minimize))
	for range 400 {
		c := propose(t, s, 100)
		res := make([]sdk.Result, len(c))
		for i, cand := range c {
			for j, p := range space.Parameters {
				x[j], _ = cand.Genome.Float(p.Name)
			}
			f := sphere(x)
			switch {
			case i%7 == 3:
				res[i] = sdk.Result{ID: cand.ID, Failed: true, Reason: "crashed"}
			case i%7 == 5:
				res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"other": 1}}
			case i%7 == 6:
				res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"f": math.NaN()}}
			case x[0] < shift(0)-1: // infeasible: fails with a good score
				res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"f": -1e9}, Failed: true}
			default:
				res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"f": f}}
			}
		}
		observe(t, s, res)
	}
	if !(float64(s.st.Best) < 1e-8) {
		t.Fatalf("with failures the best value is %v", s.st.Best)
	}

	// Every evaluation fails: the distribution stays put, nothing is NaN,
	// and EqualFunValues restarts the run after 10 + ⌈30n/λ⌉ generations.
	s = newStrategy(t, initReq(space, 4, "", sdk.Minimize))
	mean := slices.Clone(s.st.Run.Mean)
	lambda := s.st.Run.Lambda
	for range tolFunGens(s.p) - 1 {
		c := propose(t, s, 100)
		res := make([]sdk.Result, len(c))
		for i, cand := range c {
			res[i] = sdk.Result{ID: cand.ID, Failed: true}
		}
		observe(t, s, res)
	}
	if !slices.Equal(mean, s.st.Run.Mean) || len(s.st.Runs) != 0 {
		t.Fatalf("all-failed generations moved the mean or restarted: %v → %v, runs %v", mean, s.st.Run.Mean, s.st.Runs)
	}
	c := propose(t, s, 100)
	res := make([]sdk.Result, len(c))
	for i, cand := range c {
		res[i] = sdk.Result{ID: cand.ID, Failed: true}
	}
	observe(t, s, res)
	if len(s.st.Runs) != 1 || s.st.Runs[0].Stop != "EqualFunValues" || s.st.Run.Lambda != 2*lambda {
		t.Fatalf("after %d failed generations: runs %+v, λ %d", tolFunGens(s.p), s.st.Runs, s.st.Run.Lambda)
	}
	if _, err := s.Snapshot(); err != nil {
		t.Fatalf("snapshot with infinite values: %v", err)
	}
}

// The engine's batch need not be λ: a smaller batch gets the generation in
// pieces, a larger one gets the rest of it (fewer than asked). If results
// are still out when all λ samples are, extra samples are drawn, the first λ
// results complete the generation, and late results are ignored.
func TestBatchesAndExtraSamples(t *testing.T) {
	space := boxSpace(10)
	s := newStrategy(t, initReq(space, 2, `{"lambda": 10}`, sdk.Minimize))
	var sizes []int
	for range 4 {
		c := propose(t, s, 3)
		sizes = append(sizes, len(c))
		observe(t, s, results(space, c))
	}
	if !slices.Equal(sizes, []int{3, 3, 3, 1}) || s.st.Gen != 1 {
		t.Fatalf("batches of 3 with λ = 10: %v, generation %d", sizes, s.st.Gen)
	}
	if c := propose(t, s, 25); len(c) != 10 || c[0].ID != "g0001-c00" || c[9].ID != "g0001-c09" {
		t.Fatalf("batch of 25: %d candidates from %s", len(c), c[0].ID)
	} else {
		// All ten are out, none observed: asking again draws extras, up to
		// λ more; then Propose fails until results arrive.
		extra := propose(t, s, 4)
		extra = append(extra, propose(t, s, 100)...)
		if len(extra) != 10 || extra[0].ID != "g0001-c10" || extra[9].ID != "g0001-c19" {
			t.Fatalf("extras: %d from %s", len(extra), extra[0].ID)
		}
		_, err := s.Propose(1)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeFailed || !strings.Contains(err.Error(), "batch size") {
			t.Fatalf("with 2λ out: %v", err)
		}
		// The generation completes with the first λ results: five extras
		// and five originals; the other results are late and ignored.
		all := append(results(space, extra[:5]), results(space, c[:5])...)
		observe(t, s, all)
		if s.st.Gen != 2 || s.st.Ignored != 0 {
			t.Fatalf("after λ results: generation %d, ignored %d", s.st.Gen, s.st.Ignored)
		}
		observe(t, s, append(results(space, c[5:]), results(space, extra[5:])...))
		observe(t, s, []sdk.Result{{ID: "nonsense"}, {ID: "g0002-c99"}, {ID: "g2-c0"}, {ID: "g0002-c0"}})
		if s.st.Ignored != 14 || s.st.Issued != 0 || len(s.st.Observed) != 0 {
			t.Fatalf("late and unknown results: ignored %d, issued %d, observed %d", s.st.Ignored, s.st.Issued, len(s.st.Observed))
		}
	}
	// A repeated result counts once.
	c := propose(t, s, 10)
	r := results(space, c[:1])
	observe(t, s, append(r, r...))
	if len(s.st.Observed) != 1 || s.st.Ignored != 15 {
		t.Fatalf("repeated result: observed %d, ignored %d", len(s.st.Observed), s.st.Ignored)
	}
}

func TestIDs(t *testing.T) {
	for _, c := range []struct {
		gen, k int
		id     string
	}{{0, 0, "g0000-c00"}, {3, 7, "g0003-c07"}, {12345, 678, "g12345-c678"}} {
		if got := candidateID(c.gen, c.k); got != c.id {
			t.Errorf("candidateID(%d, %d) = %s", c.gen, c.k, got)
		}
		if g, k, ok := parseID(c.id); !ok || g != c.gen || k != c.k {
			t.Errorf("parseID(%s) = %d %d %v", c.id, g, k, ok)
		}
	}
	for _, id := range []string{"", "g", "g1-c1", "g0001-c1", "x0001-c01", "g0001c01", "g0001-c-1", "g-001-c01", "g0001-c01x"} {
		if _, _, ok := parseID(id); ok {
			t.Errorf("parseID(%q) accepted", id)
		}
	}
}

// The restart schemes: IPOP doubles λ; BIPOP interleaves large runs
// (doubling) with small ones (λ between λ0 and half the last large λ,
// smaller σ0, at most half the last large run's budget); "none" keeps
// proposing from the final distribution and adapts nothing.
func TestRestarts(t *testing.T) {
	space := boxSpace(2)
	// flat runs generations of a constant objective until the strategy has
	// finished runs runs, or for gens generations when runs is 0.
	flat := func(s *CMAES, gens, runs int) {
		for g := 0; runs > 0 && len(s.st.Runs) < runs || runs == 0 && g < gens; g++ {
			c := propose(t, s, 10000)
			res := make([]sdk.Result, len(c))
			for i, cand := range c {
				res[i] = sdk.Result{ID: cand.ID, Scores: map[string]float64{"f": 3}}
			}
			observe(t, s, res)
		}
	}
	ipop := newStrategy(t, initReq(space, 1, `{"restarts":"ipop"}`, sdk.Minimize))
	flat(ipop, 0, 5)
	for i, r := range ipop.st.Runs {
		if want := 6 << min(i, maxDoublings); r.Lambda != want || r.Sigma0 != 0.3 {
			t.Fatalf("ipop run %d: λ %d σ0 %v, want λ %d", i, r.Lambda, r.Sigma0, want)
		}
	}

	bipop := newStrategy(t, initReq(space, 1, "", sdk.Minimize))
	flat(bipop, 0, 12)
	runs := append(bipop.st.Runs, runSummary{Regime: bipop.st.Run.Regime})
	if len(runs) < 6 || runs[0].Regime != "first" || runs[1].Regime != "large" || runs[1].Lambda != 12 || runs[2].Regime != "small" {
		t.Fatalf("bipop: runs %+v", runs)
	}
	large, small, lastLarge, lastLargeEvals := 0, 0, 6, 0
	for i, r := range bipop.st.Runs {
		switch r.Regime {
		case "large":
			if i > 1 && small < large {
				t.Errorf("run %d is large while the small regime used fewer evaluations (%d < %d)", i, small, large)
			}
			large += r.Evals
			lastLarge, lastLargeEvals = r.Lambda, r.Evals
		case "small":
			if r.Lambda < 6 || r.Lambda > lastLarge/2 || r.Sigma0 > 0.3 || r.Sigma0 < 0.003 || r.Evals > lastLargeEvals/2+r.Lambda {
				t.Errorf("small run %d: %+v (last large λ %d, %d evaluations)", i, r, lastLarge, lastLargeEvals)
			}
			small += r.Evals
		}
	}

	none := newStrategy(t, initReq(space, 1, `{"restarts":"none"}`, sdk.Minimize))
	flat(none, 200, 0)
	if none.st.Run.Stop == "" || len(none.st.Runs) != 0 {
		t.Fatalf("none: stop %q, runs %v", none.st.Run.Stop, none.st.Runs)
	}
	before, _ := json.Marshal(none.st.Run)
	flat(none, 20, 0)
	after, _ := json.Marshal(none.st.Run)
	if string(before) != string(after) {
		t.Fatal("none: the distribution changed after the run stopped")
	}
}

// A space without float or int parameters has nothing for CMA-ES to adapt:
// each candidate is drawn uniformly, in generations of 4.
func TestNoContinuousParameters(t *testing.T) {
	var space sdk.SearchSpace
	if err := json.Unmarshal([]byte(`{"parameters": [{"name": "algo", "categorical": {"choices": ["a", "b", "c"]}}, {"name": "fixed", "float": {"min": 1, "max": 1}}]}`), &space); err != nil {
		t.Fatal(err)
	}
	s := newStrategy(t, initReq(space, 1, "", sdk.Maximize))
	seen := map[string]bool{}
	for range 20 {
		c := propose(t, s, 10)
		if len(c) != 4 {
			t.Fatalf("%d candidates", len(c))
		}
		for _, cand := range c {
			if err := cand.Genome.Validate(space); err != nil {
				t.Fatal(err)
			}
			v, _ := cand.Genome.String("algo")
			seen[v] = true
		}
		observe(t, s, results(space, c))
		s = roundTrip(t, s)
	}
	if len(seen) != 3 {
		t.Fatalf("categories drawn: %v", seen)
	}
}

func TestRestoreRejectsBadStates(t *testing.T) {
	s := newStrategy(t, initReq(mixedSpace(t), 1, "", sdk.Minimize))
	c := propose(t, s, 3)
	observe(t, s, results(s.st.Space, c[:1]))
	snap, _ := s.Snapshot()
	tamper := func(f func(m map[string]any)) json.RawMessage {
		var m map[string]any
		json.Unmarshal(snap, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	other := newStrategy(t, initReq(mixedSpace(t), 2, "", sdk.Minimize))
	otherSnap, _ := other.Snapshot()
	var otherState map[string]any
	json.Unmarshal(otherSnap, &otherState)
	for name, state := range map[string]json.RawMessage{
		"not json":      json.RawMessage(`{`),
		"not an object": json.RawMessage(`[]`),
		"format":        tamper(func(m map[string]any) { m["format"] = 2 }),
		"no rng":        tamper(func(m map[string]any) { delete(m, "rng") }),
		"no run":        tamper(func(m map[string]any) { delete(m, "run") }),
		"other rng":     tamper(func(m map[string]any) { m["rng"] = otherState["rng"] }),
		"issued":        tamper(func(m map[string]any) { m["issued"] = 2 }),
		"bad config":    tamper(func(m map[string]any) { m["config"] = map[string]any{"sigma0": 3, "restarts": "bipop"} }),
		"bad space":     tamper(func(m map[string]any) { m["space"] = map[string]any{"parameters": []any{map[string]any{"name": "x"}}} }),
		"observed twice": tamper(func(m map[string]any) {
			m["observed"] = []any{map[string]any{"k": 0, "f": 1}, map[string]any{"k": 0, "f": 1}}
		}),
		"short mean": tamper(func(m map[string]any) { m["run"].(map[string]any)["mean"] = []float64{1} }),
		"bad c":      tamper(func(m map[string]any) { m["run"].(map[string]any)["c"] = "AAAA" }),
		"dropped b":  tamper(func(m map[string]any) { delete(m["run"].(map[string]any), "b") }),
	} {
		err := (&CMAES{}).Restore(state)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalid {
			t.Errorf("%s: error %v, want code invalid", name, err)
		}
	}
	if err := (&CMAES{}).Restore(snap); err != nil {
		t.Fatalf("the untampered state: %v", err)
	}
}

// A state that is no longer finite stops the run (Numerics) and starts a
// new one, even without restarts: the old one could be neither sampled nor
// snapshotted.
func TestNumericsRestarts(t *testing.T) {
	space := boxSpace(3)
	s := newStrategy(t, initReq(space, 1, `{"restarts":"none"}`, sdk.Minimize))
	c := propose(t, s, 100)
	s.st.Run.Sigma = math.Inf(1)
	observe(t, s, results(space, c))
	if len(s.st.Runs) != 1 || s.st.Runs[0].Stop != "Numerics" || s.st.Run.Stop != "" || s.st.Run.Sigma != 0.3 {
		t.Fatalf("runs %+v, current %+v", s.st.Runs, s.st.Run)
	}
	for _, cand := range propose(t, s, 100) {
		if err := cand.Genome.Validate(space); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip(t, s)
}
