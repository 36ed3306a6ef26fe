package sdk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sameJSON reports whether a and b are the same JSON value (key order and
// spacing aside).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// roundTrip decodes example into a new *T, encodes it again and checks that
// the JSON is the same as the example.
func roundTrip[T any](t *testing.T, example string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(example), &v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	if !sameJSON(t, []byte(example), out) {
		t.Fatalf("%T round trip\n got %s\nwant %s", v, out, example)
	}
	return v
}

// The examples of ABI.md §3, with its placeholders filled in.
func TestSchemasRoundTripABIExamples(t *testing.T) {
	space := roundTrip[SearchSpace](t, `{"parameters": [
  {"name": "x", "float": {"min": -5, "max": 5}},
  {"name": "steps", "sequence": {"choices": ["2opt", "oropt"], "minLength": 1, "maxLength": 4}}
]}`)
	if space.Parameters[0].Type() != TypeFloat || space.Parameters[0].Float.Min != -5 ||
		space.Parameters[1].Sequence.MaxLength != 4 || space.Parameters[1].Type() != TypeSequence {
		t.Fatalf("space = %+v", space)
	}

	init := roundTrip[InitRequest](t, `{"version": 1, "space": {"parameters": [{"name": "x", "float": {"min": -5, "max": 5}}]},
	  "objectives": [{"name": "gap", "direction": "MINIMIZE"}], "seed": 42, "config": {"population": 8}}`)
	if init.Seed != 42 || init.Objectives[0].Direction != Minimize || string(init.Config) != `{"population": 8}` {
		t.Fatalf("init = %+v", init)
	}
	roundTrip[ProposeRequest](t, `{"version": 1, "n": 8}`)
	pr := roundTrip[ProposeResult](t, `{"version": 1, "candidates": [{"id": "c-0001", "genome": {"x": 1.5, "steps": ["2opt"]}, "parents": ["c-0000"], "operator": "mutate"}]}`)
	if s, ok := pr.Candidates[0].Genome.Sequence("steps"); !ok || s[0] != "2opt" {
		t.Fatalf("candidate = %+v", pr.Candidates[0])
	}
	obs := roundTrip[ObserveRequest](t, `{"version": 1, "results": [{"id": "c-0001", "scores": {"gap": 0.031}, "failed": false, "reason": ""}]}`)
	if obs.Results[0].Scores["gap"] != 0.031 {
		t.Fatalf("observe = %+v", obs)
	}
	snap := roundTrip[Snapshot](t, `{"version": 1, "state": {"anything": [1, "two", null]}}`)
	if !sameJSON(t, snap.State, []byte(`{"anything":[1,"two",null]}`)) {
		t.Fatalf("snapshot state = %s", snap.State)
	}
	sr := roundTrip[ScoreRequest](t, `{"version": 1, "now": "2026-11-25T12:00:00Z",
	  "evidence": [{"time": "2026-11-24T12:00:00Z", "kind": "task", "positive": true, "weight": 1, "detail": ""}]}`)
	if !sr.Now.Equal(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) || sr.Now.Sub(sr.Evidence[0].Time) != 24*time.Hour {
		t.Fatalf("score request = %+v", sr)
	}
	roundTrip[TrustScore](t, `{"version": 1, "score": 0.83, "uncertainty": 0.1, "lowerBound": 0.7}`)
	ar := roundTrip[AdjustRequest](t, `{"version": 1, "role": "solver", "generation": 3, "trust": 0.8}`)
	if ar.Generation != 3 || ar.Trust != 0.8 {
		t.Fatalf("adjust request = %+v", ar)
	}
	roundTrip[Adjustment](t, `{"version": 1, "mutationBias": 0.5, "resourceHeadroom": 0.2, "canaryPace": 0.5}`)
}

func TestEveryParameterTypeRoundTrips(t *testing.T) {
	space := roundTrip[SearchSpace](t, `{"parameters": [
	  {"name": "lr", "description": "learning rate", "float": {"min": 0.0001, "max": 0.1, "log": true}},
	  {"name": "k", "int": {"min": -3, "max": 9007199254740993}},
	  {"name": "algo", "categorical": {"choices": ["a", "b"]}},
	  {"name": "on", "bool": {}},
	  {"name": "steps", "sequence": {"choices": ["s"], "minLength": 0, "maxLength": 2}},
	  {"name": "prompt", "text": {"maxLength": 400}},
	  {"name": "solver", "code": {"language": "python", "maxLength": 10000}}
	]}`)
	want := []string{TypeFloat, TypeInt, TypeCategorical, TypeBool, TypeSequence, TypeText, TypeCode}
	for i, p := range space.Parameters {
		if p.Type() != want[i] {
			t.Errorf("parameter %q: Type() = %q, want %q", p.Name, p.Type(), want[i])
		}
	}
	if err := space.Validate(); err != nil {
		t.Fatal(err)
	}
	if space.Parameters[1].Int.Max != 9007199254740993 {
		t.Fatalf("int64 bound lost precision: %d", space.Parameters[1].Int.Max)
	}
	out, _ := json.Marshal(SearchSpace{})
	if string(out) != `{"parameters":[]}` {
		t.Fatalf("empty space = %s", out)
	}
}

// What protojson writes (int64 and uint64 as strings, enum numbers) and
// accepts (proto field names) decodes to the same values.
func TestProtojsonForms(t *testing.T) {
	var init InitRequest
	err := json.Unmarshal([]byte(`{"version": 1, "seed": "18446744073709551615",
	  "objectives": [{"name": "gap", "direction": 2}, {"name": "t", "direction": "MINIMIZE"}],
	  "space": {"parameters": [
	    {"name": "k", "int": {"min": "-9223372036854775808", "max": "12"}},
	    {"name": "x", "float": {"min": "-Infinity", "max": "1.5"}},
	    {"name": "steps", "sequence": {"choices": ["a"], "min_length": 1, "max_length": "3"}},
	    {"name": "src", "code": {"language": "go", "max_length": 5}},
	    {"name": "p", "text": {"max_length": 7}}
	  ]}}`), &init)
	if err != nil {
		t.Fatal(err)
	}
	ps := init.Space.Parameters
	if init.Seed != 1<<64-1 || init.Objectives[0].Direction != Maximize || init.Objectives[1].Direction != Minimize ||
		ps[0].Int.Min != -1<<63 || ps[0].Int.Max != 12 || ps[1].Float.Max != 1.5 ||
		ps[2].Sequence.MinLength != 1 || ps[2].Sequence.MaxLength != 3 || ps[3].Code.MaxLength != 5 || ps[4].Text.MaxLength != 7 {
		t.Fatalf("decoded = %+v %+v", init, ps)
	}
	if err := init.Space.Validate(); err == nil || !strings.Contains(err.Error(), "finite") {
		t.Fatalf("an infinite float bound should not validate: %v", err)
	}

	var obs ObserveRequest
	if err := json.Unmarshal([]byte(`{"version": 1, "results": [{"id": "a", "scores": {"gap": "0.25", "t": 3}}]}`), &obs); err != nil {
		t.Fatal(err)
	}
	if obs.Results[0].Scores["gap"] != 0.25 || obs.Results[0].Scores["t"] != 3 {
		t.Fatalf("scores = %v", obs.Results[0].Scores)
	}

	for _, bad := range []string{
		`{"seed": "x"}`, `{"seed": -1}`, `{"seed": 1.5}`,
		`{"objectives": [{"direction": 9}]}`,
		`{"space": {"parameters": [{"name": "k", "int": {"min": 1.5}}]}}`,
		`{"space": {"parameters": [{"name": "s", "sequence": {"maxLength": 4294967296}}]}}`,
	} {
		var r InitRequest
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s decoded without error: %+v", bad, r)
		}
	}
}

func TestSearchSpaceValidate(t *testing.T) {
	f := func(min, max float64, log bool) Parameter {
		return Parameter{Name: "f", Float: &FloatParam{Min: min, Max: max, Log: log}}
	}
	for _, tc := range []struct {
		space SearchSpace
		want  string // "" for valid
	}{
		{SearchSpace{}, ""},
		{SearchSpace{Parameters: []Parameter{f(0, 0, false)}}, ""},
		{SearchSpace{Parameters: []Parameter{f(1, 0, false)}}, "above max"},
		{SearchSpace{Parameters: []Parameter{f(0, 1, true)}}, "min > 0"},
		{SearchSpace{Parameters: []Parameter{{Float: &FloatParam{}}}}, "no name"},
		{SearchSpace{Parameters: []Parameter{{Name: "none"}}}, "exactly one type"},
		{SearchSpace{Parameters: []Parameter{{Name: "two", Bool: &BoolParam{}, Text: &TextParam{}}}}, "exactly one type"},
		{SearchSpace{Parameters: []Parameter{f(0, 1, false), f(0, 2, false)}}, `duplicate name "f"`},
		{SearchSpace{Parameters: []Parameter{{Name: "c", Categorical: &CategoricalParam{}}}}, "at least one choice"},
		{SearchSpace{Parameters: []Parameter{{Name: "s", Sequence: &SequenceParam{MinLength: 3, MaxLength: 2, Choices: []string{"a"}}}}}, "minLength <= maxLength"},
		{SearchSpace{Parameters: []Parameter{{Name: "s", Sequence: &SequenceParam{MinLength: -1, MaxLength: 2, Choices: []string{"a"}}}}}, "0 <= minLength"},
		{SearchSpace{Parameters: []Parameter{{Name: "s", Sequence: &SequenceParam{MaxLength: 2}}}}, "at least one choice"},
		{SearchSpace{Parameters: []Parameter{{Name: "s", Sequence: &SequenceParam{}}}}, ""},
		{SearchSpace{Parameters: []Parameter{{Name: "t", Text: &TextParam{MaxLength: -1}}}}, "negative"},
		{SearchSpace{Parameters: []Parameter{{Name: "c", Code: &CodeParam{MaxLength: -1}}}}, "negative"},
		{SearchSpace{Parameters: []Parameter{{Name: "i", Int: &IntParam{Min: 2, Max: 1}}}}, "above max"},
	} {
		err := tc.space.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tc.space, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one containing %q", tc.space, err, tc.want)
		}
	}
}
