package sdk

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

var testSpace = SearchSpace{Parameters: []Parameter{
	{Name: "x", Float: &FloatParam{Min: -5, Max: 5}},
	{Name: "lr", Float: &FloatParam{Min: 1e-4, Max: 1e-1, Log: true}},
	{Name: "k", Int: &IntParam{Min: -3, Max: 3}},
	{Name: "algo", Categorical: &CategoricalParam{Choices: []string{"ga", "de", "cma"}}},
	{Name: "on", Bool: &BoolParam{}},
	{Name: "steps", Sequence: &SequenceParam{Choices: []string{"2opt", "oropt", "swap"}, MinLength: 1, MaxLength: 4}},
	{Name: "prompt", Text: &TextParam{MaxLength: 5}},
	{Name: "solver", Code: &CodeParam{Language: "python"}},
}}

func TestGenomeAccessors(t *testing.T) {
	// As a strategy builds it, and as encoding/json decodes it.
	built := Genome{"x": 1.5, "k": int64(2), "algo": "ga", "on": true, "steps": []string{"swap"}, "i": 7, "u": uint8(3)}
	var decoded Genome
	b, _ := json.Marshal(built)
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	for _, g := range []Genome{built, decoded} {
		if v, ok := g.Float("x"); !ok || v != 1.5 {
			t.Errorf("Float(x) = %v, %v", v, ok)
		}
		if v, ok := g.Float("k"); !ok || v != 2 {
			t.Errorf("Float(k) = %v, %v", v, ok)
		}
		if v, ok := g.Int("k"); !ok || v != 2 {
			t.Errorf("Int(k) = %v, %v", v, ok)
		}
		if v, ok := g.Int("i"); !ok || v != 7 {
			t.Errorf("Int(i) = %v, %v", v, ok)
		}
		if v, ok := g.Int("u"); !ok || v != 3 {
			t.Errorf("Int(u) = %v, %v", v, ok)
		}
		if _, ok := g.Int("x"); ok {
			t.Error("Int(x) of 1.5 should fail")
		}
		if v, ok := g.String("algo"); !ok || v != "ga" {
			t.Errorf("String(algo) = %v, %v", v, ok)
		}
		if v, ok := g.Bool("on"); !ok || !v {
			t.Errorf("Bool(on) = %v, %v", v, ok)
		}
		if v, ok := g.Sequence("steps"); !ok || len(v) != 1 || v[0] != "swap" {
			t.Errorf("Sequence(steps) = %v, %v", v, ok)
		}
		for _, name := range []string{"missing", "algo"} {
			if _, ok := g.Float(name); ok {
				t.Errorf("Float(%s) should fail", name)
			}
			if _, ok := g.Bool(name + "x"); ok {
				t.Errorf("Bool(%sx) should fail", name)
			}
			if _, ok := g.Sequence(name); ok {
				t.Errorf("Sequence(%s) should fail", name)
			}
		}
		if _, ok := g.String("x"); ok {
			t.Error("String(x) should fail")
		}
	}
	if _, ok := (Genome{"s": []any{"a", 1}}).Sequence("s"); ok {
		t.Error("a list with a number is not a sequence")
	}
	if v, ok := (Genome{"n": json.Number("12")}).Int("n"); !ok || v != 12 {
		t.Errorf("Int(json.Number) = %v, %v", v, ok)
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), 1e19, uint64(math.MaxUint64), "3"} {
		if v, ok := (Genome{"n": bad}).Int("n"); ok {
			t.Errorf("Int(%v) = %v, want failure", bad, v)
		}
	}

	// Clone copies sequences.
	c := built.Clone()
	c["steps"].([]string)[0] = "changed"
	if s, _ := built.Sequence("steps"); s[0] != "swap" {
		t.Fatal("Clone shares the sequence")
	}
	if Genome(nil).Clone() != nil {
		t.Fatal("Clone(nil) should be nil")
	}
}

func TestGenomeValidate(t *testing.T) {
	good := Genome{"x": -5.0, "lr": 0.01, "k": int64(3), "algo": "cma", "on": false,
		"steps": []string{"2opt", "2opt"}, "prompt": "héllo", "solver": strings.Repeat("x", 100000)}
	if err := good.Validate(testSpace); err != nil {
		t.Fatal(err)
	}
	var decoded Genome
	b, _ := json.Marshal(good)
	_ = json.Unmarshal(b, &decoded)
	if err := decoded.Validate(testSpace); err != nil {
		t.Fatalf("decoded: %v", err)
	}
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"x", 5.01, "outside"},
		{"x", math.NaN(), "finite"},
		{"x", "1", "finite"},
		{"lr", 0.2, "outside"},
		{"k", 1.5, "not an integer"},
		{"k", int64(4), "outside"},
		{"algo", "sgd", "not one of"},
		{"on", "true", "not a boolean"},
		{"steps", []string{}, "length 0"},
		{"steps", []string{"a", "b", "c", "d", "e"}, "length 5"},
		{"steps", []string{"2opt", "nope"}, `"nope"`},
		{"steps", "2opt", "not a list"},
		{"prompt", "hélloo", "6 characters"},
		{"solver", 3, "not a string"},
		{"extra", 1, "not a parameter"},
	} {
		g := good.Clone()
		g[tc.key] = tc.val
		if err := g.Validate(testSpace); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%v: error %v, want one containing %q", tc.key, tc.val, err, tc.want)
		}
	}
	g := good.Clone()
	delete(g, "on")
	if err := g.Validate(testSpace); err == nil || !strings.Contains(err.Error(), `lacks parameter "on"`) {
		t.Errorf("missing parameter: %v", err)
	}
}
