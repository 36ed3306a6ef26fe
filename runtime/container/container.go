// Package container defines what every container backend provides: the
// Runtime interface, the Spec of a container and its Status. The backends
// (runtime/containerd today; a native one to come) pass one conformance
// suite, runtime/container/conformance.
package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Spec is a container to run.
type Spec struct {
	// ID names the container within its runtime: 1-63 lowercase letters,
	// digits and '-'.
	ID string
	// Image is an image reference the runtime knows (containerd: an
	// imported image's name).
	Image string
	// Command is the program and its arguments; empty runs the image's
	// default command.
	Command []string
	// Env is KEY=VALUE pairs added to the image's environment.
	Env []string
	// Hostname is the container's own hostname (default: its ID).
	Hostname string
	// Mounts bind host paths into the container.
	Mounts []Mount
	// Limits bound the container's resources; zero fields mean no limit.
	Limits Limits
}

// Mount binds a host path into the container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Limits are cgroup limits and per-tier memory quotas.
type Limits struct {
	// MemoryBytes caps memory (the CPU tier); past it the kernel OOM-kills.
	// Runtimes apply Memory, which prefers the CPU tier's quota.
	MemoryBytes int64
	// CPUs is a CPU quota in cores (0.5 = half a core).
	CPUs float64
	// Pids caps the number of processes.
	Pids int64
	// Tiers are per-tier memory quotas in bytes; a missing or zero entry
	// means no quota. The CPU tier's is the cgroup memory limit (see
	// Memory); the others are carried for the tier manager, which enforces
	// them once it exists; runtimes ignore them today.
	Tiers map[Tier]int64
}

// Tier names a memory tier: GPU memory, main memory (the CPU tier) and the
// storage tiers pages may be moved to.
type Tier string

// The tiers, fastest first.
const (
	TierGPU  Tier = "gpu"
	TierCPU  Tier = "cpu"
	TierNVMe Tier = "nvme"
	TierSSD  Tier = "ssd"
	TierHDD  Tier = "hdd"
)

// KnownTiers lists the tiers, fastest first.
func KnownTiers() []Tier { return []Tier{TierGPU, TierCPU, TierNVMe, TierSSD, TierHDD} }

// Known reports whether t is one of KnownTiers.
func (t Tier) Known() bool { return slices.Contains(KnownTiers(), t) }

// Memory is the cgroup memory limit in bytes: the CPU tier's quota when it
// is set, else MemoryBytes; 0 means no limit.
func (l Limits) Memory() int64 {
	if q := l.Tiers[TierCPU]; q > 0 {
		return q
	}
	return l.MemoryBytes
}

// LimitError is a Limits value that Validate refuses.
type LimitError struct {
	// Field is the Limits field at fault: "MemoryBytes", "CPUs", "Pids"
	// or "Tiers".
	Field string
	// Tier is the key at fault when Field is "Tiers".
	Tier Tier
	// Msg says what is wrong and what to do.
	Msg string
}

// Error names the field and says what is wrong.
func (e *LimitError) Error() string {
	f := e.Field
	if f == "Tiers" {
		f = fmt.Sprintf("Tiers[%q]", string(e.Tier))
	}
	return "limits: " + f + ": " + e.Msg
}

// Validate checks what every runtime refuses: negative values, a CPU
// quota that is not a finite number, unknown tier names, and a memory
// limit given twice (MemoryBytes and the CPU tier) with two values. The
// error is a *LimitError. Runtimes may refuse more (a CPU quota below
// what the kernel can enforce).
func (l Limits) Validate() error {
	switch {
	case l.MemoryBytes < 0:
		return &LimitError{Field: "MemoryBytes", Msg: fmt.Sprintf("%d must not be negative (0 means no limit)", l.MemoryBytes)}
	case math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0):
		return &LimitError{Field: "CPUs", Msg: fmt.Sprintf("%v is not a finite number of cores", l.CPUs)}
	case l.CPUs < 0:
		return &LimitError{Field: "CPUs", Msg: fmt.Sprintf("%v must not be negative (0 means no limit)", l.CPUs)}
	case l.Pids < 0:
		return &LimitError{Field: "Pids", Msg: fmt.Sprintf("%d must not be negative (0 means no limit)", l.Pids)}
	}
	names := make([]string, 0, len(KnownTiers()))
	for _, t := range KnownTiers() {
		names = append(names, string(t))
	}
	keys := make([]Tier, 0, len(l.Tiers))
	for t := range l.Tiers {
		keys = append(keys, t)
	}
	slices.Sort(keys) // report the same key first every time
	for _, t := range keys {
		switch q := l.Tiers[t]; {
		case !t.Known():
			return &LimitError{Field: "Tiers", Tier: t, Msg: fmt.Sprintf("unknown tier %q: the tiers are %s", string(t), strings.Join(names, ", "))}
		case q < 0:
			return &LimitError{Field: "Tiers", Tier: t, Msg: fmt.Sprintf("%d must not be negative (0 means no quota)", q)}
		}
	}
	if q := l.Tiers[TierCPU]; q > 0 && l.MemoryBytes > 0 && q != l.MemoryBytes {
		return &LimitError{Field: "Tiers", Tier: TierCPU, Msg: fmt.Sprintf("the cpu tier quota (%d bytes) and the memory limit (%d bytes) both set the cgroup memory limit and differ: drop the memory limit and keep the cpu tier quota, or give both the same value", q, l.MemoryBytes)}
	}
	return nil
}

// WithDefaults returns l with its unset fields taken from d. The memory
// limit is one setting: when l sets neither MemoryBytes nor the CPU tier,
// both come from d. Other tiers are taken from d one by one.
func (l Limits) WithDefaults(d Limits) Limits {
	out := Limits{MemoryBytes: l.MemoryBytes, CPUs: l.CPUs, Pids: l.Pids}
	if out.CPUs == 0 {
		out.CPUs = d.CPUs
	}
	if out.Pids == 0 {
		out.Pids = d.Pids
	}
	tiers := map[Tier]int64{}
	for t, q := range d.Tiers {
		if q != 0 {
			tiers[t] = q
		}
	}
	if l.Memory() == 0 {
		out.MemoryBytes = d.MemoryBytes
	} else {
		delete(tiers, TierCPU) // l's memory limit replaces d's whole
	}
	for t, q := range l.Tiers {
		if q != 0 {
			tiers[t] = q
		}
	}
	if len(tiers) > 0 {
		out.Tiers = tiers
	}
	return out
}

// State is where a container is in its life.
type State string

// States of a container.
const (
	Created State = "Created"
	Running State = "Running"
	Exited  State = "Exited"
)

// Status is a container's observed state.
type Status struct {
	ID    string
	State State
	// Pid is the init process's pid on the host while it runs.
	Pid int
	// ExitCode is the init process's exit status once Exited (128+signal
	// when it was killed by a signal).
	ExitCode int
	// OOMKilled says the kernel killed it for its memory limit.
	OOMKilled bool
	// Reason says why it exited when that is not its own doing.
	Reason string
	// Warnings say what the runtime could not do as the spec asked (e.g.
	// limits it cannot enforce without root).
	Warnings            []string
	StartedAt, ExitedAt time.Time
}

// Runtime runs containers. Implementations are safe for concurrent use.
type Runtime interface {
	// Name is "containerd" or "native".
	Name() string
	// Create prepares a container (root filesystem, namespaces, cgroup)
	// without starting it. A missing image is ErrImageNotFound; an ID in
	// use is ErrExists.
	Create(ctx context.Context, spec Spec) error
	// Start runs the container's command. A command that does not exist
	// in the image is an error naming it.
	Start(ctx context.Context, id string) error
	// Wait blocks until the container exits (or ctx ends) and returns its
	// final status.
	Wait(ctx context.Context, id string) (Status, error)
	// Stop sends SIGTERM, then SIGKILL after grace.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Delete removes a stopped container and everything it held (mounts,
	// cgroup, snapshot, logs). Deleting a running container is an error.
	Delete(ctx context.Context, id string) error
	// Status reports a container's state; ErrNotFound when unknown.
	Status(ctx context.Context, id string) (Status, error)
	// List reports every container of this runtime.
	List(ctx context.Context) ([]Status, error)
	// Logs returns what the container wrote to stdout and stderr so far.
	Logs(ctx context.Context, id string) (io.ReadCloser, error)
}

// Errors every runtime returns (wrapped with context).
var (
	ErrNotFound      = errors.New("no such container")
	ErrExists        = errors.New("container already exists")
	ErrImageNotFound = errors.New("image not found")
	ErrRunning       = errors.New("container is running")
)

// minCPUs is the smallest CPU quota the kernel enforces (1 ms of a 100 ms
// CFS period).
const minCPUs = 0.01

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks a spec the way every runtime does before it creates
// anything: the ID's form, an image named, the limits (Limits.Validate,
// and a CPU quota the kernel can enforce) and the mounts (absolute paths,
// a source that exists).
func (s Spec) Validate() error {
	if !idPattern.MatchString(s.ID) {
		return fmt.Errorf("invalid container ID %q: use 1-63 lowercase letters, digits and '-'", s.ID)
	}
	if s.Image == "" {
		return fmt.Errorf("container %s: no image given", s.ID)
	}
	if err := s.Limits.Validate(); err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	if s.Limits.CPUs > 0 && s.Limits.CPUs < minCPUs {
		return fmt.Errorf("container %s: CPU limit %v is below the kernel's minimum quota (%v cores)", s.ID, s.Limits.CPUs, minCPUs)
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return fmt.Errorf("container %s: mount %s:%s: source and target must be absolute paths", s.ID, m.Source, m.Target)
		}
		if _, err := os.Stat(m.Source); err != nil {
			return fmt.Errorf("container %s: mount source: %w", s.ID, err)
		}
	}
	return nil
}
