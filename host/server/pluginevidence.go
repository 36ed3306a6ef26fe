package server

import (
	"context"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// sourceRegistry is the Source of the plugin evidence the registry hands
// to the trust log.
const sourceRegistry = "registry"

// pluginEvidence appends a plugin version's registry evidence (its gates,
// its signature, its failures in calls, a rejection) to the trust log as
// evidence about plugin/NAME@VERSION (registry.Options.OnEvidence). What
// another recorder puts in the trust log already is left out, so that it
// does not count twice: a trust plugin's failures (the trust service
// records them) and a personality's clamped answers (the engine does).
func (s *Server) pluginEvidence(id string, e *v1.Evidence) {
	if s.trustLog == nil {
		return
	}
	subject, err := trust.PluginSubject(id)
	if err != nil {
		s.log.Warn("plugin evidence for the trust log", "plugin", id, "err", err)
		return
	}
	kind := e.GetKind()
	switch kind {
	case "rejected": // a gate that failed
		kind = trust.EvidenceBenchmark
	case plugin.EvidenceTrap, plugin.EvidenceTimeout, plugin.EvidenceMemory, plugin.EvidenceOutput, plugin.EvidencePanic, plugin.EvidenceInvalid:
		switch s.pluginKind(subject.Name) {
		case v1.PluginKind_TRUST:
			return
		case v1.PluginKind_PERSONALITY:
			if kind == plugin.EvidenceInvalid {
				return
			}
		}
	}
	ev := trust.Evidence{Time: e.GetTime().AsTime(), Kind: kind, Positive: e.GetPositive(), Weight: e.GetWeight(),
		Detail: truncate(e.GetDetail(), 4096), Source: sourceRegistry}
	if ev.Validate() != nil {
		ev.Kind = trust.EvidenceError // a kind the trust log does not know: still a failure on record
	}
	if _, err := s.trustLog.Append(context.Background(), subject, ev); err != nil {
		s.log.Warn("plugin evidence for the trust log", "plugin", id, "err", err)
	}
}

// pluginKind is plugin name's kind (unspecified if unknown).
func (s *Server) pluginKind(name string) v1.PluginKind {
	if s.registry == nil {
		return v1.PluginKind_PLUGIN_KIND_UNSPECIFIED
	}
	p, err := s.registry.Plugins().Get(context.Background(), name)
	if err != nil {
		return v1.PluginKind_PLUGIN_KIND_UNSPECIFIED
	}
	return p.GetSpec().GetKind()
}
