package tsplib

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantDims is the DIMENSION of each instance, from its name and the shared README.
var wantDims = map[string]int{
	"eil51": 51, "berlin52": 52, "st70": 70, "eil76": 76, "pr76": 76,
	"kroA100": 100, "kroB100": 100, "rd100": 100, "eil101": 101, "lin105": 105,
	"ch130": 130, "ch150": 150, "kroA150": 150, "kroA200": 200, "a280": 280,
	"pr299": 299, "lin318": 318, "rd400": 400, "pcb442": 442, "rat783": 783,
}

func TestParseAllTwenty(t *testing.T) {
	files, err := filepath.Glob("data/*.tsp")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 20 {
		t.Fatalf("found %d instance files, want 20", len(files))
	}
	optima := readOptima(t)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := Parse(fh)
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f), ".tsp")
		if in.Name != name {
			t.Errorf("%s: NAME %q", f, in.Name)
		}
		if in.Len() != wantDims[name] || len(in.Y) != wantDims[name] {
			t.Errorf("%s: %d cities, want %d", name, in.Len(), wantDims[name])
		}
		if _, ok := optima[name]; !ok {
			t.Errorf("%s: no optimum in optima.txt", name)
		}
		// The identity tour is valid and no shorter than the optimum.
		id := make([]int, in.Len())
		for i := range id {
			id[i] = i
		}
		if err := in.ValidTour(id); err != nil {
			t.Errorf("%s: identity tour: %v", name, err)
		}
		if l := in.TourLength(id); l < optima[name] {
			t.Errorf("%s: identity tour %d is shorter than the optimum %d", name, l, optima[name])
		}
	}
	if len(optima) != 20 {
		t.Errorf("optima.txt has %d entries, want 20", len(optima))
	}
}

func readOptima(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open("data/optima.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Optima(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestKnownTourLength(t *testing.T) {
	in := mustLoad(t, "eil51")
	// Independent computation of the identity tour from the file's text.
	raw, err := os.ReadFile("data/eil51.tsp")
	if err != nil {
		t.Fatal(err)
	}
	var xs, ys []float64
	inSection := false
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "NODE_COORD_SECTION":
			inSection = true
		case line == "EOF":
			inSection = false
		case inSection && line != "":
			var id int
			var x, y float64
			if _, err := fmt.Sscan(line, &id, &x, &y); err != nil {
				t.Fatal(err)
			}
			xs, ys = append(xs, x), append(ys, y)
		}
	}
	want := 0
	for i := range xs {
		j := (i + 1) % len(xs)
		want += int(math.Floor(math.Hypot(xs[i]-xs[j], ys[i]-ys[j]) + 0.5))
	}
	id := make([]int, in.Len())
	for i := range id {
		id[i] = i
	}
	if got := in.TourLength(id); got != want {
		t.Errorf("identity tour of eil51: %d, want %d", got, want)
	}
	// Cities 1 (37,52) and 2 (49,49): sqrt(144+9) = 12.37 -> 12.
	if d := in.Dist(0, 1); d != 12 {
		t.Errorf("d(1,2) = %d, want 12", d)
	}
	if d := in.Dist(1, 0); d != 12 {
		t.Errorf("d(2,1) = %d, want 12", d)
	}
}

// TestOptimalTourLength checks the distance rule against the published
// optimal tour of eil51 (TSPLIB eil51.opt.tour), whose length is 426.
func TestOptimalTourLength(t *testing.T) {
	opt := []int{1, 22, 8, 26, 31, 28, 3, 36, 35, 20, 2, 29, 21, 16, 50, 34, 30, 9, 49, 10, 39, 33, 45, 15, 44, 42, 40, 19, 41, 13, 25, 14, 24, 43, 7, 23, 48, 6, 27, 51, 46, 12, 47, 18, 4, 17, 37, 5, 38, 11, 32}
	in := mustLoad(t, "eil51")
	tour := make([]int, len(opt))
	for i, c := range opt {
		tour[i] = c - 1
	}
	if err := in.ValidTour(tour); err != nil {
		t.Fatal(err)
	}
	if got := in.TourLength(tour); got != 426 {
		t.Errorf("optimal eil51 tour: %d, want 426", got)
	}
}

func TestValidTour(t *testing.T) {
	in := &Instance{Name: "t", X: []float64{0, 1, 2}, Y: []float64{0, 0, 0}}
	for _, c := range []struct {
		tour []int
		want string
	}{
		{[]int{0, 1}, "has 2 cities"},
		{[]int{0, 1, 3}, "outside"},
		{[]int{0, 1, 1}, "appears twice"},
		{[]int{0, -1, 2}, "outside"},
	} {
		err := in.ValidTour(c.tour)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.tour, err, c.want)
		}
	}
	if err := in.ValidTour([]int{2, 0, 1}); err != nil {
		t.Error(err)
	}
	if l := in.TourLength([]int{2, 0, 1}); l != 4 {
		t.Errorf("length %d, want 4", l)
	}
}

func TestParseHeaderVariants(t *testing.T) {
	src := "NAME:tiny\nCOMMENT : x: y\nTYPE : TSP\nDIMENSION :3\nEDGE_WEIGHT_TYPE: EUC_2D\nDISPLAY_DATA_TYPE : COORD_DISPLAY\nNODE_COORD_SECTION\n 2 3.0e0 4\n1 0 0\n\n3 -1.5 2\n" // no EOF
	in, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != "tiny" || in.Len() != 3 || in.X[1] != 3 || in.Y[1] != 4 || in.X[2] != -1.5 {
		t.Errorf("got %+v", in)
	}
	if d := in.Dist(0, 1); d != 5 {
		t.Errorf("d = %d, want 5", d)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	head := "NAME: t\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
	for _, c := range []struct {
		src, want string
	}{
		{"NAME: t\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: GEO\n", `line 4: EDGE_WEIGHT_TYPE "GEO" is not supported (want EUC_2D)`},
		{"NAME: t\nEDGE_WEIGHT_TYPE: ATT\n", `line 2: EDGE_WEIGHT_TYPE "ATT"`},
		{"NAME: t\nTYPE: ATSP\n", `line 2: TYPE "ATSP"`},
		{"NAME: t\nDIMENSION: many\n", `line 2: DIMENSION "many"`},
		{"NAME: t\nDIMENSION: 0\n", `line 2: DIMENSION "0"`},
		{"NAME: t\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n", "line 3: NODE_COORD_SECTION before DIMENSION"},
		{"NAME: t\nDIMENSION: 3\nNODE_COORD_SECTION\n", "line 3: NODE_COORD_SECTION before EDGE_WEIGHT_TYPE"},
		{"NAME: t\nDIMENSION: 3\nEDGE_WEIGHT_SECTION\n", `line 3: unsupported section or keyword "EDGE_WEIGHT_SECTION"`},
		{head + "1 0 0\n2 1\n", `line 7: node line "2 1"`},
		{head + "1 0 0\nx 1 1\n", `line 7: node id "x"`},
		{head + "1 0 0\n4 1 1\n", "line 7: node id 4 is outside [1, 3]"},
		{head + "1 0 0\n1 1 1\n", "line 7: node id 1 appears twice"},
		{head + "1 0 0\n2 1 y\n", `line 7: node 2: coordinate "y"`},
		{head + "1 0 0\n2 NaN 1\n", `line 7: node 2: coordinate "NaN"`},
		{head + "1 0 0\n2 1 1\nEOF\n", "line 8: NODE_COORD_SECTION has 2 of 3 nodes"},
		{head + "1 0 0\n2 1 1\n3 2 2\n4 3 3\nEOF\n", `line 9: "4 3 3" after all 3 nodes`},
		{"TYPE: TSP\nDIMENSION: 1\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\nEOF\n", "line 6: end of input without a NAME"},
		{"NAME: t\nEDGE_WEIGHT_TYPE: EUC_2D\n", "line 2: end of input without a DIMENSION"},
		{"NAME: t\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: EUC_2D\nEOF\n", "line 4: end of input without a NODE_COORD_SECTION"},
		{"", "line 0: end of input without a NAME"},
	} {
		_, err := Parse(strings.NewReader(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.src, err, c.want)
		}
	}
}

func TestOptima(t *testing.T) {
	m, err := Optima(strings.NewReader("# comment\n\neil51 : 426\nberlin52:7542\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["eil51"] != 426 || m["berlin52"] != 7542 || len(m) != 2 {
		t.Errorf("got %v", m)
	}
	for _, c := range []struct{ src, want string }{
		{"eil51 426\n", `line 1: "eil51 426"`},
		{"a : 1\nb : x\n", `line 2: length "x" of b`},
		{"a : 1\n\na : 2\n", "line 3: a appears twice"},
		{"a : -3\n", `line 1: length "-3"`},
		{": 3\n", "line 1:"},
	} {
		_, err := Optima(strings.NewReader(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.src, err, c.want)
		}
	}
}

func TestEmbeddedData(t *testing.T) {
	names, err := Names()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 20 || names[0] != "eil51" || names[19] != "rat783" {
		t.Errorf("names %v", names)
	}
	opt, err := KnownOptima()
	if err != nil {
		t.Fatal(err)
	}
	if opt["kroA100"] != 21282 || len(opt) != 20 {
		t.Errorf("optima %v", opt)
	}
	for _, n := range names {
		if _, ok := opt[n]; !ok {
			t.Errorf("%s has no optimum", n)
		}
	}
	// The embedded copies are the files in data/.
	for _, f := range []string{"eil51.tsp", "optima.txt", "README.md"} {
		emb, err := fs.ReadFile(Data(), f)
		if err != nil {
			t.Fatal(err)
		}
		disk, err := os.ReadFile(filepath.Join("data", f))
		if err != nil {
			t.Fatal(err)
		}
		if string(emb) != string(disk) {
			t.Errorf("embedded %s differs from data/%s", f, f)
		}
	}
	if _, err := Load("nosuch"); err == nil || !strings.Contains(err.Error(), `no embedded instance "nosuch"`) {
		t.Errorf("Load(nosuch): %v", err)
	}
}

func mustLoad(t *testing.T, name string) *Instance {
	t.Helper()
	in, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}
