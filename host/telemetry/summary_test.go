package telemetry

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	values := make([]float64, 100)
	for i := range values {
		values[i] = float64(100 - i) // 100 … 1, unsorted on purpose
	}
	sum, ok := Summarize(latency, t0, t0.Add(time.Minute), values)
	want := Summary{Series: latency, From: t0, To: t0.Add(time.Minute), Count: 100, Mean: 50.5, Min: 1, Max: 100, P50: 50, P90: 90, P99: 99}
	if !ok || sum != want {
		t.Fatalf("got %+v, want %+v", sum, want)
	}
	one, _ := Summarize(latency, t0, t0.Add(time.Minute), []float64{7})
	if one.Count != 1 || one.P50 != 7 || one.P99 != 7 || one.Mean != 7 {
		t.Fatalf("one value: %+v", one)
	}
	if _, ok := Summarize(latency, t0, t0.Add(time.Minute), nil); ok {
		t.Fatal("a summary of nothing")
	}
	big, _ := Summarize(latency, t0, t0.Add(time.Minute), []float64{math.MaxFloat64, math.MaxFloat64})
	if big.Mean != math.MaxFloat64 {
		t.Fatalf("mean of two MaxFloat64: %v", big.Mean)
	}
}

func openSummaries(t *testing.T, dir string) *BadgerSummaries {
	t.Helper()
	b, err := OpenBadgerSummaries(dir, SummaryStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func summaryAt(s Series, from time.Time, mean float64) Summary {
	return Summary{Series: s, From: from, To: from.Add(time.Minute), Count: 10, Mean: mean, Min: mean - 1, Max: mean + 1, P50: mean, P90: mean + 0.5, P99: mean + 0.9}
}

func TestBadgerSummariesPutAndList(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openSummaries(t, dir)
	// Series whose escaped names could run into each other's keys.
	a := latency
	slash := latency
	slash.Agent = latency.Agent + "/" + latency.Version
	labelled := latency
	labelled.Labels = FormatLabels(map[string]string{"route": "/x"})
	epoch := time.Unix(0, 0).UTC()
	for i, from := range []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute), epoch.Add(-time.Hour)} {
		if err := b.Put(ctx, summaryAt(a, from, float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []Series{slash, labelled} {
		if err := b.Put(ctx, summaryAt(s, t0, 99)); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing a summary keeps one.
	if err := b.Put(ctx, summaryAt(a, t0, 0.5)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = openSummaries(t, dir) // they survive a reopen
	defer b.Close()
	got, err := b.List(ctx, a, t0, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != summaryAt(a, t0, 0.5) || got[1] != summaryAt(a, t0.Add(time.Minute), 1) {
		t.Fatalf("list [t0, t0+2m): %+v", got)
	}
	all, err := b.List(ctx, a, epoch.Add(-24*time.Hour), t0.Add(time.Hour))
	if err != nil || len(all) != 4 || !all[0].From.Equal(epoch.Add(-time.Hour)) {
		t.Fatalf("list all: %+v, %v; want 4, the one before 1970 first", all, err)
	}
	for _, s := range []Series{slash, labelled} {
		got, err := b.List(ctx, s, t0, t0.Add(time.Hour))
		if err != nil || len(got) != 1 || got[0].Mean != 99 {
			t.Fatalf("%s: %+v, %v", s, got, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.List(cancelled, a, epoch.Add(-24*time.Hour), t0.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled list: %v", err)
	}
}

func TestBadgerSummariesRefuseBadSummaries(t *testing.T) {
	b := openSummaries(t, t.TempDir())
	defer b.Close()
	ctx := context.Background()
	nan := summaryAt(latency, t0, 1)
	nan.P99 = math.NaN()
	empty := summaryAt(latency, t0, 1)
	empty.Count = 0
	backwards := summaryAt(latency, t0, 1)
	backwards.To = t0.Add(-time.Second)
	noVersion := summaryAt(Series{Agent: "a", Source: SourceMesh, Metric: "m"}, t0, 1)
	for name, s := range map[string]Summary{"NaN": nan, "empty": empty, "backwards": backwards, "no version": noVersion} {
		if err := b.Put(ctx, s); err == nil {
			t.Errorf("%s summary stored", name)
		}
	}
	if got, _ := b.List(ctx, latency, t0.Add(-time.Hour), t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("refused summaries were stored: %v", got)
	}
}

func TestOpenBadgerSummariesExplainsALockedDirectory(t *testing.T) {
	dir := t.TempDir()
	b := openSummaries(t, dir)
	defer b.Close()
	_, err := OpenBadgerSummaries(dir, SummaryStoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "another process holds it") {
		t.Fatalf("second open: %v", err)
	}
}
