package sdk

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestGenomeJSONMatchesEncodingJSON: the hand-written encoder writes what
// encoding/json writes for the same map.
func TestGenomeJSONMatchesEncodingJSON(t *testing.T) {
	cases := []Genome{
		{},
		{"x": 1.5, "y": -0.0001, "z": 1e-7, "w": 1e21, "v": 123456789.0, "u": 3.0, "t": -2.5e-10},
		{"k": int64(-3), "n": 7, "m": uint64(1 << 63), "i32": int32(9), "f32": float32(0.1)},
		{"c": "2opt", "q": "a\"b\\c\n\t\r<>&\x01é\u2028\xff", "b": true, "f": false, "nil": nil},
		{"steps": []string{"2opt", "oropt"}, "empty": []string{}, "anys": []any{"a", 1.0, true}},
		{"nested": map[string]any{"a": 1.0}},
	}
	for _, g := range cases {
		got, err := g.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(map[string]any(g))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, err := (Genome{"x": math.NaN()}).MarshalJSON(); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := (Genome{"x": math.Inf(1)}).MarshalJSON(); err == nil {
		t.Error("Inf accepted")
	}
}

// TestProposeEnvelopeMatchesEncodingJSON: the hand-written proposal
// envelope is what encoding/json writes.
func TestProposeEnvelopeMatchesEncodingJSON(t *testing.T) {
	pr := ProposeResult{Version: 1, Candidates: []Candidate{
		{ID: "c-1", Genome: Genome{"x": 0.5, "steps": []string{"a"}}, Parents: []string{"c-0"}, Operator: "mutate"},
		{ID: "c-\"2", Genome: Genome{}},
	}}
	inner, _ := json.Marshal(pr)
	want, _ := json.Marshal(envelope{V: EnvelopeVersion, Result: inner})
	if got := resultEnvelope(pr); string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := resultEnvelope(ProposeResult{Version: 1, Candidates: []Candidate{{ID: "n", Genome: Genome{"x": math.NaN()}}}}); !json.Valid(got) || !strings.Contains(string(got), `"error"`) {
		t.Fatalf("NaN: %s", got)
	}
}
