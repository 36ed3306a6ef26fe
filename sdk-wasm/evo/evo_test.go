package evo

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

const spaceJSON = `{"parameters": [
  {"name": "x", "float": {"min": -5, "max": 5}},
  {"name": "lr", "float": {"min": 0.0001, "max": 0.1, "log": true}},
  {"name": "k", "int": {"min": -3, "max": 3}},
  {"name": "algo", "categorical": {"choices": ["ga", "de", "cma"]}},
  {"name": "on", "bool": {}},
  {"name": "steps", "sequence": {"choices": ["2opt", "oropt", "swap"], "minLength": 1, "maxLength": 4}},
  {"name": "fixed", "sequence": {"choices": ["a", "b", "c"], "minLength": 3, "maxLength": 3}},
  {"name": "prompt", "text": {"maxLength": 200}},
  {"name": "solver", "code": {"language": "python"}}
]}`

func testSpace(t testing.TB) sdk.SearchSpace {
	t.Helper()
	var s sdk.SearchSpace
	if err := json.Unmarshal([]byte(spaceJSON), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// randomGenome is a uniform genome with some text and code to mutate.
func randomGenome(s sdk.SearchSpace, rng *sdk.Rand) sdk.Genome {
	g := rng.Genome(s)
	g["prompt"] = "Solve the task. Think step by step."
	g["solver"] = "def f(x):\n    if x > 3:\n        return x * 2\n    return 0.5 + True\n"
	return g
}

func TestDefaultAndClamp(t *testing.T) {
	s := testSpace(t)
	d := Default(s)
	if err := Validate(s, d); err != nil {
		t.Fatalf("default %v: %v", d, err)
	}
	if d["x"] != 0.0 || d["k"] != int64(0) || d["algo"] != "ga" || d["on"] != false {
		t.Fatalf("default %v", d)
	}
	if lr := d["lr"].(float64); math.Abs(lr-math.Sqrt(0.0001*0.1)) > 1e-12 {
		t.Fatalf("log default %v, want the geometric middle", lr)
	}
	if !slices.Equal(d["steps"].([]string), []string{"2opt", "oropt", "swap"}) {
		t.Fatalf("sequence default %v", d["steps"])
	}
	junk := sdk.Genome{"x": 99.0, "lr": "no", "k": 2.6, "algo": "zz", "on": 1, "steps": []any{"swap", "bad", "2opt", "2opt", "2opt", "swap"},
		"fixed": []string{}, "prompt": strings.Repeat("é", 300), "extra": 1}
	c := Clamp(s, junk)
	if err := Validate(s, c); err != nil {
		t.Fatalf("clamped %v: %v", c, err)
	}
	if c["x"] != 5.0 || c["k"] != int64(3) || c["algo"] != "ga" || c["on"] != false || len([]rune(c["prompt"].(string))) != 200 {
		t.Fatalf("clamped %v", c)
	}
	if !slices.Equal(c["steps"].([]string), []string{"swap", "2opt", "2opt", "2opt"}) || !slices.Equal(c["fixed"].([]string), []string{"a", "b", "c"}) {
		t.Fatalf("clamped sequences %v %v", c["steps"], c["fixed"])
	}
	if _, ok := c["extra"]; ok {
		t.Fatal("unknown key kept")
	}
}

func TestNormalizeRoundTrip(t *testing.T) {
	s := testSpace(t)
	for _, name := range []string{"x", "lr", "k"} {
		p, _ := s.Lookup(name)
		for _, u := range []float64{0, 0.25, 0.5, 1} {
			v := Denormalize(p, u)
			back, ok := Normalize(p, v)
			if !ok || (p.Type() == sdk.TypeFloat && math.Abs(back-u) > 1e-12) || (p.Type() == sdk.TypeInt && math.Abs(back-u) > 1.0/6) {
				t.Errorf("%s: %v -> %v -> %v", name, u, v, back)
			}
		}
	}
	p, _ := s.Lookup("lr")
	if u, _ := Normalize(p, 0.001); math.Abs(u-1.0/3) > 1e-12 {
		t.Errorf("log normalisation of 0.001 in [1e-4, 0.1] = %v, want 1/3", u)
	}
}

func TestMutateStaysInsideAndChanges(t *testing.T) {
	s := testSpace(t)
	rng := sdk.NewRand(1)
	changed := map[string]int{}
	for i := range 2000 {
		g := randomGenome(s, rng)
		m := Mutation{Strength: []float64{0.05, 0.2, 1}[i%3]}
		c := Mutate(s, g, m, rng)
		if err := Validate(s, c); err != nil {
			t.Fatalf("mutant %v: %v", c, err)
		}
		if Equal(s, c, Clamp(s, g)) {
			t.Fatalf("mutant equals its parent: %v", c)
		}
		for _, p := range s.Parameters {
			if !EqualValue(p, c[p.Name], g[p.Name]) {
				changed[p.Name]++
			}
		}
	}
	for _, p := range s.Parameters {
		if changed[p.Name] < 100 {
			t.Errorf("gene %s mutated %d times in 2000", p.Name, changed[p.Name])
		}
	}
}

func TestMutateFloatStep(t *testing.T) {
	s := sdk.SearchSpace{Parameters: []sdk.Parameter{{Name: "x", Float: &sdk.FloatParam{Min: 0, Max: 100}}}}
	rng := sdk.NewRand(2)
	var sum2 float64
	const n = 4000
	for range n {
		c := Mutate(s, sdk.Genome{"x": 50.0}, Mutation{Strength: 0.1}, rng)
		d := c["x"].(float64) - 50
		sum2 += d * d
	}
	if sd := math.Sqrt(sum2 / n); math.Abs(sd-10) > 0.6 {
		t.Fatalf("step sd %.2f, want about 10 (0.1 of the range)", sd)
	}
}

func TestMutateIsSeeded(t *testing.T) {
	s := testSpace(t)
	run := func(seed uint64) []sdk.Genome {
		rng := sdk.NewRand(seed)
		g := randomGenome(s, rng)
		var out []sdk.Genome
		for range 20 {
			g = Mutate(s, g, Mutation{Strength: 0.3}, rng)
			out = append(out, g)
		}
		return out
	}
	if !reflect.DeepEqual(run(5), run(5)) {
		t.Fatal("same seed, different mutants")
	}
	if reflect.DeepEqual(run(5), run(6)) {
		t.Fatal("different seeds, same mutants")
	}
}

func TestMutateCodeAndText(t *testing.T) {
	rng := sdk.NewRand(3)
	code := "x1 = 10\nif a >= 3.5 and flag == True:\n    y = x1 - 2\n"
	sites := codeSites(code)
	var got []string
	for _, s := range sites {
		got = append(got, code[s.start:s.end])
	}
	if want := []string{"10", " >= ", "3.5", "True", "2"}; !slices.Equal(got, want) {
		t.Fatalf("sites %q, want %q", got, want)
	}
	seen := map[string]bool{}
	for range 200 {
		c := MutateCode(code, 0, 0.2, rng)
		if c == code {
			t.Fatalf("code did not change")
		}
		if !strings.HasPrefix(c, "x1 = ") {
			t.Fatalf("identifier changed: %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct code mutants", len(seen))
	}
	if c := MutateCode("print(x)", 0, 0.2, rng); c != "print(x)" {
		t.Fatalf("code without sites changed: %q", c)
	}
	if c := MutateCode("a = 9", 5, 0.2, rng); len(c) > 5 {
		t.Fatalf("code exceeds its maxLength: %q", c)
	}
	text := "Solve it. Be exact."
	for range 200 {
		m := MutateText(text, 60, DefaultPhrases(), rng)
		if len([]rune(m)) > 60 {
			t.Fatalf("text exceeds maxLength: %q", m)
		}
	}
	if m := MutateText("", 0, DefaultPhrases(), rng); !slices.Contains(DefaultPhrases(), m) {
		t.Fatalf("empty text should gain a phrase, got %q", m)
	}
}

func TestCrossover(t *testing.T) {
	s := testSpace(t)
	rng := sdk.NewRand(4)
	for range 500 {
		a, b := randomGenome(s, rng), randomGenome(s, rng)
		b["prompt"] = "Other."
		c := Crossover(s, a, b, rng)
		if err := Validate(s, c); err != nil {
			t.Fatalf("child %v: %v", c, err)
		}
		for _, p := range s.Parameters {
			if p.Type() == sdk.TypeSequence {
				continue
			}
			if !EqualValue(p, c[p.Name], a[p.Name]) && !EqualValue(p, c[p.Name], b[p.Name]) {
				t.Fatalf("gene %s = %v is from neither parent", p.Name, c[p.Name])
			}
		}
	}
	head := OnePoint([]string{"a", "a", "a"}, []string{"b", "b", "b"}, 3, 3, rng)
	if len(head) != 3 {
		t.Fatalf("one-point child %v", head)
	}
}

func TestEditApply(t *testing.T) {
	s := testSpace(t)
	g := Default(s)
	cases := []struct {
		e    Edit
		want any
	}{
		{Edit{Op: OpAddStep, Param: "steps", Index: 1, Value: "swap"}, []string{"2opt", "swap", "oropt", "swap"}},
		{Edit{Op: OpAddStep, Param: "steps", Index: 99, Value: "2opt"}, []string{"2opt", "oropt", "swap", "2opt"}},
		{Edit{Op: OpRemoveStep, Param: "steps", Index: 0}, []string{"oropt", "swap"}},
		{Edit{Op: OpRemoveStep, Param: "steps", Index: 1, Value: "oropt"}, []string{"2opt", "swap"}},
		{Edit{Op: OpReorderStep, Param: "steps", Index: 0, To: 2}, []string{"oropt", "swap", "2opt"}},
		{Edit{Op: OpReorderStep, Param: "steps", Index: 2, To: 0, Value: "swap"}, []string{"swap", "2opt", "oropt"}},
		{Edit{Op: OpModifyParam, Param: "steps", Index: 2, Value: "2opt"}, []string{"2opt", "oropt", "2opt"}},
		{Edit{Op: OpModifyParam, Param: "steps", Value: []any{"swap"}}, []string{"swap"}},
		{Edit{Op: OpModifyParam, Param: "x", Value: 7.0}, 5.0},
		{Edit{Op: OpModifyParam, Param: "x", Value: "1.5"}, 1.5},
		{Edit{Op: OpModifyParam, Param: "k", Value: 1.6}, int64(2)},
		{Edit{Op: OpModifyParam, Param: "algo", Value: "de"}, "de"},
		{Edit{Op: OpModifyParam, Param: "on", Value: true}, true},
		{Edit{Op: OpModifyParam, Param: "prompt", Value: "Be brief."}, "Be brief."},
	}
	for _, c := range cases {
		out, err := c.e.Apply(s, g)
		if err != nil {
			t.Errorf("%s: %v", c.e, err)
			continue
		}
		if err := Validate(s, out); err != nil {
			t.Errorf("%s: %v", c.e, err)
		}
		if !reflect.DeepEqual(out[c.e.Param], c.want) {
			t.Errorf("%s: %v, want %v", c.e, out[c.e.Param], c.want)
		}
		if !c.e.InEffect(s, out) && c.e.Op != OpRemoveStep && c.e.Value != nil {
			t.Errorf("%s: not in effect after applying it", c.e)
		}
	}
	for _, e := range []Edit{
		{Op: OpAddStep, Param: "fixed", Value: "a"},
		{Op: OpRemoveStep, Param: "fixed", Index: 0},
		{Op: OpRemoveStep, Param: "steps", Index: 3},
		{Op: OpRemoveStep, Param: "steps", Index: 0, Value: "swap"},
		{Op: OpAddStep, Param: "steps", Value: "nope"},
		{Op: OpModifyParam, Param: "algo", Value: "zz"},
		{Op: OpModifyParam, Param: "x", Value: "abc"},
		{Op: OpAddStep, Param: "x", Value: "a"},
		{Op: OpModifyParam, Param: "ghost", Value: 1},
		{Op: OpModifyParam, Param: "steps", Value: []any{}},
		{Op: "explode", Param: "steps"},
	} {
		if _, err := e.Apply(s, g); !errors.Is(err, ErrNotApplicable) {
			t.Errorf("%s: %v, want ErrNotApplicable", e, err)
		}
	}
	a := Edit{Op: OpModifyParam, Param: "k", Value: int64(2)}
	var b Edit
	raw, _ := json.Marshal(a)
	if err := json.Unmarshal(raw, &b); err != nil || a.Key() != b.Key() {
		t.Fatalf("key changes over JSON: %s vs %s (%v)", a.Key(), b.Key(), err)
	}
}

func TestDiffReachesTheTargetAndSubsetsStayValid(t *testing.T) {
	s := testSpace(t)
	rng := sdk.NewRand(5)
	for i := range 3000 {
		a, b := randomGenome(s, rng), randomGenome(s, rng)
		if i%2 == 0 {
			b = Mutate(s, a, Mutation{Strength: 0.3, Rate: 0.5}, rng)
		}
		d := Diff(s, a, b)
		got, done := ApplyAll(s, a, d)
		if len(done) != len(d) || !Equal(s, got, Clamp(s, b)) {
			t.Fatalf("diff %v from %v gives %v, want %v", d, a, got, b)
		}
		if Equal(s, a, b) != (len(d) == 0) {
			t.Fatalf("diff of equal genomes %v", d)
		}
		var sub []Edit
		for _, e := range d {
			if rng.IntN(2) == 0 {
				sub = append(sub, e)
			}
		}
		part, _ := ApplyAll(s, a, sub)
		if err := Validate(s, part); err != nil {
			t.Fatalf("partial diff: %v", err)
		}
	}
	// A subset of a sequence script moves towards the target.
	p, _ := s.Lookup("steps")
	a := sdk.Genome{"steps": []string{"2opt", "swap"}}
	b := sdk.Genome{"steps": []string{"oropt", "2opt", "swap", "swap"}}
	sp := sdk.SearchSpace{Parameters: []sdk.Parameter{p}}
	d := Diff(sp, a, b)
	if len(d) != 2 {
		t.Fatalf("script %v, want 2 inserts", d)
	}
	for _, e := range d {
		part, _ := ApplyAll(sp, a, []Edit{e})
		if Levenshtein(part["steps"].([]string), b["steps"].([]string)) != 1 {
			t.Fatalf("one edit of %v gives %v", d, part)
		}
	}
}

func TestDistance(t *testing.T) {
	s := testSpace(t)
	rng := sdk.NewRand(6)
	for range 500 {
		a, b := randomGenome(s, rng), randomGenome(s, rng)
		d := Distance(s, a, b)
		if d < 0 || d > 1 || math.Abs(d-Distance(s, b, a)) > 1e-12 {
			t.Fatalf("distance %v", d)
		}
		if Distance(s, a, a) != 0 {
			t.Fatal("distance to itself")
		}
	}
	if Levenshtein([]string{"a", "b", "c"}, []string{"b", "c", "d"}) != 2 {
		t.Fatal("levenshtein")
	}
}

func TestBootstrapCI(t *testing.T) {
	if Percentile([]float64{1, 2, 3, 4}, 50) != 2.5 || Percentile([]float64{1, 2, 3, 4}, 25) != 1.75 {
		t.Fatal("percentile does not interpolate like numpy")
	}
	lo, med, hi := BootstrapCI([]float64{0.7}, 1000, sdk.NewRand(1))
	if lo != 0.7 || med != 0.7 || hi != 0.7 {
		t.Fatalf("single sample: %v %v %v", lo, med, hi)
	}
	if lo, _, _ := BootstrapCI(nil, 10, sdk.NewRand(1)); !math.IsNaN(lo) {
		t.Fatal("no samples should give NaN")
	}
	// 0/1 data, p = 0.5, n = 100: the interval is about 0.5 ± 1.96·0.05.
	data := make([]float64, 100)
	for i := range 50 {
		data[i] = 1
	}
	lo, med, hi = BootstrapCI(data, 20000, sdk.NewRand(2))
	if math.Abs(lo-0.40) > 0.015 || math.Abs(med-0.5) > 0.011 || math.Abs(hi-0.60) > 0.015 {
		t.Fatalf("CI (%v, %v, %v), want about (0.40, 0.50, 0.60)", lo, med, hi)
	}
	a1, a2, a3 := BootstrapCI(data, 500, sdk.NewRand(9))
	b1, b2, b3 := BootstrapCI(data, 500, sdk.NewRand(9))
	if a1 != b1 || a2 != b2 || a3 != b3 {
		t.Fatal("not seeded")
	}
	if got, want := FormatCI(0.402, 0.5, 0.6, true), "95% Bootstrap Confidence Interval: (40.2%, 60.0%), Median: 50.0%"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := FormatCI(1.5, 2, 2.5, false); got != "95% Bootstrap Confidence Interval: (1.5, 2.5), Median: 2" {
		t.Fatalf("%q", got)
	}
}

func TestGoal(t *testing.T) {
	objs := []sdk.Objective{{Name: "gap", Direction: sdk.Minimize}, {Name: "acc", Direction: sdk.Maximize}}
	g, err := NewGoal(objs, "")
	if err != nil || g.Name != "gap" || !g.Minimize {
		t.Fatalf("%+v %v", g, err)
	}
	if g, _ := NewGoal(objs, "acc"); g.Minimize {
		t.Fatal("acc is maximised")
	}
	if _, err := NewGoal(objs, "nope"); err == nil {
		t.Fatal("unknown objective accepted")
	}
	r := sdk.Result{Scores: map[string]float64{"gap": 0.1}, Tasks: []sdk.TaskScore{{Task: "t1", Scores: map[string]float64{"gap": 0.2}}, {Task: "t2", Failed: true}}}
	if v, ok := g.Score(r); !ok || v != 0.1 {
		t.Fatalf("score %v %v", v, ok)
	}
	if tasks := g.Tasks(r); len(tasks) != 2 || !tasks[0].Scored || tasks[1].Scored || !tasks[1].Failed {
		t.Fatalf("tasks %+v", tasks)
	}
	r.Failed = true
	if _, ok := g.Score(r); ok {
		t.Fatal("a failed result has no score")
	}
	if !g.Better(0.1, 0.2) || g.Utility(2) != -2 {
		t.Fatal("direction")
	}
	any1 := Goal{}
	if v, ok := any1.Score(sdk.Result{Scores: map[string]float64{"b": 2, "a": 1}}); !ok || v != 1 {
		t.Fatalf("unnamed goal %v", v)
	}
}

func TestLLM(t *testing.T) {
	defer sdk.SetLLM(nil)
	s := testSpace(t)
	var sent []string
	sdk.SetLLM(func(req []byte) ([]byte, error) {
		sent = append(sent, string(req))
		return json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant",
			"content": "Here:\n```json\n{\"patch\": {\"algo\": \"de\", \"prompt\": \"Be brief.\", \"ghost\": 1}}\n```"}}}})
	})
	l := &LLM{}
	var out struct {
		Patch map[string]any `json:"patch"`
	}
	if _, err := l.Chat([]sdk.ChatMessage{{Role: "user", Content: "improve"}}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sent[0], `"response_format":{"type":"json_object"}`) {
		t.Fatalf("request %s", sent[0])
	}
	g, errs := PatchGenome(s, Default(s), out.Patch)
	if len(errs) != 1 || g["algo"] != "de" || g["prompt"] != "Be brief." || Validate(s, g) != nil {
		t.Fatalf("patched %v, errors %v", g, errs)
	}
	sdk.SetLLM(nil) // native default: no LLM
	if _, err := l.Chat(nil, &out); !errors.Is(err, sdk.ErrNoLLM) || !l.Unavailable || l.Enabled() {
		t.Fatalf("no LLM: %v, unavailable %v", err, l.Unavailable)
	}
	if (&LLM{Mode: LLMOff}).Enabled() {
		t.Fatal("mode off is enabled")
	}
	if _, ok := ExtractJSON("no json here"); ok {
		t.Fatal("ExtractJSON found an object in plain text")
	}
	if CheckMode("sometimes") == nil || CheckMode("") != nil {
		t.Fatal("CheckMode")
	}
}

func TestRandomEditAndDiversify(t *testing.T) {
	s := testSpace(t)
	rng := sdk.NewRand(7)
	for range 1000 {
		g := randomGenome(s, rng)
		e, ok := RandomEdit(s, g, Mutation{}, true, rng)
		if !ok {
			t.Fatal("no edit")
		}
		if p, _ := s.Lookup(e.Param); Numeric(p) {
			t.Fatalf("discrete-only edit of %s", e.Param)
		}
		out, err := e.Apply(s, g)
		if err != nil || Validate(s, out) != nil || Equal(s, out, Clamp(s, g)) {
			t.Fatalf("edit %s: %v", e, err)
		}
	}
	base := Default(s)
	near, far := 0.0, 0.0
	for range 300 {
		near += Distance(s, base, Diversify(s, base, 0.2, rng))
		far += Distance(s, base, Diversify(s, base, 1.0, rng))
	}
	if near >= far {
		t.Fatalf("temperature 0.2 moved %v, 1.0 moved %v", near/300, far/300)
	}
}

// The two-value shortcut has the distribution of the general bootstrap: the
// same data with a third value added in a tiny amount takes the general
// path, and the intervals agree.
func TestBinaryBootstrapMatchesTheGeneralOne(t *testing.T) {
	for _, c := range []struct{ n, k int }{{10, 3}, {128, 64}, {128, 120}, {40, 1}} {
		data := make([]float64, c.n)
		for i := range c.k {
			data[i] = 1
		}
		l1, m1, h1 := BootstrapCI(data, 40000, sdk.NewRand(1))
		near := slices.Clone(data)
		near[c.n-1] += 1e-9 // a third distinct value: the general path
		if _, _, d := twoValues(near); d != 3 {
			t.Fatal("not a third value")
		}
		l2, m2, h2 := BootstrapCI(near, 40000, sdk.NewRand(2))
		tol := 1.5 / float64(c.n)
		if math.Abs(l1-l2) > tol || math.Abs(m1-m2) > tol || math.Abs(h1-h2) > tol {
			t.Fatalf("n %d k %d: shortcut (%v %v %v), general (%v %v %v)", c.n, c.k, l1, m1, h1, l2, m2, h2)
		}
	}
	if cdf := binomialCDF(4, 0.5); math.Abs(cdf[0]-1.0/16) > 1e-12 || math.Abs(cdf[2]-11.0/16) > 1e-12 || cdf[4] != 1 {
		t.Fatalf("binomial CDF %v", cdf)
	}
	if BootstrapDraws([]float64{0, 1, 1}, 100) != 0 || BootstrapDraws([]float64{0, 0.5, 1}, 100) != 300 {
		t.Fatal("BootstrapDraws")
	}
	// Values other than 0 and 1, in either order.
	lo, med, hi := BootstrapCI([]float64{5, 3, 5, 3}, 20000, sdk.NewRand(3))
	if !(lo >= 3 && lo < med && med < hi && hi <= 5) || math.Abs(med-4) > 0.01 {
		t.Fatalf("two values 3 and 5: (%v %v %v)", lo, med, hi)
	}
}
