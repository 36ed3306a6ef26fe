package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// Where a candidate's container sees its inputs.
const (
	sandboxSolver = "/opt/stratoswarm/tspsolver"
	sandboxData   = "/data"
	sandboxWork   = "/work"
)

// containerRunner runs each candidate in a container of its own: the
// solver binary and the instances bind-mounted read-only, the genome in a
// per-evaluation work directory, the candidate's limits on the cgroup.
// The candidate's output is its container's log.
type containerRunner struct {
	rt      container.Runtime
	image   string
	solver  string // host path of a static tspsolver
	data    string // host directory of the instances
	work    string // host directory of the per-evaluation directories
	limits  container.Limits
	timeout time.Duration
}

// newContainerRunner checks what a container needs: a runtime and a
// static solver binary (the container has no libc to link against).
func newContainerRunner(rt container.Runtime, runtimeName, image string, command []string, data, work string, limits container.Limits) (*containerRunner, error) {
	if rt == nil {
		return nil, fmt.Errorf("eval-runtime %s: this swarmd has no %s runtime: fix it (see swarmd's log at start) or set eval-runtime process to run candidates as plain processes", runtimeName, runtimeName)
	}
	if len(command) != 1 {
		return nil, fmt.Errorf("eval-runtime %s runs the tspsolver binary itself in a container; %q is a command with arguments: point --tspsolver at bin/tspsolver (make build) or set eval-runtime process", runtimeName, strings.Join(command, " "))
	}
	if err := checkStatic(command[0]); err != nil {
		return nil, fmt.Errorf("eval-runtime %s: %w: the container has no libc; use bin/tspsolver from make build (static) or set eval-runtime process", runtimeName, err)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("evaluation directory: %w", err)
	}
	if image == "" {
		image = "scratch"
	}
	return &containerRunner{rt: rt, image: image, solver: command[0], data: data, work: work, limits: limits, timeout: DefaultTaskTimeout}, nil
}

// checkStatic says whether the ELF file at p runs without a dynamic
// loader.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("solver %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("solver %s is dynamically linked", p)
		}
	}
	return nil
}

// run evaluates one candidate: the genome in its --genome file, the
// arguments after the solver with the instance last (a file of the
// instances directory), its output as the result.
func (r *containerRunner) run(ctx context.Context, genome []byte, args ...string) (out []byte, err error) {
	args = append([]string(nil), args...)
	if n := len(args); n > 0 {
		args[n-1] = sandboxData + "/" + args[n-1]
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	id := "eval-" + hex.EncodeToString(rnd[:])
	work := filepath.Join(r.work, id)
	if err := os.Mkdir(work, 0o755); err != nil {
		return nil, fmt.Errorf("evaluation directory: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "genome.json"), genome, 0o644); err != nil {
		return nil, fmt.Errorf("write the genome: %w", err)
	}
	spec := container.Spec{
		ID:      id,
		Image:   r.image,
		Command: append([]string{sandboxSolver, "--genome", sandboxWork + "/genome.json"}, args...),
		Mounts: []container.Mount{
			{Source: r.solver, Target: sandboxSolver, ReadOnly: true},
			{Source: r.data, Target: sandboxData, ReadOnly: true},
			{Source: work, Target: sandboxWork},
		},
		Limits: r.limits,
	}
	// Cleanup outlives a cancelled evaluation.
	bg := context.WithoutCancel(ctx)
	if err := r.rt.Create(bg, spec); err != nil {
		return nil, fmt.Errorf("create the candidate's container: %w", err)
	}
	defer func() {
		if derr := r.rt.Delete(bg, id); derr != nil && err == nil {
			err = fmt.Errorf("remove the candidate's container: %w", derr)
		}
	}()
	if err := r.rt.Start(bg, id); err != nil {
		return nil, fmt.Errorf("start the candidate: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	st, werr := r.rt.Wait(wctx, id)
	if werr != nil {
		_ = r.rt.Stop(bg, id, 0)
		if errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("the candidate ran past its %v limit and was killed", r.timeout)
		}
		return nil, fmt.Errorf("cancelled: %w", werr)
	}
	logs, err := r.logs(bg, id)
	if err != nil {
		return nil, err
	}
	switch {
	case st.OOMKilled:
		return nil, fmt.Errorf("the candidate was OOM-killed: it went over its memory limit of %d MiB", r.limits.Memory()>>20)
	case st.ExitCode != 0:
		return nil, fmt.Errorf("the candidate exited with status %d: %s", st.ExitCode, lastLine(logs))
	}
	// A solver prints one JSON line; anything else it printed is noise.
	lines := bytes.Split(bytes.TrimSpace(logs), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte("{")) {
			return lines[i], nil
		}
	}
	return logs, nil
}

// logs reads the container's output, at most maxResultBytes of it.
func (r *containerRunner) logs(ctx context.Context, id string) ([]byte, error) {
	rc, err := r.rt.Logs(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read the candidate's output: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxResultBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the candidate's output: %w", err)
	}
	if len(b) > maxResultBytes {
		return nil, fmt.Errorf("the candidate printed more than %d bytes", maxResultBytes)
	}
	return b, nil
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
