package mesh

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

func svc(name, addr string) Service { return Service{Name: name, Address: addr} }

func be(id string, weight int) Backend {
	return Backend{ID: id, Version: strings.SplitN(id, "/", 2)[0], Address: "127.0.0.1:9", Weight: weight}
}

func TestSetRefusesBadInput(t *testing.T) {
	tab := NewTable()
	if _, err := tab.Set(svc("taken", "127.0.0.1:7000"), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		svc      Service
		backends []Backend
		want     string
	}{
		{svc("", "127.0.0.1:80"), nil, "invalid service name"},
		{svc("a b", "127.0.0.1:80"), nil, "invalid service name"},
		{svc("s", "localhost:80"), nil, "not IP:port"},
		{svc("s", "127.0.0.1"), nil, "not IP:port"},
		{svc("s", "127.0.0.1:80"), []Backend{{ID: "", Address: "127.0.0.1:1", Weight: 1}}, "backend 0 has no ID"},
		{svc("s", "127.0.0.1:80"), []Backend{be("v1/0", 1), be("v1/0", 2)}, `backend "v1/0" appears twice`},
		{svc("s", "127.0.0.1:80"), []Backend{be("v1/0", -1)}, "weight -1 is negative; use 0 to drain it"},
		{svc("s", "127.0.0.1:80"), []Backend{be("v1/0", MaxWeight+1)}, "scale them down"},
		{svc("s", "127.0.0.1:80"), []Backend{{ID: "x", Address: "nohost", Weight: 1}}, "not host:port"},
		{svc("s", "127.0.0.1:80"), []Backend{{ID: "x", Address: "127.0.0.1:0", Weight: 1}}, "port of 1-65535"},
		{svc("s", "127.0.0.1:80"), []Backend{{ID: "x", Address: ":80", Weight: 1}}, "needs a host"},
		{svc("s", "127.0.0.1:7000"), nil, `taken by service "taken"`},
		{svc("s", "0.0.0.0:7000"), nil, `taken by service "taken"`},
	} {
		v, err := tab.Set(c.svc, c.backends)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%+v, %+v) = %v, want an error with %q", c.svc, c.backends, err, c.want)
		}
		if v != 1 || tab.Version() != 1 {
			t.Errorf("a refused Set changed the version: %d, %d", v, tab.Version())
		}
	}
	// Other families, other ports and port 0 do not collide.
	for i, a := range []string{"127.0.0.2:7000", "127.0.0.1:7001", "[::1]:7000", "127.0.0.1:0"} {
		if _, err := tab.Set(svc(fmt.Sprint("ok", i), a), nil); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	if _, err := tab.Set(svc("zero2", "127.0.0.1:0"), nil); err != nil {
		t.Errorf("a second port-0 service: %v", err)
	}
}

func TestVersionsAndCopies(t *testing.T) {
	tab := NewTable()
	if tab.Version() != 0 {
		t.Fatalf("new table at version %d", tab.Version())
	}
	bs := []Backend{be("v1/0", 90), be("v2/0", 10)}
	v, err := tab.Set(svc("a", "127.0.0.1:0"), bs)
	if err != nil || v != 1 {
		t.Fatalf("Set = %d, %v", v, err)
	}
	before := tab.Snapshot()
	bs[0].Weight = 5 // the caller's slice is not the table's
	if r, _ := tab.Get("a"); r.Backends[0].Weight != 90 {
		t.Fatalf("the table shares the caller's slice: %+v", r)
	}
	r, _ := tab.Get("a")
	r.Backends[0].Weight = 1 // nor is Get's
	if r2, _ := tab.Get("a"); r2.Backends[0].Weight != 90 {
		t.Fatal("Get returns the table's slice")
	}
	if v, _ := tab.Set(svc("a", "127.0.0.1:0"), []Backend{be("v1/0", 90), be("v2/0", 10)}); v != 1 {
		t.Errorf("an equal Set bumped the version to %d", v)
	}
	if v, err := tab.SetWeights("a", map[string]int{"v2/0": 50}); err != nil || v != 2 {
		t.Fatalf("SetWeights = %d, %v", v, err)
	}
	if r, _ := tab.Get("a"); r.Backends[0].Weight != 90 || r.Backends[1].Weight != 50 {
		t.Errorf("after SetWeights: %+v", r.Backends)
	}
	if _, err := tab.SetWeights("a", map[string]int{"v2/0": 1, "v9/0": 1}); err == nil || !strings.Contains(err.Error(), `no backend "v9/0"`) {
		t.Errorf("SetWeights of an unknown backend: %v", err)
	}
	if _, err := tab.SetWeights("a", map[string]int{"v2/0": -3}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("SetWeights negative: %v", err)
	}
	if r, _ := tab.Get("a"); r.Backends[1].Weight != 50 || tab.Version() != 2 {
		t.Errorf("a refused SetWeights changed the table: %+v at %d", r.Backends, tab.Version())
	}
	if _, err := tab.SetWeights("nope", nil); !errors.Is(err, ErrUnknownService) {
		t.Errorf("SetWeights of an unknown service: %v", err)
	}
	if v, err := tab.Remove("a"); err != nil || v != 3 {
		t.Fatalf("Remove = %d, %v", v, err)
	}
	if _, err := tab.Remove("a"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("second Remove: %v", err)
	}
	// The old snapshot still shows what it showed.
	if r, ok := before.Get("a"); !ok || before.Version() != 1 || r.Backends[0].Weight != 90 {
		t.Errorf("old snapshot changed: %v %+v", ok, r)
	}
	if _, ok := tab.Get("a"); ok {
		t.Error("removed service still there")
	}
}

func TestUpdateIsAtomic(t *testing.T) {
	tab := NewTable()
	if _, err := tab.Set(svc("a", "127.0.0.1:0"), []Backend{be("v1/0", 0)}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := tab.Update("a", func(bs []Backend) ([]Backend, error) {
				bs[0].Weight++
				return bs, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if r, _ := tab.Get("a"); r.Backends[0].Weight != n || tab.Version() != n+1 {
		t.Errorf("after %d increments: weight %d, version %d", n, r.Backends[0].Weight, tab.Version())
	}
	boom := errors.New("boom")
	if _, err := tab.Update("a", func([]Backend) ([]Backend, error) { return nil, boom }); err != boom {
		t.Errorf("Update returned %v, want fn's error", err)
	}
}

// within checks that count is within k binomial standard deviations of
// n·p.
func within(t *testing.T, what string, count, n int, p, k float64) {
	t.Helper()
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if d := math.Abs(float64(count) - float64(n)*p); d > k*sd {
		t.Errorf("%s: %d of %d, want %.0f ± %.1f (%.1f sd)", what, count, n, float64(n)*p, k*sd, k)
	} else {
		t.Logf("%s: %d of %d, want %.0f ± %.1f", what, count, n, float64(n)*p, k*sd)
	}
}

func TestPickConvergesToWeights(t *testing.T) {
	const n = 100_000
	for _, weights := range [][]int{{90, 10}, {50, 30, 20}, {1, 0, 99}, {3, 3, 3, 1}, {MaxWeight, 250_000}} {
		for seed := range uint64(3) {
			tab := NewTable()
			var bs []Backend
			sum := 0
			for i, w := range weights {
				bs = append(bs, be(fmt.Sprintf("v%d/0", i), w))
				sum += w
			}
			if _, err := tab.Set(svc("a", "127.0.0.1:0"), bs); err != nil {
				t.Fatal(err)
			}
			rnd := rand.New(rand.NewPCG(seed, 42))
			counts := map[string]int{}
			for range n {
				b, err := tab.Pick("a", rnd)
				if err != nil {
					t.Fatal(err)
				}
				counts[b.ID]++
			}
			for _, b := range bs {
				if b.Weight == 0 {
					if counts[b.ID] != 0 {
						t.Errorf("%v seed %d: weight-0 backend picked %d times", weights, seed, counts[b.ID])
					}
					continue
				}
				// 4.5 sd: a correct pick fails this about once in 150,000 checks.
				within(t, fmt.Sprintf("%v seed %d %s", weights, seed, b.ID), counts[b.ID], n, float64(b.Weight)/float64(sum), 4.5)
			}
		}
	}
}

func TestPickRefusesWithoutTraffic(t *testing.T) {
	tab := NewTable()
	rnd := rand.New(rand.NewPCG(1, 2))
	if _, err := tab.Pick("a", rnd); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
	for _, bs := range [][]Backend{nil, {be("v1/0", 0), be("v2/0", 0)}} {
		if _, err := tab.Set(svc("a", "127.0.0.1:0"), bs); err != nil {
			t.Fatal(err)
		}
		_, err := tab.Pick("a", rnd)
		if !errors.Is(err, ErrNoTraffic) || !strings.Contains(err.Error(), "set a weight above 0") {
			t.Errorf("%+v: %v", bs, err)
		}
	}
}

func TestPickOtherSkipsTheFailedBackend(t *testing.T) {
	tab := NewTable()
	if _, err := tab.Set(svc("a", "127.0.0.1:0"), []Backend{be("v1/0", 90), be("v2/0", 10), be("v3/0", 0)}); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		b, err := tab.Snapshot().PickOther("a", "v1/0", rnd)
		if err != nil || b.ID != "v2/0" {
			t.Fatalf("PickOther = %+v, %v; want v2/0", b, err)
		}
	}
	if _, err := tab.SetWeights("a", map[string]int{"v2/0": 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Snapshot().PickOther("a", "v1/0", rnd); !errors.Is(err, ErrNoTraffic) || !strings.Contains(err.Error(), `besides "v1/0"`) {
		t.Errorf("PickOther with no other weight: %v", err)
	}
}

func TestWatchGetsTheNewestSnapshot(t *testing.T) {
	tab := NewTable()
	ch, stop := tab.Watch()
	if s := <-ch; s.Version() != 0 {
		t.Fatalf("first snapshot at version %d", s.Version())
	}
	if _, err := tab.Set(svc("a", "127.0.0.1:0"), []Backend{be("v1/0", 1)}); err != nil {
		t.Fatal(err)
	}
	if s := <-ch; s.Version() != 1 {
		t.Fatalf("after Set: version %d", s.Version())
	}
	// Writes without a reader never block and leave the newest.
	for i := range 50 {
		if _, err := tab.SetWeights("a", map[string]int{"v1/0": i + 2}); err != nil {
			t.Fatal(err)
		}
	}
	s := <-ch
	if s.Version() != 51 {
		t.Fatalf("after 50 unread writes: version %d, want 51", s.Version())
	}
	if r, _ := s.Get("a"); r.Backends[0].Weight != 51 {
		t.Errorf("newest snapshot has weight %d", r.Backends[0].Weight)
	}
	select {
	case s := <-ch:
		t.Fatalf("a stale snapshot is left: %d", s.Version())
	default:
	}
	stop()
	stop() // twice is harmless
	if _, ok := <-ch; ok {
		t.Error("channel open after stop")
	}
	if _, err := tab.Remove("a"); err != nil { // no watcher left to send to
		t.Fatal(err)
	}
}

func TestHistogramBuckets(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Nanosecond, 0}, {25 * time.Microsecond, 0}, {25*time.Microsecond + 1, 1},
		{50 * time.Microsecond, 1}, {50*time.Microsecond + 1, 2}, {time.Millisecond, 6},
		{firstBound << (numBounds - 1), numBounds - 1}, {firstBound<<(numBounds-1) + 1, numBounds}, {time.Hour, numBounds},
	} {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
		if c.want < numBounds {
			b := bucketBounds()
			if c.d > b[c.want] || (c.want > 0 && c.d <= b[c.want-1]) {
				t.Errorf("%v is not within bucket %d's bounds", c.d, c.want)
			}
		}
	}
	var h histogram
	for i := range 100 {
		h.observe(time.Duration(i+1) * 10 * time.Microsecond) // 10µs .. 1ms
	}
	h.observe(2 * time.Minute)
	s := h.snapshot()
	if s.Count != 101 || s.Max != 2*time.Minute || s.Counts[numBounds] != 1 {
		t.Fatalf("snapshot: count %d max %v overflow %d", s.Count, s.Max, s.Counts[numBounds])
	}
	// p50 is the 51st value, 510µs, in the bucket up to 800µs.
	if q := s.Quantile(0.5); q != 800*time.Microsecond {
		t.Errorf("p50 = %v, want 800µs", q)
	}
	// p1 is 10µs, in the first bucket.
	if q := s.Quantile(0.01); q != 25*time.Microsecond {
		t.Errorf("p1 = %v, want 25µs", q)
	}
	if q := s.Quantile(1); q != 2*time.Minute {
		t.Errorf("p100 = %v, want the max", q)
	}
	if q := (Histogram{}).Quantile(0.5); q != 0 {
		t.Errorf("empty p50 = %v", q)
	}
}
