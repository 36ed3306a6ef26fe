package trust

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// scorerFunc is a native Scorer for tests.
type scorerFunc func(ctx context.Context, req ScoreRequest) (TrustScore, error)

func (f scorerFunc) Score(ctx context.Context, req ScoreRequest) (TrustScore, error) {
	return f(ctx, req)
}

var native = Subject{SubjectPlugin, "native", "1.0.0"}

// counting scores positives/(all) with uncertainty 1/(n+1), as a stand-in.
func counting() scorerFunc {
	return func(_ context.Context, req ScoreRequest) (TrustScore, error) {
		pos := 0.0
		for _, e := range req.Evidence {
			if e.Positive {
				pos++
			}
		}
		n := float64(len(req.Evidence))
		return TrustScore{Score: (pos + 1) / (n + 2), Uncertainty: 1 / (n + 1), LowerBound: pos / (n + 2)}, nil
	}
}

func TestNewServiceNeedsItsParts(t *testing.T) {
	l := openLog(t, "")
	for _, opts := range []ServiceOptions{
		{Scorer: counting(), ScorerSubject: native},
		{Log: l, ScorerSubject: native},
		{Log: l, Scorer: counting()}, // a native scorer names no subject
	} {
		if _, err := NewService(opts); err == nil {
			t.Errorf("NewService(%+v) should fail", opts)
		}
	}
}

func TestScoreValidatesItsArguments(t *testing.T) {
	s := newService(t, ServiceOptions{Log: openLog(t, ""), Scorer: counting(), ScorerSubject: native})
	if _, err := s.Score(context.Background(), agent, time.Time{}); err == nil || !strings.Contains(err.Error(), "now is zero") {
		t.Errorf("zero now: %v", err)
	}
	if _, err := s.Score(context.Background(), Subject{SubjectAgent, "x", ""}, now); err == nil {
		t.Error("a bad subject should fail")
	}
	for _, th := range []float64{-0.1, 1.1, math.NaN()} {
		if _, _, err := s.Admit(context.Background(), agent, th, now); err == nil {
			t.Errorf("threshold %v should fail", th)
		}
	}
}

// The scorer gets the whole log, now as given, and the subject; the score
// carries the last Seq.
func TestScoreSendsTheWholeLog(t *testing.T) {
	l := openLog(t, "")
	var got ScoreRequest
	s := newService(t, ServiceOptions{Log: l, ScorerSubject: native, Scorer: scorerFunc(func(ctx context.Context, req ScoreRequest) (TrustScore, error) {
		got = req
		return counting()(ctx, req)
	})})
	mustAppend(t, l, agent, tasks(3, 1, now.Add(-time.Hour))...)
	local := now.In(time.FixedZone("X", -7200))
	score, err := s.Score(context.Background(), agent, local)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Evidence) != 4 || got.Subject != agent || !got.Now.Equal(now) || got.Now.Location() != time.UTC {
		t.Fatalf("request %+v", got)
	}
	if score.Seq != 4 || score.Stale || score.Clamped || score.Score != 4.0/6 {
		t.Fatalf("score %+v", score)
	}
}

func TestClampedAnswersAreClampedAndRecorded(t *testing.T) {
	l := openLog(t, "")
	s := newService(t, ServiceOptions{Log: l, ScorerSubject: native, Scorer: scorerFunc(func(context.Context, ScoreRequest) (TrustScore, error) {
		return TrustScore{Score: 1.5, Uncertainty: math.Inf(-1), LowerBound: 0.3}, nil
	})})
	score, err := s.Score(context.Background(), agent, now)
	if err != nil {
		t.Fatal(err)
	}
	if score.Score != 1 || score.Uncertainty != 0 || score.LowerBound != 0.3 || !score.Clamped ||
		!strings.Contains(score.Reason, "score 1.5 clamped to 1") || !strings.Contains(score.Reason, "uncertainty -Inf clamped to 0") {
		t.Fatalf("score %+v", score)
	}
	ev, _ := l.List(context.Background(), native, 0)
	if len(ev) != 1 || ev[0].Kind != EvidenceInvalid || ev[0].Positive || !ev[0].Time.Equal(now) || !strings.Contains(ev[0].Detail, "agent/tsp@1.0.0") {
		t.Fatalf("evidence against the scorer: %+v", ev)
	}
	if ev, _ := l.List(context.Background(), agent, 0); len(ev) != 0 {
		t.Fatalf("the clamp was recorded against the agent: %+v", ev)
	}
}

// A failing scorer: the previous score stands (the prior before any), the
// failure is evidence against the scorer, and a later success scores anew.
func TestScorerFailureKeepsThePreviousScore(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, "")
	var mu sync.Mutex
	var fail func() (TrustScore, error)
	s := newService(t, ServiceOptions{Log: l, ScorerSubject: native, Scorer: scorerFunc(func(ctx context.Context, req ScoreRequest) (TrustScore, error) {
		mu.Lock()
		f := fail
		mu.Unlock()
		if f != nil {
			return f()
		}
		return counting()(ctx, req)
	})})
	setFail := func(f func() (TrustScore, error)) { mu.Lock(); fail = f; mu.Unlock() }

	setFail(func() (TrustScore, error) { return TrustScore{}, errors.New("no good") })
	first, err := s.Score(ctx, agent, now)
	if err != nil || !first.Stale || first.Score != 0.5 || first.Uncertainty != 1 || first.LowerBound != 0.05 || !strings.Contains(first.Reason, "no good") {
		t.Fatalf("before any good score: %+v %v", first, err)
	}

	setFail(nil)
	mustAppend(t, l, agent, tasks(5, 0, now)...)
	good, err := s.Score(ctx, agent, now)
	if err != nil || good.Stale || good.Seq != 5 {
		t.Fatalf("good: %+v %v", good, err)
	}
	mustAppend(t, l, agent, tasks(0, 5, now)...)
	for _, f := range []func() (TrustScore, error){
		func() (TrustScore, error) { return TrustScore{}, context.DeadlineExceeded },
		func() (TrustScore, error) { return TrustScore{Score: math.NaN()}, nil },
		func() (TrustScore, error) { panic("scorer bug") },
	} {
		setFail(f)
		stale, err := s.Score(ctx, agent, now.Add(time.Minute))
		if err != nil || !stale.Stale || stale.Score != good.Score || stale.Seq != 5 {
			t.Fatalf("stale: %+v %v, want the previous %+v", stale, err, good)
		}
	}
	ev, _ := l.List(ctx, native, 0)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, " ") != "error timeout invalid panic" {
		t.Fatalf("evidence against the scorer: %v", kinds)
	}
	setFail(nil)
	if again, _ := s.Score(ctx, agent, now); again.Stale || again.Seq != 10 || again.Score >= good.Score {
		t.Fatalf("after the scorer recovered: %+v", again)
	}
}

// A caller that gives up gets an error; the scorer is not blamed.
func TestCallerGivingUpIsNotTheScorersFault(t *testing.T) {
	l := openLog(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	s := newService(t, ServiceOptions{Log: l, ScorerSubject: native, Scorer: scorerFunc(func(ctx context.Context, req ScoreRequest) (TrustScore, error) {
		cancel()
		return TrustScore{}, ctx.Err()
	})})
	if _, err := s.Score(ctx, agent, now); !errors.Is(err, context.Canceled) {
		t.Fatalf("Score: %v", err)
	}
	if last, _ := l.Last(context.Background(), native); last != 0 {
		t.Fatalf("%d records against the scorer", last)
	}
}

func TestAdmitAndRankUseTheLowerBound(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, "")
	s := newService(t, ServiceOptions{Log: l, Scorer: counting(), ScorerSubject: native})
	// counting: lower = pos/(n+2). many: 18/20 = 0.9 (score 19/20 = 0.95);
	// few: 2/4 = 0.5 (score 3/4 = 0.75); tie: same as few; none: 0.
	many, few, tie, none := agent, Subject{SubjectAgent, "few", "1"}, Subject{SubjectAgent, "tie", "1"}, Subject{SubjectAgent, "none", "1"}
	mustAppend(t, l, many, tasks(18, 0, now)...)
	mustAppend(t, l, few, tasks(2, 0, now)...)
	mustAppend(t, l, tie, tasks(2, 0, now)...)
	for _, tc := range []struct {
		s    Subject
		th   float64
		want bool
	}{{many, 0.9, true}, {many, 0.91, false}, {few, 0.5, true}, {few, 0.7, false}, {none, 0, true}, {none, 0.01, false}} {
		ok, score, err := s.Admit(ctx, tc.s, tc.th, now)
		if err != nil || ok != tc.want {
			t.Errorf("Admit(%s, %v) = %v (%+v), %v", tc.s, tc.th, ok, score, err)
		}
	}
	ranked, err := s.Rank(ctx, []Subject{none, tie, many, few}, now)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range ranked {
		order = append(order, r.Subject.Name)
	}
	if strings.Join(order, " ") != "tsp few tie none" {
		t.Fatalf("rank: %v", order)
	}
}
