package telemetry

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Summary condenses one series' samples in [From, To).
type Summary struct {
	Series Series
	From   time.Time
	To     time.Time
	Count  int
	Mean   float64
	Min    float64
	Max    float64
	// P50, P90 and P99 are nearest-rank percentiles: each is one of the
	// samples.
	P50 float64
	P90 float64
	P99 float64
}

// Summarize condenses values, the samples of s in [from, to); it sorts
// values in place. It returns false for no values.
func Summarize(s Series, from, to time.Time, values []float64) (Summary, bool) {
	if len(values) == 0 {
		return Summary{}, false
	}
	slices.Sort(values)
	// A running mean cannot overflow where a sum of large values would.
	var mean float64
	for i, v := range values {
		mean += (v - mean) / float64(i+1)
	}
	return Summary{
		Series: s, From: from, To: to, Count: len(values), Mean: mean,
		Min: values[0], Max: values[len(values)-1],
		P50: nearestRank(values, 0.50), P90: nearestRank(values, 0.90), P99: nearestRank(values, 0.99),
	}, true
}

// nearestRank is the p-quantile of sorted values: the smallest value with
// at least p of the values at or below it.
func nearestRank(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// SummaryStore persists summaries. BadgerSummaries implements it.
type SummaryStore interface {
	// Put stores a summary; a second Put of the same series and From
	// replaces the first.
	Put(ctx context.Context, sum Summary) error
	// List returns the series' summaries with from ≤ From < to, oldest
	// first.
	List(ctx context.Context, s Series, from, to time.Time) ([]Summary, error)
}

// DefaultRetention is how long BadgerSummaries keeps a summary.
const DefaultRetention = 7 * 24 * time.Hour

// SummaryStoreOptions configure BadgerSummaries.
type SummaryStoreOptions struct {
	// Retention: summaries expire this long after they are written
	// (default 7 days; negative keeps them for ever).
	Retention time.Duration
	Logger    *slog.Logger
}

// BadgerSummaries keeps summaries in badger, under
//
//	telemetry/s/<agent>/<version>/<source>/<metric>/<labels>/<from>
//
// with each part path-escaped and <from> as 8 bytes that sort in time
// order; the value is JSON. It is safe for concurrent use.
type BadgerSummaries struct {
	db        *badger.DB
	owned     bool
	retention time.Duration
}

// NewBadgerSummaries keeps summaries in an open badger database, which the
// caller closes.
func NewBadgerSummaries(db *badger.DB, opts SummaryStoreOptions) *BadgerSummaries {
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	return &BadgerSummaries{db: db, retention: opts.Retention}
}

// OpenBadgerSummaries opens (or creates) a badger database of its own in
// dir; Close closes it.
func OpenBadgerSummaries(dir string, opts SummaryStoreOptions) (*BadgerSummaries, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{opts.Logger}).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(32 << 20).
		WithNumCompactors(2)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open telemetry summaries in %s: %w; if another process holds it, stop that process, and if it is damaged, move the directory aside (summaries are history, not state)", dir, err)
	}
	b := NewBadgerSummaries(db, opts)
	b.owned = true
	return b, nil
}

// Close closes the database if OpenBadgerSummaries opened it.
func (b *BadgerSummaries) Close() error {
	if !b.owned {
		return nil
	}
	return b.db.Close()
}

// storedSummary is a summary's value in badger; the series and From are
// in the key.
type storedSummary struct {
	To    int64   `json:"to"` // Unix nanoseconds
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
}

// Put stores a summary.
func (b *BadgerSummaries) Put(ctx context.Context, sum Summary) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sum.Series.Validate(); err != nil {
		return fmt.Errorf("store summary: %w", err)
	}
	for _, v := range []float64{sum.Mean, sum.Min, sum.Max, sum.P50, sum.P90, sum.P99} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("store summary of %s from %s: %w (%v)", sum.Series, sum.From.UTC().Format(time.RFC3339), ErrNotFinite, v)
		}
	}
	if sum.Count <= 0 || !sum.To.After(sum.From) {
		return fmt.Errorf("store summary of %s: count %d and window %s–%s make no summary", sum.Series, sum.Count, sum.From.UTC().Format(time.RFC3339), sum.To.UTC().Format(time.RFC3339))
	}
	val, err := json.Marshal(storedSummary{To: sum.To.UnixNano(), Count: sum.Count, Mean: sum.Mean, Min: sum.Min, Max: sum.Max, P50: sum.P50, P90: sum.P90, P99: sum.P99})
	if err != nil {
		return fmt.Errorf("encode summary of %s: %w", sum.Series, err)
	}
	e := badger.NewEntry(appendTime(seriesPrefix(sum.Series), sum.From), val)
	if b.retention > 0 {
		e = e.WithTTL(b.retention)
	}
	if err := b.db.Update(func(txn *badger.Txn) error { return txn.SetEntry(e) }); err != nil {
		return fmt.Errorf("store summary of %s: %w", sum.Series, err)
	}
	return nil
}

// List returns the series' summaries with from ≤ From < to, oldest first.
func (b *BadgerSummaries) List(ctx context.Context, s Series, from, to time.Time) ([]Summary, error) {
	prefix := seriesPrefix(s)
	end := appendTime(slices.Clone(prefix), to)
	var out []Summary
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(appendTime(slices.Clone(prefix), from)); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := it.Item().Key()
			if bytes.Compare(key, end) >= 0 {
				break
			}
			if len(key) != len(prefix)+8 {
				return fmt.Errorf("telemetry key %q is not a summary key", key)
			}
			var st storedSummary
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &st) }); err != nil {
				return fmt.Errorf("decode summary %q: %w", key, err)
			}
			out = append(out, Summary{
				Series: s, From: readTime(key[len(prefix):]), To: time.Unix(0, st.To).UTC(),
				Count: st.Count, Mean: st.Mean, Min: st.Min, Max: st.Max, P50: st.P50, P90: st.P90, P99: st.P99,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list summaries of %s: %w", s, err)
	}
	return out, nil
}

// seriesPrefix is the key prefix of a series' summaries. Every part is
// path-escaped, so none holds a "/" and no series' prefix is a prefix of
// another's.
func seriesPrefix(s Series) []byte {
	k := []byte("telemetry/s/")
	for _, part := range []string{s.Agent, s.Version, string(s.Source), s.Metric, s.Labels} {
		k = append(k, url.PathEscape(part)...)
		k = append(k, '/')
	}
	return k
}

// appendTime appends t as 8 bytes that sort like the times.
func appendTime(k []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(t.UnixNano())^(1<<63))
}

func readTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

// badgerLogger sends badger's chatter to slog at debug level, warnings and
// errors at their own.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger")
}
