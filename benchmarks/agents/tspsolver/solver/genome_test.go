package solver

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/space"
)

// TestSpaceIsTheAPISearchSpace checks Space against the API's SearchSpace
// and the engine's own checker, and that the default genome lies inside it.
func TestSpaceIsTheAPISearchSpace(t *testing.T) {
	var sp v1.SearchSpace
	if err := protojson.Unmarshal(Space(), &sp); err != nil {
		t.Fatalf("Space() is not a protojson SearchSpace: %v\n%s", err, Space())
	}
	if err := space.Check(&sp); err != nil {
		t.Fatalf("space.Check: %v", err)
	}
	if err := space.CheckGenome(&sp, DefaultGenome().Map()); err != nil {
		t.Fatalf("default genome: %v", err)
	}
	if err := space.CheckGenome(&sp, goodGenome(1000).Map()); err != nil {
		t.Fatalf("good genome: %v", err)
	}
	// The genome's JSON keys are exactly the space's parameters, in order.
	var names []string
	for _, p := range sp.GetParameters() {
		names = append(names, p.GetName())
	}
	b, err := json.Marshal(DefaultGenome())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sorted := slices.Sorted(slices.Values(names))
	if !slices.Equal(keys, sorted) {
		t.Errorf("genome keys %v, space parameters %v", keys, names)
	}
	// The engine's genome (JSON of Map) parses back to the same genome.
	b, err = json.Marshal(DefaultGenome().Map())
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGenome(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, DefaultGenome()) {
		t.Errorf("round trip: %+v", g)
	}
}

func TestDefaultGenomeIsValid(t *testing.T) {
	if err := DefaultGenome().Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := ParseGenome([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, DefaultGenome()) {
		t.Errorf("empty genome: %+v", g)
	}
}

func TestParseGenome(t *testing.T) {
	g, err := ParseGenome([]byte(`{"construction":"greedy_edge","improvements":["2opt","oropt","2opt"],"neighbors":12.0,"temperature":0.5}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultGenome()
	want.Construction, want.Improvements, want.Neighbors, want.Temperature = "greedy_edge", []string{"2opt", "oropt", "2opt"}, 12, 0.5
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got %+v, want %+v", g, want)
	}
	// A wrapper, such as a candidate record, is unwrapped.
	g, err = ParseGenome([]byte(` {"id":"c-0001","scores":{"gap":0.01},"genome":{"neighbors":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if g.Neighbors != 5 || g.Construction != DefaultGenome().Construction {
		t.Errorf("wrapped: %+v", g)
	}
}

func TestParseGenomeErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{"neighbours":8}`, `unknown key "neighbours"`},
		{`{"neighbors":"8"}`, `key "neighbors": want a number`},
		{`{"neighbors":8.5}`, `key "neighbors": want an integer`},
		{`{"neighbors":30}`, `key "neighbors": 30 is outside [4, 20]`},
		{`{"neighbors":null}`, `key "neighbors": want a number`},
		{`{"temperature":0}`, `key "temperature": 0 is outside [0.001, 10]`},
		{`{"temperature":"hot"}`, `key "temperature": want a number`},
		{`{"max_iterations":-1}`, `key "max_iterations": -1 is outside`},
		{`{"time_budget_ms":1e9}`, `key "time_budget_ms": 1000000000 is outside`},
		{`{"construction":"christofides"}`, `key "construction": "christofides" is not one of`},
		{`{"construction":3}`, `key "construction": want a string`},
		{`{"acceptance":true}`, `key "acceptance": want a string`},
		{`{"improvements":"2opt"}`, `key "improvements": want a list of strings`},
		{`{"improvements":[]}`, `key "improvements": 0 steps is outside [1, 6]`},
		{`{"improvements":["2opt","2opt","2opt","2opt","2opt","2opt","2opt"]}`, `key "improvements": 7 steps`},
		{`{"improvements":["2opt","lk"]}`, `key "improvements": step 1: "lk" is not one of`},
		{`{"improvements":["2opt",2]}`, `key "improvements": step 1: want a string`},
		{`{"genome":{"swap":1}}`, `unknown key "swap"`},
		{`{"genome":{},"neighbors":5}`, `key "neighbors" is beside a "genome" wrapper`},
		{`{"genome":[1]}`, `"genome" wrapper: want a JSON object`},
		{`[1,2]`, `want a JSON object`},
		{`{"neighbors":8`, `invalid JSON`},
		{``, `want a JSON object`},
	} {
		_, err := ParseGenome([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %q", c.src, err, c.want)
		}
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	g := DefaultGenome()
	g.PerturbationStrength = 0
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), `key "perturbation_strength": 0 is outside [1, 50]`) {
		t.Errorf("got %v", err)
	}
	g = DefaultGenome()
	g.Improvements = nil
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), `key "improvements"`) {
		t.Errorf("got %v", err)
	}
}
