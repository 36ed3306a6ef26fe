package container

import (
	"context"
	"errors"
)

// Stats are what a running container has used, as its runtime measures
// it (the native runtime: from its cgroup).
type Stats struct {
	// CPUSeconds is the CPU time its processes used since it started,
	// user and system, those that exited included.
	CPUSeconds float64
	// MemoryBytes is its working set: the memory in use less the page
	// cache the kernel can drop (inactive files), as kubectl top reports.
	MemoryBytes int64
	// OOMKills counts the processes the kernel killed for its memory
	// limit.
	OOMKills uint64
}

// StatsReader is a Runtime that reports the usage of its running
// containers. The native runtime is one; containerd is not yet.
type StatsReader interface {
	// Stats reports a running container's usage; ErrNotFound when
	// unknown, ErrNotRunning when it is not running, ErrNoStats when
	// the runtime cannot measure it.
	Stats(ctx context.Context, id string) (Stats, error)
}

// Errors of StatsReader.Stats (wrapped with context).
var (
	// ErrNotRunning: the container has not started or has exited.
	ErrNotRunning = errors.New("container is not running")
	// ErrNoStats: the runtime has nothing to measure the container with
	// (no cgroup).
	ErrNoStats = errors.New("container usage is not measured")
)
