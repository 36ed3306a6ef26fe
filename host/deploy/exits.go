package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Exit is a replica of a deployed version whose container has exited: it
// crashed, or was OOM-killed, while it should serve.
type Exit struct {
	Agent, Version string
	// Replica is the replica's index; Container its container.
	Replica   int
	Container string
	// ExitCode is the exit status (128+signal when killed by a signal);
	// OOMKilled says the kernel killed it for its memory limit.
	ExitCode  int
	OOMKilled bool
	// ExitedAt is when it exited (zero when the runtime does not say):
	// with Container, it tells one exit from a later one.
	ExitedAt time.Time
}

// String says what happened, e.g. "replica tsp-v1-0 of tsp@v1 was
// OOM-killed (over its memory limit)".
func (e Exit) String() string {
	return fmt.Sprintf("replica %s of %s@%s %s", e.Container, e.Agent, e.Version, e.how())
}

// Exits lists the exits of the replicas of every deployed version, by
// agent, version and time: each exit once (a replica restarted since is
// listed with the exit of each earlier incarnation; Container and
// ExitedAt tell them apart), the last 64 of each version. A version being
// removed is no longer deployed, so stopping it never shows here, and its
// exits go with it.
func (d *Deployer) Exits(ctx context.Context) ([]Exit, error) {
	d.mu.Lock()
	type deployed struct {
		k   key
		dep *deployment
	}
	var all []deployed
	for k, dep := range d.versions {
		if dep.replicas != nil {
			all = append(all, deployed{k, dep})
		}
	}
	d.mu.Unlock()
	slices.SortFunc(all, func(a, b deployed) int {
		if c := strings.Compare(a.k.agent, b.k.agent); c != 0 {
			return c
		}
		return strings.Compare(a.k.version, b.k.version)
	})
	var out []Exit
	var errs []error
	for _, v := range all {
		errs = append(errs, d.observe(ctx, v.dep))
		d.mu.Lock()
		for _, e := range v.dep.exits {
			out = append(out, e.Exit)
		}
		d.mu.Unlock()
	}
	return out, errors.Join(errs...)
}
