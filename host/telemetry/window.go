package telemetry

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of WindowOptions.
const (
	DefaultMaxAge       = 15 * time.Minute
	DefaultMaxPerSeries = 100_000
	DefaultMaxSamples   = 4_000_000
	DefaultMaxSeries    = 10_000
)

// initialSlots is the ring size a new series starts with; rings double as
// they fill, up to MaxPerSeries.
const initialSlots = 64

// sampleBytes is what one stored sample costs: a Unix-nanosecond time and
// a float64.
const sampleBytes = 16

// Errors Append returns, told apart with errors.Is.
var (
	// ErrNotFinite: the value is NaN or ±Inf.
	ErrNotFinite = errors.New("sample value is not finite")
	// ErrOutOfOrder: the sample is older than the series' newest.
	ErrOutOfOrder = errors.New("sample is older than the newest of its series")
	// ErrWindowFull: the window holds MaxSeries series, or its sample budget
	// cannot take one more series.
	ErrWindowFull = errors.New("telemetry window is full")
)

// WindowOptions bound a Window. Zero fields take the defaults.
type WindowOptions struct {
	// MaxAge: samples older than a series' newest by more than this are
	// dropped (default 15 min).
	MaxAge time.Duration
	// MaxPerSeries: the most samples one series keeps; past it the oldest
	// is overwritten (default 100,000: 110 samples a second for 15 min).
	MaxPerSeries int
	// MaxSamples: the most sample slots all series together may allocate,
	// 16 bytes each (default 4,000,000: 64 MiB). A full series that cannot
	// grow within it overwrites its oldest sample instead.
	MaxSamples int
	// MaxSeries: the most series held at once (default 10,000).
	MaxSeries int
}

func (o WindowOptions) withDefaults() (WindowOptions, error) {
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxPerSeries == 0 {
		o.MaxPerSeries = DefaultMaxPerSeries
	}
	if o.MaxSamples == 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.MaxSeries == 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	switch {
	case o.MaxAge < 0 || o.MaxPerSeries < 0 || o.MaxSamples < 0 || o.MaxSeries < 0:
		return o, fmt.Errorf("window options %+v: limits must not be negative (zero takes the default)", o)
	case o.MaxPerSeries > o.MaxSamples:
		return o, fmt.Errorf("window options: MaxPerSeries %d exceeds MaxSamples %d; one series could never fill its ring", o.MaxPerSeries, o.MaxSamples)
	}
	return o, nil
}

// Window keeps the recent samples of every series in memory, oldest
// first, bounded by age, by count per series and by a sample budget over
// all series: at most MaxSamples×16 bytes of samples plus about 200 bytes
// and the name strings per series. It is safe for concurrent use; appends
// to different series do not wait for each other.
type Window struct {
	opts WindowOptions

	mu     sync.RWMutex
	series map[Series]*ring

	slots   atomic.Int64 // sample slots allocated over all rings
	dropped atomic.Int64 // samples overwritten by a full ring
}

// ring is one series' samples in a circular buffer, times ascending.
type ring struct {
	mu     sync.Mutex
	times  []int64 // Unix nanoseconds
	values []float64
	head   int // index of the oldest sample
	n      int
	dead   bool // removed by Prune; appenders look the series up again
}

// NewWindow returns an empty window.
func NewWindow(opts WindowOptions) (*Window, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Window{opts: opts, series: map[Series]*ring{}}, nil
}

// Options are the window's limits, defaults filled in.
func (w *Window) Options() WindowOptions { return w.opts }

// Append adds a sample to its series, creating the series on first use.
// Samples must come in time order per series (equal times are accepted);
// older ones are refused with ErrOutOfOrder, non-finite values with
// ErrNotFinite.
func (w *Window) Append(s Series, smp Sample) error {
	if math.IsNaN(smp.Value) || math.IsInf(smp.Value, 0) {
		return fmt.Errorf("%s at %s: %w (%v)", s, smp.Time.Format(time.RFC3339Nano), ErrNotFinite, smp.Value)
	}
	ts := smp.Time.UnixNano()
	for {
		r, err := w.ring(s)
		if err != nil {
			return err
		}
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			continue
		}
		err = w.push(r, ts, smp.Value)
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%s at %s: %w", s, smp.Time.Format(time.RFC3339Nano), err)
		}
		return nil
	}
}

// ring returns the series' ring, creating it.
func (w *Window) ring(s Series) (*ring, error) {
	w.mu.RLock()
	r := w.series[s]
	w.mu.RUnlock()
	if r != nil {
		return r, nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if r := w.series[s]; r != nil {
		return r, nil
	}
	if len(w.series) >= w.opts.MaxSeries {
		return nil, fmt.Errorf("%w: it holds %d series, its MaxSeries; %s is not recorded (raise the limit, or drop labels that make series per request)", ErrWindowFull, len(w.series), s)
	}
	slots := min(initialSlots, w.opts.MaxPerSeries)
	if !w.reserve(slots) {
		return nil, fmt.Errorf("%w: its %d sample slots are allocated; %s is not recorded (raise MaxSamples, or lower MaxPerSeries)", ErrWindowFull, w.opts.MaxSamples, s)
	}
	r = &ring{times: make([]int64, slots), values: make([]float64, slots)}
	w.series[s] = r
	return r, nil
}

// reserve takes n slots from the budget if it has them.
func (w *Window) reserve(n int) bool {
	for {
		cur := w.slots.Load()
		if cur+int64(n) > int64(w.opts.MaxSamples) {
			return false
		}
		if w.slots.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// push appends to a locked ring.
func (w *Window) push(r *ring, ts int64, v float64) error {
	if r.n > 0 {
		newest := r.times[r.index(r.n-1)]
		if ts < newest {
			return fmt.Errorf("%w (newest %s)", ErrOutOfOrder, time.Unix(0, newest).UTC().Format(time.RFC3339Nano))
		}
	}
	r.trim(ts - int64(w.opts.MaxAge))
	if r.n == len(r.times) {
		grow := min(2*len(r.times), w.opts.MaxPerSeries) - len(r.times)
		if grow > 0 && w.reserve(grow) {
			r.resize(len(r.times) + grow)
		} else {
			r.head = r.index(1)
			r.n--
			w.dropped.Add(1)
		}
	}
	i := r.index(r.n)
	r.times[i], r.values[i] = ts, v
	r.n++
	return nil
}

func (r *ring) index(i int) int {
	i += r.head
	if i >= len(r.times) {
		i -= len(r.times)
	}
	return i
}

// trim drops samples older than cutoff.
func (r *ring) trim(cutoff int64) {
	for r.n > 0 && r.times[r.head] < cutoff {
		r.head = r.index(1)
		r.n--
	}
	if r.n == 0 {
		r.head = 0
	}
}

// resize moves the samples into new slices of size slots, oldest at 0.
func (r *ring) resize(slots int) {
	times, values := make([]int64, slots), make([]float64, slots)
	r.copyTo(times, values, 0, r.n)
	r.times, r.values, r.head = times, values, 0
}

// copyTo copies samples [from, to) (logical indices) into the slices.
func (r *ring) copyTo(times []int64, values []float64, from, to int) {
	for k := from; k < to; {
		i := r.index(k)
		run := min(to-k, len(r.times)-i)
		if times != nil {
			copy(times[k-from:], r.times[i:i+run])
		}
		copy(values[k-from:], r.values[i:i+run])
		k += run
	}
}

// search returns the logical index of the first sample at or after ts.
func (r *ring) search(ts int64) int {
	lo, hi := 0, r.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.times[r.index(m)] < ts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// span locks the series' ring and returns the logical range of samples in
// [from, to); the caller unlocks r when it is not nil.
func (w *Window) span(s Series, from, to time.Time) (r *ring, lo, hi int) {
	w.mu.RLock()
	r = w.series[s]
	w.mu.RUnlock()
	if r == nil {
		return nil, 0, 0
	}
	r.mu.Lock()
	lo, hi = r.search(from.UnixNano()), r.search(to.UnixNano())
	return r, lo, max(lo, hi)
}

// Values returns a copy of the values of the series' samples with from ≤
// time < to, oldest first; nil when there are none.
func (w *Window) Values(s Series, from, to time.Time) []float64 {
	r, lo, hi := w.span(s, from, to)
	if r == nil {
		return nil
	}
	defer r.mu.Unlock()
	if lo == hi {
		return nil
	}
	out := make([]float64, hi-lo)
	r.copyTo(nil, out, lo, hi)
	return out
}

// Samples returns a copy of the series' samples with from ≤ time < to,
// oldest first, times in UTC; nil when there are none.
func (w *Window) Samples(s Series, from, to time.Time) []Sample {
	r, lo, hi := w.span(s, from, to)
	if r == nil {
		return nil
	}
	defer r.mu.Unlock()
	if lo == hi {
		return nil
	}
	out := make([]Sample, hi-lo)
	for k := lo; k < hi; k++ {
		i := r.index(k)
		out[k-lo] = Sample{Time: time.Unix(0, r.times[i]).UTC(), Value: r.values[i]}
	}
	return out
}

// Series lists the series held, sorted.
func (w *Window) Series() []Series {
	w.mu.RLock()
	out := make([]Series, 0, len(w.series))
	for s := range w.series {
		out = append(out, s)
	}
	w.mu.RUnlock()
	slices.SortFunc(out, compareSeries)
	return out
}

func compareSeries(a, b Series) int {
	return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Source, b.Source), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Labels, b.Labels))
}

// WindowStats describe what a window holds.
type WindowStats struct {
	Series  int
	Samples int
	// Slots are the sample slots allocated, of MaxSamples; Bytes is their
	// size.
	Slots int64
	Bytes int64
	// Dropped counts samples overwritten because their series was full.
	Dropped int64
}

// Stats counts what the window holds now.
func (w *Window) Stats() WindowStats {
	w.mu.RLock()
	defer w.mu.RUnlock()
	st := WindowStats{Series: len(w.series), Slots: w.slots.Load(), Dropped: w.dropped.Load()}
	for _, r := range w.series {
		r.mu.Lock()
		st.Samples += r.n
		r.mu.Unlock()
	}
	st.Bytes = st.Slots * sampleBytes
	return st
}

// Prune drops samples older than now minus MaxAge, removes series left
// empty and halves rings that are less than a quarter full, returning
// their slots to the budget. It returns the series removed, sorted.
func (w *Window) Prune(now time.Time) []Series {
	cutoff := now.UnixNano() - int64(w.opts.MaxAge)
	w.mu.Lock()
	defer w.mu.Unlock()
	var removed []Series
	for s, r := range w.series {
		r.mu.Lock()
		r.trim(cutoff)
		switch size := len(r.times); {
		case r.n == 0:
			r.dead = true
			w.slots.Add(-int64(size))
			delete(w.series, s)
			removed = append(removed, s)
		case size > initialSlots && r.n <= size/4:
			r.resize(size / 2)
			w.slots.Add(-int64(size - size/2))
		}
		r.mu.Unlock()
	}
	slices.SortFunc(removed, compareSeries)
	return removed
}
