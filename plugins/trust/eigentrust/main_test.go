package main

import (
	"encoding/json"
	"math"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Through the SDK's dispatcher: the ABI.md example request (no graph) scores
// as beta does, and a call record from a pre-trusted peer counts fully.
func TestThroughTheDispatcher(t *testing.T) {
	for _, tc := range []struct {
		name, req string
		want      float64
	}{
		{"ABI example", `{"version": 1, "now": "2026-11-25T12:00:00Z",
		  "evidence": [{"time": "2026-11-25T12:00:00Z", "kind": "task", "positive": true, "weight": 1, "detail": ""}]}`, 2.0 / 3},
		{"call graph", `{"version": 1, "now": "2026-11-25T12:00:00Z",
		  "config": {"subject": "agent/b@1", "preTrusted": ["agent/a@1"]},
		  "evidence": [{"time": "2026-11-25T12:00:00Z", "kind": "call", "positive": true, "weight": 2,
		                "detail": "{\"from\":\"agent/a@1\",\"to\":\"agent/b@1\"}"}]}`, 3.0 / 4},
	} {
		var e struct {
			V      int
			Result sdk.TrustScore
			Error  *sdk.Error
		}
		if err := json.Unmarshal(sdk.Handle(sdk.OpTrustScore, []byte(tc.req)), &e); err != nil {
			t.Fatal(err)
		}
		if e.V != 1 || e.Error != nil || e.Result.Version != 1 || math.Abs(e.Result.Score-tc.want) > 1e-12 {
			t.Errorf("%s: envelope %+v, want score %v", tc.name, e, tc.want)
		}
	}
}
