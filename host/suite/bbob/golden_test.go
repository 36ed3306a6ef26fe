package bbob

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// COCO's regression test data for the bbob suite: numbbo/coco,
// code-experiments/test/regression-test/data/regression_test_2data_for_suite_bbob.py
// (commit 1bb9287b7fdb2c6a08c8ebbe6d4f36825d382938). That file is a Python
// dict {(problem_index, x): (f(x), [])} written by
// code-experiments/test/regression-test/create/create_suite_data.py with
// cocoex; test_suites.py checks it against
// cocoex.Suite("bbob", "year: 0000", ""), whose instances are 1-5,51-60.
// testdata/regression_bbob_part*.txt hold consecutive stretches of that file,
// copied verbatim (whole entries only).

// goldenInstances are the instances of "year: 0000" (suite_bbob.c,
// suite_bbob_get_instances_by_year).
var goldenInstances = [...]int{1, 2, 3, 4, 5, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60}

// goldenEntry matches one (index, (x...)): (f, []) item.
var goldenEntry = regexp.MustCompile(`\((\d+), \(([^()]*)\)\): \(([^,()]+), \[\]\)`)

type goldenCase struct {
	index int
	x     []float64
	f     float64
}

// decodeIndex is coco_suite_decode_problem_index for 24 functions,
// 6 dimensions and 15 instances.
func decodeIndex(index int) (function, dimension, instance int) {
	dims := Dimensions()
	n := len(goldenInstances)
	dimIdx := index / (n * NumFunctions)
	rem := index % (n * NumFunctions)
	return rem/n + 1, dims[dimIdx], goldenInstances[rem%n]
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "regression_bbob_part*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden data: %v", err)
	}
	var cases []goldenCase
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goldenEntry.FindAllStringSubmatch(string(data), -1) {
			idx, err := strconv.Atoi(m[1])
			if err != nil {
				t.Fatal(err)
			}
			var x []float64
			for _, s := range strings.Split(m[2], ",") {
				v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil {
					t.Fatalf("%s: entry %d: %v", name, idx, err)
				}
				x = append(x, v)
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(m[3]), 64)
			if err != nil {
				t.Fatalf("%s: entry %d: %v", name, idx, err)
			}
			cases = append(cases, goldenCase{idx, x, f})
		}
	}
	return cases
}

// TestGoldenCOCORegression compares Eval with the values COCO computed.
// COCO's own test accepts |a-b| < 1e-9 or a relative error below 2e-9; this
// test asks for 1e-8 relative (absolute below magnitude 1), as the task
// requires, and reports the worst error seen.
func TestGoldenCOCORegression(t *testing.T) {
	cases := loadGolden(t)
	if len(cases) < 200 {
		t.Fatalf("only %d golden cases parsed", len(cases))
	}
	perFunction := make(map[int]int)
	perDimension := make(map[int]int)
	worst := 0.0
	worstName := ""
	for _, c := range cases {
		fn, dim, inst := decodeIndex(c.index)
		if len(c.x) != dim {
			t.Fatalf("entry %d: %d variables, index says %d", c.index, len(c.x), dim)
		}
		p, err := New(fn, dim, inst)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Eval(c.x)
		rel := math.Abs(got-c.f) / math.Max(1, math.Abs(c.f))
		if rel > worst {
			worst, worstName = rel, p.Name()
		}
		if rel > 1e-8 {
			t.Errorf("%s (index %d): f(x) = %.17g, COCO %.17g (relative error %.3g)", p.Name(), c.index, got, c.f, rel)
		}
		perFunction[fn]++
		perDimension[dim]++
	}
	for fn := 1; fn <= NumFunctions; fn++ {
		if perFunction[fn] == 0 {
			t.Errorf("no golden case for f%d", fn)
		}
	}
	for _, d := range Dimensions() {
		if perDimension[d] == 0 {
			t.Errorf("no golden case in %d-D", d)
		}
	}
	t.Logf("%d golden cases, per function %v, per dimension %v; worst relative error %.3g (%s)",
		len(cases), perFunction, perDimension, worst, worstName)
}
