package telemetry

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func newWindow(t *testing.T, o WindowOptions) *Window {
	t.Helper()
	w, err := NewWindow(o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// appendSeconds appends value i at t0+i s for i in [from, to).
func appendSeconds(t *testing.T, w *Window, s Series, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := w.Append(s, Sample{Time: sec(i), Value: float64(i)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

func sec(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

// wantRange checks that values are from, from+1, …, to-1.
func wantRange(t *testing.T, got []float64, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("got %d values, want %d (%d..%d)", len(got), to-from, from, to-1)
	}
	for i, v := range got {
		if v != float64(from+i) {
			t.Fatalf("value %d is %v, want %d", i, v, from+i)
		}
	}
}

func TestWindowReturnsTheSamplesInARange(t *testing.T) {
	w := newWindow(t, WindowOptions{})
	appendSeconds(t, w, latency, 0, 200)
	wantRange(t, w.Values(latency, sec(50), sec(100)), 50, 100)
	got := w.Samples(latency, sec(50), sec(100))
	if len(got) != 50 || !got[0].Time.Equal(sec(50)) || got[0].Value != 50 || !got[49].Time.Equal(sec(99)) {
		t.Fatalf("samples %v … %v", got[0], got[len(got)-1])
	}
	// Between two samples, before and after all of them, and reversed.
	wantRange(t, w.Values(latency, sec(10).Add(time.Millisecond), sec(12).Add(time.Millisecond)), 11, 13)
	for _, r := range [][2]time.Time{{sec(-10), sec(0)}, {sec(200), sec(300)}, {sec(100), sec(50)}} {
		if got := w.Values(latency, r[0], r[1]); got != nil {
			t.Fatalf("[%s, %s) gave %v, want nil", r[0], r[1], got)
		}
	}
	other := latency
	other.Agent = "absent"
	if w.Values(other, sec(0), sec(200)) != nil || w.Samples(other, sec(0), sec(200)) != nil {
		t.Fatal("a series never recorded has samples")
	}
	// The copy is the caller's.
	v := w.Values(latency, sec(0), sec(1))
	v[0] = 42
	wantRange(t, w.Values(latency, sec(0), sec(1)), 0, 1)
}

func TestWindowDropsSamplesByAge(t *testing.T) {
	w := newWindow(t, WindowOptions{MaxAge: time.Minute})
	appendSeconds(t, w, latency, 0, 200)
	// The newest is at 199 s; older than 139 s is gone.
	wantRange(t, w.Values(latency, sec(0), sec(1000)), 139, 200)
	if st := w.Stats(); st.Samples != 61 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWindowKeepsAtMostMaxPerSeries(t *testing.T) {
	w := newWindow(t, WindowOptions{MaxPerSeries: 100, MaxAge: time.Hour})
	appendSeconds(t, w, latency, 0, 250)
	// The ring wrapped: the newest 100, in order, across the wrap.
	wantRange(t, w.Values(latency, sec(0), sec(1000)), 150, 250)
	wantRange(t, w.Values(latency, sec(180), sec(220)), 180, 220)
	if st := w.Stats(); st.Samples != 100 || st.Slots != 100 || st.Dropped != 150 || st.Bytes != 1600 {
		t.Fatalf("stats %+v: want 100 samples in 100 slots, 150 dropped", st)
	}
}

func TestWindowSampleBudgetBoundsAllSeries(t *testing.T) {
	w := newWindow(t, WindowOptions{MaxPerSeries: 128, MaxSamples: 200, MaxAge: time.Hour})
	a, b, c := latency, latency, latency
	b.Metric, c.Metric = "b", "c"
	appendSeconds(t, w, a, 0, 128) // grows 64 → 128
	appendSeconds(t, w, b, 0, 100) // 64 slots; growing to 128 would pass 200
	wantRange(t, w.Values(b, sec(0), sec(1000)), 36, 100)
	st := w.Stats()
	if st.Slots != 192 || st.Dropped != 36 {
		t.Fatalf("stats %+v: want 192 slots, 36 dropped", st)
	}
	err := w.Append(c, Sample{Time: sec(0), Value: 1})
	if !errors.Is(err, ErrWindowFull) || !strings.Contains(err.Error(), "MaxSamples") {
		t.Fatalf("a third series past the budget: %v", err)
	}
}

func TestWindowRefusesBadSamples(t *testing.T) {
	w := newWindow(t, WindowOptions{MaxSeries: 1})
	appendSeconds(t, w, latency, 10, 11)
	if err := w.Append(latency, Sample{Time: sec(5), Value: 1}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("older sample: %v", err)
	}
	if err := w.Append(latency, Sample{Time: sec(10), Value: 2}); err != nil {
		t.Fatalf("same time: %v", err)
	}
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		if err := w.Append(latency, Sample{Time: sec(11), Value: v}); !errors.Is(err, ErrNotFinite) {
			t.Fatalf("%v: %v", v, err)
		}
	}
	other := latency
	other.Version = "v9"
	if err := w.Append(other, Sample{Time: sec(0), Value: 1}); !errors.Is(err, ErrWindowFull) || !strings.Contains(err.Error(), "MaxSeries") {
		t.Fatalf("a second series with MaxSeries 1: %v", err)
	}
	for _, bad := range []Series{
		{Agent: "a", Source: SourceMesh, Metric: "m"},
		{Agent: "a", Version: "v", Source: "disk", Metric: "m"},
		{Agent: "a", Version: "v", Source: SourceMesh, Metric: "bad-name"},
		{Agent: "a", Version: "v", Source: SourceMesh, Metric: "m", Labels: `{b="1",a="2"}`},
	} {
		if err := newWindow(t, WindowOptions{}).Append(bad, Sample{Time: sec(0), Value: 1}); err == nil {
			t.Errorf("series %v accepted", bad)
		}
	}
	if got := w.Values(latency, sec(0), sec(100)); len(got) != 2 || got[0] != 10 || got[1] != 2 {
		t.Fatalf("after refusals: %v, want [10 2]", got)
	}
}

func TestWindowOptionsAreChecked(t *testing.T) {
	for _, o := range []WindowOptions{{MaxAge: -1}, {MaxSeries: -1}, {MaxPerSeries: 10, MaxSamples: 5}} {
		if _, err := NewWindow(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o := newWindow(t, WindowOptions{}).Options()
	if o.MaxAge != 15*time.Minute || o.MaxPerSeries != 100_000 || o.MaxSamples != 4_000_000 || o.MaxSeries != 10_000 {
		t.Fatalf("defaults %+v", o)
	}
}

func TestWindowPruneFreesQuietSeries(t *testing.T) {
	w := newWindow(t, WindowOptions{MaxAge: time.Minute})
	quiet, busy := latency, latency
	busy.Metric = "busy"
	appendSeconds(t, w, quiet, 0, 100) // 61 live in a ring of 64
	for i := range 1000 {              // every 100 ms: 601 live in a ring of 1024
		if err := w.Append(busy, Sample{Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Value: float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if removed := w.Prune(sec(100)); len(removed) != 0 {
		t.Fatalf("pruned %v at 100 s", removed)
	}
	before := w.Stats()
	removed := w.Prune(sec(159).Add(500 * time.Millisecond)) // keeps from 99.5 s
	if len(removed) != 1 || removed[0] != quiet {
		t.Fatalf("removed %v, want the quiet series", removed)
	}
	after := w.Stats()
	wantRange(t, w.Values(busy, sec(0), sec(2000)), 995, 1000)
	if after.Series != 1 || after.Samples != 5 || after.Slots != 512 || before.Slots != 64+1024 {
		t.Fatalf("stats before %+v after %+v: want the quiet ring freed and the busy one halved", before, after)
	}
	// A pruned series can come back.
	appendSeconds(t, w, quiet, 2000, 2001)
	if got := w.Series(); len(got) != 2 || got[0] != busy || got[1] != quiet {
		t.Fatalf("series %v", got)
	}
}

func TestWindowIsSafeForConcurrentUse(t *testing.T) {
	w := newWindow(t, WindowOptions{MaxAge: time.Hour})
	const writers, n = 4, 2000
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		s := latency
		s.Metric = fmt.Sprintf("m%d", g)
		wg.Go(func() {
			for i := range n {
				if err := w.Append(s, Sample{Time: sec(i), Value: float64(i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, s := range w.Series() {
				vs := w.Values(s, sec(0), sec(n))
				for i, v := range vs {
					if v != float64(i) {
						errs <- fmt.Errorf("%s: value %d is %v mid-write", s, i, v)
						return
					}
				}
			}
			w.Stats()
			w.Prune(sec(0))
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Series != writers || st.Samples != writers*n {
		t.Fatalf("stats %+v, want %d series of %d", st, writers, n)
	}
}
