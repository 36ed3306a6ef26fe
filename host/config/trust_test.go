package config

import (
	"strings"
	"testing"
)

func TestTrustThreshold(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || cfg.TrustThreshold != DefaultTrustThreshold {
		t.Fatalf("default: %v %v", cfg.TrustThreshold, err)
	}
	for _, c := range []struct {
		file string
		env  map[string]string
		args []string
		want float64
	}{
		{"trust-threshold: 0.5\n", nil, nil, 0.5},
		{"", map[string]string{"SWARMD_TRUST_THRESHOLD": "0"}, nil, 0},
		{"trust-threshold: 0.5\n", nil, []string{"--trust-threshold", "0.3"}, 0.3},
	} {
		cfg, err := load(t, c.file, c.env, c.args...)
		if err != nil || cfg.TrustThreshold != c.want {
			t.Errorf("%q %v %v: %v %v, want %v", c.file, c.env, c.args, cfg.TrustThreshold, err, c.want)
		}
	}
	for _, bad := range []string{"1.5", "-0.1", "NaN"} {
		if _, err := load(t, "", map[string]string{"SWARMD_TRUST_THRESHOLD": bad}); err == nil || !strings.Contains(err.Error(), "trust-threshold") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := load(t, "", map[string]string{"SWARMD_TRUST_THRESHOLD": "high"}); err == nil || !strings.Contains(err.Error(), "SWARMD_TRUST_THRESHOLD") {
		t.Errorf("not a number: %v", err)
	}
}
