package telemetry

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidatePushAcceptsAGoodBatch(t *testing.T) {
	now := t0
	batch := []Pushed{
		{Metric: "queue_depth", Value: 3, Time: now.Add(-time.Second)},
		{Metric: "tokens_total", Labels: map[string]string{"model": "small"}, Value: 10, Time: now.Add(-2 * time.Second)},
		{Metric: "queue_depth", Value: 4}, // now
		{Metric: "ns:skew", Value: 1, Time: now.Add(20 * time.Second)},
	}
	points, err := ValidatePush("solver", "v2", batch, now, PushLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 4 {
		t.Fatalf("%d points", len(points))
	}
	for i := 1; i < len(points); i++ {
		if points[i].Sample.Time.Before(points[i-1].Sample.Time) {
			t.Fatalf("points not sorted by time: %v", points)
		}
	}
	first := points[0]
	want := Series{Agent: "solver", Version: "v2", Source: SourceAgent, Metric: "tokens_total", Labels: `{model="small"}`}
	if first.Series != want || first.Sample.Value != 10 {
		t.Fatalf("first point %+v, want %v", first, want)
	}
	if !points[2].Sample.Time.Equal(now) || points[2].Sample.Value != 4 {
		t.Fatalf("a zero time must become now: %+v", points[2])
	}
}

func TestValidatePushNamesTheBadEntry(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		p    Pushed
		want string
	}{
		{Pushed{Metric: "http requests", Value: 1}, `entry 1 (metric "http requests"): invalid name`},
		{Pushed{Metric: "", Value: 1}, `entry 1 (metric ""): invalid name`},
		{Pushed{Metric: "m", Labels: map[string]string{"bad-label": "x"}, Value: 1}, `label name "bad-label"`},
		{Pushed{Metric: "m", Labels: map[string]string{"__name__": "x"}, Value: 1}, "reserves"},
		{Pushed{Metric: "m", Value: math.NaN()}, "value NaN is not finite"},
		{Pushed{Metric: "m", Value: math.Inf(-1)}, "value -Inf is not finite"},
		{Pushed{Metric: "m", Value: 1, Time: now.Add(time.Minute)}, "ahead of the server's clock"},
		{Pushed{Metric: "m", Value: 1, Time: now.Add(-time.Hour)}, "older than the 15m0s window"},
	} {
		batch := []Pushed{{Metric: "ok", Value: 1}, tc.p}
		points, err := ValidatePush("solver", "v2", batch, now, PushLimits{})
		if !errors.Is(err, ErrInvalidPush) || points != nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was recorded") {
			t.Errorf("%+v: %v, want ErrInvalidPush naming %q", tc.p, err, tc.want)
		}
	}
}

func TestValidatePushLimitsTheBatch(t *testing.T) {
	now := t0
	if _, err := ValidatePush("solver", "v2", nil, now, PushLimits{}); !errors.Is(err, ErrInvalidPush) {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := ValidatePush("", "v2", []Pushed{{Metric: "m"}}, now, PushLimits{}); !errors.Is(err, ErrInvalidPush) {
		t.Fatalf("no agent: %v", err)
	}
	big := make([]Pushed, 11)
	for i := range big {
		big[i] = Pushed{Metric: "m", Value: float64(i)}
	}
	if _, err := ValidatePush("solver", "v2", big, now, PushLimits{MaxBatch: 10}); !errors.Is(err, ErrInvalidPush) || !strings.Contains(err.Error(), "11 samples, more than the 10") {
		t.Fatalf("batch over the cap: %v", err)
	}
	if _, err := ValidatePush("solver", "v2", big[:10], now, PushLimits{MaxBatch: 10}); err != nil {
		t.Fatalf("batch at the cap: %v", err)
	}
	// Many bad entries: ten are named, the rest counted.
	bad := make([]Pushed, 25)
	for i := range bad {
		bad[i] = Pushed{Metric: fmt.Sprintf("bad-%d", i), Value: 1}
	}
	_, err := ValidatePush("solver", "v2", bad, now, PushLimits{})
	if err == nil || strings.Count(err.Error(), "entry ") != 10 || !strings.Contains(err.Error(), "and 15 more") || !strings.Contains(err.Error(), "25 of 25") {
		t.Fatalf("25 bad entries: %v", err)
	}
	// The skew is configurable.
	if _, err := ValidatePush("solver", "v2", []Pushed{{Metric: "m", Time: now.Add(2 * time.Minute)}}, now, PushLimits{MaxSkew: 5 * time.Minute}); err != nil {
		t.Fatalf("within a 5 min skew: %v", err)
	}
}
