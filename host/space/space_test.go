package space

import (
	"strings"
	"testing"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

func sp(params ...*v1.Parameter) *v1.SearchSpace { return &v1.SearchSpace{Parameters: params} }

func float(name string, min, max float64, log bool) *v1.Parameter {
	return &v1.Parameter{Name: name, Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: min, Max: max, Log: log}}}
}

func TestCheckNamesTheParameter(t *testing.T) {
	cases := []struct {
		s    *v1.SearchSpace
		want string
	}{
		{sp(), "no parameters"},
		{sp(float("x", 1, 0, false)), `"x": float min 1 must be below max 0`},
		{sp(float("lr", 0, 1, true)), `"lr": a log-scale float needs min > 0`},
		{sp(float("x", 0, 1, false), float("x", 0, 2, false)), `"x" appears twice`},
		{sp(&v1.Parameter{Name: "c", Type: &v1.Parameter_Categorical{Categorical: &v1.Parameter_Choices{}}}), `"c": needs at least one choice`},
		{sp(&v1.Parameter{Name: "s", Type: &v1.Parameter_Sequence{Sequence: &v1.Parameter_Steps{Choices: []string{"a"}, MinLength: 3, MaxLength: 2}}}), `"s": sequence lengths`},
		{sp(&v1.Parameter{Name: "n"}), `"n": no type`},
		{sp(&v1.Parameter{Name: "i", Type: &v1.Parameter_Int{Int: &v1.Parameter_IntRange{Min: 5, Max: 1}}}), `"i": int min 5 is above max 1`},
	}
	for _, c := range cases {
		err := Check(c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

func TestCheckGenome(t *testing.T) {
	s := sp(
		float("x", -5, 5, false),
		&v1.Parameter{Name: "n", Type: &v1.Parameter_Int{Int: &v1.Parameter_IntRange{Min: 1, Max: 10}}},
		&v1.Parameter{Name: "c", Type: &v1.Parameter_Categorical{Categorical: &v1.Parameter_Choices{Choices: []string{"a", "b"}}}},
		&v1.Parameter{Name: "steps", Type: &v1.Parameter_Sequence{Sequence: &v1.Parameter_Steps{Choices: []string{"2opt", "oropt"}, MinLength: 1, MaxLength: 3}}},
		&v1.Parameter{Name: "on", Type: &v1.Parameter_Bool{Bool: &v1.Parameter_Boolean{}}},
	)
	if err := Check(s); err != nil {
		t.Fatal(err)
	}
	good := Genome{"x": 1.5, "n": 3.0, "c": "a", "steps": []any{"2opt", "oropt"}, "on": true}
	if err := CheckGenome(s, good); err != nil {
		t.Fatalf("good genome: %v", err)
	}
	bad := []struct {
		edit func(Genome)
		want string
	}{
		{func(g Genome) { g["x"] = 7.0 }, `"x": 7 is outside [-5, 5]`},
		{func(g Genome) { g["n"] = 2.5 }, `"n": want an integer`},
		{func(g Genome) { g["c"] = "z" }, `"c": z is not one of`},
		{func(g Genome) { g["steps"] = []any{} }, `"steps": length 0`},
		{func(g Genome) { g["steps"] = []any{"3opt"} }, `"steps": step 0`},
		{func(g Genome) { delete(g, "on") }, `"on" has no value`},
		{func(g Genome) { g["extra"] = 1.0 }, `"extra" is not in the search space`},
		{func(g Genome) { g["on"] = "yes" }, `"on": want true or false`},
	}
	for _, b := range bad {
		g := Genome{}
		for k, v := range good {
			g[k] = v
		}
		b.edit(g)
		err := CheckGenome(s, g)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("got %v, want %q", err, b.want)
		}
	}
}
