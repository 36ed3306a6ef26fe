package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// swarmd's trust evidence: one append-only log (host/trust) for every agent
// and plugin version, in a badger DB of its own under <data-dir>/trust. The
// store keeps its DB to itself, and a separate DB keeps the evidence, which
// only grows, apart from the resources' compaction and history. Evolutions
// record their candidates' evaluations in it (host/evolve), replicas that
// exit record crashes and OOM kills (watchReplicaExits), and the canary
// records its verdicts and gates promotion on it.
//
// Scores come from trust plugins through trustService: one trust.Service
// per scorer plugin version and configuration, kept for the daemon's life,
// so that when a scorer fails the previous score it gave stands.

// trustDir is the log's directory under the data dir.
const trustDir = "trust"

// defaultTrustScorer scores when a reference names no trust plugin.
const defaultTrustScorer = "beta"

// callGraphScorer is the built-in scorer that reads the whole call graph.
const callGraphScorer = "eigentrust"

// replicaExitPoll is how often replicas are checked for exits.
const replicaExitPoll = 2 * time.Second

// SourceDeploy is the Source of the evidence of replicas' exits.
const SourceDeploy = "deploy"

// openTrustLog opens (or creates) the trust evidence log in
// <data-dir>/trust.
func openTrustLog(dataDir string, log *slog.Logger) (*trust.Log, error) {
	l, err := trust.OpenLog(trust.LogOptions{Dir: filepath.Join(dataDir, trustDir), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("trust evidence: %w", err)
	}
	return l, nil
}

// trustServices caches the trust Services by scorer plugin version and
// configuration.
type trustServices struct {
	mu   sync.Mutex
	byID map[string]*trust.Service
}

// trustService returns the trust Service that scores with the trust plugin
// ref names: its version, or the plugin's default version; a nil ref or one
// without a name is the built-in beta. ref's config is the scorer's
// settings; "callGraph": true (the default for eigentrust) sends the whole
// call graph with each request. The Service is made once per plugin version
// and configuration and kept, so a scorer that fails leaves its previous
// scores standing.
func (s *Server) trustService(ctx context.Context, ref *v1.PluginRef) (*trust.Service, error) {
	if s.trustLog == nil {
		return nil, fmt.Errorf("trust scoring is unavailable: swarmd has no trust log")
	}
	name := ref.GetName()
	if name == "" {
		name = defaultTrustScorer
	}
	p, version, err := s.registry.Open(ctx, name, ref.GetVersion(), plugin.KindTrust)
	if err != nil && s.builtins != nil {
		// Evolutions may start while the built-ins are still being
		// gated (the strategies come first): wait for them, once.
		select {
		case <-s.builtins:
			p, version, err = s.registry.Open(ctx, name, ref.GetVersion(), plugin.KindTrust)
		case <-ctx.Done():
		}
	}
	if err != nil {
		return nil, fmt.Errorf("trust scorer %s: %w (swarmctl plugin ls lists the trust plugins: beta, eigentrust)", name, err)
	}
	var cfg map[string]json.RawMessage
	if c := ref.GetConfig(); c != nil {
		raw, err := c.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("trust scorer %s: config: %w", name, err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, fmt.Errorf("trust scorer %s: config: %w", name, err)
		}
	}
	graph := name == callGraphScorer
	if v, ok := cfg["callGraph"]; ok {
		if err := json.Unmarshal(v, &graph); err != nil {
			return nil, fmt.Errorf("trust scorer %s: config callGraph %s is not true or false", name, v)
		}
		delete(cfg, "callGraph")
	}
	settings, _ := json.Marshal(cfg) // sorted keys: one key per configuration
	if len(cfg) == 0 {
		settings = nil
	}
	key := name + "@" + version + " " + strconv.FormatBool(graph) + " " + string(settings)
	s.trustSvcs.mu.Lock()
	defer s.trustSvcs.mu.Unlock()
	if svc, ok := s.trustSvcs.byID[key]; ok {
		return svc, nil
	}
	scorer, err := trust.NewPluginScorer(p, settings)
	if err != nil {
		return nil, err
	}
	svc, err := trust.NewService(trust.ServiceOptions{Log: s.trustLog, Scorer: scorer, CallGraph: graph})
	if err != nil {
		return nil, err
	}
	if s.trustSvcs.byID == nil {
		s.trustSvcs.byID = map[string]*trust.Service{}
	}
	s.trustSvcs.byID[key] = svc
	return svc, nil
}

// startReplicaExits watches the deployed agents' replicas until ctx ends
// (nothing to do without the native runtime).
func (s *Server) startReplicaExits(ctx context.Context) {
	if s.deployer == nil || s.trustLog == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		watchReplicaExits(ctx, s.deployer, s.trustLog, replicaExitPoll, s.log.With("component", "trust"))
	}()
}

// replicaExits lists the replicas that exited; *deploy.Deployer has it.
type replicaExits interface {
	Exits(ctx context.Context) ([]deploy.Exit, error)
}

// evidenceLog appends evidence; *trust.Log has it.
type evidenceLog interface {
	Append(ctx context.Context, s trust.Subject, es ...trust.Evidence) ([]trust.Evidence, error)
}

// watchReplicaExits checks every poll for replicas of deployed versions
// that exited, and appends an "oom" (OOM-killed) or "crash" (any other
// exit: a replica should serve until it is removed) record against
// agent/NAME@VERSION, once per exit.
func watchReplicaExits(ctx context.Context, src replicaExits, l evidenceLog, poll time.Duration, log *slog.Logger) {
	seen := map[string]bool{}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		exits, err := src.Exits(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("check agent replicas for exits", "err", err)
		}
		for _, e := range exits {
			id := e.Container + "@" + strconv.FormatInt(e.ExitedAt.UnixNano(), 10)
			if seen[id] || ctx.Err() != nil {
				continue
			}
			kind := trust.EvidenceCrash
			if e.OOMKilled {
				kind = trust.EvidenceOOM
			}
			at := e.ExitedAt
			if at.IsZero() {
				at = time.Now()
			}
			subj := trust.Subject{Kind: trust.SubjectAgent, Name: e.Agent, Version: e.Version}
			if _, err := l.Append(ctx, subj, trust.Evidence{Time: at, Kind: kind, Weight: 1, Detail: e.String(), Source: SourceDeploy}); err != nil {
				if ctx.Err() == nil {
					log.Warn("record a replica's exit", "subject", subj.String(), "err", err)
				}
				continue
			}
			seen[id] = true
			log.Warn("agent replica exited; recorded as trust evidence", "subject", subj.String(), "kind", kind, "exit", e.String())
		}
	}
}
