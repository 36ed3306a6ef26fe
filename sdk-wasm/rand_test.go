package sdk

import (
	"encoding/json"
	"math"
	"testing"
)

func draws(r *Rand, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.Uint64()
	}
	return out
}

func TestRandIsSeeded(t *testing.T) {
	a, b, c := draws(NewRand(42), 8), draws(NewRand(42), 8), draws(NewRand(43), 8)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different draw %d", i)
		}
	}
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seeds 42 and 43 gave the same sequence")
	}
}

func TestRandStateRoundTrips(t *testing.T) {
	r := NewRand(7)
	draws(r, 5)
	// As a field of a snapshot struct: a zero *Rand decodes.
	type state struct {
		RNG *Rand `json:"rng"`
	}
	b, err := json.Marshal(state{RNG: r})
	if err != nil {
		t.Fatal(err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want, got := draws(r, 10), draws(s.RNG, 10)
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("restored generator differs at draw %d", i)
		}
	}
	if err := s.RNG.UnmarshalJSON([]byte(`"bm90IGEgc3RhdGU="`)); err == nil {
		t.Fatal("a bad state should not restore")
	}
	if _, err := (&Rand{}).MarshalBinary(); err == nil {
		t.Fatal("a zero Rand has no state to marshal")
	}
}

func TestRandRanges(t *testing.T) {
	r := NewRand(1)
	sawLo, sawHi := false, false
	for range 2000 {
		if v := r.Uniform(-2, 3); v < -2 || v > 3 {
			t.Fatalf("Uniform = %v", v)
		}
		if v := r.LogUniform(1e-6, 1e3); v < 1e-6 || v > 1e3 {
			t.Fatalf("LogUniform = %v", v)
		}
		if v := r.Uniform(-math.MaxFloat64, math.MaxFloat64); math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("Uniform over the whole float range = %v", v)
		}
		v := r.IntRange(-2, 2)
		if v < -2 || v > 2 {
			t.Fatalf("IntRange = %v", v)
		}
		sawLo, sawHi = sawLo || v == -2, sawHi || v == 2
		r.IntRange(math.MinInt64, math.MaxInt64) // must not panic
		if v := r.IntRange(math.MaxInt64-1, math.MaxInt64); v < math.MaxInt64-1 {
			t.Fatalf("IntRange near the top = %v", v)
		}
	}
	if !sawLo || !sawHi {
		t.Fatal("IntRange never reached an end of its range")
	}
	if r.Uniform(3, 3) != 3 || r.IntRange(5, 5) != 5 || r.LogUniform(2, 2) != 2 || r.Choice(nil) != "" {
		t.Fatal("degenerate ranges")
	}
}

func TestRandGenomeStaysInSpace(t *testing.T) {
	r := NewRand(99)
	lengths := map[int]bool{}
	for range 500 {
		g := r.Genome(testSpace)
		if err := g.Validate(testSpace); err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		s, _ := g.Sequence("steps")
		lengths[len(s)] = true
	}
	if len(lengths) != 4 {
		t.Fatalf("sequence lengths drawn: %v, want all of 1..4", lengths)
	}
	if r.Value(Parameter{Name: "bad"}) != nil {
		t.Fatal("an invalid parameter should draw nil")
	}
}
