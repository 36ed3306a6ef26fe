package perf

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// telemetrySeries are 64 series: 8 versions of one agent, 8 metrics each.
func telemetrySeries() []telemetry.Series {
	var out []telemetry.Series
	for v := range 8 {
		for m := range 8 {
			out = append(out, telemetry.Series{Agent: "solver", Version: fmt.Sprintf("v%d", v), Source: telemetry.SourceMesh, Metric: fmt.Sprintf("metric_%d", m)})
		}
	}
	return out
}

// plainCap bounds the plain stores the cheapest way: a slice that reaches
// it is emptied (its array kept). Unbounded, their growth and the garbage
// collector's scans of it would dominate every figure of the run.
const plainCap = 100_000

// plainMap is what a user would write instead of the hub to keep samples
// per series: a map of slices behind one mutex, without detection.
type plainMap struct {
	mu sync.Mutex
	m  map[telemetry.Series][]telemetry.Sample
}

func (p *plainMap) add(s telemetry.Series, smp telemetry.Sample) {
	p.mu.Lock()
	xs := p.m[s]
	if len(xs) == plainCap {
		xs = xs[:0]
	}
	p.m[s] = append(xs, smp)
	p.mu.Unlock()
}

// plainSlice is the floor: one slice of every sample behind one mutex.
type plainSlice struct {
	mu sync.Mutex
	s  []telemetry.Point
}

func (p *plainSlice) add(s telemetry.Series, smp telemetry.Sample) {
	p.mu.Lock()
	if len(p.s) == plainCap {
		p.s = p.s[:0]
	}
	p.s = append(p.s, telemetry.Point{Series: s, Sample: smp})
	p.mu.Unlock()
}

// BenchmarkTelemetryRecord measures a sample recorded through the hub
// (window + anomaly detector, bounded) against two plain mutex-protected
// appends, in the same run, interleaved in chunks of 1000, over 64 series
// with steady noise, from one goroutine and from GOMAXPROCS goroutines
// (each its own series): an append to a map of slices per series (what a
// user would write to read a series back) and to one slice of every
// sample (the floor). Metrics for "serial" and "parallel": hub-ns/append,
// map-ns/append, slice-ns/append, map-ratio and slice-ratio (hub over
// each), hub-appends/s. The plain stores are emptied at plainCap.
func BenchmarkTelemetryRecord(b *testing.B) {
	for _, mode := range []struct {
		name string
		g    int
	}{{"serial", 1}, {"parallel", runtime.GOMAXPROCS(0)}} {
		b.Run(mode.name, func(b *testing.B) {
			h, err := telemetry.NewHub(telemetry.HubOptions{})
			if err != nil {
				b.Fatal(err)
			}
			pm := &plainMap{m: map[telemetry.Series][]telemetry.Sample{}}
			ps := &plainSlice{}
			series := telemetrySeries()
			rng := rand.New(rand.NewPCG(1, 2))
			values := make([]float64, 4096)
			for i := range values {
				values[i] = 100 + 10*(2*rng.Float64()-1)
			}
			start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
			per := max(b.N/mode.g, 1)
			const chunk = 1000
			var hubNS, mapNS, sliceNS time.Duration
			b.ResetTimer()
			for from := 0; from < per; from += chunk {
				to := min(from+chunk, per)
				run := func(record func(telemetry.Series, telemetry.Sample)) time.Duration {
					var wg sync.WaitGroup
					t0 := time.Now()
					for g := range mode.g {
						mine := series[g*len(series)/mode.g : (g+1)*len(series)/mode.g]
						wg.Go(func() {
							for i := from; i < to; i++ {
								// 10 ms apart per series: 100 samples a second.
								at := start.Add(time.Duration(i/len(mine)) * 10 * time.Millisecond)
								record(mine[i%len(mine)], telemetry.Sample{Time: at, Value: values[i%len(values)]})
							}
						})
					}
					wg.Wait()
					return time.Since(t0)
				}
				hubNS += run(func(s telemetry.Series, smp telemetry.Sample) {
					if err := h.Record(s, smp); err != nil {
						b.Error(err)
					}
				})
				mapNS += run(pm.add)
				sliceNS += run(ps.add)
			}
			b.StopTimer()
			n := float64(per * mode.g)
			perAppend := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / n }
			hubPer, mapPer, slicePer := perAppend(hubNS), perAppend(mapNS), perAppend(sliceNS)
			b.ReportMetric(hubPer, "hub-ns/append")
			b.ReportMetric(mapPer, "map-ns/append")
			b.ReportMetric(slicePer, "slice-ns/append")
			b.ReportMetric(hubPer/mapPer, "map-ratio")
			b.ReportMetric(hubPer/slicePer, "slice-ratio")
			b.ReportMetric(1e9/hubPer, "hub-appends/s")
			st := h.Stats()
			b.Logf("%s: n=%.0f over %d goroutines | hub %.0f ns/append (%.2fM/s) | map %.0f ns | slice %.0f ns | hub/map %.2fx hub/slice %.2fx | window %d samples in %d series, %d KiB, %d events",
				mode.name, n, mode.g, hubPer, 1e3/hubPer, mapPer, slicePer, hubPer/mapPer, hubPer/slicePer, st.Window.Samples, st.Window.Series, st.Window.Bytes>>10, st.Detector.Events)
		})
	}
}

// BenchmarkTelemetrySamples measures reading 10,000 samples of one series
// from the window, as values (what the canary judge reads) and as samples
// with times, against copying a mutex-protected slice of 10,000 values.
// Metrics: values-us/read, samples-us/read, plain-us/read, ratio (values
// over plain).
func BenchmarkTelemetrySamples(b *testing.B) {
	w, err := telemetry.NewWindow(telemetry.WindowOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s := telemetry.Series{Agent: "solver", Version: "v1", Source: telemetry.SourceMesh, Metric: "request_latency_seconds"}
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	const n = 10_000
	var mu sync.Mutex
	plain := make([]float64, 0, n)
	for i := range n {
		v := float64(i)
		if err := w.Append(s, telemetry.Sample{Time: start.Add(time.Duration(i) * 50 * time.Millisecond), Value: v}); err != nil {
			b.Fatal(err)
		}
		plain = append(plain, v)
	}
	from, to := start, start.Add(time.Hour)
	var valuesNS, samplesNS, plainNS time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		vs := w.Values(s, from, to)
		t1 := time.Now()
		ss := w.Samples(s, from, to)
		t2 := time.Now()
		mu.Lock()
		cp := make([]float64, len(plain))
		copy(cp, plain)
		mu.Unlock()
		t3 := time.Now()
		if len(vs) != n || len(ss) != n || len(cp) != n {
			b.Fatalf("read %d values, %d samples, %d plain; want %d", len(vs), len(ss), len(cp), n)
		}
		valuesNS += t1.Sub(t0)
		samplesNS += t2.Sub(t1)
		plainNS += t3.Sub(t2)
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / 1e3 }
	b.ReportMetric(per(valuesNS), "values-us/read")
	b.ReportMetric(per(samplesNS), "samples-us/read")
	b.ReportMetric(per(plainNS), "plain-us/read")
	b.ReportMetric(per(valuesNS)/per(plainNS), "ratio")
	b.Logf("n=%d reads of %d samples | Values %.1f µs | Samples %.1f µs | plain copy %.1f µs | ratio %.1fx",
		b.N, n, per(valuesNS), per(samplesNS), per(plainNS), per(valuesNS)/per(plainNS))
}
