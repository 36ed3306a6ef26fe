package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// fakeStrategy numbers its candidates and misbehaves on request: the config
// of Init picks the misbehaviour of Propose.
type fakeStrategy struct {
	next     int
	observed int
	mode     string // "", "panic", "runtime", "error", "invalid", "custom", "toomany", "dup", "noid", "nan", "nilgenome", "badsnapshot"
}

type fakeConfig struct {
	Mode string `json:"mode"`
}

func (f *fakeStrategy) Init(req InitRequest) error {
	if len(req.Config) > 0 {
		var c fakeConfig
		if err := json.Unmarshal(req.Config, &c); err != nil {
			return Errorf(CodeInvalid, "config: %v", err)
		}
		f.mode = c.Mode
	}
	if f.mode == "initpanic" {
		panic("init exploded")
	}
	f.next = int(req.Seed)
	return nil
}

func (f *fakeStrategy) Propose(n int) ([]Candidate, error) {
	switch f.mode {
	case "panic":
		panic(fmt.Sprintf("boom at %d", f.next))
	case "runtime":
		var empty []int
		_ = empty[f.next] // index out of range
	case "error":
		return nil, errors.New("the archive is empty")
	case "invalid":
		return nil, Errorf(CodeInvalid, "n=%d is too many for this strategy", n)
	case "custom":
		return nil, &Error{Code: "teapot", Message: "short and stout"}
	case "toomany":
		n++
	case "dup":
		return []Candidate{{ID: "a", Genome: Genome{}}, {ID: "a", Genome: Genome{}}}, nil
	case "noid":
		return []Candidate{{Genome: Genome{}}}, nil
	case "nan":
		return []Candidate{{ID: "nan", Genome: Genome{"x": math.NaN()}}}, nil
	case "nilgenome":
		return []Candidate{{ID: "empty"}}, nil
	}
	out := make([]Candidate, n)
	for i := range out {
		out[i] = Candidate{ID: fmt.Sprintf("f-%d", f.next), Genome: Genome{"x": float64(f.next)}, Operator: "count"}
		f.next++
	}
	return out, nil
}

func (f *fakeStrategy) Observe(results []Result) error {
	f.observed += len(results)
	return nil
}

func (f *fakeStrategy) Snapshot() (json.RawMessage, error) {
	if f.mode == "badsnapshot" {
		return json.RawMessage(`{"next":`), nil
	}
	return json.Marshal(map[string]int{"next": f.next, "observed": f.observed})
}

func (f *fakeStrategy) Restore(state json.RawMessage) error {
	var s struct{ Next, Observed int }
	if err := json.Unmarshal(state, &s); err != nil {
		return Errorf(CodeInvalid, "state: %v", err)
	}
	f.next, f.observed = s.Next, s.Observed
	return nil
}

// env is a decoded envelope.
type env struct {
	V      int
	Result json.RawMessage
	Error  *Error
}

// call runs Handle and checks that the response is a well-formed envelope:
// JSON, "v": 1 and exactly one of result and error, with one of the four
// codes.
func call(t *testing.T, op, request string) env {
	t.Helper()
	b := Handle(op, []byte(request))
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("%s %s: response is not a JSON object: %s", op, request, b)
	}
	var e env
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	_, hasResult := fields["result"]
	_, hasError := fields["error"]
	if e.V != 1 || hasResult == hasError || len(fields) != 2 {
		t.Fatalf("%s %s: not an envelope: %s", op, request, b)
	}
	if hasError {
		switch e.Error.Code {
		case CodeInvalid, CodeFailed, CodePanic, CodeUnimplemented:
		default:
			t.Fatalf("%s: error code %q is not one of the ABI's", op, e.Error.Code)
		}
	}
	return e
}

func wantResult(t *testing.T, e env, dst any) {
	t.Helper()
	if e.Error != nil {
		t.Fatalf("want a result, got error %s: %s", e.Error.Code, e.Error.Message)
	}
	if err := json.Unmarshal(e.Result, dst); err != nil {
		t.Fatalf("result %s: %v", e.Result, err)
	}
}

func wantError(t *testing.T, e env, code, contains string) {
	t.Helper()
	if e.Error == nil {
		t.Fatalf("want error %s, got result %s", code, e.Result)
	}
	if e.Error.Code != code || !strings.Contains(e.Error.Message, contains) {
		t.Fatalf("want error %s containing %q, got %s: %q", code, contains, e.Error.Code, e.Error.Message)
	}
}

func registerFake(t *testing.T) {
	t.Helper()
	RegisterStrategy(func() Strategy { return &fakeStrategy{} })
	t.Cleanup(func() { RegisterStrategy(nil) })
}

const initReq = `{"version":1,"space":{"parameters":[{"name":"x","float":{"min":-5,"max":5}}]},"objectives":[{"name":"gap","direction":"MINIMIZE"}],"seed":7}`

func TestHandleStrategyLifecycle(t *testing.T) {
	registerFake(t)

	var a ack
	wantResult(t, call(t, OpStrategyInit, initReq), &a)
	if a.Version != 1 {
		t.Fatalf("init result version = %d, want 1", a.Version)
	}
	var pr ProposeResult
	wantResult(t, call(t, OpStrategyPropose, `{"version":1,"n":2}`), &pr)
	if pr.Version != 1 || len(pr.Candidates) != 2 || pr.Candidates[0].ID != "f-7" || pr.Candidates[1].ID != "f-8" {
		t.Fatalf("propose = %+v", pr)
	}
	if x, ok := pr.Candidates[1].Genome.Float("x"); !ok || x != 8 {
		t.Fatalf("genome x = %v, %v", x, ok)
	}
	wantResult(t, call(t, OpStrategyObserve, `{"version":1,"results":[{"id":"f-7","scores":{"gap":0.5},"failed":false,"reason":""},{"id":"f-8","failed":true,"reason":"timeout"}]}`), &a)

	var snap Snapshot
	wantResult(t, call(t, OpStrategySnapshot, `{}`), &snap)
	if snap.Version != 1 || string(snap.State) != `{"next":9,"observed":2}` {
		t.Fatalf("snapshot = %d %s", snap.Version, snap.State)
	}
	var first ProposeResult
	wantResult(t, call(t, OpStrategyPropose, `{"version":1,"n":3}`), &first)

	// A fresh registration drops the live instance, like a fresh module.
	registerFake(t)
	wantError(t, call(t, OpStrategyPropose, `{"version":1,"n":1}`), CodeInvalid, "init or restore")

	req, _ := json.Marshal(snap)
	wantResult(t, call(t, OpStrategyRestore, string(req)), &a)
	var again ProposeResult
	wantResult(t, call(t, OpStrategyPropose, `{"version":1,"n":3}`), &again)
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("after restore propose = %+v, want %+v", again, first)
	}
}

func TestHandleVersionCheck(t *testing.T) {
	registerFake(t)
	wantError(t, call(t, OpStrategyInit, strings.Replace(initReq, `"version":1`, `"version":2`, 1)), CodeInvalid, "version 2")
	wantError(t, call(t, OpStrategyInit, strings.Replace(initReq, `"version":1,`, ``, 1)), CodeInvalid, "no version")
	wantError(t, call(t, OpStrategyInit, strings.Replace(initReq, `"version":1`, `"version":1.5`, 1)), CodeInvalid, "1.5")
	wantError(t, call(t, OpStrategyInit, strings.Replace(initReq, `"version":1`, `"version":"two"`, 1)), CodeInvalid, "version")
	wantError(t, call(t, OpTrustScore, `{"version":99,"now":"2026-11-25T12:00:00Z","evidence":[]}`), CodeInvalid, "version 99")
	wantError(t, call(t, OpPersonalityAdjust, `{"version":0}`), CodeInvalid, "version 0")

	// protojson may write the version as a string; a later check of the
	// snapshot request accepts {} since ABI.md's table gives it no fields.
	var a ack
	wantResult(t, call(t, OpStrategyInit, strings.Replace(initReq, `"version":1`, `"version":"1"`, 1)), &a)
	var s Snapshot
	wantResult(t, call(t, OpStrategySnapshot, `{}`), &s)
	wantResult(t, call(t, OpStrategySnapshot, `{"version":1}`), &s)
	wantError(t, call(t, OpStrategySnapshot, `{"version":3}`), CodeInvalid, "version 3")
	wantError(t, call(t, OpStrategyRestore, `{"state":{}}`), CodeInvalid, "no version")
}

func TestHandleBadRequests(t *testing.T) {
	registerFake(t)
	var a ack
	wantResult(t, call(t, OpStrategyInit, initReq), &a)
	for _, tc := range []struct{ op, req, want string }{
		{OpStrategyPropose, ``, "not a JSON object"},
		{OpStrategyPropose, `not json`, "not a JSON object"},
		{OpStrategyPropose, `[1,2]`, "not a JSON object"},
		{OpStrategyPropose, `null`, "not a JSON object"},
		{OpStrategyPropose, `{"version":1,"n":2`, "not valid JSON"},
		{OpStrategyPropose, `{"version":1,"n":2} {}`, "not valid JSON"},
		{OpStrategyPropose, `{"version":1,"n":0}`, "n must be positive"},
		{OpStrategyPropose, `{"version":1,"n":-3}`, "n must be positive"},
		{OpStrategyPropose, `{"version":1}`, "n must be positive"},
		{OpStrategyPropose, `{"version":1,"n":"many"}`, "bad request"},
		{OpStrategyPropose, `{"version":1,"n":2.5}`, "bad request"},
		{OpStrategyObserve, `{"version":1,"results":{"id":"x"}}`, "bad request"},
		{OpStrategyObserve, `{"version":1,"results":[{"id":"x","scores":{"gap":"high"}}]}`, "bad request"},
		{OpStrategyRestore, `{"version":1}`, "no state"},
		{OpStrategyRestore, `{"version":1,"state":"garbage"}`, "state"},
		{OpStrategyInit, `{"version":1,"space":{"parameters":[{"name":"x"}]}}`, "exactly one type"},
		{OpStrategyInit, `{"version":1,"space":{"parameters":[{"name":"x","int":{"min":3,"max":1}}]}}`, "above max"},
		{OpStrategyInit, `{"version":1,"space":{},"seed":-1}`, "bad request"},
		{OpStrategyInit, `{"version":1,"space":{},"config":{"mode":7}}`, "config"},
		{OpTrustScore, `{"version":1,"now":"yesterday"}`, "bad request"},
	} {
		wantError(t, call(t, tc.op, tc.req), CodeInvalid, tc.want)
	}
}

func TestHandleAuthorErrorsAndPanics(t *testing.T) {
	registerFake(t)
	initWith := func(mode string) env {
		t.Helper()
		return call(t, OpStrategyInit, strings.Replace(initReq, `"seed":7`, `"seed":7,"config":{"mode":"`+mode+`"}`, 1))
	}
	proposeWith := func(mode string) env {
		t.Helper()
		var a ack
		wantResult(t, initWith(mode), &a)
		return call(t, OpStrategyPropose, `{"version":1,"n":2}`)
	}
	wantError(t, proposeWith("error"), CodeFailed, "the archive is empty")
	wantError(t, proposeWith("invalid"), CodeInvalid, "n=2 is too many")
	wantError(t, proposeWith("custom"), CodeFailed, "teapot: short and stout")
	wantError(t, proposeWith("toomany"), CodeFailed, "proposed 3 candidates, 2 were asked for")
	wantError(t, proposeWith("dup"), CodeFailed, `"a" appears twice`)
	wantError(t, proposeWith("noid"), CodeFailed, "no id")
	wantError(t, proposeWith("nan"), CodeFailed, "cannot encode")

	var pr ProposeResult
	e := proposeWith("nilgenome")
	wantResult(t, e, &pr)
	if !strings.Contains(string(e.Result), `"genome":{}`) {
		t.Fatalf("a nil genome should be sent as {}: %s", e.Result)
	}

	wantError(t, proposeWith("panic"), CodePanic, "boom at 7")
	// The panicking instance is gone: its state may be half-updated.
	wantError(t, call(t, OpStrategyPropose, `{"version":1,"n":1}`), CodeInvalid, "init or restore")
	wantError(t, proposeWith("runtime"), CodePanic, "index out of range [7] with length 0")
	wantError(t, initWith("initpanic"), CodePanic, "init exploded")
	wantError(t, call(t, OpStrategySnapshot, `{}`), CodeInvalid, "init or restore")

	var a ack
	wantResult(t, call(t, OpStrategyInit, strings.Replace(initReq, `"seed":7`, `"seed":7,"config":{"mode":"badsnapshot"}`, 1)), &a)
	wantError(t, call(t, OpStrategySnapshot, `{}`), CodeFailed, "not valid JSON")
}

func TestHandleUnimplemented(t *testing.T) {
	RegisterStrategy(nil)
	RegisterTrust(nil)
	RegisterPersonality(nil)
	wantError(t, call(t, OpStrategyInit, initReq), CodeUnimplemented, "no strategy registered")
	wantError(t, call(t, OpStrategyPropose, `{"version":1,"n":1}`), CodeUnimplemented, "no strategy registered")
	wantError(t, call(t, OpStrategyRestore, `{"version":1,"state":{}}`), CodeUnimplemented, "no strategy registered")
	wantError(t, call(t, OpTrustScore, `{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[]}`), CodeUnimplemented, "no trust scorer")
	wantError(t, call(t, OpPersonalityAdjust, `{"version":1,"role":"solver"}`), CodeUnimplemented, "no personality")
	wantError(t, call(t, "swarm_strategy_mutate", `{"version":1}`), CodeUnimplemented, `"swarm_strategy_mutate"`)

	RegisterStrategy(func() Strategy { return nil })
	t.Cleanup(func() { RegisterStrategy(nil) })
	wantError(t, call(t, OpStrategyInit, initReq), CodeFailed, "returned nil")
}

type fakeTrust struct{ calls *int }

func (f fakeTrust) Score(req ScoreRequest) (TrustScore, error) {
	*f.calls++
	if len(req.Evidence) == 0 {
		return TrustScore{}, errors.New("no evidence")
	}
	if req.Evidence[0].Kind == "panic" {
		var s []int
		_ = s[len(req.Evidence)] // index out of range
	}
	n := float64(len(req.Evidence))
	return TrustScore{Version: 42, Score: n / 10, Uncertainty: 1 / n, LowerBound: req.Evidence[0].Weight}, nil
}

type fakePersonality struct{}

func (fakePersonality) Adjust(req AdjustRequest) (Adjustment, error) {
	if req.Role == "" {
		return Adjustment{}, Errorf(CodeInvalid, "role is empty")
	}
	return Adjustment{MutationBias: req.Trust, ResourceHeadroom: float64(req.Generation) / 10, CanaryPace: 0.5}, nil
}

func TestHandleTrustAndPersonality(t *testing.T) {
	made, calls := 0, 0
	RegisterTrust(func() TrustScorer { made++; return fakeTrust{calls: &calls} })
	RegisterPersonality(func() Personality { return fakePersonality{} })
	t.Cleanup(func() { RegisterTrust(nil); RegisterPersonality(nil) })

	req := `{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[{"time":"2026-11-24T12:00:00Z","kind":"task","positive":true,"weight":0.25,"detail":""}]}`
	var ts TrustScore
	for range 3 {
		wantResult(t, call(t, OpTrustScore, req), &ts)
	}
	if ts.Version != 1 || ts.Score != 0.1 || ts.Uncertainty != 1 || ts.LowerBound != 0.25 {
		t.Fatalf("score = %+v (the SDK must set version 1)", ts)
	}
	if made != 1 || calls != 3 {
		t.Fatalf("factory called %d times, Score %d times; want 1 and 3", made, calls)
	}
	wantError(t, call(t, OpTrustScore, `{"version":1,"now":"2026-11-25T12:00:00Z"}`), CodeFailed, "no evidence")
	wantError(t, call(t, OpTrustScore, strings.Replace(req, `"task"`, `"panic"`, 1)), CodePanic, "index out of range")
	wantResult(t, call(t, OpTrustScore, req), &ts)
	if made != 2 {
		t.Fatalf("after a panic the scorer should be made afresh; factory called %d times", made)
	}

	var adj Adjustment
	wantResult(t, call(t, OpPersonalityAdjust, `{"version":1,"role":"solver","generation":3,"trust":0.8}`), &adj)
	if adj != (Adjustment{Version: 1, MutationBias: 0.8, ResourceHeadroom: 0.3, CanaryPace: 0.5}) {
		t.Fatalf("adjust = %+v", adj)
	}
	wantError(t, call(t, OpPersonalityAdjust, `{"version":1,"role":""}`), CodeInvalid, "role is empty")
}

func TestEnvelopeBytes(t *testing.T) {
	RegisterPersonality(func() Personality { return fakePersonality{} })
	t.Cleanup(func() { RegisterPersonality(nil) })
	got := string(Handle(OpPersonalityAdjust, []byte(`{"version":1,"role":"r","generation":5,"trust":0.5}`)))
	want := `{"v":1,"result":{"version":1,"mutationBias":0.5,"resourceHeadroom":0.5,"canaryPace":0.5}}`
	if got != want {
		t.Fatalf("envelope\n got %s\nwant %s", got, want)
	}
	got = string(Handle(OpPersonalityAdjust, []byte(`{"version":2}`)))
	want = `{"v":1,"error":{"code":"invalid","message":"request version 2 is not supported (this SDK speaks version 1)"}}`
	if got != want {
		t.Fatalf("envelope\n got %s\nwant %s", got, want)
	}
}

func TestToError(t *testing.T) {
	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{errors.New("plain"), CodeFailed, "plain"},
		{Errorf(CodeInvalid, "bad %d", 1), CodeInvalid, "bad 1"},
		{fmt.Errorf("wrapped: %w", Errorf(CodeUnimplemented, "later")), CodeUnimplemented, "later"},
		{&Error{Message: "no code"}, CodeFailed, "no code"},
		{&Error{Code: "odd", Message: "m"}, CodeFailed, "odd: m"},
	} {
		e := toError(tc.err)
		if e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("toError(%v) = %s %q, want %s %q", tc.err, e.Code, e.Message, tc.code, tc.msg)
		}
	}
}
