package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/stratoswarm/stratoswarm/host/trust"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
)

// The agents' call graph, from the mesh: every replica reaches the agents'
// services on Unix sockets under <data-dir>/mesh (/run/mesh inside), the
// proxy attributes each connection there to the calling replica's agent
// version (deploy.Deployer.Caller, by PID namespace) and counts completed
// and failed connections per caller and called version. Every
// callRecordInterval, and once more at shutdown, swarmd takes the counts
// and appends them to the trust log as call records (trust.CallEvidence)
// in the log of the agent version called: the graph the eigentrust scorer
// reads (trust.Log.Calls).

// meshDir is the directory of the mesh's service sockets under the data dir.
const meshDir = "mesh"

// callRecordInterval is how often the mesh's call counts become evidence.
const callRecordInterval = 10 * time.Second

// SourceMesh is the Source of call records.
const SourceMesh = "mesh"

// meshSocketDir creates <data-dir>/mesh. Replicas mount it read-only; the
// data dir's own mode (0700) keeps the host's other users out.
func meshSocketDir(dataDir string) (string, error) {
	dir, err := filepath.Abs(filepath.Join(dataDir, meshDir))
	if err != nil {
		return "", fmt.Errorf("mesh sockets: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mesh sockets: create %s: %w (swarmd needs to write its data dir)", dir, err)
	}
	return dir, nil
}

// identifyCaller is the mesh's Options.Identify: the replica a process
// belongs to, when it is one of the deployer's.
func (s *Server) identifyCaller(pid int) (mesh.Caller, bool) {
	if s.deployer == nil {
		return mesh.Caller{}, false
	}
	agent, version, ok := s.deployer.Caller(pid)
	return mesh.Caller{Agent: agent, Version: version}, ok
}

// startCallRecorder records the mesh's calls every callRecordInterval until
// ctx ends; Shutdown records the rest once the proxy is closed.
func (s *Server) startCallRecorder(ctx context.Context) {
	if s.meshProxy == nil || s.trustLog == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(callRecordInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.recordCalls(ctx)
			}
		}
	}()
}

// recordCalls takes the mesh's call counts and appends them as evidence.
func (s *Server) recordCalls(ctx context.Context) {
	if s.meshProxy == nil || s.trustLog == nil {
		return
	}
	recordCalls(ctx, s.meshProxy.TakeCalls(), s.trustLog, time.Now(), s.log.With("component", "trust"))
}

// recordCalls appends, for each call count between two agent versions, a
// satisfied call record (weight: the completed connections) and an
// unsatisfied one (the failed ones) to the log of the version called, at
// time now. Calls from external callers, and failures with no version to
// blame (the service had no backend), have no subject and are skipped.
func recordCalls(ctx context.Context, calls []mesh.Call, l evidenceLog, now time.Time, log *slog.Logger) {
	for _, c := range calls {
		if c.Caller.External() || c.Version == "" {
			continue
		}
		from := trust.Subject{Kind: trust.SubjectAgent, Name: c.Caller.Agent, Version: c.Caller.Version}
		to := trust.Subject{Kind: trust.SubjectAgent, Name: c.Service, Version: c.Version}
		var es []trust.Evidence
		if c.Completed > 0 {
			es = append(es, trust.CallEvidence(now, from, to, true, float64(c.Completed), SourceMesh))
		}
		if c.Failed > 0 {
			es = append(es, trust.CallEvidence(now, from, to, false, float64(c.Failed), SourceMesh))
		}
		if _, err := l.Append(ctx, to, es...); err != nil {
			log.Warn("record the mesh's calls as trust evidence; these counts are lost", "from", from.String(), "to", to.String(),
				"completed", c.Completed, "failed", c.Failed, "err", err)
		}
	}
}
