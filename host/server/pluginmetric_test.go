package server

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPluginMetricsAreGaugesWithACapOnNames(t *testing.T) {
	s := &Server{pluginGauges: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "swarm_plugin_metric"}, []string{"plugin", "name"})}
	s.pluginMetric("beta@1.0.0", "evidence_seen", 3)
	s.pluginMetric("beta@1.0.0", "evidence_seen", 5)
	if got := testutil.ToFloat64(s.pluginGauges.WithLabelValues("beta@1.0.0", "evidence_seen")); got != 5 {
		t.Fatalf("gauge = %v, want the last value 5", got)
	}
	for i := range 2 * maxPluginMetricNames {
		s.pluginMetric("noisy@1.0.0", fmt.Sprintf("m%d", i), 1)
	}
	if n := testutil.CollectAndCount(s.pluginGauges); n != 1+maxPluginMetricNames {
		t.Fatalf("%d series, want %d: a plugin's names must be capped", n, 1+maxPluginMetricNames)
	}
	// a name seen before still updates past the cap
	s.pluginMetric("noisy@1.0.0", "m0", 7)
	if got := testutil.ToFloat64(s.pluginGauges.WithLabelValues("noisy@1.0.0", "m0")); got != 7 {
		t.Fatalf("m0 = %v", got)
	}
}
