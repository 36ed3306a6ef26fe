package mesh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// testBackend is a TCP server on 127.0.0.1. On each connection it answers
// every line with "<id> <line>", and at the client's half-close it writes
// "<id> bye <bytes it read>" and closes.
type testBackend struct {
	id       string
	addr     string
	accepted atomic.Int64
	received atomic.Int64
}

func startBackend(t *testing.T, id string) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{id: id, addr: ln.Addr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			go b.serve(c)
		}
	}()
	return b
}

func (b *testBackend) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	n := 0
	for {
		line, err := r.ReadString('\n')
		n += len(line)
		if err != nil {
			break
		}
		fmt.Fprintf(w, "%s %s", b.id, line)
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
	b.received.Add(int64(n))
	fmt.Fprintf(w, "%s bye %d\n", b.id, n)
	w.Flush()
}

func (b *testBackend) backend(weight int) Backend {
	return Backend{ID: b.id, Version: strings.SplitN(b.id, "/", 2)[0], Address: b.addr, Weight: weight}
}

// deadAddress returns an address on which nothing listens.
func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// exchange sends payload over a new connection, half-closes it and
// returns everything it reads back.
func exchange(addr, payload string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return string(got), err
	}
	return string(got), <-werr
}

// servedBy checks a whole reply and returns the backend that sent it.
func servedBy(reply string, sent int) (string, error) {
	lines := strings.Split(strings.TrimSuffix(reply, "\n"), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 3 || f[1] != "bye" || f[2] != fmt.Sprint(sent) {
		return "", fmt.Errorf("reply ends with %q, want \"<id> bye %d\"", lines[len(lines)-1], sent)
	}
	return f[0], nil
}

// lockedRand is a seeded Rand safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func seeded(seed uint64) *lockedRand { return &lockedRand{r: rand.New(rand.NewPCG(seed, 7))} }

func (l *lockedRand) Uint64N(n uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Uint64N(n)
}

// logBuf collects a logger's output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func infoLog() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo})), lb
}

// startProxy starts a proxy on tab and closes it at the end of the test.
func startProxy(t *testing.T, tab *Table, opts Options) *Proxy {
	t.Helper()
	p, err := New(tab, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return p
}

// closeProxy closes p, requiring every connection to have ended by itself,
// so that the counters are final.
func closeProxy(t *testing.T, p *Proxy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func backendStats(t *testing.T, st Stats, service, id string) BackendStats {
	t.Helper()
	for _, s := range st.Services {
		if s.Name != service {
			continue
		}
		for _, b := range s.Backends {
			if b.ID == id {
				return b
			}
		}
	}
	t.Fatalf("no stats for %s/%s in %+v", service, id, st)
	return BackendStats{}
}

func serviceStats(t *testing.T, st Stats, service string) ServiceStats {
	t.Helper()
	for _, s := range st.Services {
		if s.Name == service {
			return s
		}
	}
	t.Fatalf("no stats for %s in %+v", service, st)
	return ServiceStats{}
}

// spread makes n connections to addr from 8 clients at once and counts
// which backend served each.
func spread(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				reply, err := exchange(addr, "")
				id, perr := servedBy(reply, 0)
				if err != nil || perr != nil {
					t.Errorf("exchange: %v %v", err, perr)
					return
				}
				mu.Lock()
				counts[id]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts
}

func TestProxySplitsByWeight(t *testing.T) {
	a, b := startBackend(t, "v1/0"), startBackend(t, "v2/0")
	tab := NewTable()
	if _, err := tab.Set(svc("split", "127.0.0.1:0"), []Backend{a.backend(90), b.backend(10)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{Rand: seeded(1)})
	const n = 2000
	counts := spread(t, p.Addr("split").String(), n)
	// 4.5 binomial sd: sqrt(2000·0.9·0.1) = 13.4, so 1800 ± 60.
	within(t, "v1/0 (weight 90)", counts["v1/0"], n, 0.9, 4.5)
	within(t, "v2/0 (weight 10)", counts["v2/0"], n, 0.1, 4.5)
	closeProxy(t, p)
	st := p.Stats()
	s := serviceStats(t, st, "split")
	if s.Accepted != n || s.Refused != 0 {
		t.Errorf("accepted %d refused %d, want %d and 0", s.Accepted, s.Refused, n)
	}
	for _, tb := range []*testBackend{a, b} {
		bs := backendStats(t, st, "split", tb.id)
		if bs.Requests != uint64(counts[tb.id]) || int(tb.accepted.Load()) != counts[tb.id] || bs.Errors() != 0 || bs.Active != 0 {
			t.Errorf("%s: stats %+v, server accepted %d, clients counted %d", tb.id, bs, tb.accepted.Load(), counts[tb.id])
		}
		if bs.Version != strings.SplitN(tb.id, "/", 2)[0] || bs.Weight != map[string]int{"v1/0": 90, "v2/0": 10}[tb.id] {
			t.Errorf("%s: labels %q weight %d", tb.id, bs.Version, bs.Weight)
		}
	}
}

func TestWeightChangesApplyToNewConnections(t *testing.T) {
	a, b, c := startBackend(t, "v1/0"), startBackend(t, "v2/0"), startBackend(t, "v3/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(100), b.backend(0), c.backend(0)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{Rand: seeded(2)})
	addr := p.Addr("s").String()

	// An open connection to v1, then all new traffic moves to v2 and v3.
	old, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	r := bufio.NewReader(old)
	ask := func(line string) string {
		t.Helper()
		if _, err := io.WriteString(old, line+"\n"); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := ask("ping"); got != "v1/0 ping\n" {
		t.Fatalf("old connection: %q", got)
	}
	if _, err := tab.SetWeights("s", map[string]int{"v1/0": 0, "v2/0": 50, "v3/0": 50}); err != nil {
		t.Fatal(err)
	}
	counts := spread(t, addr, 400)
	if counts["v1/0"] != 0 {
		t.Errorf("drained v1/0 got %d new connections", counts["v1/0"])
	}
	within(t, "v2/0", counts["v2/0"], 400, 0.5, 4.5)
	within(t, "v3/0", counts["v3/0"], 400, 0.5, 4.5)
	// The old connection drains: it still reaches v1.
	if got := ask("still there"); got != "v1/0 still there\n" {
		t.Fatalf("old connection after the change: %q", got)
	}
	if bs := backendStats(t, p.Stats(), "s", "v1/0"); bs.Active != 1 || bs.Weight != 0 {
		t.Errorf("v1/0 while draining: %+v", bs)
	}
	old.(*net.TCPConn).CloseWrite()
	if rest, _ := io.ReadAll(r); string(rest) != "v1/0 bye 17\n" {
		t.Errorf("old connection's end: %q", rest)
	}
	closeProxy(t, p)
	if bs := backendStats(t, p.Stats(), "s", "v1/0"); bs.Requests != 1 || a.accepted.Load() != 1 {
		t.Errorf("v1/0 served %d (server: %d), want only the old connection", bs.Requests, a.accepted.Load())
	}
}

func TestDrainedBackendGetsNothing(t *testing.T) {
	a, b, c := startBackend(t, "v1/0"), startBackend(t, "v1/1"), startBackend(t, "v2/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(50), b.backend(50), c.backend(0)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{}) // the default, unseeded source
	counts := spread(t, p.Addr("s").String(), 400)
	closeProxy(t, p)
	if counts["v2/0"] != 0 || c.accepted.Load() != 0 || backendStats(t, p.Stats(), "s", "v2/0").Requests != 0 {
		t.Errorf("weight-0 backend got connections: clients %d, server %d", counts["v2/0"], c.accepted.Load())
	}
	if counts["v1/0"]+counts["v1/1"] != 400 {
		t.Errorf("counts %v", counts)
	}
}

func TestDialFailureRetriesAnotherBackend(t *testing.T) {
	good := startBackend(t, "v2/0")
	dead := Backend{ID: "v1/0", Version: "v1", Address: deadAddress(t), Weight: 50}
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{dead, good.backend(50)}); err != nil {
		t.Fatal(err)
	}
	log, logs := infoLog()
	p := startProxy(t, tab, Options{Rand: seeded(3), Log: log})
	const n = 400
	counts := spread(t, p.Addr("s").String(), n)
	closeProxy(t, p)
	if counts["v2/0"] != n {
		t.Fatalf("served %v, want all %d by v2/0", counts, n)
	}
	st := p.Stats()
	d, g := backendStats(t, st, "s", "v1/0"), backendStats(t, st, "s", "v2/0")
	if d.Requests == 0 || d.DialErrors != d.Requests || d.Errors() != d.Requests || d.Active != 0 {
		t.Errorf("dead backend: %+v; want every request a dial error", d)
	}
	within(t, "dials to the dead backend", int(d.Requests), n, 0.5, 4.5)
	if g.Requests != n || g.Errors() != 0 {
		t.Errorf("good backend: %+v, want %d requests and no errors", g, n)
	}
	if s := serviceStats(t, st, "s"); s.Accepted != n || s.Refused != 0 {
		t.Errorf("service: %+v", s)
	}
	// Logged at Warn once for this table version, the rest at Debug.
	if got := strings.Count(logs.String(), "backend dial failed"); got != 1 {
		t.Errorf("%d dial failures logged at Warn, want 1:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), dead.Address) || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log does not say what failed:\n%s", logs)
	}
}

// readRefusal reads from a connection the proxy refused: a reset, no data.
// On loopback the reset can come before the dial returns.
func readRefusal(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if len(got) != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("refused connection: read %q, %v; want a reset", got, err)
	}
}

func TestRefusesWhenNoBackendTakesTraffic(t *testing.T) {
	a := startBackend(t, "v1/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(0)}); err != nil {
		t.Fatal(err)
	}
	log, logs := infoLog()
	p := startProxy(t, tab, Options{Log: log})
	addr := p.Addr("s").String()
	for range 3 {
		readRefusal(t, addr)
	}
	if got := strings.Count(logs.String(), "connection refused"); got != 1 || !strings.Contains(logs.String(), "every weight is 0") {
		t.Errorf("want the reason logged once at Warn, got %d:\n%s", got, logs)
	}
	// Every backend down: both dials fail, then the reset.
	v, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{
		{ID: "v1/0", Address: deadAddress(t), Weight: 1}, {ID: "v1/1", Address: deadAddress(t), Weight: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitApplied(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	readRefusal(t, addr)
	if !strings.Contains(logs.String(), "retry: dial backend") {
		t.Errorf("the reason does not name the retry:\n%s", logs)
	}
	closeProxy(t, p)
	st := p.Stats()
	if s := serviceStats(t, st, "s"); s.Accepted != 4 || s.Refused != 4 {
		t.Errorf("service: %+v, want 4 accepted and refused", s)
	}
	for _, id := range []string{"v1/0", "v1/1"} {
		if bs := backendStats(t, st, "s", id); bs.Requests != 1 || bs.DialErrors != 1 {
			t.Errorf("%s: %+v, want one failed dial", id, bs)
		}
	}
	if a.accepted.Load() != 0 {
		t.Errorf("drained backend accepted %d", a.accepted.Load())
	}
}

func TestHalfClosePassesThrough(t *testing.T) {
	a := startBackend(t, "v1/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(1)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{})
	// The client half-closes after its lines; the backend sees the EOF
	// only through the proxy, and still answers after it.
	reply, err := exchange(p.Addr("s").String(), "one\ntwo\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1/0 one\nv1/0 two\nv1/0 bye 8\n"; reply != want {
		t.Errorf("reply %q, want %q", reply, want)
	}
	closeProxy(t, p)
	if bs := backendStats(t, p.Stats(), "s", "v1/0"); bs.Resets != 0 {
		t.Errorf("a half-close counted as abnormal: %+v", bs)
	}
}

func TestStatsAddUp(t *testing.T) {
	a, b := startBackend(t, "v1/0"), startBackend(t, "v2/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(1), b.backend(1)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{Rand: seeded(4)})
	addr := p.Addr("s").String()
	var mu sync.Mutex
	sent, got := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	const n = 24
	for i := range n {
		wg.Go(func() {
			// 0 .. 23 lines of 13 KiB: up to ~300 KiB, several 64 KiB chunks.
			payload := strings.Repeat(strings.Repeat("x", 13<<10-1)+"\n", i)
			reply, err := exchange(addr, payload)
			id, perr := servedBy(reply, len(payload))
			if err != nil || perr != nil {
				t.Errorf("exchange %d: %v %v", i, err, perr)
				return
			}
			mu.Lock()
			sent[id] += len(payload)
			got[id] += len(reply)
			mu.Unlock()
		})
	}
	wg.Wait()
	closeProxy(t, p)
	st := p.Stats()
	var requests uint64
	for _, tb := range []*testBackend{a, b} {
		bs := backendStats(t, st, "s", tb.id)
		requests += bs.Requests
		if bs.BytesToBackend != uint64(sent[tb.id]) || int64(sent[tb.id]) != tb.received.Load() {
			t.Errorf("%s: %d bytes to backend counted, clients sent %d, backend read %d", tb.id, bs.BytesToBackend, sent[tb.id], tb.received.Load())
		}
		if bs.BytesFromBackend != uint64(got[tb.id]) {
			t.Errorf("%s: %d bytes from backend counted, clients got %d", tb.id, bs.BytesFromBackend, got[tb.id])
		}
		if bs.FirstByte.Count != bs.Requests || bs.Duration.Count != bs.Requests || bs.Resets != 0 || bs.Active != 0 {
			t.Errorf("%s: %d requests, first-byte count %d, duration count %d, resets %d, active %d", tb.id, bs.Requests, bs.FirstByte.Count, bs.Duration.Count, bs.Resets, bs.Active)
		}
		if bs.Requests > 0 && (bs.Duration.Sum <= 0 || bs.FirstByte.Max > bs.Duration.Max) {
			t.Errorf("%s: durations %+v first byte %+v", tb.id, bs.Duration, bs.FirstByte)
		}
	}
	if requests != n {
		t.Errorf("%d requests counted, %d made", requests, n)
	}
}

func TestTableChangesUnderLoad(t *testing.T) {
	bs := []*testBackend{startBackend(t, "v1/0"), startBackend(t, "v1/1"), startBackend(t, "v2/0"), startBackend(t, "v3/0")}
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{bs[0].backend(1), bs[1].backend(1), bs[2].backend(1)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(p))
	addr := p.Addr("s").String()

	stop := make(chan struct{})
	var made atomic.Int64
	var clients, others sync.WaitGroup
	for range 6 {
		clients.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				reply, err := exchange(addr, "hello\n")
				if _, perr := servedBy(reply, 6); err != nil || perr != nil {
					t.Errorf("exchange: %v %v", err, perr)
					return
				}
				made.Add(1)
			}
		})
	}
	others.Go(func() { // readers of the stats
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Stats()
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	rnd := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		// Random weights, never all 0; v3/0 comes and goes every 3 changes.
		set := []Backend{bs[0].backend(rnd.IntN(100) + 1), bs[1].backend(rnd.IntN(100)), bs[2].backend(rnd.IntN(100))}
		if (i/3)%2 == 0 {
			set = append(set, bs[3].backend(rnd.IntN(100)))
		}
		if _, err := tab.Set(svc("s", "127.0.0.1:0"), set); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if _, err := exchange(addr, "hello\n"); err != nil {
				t.Fatal(err)
			}
			made.Add(1)
		}
	}
	close(stop)
	clients.Wait()
	others.Wait()
	closeProxy(t, p)
	st := p.Stats()
	if s := serviceStats(t, st, "s"); s.Accepted != uint64(made.Load()) || s.Refused != 0 {
		t.Errorf("service: %+v, clients made %d", s, made.Load())
	}
	if st.TableVersion != tab.Version() {
		t.Errorf("proxy follows version %d, table at %d", st.TableVersion, tab.Version())
	}
}

func TestCloseDrainsOpenConnections(t *testing.T) {
	a := startBackend(t, "v1/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(1)}); err != nil {
		t.Fatal(err)
	}
	p, err := New(tab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr("s").String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	io.WriteString(c, "a\n")
	if got, _ := r.ReadString('\n'); got != "v1/0 a\n" {
		t.Fatalf("got %q", got)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	for p.Addr("s") != nil { // Close stops listening first
		time.Sleep(time.Millisecond)
	}
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.Close()
		t.Error("the proxy still accepts while closing")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a connection open", err)
	default:
	}
	io.WriteString(c, "b\n") // the open connection still works
	if got, _ := r.ReadString('\n'); got != "v1/0 b\n" {
		t.Fatalf("during the drain: %q", got)
	}
	c.(*net.TCPConn).CloseWrite()
	if rest, _ := io.ReadAll(r); string(rest) != "v1/0 bye 4\n" {
		t.Errorf("end: %q", rest)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close after the drain: %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseCutsAtTheDeadline(t *testing.T) {
	a := startBackend(t, "v1/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(1)}); err != nil {
		t.Fatal(err)
	}
	p, err := New(tab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr("s").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	io.WriteString(c, "a\n")
	if got, _ := r.ReadString('\n'); got != "v1/0 a\n" {
		t.Fatalf("got %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no time to drain
	if err := p.Close(ctx); err == nil || !strings.Contains(err.Error(), "cut 1 open connection") || !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want one connection cut", err)
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Errorf("after the cut: %q", rest)
	}
	if bs := backendStats(t, p.Stats(), "s", "v1/0"); bs.Resets != 0 || bs.Active != 0 || bs.Duration.Count != 1 {
		t.Errorf("after the cut: %+v (a cut is not a backend error)", bs)
	}
}

func TestListenersFollowTheTable(t *testing.T) {
	a, b := startBackend(t, "v1/0"), startBackend(t, "w1/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(1)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{})
	wait := func(v uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitApplied(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
	// A new service gets a listener.
	wait(tab.Set(svc("w", "127.0.0.1:0"), []Backend{b.backend(1)}))
	if p.Addr("w") == nil {
		t.Fatal("no listener for a new service")
	}
	if reply, err := exchange(p.Addr("w").String(), ""); err != nil || reply != "w1/0 bye 0\n" {
		t.Fatalf("new service: %q %v", reply, err)
	}
	// A weight change keeps the listener; a new address moves it.
	sAddr := p.Addr("s").String()
	wait(tab.SetWeights("s", map[string]int{"v1/0": 2}))
	if p.Addr("s").String() != sAddr {
		t.Errorf("a weight change moved the listener from %s to %s", sAddr, p.Addr("s"))
	}
	open, err := net.Dial("tcp", sAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	io.WriteString(open, "x\n")
	r := bufio.NewReader(open)
	if got, _ := r.ReadString('\n'); got != "v1/0 x\n" {
		t.Fatalf("got %q", got)
	}
	wait(tab.Set(svc("s", "127.0.0.2:0"), []Backend{a.backend(1)}))
	if got := p.Addr("s").String(); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Errorf("listener at %s after the move", got)
	}
	if c, err := net.Dial("tcp", sAddr); err == nil {
		c.Close()
		t.Errorf("old address %s still accepts", sAddr)
	}
	if reply, err := exchange(p.Addr("s").String(), ""); err != nil || reply != "v1/0 bye 0\n" {
		t.Errorf("new address: %q %v", reply, err)
	}
	// A removed service stops listening; its open connection goes on.
	wAddr := p.Addr("w").String()
	wait(tab.Remove("w"))
	if p.Addr("w") != nil {
		t.Error("removed service still has a listener")
	}
	if c, err := net.Dial("tcp", wAddr); err == nil {
		c.Close()
		t.Errorf("removed service's address %s still accepts", wAddr)
	}
	io.WriteString(open, "y\n")
	if got, _ := r.ReadString('\n'); got != "v1/0 y\n" {
		t.Errorf("open connection after the move: %q", got)
	}
	open.(*net.TCPConn).CloseWrite()
	io.ReadAll(r)
}

func TestListenFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tab := NewTable()
	if _, err := tab.Set(svc("s", busy.Addr().String()), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New(tab, Options{}); err == nil || !strings.Contains(err.Error(), "listen on "+busy.Addr().String()+` for service "s"`) || !strings.Contains(err.Error(), "free the address") {
		t.Fatalf("New on a busy address: %v", err)
	}
	// After New, a failure shows in Stats and the next change retries.
	if _, err := tab.Remove("s"); err != nil {
		t.Fatal(err)
	}
	log, logs := infoLog()
	p := startProxy(t, tab, Options{Log: log})
	v, err := tab.Set(svc("s", busy.Addr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitApplied(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	if s := serviceStats(t, p.Stats(), "s"); !strings.Contains(s.ListenError, "address already in use") || s.Address != "" {
		t.Errorf("stats: %+v", s)
	}
	if !strings.Contains(logs.String(), "cannot listen") {
		t.Errorf("not logged:\n%s", logs)
	}
	busy.Close()
	if v, err = tab.Set(svc("other", "127.0.0.1:0"), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitApplied(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	if s := serviceStats(t, p.Stats(), "s"); s.ListenError != "" || s.Address != busy.Addr().String() {
		t.Errorf("after freeing the address: %+v", s)
	}
}

func TestCollectorExportsStats(t *testing.T) {
	a := startBackend(t, "v1/0")
	tab := NewTable()
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{a.backend(1), {ID: "v2/0", Version: "v2", Address: deadAddress(t), Weight: 0}}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{})
	for range 5 {
		if _, err := exchange(p.Addr("s").String(), "hi\n"); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(p))
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string, labels map[string]string) *dto.Metric {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		next:
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
						continue next
					}
				}
				return m
			}
		}
		t.Fatalf("no %s %v", name, labels)
		return nil
	}
	v1 := map[string]string{"service": "s", "backend": "v1/0", "version": "v1"}
	if got := find("swarm_mesh_requests_total", v1).GetCounter().GetValue(); got != 5 {
		t.Errorf("requests = %v, want 5", got)
	}
	if got := find("swarm_mesh_requests_total", map[string]string{"backend": "v2/0"}).GetCounter().GetValue(); got != 0 {
		t.Errorf("drained backend requests = %v", got)
	}
	to := map[string]string{"backend": "v1/0", "direction": "to_backend"}
	if got := find("swarm_mesh_bytes_total", to).GetCounter().GetValue(); got != 15 {
		t.Errorf("bytes to backend = %v, want 15", got)
	}
	h := find("swarm_mesh_first_byte_seconds", v1).GetHistogram()
	if h.GetSampleCount() != 5 || len(h.GetBucket()) != numBounds {
		t.Errorf("first-byte histogram: count %d, %d buckets", h.GetSampleCount(), len(h.GetBucket()))
	}
	if got := find("swarm_mesh_accepted_total", map[string]string{"service": "s"}).GetCounter().GetValue(); got != 5 {
		t.Errorf("accepted = %v", got)
	}
	if n := testutil.CollectAndCount(NewCollector(p), "swarm_mesh_errors_total"); n != 4 {
		t.Errorf("%d error series, want 4 (two kinds × two backends)", n)
	}
}

// TestUnixSocketBackends: a backend on a Unix socket (an agent replica,
// which has no network) is dialed as unix:PATH, beside a TCP one, with
// half-close and byte counts as for TCP; a relative path is refused.
func TestUnixSocketBackends(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "http.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ub := &testBackend{id: "v2/0"}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ub.accepted.Add(1)
			go ub.serve(c)
		}
	}()
	tab := NewTable()
	unixBackend := Backend{ID: "v2/0", Version: "v2", Address: "unix:" + sock, Weight: 1}
	if _, err := tab.Set(svc("s", "127.0.0.1:0"), []Backend{unixBackend}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{})
	reply, err := exchange(p.Addr("s").String(), "one\ntwo\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v2/0 one\nv2/0 two\nv2/0 bye 8\n"; reply != want {
		t.Errorf("reply through the Unix socket %q, want %q", reply, want)
	}
	closeProxy(t, p)
	bs := backendStats(t, p.Stats(), "s", "v2/0")
	if bs.Requests != 1 || bs.BytesToBackend != 8 || bs.Resets != 0 {
		t.Errorf("stats of the Unix backend: %+v", bs)
	}
	bad := Backend{ID: "rel", Address: "unix:relative.sock", Weight: 1}
	if _, err := NewTable().Set(svc("t", "127.0.0.1:0"), []Backend{bad}); err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("a relative socket path: %v", err)
	}
}
