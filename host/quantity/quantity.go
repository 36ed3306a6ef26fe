// Package quantity reads byte quantities the way swarmctl flags and swarmd
// settings write them: bytes, or a number with a binary (Ki, Mi, Gi, Ti,
// Pi) or decimal (k, K, M, G, T, P) unit.
package quantity

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// byteUnits are the suffixes ParseBytes accepts and their sizes.
func byteUnits() []struct {
	suffix string
	size   int64
} {
	return []struct {
		suffix string
		size   int64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50},
		{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
	}
}

// ParseBytes reads a positive byte count: 1048576, 64Mi, 1Gi, 1.5Gi,
// 500M; a trailing B is allowed (10MiB). The error says what is accepted.
func ParseBytes(s string) (int64, error) {
	num, mult := strings.TrimSuffix(strings.TrimSpace(s), "B"), int64(1)
	for _, u := range byteUnits() {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSuffix(num, u.suffix), u.size
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("want bytes, or a number with a unit Ki, Mi, Gi, Ti, K, M, G, T (64Mi, 1Gi)")
	}
	b := v * float64(mult)
	if b < 1 {
		return 0, errors.New("must be positive")
	}
	if b >= math.MaxInt64 {
		return 0, errors.New("is too large")
	}
	return int64(math.Round(b)), nil
}
