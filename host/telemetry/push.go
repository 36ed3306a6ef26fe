package telemetry

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Defaults of PushLimits.
const (
	DefaultMaxBatch = 1000
	DefaultMaxSkew  = 30 * time.Second
)

// ErrInvalidPush wraps every error of ValidatePush.
var ErrInvalidPush = errors.New("push refused")

// PushLimits bound what an agent may push at once. Zero fields take the
// defaults.
type PushLimits struct {
	// MaxBatch: the most samples in one push (default 1000).
	MaxBatch int
	// MaxSkew: how far in the future a timestamp may be, for clocks that
	// disagree (default 30 s).
	MaxSkew time.Duration
	// MaxAge: how far in the past a timestamp may be (default 15 min, the
	// window's age: an older sample would never be read).
	MaxAge time.Duration
}

// Pushed is one sample an agent pushes about itself.
type Pushed struct {
	// Metric follows Prometheus' rule, [a-zA-Z_:][a-zA-Z0-9_:]*.
	Metric string
	// Labels are optional; names follow [a-zA-Z_][a-zA-Z0-9_]* and do not
	// start with __.
	Labels map[string]string
	// Time is when the value was observed; zero means now.
	Time  time.Time
	Value float64
}

// maxListed is how many bad entries an error names.
const maxListed = 10

// ValidatePush checks a batch an agent pushed at now and returns it as
// points of source agent, sorted by time. It refuses the whole batch if
// any entry is bad, naming up to ten bad entries by index and metric: a
// batch that is empty or over MaxBatch, an invalid metric or label name, a
// NaN or ±Inf value, a time more than MaxSkew after now or more than
// MaxAge before it.
func ValidatePush(agent, version string, batch []Pushed, now time.Time, lim PushLimits) ([]Point, error) {
	if lim.MaxBatch <= 0 {
		lim.MaxBatch = DefaultMaxBatch
	}
	if lim.MaxSkew <= 0 {
		lim.MaxSkew = DefaultMaxSkew
	}
	if lim.MaxAge <= 0 {
		lim.MaxAge = DefaultMaxAge
	}
	switch {
	case agent == "" || version == "":
		return nil, fmt.Errorf("%w: agent %q version %q: both must be set", ErrInvalidPush, agent, version)
	case len(batch) == 0:
		return nil, fmt.Errorf("%w: %s@%s pushed no samples", ErrInvalidPush, agent, version)
	case len(batch) > lim.MaxBatch:
		return nil, fmt.Errorf("%w: %s@%s pushed %d samples, more than the %d a push may hold; split the batch; nothing was recorded", ErrInvalidPush, agent, version, len(batch), lim.MaxBatch)
	}
	points := make([]Point, 0, len(batch))
	var bad []string
	badCount := 0
	for i, p := range batch {
		pt, err := checkPushed(agent, version, p, now, lim)
		if err != nil {
			badCount++
			if len(bad) < maxListed {
				bad = append(bad, fmt.Sprintf("entry %d (metric %q): %v", i, p.Metric, err))
			}
			continue
		}
		points = append(points, pt)
	}
	if badCount > 0 {
		more := ""
		if badCount > len(bad) {
			more = fmt.Sprintf("; and %d more", badCount-len(bad))
		}
		return nil, fmt.Errorf("%w: %d of %d samples from %s@%s are invalid; nothing was recorded: %s%s", ErrInvalidPush, badCount, len(batch), agent, version, strings.Join(bad, "; "), more)
	}
	slices.SortStableFunc(points, func(a, b Point) int { return cmp.Compare(a.Sample.Time.UnixNano(), b.Sample.Time.UnixNano()) })
	return points, nil
}

func checkPushed(agent, version string, p Pushed, now time.Time, lim PushLimits) (Point, error) {
	if err := validMetricName(p.Metric); err != nil {
		return Point{}, err
	}
	for name := range p.Labels {
		if err := validLabelName(name); err != nil {
			return Point{}, err
		}
	}
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		return Point{}, fmt.Errorf("value %v is not finite", p.Value)
	}
	t := p.Time
	if t.IsZero() {
		t = now
	}
	switch {
	case t.After(now.Add(lim.MaxSkew)):
		return Point{}, fmt.Errorf("time %s is %s ahead of the server's clock, more than the %s allowed; check the agent's clock", t.UTC().Format(time.RFC3339Nano), t.Sub(now).Round(time.Millisecond), lim.MaxSkew)
	case t.Before(now.Add(-lim.MaxAge)):
		return Point{}, fmt.Errorf("time %s is %s old, older than the %s window holds", t.UTC().Format(time.RFC3339Nano), now.Sub(t).Round(time.Millisecond), lim.MaxAge)
	}
	s := Series{Agent: agent, Version: version, Source: SourceAgent, Metric: p.Metric, Labels: FormatLabels(p.Labels)}
	return Point{Series: s, Sample: Sample{Time: t, Value: p.Value}}, nil
}
