package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.15g, want %.15g (±%g)", what, got, want, tol)
	}
}

// The built-in beta plugin through the wazero host: the test vectors of
// the trust-score spec (research §2.6), with evidence at now, so nothing
// is forgotten.
func TestBetaPluginVectors(t *testing.T) {
	l := openLog(t, "")
	beta := loadScorer(t, newHost(t, nil), builtPlugin(t, "beta"), "beta@1.0.0", plugin.Limits{}, "")
	s := newService(t, ServiceOptions{Log: l, Scorer: beta})
	ctx := context.Background()

	e00, err := s.Score(ctx, agent, now)
	if err != nil || e00.Stale {
		t.Fatalf("%+v %v", e00, err)
	}
	near(t, "E(0,0)", e00.Score, 0.5, 0)
	near(t, "u(0,0)", e00.Uncertainty, 1, 0)
	near(t, "lower(0,0)", e00.LowerBound, 0.05, 1e-12)
	if prior := Prior(); e00.Score != prior.Score || e00.Uncertainty != prior.Uncertainty || math.Abs(e00.LowerBound-prior.LowerBound) > 1e-12 {
		t.Errorf("Prior() %+v is not beta's empty-log score %+v", prior, e00)
	}

	mustAppend(t, l, agent, tasks(9, 1, now)...)
	e91, err := s.Score(ctx, agent, now)
	if err != nil || e91.Stale || e91.Seq != 10 {
		t.Fatalf("%+v %v", e91, err)
	}
	near(t, "E(9,1)", e91.Score, 10.0/12, 1e-15)
	near(t, "u(9,1)", e91.Uncertainty, 2.0/12, 1e-15)
	// The 5% quantile of Beta(10, 2), whose CDF is 11x¹⁰ − 10x¹¹.
	near(t, "I(lower)", 11*math.Pow(e91.LowerBound, 10)-10*math.Pow(e91.LowerBound, 11), 0.05, 1e-12)

	// A week later (beta's default half-life), the same evidence counts half.
	later, _ := s.Score(ctx, agent, now.Add(7*24*time.Hour))
	near(t, "E(4.5,0.5)", later.Score, 5.5/7, 1e-12)
}

// randomLog appends n varied records to subject.
func randomLog(t *testing.T, l *Log, subject Subject, n int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	kinds := []string{EvidenceTask, EvidenceCanary, EvidencePolicy, EvidenceCrash, EvidenceOOM, EvidenceSignature}
	var es []Evidence
	for i := range n {
		es = append(es, Evidence{
			Time: now.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second).Add(time.Duration(rng.IntN(1e9))),
			Kind: kinds[rng.IntN(len(kinds))], Positive: rng.IntN(4) > 0, Weight: rng.Float64() * 3,
			Detail: fmt.Sprintf("record %d", i), Source: "test",
		})
	}
	mustAppend(t, l, subject, es...)
}

// Replaying the log reproduces the score: scoring again, after a restart
// (a reopened log, a new host and service), and from a copy of the log
// made by appending its records to a fresh log give the identical score.
func TestReplayReproducesTheScore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := OpenLog(LogOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	randomLog(t, l, agent, 300, 7)
	score := func(l *Log) TrustScore {
		t.Helper()
		beta := loadScorer(t, newHost(t, nil), builtPlugin(t, "beta"), "beta@1.0.0", plugin.Limits{}, `{"halfLifeSeconds": 259200}`)
		s, err := newService(t, ServiceOptions{Log: l, Scorer: beta}).Score(ctx, agent, now)
		if err != nil || s.Stale || s.Clamped {
			t.Fatalf("%+v %v", s, err)
		}
		return s
	}
	want := score(l)
	if again := score(l); again != want {
		t.Fatalf("scoring again: %+v, want %+v", again, want)
	}
	records, _ := l.List(ctx, agent, 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if reopened := score(openLog(t, dir)); reopened != want {
		t.Fatalf("after reopening: %+v, want %+v", reopened, want)
	}
	copyLog := openLog(t, "")
	for _, e := range records {
		e.Seq = 0
		mustAppend(t, copyLog, agent, e)
	}
	if replayed := score(copyLog); replayed != want {
		t.Fatalf("replayed into a fresh log: %+v, want %+v", replayed, want)
	}
	// And the score does depend on the log: one more record moves it.
	mustAppend(t, copyLog, agent, Evidence{Time: now, Kind: EvidenceCrash, Weight: 5})
	if moved := score(copyLog); moved.Score >= want.Score || moved.Seq != want.Seq+1 {
		t.Fatalf("a crash did not lower the score: %+v, was %+v", moved, want)
	}
}

// switching delegates to one scorer, then another: a trust plugin that
// starts trapping after it scored well.
type switching struct {
	mu  sync.Mutex
	cur Scorer
}

func (s *switching) set(sc Scorer) { s.mu.Lock(); s.cur = sc; s.mu.Unlock() }

func (s *switching) Score(ctx context.Context, req ScoreRequest) (TrustScore, error) {
	s.mu.Lock()
	sc := s.cur
	s.mu.Unlock()
	return sc.Score(ctx, req)
}

// A trust plugin that traps or hangs: the previous score stands, and the
// trap or timeout is evidence against the plugin version, in the trust log
// (and through the host's evidence sink, as for every plugin failure).
func TestTrappingPluginLeavesThePreviousScore(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, "")
	hostSink := &sink{}
	h := newHost(t, hostSink)
	beta := loadScorer(t, h, builtPlugin(t, "beta"), "beta@1.0.0", plugin.Limits{}, "")
	trap := loadScorer(t, h, wat(t, "trap.wat"), "trap@1.0.0", plugin.Limits{}, "")
	loop := loadScorer(t, h, wat(t, "loop.wat"), "trap@1.0.0", plugin.Limits{CallTimeout: 50 * time.Millisecond}, "")
	sw := &switching{cur: beta}
	s := newService(t, ServiceOptions{Log: l, Scorer: sw, ScorerSubject: trap.Subject()})

	mustAppend(t, l, agent, tasks(9, 1, now)...)
	good, err := s.Score(ctx, agent, now)
	if err != nil || good.Stale {
		t.Fatalf("%+v %v", good, err)
	}
	mustAppend(t, l, agent, tasks(0, 20, now)...)
	for _, tc := range []struct {
		scorer Scorer
		kind   string
	}{{trap, EvidenceTrap}, {loop, EvidenceTimeout}} {
		sw.set(tc.scorer)
		stale, err := s.Score(ctx, agent, now.Add(time.Minute))
		if err != nil || !stale.Stale || stale.Score != good.Score || stale.LowerBound != good.LowerBound || stale.Seq != 10 ||
			!strings.Contains(stale.Reason, "plugin/trap@1.0.0 failed ("+tc.kind) {
			t.Fatalf("%s: %+v %v, want the previous %+v", tc.kind, stale, err, good)
		}
	}
	ev, _ := l.List(ctx, trap.Subject(), 0)
	if len(ev) != 2 || ev[0].Kind != EvidenceTrap || ev[1].Kind != EvidenceTimeout || ev[0].Positive ||
		!ev[0].Time.Equal(now.Add(time.Minute)) || ev[0].Source != SourceService || !strings.Contains(ev[0].Detail, "unreachable") {
		t.Fatalf("evidence against the plugin: %+v", ev)
	}
	if got := hostSink.all(); !slices.Equal(got, []string{"trap@1.0.0 trap", "trap@1.0.0 timeout"}) {
		t.Fatalf("the host's evidence sink got %v", got)
	}
	if ev, _ := l.List(ctx, agent, 0); len(ev) != 30 {
		t.Fatalf("the failure was recorded against the agent: %d records", len(ev))
	}
	// The plugin recovers (a fresh instance), and the new evidence counts.
	sw.set(beta)
	if now, _ := s.Score(ctx, agent, now); now.Stale || now.Seq != 30 || now.Score >= 0.5 {
		t.Fatalf("after recovery: %+v", now)
	}
}

// A trust plugin answering values outside [0, 1] is clamped, and the clamp
// is evidence against it.
func TestOutOfRangePluginIsClamped(t *testing.T) {
	l := openLog(t, "")
	bad := loadScorer(t, newHost(t, nil), wat(t, "outofrange.wat"), "wild@0.1.0", plugin.Limits{}, "")
	s := newService(t, ServiceOptions{Log: l, Scorer: bad})
	score, err := s.Score(context.Background(), agent, now)
	if err != nil || !score.Clamped || score.Stale || score.Score != 1 || score.Uncertainty != 0 || score.LowerBound != 0.4 {
		t.Fatalf("%+v %v", score, err)
	}
	ev, _ := l.List(context.Background(), Subject{SubjectPlugin, "wild", "0.1.0"}, 0)
	if len(ev) != 1 || ev[0].Kind != EvidenceInvalid || !strings.Contains(ev[0].Detail, "score 1.5 clamped to 1; uncertainty -0.25 clamped to 0") {
		t.Fatalf("evidence: %+v", ev)
	}
}

func TestPluginScorerRequest(t *testing.T) {
	p := &fakeCaller{id: "beta@1.0.0", answer: `{"version":1,"score":0.7,"uncertainty":0.2,"lowerBound":0.6}`}
	if _, err := NewPluginScorer(p, []byte(`[1]`)); err == nil {
		t.Error("a config that is not an object should fail")
	}
	if _, err := NewPluginScorer(&fakeCaller{id: "beta"}, nil); err == nil {
		t.Error("a plugin id without a version should fail")
	}
	sc, err := NewPluginScorer(p, []byte(`{"halfLifeSeconds": 60, "subject": "ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	ev := CallEvidence(now, Subject{SubjectAgent, "a", "1"}, agent, false, 2, "mesh")
	ev.Seq = 4
	got, err := sc.Score(context.Background(), ScoreRequest{Subject: agent, Now: now, Evidence: []Evidence{ev}})
	if err != nil || got.Score != 0.7 || got.Uncertainty != 0.2 || got.LowerBound != 0.6 {
		t.Fatalf("%+v %v", got, err)
	}
	want := `{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[{"time":"2026-11-25T12:00:00Z","kind":"call","positive":false,"weight":2,` +
		`"detail":"{\"from\":\"agent/a@1\",\"to\":\"agent/tsp@1.0.0\"}"}],"config":{"halfLifeSeconds":60,"subject":"agent/tsp@1.0.0"}}`
	if p.op != plugin.OpTrustScore || p.request != want {
		t.Fatalf("sent %s %s\nwant %s", p.op, p.request, want)
	}
	for _, answer := range []string{`{"version":1,"score":0.7}`, `{"version":2,"score":0.7,"uncertainty":0.2,"lowerBound":0.6}`, `[]`} {
		p.answer = answer
		if _, err := sc.Score(context.Background(), ScoreRequest{Subject: agent, Now: now}); err == nil || failureKind(err) != EvidenceInvalid {
			t.Errorf("answer %s: %v", answer, err)
		}
	}
}

type fakeCaller struct {
	id, answer, op, request string
}

func (f *fakeCaller) ID() string { return f.id }

func (f *fakeCaller) Call(_ context.Context, op string, req []byte) (json.RawMessage, error) {
	f.op, f.request = op, string(req)
	return json.RawMessage(f.answer), nil
}

// The eigentrust plugin through the Service with the call graph: a
// malicious collective whose members vouch for each other gains nothing
// once a peer is pre-trusted, while beta, which reads only the subject's
// own log, takes the collective's word.
func TestEigenTrustPluginOverTheCallGraph(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, "")
	id := func(name string) Subject { return Subject{SubjectAgent, name, "1"} }
	rate := func(from, to string, satisfied bool, n float64) {
		// Call records go in the log of the agent called.
		mustAppend(t, l, id(to), CallEvidence(now, id(from), id(to), satisfied, n, "mesh"))
	}
	honest, bad := []string{"g1", "g2", "g3"}, []string{"m1", "m2", "m3"}
	for _, g := range honest {
		rate("p", g, true, 10)
		for _, h := range honest {
			if g != h {
				rate(g, h, true, 5)
			}
		}
	}
	for _, m := range bad {
		for _, n := range bad {
			if m != n {
				rate(m, n, true, 100)
			}
		}
	}
	rate("g1", "m1", true, 1)
	rate("g1", "m1", false, 6)
	mustAppend(t, l, id("m1"), tasks(1, 1, now)...) // the host's own view of m1: even

	h := newHost(t, nil)
	graph := loadScorer(t, h, builtPlugin(t, "eigentrust"), "eigentrust@1.0.0", plugin.Limits{}, `{"preTrusted": ["agent/p@1"]}`)
	et := newService(t, ServiceOptions{Log: l, Scorer: graph, CallGraph: true})
	beta := newService(t, ServiceOptions{Log: l, Scorer: loadScorer(t, h, builtPlugin(t, "beta"), "beta@1.0.0", plugin.Limits{}, "")})

	m1, err := et.Score(ctx, id("m1"), now)
	if err != nil || m1.Stale || m1.Seq != 6 {
		t.Fatalf("m1: %+v %v", m1, err)
	}
	// r = 1 (task) + 1·cred(g1), s = 1 (task) + 6·cred(g1); the colluders' 200 count 0.
	if !(m1.Score < 0.4) {
		t.Errorf("eigentrust lets the collective vouch for m1: %+v", m1)
	}
	g2, _ := et.Score(ctx, id("g2"), now)
	if !(g2.Score > 0.9 && g2.LowerBound > 0.8) {
		t.Errorf("honest g2: %+v", g2)
	}
	if ok, _, _ := et.Admit(ctx, id("m1"), 0.5, now); ok {
		t.Error("eigentrust admitted m1 at 0.5")
	}
	if ok, _, _ := et.Admit(ctx, id("g2"), 0.5, now); !ok {
		t.Error("eigentrust refused g2 at 0.5")
	}
	if naive, _ := beta.Score(ctx, id("m1"), now); !(naive.Score > 0.9) {
		t.Errorf("beta on m1's own log should take the collective's 200 good calls at face value: %+v", naive)
	}
	// Replay: the same log and now give the same score.
	if again, _ := et.Score(ctx, id("m1"), now); again != m1 {
		t.Fatalf("again %+v, want %+v", again, m1)
	}
}

// Many goroutines appending and scoring through one service and one
// plugin: every score is a score of a prefix of the log, and at the end a
// sequential score equals the last concurrent one.
func TestConcurrentScoring(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, "")
	h := newHost(t, nil)
	p, err := h.Load(ctx, builtPlugin(t, "beta"), plugin.Config{ID: "beta@1.0.0", Kind: plugin.KindTrust, MaxInstances: 3})
	if err != nil {
		t.Fatal(err)
	}
	beta, err := NewPluginScorer(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, ServiceOptions{Log: l, Scorer: beta})
	const workers, rounds = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject := Subject{SubjectAgent, fmt.Sprintf("w%d", w), "1"}
			for i := range rounds {
				if _, err := l.Append(ctx, subject, tasks(1, 0, now)...); err != nil {
					errs <- err
					return
				}
				if _, err := l.Append(ctx, agent, tasks(w%2, 1-w%2, now)...); err != nil {
					errs <- err
					return
				}
				sc, err := s.Score(ctx, subject, now)
				if err != nil || sc.Stale || sc.Seq != uint64(i+1) || math.Abs(sc.Score-float64(i+2)/float64(i+3)) > 1e-15 {
					errs <- fmt.Errorf("worker %d round %d: %+v %v", w, i, sc, err)
					return
				}
				if sc, err := s.Score(ctx, agent, now); err != nil || sc.Stale {
					errs <- fmt.Errorf("shared subject: %+v %v", sc, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final, _ := s.Score(ctx, agent, now)
	if final.Seq != workers*rounds || math.Abs(final.Score-0.5) > 1e-15 {
		t.Fatalf("shared subject: %+v (3 workers added good, 3 bad)", final)
	}
}
