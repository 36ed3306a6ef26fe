package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/release"
	"github.com/stratoswarm/stratoswarm/host/resources"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
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
	idRoot   string // <data-dir>/identity/agents
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
	// The live version: the first, or the one a canary promoted (its
	// genome is the spec's since then).
	live := a.GetStatus().GetVersion()
	if live == "" {
		live = firstVersion
	}
	r.setStatus(name, func(st *v1.AgentStatus) {
		st.Phase = "Deploying"
		setCondition(st, "Ready", "False", "Deploying", fmt.Sprintf("starting %d replicas of %s", a.GetSpec().GetReplicas(), live))
	})
	v, err := versionOf(a, live, identityDir)
	if err != nil {
		return err
	}
	replicas, err := r.deployer.Deploy(r.stopping, v)
	if err != nil {
		return err
	}
	if err := r.deployer.Route(name, r.meshHost+":0", map[string]int{live: 100}); err != nil {
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
		st.Phase, st.Version, st.Address, st.ReadyReplicas = "Running", live, addr.String(), int32(len(replicas))
		setCondition(st, "Ready", "True", "Serving", fmt.Sprintf("%d replicas of %s behind %s", len(replicas), live, addr))
	})
	return nil
}

// replicaChanged brings agent's ready replicas up to date when a replica
// of its live version exited or was started again (deploy's restart
// policy): the Ready condition is False while some are down.
func (r *agentRunner) replicaChanged(agent, version string) {
	if r.deployer == nil || r.stopping.Err() != nil {
		return
	}
	a, err := r.agents.Get(r.stopping, agent)
	if err != nil || a.GetStatus().GetVersion() != version {
		return // gone, or not its live version (a canary's, a baseline's)
	}
	ready, want := int32(r.deployer.Ready(r.stopping, agent, version)), a.GetSpec().GetReplicas()
	r.setStatus(agent, func(st *v1.AgentStatus) {
		if st.GetVersion() != version || st.GetPhase() != "Running" {
			return
		}
		st.ReadyReplicas = ready
		if ready >= want {
			setCondition(st, "Ready", "True", "Serving", fmt.Sprintf("%d replicas of %s behind %s", ready, version, st.GetAddress()))
		} else {
			setCondition(st, "Ready", "False", "ReplicasRestarting", fmt.Sprintf("%d of %d replicas of %s are ready; the others exited and are being restarted (swarmctl agent top %s shows their restarts, swarmctl agent logs %s --replica N their output)", ready, want, version, agent, agent))
		}
	})
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

// identityDir is where agent name's SVID files live.
func (r *agentRunner) identityDir(name string) string { return filepath.Join(r.idRoot, name) }

// releaseEnv is the environment of a canary of agent a: the live version
// live, a fresh baseline of it and the canary version with genome, judged
// on metrics scraped from the replicas into a hub of the canary's own.
func (r *agentRunner) releaseEnv(_ context.Context, a *v1.Agent, live, baseline, canaryVersion string, genome *structpb.Struct, metrics []string) (canary.Env, error) {
	name := a.GetMetadata().GetName()
	base, err := versionOf(a, baseline, r.identityDir(name))
	if err != nil {
		return nil, err
	}
	next := proto.Clone(a).(*v1.Agent)
	next.Spec.Genome = genome
	can, err := versionOf(next, canaryVersion, r.identityDir(name))
	if err != nil {
		return nil, err
	}
	hub, err := telemetry.NewHub(telemetry.HubOptions{})
	if err != nil {
		return nil, err
	}
	return release.New(release.Options{
		Deployer: r.deployer, Hub: hub, Agent: name, Address: r.meshHost + ":0", Live: live,
		Baseline: base, Canary: can, Metrics: metrics, Log: r.log.With("canary", canaryVersion),
	})
}
