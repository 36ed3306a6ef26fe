package suite

import (
	"strings"
	"testing"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// MemoryScale multiplies the merged memory limit (the default one too, and
// the cpu tier's quota, which is the same limit); 0 leaves it, a negative
// or NaN scale is refused.
func TestLookupScalesTheMemoryLimit(t *testing.T) {
	c := Catalog{TSPSolver: []string{tspsolverBin}, DataDir: t.TempDir(), Runtime: "process",
		DefaultLimits: container.Limits{MemoryBytes: 512 << 20, CPUs: 1, Pids: 128}}
	for _, tc := range []struct {
		opts Options
		want int64
	}{
		{Options{MemoryScale: 1.25}, 640 << 20},
		{Options{MemoryScale: 0}, 512 << 20},
		{Options{Limits: container.Limits{MemoryBytes: 100 << 20}, MemoryScale: 1.5}, 150 << 20},
		{Options{Limits: container.Limits{Tiers: map[container.Tier]int64{container.TierCPU: 200 << 20}}, MemoryScale: 1.2}, 240 << 20},
	} {
		s, err := c.Lookup("tsplib-small", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.(*tspSuite).limits; got.Memory() != tc.want || got.Validate() != nil {
			t.Errorf("%+v: limits %+v, want memory %d", tc.opts, got, tc.want)
		}
	}
	for _, f := range []float64{-1, nan()} {
		if _, err := c.Lookup("tsplib-small", Options{MemoryScale: f}); err == nil || !strings.Contains(err.Error(), "memory scale") {
			t.Errorf("scale %v: %v", f, err)
		}
	}
}

func nan() float64 { z := 0.0; return z / z }
