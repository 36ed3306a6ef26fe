// Package telemetry keeps per agent-version telemetry: samples of mesh,
// container and agent-reported metrics in bounded in-memory windows, an
// anomaly detector per series (EWMA mean and variance, z-score, warm-up,
// traffic floor, hysteresis), periodic summaries persisted in badger, a
// Prometheus scrape of an agent's /metrics and the validation of pushed
// samples. Hub ties them together. docs/architecture/telemetry.md
// describes the model and the defaults.
package telemetry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Source is where a series' samples come from.
type Source string

// The sources of samples.
const (
	// SourceMesh: the mesh's view of an agent's traffic (latency, errors).
	SourceMesh Source = "mesh"
	// SourceContainer: the runtime's view (CPU, memory, OOM kills, restarts).
	SourceContainer Source = "container"
	// SourceAgent: what the agent reports itself, pushed or scraped.
	SourceAgent Source = "agent"
)

// Series names one time series: a metric of one version of one agent from
// one source, with optional labels. It is comparable and used as a map key;
// Labels is the canonical form FormatLabels returns.
type Series struct {
	Agent   string
	Version string
	Source  Source
	Metric  string
	Labels  string
}

// String is the series as agent@version/source/metric{labels}.
func (s Series) String() string {
	return s.Agent + "@" + s.Version + "/" + string(s.Source) + "/" + s.Metric + s.Labels
}

// Validate checks that every part of the series is set and that the metric
// and label names follow Prometheus' rules.
func (s Series) Validate() error {
	switch {
	case s.Agent == "":
		return fmt.Errorf("series %s: agent is empty", s)
	case s.Version == "":
		return fmt.Errorf("series %s: version is empty; every sample belongs to one agent version", s)
	}
	switch s.Source {
	case SourceMesh, SourceContainer, SourceAgent:
	default:
		return fmt.Errorf("series %s: source %q is not one of mesh, container, agent", s, s.Source)
	}
	if err := validMetricName(s.Metric); err != nil {
		return fmt.Errorf("series %s: %w", s, err)
	}
	if s.Labels != "" {
		ls, err := ParseLabels(s.Labels)
		if err != nil {
			return fmt.Errorf("series %s: %w", s, err)
		}
		if FormatLabels(ls) != s.Labels {
			return fmt.Errorf("series %s: labels are not in canonical form; build them with FormatLabels", s)
		}
	}
	return nil
}

// Sample is one observation of a series.
type Sample struct {
	Time  time.Time
	Value float64
}

// FormatLabels returns the canonical form of a label set: sorted by name,
// as {a="x",b="y"} with Go-quoted values, or "" for no labels.
func FormatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// ParseLabels reads the form FormatLabels writes and checks the label
// names.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("labels %q are not of the form {name=\"value\",...}", s)
	}
	rest := s[1 : len(s)-1]
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return nil, fmt.Errorf("labels %q: missing = after %q", s, rest)
		}
		name := rest[:eq]
		if err := validLabelName(name); err != nil {
			return nil, fmt.Errorf("labels %q: %w", s, err)
		}
		q, err := strconv.QuotedPrefix(rest[eq+1:])
		if err != nil {
			return nil, fmt.Errorf("labels %q: value of %s is not a quoted string", s, name)
		}
		v, _ := strconv.Unquote(q)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("labels %q: label %s appears twice", s, name)
		}
		out[name] = v
		rest = rest[eq+1+len(q):]
		if rest != "" {
			if rest[0] != ',' || len(rest) == 1 {
				return nil, fmt.Errorf("labels %q: expected , between labels", s)
			}
			rest = rest[1:]
		}
	}
	return out, nil
}

// errName is wrapped by every name-rule error.
var errName = errors.New("invalid name")

// validMetricName applies Prometheus' classic metric-name rule,
// [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(name string) error {
	if !model.LegacyValidation.IsValidMetricName(name) {
		return fmt.Errorf("%w: metric name %q must match [a-zA-Z_:][a-zA-Z0-9_:]*", errName, name)
	}
	return nil
}

// validLabelName applies Prometheus' label-name rule, [a-zA-Z_][a-zA-Z0-9_]*,
// and refuses names starting with __, which Prometheus reserves.
func validLabelName(name string) error {
	if !model.LegacyValidation.IsValidLabelName(name) {
		return fmt.Errorf("%w: label name %q must match [a-zA-Z_][a-zA-Z0-9_]*", errName, name)
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("%w: label name %q starts with __, which Prometheus reserves", errName, name)
	}
	return nil
}
