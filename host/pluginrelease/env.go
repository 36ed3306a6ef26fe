package pluginrelease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// DefaultCrashFailures is how many failed strategy calls of the canary in
// one interval make the interval a crash (Options.CrashFailures).
const DefaultCrashFailures = 3

// Registry is what a plugin canary needs of the plugin registry
// (host/registry.Registry implements it).
type Registry interface {
	// Open opens name@version (the default when version is empty) and
	// returns the version it resolved to.
	Open(ctx context.Context, name, version string, want plugin.Kind) (*plugin.Plugin, string, error)
	// Promote makes version the default of name.
	Promote(ctx context.Context, name, version string) (*v1.Plugin, error)
	// Reject marks version as Rejected for reason: it no longer opens.
	Reject(ctx context.Context, name, version, reason string) (*v1.Plugin, error)
}

// Options configure New.
type Options struct {
	Registry Registry
	// Router routes the new evolutions; the engine must use the same one.
	Router *Router
	// Hub is where the engine's Recorder records the outcomes.
	Hub *telemetry.Hub
	// Plugin is the strategy plugin; Default its default version, the
	// baseline; Canary the version on trial (a Candidate).
	Plugin, Default, Canary string
	// Metrics are the metrics Collect returns, a subset of Metrics
	// (default: all of them); the rollout's judge configuration names the
	// same, e.g. DefaultConfig().
	Metrics []string
	// CrashFailures is how many failed strategy calls of the canary in one
	// interval make Collect report a crash (default DefaultCrashFailures),
	// provided the baseline failed fewer times in the same interval.
	CrashFailures int
	// Rollout, if set, is the rollout this Env carries out; Rollback then
	// rejects the canary version only when the rollout judged it bad or a
	// person rolled it back, and records the rollout's reason. Without it
	// every rollback rejects the version.
	Rollout *canary.Rollout
	// Log receives each step (default: discarded).
	Log *slog.Logger
}

// Env is one plugin canary's canary.Env.
type Env struct {
	o Options
}

var _ canary.Env = (*Env)(nil)

// New checks the options and returns the canary's Env.
func New(o Options) (*Env, error) {
	switch {
	case o.Registry == nil || o.Router == nil || o.Hub == nil:
		return nil, errors.New("pluginrelease: a registry, the engine's router and the recorder's telemetry hub are required")
	case o.Plugin == "" || o.Default == "" || o.Canary == "":
		return nil, fmt.Errorf("pluginrelease: the plugin (%q), its default version (%q) and the canary version (%q) are required", o.Plugin, o.Default, o.Canary)
	case o.Default == o.Canary:
		return nil, fmt.Errorf("pluginrelease: the canary version %s of plugin %s is its default version; canary another version", o.Canary, o.Plugin)
	case o.CrashFailures < 0:
		return nil, fmt.Errorf("pluginrelease: crash failures %d is negative; give the failed calls per interval that make a crash (0 means %d)", o.CrashFailures, DefaultCrashFailures)
	}
	if len(o.Metrics) == 0 {
		o.Metrics = slices.Clone(Metrics)
	}
	for _, m := range o.Metrics {
		if !slices.Contains(Metrics, m) {
			return nil, fmt.Errorf("pluginrelease: metric %q is not recorded for plugin canaries; use %s", m, strings.Join(Metrics, ", "))
		}
	}
	if o.CrashFailures == 0 {
		o.CrashFailures = DefaultCrashFailures
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Env{o: o}, nil
}

// Start checks that the default version is still the plugin's default and
// that the canary version opens, and registers the canary with the
// router, without a share yet.
func (e *Env) Start(ctx context.Context) error {
	_, def, err := e.o.Registry.Open(ctx, e.o.Plugin, "", plugin.KindStrategy)
	if err != nil {
		return fmt.Errorf("open the default version of plugin %s: %w", e.o.Plugin, err)
	}
	if def != e.o.Default {
		return fmt.Errorf("plugin %s's default version is %s, not %s: start the canary against the current default", e.o.Plugin, def, e.o.Default)
	}
	if _, _, err := e.o.Registry.Open(ctx, e.o.Plugin, e.o.Canary, plugin.KindStrategy); err != nil {
		return fmt.Errorf("open the canary version: %w", err)
	}
	if err := e.o.Router.Start(e.o.Plugin, e.o.Default, e.o.Canary); err != nil {
		return err
	}
	e.o.Log.Info("plugin canary started", "plugin", e.o.Plugin, "default", e.o.Default, "canary", e.o.Canary)
	return nil
}

// SetWeights sets the shares of new evolutions of the baseline and the
// canary arms; the live arm gets the rest.
func (e *Env) SetWeights(_ context.Context, live, baseline, canaryShare int) error {
	if live < 0 || live+baseline+canaryShare != 100 {
		return fmt.Errorf("pluginrelease: weights live %d%%, baseline %d%%, canary %d%% must be non-negative and sum to 100", live, baseline, canaryShare)
	}
	if err := e.o.Router.SetShares(e.o.Plugin, e.o.Canary, baseline, canaryShare); err != nil {
		return err
	}
	e.o.Log.Info("plugin canary weights", "plugin", e.o.Plugin, "live", live, "baseline", baseline, "canary", canaryShare)
	return nil
}

// Collect returns each metric's baseline (control) and canary
// (experiment) samples of [from, to). The interval is a crash when the
// canary's strategy calls failed at least CrashFailures times in it and
// more often than the baseline's: a version that traps on most inputs
// pauses every evolution it runs, and is rolled back without waiting
// for enough samples to judge.
func (e *Env) Collect(_ context.Context, from, to time.Time) (canary.Observation, error) {
	obs := canary.Observation{Samples: map[string]canary.Samples{}, Seed: uint64(to.UnixNano())}
	w := e.o.Hub.Window()
	base := func(m string) []float64 {
		return w.Values(SeriesFor(e.o.Plugin, e.o.Default, ArmBaseline, m), from, to)
	}
	cand := func(m string) []float64 { return w.Values(SeriesFor(e.o.Plugin, e.o.Canary, ArmCanary, m), from, to) }
	for _, m := range e.o.Metrics {
		obs.Samples[m] = canary.Samples{Control: base(m), Experiment: cand(m)}
	}
	failed, baseFailed := sum(cand(MetricFailures)), sum(base(MetricFailures))
	if failed >= float64(e.o.CrashFailures) && failed > baseFailed {
		obs.CanaryCrashed = true
		obs.CrashReason = fmt.Sprintf("%s %s failed %d strategy calls in the interval (the baseline %d; %d make a crash)", e.o.Plugin, e.o.Canary, int(failed), int(baseFailed), e.o.CrashFailures)
	}
	return obs, nil
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// Promote makes the canary version the plugin's default and stops
// routing: new evolutions run the new default; routed ones keep their
// version.
func (e *Env) Promote(ctx context.Context) error {
	if _, err := e.o.Registry.Promote(ctx, e.o.Plugin, e.o.Canary); err != nil {
		return fmt.Errorf("promote %s %s: %w", e.o.Plugin, e.o.Canary, err)
	}
	e.o.Router.Stop(e.o.Plugin, e.o.Canary)
	e.o.Log.Info("plugin canary promoted", "plugin", e.o.Plugin, "version", e.o.Canary)
	return nil
}

// Rollback stops routing to the canary (new evolutions run the default
// version; evolutions already on the canary arm finish on it, and a
// resume moves them to the default once the version is rejected) and
// rejects the canary version in the registry, with the reason, so that it
// is never opened, routed or promoted again. With Options.Rollout, a
// rollback that says nothing about the version — the controller stopped,
// or the environment failed — stops routing without rejecting.
func (e *Env) Rollback(ctx context.Context) error {
	e.o.Router.Stop(e.o.Plugin, e.o.Canary)
	reject, reason := e.verdict()
	if !reject {
		e.o.Log.Info("plugin canary rolled back; the version stays a candidate", "plugin", e.o.Plugin, "version", e.o.Canary, "reason", reason)
		return nil
	}
	if _, err := e.o.Registry.Reject(ctx, e.o.Plugin, e.o.Canary, reason); err != nil {
		return fmt.Errorf("reject %s %s after its canary: %w", e.o.Plugin, e.o.Canary, err)
	}
	e.o.Log.Info("plugin canary rolled back; the version is rejected", "plugin", e.o.Plugin, "version", e.o.Canary, "reason", reason)
	return nil
}

// verdict says whether the rollback rejects the canary version, and why.
func (e *Env) verdict() (bool, string) {
	if e.o.Rollout == nil {
		return true, "its canary was rolled back"
	}
	st := e.o.Rollout.Status()
	why := "its canary was rolled back: " + st.Reason
	if st.Phase != canary.PhaseRolledBack || len(st.Decisions) == 0 {
		return false, why
	}
	d := st.Decisions[len(st.Decisions)-1]
	return d.By != canary.Actor || d.Verdict == canary.VerdictFail, why
}
