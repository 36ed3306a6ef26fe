package sdk

import (
	"encoding/json"
	"fmt"
	"testing"
)

// calmStrategy, calmTrust and calmPersonality answer every well-formed request, so that
// the fuzzer exercises the SDK's decoding, not author code.
type calmTrust struct{}

func (calmTrust) Score(ScoreRequest) (TrustScore, error) { return TrustScore{Score: 0.5}, nil }

type calmStrategy struct{ n int }

func (c *calmStrategy) Init(InitRequest) error { return nil }
func (c *calmStrategy) Propose(n int) ([]Candidate, error) {
	out := make([]Candidate, n)
	for i := range out {
		c.n++
		out[i] = Candidate{ID: fmt.Sprint("c-", c.n), Genome: Genome{}}
	}
	return out, nil
}
func (c *calmStrategy) Observe([]Result) error { return nil }
func (c *calmStrategy) Snapshot() (json.RawMessage, error) {
	return json.Marshal(c.n)
}
func (c *calmStrategy) Restore(raw json.RawMessage) error {
	if err := json.Unmarshal(raw, &c.n); err != nil {
		return Errorf(CodeInvalid, "state: %v", err)
	}
	return nil
}

type calmPersonality struct{}

func (calmPersonality) Adjust(AdjustRequest) (Adjustment, error) { return Adjustment{}, nil }

// FuzzHandle feeds arbitrary requests to every operation (go test -fuzz
// FuzzHandle ./sdk-wasm/; plain go test runs the seeds): the response is
// always one valid envelope, and a request the SDK cannot decode is an
// "invalid" error, never a "panic" (which would be the SDK's own bug, as
// these implementations do not panic).
func FuzzHandle(f *testing.F) {
	ops := []string{OpStrategyInit, OpStrategyPropose, OpStrategyObserve, OpStrategySnapshot, OpStrategyRestore, OpTrustScore, OpPersonalityAdjust}
	for i, s := range []string{
		`{"version":1,"space":{"parameters":[{"name":"x","float":{"min":0,"max":1}}]},"seed":"7"}`,
		`{"version":1,"n":3}`,
		`{"version":1,"results":[{"id":"c-1","scores":{"f":1},"failed":false}]}`,
		`{"version":1}`,
		`{"version":1,"state":{"next":1}}`,
		`{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[{"kind":"task","positive":true,"weight":1}]}`,
		`{"version":1,"role":"solver","generation":3,"trust":0.8}`,
		`{"version":"1"}`, `{"version":2}`, `[]`, `null`, ``, `{"version":1,"n":-1}`, `{"version":1e400}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, req []byte) {
		RegisterStrategy(func() Strategy { return &calmStrategy{} })
		RegisterTrust(func() TrustScorer { return calmTrust{} })
		RegisterPersonality(func() Personality { return calmPersonality{} })
		defer func() { RegisterStrategy(nil); RegisterTrust(nil); RegisterPersonality(nil) }()
		// A strategy operation other than init needs a live instance.
		Handle(OpStrategyInit, []byte(`{"version":1,"space":{"parameters":[{"name":"x","float":{"min":0,"max":1}}]},"seed":1}`))

		op := ops[int(which)%len(ops)]
		resp := Handle(op, req)
		var env struct {
			V      *int            `json:"v"`
			Result json.RawMessage `json:"result"`
			Error  *Error          `json:"error"`
		}
		if err := json.Unmarshal(resp, &env); err != nil {
			t.Fatalf("%s(%q): response %q is not JSON: %v", op, req, resp, err)
		}
		if env.V == nil || *env.V != 1 || (env.Result == nil) == (env.Error == nil) {
			t.Fatalf("%s(%q): response %q is not an envelope with exactly one of result and error", op, req, resp)
		}
		if env.Error != nil && (env.Error.Code == CodePanic || env.Error.Message == "") {
			t.Fatalf("%s(%q): %s error %q", op, req, env.Error.Code, env.Error.Message)
		}
	})
}
