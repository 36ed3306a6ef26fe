package solver

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

func TestScratch(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		return
	}
	opt, _ := tsplib.KnownOptima()
	names := strings.Split(os.Getenv("SCRATCH"), ",")
	genomes := map[string]string{
		"default": `{}`,
		"g1":      os.Getenv("G1"),
	}
	for _, name := range names {
		in, err := tsplib.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, gn := range []string{"default", "g1"} {
			if genomes[gn] == "" {
				continue
			}
			g, err := ParseGenome([]byte(genomes[gn]))
			if err != nil {
				t.Fatal(err)
			}
			for seed := uint64(1); seed <= 3; seed++ {
				st := time.Now()
				r, err := Solve(in, g, Options{Seed: seed, Deterministic: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := in.ValidTour(r.Tour); err != nil {
					t.Fatal(err)
				}
				if l := in.TourLength(r.Tour); l != r.Length {
					t.Fatalf("%s %s: length %d, reported %d", name, gn, l, r.Length)
				}
				fmt.Printf("%-8s %-8s seed %d len %6d gap %6.2f%% it %5d %v\n", name, gn, seed, r.Length, 100*float64(r.Length-opt[name])/float64(opt[name]), r.Iterations, time.Since(st).Round(time.Microsecond))
			}
		}
	}
}
