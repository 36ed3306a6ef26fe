package telemetry

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Defaults of Scraper.
const (
	DefaultScrapeTimeout  = 5 * time.Second
	DefaultScrapeMaxBytes = 4 << 20
)

// MetricType is the type of a metric in an exposition.
type MetricType string

// The metric types a scrape reads. Untyped metrics are read as gauges.
const (
	TypeGauge     MetricType = "gauge"
	TypeCounter   MetricType = "counter"
	TypeSummary   MetricType = "summary"
	TypeHistogram MetricType = "histogram"
)

// Reading is one metric of one scrape, before it becomes samples. Gauges
// and counters have Value; summaries and histograms have Sum and Count
// (their quantiles are separate gauge readings with a quantile label;
// histogram buckets are not read).
type Reading struct {
	Metric string
	Labels string // canonical, as FormatLabels writes them
	Type   MetricType
	Value  float64
	Sum    float64
	Count  float64
}

// ParseExposition reads the Prometheus text exposition format (version
// 0.0.4). It refuses the whole body on any error, so a bad scrape records
// nothing: a syntax error, the same metric and labels twice, or a label
// name starting with __. The readings are sorted by metric and labels.
func ParseExposition(body io.Reader) ([]Reading, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(body)
	if err != nil {
		return nil, fmt.Errorf("not the Prometheus text format: %w", err)
	}
	var out []Reading
	seen := map[string]bool{}
	add := func(r Reading) error {
		key := r.Metric + r.Labels
		if seen[key] {
			return fmt.Errorf("%s appears twice; every metric and label set must be exposed once", key)
		}
		seen[key] = true
		out = append(out, r)
		return nil
	}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				if err := validLabelName(lp.GetName()); err != nil {
					return nil, fmt.Errorf("metric %s: %w", name, err)
				}
				labels[lp.GetName()] = lp.GetValue()
			}
			r := Reading{Metric: name, Labels: FormatLabels(labels)}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				r.Type, r.Value = TypeCounter, m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				r.Type, r.Value = TypeGauge, m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				r.Type, r.Value = TypeGauge, m.GetUntyped().GetValue()
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				r.Type, r.Sum, r.Count = TypeSummary, s.GetSampleSum(), float64(s.GetSampleCount())
				for _, q := range s.GetQuantile() {
					ql := map[string]string{"quantile": strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)}
					for k, v := range labels {
						ql[k] = v
					}
					if err := add(Reading{Metric: name, Labels: FormatLabels(ql), Type: TypeGauge, Value: q.GetValue()}); err != nil {
						return nil, err
					}
				}
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				r.Type, r.Sum, r.Count = TypeHistogram, h.GetSampleSum(), float64(h.GetSampleCount())
			default:
				continue
			}
			if err := add(r); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(a, b Reading) int {
		return cmp.Or(cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Labels, b.Labels))
	})
	return out, nil
}

// Point is a sample of a series.
type Point struct {
	Series Series
	Sample Sample
}

// Rates turn the readings of successive scrapes of one target into samples
// (all with source agent):
//
//   - a gauge is its value;
//   - a counter is its per-second rate since the previous scrape, under its
//     own name; a value below the previous one is a reset (the agent
//     restarted), and the increase is then the value itself;
//   - a summary or histogram named m gives m_count, the per-second rate of
//     observations, and m_mean, the mean of the observations between the
//     two scrapes (Δsum/Δcount; none when nothing was observed), with the
//     same reset rule on the count.
//
// Counters, summaries and histograms give nothing on their first scrape.
// Non-finite values are skipped. Rates is not safe for concurrent use.
type Rates struct {
	at   time.Time
	last map[string]Reading // by metric and labels
}

// Points converts one scrape at time at; it returns the points and how
// many readings were skipped for a non-finite value.
func (r *Rates) Points(agent, version string, at time.Time, readings []Reading) (points []Point, skipped int) {
	prev, prevAt := r.last, r.at
	r.last, r.at = make(map[string]Reading, len(readings)), at
	dt := at.Sub(prevAt).Seconds()
	emit := func(metric, labels string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			skipped++
			return
		}
		points = append(points, Point{
			Series: Series{Agent: agent, Version: version, Source: SourceAgent, Metric: metric, Labels: labels},
			Sample: Sample{Time: at, Value: v},
		})
	}
	for _, rd := range readings {
		key := rd.Metric + rd.Labels
		if rd.Type == TypeGauge {
			emit(rd.Metric, rd.Labels, rd.Value)
			continue
		}
		if !finite(rd.Value, rd.Sum, rd.Count) {
			skipped++
			continue
		}
		r.last[key] = rd
		old, ok := prev[key]
		if !ok || old.Type != rd.Type || prevAt.IsZero() || dt <= 0 {
			continue
		}
		switch rd.Type {
		case TypeCounter:
			inc := rd.Value - old.Value
			if inc < 0 {
				inc = rd.Value
			}
			emit(rd.Metric, rd.Labels, inc/dt)
		case TypeSummary, TypeHistogram:
			count, sum := rd.Count-old.Count, rd.Sum-old.Sum
			if count < 0 {
				count, sum = rd.Count, rd.Sum
			}
			emit(rd.Metric+"_count", rd.Labels, count/dt)
			if count > 0 {
				emit(rd.Metric+"_mean", rd.Labels, sum/count)
			}
		}
	}
	return points, skipped
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// ErrScrape wraps every error of Scraper.Fetch.
var ErrScrape = errors.New("scrape failed")

// Scraper fetches an agent's /metrics. The zero value uses the defaults.
type Scraper struct {
	// Client makes the request (default: a plain http.Client).
	Client *http.Client
	// Timeout bounds the whole request, body included (default 5 s).
	Timeout time.Duration
	// MaxBytes caps the body (default 4 MiB).
	MaxBytes int64
}

// Fetch GETs url and parses the body. Any failure (status other than 200,
// timeout, a body over MaxBytes, malformed text) is an error wrapping
// ErrScrape and yields no readings.
func (s *Scraper) Fetch(ctx context.Context, url string) ([]Reading, error) {
	timeout, limit, client := s.Timeout, s.MaxBytes, s.Client
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	if limit <= 0 {
		limit = DefaultScrapeMaxBytes
	}
	if client == nil {
		client = &http.Client{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a URL to scrape: %v", ErrScrape, url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s (timeout %s): %v; nothing was recorded", ErrScrape, url, timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: status %s; the agent's /metrics must answer 200 with the Prometheus text format", ErrScrape, url, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: GET %s: body of %d bytes exceeds the %d-byte limit; nothing was recorded; have the agent expose fewer series, or raise the limit", ErrScrape, url, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: reading the body (timeout %s): %v; nothing was recorded", ErrScrape, url, timeout, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: GET %s: body exceeds the %d-byte limit; nothing was recorded; have the agent expose fewer series, or raise the limit", ErrScrape, url, limit)
	}
	readings, err := ParseExposition(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v; nothing was recorded", ErrScrape, url, err)
	}
	return readings, nil
}
