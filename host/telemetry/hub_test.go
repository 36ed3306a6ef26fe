package telemetry

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// fakeClock is the hub's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newHub(t *testing.T, o HubOptions) *Hub {
	t.Helper()
	h, err := NewHub(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHubRecordRaisesEvents(t *testing.T) {
	var mu sync.Mutex
	var events []Event
	h := newHub(t, HubOptions{OnEvent: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}})
	rng := rand.New(rand.NewPCG(41, 42))
	values := append(uniform(rng, 200, 100, 5), uniform(rng, 100, 160, 5)...)
	for i, v := range values {
		if err := h.Record(latency, Sample{Time: sec(i), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if len(events) != 1 || !events[0].Time.Equal(sec(200)) || events[0].Kind != KindSpike {
		t.Fatalf("events %v, want one spike at 200 s", events)
	}
	// A refused sample reaches neither the window nor the detector.
	for _, smp := range []Sample{{sec(300), math.NaN()}, {sec(10), 1}} {
		if err := h.Record(latency, smp); err == nil {
			t.Fatalf("%v accepted", smp)
		}
	}
	st := h.Stats()
	if st.Rejected != 2 || st.Detector.Observed != 300 || st.Window.Samples != 300 || st.Detector.Events != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := h.Window().Values(latency, sec(0), sec(300)); len(got) != 300 || got[299] != values[299] {
		t.Fatalf("the window holds %d samples", len(got))
	}
}

func TestHubPushUsesItsClock(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHub(t, HubOptions{Now: clock.Now})
	depth := Series{Agent: "solver", Version: "v2", Source: SourceAgent, Metric: "queue_depth"}
	n, err := h.Push("solver", "v2", []Pushed{{Metric: "queue_depth", Value: 1, Time: t0.Add(-time.Second)}, {Metric: "queue_depth", Value: 2}})
	if err != nil || n != 2 {
		t.Fatalf("push: %d, %v", n, err)
	}
	got := h.Window().Samples(depth, t0.Add(-time.Minute), t0.Add(time.Minute))
	if len(got) != 2 || !got[1].Time.Equal(t0) || got[1].Value != 2 {
		t.Fatalf("samples %v", got)
	}
	// Valid, but older than what the series holds: named, not recorded.
	n, err = h.Push("solver", "v2", []Pushed{{Metric: "queue_depth", Value: 3, Time: t0.Add(-time.Minute)}, {Metric: "queue_depth", Value: 4}})
	if n != 1 || !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("push with a late sample: %d, %v", n, err)
	}
	// An invalid batch records nothing.
	clock.Advance(time.Second)
	if n, err := h.Push("solver", "v2", []Pushed{{Metric: "queue_depth", Value: 5}, {Metric: "bad name", Value: 1}}); n != 0 || !errors.Is(err, ErrInvalidPush) {
		t.Fatalf("invalid push: %d, %v", n, err)
	}
	if got := h.Window().Values(depth, t0.Add(-time.Minute), t0.Add(time.Minute)); len(got) != 3 {
		t.Fatalf("values %v", got)
	}
}

// failingStore is the badger store with Put failing while fail is set.
type failingStore struct {
	*BadgerSummaries
	fail bool
}

func (f *failingStore) Put(ctx context.Context, s Summary) error {
	if f.fail {
		return errors.New("disk full")
	}
	return f.BadgerSummaries.Put(ctx, s)
}

func TestHubSummarize(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{BadgerSummaries: openSummaries(t, t.TempDir())}
	defer store.Close()
	h := newHub(t, HubOptions{Summaries: store})
	other := latency
	other.Metric = "errors_total"
	record := func(from, to int) {
		for i := from; i < to; i++ {
			if err := h.Record(latency, Sample{Time: sec(i), Value: float64(i % 60)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(0, 180)
	if err := h.Record(other, Sample{Time: sec(90), Value: 1}); err != nil {
		t.Fatal(err)
	}
	sums, err := h.Summarize(ctx, sec(185))
	if err != nil {
		t.Fatal(err)
	}
	// Three complete minutes of latency, one of errors; the minute in
	// progress waits.
	if len(sums) != 4 {
		t.Fatalf("%d summaries: %+v", len(sums), sums)
	}
	// Series in order: errors_total, then the latency.
	if sums[0].Series != other || sums[0].Count != 1 || !sums[0].From.Equal(sec(60)) {
		t.Fatalf("errors summary %+v", sums[0])
	}
	for i, s := range sums[1:] {
		want := Summary{Series: latency, From: sec(60 * i), To: sec(60 * (i + 1)), Count: 60, Mean: 29.5, Min: 0, Max: 59, P50: 29, P90: 53, P99: 59}
		if s != want {
			t.Fatalf("summary %d: %+v, want %+v", i, s, want)
		}
	}
	if again, err := h.Summarize(ctx, sec(185)); err != nil || len(again) != 0 {
		t.Fatalf("second call: %v, %v; want nothing new", again, err)
	}

	// A store error stops the pass; the next one stores what was missed.
	record(180, 300)
	store.fail = true
	if got, err := h.Summarize(ctx, sec(300)); err == nil || len(got) != 0 {
		t.Fatalf("failing store: %v, %v", got, err)
	}
	store.fail = false
	got, err := h.Summarize(ctx, sec(300))
	if err != nil || len(got) != 2 || !got[0].From.Equal(sec(180)) || !got[1].From.Equal(sec(240)) {
		t.Fatalf("after the failure: %+v, %v", got, err)
	}
	stored, err := store.List(ctx, latency, sec(0), sec(3600))
	if err != nil || len(stored) != 5 {
		t.Fatalf("stored %d summaries, %v; want 5", len(stored), err)
	}
	for i, s := range stored {
		if !s.From.Equal(sec(60*i)) || s.Count != 60 {
			t.Fatalf("stored %d: %+v", i, s)
		}
	}
}

func TestHubPruneForgetsQuietSeries(t *testing.T) {
	h := newHub(t, HubOptions{Window: WindowOptions{MaxAge: time.Minute}})
	for i := range 40 {
		if err := h.Record(latency, Sample{Time: sec(i), Value: 1}); err != nil {
			t.Fatal(err)
		}
	}
	h.Prune(sec(60))
	if st := h.Stats(); st.Window.Series != 1 || st.Detector.Series != 1 {
		t.Fatalf("pruned too early: %+v", st)
	}
	h.Prune(sec(200))
	if st := h.Stats(); st.Window.Series != 0 || st.Detector.Series != 0 || st.Window.Slots != 0 {
		t.Fatalf("after the series went quiet: %+v", st)
	}
	// It comes back and warms up again.
	if err := h.Record(latency, Sample{Time: sec(300), Value: 1}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	st, _ := h.det.State(latency)
	h.mu.Unlock()
	if st.Samples != 1 || st.WarmedUp {
		t.Fatalf("state after return %+v", st)
	}
}

func TestHubOptionsAreChecked(t *testing.T) {
	for _, o := range []HubOptions{
		{Window: WindowOptions{MaxSeries: -1}},
		{Detector: Params{Alpha: 2}},
		{SummaryInterval: -time.Second},
	} {
		if _, err := NewHub(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
