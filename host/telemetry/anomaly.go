package telemetry

import (
	"fmt"
	"math"
	"time"
)

// Defaults of Params; docs/architecture/telemetry.md gives the reasoning.
const (
	DefaultAlpha         = 0.05
	DefaultWarmUp        = 30
	DefaultThreshold     = 3.0
	DefaultRearm         = 1.5
	DefaultMinStdDev     = 1e-9
	DefaultRelStdDev     = 0.01
	DefaultFloorInterval = time.Minute
	DefaultMinSamples    = 5
)

// Params tune the anomaly detector. Zero fields take the defaults.
type Params struct {
	// Alpha is the EWMA weight of a new sample, in (0, 1] (default 0.05: the
	// state follows about the last 40 samples).
	Alpha float64
	// WarmUp: a series raises nothing until it has this many samples, at
	// least 2 (default 30). Its state starts from their plain mean and
	// variance rather than from its first sample.
	WarmUp int
	// Threshold: a sample whose |z| reaches it is anomalous (default 3).
	Threshold float64
	// Rearm: after an event a series raises nothing more until a sample's
	// |z| falls below Rearm, in [0, Threshold) (default 1.5). One spike or
	// one step raises one event, not one per sample.
	Rearm float64
	// MinStdDev and RelStdDev floor the standard deviation z divides by:
	// it is at least MinStdDev (default 1e-9, which only guards the
	// division) and RelStdDev×|mean| (default 0.01; negative for none), so
	// a nearly constant series does not alarm on changes of a fraction of
	// a percent.
	MinStdDev float64
	RelStdDev float64
	// FloorInterval and MinSamples are the traffic floor: a series that got
	// fewer than MinSamples samples in the last FloorInterval raises
	// nothing (defaults 1 min and 5; MinSamples negative for no floor). The
	// floor counts samples, not their values.
	FloorInterval time.Duration
	MinSamples    int
}

// DefaultParams are the defaults every zero field of Params takes.
func DefaultParams() Params {
	p, _ := Params{}.withDefaults()
	return p
}

func (p Params) withDefaults() (Params, error) {
	if p.Alpha == 0 {
		p.Alpha = DefaultAlpha
	}
	if p.WarmUp == 0 {
		p.WarmUp = DefaultWarmUp
	}
	if p.Threshold == 0 {
		p.Threshold = DefaultThreshold
	}
	if p.Rearm == 0 {
		p.Rearm = min(DefaultRearm, p.Threshold/2)
	}
	if p.MinStdDev == 0 {
		p.MinStdDev = DefaultMinStdDev
	}
	if p.RelStdDev == 0 {
		p.RelStdDev = DefaultRelStdDev
	}
	if p.FloorInterval == 0 {
		p.FloorInterval = DefaultFloorInterval
	}
	if p.MinSamples == 0 {
		p.MinSamples = DefaultMinSamples
	}
	switch {
	case !(p.Alpha > 0 && p.Alpha <= 1):
		return p, fmt.Errorf("detector alpha %v must be in (0, 1]", p.Alpha)
	case p.WarmUp < 2:
		return p, fmt.Errorf("detector warm-up %d must be at least 2 samples: a variance needs two", p.WarmUp)
	case !(p.Threshold > 0) || math.IsInf(p.Threshold, 0):
		return p, fmt.Errorf("detector threshold %v must be a positive number", p.Threshold)
	case !(p.Rearm >= 0 && p.Rearm < p.Threshold):
		return p, fmt.Errorf("detector rearm %v must be in [0, threshold %v), or a series could never raise a second event", p.Rearm, p.Threshold)
	case !(p.MinStdDev > 0) || math.IsInf(p.MinStdDev, 0):
		return p, fmt.Errorf("detector MinStdDev %v must be a positive number", p.MinStdDev)
	case p.FloorInterval < 0:
		return p, fmt.Errorf("detector floor interval %v must be positive", p.FloorInterval)
	}
	return p, nil
}

// Kind says which way an anomalous sample went.
type Kind string

// The kinds of events.
const (
	KindSpike Kind = "spike" // above the mean
	KindDrop  Kind = "drop"  // below the mean
)

// Event is an anomalous sample: Value's z-score against the series' mean
// and standard deviation before it reached the threshold.
type Event struct {
	Series Series
	Time   time.Time
	Value  float64
	Mean   float64
	// StdDev is the (floored) standard deviation Z was computed with.
	StdDev float64
	Z      float64
	Kind   Kind
}

// String describes the event in one line.
func (e Event) String() string {
	return fmt.Sprintf("%s %s at %s: %g against mean %g ± %g (z %.1f)", e.Series, e.Kind, e.Time.UTC().Format(time.RFC3339), e.Value, e.Mean, e.StdDev, e.Z)
}

// DetectorStats count what a detector has seen.
type DetectorStats struct {
	Series   int
	Observed int64 // finite samples taken
	Rejected int64 // NaN or ±Inf samples refused
	Events   int64
	// BelowFloor counts samples past the threshold that raised nothing
	// because their series was under the traffic floor; Held those that
	// raised nothing because their series had not re-armed.
	BelowFloor int64
	Held       int64
}

// SeriesState is one series' detector state.
type SeriesState struct {
	Samples  int64 // finite samples taken
	WarmedUp bool
	Mean     float64
	StdDev   float64 // unfloored
	Alarmed  bool    // an event was raised and the series has not re-armed
}

// Detector finds anomalous samples per series with an exponentially
// weighted mean and variance. It is pure and deterministic: the same
// samples give the same events. It is not safe for concurrent use (Hub
// serialises it).
type Detector struct {
	p      Params
	series map[Series]*tracker
	stats  DetectorStats
}

// tracker is one series' state.
type tracker struct {
	n        int64
	mean     float64
	m2       float64 // Welford's sum of squared deviations, during warm-up
	variance float64 // EWMA variance, once warmed up
	alarmed  bool
	// The traffic floor's counter: samples in the current floor interval
	// and in the one before it.
	bucket    int64
	cur, prev int
}

// NewDetector returns a detector with no series.
func NewDetector(p Params) (*Detector, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Detector{p: p, series: map[Series]*tracker{}}, nil
}

// Params are the detector's parameters, defaults filled in.
func (d *Detector) Params() Params { return d.p }

// Observe takes the next sample of a series and returns the event it
// raises, if any. A NaN or ±Inf value is refused with ErrNotFinite and
// counted; it leaves the state as it was.
func (d *Detector) Observe(s Series, smp Sample) (Event, bool, error) {
	v := smp.Value
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.stats.Rejected++
		return Event{}, false, fmt.Errorf("%s at %s: %w (%v); the detector's state is unchanged", s, smp.Time.UTC().Format(time.RFC3339Nano), ErrNotFinite, v)
	}
	tr := d.series[s]
	if tr == nil {
		tr = &tracker{}
		d.series[s] = tr
	}
	d.stats.Observed++
	traffic := tr.count(smp.Time.UnixNano(), int64(d.p.FloorInterval))

	if tr.n < int64(d.p.WarmUp) {
		tr.n++
		delta := v - tr.mean
		tr.mean += delta / float64(tr.n)
		tr.m2 += delta * (v - tr.mean)
		if tr.n == int64(d.p.WarmUp) {
			tr.variance = tr.m2 / float64(tr.n-1)
		}
		return Event{}, false, nil
	}

	sd := max(math.Sqrt(tr.variance), d.p.MinStdDev)
	if d.p.RelStdDev > 0 {
		sd = max(sd, d.p.RelStdDev*math.Abs(tr.mean))
	}
	z := (v - tr.mean) / sd
	ev, raised := Event{}, false
	switch {
	case tr.alarmed && math.Abs(z) < d.p.Rearm:
		tr.alarmed = false
	case math.Abs(z) < d.p.Threshold:
	case tr.alarmed:
		d.stats.Held++
	case d.p.MinSamples > 0 && traffic < float64(d.p.MinSamples):
		d.stats.BelowFloor++
	default:
		kind := KindSpike
		if z < 0 {
			kind = KindDrop
		}
		ev = Event{Series: s, Time: smp.Time, Value: v, Mean: tr.mean, StdDev: sd, Z: z, Kind: kind}
		raised = true
		tr.alarmed = true
		d.stats.Events++
	}

	// The exponentially weighted mean and variance, updated incrementally
	// (Finch, "Incremental calculation of weighted mean and variance", 2009).
	tr.n++
	diff := v - tr.mean
	incr := d.p.Alpha * diff
	tr.mean += incr
	tr.variance = (1 - d.p.Alpha) * (tr.variance + diff*incr)
	return ev, raised, nil
}

// count adds a sample at ts to the traffic counter and returns the samples
// in the last interval, estimated from the current and previous interval
// (the previous one weighted by how much of it the last interval still
// covers). A late sample counts in the current interval.
func (tr *tracker) count(ts, interval int64) float64 {
	b := floorDiv(ts, interval)
	switch {
	case tr.n == 0 && tr.cur == 0:
		tr.bucket = b
	case b == tr.bucket+1:
		tr.bucket, tr.prev, tr.cur = b, tr.cur, 0
	case b > tr.bucket+1:
		tr.bucket, tr.prev, tr.cur = b, 0, 0
	}
	tr.cur++
	into := float64(ts-tr.bucket*interval) / float64(interval)
	into = min(max(into, 0), 1)
	return float64(tr.prev)*(1-into) + float64(tr.cur)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// State returns a series' state.
func (d *Detector) State(s Series) (SeriesState, bool) {
	tr := d.series[s]
	if tr == nil {
		return SeriesState{}, false
	}
	st := SeriesState{Samples: tr.n, WarmedUp: tr.n >= int64(d.p.WarmUp), Mean: tr.mean, Alarmed: tr.alarmed}
	if st.WarmedUp {
		st.StdDev = math.Sqrt(tr.variance)
	} else if tr.n > 1 {
		st.StdDev = math.Sqrt(tr.m2 / float64(tr.n-1))
	}
	return st, true
}

// Forget drops a series' state; its next sample starts a new warm-up.
func (d *Detector) Forget(s Series) { delete(d.series, s) }

// Stats returns the detector's counters.
func (d *Detector) Stats() DetectorStats {
	st := d.stats
	st.Series = len(d.series)
	return st
}
