package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// DefaultTaskTimeout bounds one process evaluation unless a suite says
// otherwise.
const DefaultTaskTimeout = 60 * time.Second

// maxResultBytes bounds what a candidate process may print.
const maxResultBytes = 16 << 20

// tspSuite runs the tspsolver example agent on TSPLIB instances, one
// process per evaluation, and scores the tour by its gap to the published
// optimum (minimised) and the solver's time (minimised).
type tspSuite struct {
	name    string
	tasks   []Task
	subsets map[string][]string
	dir     string // the instances, unpacked
	run     candidateRunner
	limits  container.Limits // each evaluation's, defaults merged
}

// candidateRunner runs the solver with a genome on one instance (its file
// name in the suite's directory) and returns what it printed.
type candidateRunner interface {
	run(ctx context.Context, genome []byte, args ...string) ([]byte, error)
}

// tsplibMaxCities keeps "tsplib" to instances a solver handles in well under
// a second each.
const tsplibMaxCities = 200

func newTSPLIB(name string, c Catalog, limits container.Limits) (Suite, error) {
	if len(c.TSPSolver) == 0 {
		return nil, fmt.Errorf("suite %s needs the tspsolver example agent, and none was found beside this binary or on PATH: build it with `make build` (bin/tspsolver) or set swarmd's --tspsolver", name)
	}
	names, err := tsplib.Names()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.DataDir, "tsplib")
	if err := unpack(tsplib.Data(), dir); err != nil {
		return nil, fmt.Errorf("suite %s: unpack the instances: %w", name, err)
	}
	s := &tspSuite{name: name, dir: dir, limits: limits}
	switch c.Runtime {
	case "", "process":
		s.run = processRunner{command: c.TSPSolver, timeout: DefaultTaskTimeout, dir: dir}
	default:
		r, err := newContainerRunner(c.Runtimes[c.Runtime], c.Runtime, c.Image, c.TSPSolver, dir, filepath.Join(c.DataDir, "evaluations"), limits)
		if err != nil {
			return nil, fmt.Errorf("suite %s: %w", name, err)
		}
		s.run = r
	}
	small := []string{"eil51", "berlin52", "st70"}
	if name == "tsplib-small" {
		for _, n := range small {
			s.tasks = append(s.tasks, Task{Name: n})
		}
		s.subsets = map[string][]string{"small": small[:1], "full": small}
		return s, nil
	}
	for _, n := range names {
		in, err := tsplib.Load(n)
		if err != nil {
			return nil, err
		}
		if in.Len() <= tsplibMaxCities {
			s.tasks = append(s.tasks, Task{Name: n})
		}
	}
	s.subsets = map[string][]string{"small": small, "medium": TaskNames(s.tasks[:min(8, len(s.tasks))]), "full": TaskNames(s.tasks)}
	return s, nil
}

// unpack writes the embedded instances into dir (once; files that exist
// with the right size are kept).
func unpack(data fs.FS, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(data, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(data, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if st, err := os.Stat(dst); err == nil && st.Size() == int64(len(b)) {
			return nil
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, dst)
	})
}

func (s *tspSuite) Name() string                 { return s.name }
func (s *tspSuite) Tasks() []Task                { return s.tasks }
func (s *tspSuite) Subsets() map[string][]string { return s.subsets }
func (s *tspSuite) Objectives() []Objective {
	return []Objective{{Name: "gap"}, {Name: "time_ms"}}
}

func (s *tspSuite) Space() *v1.SearchSpace {
	sp := &v1.SearchSpace{}
	if err := protojson.Unmarshal(solver.Space(), sp); err != nil {
		panic(fmt.Sprintf("tspsolver: its search space does not parse: %v", err)) // a build-time bug
	}
	return sp
}

// Baseline is the incumbent design evolutions are measured against: the
// solver's default genome.
func (s *tspSuite) Baseline() map[string]any { return solver.DefaultGenome().Map() }

// tspResult is what tspsolver prints.
type tspResult struct {
	Instance string   `json:"instance"`
	Length   *int64   `json:"length"`
	Gap      *float64 `json:"gap"`
	Tour     []int    `json:"tour"`
	TimeMS   float64  `json:"time_ms"`
}

func (s *tspSuite) Evaluate(ctx context.Context, genome map[string]any, task Task, seed uint64) Outcome {
	start := time.Now()
	fail := func(format string, a ...any) Outcome {
		return Outcome{Failed: true, Reason: fmt.Sprintf(format, a...), Duration: time.Since(start)}
	}
	g, err := json.Marshal(genome)
	if err != nil {
		return fail("encode the genome: %v", err)
	}
	out, err := s.run.run(ctx, g, "--seed", strconv.FormatUint(seed, 10), "--deterministic", task.Name+".tsp")
	if err != nil {
		return fail("%v", err)
	}
	var r tspResult
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&r); err != nil {
		return fail("the candidate printed something that is not a tspsolver result (%v): %.120q", err, out)
	}
	if r.Gap == nil || r.Length == nil || math.IsNaN(*r.Gap) || *r.Gap < -1e-9 {
		return fail("the candidate's result lacks a valid length and gap: %.120q", out)
	}
	in, err := tsplib.Load(task.Name)
	if err == nil {
		if err := in.ValidTour(toZeroBased(r.Tour)); err != nil {
			return fail("the candidate's tour is not a tour of %s: %v", task.Name, err)
		}
		if got := int64(in.TourLength(toZeroBased(r.Tour))); got != *r.Length {
			return fail("the candidate claims length %d but its tour measures %d", *r.Length, got)
		}
	}
	return Outcome{Scores: map[string]float64{"gap": *r.Gap, "time_ms": r.TimeMS}, Duration: time.Since(start)}
}

func toZeroBased(tour []int) []int {
	out := make([]int, len(tour))
	for i, c := range tour {
		out[i] = c - 1
	}
	return out
}

// processRunner runs a candidate as a plain process (eval-runtime
// process): the genome on stdin, the arguments after the command with the
// instance last (a file in dir), one JSON result on stdout.
type processRunner struct {
	command []string
	timeout time.Duration
	dir     string
}

// run starts the process in its own process group, so that a candidate that
// hangs is killed with everything it started.
func (r processRunner) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	args = append([]string{"--genome", "-"}, args...)
	if n := len(args); n > 0 {
		args[n-1] = filepath.Join(r.dir, args[n-1])
	}
	cmd := exec.Command(r.command[0], append(append([]string{}, r.command[1:]...), args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxResultBytes, 64<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", r.command[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("the candidate ran past its %v limit and was killed", r.timeout)
		}
		return nil, fmt.Errorf("cancelled: %w", ctx.Err())
	}
	// Reap anything the candidate left behind in its group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if stdout.over {
		return nil, fmt.Errorf("the candidate printed more than %d bytes", maxResultBytes)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("the candidate exited with %s: %s", exit.ProcessState, msg)
		}
		return nil, fmt.Errorf("the candidate failed: %w: %s", err, msg)
	}
	return stdout.Bytes(), nil
}

// limitedBuffer keeps the first max bytes written and notes the overflow.
type limitedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room < len(p) {
		b.over = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

func (b *limitedBuffer) String() string { return string(b.Bytes()) }

var _ io.Writer = (*limitedBuffer)(nil)
