// Command tspsolver is Stratoswarm's example agent: a TSP heuristic whose
// genome is its design (see package solver and README.md). It solves one
// TSPLIB EUC_2D instance with the design in a genome file and prints one
// JSON object on stdout:
//
//	tspsolver --genome GENOME.json [--seed N] [--deterministic] INSTANCE.tsp
//
// As an agent it serves the same over HTTP (see serve.go):
//
//	tspsolver serve [--listen ADDR] [--genome GENOME.json] [--max-concurrent N]
//
// and, to make live traffic for an agent, sends it solve requests:
//
//	tspsolver load --target HOST:PORT [--concurrency N] [--duration D]
//
// Exit status 2 means bad arguments, a bad genome or an unreadable or
// unsupported instance (the message on stderr names the key or the line).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // the solver failed (a bug)
	exitUsage  = 2 // bad arguments, genome or instance
)

// output is the JSON object printed on success.
type output struct {
	Instance   string   `json:"instance"`
	Length     int      `json:"length"`
	Optimum    *int     `json:"optimum,omitempty"`
	Gap        *float64 `json:"gap,omitempty"`
	Tour       []int    `json:"tour"`
	TimeMS     float64  `json:"time_ms"`
	Iterations int      `json:"iterations"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError is a problem with the command line, genome or instance.
type usageError struct{ err error }

// Error returns the message of the wrapped error.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e usageError) Unwrap() error { return e.err }

// run is the command with its arguments and streams; it returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return serve(args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "load" {
		return load(args[1:], stdout, stderr)
	}
	out, err := solve(args, stdin, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tspsolver: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailed
	}
	b, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(stderr, "tspsolver: encoding the result: %v\n", err)
		return exitFailed
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
		fmt.Fprintf(stderr, "tspsolver: writing the result: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// solve parses the arguments, reads the genome and the instance, and runs
// the solver.
func solve(args []string, stdin io.Reader, stderr io.Writer) (*output, error) {
	flags := flag.NewFlagSet("tspsolver", flag.ContinueOnError)
	flags.SetOutput(stderr)
	genomePath := flags.String("genome", "", "genome JSON file (`PATH`, or - for stdin); default: the default genome")
	seed := flags.Uint64("seed", 1, "random seed")
	deterministic := flags.Bool("deterministic", false, "ignore time_budget_ms: only max_iterations bounds the run, so the output is reproducible (except time_ms)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: tspsolver [--genome GENOME.json|-] [--seed N] [--deterministic] INSTANCE.tsp|-")
		flags.PrintDefaults()
	}
	// Flags may come before or after the instance.
	var positional []string
	for {
		if err := flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = flags.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) != 1 {
		flags.Usage()
		return nil, usageError{fmt.Errorf("want one instance file, got %d arguments", len(positional))}
	}
	instPath := positional[0]
	if instPath == "-" && *genomePath == "-" {
		return nil, usageError{errors.New("the genome and the instance cannot both be read from stdin")}
	}

	g := solver.DefaultGenome()
	if *genomePath != "" {
		data, err := readInput(*genomePath, stdin)
		if err != nil {
			return nil, usageError{fmt.Errorf("reading the genome: %w", err)}
		}
		if g, err = solver.ParseGenome(data); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", inputName(*genomePath), err)}
		}
	}
	data, err := readInput(instPath, stdin)
	if err != nil {
		return nil, usageError{fmt.Errorf("reading the instance: %w", err)}
	}
	in, err := tsplib.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, usageError{fmt.Errorf("instance %s: %w", inputName(instPath), err)}
	}

	start := time.Now()
	res, err := solver.Solve(in, g, solver.Options{Seed: *seed, Deterministic: *deterministic})
	elapsed := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("solving %s: %w", in.Name, err)
	}
	if err := in.ValidTour(res.Tour); err != nil {
		return nil, fmt.Errorf("solving %s: invalid tour: %w", in.Name, err)
	}
	out := &output{
		Instance:   in.Name,
		Length:     res.Length,
		Tour:       make([]int, len(res.Tour)),
		TimeMS:     math.Round(float64(elapsed.Nanoseconds())/1e3) / 1e3,
		Iterations: res.Iterations,
	}
	for i, c := range res.Tour {
		out.Tour[i] = c + 1
	}
	if opt, ok := knownOptimum(in); ok {
		gap := float64(res.Length-opt) / float64(opt)
		out.Optimum, out.Gap = &opt, &gap
	}
	return out, nil
}

// knownOptimum returns the published optimum of in if in is one of the
// embedded suite instances: same NAME and the same coordinates.
func knownOptimum(in *tsplib.Instance) (int, bool) {
	optima, err := tsplib.KnownOptima()
	if err != nil {
		return 0, false
	}
	opt, ok := optima[in.Name]
	if !ok {
		return 0, false
	}
	ref, err := tsplib.Load(in.Name)
	if err != nil || !slices.Equal(ref.X, in.X) || !slices.Equal(ref.Y, in.Y) {
		return 0, false
	}
	return opt, true
}

// inputName names path in messages.
func inputName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// readInput reads the file at path, or stdin for "-".
func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	return b, nil
}
