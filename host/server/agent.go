package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/identity"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// agentService serves AgentService: agents with their identities (a
// SPIFFE ID and an X.509-SVID from the daemon's CA, its files under dir);
// deployments come with the agent system (issue 6).
type agentService struct {
	v1.UnimplementedAgentServiceServer
	agents *store.Repository[*v1.Agent]
	ca     *identity.CA
	ttl    time.Duration
	dir    string // <data-dir>/identity/agents
	runner *agentRunner
	// canaries are rolled back before their agent is deleted.
	canaries *canaryService
}

// identityDir is where agent name's SVID files live.
func (s *agentService) identityDir(name string) string { return filepath.Join(s.dir, name) }

// checkAgent validates what a client may set on an agent.
func checkAgent(a *v1.Agent) error {
	if a == nil {
		return invalidField("agent", "is required")
	}
	if err := checkName("agent.metadata.name", a.GetMetadata().GetName()); err != nil {
		return err
	}
	if err := checkLabels("agent.metadata.labels", a.GetMetadata().GetLabels()); err != nil {
		return err
	}
	spec := a.GetSpec()
	if spec == nil {
		return invalidField("agent.spec", "is required")
	}
	if spec.GetImage() == "" && len(spec.GetCommand()) == 0 {
		return invalidField("agent.spec", "one of image or command is required")
	}
	if spec.GetReplicas() < 0 {
		return invalidField("agent.spec.replicas", "%d must not be negative", spec.GetReplicas())
	}
	r := spec.GetResources()
	for field, v := range map[string]int64{
		"agent.spec.resources.cpu_millis":   r.GetCpuMillis(),
		"agent.spec.resources.memory_bytes": r.GetMemoryBytes(),
		"agent.spec.resources.pids":         r.GetPids(),
		"agent.spec.resources.gpus":         int64(r.GetGpus()),
	} {
		if v < 0 {
			return invalidField(field, "%d must not be negative", v)
		}
	}
	seen := map[string]bool{}
	for i, p := range spec.GetSearchSpace().GetParameters() {
		field := fmt.Sprintf("agent.spec.search_space.parameters[%d].name", i)
		if p.GetName() == "" {
			return invalidField(field, "is required")
		}
		if seen[p.GetName()] {
			return invalidField(field, "%q appears twice", p.GetName())
		}
		seen[p.GetName()] = true
	}
	return nil
}

func (s *agentService) CreateAgent(ctx context.Context, req *v1.CreateAgentRequest) (*v1.Agent, error) {
	if err := checkAgent(req.GetAgent()); err != nil {
		return nil, err
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, err
	}
	a := req.GetAgent()
	name := a.GetMetadata().GetName()
	id, err := s.ca.AgentID(name)
	if err != nil {
		return nil, invalidField("agent.metadata.name", "%v", err)
	}
	svid, err := s.ca.Issue(id, s.ttl)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "issue the identity of agent %s: %v", name, err)
	}
	a.Status = &v1.AgentStatus{
		Phase: "Registered", Identity: id.String(),
		CertificateSerial: svid.Serial, CertificateNotAfter: timestamppb.New(svid.NotAfter),
	}
	out, created, err := s.agents.Create(ctx, a, req.GetRequestId())
	if err != nil || !created {
		return out, storeError(err)
	}
	if err := svid.WriteFiles(s.identityDir(name), s.ca.BundlePEM()); err != nil {
		if _, derr := s.agents.Delete(context.WithoutCancel(ctx), name, ""); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			return nil, status.Errorf(codes.Internal, "agent %s: save its identity: %v; and remove the record: %v", name, err, derr)
		}
		return nil, status.Errorf(codes.Internal, "agent %s: save its identity: %v (check the data directory is writable)", name, err)
	}
	if out.GetSpec().GetReplicas() > 0 {
		s.runner.start(name, s.identityDir(name))
	}
	return out, nil
}

func (s *agentService) GetAgent(ctx context.Context, req *v1.GetAgentRequest) (*v1.Agent, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	a, err := s.agents.Get(ctx, req.GetName())
	return a, storeError(err)
}

func (s *agentService) ListAgents(ctx context.Context, req *v1.ListAgentsRequest) (*v1.ListAgentsResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := s.agents.List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListAgentsResponse{Agents: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (s *agentService) UpdateAgent(ctx context.Context, req *v1.UpdateAgentRequest) (*v1.Agent, error) {
	if err := checkAgent(req.GetAgent()); err != nil {
		return nil, err
	}
	if req.GetAgent().GetMetadata().GetResourceVersion() == "" {
		return nil, invalidField("agent.metadata.resource_version", "is required: get the agent and send its version back")
	}
	out, err := s.agents.Update(ctx, req.GetAgent())
	return out, storeError(err)
}

func (s *agentService) DeleteAgent(ctx context.Context, req *v1.DeleteAgentRequest) (*v1.Agent, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	s.canaries.abortAgent(ctx, req.GetName())
	out, err := s.agents.Delete(ctx, req.GetName(), req.GetResourceVersion())
	if err != nil {
		return out, storeError(err)
	}
	if err := s.runner.stop(context.WithoutCancel(ctx), req.GetName()); err != nil {
		return out, status.Errorf(codes.Internal, "agent %s deleted, but its replicas remain: %v", req.GetName(), err)
	}
	// Its key pair goes with it (the certificate expires on its own).
	if err := os.RemoveAll(s.identityDir(req.GetName())); err != nil {
		return out, status.Errorf(codes.Internal, "agent %s deleted, but its identity files remain: %v", req.GetName(), err)
	}
	return out, nil
}

func (s *agentService) WatchAgents(req *v1.WatchAgentsRequest, stream v1.AgentService_WatchAgentsServer) error {
	return watch(stream.Context(), s.agents, req.GetResourceVersion(), func(t v1.EventType, obj *v1.Agent) error {
		return stream.Send(&v1.WatchAgentsResponse{Type: t, Agent: obj})
	})
}

// AgentLogs streams one replica's log: of the live version unless the
// request names another, replica 0 unless it names another.
func (s *agentService) AgentLogs(req *v1.AgentLogsRequest, stream v1.AgentService_AgentLogsServer) error {
	ctx := stream.Context()
	if err := checkName("name", req.GetName()); err != nil {
		return err
	}
	if req.GetTailLines() < 0 {
		return invalidField("tail_lines", "%d must not be negative (0 means the whole log)", req.GetTailLines())
	}
	if req.GetReplica() < 0 {
		return invalidField("replica", "%d must not be negative", req.GetReplica())
	}
	a, err := s.agents.Get(ctx, req.GetName())
	if err != nil {
		return storeError(err)
	}
	name, version := req.GetName(), req.GetVersion()
	if version == "" {
		version = a.GetStatus().GetVersion()
	}
	d := s.runner.deployer
	switch {
	case d == nil:
		return status.Errorf(codes.FailedPrecondition, "agent %s: no replicas run here: %v", name, s.runner.why)
	case version == "":
		return status.Errorf(codes.FailedPrecondition, "agent %s runs no version yet (phase %s, %d replicas asked for): see swarmctl agent describe %s", name, orPhase(a), a.GetSpec().GetReplicas(), name)
	}
	rs := d.Replicas(name, version)
	if int(req.GetReplica()) >= len(rs) {
		return status.Errorf(codes.NotFound, "agent %s@%s has %d running replicas; ask for one of 0..%d", name, version, len(rs), len(rs)-1)
	}
	i := int(req.GetReplica())
	return streamLog(ctx, s.runner.stopping, logSource{
		open: func() (io.ReadCloser, error) { return d.Logs(ctx, name, version, i) },
		done: func() (bool, error) { return d.Exited(ctx, name, version, i) },
		what: fmt.Sprintf("agent %s@%s replica %d", name, version, i),
	}, req.GetTailLines(), req.GetFollow(), func(b []byte) error {
		return stream.Send(&v1.AgentLogsResponse{Data: b})
	})
}

func orPhase(a *v1.Agent) string {
	if p := a.GetStatus().GetPhase(); p != "" {
		return p
	}
	return "<none>"
}
