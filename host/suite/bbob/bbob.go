// Package bbob implements the 24 noiseless functions of the COCO "bbob"
// suite (numbbo/coco, code-experiments/src/suite_bbob.c), which reproduce
// the BBOB-2009 definitions: the same pseudo-random generator, the same
// optimum location xopt and offset fopt per (function, dimension,
// instance), the same rotations, transformations (T_osz, T_asy, Λ^α, f_pen)
// and constants. Values computed here can therefore be compared with
// published COCO results, and Δf = f(x) − fopt is the quantity COCO's
// loggers record.
//
// A Problem is immutable once built: Eval is a pure function of its
// argument, allocates nothing and is safe for concurrent use. See README.md
// for the provenance of each piece and of the golden test data.
package bbob

import (
	"fmt"
	"math"
	"slices"
)

// Limits accepted by New.
const (
	// NumFunctions is the number of noiseless BBOB functions, f1 to f24.
	NumFunctions = 24
	// MinDimension is the smallest supported dimension; several BBOB
	// definitions divide by D-1.
	MinDimension = 2
	// MaxDimension is the largest supported dimension, the largest of the
	// bbob suite (the legacy rotation code of COCO asserts D*D < 2000).
	MaxDimension = 40
	// MaxInstance is the largest accepted instance number; it keeps every
	// seed of the legacy generator far inside its exact range.
	MaxInstance = 1000000
	// LowerBound is the lower end of the region of interest in every
	// coordinate.
	LowerBound = -5.0
	// UpperBound is the upper end of the region of interest in every
	// coordinate.
	UpperBound = 5.0
)

// Dimensions are the dimensions of COCO's bbob suite.
func Dimensions() []int { return []int{2, 3, 5, 10, 20, 40} }

// Problem is one BBOB function instance in one dimension.
type Problem struct {
	function, dimension, instance int

	fopt float64
	best []float64 // the optimum reported by Xopt

	// Data of the transformations; which fields are set depends on the
	// function, see the setup functions in functions.go.
	xopt   []float64 // shift vector of the search space
	rot1   []float64 // row-major d×d rotation R
	rot2   []float64 // row-major d×d rotation Q
	m      []float64 // row-major d×d affine matrix (often R Λ Q)
	lambda []float64 // diagonal scaling factors
	scale  float64   // scalar factor (f8, f9, f19), penalty factor, ...
	signs  []float64 // ±1 per coordinate (f20, f24)
	weight []float64 // weights of the raw function (f7)

	gallagher *gallagherData
	weier     *weierstrassData

	eval func(p *Problem, x []float64) float64
}

// New returns function (1..24) of the bbob suite in the given dimension
// (2..40) and instance (1..MaxInstance). Instance numbers are COCO's: the
// same instance of the same function has the same xopt, fopt and rotations
// as bbob_fFFF_iII_dDD in COCO.
func New(function, dimension, instance int) (*Problem, error) {
	if function < 1 || function > NumFunctions {
		return nil, fmt.Errorf("bbob: function %d out of range [1, %d]", function, NumFunctions)
	}
	if dimension < MinDimension || dimension > MaxDimension {
		return nil, fmt.Errorf("bbob: dimension %d out of range [%d, %d]", dimension, MinDimension, MaxDimension)
	}
	if instance < 1 || instance > MaxInstance {
		return nil, fmt.Errorf("bbob: instance %d out of range [1, %d]", instance, MaxInstance)
	}
	p := &Problem{function: function, dimension: dimension, instance: instance}
	// suite_bbob.c, coco_get_bbob_problem: the seed of a problem; f4 and
	// f18 reuse the seeds of f3 and f17.
	seedFunction := function
	switch function {
	case 4:
		seedFunction = 3
	case 18:
		seedFunction = 17
	}
	rseed := int64(seedFunction) + 10000*int64(instance)
	p.fopt = legacyFopt(function, instance)
	p.setup(rseed)
	return p, nil
}

// Function returns the function number, 1..24.
func (p *Problem) Function() int { return p.function }

// Dimension returns the number of variables.
func (p *Problem) Dimension() int { return p.dimension }

// Instance returns the instance number.
func (p *Problem) Instance() int { return p.instance }

// Eval returns f(x). It panics if len(x) differs from the dimension and
// returns NaN if x contains a NaN, as COCO does. Points outside [-5, 5]^D
// are valid; several functions add COCO's boundary penalty there.
func (p *Problem) Eval(x []float64) float64 {
	if len(x) != p.dimension {
		panic(fmt.Sprintf("bbob: %s: got %d variables, want %d", p.Name(), len(x), p.dimension))
	}
	if slices.ContainsFunc(x, math.IsNaN) {
		return math.NaN()
	}
	return p.eval(p, x)
}

// Fopt returns the optimal value f(xopt), COCO's bbob2009_compute_fopt for
// this function and instance.
func (p *Problem) Fopt() float64 { return p.fopt }

// DeltaF returns f(x) - Fopt(), the precision COCO's loggers record. It is
// non-negative up to rounding (about 1e-12 relative to the magnitude of
// Fopt).
func (p *Problem) DeltaF(x []float64) float64 { return p.Eval(x) - p.fopt }

// Xopt returns a copy of the location of the optimum, COCO's best_parameter.
// For most functions it is the shift vector xopt of the definition, where
// Eval returns Fopt exactly or up to rounding. The exceptions:
//
//   - f5 (linear slope): the optimum is the corner of [-5, 5]^D with the
//     signs of xopt; f equals Fopt on the whole orthant region beyond it.
//   - f8 (Rosenbrock): xopt scaled by 0.75, as in COCO.
//   - f9 (rotated Rosenbrock) and f19 (Griewank-Rosenbrock): R^T 1/(2s),
//     where the transformed variable z is all ones.
//   - f20 (Schwefel): 0.5 * 4.2096874633 * sign(xopt), COCO's approximation
//     of the optimum; Eval there exceeds Fopt by less than 1e-8.
//   - f21, f22 (Gallagher): the centre of the highest peak.
//   - f24 (Lunacek bi-Rastrigin): 1.25 * sign, where the first funnel has
//     its minimum.
func (p *Problem) Xopt() []float64 { return slices.Clone(p.best) }

// Name returns COCO's problem id, for example "bbob_f008_i01_d10".
func (p *Problem) Name() string {
	return fmt.Sprintf("bbob_f%03d_i%02d_d%02d", p.function, p.instance, p.dimension)
}

// Bounds returns the region of interest in every coordinate, [-5, 5].
func (p *Problem) Bounds() (lo, hi float64) { return LowerBound, UpperBound }

// String returns Name.
func (p *Problem) String() string { return p.Name() }
