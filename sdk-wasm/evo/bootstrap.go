package evo

import (
	"fmt"
	"math"
	"slices"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// BootstrapCI is the percentile bootstrap of the mean, as ADAS computes its
// fitness (utils.py:bootstrap_confidence_interval): resamples samples of
// len(samples) values drawn with replacement, the mean of each, and the
// 2.5th, 50th and 97.5th percentiles of those means (linear interpolation
// between order statistics, numpy's default). No samples give NaN; samples
// that are all equal give that value without drawing; resamples < 1 is 1.
//
// Samples with exactly two distinct values (0/1 scores, the common case)
// take a shortcut with the same distribution: the number of resampled
// copies of the larger value is Binomial(n, its share), drawn by inverting
// that binomial's CDF through a guide table, and the percentiles are read
// from a histogram, so a resample costs about O(1) instead of O(n). BootstrapDraws says which path
// costs what.
func BootstrapCI(samples []float64, resamples int, rng *sdk.Rand) (lo, median, hi float64) {
	n := len(samples)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	a, b, distinct := twoValues(samples)
	if distinct == 1 {
		return samples[0], samples[0], samples[0]
	}
	resamples = max(resamples, 1)
	if distinct == 2 {
		return binaryBootstrap(samples, a, b, resamples, rng)
	}
	means := make([]float64, resamples)
	if n > 1<<16 {
		for r := range means {
			sum := 0.0
			for range n {
				sum += samples[rng.Uint64N(uint64(n))]
			}
			means[r] = sum / float64(n)
		}
	} else {
		// Four 16-bit draws per generator call, each mapped to [0, n) by
		// Lemire's multiply-shift with rejection, so every index is exactly
		// equally likely. Inlined: Go's Wasm pays dearly for calls.
		un := uint64(n)
		thresh := (1 << 16) % un
		var bits uint64
		left := 0
		for r := range means {
			sum := 0.0
			for i := 0; i < n; {
				if left == 0 {
					bits, left = rng.Uint64(), 4
				}
				m := (bits & 0xffff) * un
				bits >>= 16
				left--
				if m&0xffff >= thresh {
					sum += samples[m>>16]
					i++
				}
			}
			means[r] = sum / float64(n)
		}
	}
	slices.Sort(means)
	return Percentile(means, 2.5), Percentile(means, 50), Percentile(means, 97.5)
}

// BootstrapDraws is the number of random index draws BootstrapCI makes for
// samples and resamples: resamples·n in general, 0 on the two-value
// shortcut and for constant samples (which draw resamples uniforms and
// none, respectively). Strategies use it to bound their work.
func BootstrapDraws(samples []float64, resamples int) int {
	if _, _, d := twoValues(samples); d <= 2 {
		return 0
	}
	return max(resamples, 1) * len(samples)
}

// twoValues returns the smaller and larger of the first two distinct values
// and how many distinct values there are (1, 2, or 3 for "more").
func twoValues(xs []float64) (a, b float64, distinct int) {
	a, distinct = xs[0], 1
	for _, x := range xs[1:] {
		switch {
		case x == a || distinct == 2 && x == b:
		case distinct == 1:
			b, distinct = x, 2
		default:
			return a, b, 3
		}
	}
	if distinct == 2 && b < a {
		a, b = b, a
	}
	return a, b, distinct
}

// binaryBootstrap is BootstrapCI for samples taking the values a < b.
func binaryBootstrap(samples []float64, a, b float64, resamples int, rng *sdk.Rand) (lo, median, hi float64) {
	n := len(samples)
	k := 0
	for _, x := range samples {
		if x == b {
			k++
		}
	}
	cdf := binomialCDF(n, float64(k)/float64(n))
	// A guide table: guide[g] is the first outcome whose CDF exceeds g/G,
	// so inverting a uniform is a lookup and a short scan.
	const G = 1024
	var guide [G]int32
	j := 0
	for g := range guide {
		for j < n && cdf[j] <= float64(g)/G {
			j++
		}
		guide[g] = int32(j)
	}
	hist := make([]int, n+1)
	for range resamples {
		u := float64(rng.Uint64()>>11) * 0x1p-53
		j := int(guide[int(u*G)])
		for j < n && cdf[j] <= u {
			j++
		}
		hist[j]++
	}
	mean := func(j int) float64 { return (a*float64(n-j) + b*float64(j)) / float64(n) }
	at := func(q float64) float64 {
		pos := q / 100 * float64(resamples-1)
		i := int(math.Floor(pos))
		x, y := histAt(hist, i), histAt(hist, min(i+1, resamples-1))
		return mean(x) + (pos-float64(i))*(mean(y)-mean(x))
	}
	return at(2.5), at(50), at(97.5)
}

// histAt is the bin of the i-th smallest resample.
func histAt(hist []int, i int) int {
	for j, c := range hist {
		if i < c {
			return j
		}
		i -= c
	}
	return len(hist) - 1
}

// binomialCDF returns P(X <= j) for X ~ Binomial(n, p), j = 0..n, computed in
// log space (no underflow for large n); the last entry is exactly 1.
func binomialCDF(n int, p float64) []float64 {
	cdf := make([]float64, n+1)
	lp, lq := math.Log(p), math.Log1p(-p)
	ln, _ := math.Lgamma(float64(n) + 1)
	acc := 0.0
	for j := range cdf {
		lj, _ := math.Lgamma(float64(j) + 1)
		lr, _ := math.Lgamma(float64(n-j) + 1)
		acc += math.Exp(ln - lj - lr + float64(j)*lp + float64(n-j)*lq)
		cdf[j] = math.Min(acc, 1)
	}
	cdf[n] = 1
	return cdf
}

// Percentile returns the q-th percentile (q in [0, 100]) of sorted values,
// interpolating linearly between order statistics like numpy.percentile;
// NaN for no values.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q / 100 * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	if i < 0 {
		return sorted[0]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// FormatCI writes a fitness the way ADAS keeps it in its archive: with
// percent true (scores that are fractions in [0, 1], like accuracies),
// exactly the paper's string, "95% Bootstrap Confidence Interval: (lo%,
// hi%), Median: m%" with one decimal; otherwise the same words with the
// values in the objective's own units and no percent sign.
func FormatCI(lo, median, hi float64, percent bool) string {
	if percent {
		return fmt.Sprintf("95%% Bootstrap Confidence Interval: (%.1f%%, %.1f%%), Median: %.1f%%", lo*100, hi*100, median*100)
	}
	return fmt.Sprintf("95%% Bootstrap Confidence Interval: (%.4g, %.4g), Median: %.4g", lo, hi, median)
}
