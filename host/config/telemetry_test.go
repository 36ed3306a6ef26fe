package config

import (
	"strings"
	"testing"
	"time"
)

func TestTelemetryScrapeInterval(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || time.Duration(cfg.TelemetryScrapeInterval) != 5*time.Second {
		t.Fatalf("default: %v %v", time.Duration(cfg.TelemetryScrapeInterval), err)
	}
	cfg, err = load(t, "telemetry-scrape-interval: 2s\n", map[string]string{"SWARMD_TELEMETRY_SCRAPE_INTERVAL": "3s"})
	if err != nil || time.Duration(cfg.TelemetryScrapeInterval) != 3*time.Second {
		t.Fatalf("env over file: %v %v", time.Duration(cfg.TelemetryScrapeInterval), err)
	}
	cfg, err = load(t, "", nil, "--telemetry-scrape-interval", "250ms")
	if err != nil || time.Duration(cfg.TelemetryScrapeInterval) != 250*time.Millisecond {
		t.Fatalf("flag: %v %v", time.Duration(cfg.TelemetryScrapeInterval), err)
	}
	for _, c := range []struct {
		file string
		env  map[string]string
		want string
	}{
		{file: "telemetry-scrape-interval: 10ms\n", want: "telemetry-scrape-interval: 10ms is outside 100ms to 5m0s"},
		{file: "telemetry-scrape-interval: 1h\n", want: "telemetry-scrape-interval: 1h0m0s is outside"},
		{env: map[string]string{"SWARMD_TELEMETRY_SCRAPE_INTERVAL": "soon"}, want: "SWARMD_TELEMETRY_SCRAPE_INTERVAL: want a duration such as 5s"},
		// a wrong type names the key, not another duration key
		{file: "shutdown-timeout: 10s\ntelemetry-scrape-interval: 5\n", want: `key "telemetry-scrape-interval": want a duration string`},
		{file: "svid-ttl: forever\n", want: `key "svid-ttl": want a duration string`},
	} {
		_, err := load(t, c.file, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: %v, want %q", c.file, c.env, err, c.want)
		}
	}
}
