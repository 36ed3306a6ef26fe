package telemetry

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultSummaryInterval is the span of one summary.
const DefaultSummaryInterval = time.Minute

// HubOptions configure a Hub. Zero fields take the defaults.
type HubOptions struct {
	Window   WindowOptions
	Detector Params
	Push     PushLimits
	// Summaries persists summaries; nil keeps none (Summarize still
	// returns them).
	Summaries SummaryStore
	// SummaryInterval is the span of one summary, aligned to multiples of
	// it since the Unix epoch (default 1 min).
	SummaryInterval time.Duration
	// Scraper fetches agents' /metrics (default: the zero Scraper).
	Scraper *Scraper
	// OnEvent gets every event, synchronously and outside the hub's locks;
	// it must not block (hand the event to a channel or a queue).
	OnEvent func(Event)
	// Now is the clock that stamps pushes without a time and scrapes
	// (default time.Now).
	Now func() time.Time
}

// Hub records telemetry: every sample goes into the window and through the
// anomaly detector, pushes are validated first, scrapes are turned into
// samples, and Summarize condenses the window into stored summaries. It is
// safe for concurrent use.
type Hub struct {
	window    *Window
	summaries SummaryStore
	interval  time.Duration
	scraper   *Scraper
	onEvent   func(Event)
	now       func() time.Time
	push      PushLimits

	// mu serialises Record, so that the window and the detector see each
	// series' samples in the same order.
	mu       sync.Mutex
	det      *Detector
	rejected int64

	smu        sync.Mutex
	summarized map[Series]time.Time // end of the newest summarised interval

	rmu   sync.Mutex
	rates map[string]*Rates // by agent, version and URL
}

// NewHub returns an empty hub.
func NewHub(opts HubOptions) (*Hub, error) {
	w, err := NewWindow(opts.Window)
	if err != nil {
		return nil, err
	}
	det, err := NewDetector(opts.Detector)
	if err != nil {
		return nil, err
	}
	if opts.SummaryInterval < 0 {
		return nil, fmt.Errorf("summary interval %s must be positive", opts.SummaryInterval)
	}
	if opts.SummaryInterval == 0 {
		opts.SummaryInterval = DefaultSummaryInterval
	}
	if opts.Scraper == nil {
		opts.Scraper = &Scraper{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Push.MaxAge <= 0 {
		opts.Push.MaxAge = w.Options().MaxAge
	}
	return &Hub{
		window: w, summaries: opts.Summaries, interval: opts.SummaryInterval, scraper: opts.Scraper,
		onEvent: opts.OnEvent, now: opts.Now, push: opts.Push, det: det,
		summarized: map[Series]time.Time{}, rates: map[string]*Rates{},
	}, nil
}

// Window is the hub's window, for reading samples.
func (h *Hub) Window() *Window { return h.window }

// Record adds a sample to the window and the detector, and passes the event
// it raises, if any, to OnEvent. A sample the window refuses (see
// Window.Append) is counted and reaches neither.
func (h *Hub) Record(s Series, smp Sample) error {
	h.mu.Lock()
	if err := h.window.Append(s, smp); err != nil {
		h.rejected++
		h.mu.Unlock()
		return err
	}
	ev, raised, err := h.det.Observe(s, smp)
	h.mu.Unlock()
	if err != nil {
		return err
	}
	if raised && h.onEvent != nil {
		h.onEvent(ev)
	}
	return nil
}

// RecordAll records points in order and returns how many were recorded;
// the error names up to ten that were not.
func (h *Hub) RecordAll(points []Point) (int, error) {
	var bad []error
	n := 0
	for _, p := range points {
		if err := h.Record(p.Series, p.Sample); err != nil {
			if len(bad) < maxListed {
				bad = append(bad, err)
			}
			continue
		}
		n++
	}
	if n < len(points) {
		return n, &recordError{failed: len(points) - n, total: len(points), errs: bad}
	}
	return n, nil
}

// recordError lists the samples RecordAll could not record, on one line;
// errors.Is and errors.As see each of them.
type recordError struct {
	failed, total int
	errs          []error
}

func (e *recordError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	more := ""
	if e.failed > len(e.errs) {
		more = fmt.Sprintf("; and %d more", e.failed-len(e.errs))
	}
	return fmt.Sprintf("%d of %d samples not recorded: %s%s", e.failed, e.total, strings.Join(msgs, "; "), more)
}

func (e *recordError) Unwrap() []error { return e.errs }

// Push validates a batch an agent pushed (ValidatePush, against the hub's
// clock) and records it. An invalid batch records nothing; a valid one can
// still have samples the window refuses (older than what their series
// already holds), which the error names.
func (h *Hub) Push(agent, version string, batch []Pushed) (int, error) {
	points, err := ValidatePush(agent, version, batch, h.now(), h.push)
	if err != nil {
		return 0, err
	}
	return h.RecordAll(points)
}

// Scrape fetches an agent version's /metrics at url and records the samples
// (see Rates), stamped with the hub's clock. A failed fetch records nothing
// and leaves the counters' previous values as they were. It returns how
// many samples were recorded.
func (h *Hub) Scrape(ctx context.Context, agent, version, url string) (int, error) {
	readings, err := h.scraper.Fetch(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("scrape %s@%s: %w", agent, version, err)
	}
	at := h.now()
	key := agent + "\x00" + version + "\x00" + url
	h.rmu.Lock()
	r := h.rates[key]
	if r == nil {
		r = &Rates{}
		h.rates[key] = r
	}
	points, _ := r.Points(agent, version, at, readings)
	h.rmu.Unlock()
	n, err := h.RecordAll(points)
	if err != nil {
		return n, fmt.Errorf("scrape %s@%s at %s: %w", agent, version, url, err)
	}
	return n, nil
}

// Summarize condenses every series' samples into one summary per complete
// SummaryInterval that ended at or before now and was not summarised
// before, within the window's age, stores them in the SummaryStore if
// there is one, and returns them. Intervals without samples give no
// summary. Samples that arrive for an interval after it was summarised are
// in the window but not in its summary. On a store error it returns what
// it stored so far; the next call retries the rest.
func (h *Hub) Summarize(ctx context.Context, now time.Time) ([]Summary, error) {
	h.smu.Lock()
	defer h.smu.Unlock()
	end := align(now, h.interval)
	oldest := align(now.Add(-h.window.Options().MaxAge), h.interval)
	var out []Summary
	for _, s := range h.window.Series() {
		start := h.summarized[s]
		if start.Before(oldest) {
			start = oldest
		}
		for from := start; from.Before(end); from = from.Add(h.interval) {
			to := from.Add(h.interval)
			if sum, ok := Summarize(s, from, to, h.window.Values(s, from, to)); ok {
				if h.summaries != nil {
					if err := h.summaries.Put(ctx, sum); err != nil {
						return out, fmt.Errorf("summarize: %w", err)
					}
				}
				out = append(out, sum)
			}
			h.summarized[s] = to
		}
	}
	for s, t := range h.summarized {
		if t.Before(oldest) {
			delete(h.summarized, s)
		}
	}
	return out, nil
}

// align rounds t down to a multiple of d since the Unix epoch, in UTC.
func align(t time.Time, d time.Duration) time.Time {
	return time.Unix(0, floorDiv(t.UnixNano(), int64(d))*int64(d)).UTC()
}

// Prune drops what is older than now minus the window's age: samples,
// series left empty with their detector state (a series that comes back
// warms up again), and the counter state of targets not scraped since.
func (h *Hub) Prune(now time.Time) {
	h.mu.Lock()
	for _, s := range h.window.Prune(now) {
		h.det.Forget(s)
	}
	h.mu.Unlock()
	cutoff := now.Add(-h.window.Options().MaxAge)
	h.rmu.Lock()
	for k, r := range h.rates {
		if r.at.Before(cutoff) {
			delete(h.rates, k)
		}
	}
	h.rmu.Unlock()
}

// HubStats count what a hub holds and has done.
type HubStats struct {
	Window   WindowStats
	Detector DetectorStats
	// Rejected counts samples the window refused.
	Rejected int64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	st := HubStats{Detector: h.det.Stats(), Rejected: h.rejected}
	h.mu.Unlock()
	st.Window = h.window.Stats()
	return st
}
