package pluginrelease

import (
	"context"
	"errors"
	"log/slog"

	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// Canaries builds the Envs of one daemon's plugin canaries over its
// registry, the engine's Router and the Recorder's Hub.
type Canaries struct {
	Registry Registry
	Router   *Router
	Hub      *telemetry.Hub
	Log      *slog.Logger
}

// Env returns the Env of rollout, a canary of strategy plugin name from its
// default version baselineVersion to canaryVersion, collecting metrics
// (all of Metrics when empty). Its rollback rejects the version when the
// rollout judged it bad or a person rolled it back (Options.Rollout).
func (c *Canaries) Env(_ context.Context, name, baselineVersion, canaryVersion string, metrics []string, rollout *canary.Rollout) (canary.Env, error) {
	return New(Options{Registry: c.Registry, Router: c.Router, Hub: c.Hub, Plugin: name, Default: baselineVersion, Canary: canaryVersion, Metrics: metrics, Rollout: rollout, Log: c.Log})
}

// DefaultConfig is DefaultConfig.
func (c *Canaries) DefaultConfig() canary.Config { return DefaultConfig() }

// DefaultVersion is the default version of strategy plugin name.
func (c *Canaries) DefaultVersion(ctx context.Context, name string) (string, error) {
	if c.Registry == nil {
		return "", errors.New("pluginrelease: no plugin registry")
	}
	_, v, err := c.Registry.Open(ctx, name, "", plugin.KindStrategy)
	return v, err
}
