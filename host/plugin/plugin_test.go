package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const goodRequest = `{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[]}`

func TestCallEcho(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "echo.wat"), Config{ID: "echo@1", Kind: KindTrust})
	ctx := context.Background()
	for _, op := range []string{OpTrustScore, "score"} {
		for i := range 20 {
			req := fmt.Sprintf(`{"version":1,"i":%d,"text":"caf\u00e9 \"quoted\""}`, i)
			got, err := p.Call(ctx, op, []byte(req))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != req {
				t.Fatalf("got %s, want %s", got, req)
			}
		}
	}
	// A large request round-trips too (it makes the guest grow its memory).
	big := `{"version":1,"pad":"` + strings.Repeat("x", 3<<20) + `"}`
	got, err := p.Call(ctx, "score", []byte(big))
	if err != nil || string(got) != big {
		t.Fatalf("big echo: %d bytes, %v", len(got), err)
	}
	if n := rec.len(); n != 0 {
		t.Fatalf("successful calls recorded %d pieces of evidence: %+v", n, rec.all())
	}

	_, err = p.Call(ctx, "propose", []byte(`{}`))
	mustContain(t, err, `has no operation "propose"`, "swarm_trust_score")
	_, err = p.Call(ctx, "score", nil)
	mustContain(t, err, "request is empty")
	_, err = p.Call(ctx, "score", make([]byte, 40<<20))
	mustContain(t, err, "more than half the plugin's memory limit")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.Call(canceled, "score", []byte(goodRequest))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a canceled context: %v", err)
	}
	if rec.len() != 0 {
		t.Fatalf("caller mistakes were recorded as evidence: %+v", rec.all())
	}
	if info := p.Info(); info.Kind != KindTrust || p.ID() != "echo@1" {
		t.Fatalf("Info %+v, ID %q", info, p.ID())
	}
}

func TestPersonalityAndGuestErrors(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "personality.wat"), Config{ID: "calm@1", Kind: KindPersonality, MaxInstances: 1})
	ctx := context.Background()
	got, err := p.Call(ctx, OpPersonalityAdjust, []byte(`{"version":1,"role":"solver","generation":3,"trust":0.8}`))
	if err != nil {
		t.Fatal(err)
	}
	var adj struct {
		Version                                    int
		MutationBias, ResourceHeadroom, CanaryPace float64
	}
	if err := json.Unmarshal(got, &adj); err != nil || adj.Version != 1 || adj.MutationBias != 0.5 || adj.ResourceHeadroom != 0.2 {
		t.Fatalf("adjustment %s: %+v %v", got, adj, err)
	}
	_, err = p.Call(ctx, "adjust", []byte(`"not an object"`))
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Code != "invalid" || ge.Message != "the request is not a JSON object" || ge.Plugin != "calm@1" || ge.Op != OpPersonalityAdjust {
		t.Fatalf("want a GuestError invalid, got %T %v", err, err)
	}
	var f *Failure
	if errors.As(err, &f) {
		t.Fatal("an ordinary guest error must not be a Failure")
	}
	if rec.len() != 0 {
		t.Fatalf("a guest error was recorded as evidence: %+v", rec.all())
	}
	if _, err := p.Call(ctx, "adjust", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	// Strategy operations need a Session.
	s := load(t, h, wat(t, "strategy.wat"), Config{ID: "count@1", Kind: KindStrategy})
	_, err = s.Call(ctx, "propose", []byte(`{}`))
	mustContain(t, err, "open a Session")
}

// TestHostileWAT runs every misbehaviour of hostile.wat, each followed by
// a good call on the same plugin, and checks the error and the evidence.
func TestHostileWAT(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	limits := Limits{MemoryBytes: 4 << 20, CallTimeout: 200 * time.Millisecond, MaxOutputBytes: 1 << 20}
	p := load(t, h, wat(t, "hostile.wat"), Config{ID: "hostile@6.6.6", Kind: KindTrust, Limits: limits, MaxInstances: 2})
	ctx := context.Background()
	cases := []struct {
		req      string
		fail     string // Failure kind; "" for a result or a GuestError
		guest    string // GuestError code
		evidence string // evidence kind recorded; "" for none
		msg      string
	}{
		{"L", FailTimeout, "", EvidenceTimeout, "deadline"},
		{"G", "", "", EvidenceMemory, ""},
		{"R", FailTrap, "", EvidenceTrap, "stack overflow"},
		{"U", FailTrap, "", EvidenceTrap, "unreachable"},
		{"D", FailTrap, "", EvidenceTrap, "divide by zero"},
		{"H", FailOutput, "", EvidenceOutput, "exceeds max_output_bytes"},
		{"O", FailOutput, "", EvidenceOutput, "outside the plugin's"},
		{"Z", FailOutput, "", EvidenceOutput, "no response"},
		{"J", FailOutput, "", EvidenceOutput, "not JSON"},
		{"T", FailOutput, "", EvidenceOutput, "not JSON"},
		{"B", FailOutput, "", EvidenceOutput, "both"},
		{"N", FailOutput, "", EvidenceOutput, "neither"},
		{"V", FailOutput, "", EvidenceOutput, "envelope version 1"},
		{"A", FailOutput, "", EvidenceOutput, "not an envelope"},
		{"S", FailOutput, "", EvidenceOutput, "not a JSON object"},
		{"P", FailPanic, "panic", EvidencePanic, "index out of range"},
		{"F", "", "failed", "", "cannot score"},
	}
	for _, c := range cases {
		t.Run(c.req, func(t *testing.T) {
			before := rec.len()
			var got json.RawMessage
			var err error
			within(t, "a hostile call", func() { got, err = p.Call(ctx, "score", []byte(c.req)) })
			t.Logf("%q: %v", c.req, err)
			switch {
			case c.fail != "":
				f := wantFailure(t, err, c.fail)
				if f.Plugin != "hostile@6.6.6" || f.Op != OpTrustScore {
					t.Fatalf("failure %+v", f)
				}
				mustContain(t, err, c.msg, "instance was discarded")
				if c.fail == FailTimeout && !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("a timeout must wrap context.DeadlineExceeded: %v", err)
				}
				if c.fail == FailPanic {
					var ge *GuestError
					if !errors.As(err, &ge) || ge.Code != "panic" {
						t.Fatalf("a panic failure must wrap the GuestError: %v", err)
					}
				}
			case c.guest != "":
				var ge *GuestError
				if !errors.As(err, &ge) || ge.Code != c.guest {
					t.Fatalf("want GuestError %s, got %v", c.guest, err)
				}
				mustContain(t, err, c.msg)
			default:
				if err != nil || string(got) != `{"version":1}` {
					t.Fatalf("got %s, %v", got, err)
				}
			}
			ev := rec.all()[before:]
			if c.evidence == "" {
				if len(ev) != 0 {
					t.Fatalf("unexpected evidence %+v", ev)
				}
			} else {
				if len(ev) != 1 {
					t.Fatalf("want one piece of evidence, got %+v", ev)
				}
				e := ev[0]
				if e.id != "hostile@6.6.6" || e.e.Kind != c.evidence || e.e.Positive || e.e.Time.IsZero() || !strings.Contains(e.e.Detail, OpTrustScore) {
					t.Fatalf("evidence %+v, want kind %s", e, c.evidence)
				}
			}
			// The host carries on: the next good call works.
			for range 3 {
				got, err := p.Call(ctx, "score", []byte(goodRequest))
				if err != nil || string(got) != goodRequest {
					t.Fatalf("good call after %q: %s, %v", c.req, got, err)
				}
			}
		})
	}
}

func TestAllocFailure(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "alloc0.wat"), Config{ID: "a0@1", Kind: KindTrust})
	for range 2 {
		_, err := p.Call(context.Background(), "score", []byte(goodRequest))
		wantFailure(t, err, FailMemory)
		mustContain(t, err, "swarm_alloc", "returned 0")
	}
	if ev := rec.all(); len(ev) != 2 || ev[0].e.Kind != EvidenceMemory || ev[0].id != "a0@1" {
		t.Fatalf("evidence %+v", ev)
	}
}

func TestInitializeTrapIsRefusedAndRecorded(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	_, err := h.Load(context.Background(), wat(t, "init_trap.wat"), Config{ID: "it@1", Kind: KindTrust})
	mustContain(t, err, "_initialize", "unreachable")
	if ev := rec.all(); len(ev) != 1 || ev[0].e.Kind != EvidenceTrap || ev[0].id != "it@1" {
		t.Fatalf("evidence %+v", ev)
	}
}

func TestCallerCancellationIsNotEvidence(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "hostile.wat"), Config{ID: "h@1", Kind: KindTrust, Limits: Limits{CallTimeout: time.Minute}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var err error
	within(t, "a canceled runaway call", func() { _, err = p.Call(ctx, "score", []byte("L")) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	var f *Failure
	if errors.As(err, &f) {
		t.Fatalf("the caller's own deadline is not the plugin's failure: %v", err)
	}
	mustContain(t, err, "caller gave up")
	if rec.len() != 0 {
		t.Fatalf("evidence recorded for the caller's cancellation: %+v", rec.all())
	}
	if _, err := p.Call(context.Background(), "score", []byte(goodRequest)); err != nil {
		t.Fatal(err)
	}
}

func TestSession(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "strategy.wat"), Config{ID: "count@1", Kind: KindStrategy})
	ctx := context.Background()
	s, err := p.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	call := func(op, req string) string {
		t.Helper()
		got, err := s.Call(ctx, op, []byte(req))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return string(got)
	}
	if !s.Fresh() {
		t.Fatal("a new session must be fresh")
	}
	call("init", `{"version":1,"seed":42}`)
	if s.Fresh() {
		t.Fatal("a session that answered a call is not fresh")
	}
	for i := 1; i <= 3; i++ {
		if got, want := call("propose", `{"version":1,"n":1}`), fmt.Sprintf(`{"version":1,"count":%d}`, i); got != want {
			t.Fatalf("propose: %s, want %s", got, want)
		}
	}
	snap := call(OpStrategySnapshot, `{}`)
	if snap != `{"version":1,"state":3}` {
		t.Fatalf("snapshot %s", snap)
	}
	call("propose", `{"version":1,"n":1}`) // 4, lost below

	// A trap discards the instance; the session carries on, fresh.
	_, err = s.Call(ctx, "observe", []byte("Unreachable"))
	wantFailure(t, err, FailTrap)
	if !s.Fresh() {
		t.Fatal("after a failure the session must report Fresh")
	}
	if got := call("propose", `{"version":1,"n":1}`); got != `{"version":1,"count":1}` {
		t.Fatalf("a fresh instance starts from scratch, got %s", got)
	}
	call("restore", snap)
	if got := call("propose", `{"version":1,"n":1}`); got != `{"version":1,"count":4}` {
		t.Fatalf("after restore: %s", got)
	}
	// Another session has its own state.
	s2, err := p.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Call(ctx, "propose", []byte(`{}`)); err != nil || string(got) != `{"version":1,"count":1}` {
		t.Fatalf("second session: %s, %v", got, err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s2.Call(ctx, "propose", []byte(`{}`))
	mustContain(t, err, "session is closed")
	if ev := rec.all(); len(ev) != 1 || ev[0].e.Kind != EvidenceTrap {
		t.Fatalf("evidence %+v", ev)
	}
}

// TestSessionCarriesStateOverARetiredInstance: a strategy instance whose
// memory passes the high-water mark after a good answer is retired, and
// its state moves to a fresh instance, so the run goes on where it was.
func TestSessionCarriesStateOverARetiredInstance(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "strategy.wat"), Config{ID: "count@1", Kind: KindStrategy, Limits: Limits{MemoryBytes: 1 << 20}})
	ctx := context.Background()
	s, err := p.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	for _, op := range []string{"init", "propose", "propose"} {
		if _, err := s.Call(ctx, op, []byte(`{"version":1,"n":1}`)); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	// 'G': the guest grows its memory to 14 of its 16 pages, past 3/4.
	if got, err := s.Call(ctx, "observe", []byte(`Grow`)); err != nil || !strings.Contains(string(got), `"version":1`) {
		t.Fatalf("observe that grows: %s, %v", got, err)
	}
	if s.Fresh() {
		t.Fatal("the session lost its state when its instance was retired")
	}
	if got, err := s.Call(ctx, "propose", []byte(`{"version":1,"n":1}`)); err != nil || string(got) != `{"version":1,"count":3}` {
		t.Fatalf("propose after the hand-over: %s, %v (want count 3)", got, err)
	}
	if ev := rec.all(); len(ev) != 1 || ev[0].e.Kind != EvidenceMemory {
		t.Fatalf("evidence %+v, want one memory record", ev)
	}
}

// TestConcurrentCalls drives the pool from 8 goroutines, some of which
// crash their instances; every good call must still get its own answer.
// Run it with -race.
func TestConcurrentCalls(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "hostile.wat"), Config{ID: "conc@1", Kind: KindTrust, MaxInstances: 4})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				if g%4 == 3 && i%10 == 0 {
					if _, err := p.Call(ctx, "score", []byte("U")); err == nil {
						errs <- errors.New("a trap returned no error")
						return
					}
					continue
				}
				req := fmt.Sprintf(`{"version":1,"g":%d,"i":%d}`, g, i)
				got, err := p.Call(ctx, "score", []byte(req))
				if err != nil || string(got) != req {
					errs <- fmt.Errorf("goroutine %d call %d: %s, %v", g, i, got, err)
					return
				}
			}
		}()
	}
	within(t, "concurrent calls", wg.Wait)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := rec.len(); n != 12 {
		t.Fatalf("want 12 traps recorded, got %d", n)
	}
}

func TestHostFunctions(t *testing.T) {
	logs := &syncBuffer{}
	var mu sync.Mutex
	var metrics []string
	h := newHost(t, Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: func(id, name string, v float64) {
			mu.Lock()
			defer mu.Unlock()
			metrics = append(metrics, fmt.Sprintf("%s %s %v", id, name, v))
		},
	})
	caps := []Capability{CapLog, CapClock, CapRandom, CapMetrics}
	wasm := wat(t, "caps.wat")
	ctx := context.Background()
	type answer struct{ Random, Clock string }
	sequence := func(p *Plugin, n int) []string {
		var out []string
		for range n {
			got, err := p.Call(ctx, "adjust", []byte(`{"version":1,"role":"solver"}`))
			if err != nil {
				t.Fatal(err)
			}
			var a answer
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatalf("%s: %v", got, err)
			}
			var ns int64
			if _, err := fmt.Sscan(a.Clock, &ns); err != nil || ns < time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() {
				t.Fatalf("clock_now gave %q", a.Clock)
			}
			out = append(out, a.Random)
		}
		return out
	}
	a := load(t, h, wasm, Config{ID: "caps@1", Kind: KindPersonality, Capabilities: caps, Seed: 42})
	b := load(t, h, wasm, Config{ID: "caps@1b", Kind: KindPersonality, Capabilities: caps, Seed: 42})
	c := load(t, h, wasm, Config{ID: "caps@1c", Kind: KindPersonality, Capabilities: caps, Seed: 43})
	sa, sb, sc := sequence(a, 5), sequence(b, 5), sequence(c, 5)
	if strings.Join(sa, ",") != strings.Join(sb, ",") {
		t.Fatalf("the same seed gave different sequences: %v vs %v", sa, sb)
	}
	if strings.Join(sa, ",") == strings.Join(sc, ",") || sa[0] == sa[1] {
		t.Fatalf("random_u64 is not random: %v, %v", sa, sc)
	}
	mu.Lock()
	if len(metrics) != 15 || metrics[0] != "caps@1 calls 1.5" {
		t.Fatalf("metrics %q", metrics)
	}
	mu.Unlock()
	if out := logs.String(); !strings.Contains(out, `msg="{\"version\":1,\"role\":\"solver\"}"`) || !strings.Contains(out, "plugin=caps@1") {
		t.Fatalf("log line missing: %s", out)
	}
	// Pointers outside memory are ignored, not fatal.
	got, err := a.Call(ctx, "adjust", []byte(`X marks the spot`))
	if err != nil {
		t.Fatalf("host functions with bad pointers: %s, %v", got, err)
	}
	if out := logs.String(); !strings.Contains(out, "log with a buffer outside its memory") || !strings.Contains(out, "metric with a name outside its memory") {
		t.Fatalf("bad pointers were not reported: %s", out)
	}
}

type testLLM struct {
	mu   sync.Mutex
	reqs []string
	fail error
}

func (l *testLLM) Complete(_ context.Context, req []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, string(req))
	if l.fail != nil {
		return nil, l.fail
	}
	return []byte(`{"choices":[{"message":{"role":"assistant","content":"be bold"}}]}`), nil
}

func TestLLM(t *testing.T) {
	llm := &testLLM{}
	h := newHost(t, Options{LLM: llm})
	p := load(t, h, wat(t, "llm.wat"), Config{ID: "llm@1", Kind: KindPersonality, Capabilities: []Capability{CapLLM}})
	ctx := context.Background()
	req := `{"model":"m","messages":[{"role":"user","content":"advise"}]}`
	got, err := p.Call(ctx, "adjust", []byte(req))
	if err != nil || !strings.Contains(string(got), "be bold") {
		t.Fatalf("llm: %s, %v", got, err)
	}
	if len(llm.reqs) != 1 || llm.reqs[0] != req {
		t.Fatalf("the LLM got %q", llm.reqs)
	}
	llm.fail = errors.New("upstream 503")
	got, err = p.Call(ctx, "adjust", []byte(req))
	if err != nil || !strings.Contains(string(got), `"error":{"message":"upstream 503"`) {
		t.Fatalf("llm failure: %s, %v", got, err)
	}
	_, err = p.Call(ctx, "adjust", []byte("X"))
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Code != "failed" {
		t.Fatalf("a request outside memory must give no response: %v", err)
	}
	// Without the capability the import is refused.
	_, err = h.Load(ctx, wat(t, "llm.wat"), Config{ID: "llm@2", Kind: KindPersonality})
	mustContain(t, err, `needs the "llm" capability`)

	// As an optional capability that was not granted, it loads (even on a
	// host with no LLM), and the stub answers "not_granted".
	bare := newHost(t, Options{})
	if _, err := bare.Validate(ctx, wat(t, "llm.wat"), KindPersonality, nil, Limits{}, CapLLM); err != nil {
		t.Fatalf("validate with llm optional: %v", err)
	}
	o := load(t, bare, wat(t, "llm.wat"), Config{ID: "llm@3", Kind: KindPersonality, Optional: []Capability{CapLLM}})
	got, err = o.Call(ctx, "adjust", []byte(req))
	if err != nil || !strings.Contains(string(got), `"type":"not_granted"`) {
		t.Fatalf("optional llm not granted: %s, %v", got, err)
	}
	// Optional and granted: the real function.
	g := load(t, h, wat(t, "llm.wat"), Config{ID: "llm@4", Kind: KindPersonality, Capabilities: []Capability{CapLLM}, Optional: []Capability{CapLLM}})
	llm.fail = nil
	if got, err := g.Call(ctx, "adjust", []byte(req)); err != nil || !strings.Contains(string(got), "be bold") {
		t.Fatalf("optional llm granted: %s, %v", got, err)
	}
}

func TestWASIClosedForm(t *testing.T) {
	h := newHost(t, Options{})
	wasm := wat(t, "wasi.wat")
	ctx := context.Background()
	read := func(caps []Capability) (clock, random string) {
		p := load(t, h, wasm, Config{ID: "wasi@1", Kind: KindTrust, Capabilities: caps})
		got, err := p.Call(ctx, "score", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var a struct{ Clock, Random string }
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		return a.Clock, a.Random
	}
	c1, r1 := read(nil)
	c2, r2 := read(nil)
	if c1 != "1640995200000000000" || c1 != c2 || r1 != r2 {
		t.Fatalf("closed WASI must have a fixed clock and random source: %s %s, %s %s", c1, r1, c2, r2)
	}
	c3, r3 := read([]Capability{CapWASI})
	var ns int64
	fmt.Sscan(c3, &ns)
	if ns < time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() || r3 == r1 {
		t.Fatalf("granted WASI must have the real clock and random source: %s %s", c3, r3)
	}
}

func TestGoPlugins(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	ctx := context.Background()
	good := func(p *Plugin) {
		t.Helper()
		got, err := p.Call(ctx, "score", []byte(`{"version":1,"ok":true}`))
		if err != nil || string(got) != `{"version":1,"ok":true}` {
			t.Fatalf("good call: %s, %v", got, err)
		}
	}

	t.Run("panic", func(t *testing.T) {
		p := load(t, h, goPlugin(t, "panic"), Config{ID: "gopanic@1", Kind: KindTrust})
		good(p)
		_, err := p.Call(ctx, "score", []byte(`"recover"`))
		wantFailure(t, err, FailPanic)
		good(p)
		_, err = p.Call(ctx, "score", []byte(`"panic"`))
		wantFailure(t, err, FailTrap)
		t.Log(err)
		good(p)
	})

	t.Run("loop", func(t *testing.T) {
		wasm := goPlugin(t, "loop")
		p := load(t, h, wasm, Config{ID: "goloop@1", Kind: KindTrust,
			Limits: Limits{CallTimeout: 300 * time.Millisecond}})
		good(p)
		var err error
		within(t, "a Go `for {}` call", func() { _, err = p.Call(ctx, "score", []byte(`"loop"`)) })
		wantFailure(t, err, FailTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want deadline exceeded: %v", err)
		}
		// Without close-on-done the spinning guest would block the next GC forever.
		within(t, "runtime.GC after a runaway guest", runtime.GC)
		good(p)
		// The same module with a small memory cap and time enough to fill it.
		p = load(t, h, wasm, Config{ID: "goloop@1", Kind: KindTrust,
			Limits: Limits{CallTimeout: 20 * time.Second, MemoryBytes: 32 << 20}})
		within(t, "a Go memory bomb", func() { _, err = p.Call(ctx, "score", []byte(`"oom"`)) })
		wantFailure(t, err, FailMemory)
		t.Log(err)
		good(p)
	})

	kinds := map[string]int{}
	for _, e := range rec.all() {
		kinds[e.id+" "+e.e.Kind]++
	}
	want := map[string]int{"gopanic@1 panic": 1, "gopanic@1 trap": 1, "goloop@1 timeout": 1, "goloop@1 memory": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("evidence %v, want %v", kinds, want)
	}
}

func TestCompilationCacheDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	ctx := context.Background()
	wasm := wat(t, "echo.wat")
	files := func() map[string]time.Time {
		out := map[string]time.Time{}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				out[path] = info.ModTime()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	h1, err := NewHost(ctx, Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h1.Load(ctx, wasm, Config{ID: "echo@1", Kind: KindTrust})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Call(ctx, "score", []byte(goodRequest)); err != nil {
		t.Fatal(err)
	}
	if err := h1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	first := files()
	if len(first) == 0 {
		t.Fatalf("the compilation cache %s is empty after a load", dir)
	}
	// A second host (as after a restart) finds the module there and writes nothing new.
	h2 := newHost(t, Options{CacheDir: dir})
	p2 := load(t, h2, wasm, Config{ID: "echo@1", Kind: KindTrust})
	if got, err := p2.Call(ctx, "score", []byte(goodRequest)); err != nil || string(got) != goodRequest {
		t.Fatalf("call after loading from the cache: %s, %v", got, err)
	}
	second := files()
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("the second host recompiled instead of reading the cache:\nbefore %v\nafter  %v", first, second)
	}
	// An unusable cache directory is a clear error.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = NewHost(ctx, Options{CacheDir: filepath.Join(blocker, "cache")})
	mustContain(t, err, "compilation cache", "Options.CacheDir")
}

func TestClose(t *testing.T) {
	h, err := NewHost(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wasm := wat(t, "echo.wat")
	p, err := h.Load(ctx, wasm, Config{ID: "echo@1", Kind: KindTrust})
	if err != nil {
		t.Fatal(err)
	}
	q, err := h.Load(ctx, wasm, Config{ID: "echo@2", Kind: KindTrust})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = p.Call(ctx, "score", []byte(goodRequest))
	mustContain(t, err, "plugin echo@1 is closed")
	if _, err := q.Call(ctx, "score", []byte(goodRequest)); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = q.Call(ctx, "score", []byte(goodRequest))
	mustContain(t, err, "plugin echo@2 is closed")
	_, err = h.Load(ctx, wasm, Config{ID: "echo@3", Kind: KindTrust})
	mustContain(t, err, "host is closed")
	_, err = h.Validate(ctx, wasm, KindTrust, nil, Limits{})
	mustContain(t, err, "host is closed")
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRecord(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec})
	p := load(t, h, wat(t, "echo.wat"), Config{ID: "echo@1", Kind: KindTrust})
	p.Record(Evidence{Kind: EvidenceInvalid, Detail: "score 1.3 clamped to 1"})
	if ev := rec.all(); len(ev) != 1 || ev[0].id != "echo@1" || ev[0].e.Kind != EvidenceInvalid || ev[0].e.Time.IsZero() {
		t.Fatalf("evidence %+v", ev)
	}
}

type panicLLM struct{}

func (panicLLM) Complete(context.Context, []byte) ([]byte, error) { panic("client bug") }

// TestHostCallbackPanics: a panic in the host's own callbacks is not the
// plugin's fault and must not trap it.
func TestHostCallbackPanics(t *testing.T) {
	rec := &recorder{}
	h := newHost(t, Options{Evidence: rec, LLM: panicLLM{}, Metrics: func(string, string, float64) { panic("metrics bug") }})
	ctx := context.Background()
	l := load(t, h, wat(t, "llm.wat"), Config{ID: "llm@1", Kind: KindPersonality, Capabilities: []Capability{CapLLM}})
	got, err := l.Call(ctx, "adjust", []byte(`{}`))
	if err != nil || !strings.Contains(string(got), "LLM client panicked") {
		t.Fatalf("llm: %s, %v", got, err)
	}
	c := load(t, h, wat(t, "caps.wat"), Config{ID: "caps@1", Kind: KindPersonality,
		Capabilities: []Capability{CapLog, CapClock, CapRandom, CapMetrics}})
	if _, err := c.Call(ctx, "adjust", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if rec.len() != 0 {
		t.Fatalf("host bugs recorded against plugins: %+v", rec.all())
	}
}
