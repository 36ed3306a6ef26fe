package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// AgentVersion names one deployed version of an agent.
type AgentVersion struct{ Agent, Version string }

// Deployed lists every agent version that runs (a version being deployed
// is listed once its replicas are ready), sorted by agent and version.
func (d *Deployer) Deployed() []AgentVersion {
	d.mu.Lock()
	out := make([]AgentVersion, 0, len(d.versions))
	for k, dep := range d.versions {
		if len(dep.replicas) > 0 {
			out = append(out, AgentVersion{Agent: k.agent, Version: k.version})
		}
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b AgentVersion) int {
		return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Version, b.Version))
	})
	return out
}

// ReplicaStats is what the runtime says of one replica's container.
type ReplicaStats struct {
	// Status is the container's state (Running or Exited, with its exit
	// code and whether it was OOM-killed).
	Status container.Status
	// Usage is its CPU time, memory and OOM kills while it runs; nil
	// when it does not run or the runtime does not measure usage, and
	// UsageErr then says why.
	Usage    *container.Stats
	UsageErr error
}

// Stats reports replica r's container state and, where the runtime
// measures it (container.StatsReader), its usage. A replica that exited
// stays Exited while it waits to be restarted (Options.RestartBackoff);
// r.Restarts counts its restarts.
func (d *Deployer) Stats(ctx context.Context, r Replica) (ReplicaStats, error) {
	st, err := d.rt.Status(ctx, r.Container)
	if err != nil {
		return ReplicaStats{}, fmt.Errorf("replica %s: %w", r.Container, err)
	}
	out := ReplicaStats{Status: st}
	sr, ok := d.rt.(container.StatsReader)
	switch {
	case !ok:
		out.UsageErr = fmt.Errorf("replica %s: %w: the %s runtime does not report usage", r.Container, container.ErrNoStats, d.rt.Name())
	case st.State != container.Running:
		out.UsageErr = fmt.Errorf("replica %s: %w", r.Container, container.ErrNotRunning)
	default:
		u, err := sr.Stats(ctx, r.Container)
		if err != nil {
			if errors.Is(err, container.ErrNotRunning) { // it exited meanwhile
				if st2, err2 := d.rt.Status(ctx, r.Container); err2 == nil {
					out.Status = st2
				}
			}
			out.UsageErr = fmt.Errorf("replica %s: %w", r.Container, err)
			break
		}
		out.Usage = &u
	}
	return out, nil
}
