package evo

import (
	"fmt"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// BenchmarkBootstrap measures BootstrapCI on 0/1 scores (the shortcut) and
// on many-valued scores (like F1) for a few task counts and resample counts.
func BenchmarkBootstrap(b *testing.B) {
	for _, n := range []int{10, 128} {
		for _, B := range []int{1000, 10000, 100000} {
			for _, kind := range []string{"binary", "f1"} {
				data := make([]float64, n)
				for i := range data {
					data[i] = float64(i % 2)
					if kind == "f1" {
						data[i] = float64(i%7) / 6
					}
				}
				b.Run(fmt.Sprintf("%s_n%d_B%d", kind, n, B), func(b *testing.B) {
					rng := sdk.NewRand(1)
					for range b.N {
						BootstrapCI(data, B, rng)
					}
				})
			}
		}
	}
}
