package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
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
	how := fmt.Sprintf("exited with code %d", e.ExitCode)
	if e.OOMKilled {
		how = "was OOM-killed (over its memory limit)"
	}
	return fmt.Sprintf("replica %s of %s@%s %s", e.Container, e.Agent, e.Version, how)
}

// Exits lists the replicas of every deployed version whose container has
// exited, by agent, version and replica. A version being removed is no
// longer deployed, so stopping it never shows here; a container that is
// gone is skipped.
func (d *Deployer) Exits(ctx context.Context) ([]Exit, error) {
	d.mu.Lock()
	type deployed struct {
		k  key
		rs []Replica
	}
	var all []deployed
	for k, rs := range d.versions {
		all = append(all, deployed{k, slices.Clone(rs)})
	}
	d.mu.Unlock()
	slices.SortFunc(all, func(a, b deployed) int {
		if c := strings.Compare(a.k.agent, b.k.agent); c != 0 {
			return c
		}
		return strings.Compare(a.k.version, b.k.version)
	})
	var out []Exit
	for _, v := range all {
		for i, r := range v.rs {
			st, err := d.rt.Status(ctx, r.Container)
			if errors.Is(err, container.ErrNotFound) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("replica %s: %w", r.Container, err)
			}
			if st.State != container.Exited {
				continue
			}
			out = append(out, Exit{Agent: v.k.agent, Version: v.k.version, Replica: i, Container: r.Container,
				ExitCode: st.ExitCode, OOMKilled: st.OOMKilled, ExitedAt: st.ExitedAt})
		}
	}
	return out, nil
}
