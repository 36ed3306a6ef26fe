package evolve

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/suite"
)

// Plugin canaries: the engine's side. A Router puts each new evolution
// whose strategy names no version on one arm of a running canary of its
// strategy plugin; the evolution keeps that version for its whole life
// (resumes included) and shows its arm on its metadata. An Outcomes sink
// gets what the canary is judged on: every strategy call's latency and
// failure, and every generation's gain. host/pluginrelease implements both.

// The metadata an evolution routed to a canary's arm carries.
const (
	// LabelStrategyArm is the label with the evolution's arm: "canary",
	// "baseline" or "live" (select with
	// stratoswarm.io/strategy-arm=canary).
	LabelStrategyArm = "stratoswarm.io/strategy-arm"
	// AnnotationStrategyRoute is the annotation with the plugin and the
	// version the evolution was routed to, as NAME@VERSION; the checkpoint's
	// strategy_version holds the same version.
	AnnotationStrategyRoute = "stratoswarm.io/strategy-route"
)

// Router assigns a new evolution to an arm of a canary of its strategy
// plugin. Route is asked once, when an evolution whose strategy reference
// names no version starts afresh; ok false leaves it on the plugin's
// default version, unrouted. version is the plugin version to run, arm a
// short name for the arm ("canary", "baseline", "live"). It must be safe
// for concurrent use.
type Router interface {
	Route(evolution, plugin string) (version, arm string, ok bool)
}

// StrategyRun names what an outcome is about: the evolution, its strategy
// plugin and version, and its arm ("" when the evolution was not routed).
type StrategyRun struct {
	Evolution, Plugin, Version, Arm string
}

// GenerationOutcome is what one generation achieved.
type GenerationOutcome struct {
	// Generation is the generation that ended (0-based).
	Generation int32
	// Evaluations is how many candidates it evaluated (rejected ones are
	// not evaluations); at least 1.
	Evaluations int64
	// Gain is the relative improvement of the best primary score over the
	// evolution's best before the generation, oriented so that higher is
	// better whatever the objective's direction: (before − after)/|before|
	// for a minimised objective, (after − before)/|before| for a maximised
	// one (the plain difference when |before| < 1e-12). It is 0 when the
	// generation found nothing better, never negative.
	Gain float64
}

// Outcomes receives the strategy's outcomes. It must be safe for
// concurrent use and must not block: it is called from the evolutions'
// loops.
type Outcomes interface {
	// StrategyCall reports one call into the strategy plugin: its
	// operation (init, propose, observe, snapshot, restore), how long it
	// took and whether it failed. Calls cut short by the evolution being
	// stopped are not reported, nor is a restore refused because the
	// snapshot came from another version (the engine then replays).
	StrategyCall(run StrategyRun, op string, latency time.Duration, failed bool)
	// Generation reports a finished generation. A generation that
	// evaluated nothing, or that ended before the evolution had a best
	// score to compare with (its first complete generation), is not
	// reported.
	Generation(run StrategyRun, g GenerationOutcome)
}

// outcomes is a runner's canary arm and what its Outcomes reports need.
type outcomes struct {
	run StrategyRun
	// best is the best primary score before the next generation, has
	// whether there is one.
	best float64
	has  bool
}

// openPlugin opens the evolution's strategy plugin: on a fresh start
// (fresh) it asks the Router, if any, for an arm when the reference names
// no version, and records the arm on the evolution; on a resume an
// evolution routed before opens the version it was routed to. A routed
// version that no longer opens (its canary was rolled back and the
// version rejected) falls back to the plugin's default, unrouted.
func (r *runner) openPlugin(ctx context.Context, ref *v1.PluginRef, fresh bool) (*plugin.Plugin, string, error) {
	r.seedBest()
	name, want := ref.GetName(), ref.GetVersion()
	arm, routed := "", ""
	route := r.evo.GetMetadata().GetAnnotations()[AnnotationStrategyRoute]
	switch {
	case want != "":
		// A pinned version is never routed.
	case fresh && r.e.opts.Router != nil:
		if v, a, ok := r.e.opts.Router.Route(r.name, name); ok && v != "" && a != "" {
			routed, arm = v, a
		}
	case !fresh && route != "":
		if n, v, ok := strings.Cut(route, "@"); ok && n == name {
			routed, arm = v, r.evo.GetMetadata().GetLabels()[LabelStrategyArm]
		}
	}
	if routed != "" {
		p, version, err := r.e.opts.Plugins.Open(ctx, name, routed, plugin.KindStrategy)
		if err == nil {
			if err := r.setRoute(ctx, arm, name+"@"+version); err != nil {
				return nil, "", err
			}
			r.out.run = StrategyRun{Evolution: r.name, Plugin: name, Version: version, Arm: arm}
			return p, version, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		r.e.log.Warn("the strategy version this evolution was routed to does not open; it continues on the default version", "evolution", r.name, "plugin", name, "version", routed, "arm", arm, "err", err)
	}
	if err := r.setRoute(ctx, "", ""); err != nil {
		return nil, "", err
	}
	p, version, err := r.e.opts.Plugins.Open(ctx, name, want, plugin.KindStrategy)
	if err != nil {
		return nil, "", err
	}
	r.out.run = StrategyRun{Evolution: r.name, Plugin: name, Version: version}
	return p, version, nil
}

// setRoute records the evolution's arm and route on its metadata, or
// removes them when arm is "". It writes only what changes.
func (r *runner) setRoute(ctx context.Context, arm, route string) error {
	md := r.evo.GetMetadata()
	if md.GetLabels()[LabelStrategyArm] == arm && md.GetAnnotations()[AnnotationStrategyRoute] == route {
		return nil
	}
	evo, err := r.e.evolutions.Modify(ctx, r.name, nil, func(evo *v1.Evolution) error {
		md := evo.GetMetadata()
		if arm == "" {
			delete(md.Labels, LabelStrategyArm)
			delete(md.Annotations, AnnotationStrategyRoute)
			return nil
		}
		if md.Labels == nil {
			md.Labels = map[string]string{}
		}
		if md.Annotations == nil {
			md.Annotations = map[string]string{}
		}
		md.Labels[LabelStrategyArm], md.Annotations[AnnotationStrategyRoute] = arm, route
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the evolution's strategy arm %q: %w", arm, err)
	}
	r.evo = evo
	return nil
}

// reportCall tells Options.Outcomes about one strategy call.
func (r *runner) reportCall(ctx context.Context, op string, start time.Time, err error) {
	o := r.e.opts.Outcomes
	if o == nil || ctx.Err() != nil && err != nil {
		return
	}
	if err != nil && op == "restore" && r.out.run.Version != r.ck.GetStrategyVersion() {
		return // another version's snapshot: not a failure, the engine replays
	}
	o.StrategyCall(r.out.run, op, r.e.now().Sub(start), err != nil)
}

// seedBest sets the best score a resumed evolution had reached.
func (r *runner) seedBest() {
	primary := r.plan.objectives[0]
	if b, ok := r.evo.GetStatus().GetBestScores()[primary.Name]; ok && !math.IsNaN(b) {
		r.out.best, r.out.has = b, true
	}
}

// reportGeneration tells Options.Outcomes what the generation just
// observed gained, and keeps the new best.
func (r *runner) reportGeneration(batch []*v1.Candidate, evaluated int64) {
	primary := r.plan.objectives[0]
	before, had := r.out.best, r.out.has
	for _, c := range batch {
		if c.GetStatus().GetPhase() != CandidateEvaluated || !r.complete(c) {
			continue
		}
		s, ok := c.GetStatus().GetScores()[primary.Name]
		if !ok || math.IsNaN(s) || math.IsInf(s, 0) {
			continue
		}
		if !r.out.has || better(primary, s, r.out.best) {
			r.out.best, r.out.has = s, true
		}
	}
	o := r.e.opts.Outcomes
	if o == nil || !had || evaluated <= 0 {
		return
	}
	o.Generation(r.out.run, GenerationOutcome{Generation: r.ck.GetGeneration() - 1, Evaluations: evaluated, Gain: gain(primary, before, r.out.best)})
}

// better reports whether a beats b on objective o.
func better(o suite.Objective, a, b float64) bool {
	if o.Maximize {
		return a > b
	}
	return a < b
}

// gain is the relative improvement from before to after, higher better.
func gain(o suite.Objective, before, after float64) float64 {
	d := before - after
	if o.Maximize {
		d = after - before
	}
	if d <= 0 {
		return 0
	}
	if s := math.Abs(before); s >= 1e-12 {
		d /= s
	}
	return d
}
