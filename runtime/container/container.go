// Package container defines what every container backend provides: the
// Runtime interface, the Spec of a container and its Status. The backends
// (runtime/containerd today; a native one to come) pass one conformance
// suite, runtime/container/conformance.
package container

import (
	"context"
	"errors"
	"io"
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

// Limits are cgroup limits.
type Limits struct {
	// MemoryBytes caps memory (the CPU tier); past it the kernel OOM-kills.
	MemoryBytes int64
	// CPUs is a CPU quota in cores (0.5 = half a core).
	CPUs float64
	// Pids caps the number of processes.
	Pids int64
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
	Reason              string
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
