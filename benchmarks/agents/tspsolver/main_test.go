package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

const eil51 = "../../suites/tsplib/data/eil51.tsp"

// result is the CLI's JSON output, with the optional fields as pointers.
type result struct {
	Instance   string   `json:"instance"`
	Length     int      `json:"length"`
	Optimum    *int     `json:"optimum"`
	Gap        *float64 `json:"gap"`
	Tour       []int    `json:"tour"`
	TimeMS     *float64 `json:"time_ms"`
	Iterations *int     `json:"iterations"`
}

// exe runs the built command and returns stdout, stderr and the exit status.
func exe(t *testing.T, bin, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLI builds tspsolver with go build and runs it.
func TestCLI(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build tspsolver: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tspsolver")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	good := writeFile(t, "good.json", `{"construction":"greedy_edge","improvements":["2opt","oropt"],"neighbors":10,"perturbation":"double_bridge","perturbation_strength":10,"acceptance":"better","temperature":0.1,"max_iterations":300,"time_budget_ms":0}`)

	t.Run("happy path", func(t *testing.T) {
		stdout, stderr, code := exe(t, bin, "", "--genome", good, "--seed", "3", "--deterministic", eil51)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if strings.Count(stdout, "\n") != 1 {
			t.Errorf("want one line of JSON, got %q", stdout)
		}
		var r result
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		in, err := tsplib.Load("eil51")
		if err != nil {
			t.Fatal(err)
		}
		tour := make([]int, len(r.Tour))
		for i, c := range r.Tour {
			tour[i] = c - 1 // the output is 1-based
		}
		if err := in.ValidTour(tour); err != nil {
			t.Fatal(err)
		}
		if r.Instance != "eil51" || in.TourLength(tour) != r.Length {
			t.Errorf("instance %q, length %d, tour length %d", r.Instance, r.Length, in.TourLength(tour))
		}
		if r.Optimum == nil || *r.Optimum != 426 || r.Gap == nil || *r.Gap != float64(r.Length-426)/426 || *r.Gap > 0.03 {
			t.Errorf("optimum %v gap %v", r.Optimum, r.Gap)
		}
		if r.TimeMS == nil || *r.TimeMS < 0 || r.Iterations == nil || *r.Iterations != 300 {
			t.Errorf("time_ms %v iterations %v", r.TimeMS, r.Iterations)
		}
		// Same genome, seed and instance: the same bytes but time_ms.
		again, _, _ := exe(t, bin, "", eil51, "--deterministic", "--seed=3", "--genome="+good)
		strip := regexp.MustCompile(`"time_ms":[0-9.e+-]+`)
		if a, b := strip.ReplaceAllString(stdout, ""), strip.ReplaceAllString(again, ""); a != b {
			t.Errorf("deterministic runs differ:\n%s\n%s", a, b)
		}
	})

	t.Run("genome on stdin, wrapped", func(t *testing.T) {
		stdout, stderr, code := exe(t, bin, `{"id":"c-0007","genome":{"max_iterations":5,"neighbors":5}}`, "--genome", "-", "--deterministic", eil51)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r result
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || *r.Iterations != 5 {
			t.Errorf("%v: %s", err, stdout)
		}
	})

	t.Run("default genome, instance on stdin, unknown instance", func(t *testing.T) {
		src := "NAME: square\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 10 10\n3 0 10\n4 10 0\nEOF\n"
		stdout, stderr, code := exe(t, bin, src, "-")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r result
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		if r.Instance != "square" || r.Length != 40 || r.Optimum != nil || r.Gap != nil || strings.Contains(stdout, "optimum") {
			t.Errorf("got %s", stdout)
		}
	})

	t.Run("a renamed copy has no optimum", func(t *testing.T) {
		raw, err := os.ReadFile(eil51)
		if err != nil {
			t.Fatal(err)
		}
		moved := strings.Replace(string(raw), "\n1 37 52\n", "\n1 38 52\n", 1)
		stdout, stderr, code := exe(t, bin, "", writeFile(t, "x.tsp", moved))
		if code != 0 || strings.Contains(stdout, "optimum") {
			t.Errorf("exit %d, %s%s", code, stdout, stderr)
		}
	})

	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"unknown genome key", "", []string{"--genome", writeFile(t, "g.json", `{"neighbours":8}`), eil51}, `unknown key "neighbours"`},
		{"wrong type", `{"neighbors":"ten"}`, []string{"--genome", "-", eil51}, `key "neighbors": want a number`},
		{"out of range", `{"genome":{"perturbation_strength":0}}`, []string{"--genome", "-", eil51}, `key "perturbation_strength": 0 is outside [1, 50]`},
		{"bad step", `{"improvements":["2opt","lk"]}`, []string{"--genome", "-", eil51}, `key "improvements": step 1: "lk"`},
		{"missing genome file", "", []string{"--genome", "/nonexistent/g.json", eil51}, "/nonexistent/g.json"},
		{"missing instance", "", []string{"/nonexistent/x.tsp"}, "/nonexistent/x.tsp: no such file"},
		{"unreadable instance", "", []string{t.TempDir()}, "reading the instance"},
		{"not EUC_2D", "", []string{writeFile(t, "geo.tsp", "NAME: g\nTYPE: TSP\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: GEO\nNODE_COORD_SECTION\n1 0 0\n2 1 1\nEOF\n")}, `line 4: EDGE_WEIGHT_TYPE "GEO" is not supported (want EUC_2D)`},
		{"malformed instance", "", []string{writeFile(t, "bad.tsp", "NAME: b\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 x 1\nEOF\n")}, `line 6: node 2: coordinate "x"`},
		{"no instance", "", nil, "want one instance file"},
		{"two instances", "", []string{eil51, eil51}, "want one instance file, got 2"},
		{"both on stdin", "", []string{"--genome", "-", "-"}, "cannot both be read from stdin"},
		{"bad flag", "", []string{"--seeds", "3", eil51}, "flag provided but not defined: -seeds"},
		{"bad seed", "", []string{"--seed", "-1", eil51}, "invalid value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := exe(t, bin, c.stdin, c.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stdout %q)", code, stdout)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not contain %q", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		_, stderr, code := exe(t, bin, "", "-h")
		if code != 0 || !strings.Contains(stderr, "usage: tspsolver") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
}
