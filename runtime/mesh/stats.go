package mesh

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a proxy's counters: plain data, safe to keep.
type Stats struct {
	// TableVersion is the table version the proxy's listeners follow.
	TableVersion uint64
	// Services are sorted by name: those in the table, and removed ones
	// until their last connection ends.
	Services []ServiceStats
}

// ServiceStats are the counters of one service.
type ServiceStats struct {
	Name string
	// Address is where the proxy listens for it (the table's address, with
	// the port filled in when the table says 0); empty when not listening.
	Address string
	// Socket is the Unix socket the proxy listens on for it under
	// Options.SocketDir; empty without one.
	Socket string
	// ListenError says why the proxy could not listen on the table's
	// address or the service's socket; the next table change tries again.
	ListenError string
	// Accepted counts client connections accepted.
	Accepted uint64
	// Refused counts accepted connections closed without a backend: no
	// backend had a weight above 0, or every dial failed.
	Refused uint64
	// Backends are sorted by ID: those in the table, and removed ones until
	// their last connection ends.
	Backends []BackendStats
}

// BackendStats are the counters of one backend. A connection is one
// request at L4.
type BackendStats struct {
	ID, Version, Address string
	// Weight is the backend's weight in the table the proxy follows; -1
	// once it has left the table.
	Weight int
	// Requests counts connections routed to the backend, those whose dial
	// failed included.
	Requests uint64
	// DialErrors counts dials that failed or timed out.
	DialErrors uint64
	// Resets counts connections that ended abnormally (a reset or another
	// error on either side) rather than by both sides closing; a cut at
	// Proxy.Close is not counted.
	Resets uint64
	// Active is the number of connections open now.
	Active int64
	// BytesToBackend and BytesFromBackend count payload bytes each way.
	// They grow every 64 KiB and when a connection ends.
	BytesToBackend, BytesFromBackend uint64
	// FirstByte is the time from accepting the client's connection to the
	// backend's first byte (dial included); connections on which the
	// backend sent nothing are not in it.
	FirstByte Histogram
	// Duration is the time from accepting the client's connection to the
	// end of both directions, for connections that reached the backend.
	Duration Histogram
}

// Errors is DialErrors + Resets: the error count a canary judge divides
// by Requests.
func (b BackendStats) Errors() uint64 { return b.DialErrors + b.Resets }

// Histogram counts durations in fixed buckets whose upper bounds double
// from 25µs to about 52s.
type Histogram struct {
	// Bounds are the buckets' upper bounds, ascending.
	Bounds []time.Duration
	// Counts has one entry per bound (values ≤ the bound and above the
	// previous one) and a last one for values above every bound.
	Counts []uint64
	// Count is the number of values, Sum their total and Max the largest.
	Count    uint64
	Sum, Max time.Duration
}

// Quantile returns an upper estimate of the q-quantile (0 < q ≤ 1): the
// upper bound of the bucket it falls in (Max if that is lower, or for the
// last bucket); 0 for an empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.Count))), 1)
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if cum >= rank {
			if i < len(h.Bounds) {
				return min(h.Bounds[i], h.Max)
			}
			break
		}
	}
	return h.Max
}

// histogram bucket layout: bound i is firstBound << i.
const (
	firstBound = 25 * time.Microsecond
	numBounds  = 22
)

// bucketBounds returns the histograms' upper bounds (a new slice each time).
func bucketBounds() []time.Duration {
	b := make([]time.Duration, numBounds)
	for i := range b {
		b[i] = firstBound << i
	}
	return b
}

// bucketOf returns the index of the bucket that holds d.
func bucketOf(d time.Duration) int {
	if d <= firstBound {
		return 0
	}
	return min(bits.Len64(uint64((d-1)/firstBound)), numBounds)
}

// histogram is a Histogram's lock-free recording side.
type histogram struct {
	counts   [numBounds + 1]atomic.Uint64
	sum, max atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	h.counts[bucketOf(d)].Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Bounds: bucketBounds(), Counts: make([]uint64, numBounds+1)}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	out.Sum, out.Max = time.Duration(h.sum.Load()), time.Duration(h.max.Load())
	return out
}

// serviceCounters are one service's live counters.
type serviceCounters struct {
	accepted, refused atomic.Uint64
	open              atomic.Int64                // connections being served
	backends          map[string]*backendCounters // guarded by Proxy.statsMu
	inTable           bool                        // guarded by Proxy.statsMu
	// refusalLogged is the table version whose first refusal was logged
	// at Warn; later ones of that version go to Debug.
	refusalLogged atomic.Uint64
}

// backendCounters are one backend's live counters.
type backendCounters struct {
	backend Backend // as last seen in the table; guarded by Proxy.statsMu
	inTable bool    // guarded by Proxy.statsMu

	requests, dialErrors, resets     atomic.Uint64
	active                           atomic.Int64
	bytesToBackend, bytesFromBackend atomic.Uint64
	firstByte, duration              histogram
	// dialErrLogged is like serviceCounters.refusalLogged, for dial
	// failures.
	dialErrLogged atomic.Uint64
}

func (b *backendCounters) snapshot() BackendStats {
	w := b.backend.Weight
	if !b.inTable {
		w = -1
	}
	return BackendStats{
		ID: b.backend.ID, Version: b.backend.Version, Address: b.backend.Address, Weight: w,
		Requests: b.requests.Load(), DialErrors: b.dialErrors.Load(), Resets: b.resets.Load(),
		Active:           b.active.Load(),
		BytesToBackend:   b.bytesToBackend.Load(),
		BytesFromBackend: b.bytesFromBackend.Load(),
		FirstByte:        b.firstByte.snapshot(),
		Duration:         b.duration.snapshot(),
	}
}

// logOnce reports whether this is the first event of its kind for table
// version v (and marks it), so repeated refusals or dial failures log once
// per version at Warn and the rest at Debug.
func logOnce(last *atomic.Uint64, v uint64) bool {
	v++ // 0 means "none logged"
	for {
		l := last.Load()
		if l >= v {
			return false
		}
		if last.CompareAndSwap(l, v) {
			return true
		}
	}
}
