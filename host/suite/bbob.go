package suite

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/suite/bbob"
)

// bbobSuite is one BBOB function instance as a one-task suite. The genome
// is the point: x0 … x<D-1> in [-5, 5]. It reports delta_f = f(x) − fopt
// (minimised), as COCO measures it.
type bbobSuite struct {
	name string
	p    *bbob.Problem
}

// parseBBOB reads "bbob-f<F>-d<D>[-i<I>]".
func parseBBOB(name string) (Suite, error) {
	bad := func(why string) error {
		return fmt.Errorf("suite %q: %s: write bbob-f<function 1..24>-d<dimension 2..40>[-i<instance>], e.g. bbob-f8-d10", name, why)
	}
	parts := strings.Split(strings.TrimPrefix(name, "bbob-"), "-")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, bad("wrong number of parts")
	}
	num := func(s, prefix string) (int, error) {
		if !strings.HasPrefix(s, prefix) {
			return 0, bad(fmt.Sprintf("%q should start with %q", s, prefix))
		}
		n, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
		if err != nil {
			return 0, bad(fmt.Sprintf("%q is not a number after %q", s, prefix))
		}
		return n, nil
	}
	f, err := num(parts[0], "f")
	if err != nil {
		return nil, err
	}
	d, err := num(parts[1], "d")
	if err != nil {
		return nil, err
	}
	inst := 1
	if len(parts) == 3 {
		if inst, err = num(parts[2], "i"); err != nil {
			return nil, err
		}
	}
	p, err := bbob.New(f, d, inst)
	if err != nil {
		return nil, fmt.Errorf("suite %q: %w", name, err)
	}
	return &bbobSuite{name: name, p: p}, nil
}

// NewBBOB returns the one-task suite of a BBOB function instance.
func NewBBOB(function, dimension, instance int) (Suite, error) {
	return parseBBOB(fmt.Sprintf("bbob-f%d-d%d-i%d", function, dimension, instance))
}

func (s *bbobSuite) Name() string                 { return s.name }
func (s *bbobSuite) Tasks() []Task                { return []Task{{Name: s.p.Name()}} }
func (s *bbobSuite) Subsets() map[string][]string { return map[string][]string{} }
func (s *bbobSuite) Objectives() []Objective      { return []Objective{{Name: "delta_f"}} }

// Problem exposes the BBOB problem (benchmarks read fopt and xopt).
func (s *bbobSuite) Problem() *bbob.Problem { return s.p }

func (s *bbobSuite) Space() *v1.SearchSpace {
	lo, hi := s.p.Bounds()
	sp := &v1.SearchSpace{}
	for i := range s.p.Dimension() {
		sp.Parameters = append(sp.Parameters, &v1.Parameter{Name: "x" + strconv.Itoa(i), Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: lo, Max: hi}}})
	}
	return sp
}

func (s *bbobSuite) Evaluate(_ context.Context, genome map[string]any, _ Task, _ uint64) Outcome {
	start := time.Now()
	x := make([]float64, s.p.Dimension())
	for i := range x {
		v, ok := genome["x"+strconv.Itoa(i)].(float64)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return Outcome{Failed: true, Reason: fmt.Sprintf("genome: x%d is missing or not a finite number", i), Duration: time.Since(start)}
		}
		x[i] = v
	}
	return Outcome{Scores: map[string]float64{"delta_f": s.p.DeltaF(x)}, Duration: time.Since(start)}
}
