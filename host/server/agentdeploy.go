package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/resources"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
)

// firstVersion is the version an agent's own spec runs as.
const firstVersion = "v1"

// agentRunner deploys agents that have replicas: the live version's
// replicas on the native runtime (host/deploy) behind a mesh service on
// the node, and the agent's status kept up to date.
type agentRunner struct {
	agents   *store.Repository[*v1.Agent]
	deployer *deploy.Deployer // nil: no native runtime
	why      error            // why deployer is nil
	table    *mesh.Table
	proxy    *mesh.Proxy
	meshHost string // the host part of the services' addresses
	log      *slog.Logger
	stopping context.Context
	wg       *sync.WaitGroup
}

// start deploys agent name's live version in the background.
func (r *agentRunner) start(name, identityDir string) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.run(name, identityDir); err != nil && r.stopping.Err() == nil {
			r.log.Warn("deploy agent", "agent", name, "err", err)
			r.setStatus(name, func(st *v1.AgentStatus) {
				st.Phase, st.ReadyReplicas = "Failed", 0
				setCondition(st, "Ready", "False", "DeployFailed", err.Error())
			})
		}
	}()
}

func (r *agentRunner) run(name, identityDir string) error {
	a, err := r.agents.Get(r.stopping, name)
	if err != nil {
		return err
	}
	if r.deployer == nil {
		return fmt.Errorf("agents with replicas run on the native runtime, which is unavailable: %v", r.why)
	}
	r.setStatus(name, func(st *v1.AgentStatus) {
		st.Phase = "Deploying"
		setCondition(st, "Ready", "False", "Deploying", fmt.Sprintf("starting %d replicas of %s", a.GetSpec().GetReplicas(), firstVersion))
	})
	v, err := versionOf(a, firstVersion, identityDir)
	if err != nil {
		return err
	}
	replicas, err := r.deployer.Deploy(r.stopping, v)
	if err != nil {
		return err
	}
	if err := r.deployer.Route(name, r.meshHost+":0", map[string]int{firstVersion: 100}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.stopping, 10*time.Second)
	defer cancel()
	if err := r.proxy.WaitApplied(ctx, r.table.Version()); err != nil {
		return fmt.Errorf("the mesh did not take agent %s's route: %w", name, err)
	}
	addr := r.proxy.Addr(name)
	if addr == nil {
		return fmt.Errorf("the mesh could not listen for agent %s (see swarm_mesh metrics and swarmd's log)", name)
	}
	r.setStatus(name, func(st *v1.AgentStatus) {
		st.Phase, st.Version, st.Address, st.ReadyReplicas = "Running", firstVersion, addr.String(), int32(len(replicas))
		setCondition(st, "Ready", "True", "Serving", fmt.Sprintf("%d replicas of %s behind %s", len(replicas), firstVersion, addr))
	})
	return nil
}

// versionOf is what deploy needs to run a's spec as version.
func versionOf(a *v1.Agent, version, identityDir string) (deploy.Version, error) {
	s := a.GetSpec()
	genome := []byte("{}")
	if g := s.GetGenome(); g != nil {
		b, err := protojson.Marshal(g)
		if err != nil {
			return deploy.Version{}, fmt.Errorf("agent %s: genome: %w", a.GetMetadata().GetName(), err)
		}
		genome = b
	}
	env := make([]string, 0, len(s.GetEnv()))
	for k, v := range s.GetEnv() {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	var mounts []container.Mount
	for _, m := range s.GetMounts() {
		mounts = append(mounts, container.Mount{Source: m.GetSource(), Target: m.GetTarget(), ReadOnly: m.GetReadOnly()})
	}
	return deploy.Version{
		Agent: a.GetMetadata().GetName(), Version: version, Replicas: int(s.GetReplicas()),
		Image: s.GetImage(), Command: s.GetCommand(), Env: env, Mounts: mounts,
		Limits: resources.Limits(s.GetResources()), Genome: genome, Identity: identityDir,
	}, nil
}

// stop takes agent name off the mesh and removes every version it runs.
func (r *agentRunner) stop(ctx context.Context, name string) error {
	if r.deployer == nil {
		return nil
	}
	if _, err := r.table.Remove(name); err != nil && !errors.Is(err, mesh.ErrUnknownService) {
		return fmt.Errorf("take agent %s off the mesh: %w", name, err)
	}
	var errs []error
	for _, v := range r.deployer.Versions(name) {
		if err := r.deployer.Remove(ctx, name, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setStatus changes agent name's status (nothing if it is gone).
func (r *agentRunner) setStatus(name string, fn func(*v1.AgentStatus)) {
	_, err := r.agents.Modify(context.Background(), name, nil, func(a *v1.Agent) error {
		if a.Status == nil {
			a.Status = &v1.AgentStatus{}
		}
		fn(a.Status)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		r.log.Warn("record agent status", "agent", name, "err", err)
	}
}

// setCondition sets the condition of type typ, keeping its transition time
// when its status does not change.
func setCondition(st *v1.AgentStatus, typ, status, reason, message string) {
	for _, c := range st.Conditions {
		if c.GetType() == typ {
			if c.GetStatus() != status {
				c.LastTransitionTime = timestamppb.Now()
			}
			c.Status, c.Reason, c.Message = status, reason, message
			return
		}
	}
	st.Conditions = append(st.Conditions, &v1.Condition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: timestamppb.Now()})
}
