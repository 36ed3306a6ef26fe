package server

import (
	"fmt"

	"github.com/stratoswarm/stratoswarm/host/pluginrelease"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// newPluginRelease makes the parts of plugin canaries the engine needs
// before any canary runs: the router that puts new evolutions on a
// canary's arms and the hub their strategy outcomes are recorded into
// (the engine's Outcomes is a pluginrelease.Recorder over it, on the wall
// clock that canary.SystemClock drives rollouts by).
func newPluginRelease() (*pluginrelease.Router, *telemetry.Hub, error) {
	hub, err := telemetry.NewHub(telemetry.HubOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("plugin canaries' telemetry: %w", err)
	}
	return pluginrelease.NewRouter(), hub, nil
}

// pluginCanaries builds the Envs of Plugin canaries over the registry,
// the engine's router and the outcomes hub.
func (s *Server) pluginCanaries() *pluginrelease.Canaries {
	return &pluginrelease.Canaries{Registry: s.registry, Router: s.pluginRouter, Hub: s.pluginHub, Log: s.log.With("component", "pluginrelease")}
}

// The CanaryService's plugin side is a pluginrelease.Canaries.
var _ pluginCanaries = (*pluginrelease.Canaries)(nil)
