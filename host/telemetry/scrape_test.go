package telemetry

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const exposition = `# HELP requests_total Requests served.
# TYPE requests_total counter
requests_total{code="200"} 100
requests_total{code="500"} 4
# TYPE queue_depth gauge
queue_depth 7
# an untyped metric is read as a gauge
temperature_celsius 41.5
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 3
latency_seconds_bucket{le="+Inf"} 4
latency_seconds_sum 0.8
latency_seconds_count 4
# TYPE work_seconds summary
work_seconds{quantile="0.5"} 0.2
work_seconds{quantile="0.99"} NaN
work_seconds_sum 10
work_seconds_count 20
`

func TestParseExposition(t *testing.T) {
	readings, err := ParseExposition(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Reading{}
	for _, r := range readings {
		got[r.Metric+r.Labels] = r
	}
	want := map[string]Reading{
		`requests_total{code="200"}`:    {Metric: "requests_total", Labels: `{code="200"}`, Type: TypeCounter, Value: 100},
		`requests_total{code="500"}`:    {Metric: "requests_total", Labels: `{code="500"}`, Type: TypeCounter, Value: 4},
		`queue_depth`:                   {Metric: "queue_depth", Type: TypeGauge, Value: 7},
		`temperature_celsius`:           {Metric: "temperature_celsius", Type: TypeGauge, Value: 41.5},
		`latency_seconds`:               {Metric: "latency_seconds", Type: TypeHistogram, Sum: 0.8, Count: 4},
		`work_seconds`:                  {Metric: "work_seconds", Type: TypeSummary, Sum: 10, Count: 20},
		`work_seconds{quantile="0.5"}`:  {Metric: "work_seconds", Labels: `{quantile="0.5"}`, Type: TypeGauge, Value: 0.2},
		`work_seconds{quantile="0.99"}`: {},
	}
	if len(got) != len(want) || len(readings) != len(want) {
		t.Fatalf("got %d readings %v, want %d", len(readings), readings, len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("missing %s", k)
		}
		if k == `work_seconds{quantile="0.99"}` {
			if !math.IsNaN(g.Value) { // NaN is kept as read; Rates skips it
				t.Fatalf("%s: %v, want NaN", k, g.Value)
			}
			continue
		}
		if g != w {
			t.Errorf("%s: %+v, want %+v", k, g, w)
		}
	}
	for i := 1; i < len(readings); i++ {
		if readings[i-1].Metric+readings[i-1].Labels > readings[i].Metric+readings[i].Labels {
			t.Fatalf("readings not sorted at %d: %v", i, readings)
		}
	}
}

func TestParseExpositionRefusesMalformedBodies(t *testing.T) {
	for name, body := range map[string]string{
		"syntax":          "requests_total{code=\"200\" 100\n",
		"no value":        "requests_total\n",
		"bad value":       "requests_total one\n",
		"duplicate":       "up 1\nup 1\n",
		"reserved label":  "up{__meta=\"x\"} 1\n",
		"type after data": "up 1\n# TYPE up gauge\n",
	} {
		if _, err := ParseExposition(strings.NewReader(body)); err == nil {
			t.Errorf("%s: %q accepted", name, body)
		}
	}
	if r, err := ParseExposition(strings.NewReader("")); err != nil || len(r) != 0 {
		t.Fatalf("empty body: %v %v", r, err)
	}
}

// values maps a points' series (metric and labels) to its value.
func values(points []Point) map[string]float64 {
	out := map[string]float64{}
	for _, p := range points {
		out[p.Series.Metric+p.Series.Labels] = p.Sample.Value
	}
	return out
}

func TestRatesTurnCountersIntoRates(t *testing.T) {
	read := func(body string) []Reading {
		t.Helper()
		r, err := ParseExposition(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var r Rates
	points, skipped := r.Points("solver", "v2", t0, read(exposition))
	// The first scrape: gauges only (the NaN quantile skipped).
	if got := values(points); len(got) != 3 || got["queue_depth"] != 7 || got[`work_seconds{quantile="0.5"}`] != 0.2 || skipped != 1 {
		t.Fatalf("first scrape: %v, skipped %d", got, skipped)
	}
	for _, p := range points {
		if p.Series.Agent != "solver" || p.Series.Version != "v2" || p.Series.Source != SourceAgent || !p.Sample.Time.Equal(t0) {
			t.Fatalf("point %+v", p)
		}
	}

	// Ten seconds later.
	second := strings.NewReplacer(
		`requests_total{code="200"} 100`, `requests_total{code="200"} 150`,
		"latency_seconds_sum 0.8", "latency_seconds_sum 2.0",
		"latency_seconds_count 4", "latency_seconds_count 8",
		"work_seconds_sum 10", "work_seconds_sum 10",
	).Replace(exposition)
	points, _ = r.Points("solver", "v2", t0.Add(10*time.Second), read(second))
	got := values(points)
	want := map[string]float64{
		`requests_total{code="200"}`: 5, // 50 in 10 s
		`requests_total{code="500"}`: 0,
		"latency_seconds_count":      0.4, // 4 observations in 10 s
		"latency_seconds_mean":       0.3, // 1.2 s over 4
		"work_seconds_count":         0,   // no observations: no mean
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !near(g, v) {
			t.Errorf("second scrape %s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got["work_seconds_mean"]; ok {
		t.Error("a mean without observations")
	}

	// The agent restarted: every counter went down.
	third := `# TYPE requests_total counter
requests_total{code="200"} 20
# TYPE latency_seconds histogram
latency_seconds_bucket{le="+Inf"} 2
latency_seconds_sum 0.5
latency_seconds_count 2
`
	points, _ = r.Points("solver", "v2", t0.Add(20*time.Second), read(third))
	got = values(points)
	if len(got) != 3 || !near(got[`requests_total{code="200"}`], 2) || !near(got["latency_seconds_count"], 0.2) || !near(got["latency_seconds_mean"], 0.25) {
		t.Fatalf("after a reset: %v, want rate 2/s, 0.2 obs/s, mean 0.25", got)
	}
	// A counter that vanished and came back starts over.
	points, _ = r.Points("solver", "v2", t0.Add(30*time.Second), read(exposition))
	got = values(points)
	if _, ok := got[`requests_total{code="500"}`]; ok || len(got) != 6 || !near(got[`requests_total{code="200"}`], 8) {
		t.Fatalf("fourth scrape: %v; want code 500 absent (it vanished in the third) and code 200 at 8/s", got)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// metricsServer serves a body that tests change between scrapes.
type metricsServer struct {
	mu     sync.Mutex
	body   string
	status int
}

func (m *metricsServer) set(status int, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status, m.body = status, body
}

func (m *metricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	status, body := m.status, m.body
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func TestScraperFetch(t *testing.T) {
	ms := &metricsServer{status: 200, body: exposition}
	srv := httptest.NewServer(ms)
	defer srv.Close()
	ctx := context.Background()
	sc := &Scraper{MaxBytes: 1024}

	readings, err := sc.Fetch(ctx, srv.URL)
	if err != nil || len(readings) != 8 {
		t.Fatalf("valid body: %d readings, %v", len(readings), err)
	}
	for _, tc := range []struct {
		name, body, want string
		status           int
	}{
		{"malformed", "requests_total{code=\"200\" 100\n", "not the Prometheus text format", 200},
		{"oversized", strings.Repeat("# padding\n", 200) + "up 1\n", "exceeds the 1024-byte limit", 200},
		{"status", "oops", "status 500", 500},
	} {
		ms.set(tc.status, tc.body)
		readings, err := sc.Fetch(ctx, srv.URL)
		if !errors.Is(err, ErrScrape) || readings != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrScrape with %q", tc.name, err, tc.want)
		}
	}
}

func TestScraperCapsABodyWithoutLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Flushing first makes the body chunked: no Content-Length to check.
		w.(http.Flusher).Flush()
		for range 1000 {
			_, _ = w.Write([]byte("# padding padding padding\n"))
		}
	}))
	defer srv.Close()
	_, err := (&Scraper{MaxBytes: 4096}).Fetch(context.Background(), srv.URL)
	if !errors.Is(err, ErrScrape) || !strings.Contains(err.Error(), "exceeds the 4096-byte limit") {
		t.Fatalf("chunked oversized body: %v", err)
	}
}

func TestScraperTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := (&Scraper{Timeout: 50 * time.Millisecond}).Fetch(context.Background(), srv.URL)
	if !errors.Is(err, ErrScrape) || !strings.Contains(err.Error(), "timeout 50ms") {
		t.Fatalf("a server that never answers: %v", err)
	}
	if _, err := (&Scraper{}).Fetch(context.Background(), "::not a url"); !errors.Is(err, ErrScrape) {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestHubScrapeRecordsRatesAndNothingOnFailure(t *testing.T) {
	ms := &metricsServer{status: 200}
	srv := httptest.NewServer(ms)
	defer srv.Close()
	clock := &fakeClock{t: t0}
	h := newHub(t, HubOptions{Now: clock.Now})
	ctx := context.Background()
	reqs := Series{Agent: "solver", Version: "v2", Source: SourceAgent, Metric: "requests_total"}
	depth := Series{Agent: "solver", Version: "v2", Source: SourceAgent, Metric: "queue_depth"}
	scrape := func(body string) (int, error) {
		ms.set(200, body)
		return h.Scrape(ctx, "solver", "v2", srv.URL)
	}
	body := func(total, depth string) string {
		return "# TYPE requests_total counter\nrequests_total " + total + "\n# TYPE queue_depth gauge\nqueue_depth " + depth + "\n"
	}

	if n, err := scrape(body("100", "3")); err != nil || n != 1 {
		t.Fatalf("first scrape: %d recorded, %v", n, err)
	}
	clock.Advance(10 * time.Second)
	if n, err := scrape(body("160", "4")); err != nil || n != 2 {
		t.Fatalf("second scrape: %d recorded, %v", n, err)
	}
	// A malformed body records nothing and leaves the counter's state.
	clock.Advance(10 * time.Second)
	before := h.Stats().Window.Samples
	if n, err := scrape("requests_total 1e\n"); err == nil || n != 0 {
		t.Fatalf("malformed scrape: %d recorded, %v", n, err)
	}
	if after := h.Stats().Window.Samples; after != before {
		t.Fatalf("a failed scrape recorded %d samples", after-before)
	}
	// The next good scrape is a rate against the last good one, 20 s ago;
	// then the agent restarts.
	clock.Advance(10 * time.Second)
	if _, err := scrape(body("220", "5")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	if _, err := scrape(body("30", "1")); err != nil {
		t.Fatal(err)
	}
	got := h.Window().Samples(reqs, t0, t0.Add(time.Hour))
	want := []Sample{{t0.Add(10 * time.Second), 6}, {t0.Add(30 * time.Second), 3}, {t0.Add(40 * time.Second), 3}}
	if len(got) != len(want) {
		t.Fatalf("requests_total rates %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || !near(got[i].Value, want[i].Value) {
			t.Fatalf("requests_total rates %v, want %v", got, want)
		}
	}
	if d := h.Window().Values(depth, t0, t0.Add(time.Hour)); len(d) != 4 || d[3] != 1 {
		t.Fatalf("queue_depth %v", d)
	}
}
