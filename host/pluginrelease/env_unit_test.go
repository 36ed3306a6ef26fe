package pluginrelease

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// fakeRegistry has one plugin with a default version and the versions
// that open; it records promotions and rejections.
type fakeRegistry struct {
	def      string
	opens    map[string]bool
	promoted []string
	rejected map[string]string
}

func (f *fakeRegistry) Open(_ context.Context, name, version string, _ plugin.Kind) (*plugin.Plugin, string, error) {
	if version == "" {
		version = f.def
	}
	if !f.opens[version] {
		return nil, "", errors.New(name + " " + version + " is Rejected")
	}
	return nil, version, nil
}

func (f *fakeRegistry) Promote(_ context.Context, _, version string) (*v1.Plugin, error) {
	f.promoted = append(f.promoted, version)
	f.def = version
	return nil, nil
}

func (f *fakeRegistry) Reject(_ context.Context, _, version, reason string) (*v1.Plugin, error) {
	if f.rejected == nil {
		f.rejected = map[string]string{}
	}
	f.rejected[version] = reason
	f.opens[version] = false
	return nil, nil
}

func newFakes(t *testing.T) (*fakeRegistry, *Router, *telemetry.Hub) {
	hub, err := telemetry.NewHub(telemetry.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeRegistry{def: "1", opens: map[string]bool{"1": true, "2": true}}, NewRouter(), hub
}

func TestNewRefusesBadOptions(t *testing.T) {
	reg, router, hub := newFakes(t)
	ok := Options{Registry: reg, Router: router, Hub: hub, Plugin: "random", Default: "1", Canary: "2"}
	for _, c := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Hub = nil }, "telemetry hub are required"},
		{func(o *Options) { o.Canary = "" }, "are required"},
		{func(o *Options) { o.Canary = "1" }, "is its default version"},
		{func(o *Options) { o.Metrics = []string{"requests_total"} }, `"requests_total" is not recorded`},
		{func(o *Options) { o.CrashFailures = -1 }, "negative"},
	} {
		o := ok
		c.edit(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}

func TestStartChecksTheVersions(t *testing.T) {
	ctx := context.Background()
	reg, router, hub := newFakes(t)
	reg.def = "0"
	reg.opens["0"] = true
	env, _ := New(Options{Registry: reg, Router: router, Hub: hub, Plugin: "random", Default: "1", Canary: "2"})
	if err := env.Start(ctx); err == nil || !strings.Contains(err.Error(), "default version is 0, not 1") {
		t.Fatalf("start against an old default: %v", err)
	}
	reg.def = "1"
	reg.opens["2"] = false
	if err := env.Start(ctx); err == nil || !strings.Contains(err.Error(), "open the canary version") {
		t.Fatalf("start of a version that does not open: %v", err)
	}
	reg.opens["2"] = true
	if err := env.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok := router.Get("random"); !ok || c.Canary != 0 || c.Baseline != 0 {
		t.Fatalf("router after start: %+v %v", c, ok)
	}
	if err := env.SetWeights(ctx, 60, 20, 10); err == nil {
		t.Fatal("weights summing to 90 were taken")
	}
	if err := env.SetWeights(ctx, 50, 25, 25); err != nil {
		t.Fatal(err)
	}
	if c, _ := router.Get("random"); c.Canary != 25 || c.Baseline != 25 {
		t.Fatalf("router after weights: %+v", c)
	}
	if err := env.Promote(ctx); err != nil || reg.def != "2" {
		t.Fatalf("promote: %v, default %s", err, reg.def)
	}
	if _, ok := router.Get("random"); ok {
		t.Fatal("routing after the promotion")
	}
}

// TestCollectReadsTheArmsAndSeesCrashes records outcomes through the
// Recorder and reads them back per interval.
func TestCollectReadsTheArmsAndSeesCrashes(t *testing.T) {
	ctx := context.Background()
	reg, router, hub := newFakes(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := NewRecorder(hub, func() time.Time { return now })
	env, _ := New(Options{Registry: reg, Router: router, Hub: hub, Plugin: "random", Default: "1", Canary: "2", CrashFailures: 2})
	runOf := func(version, arm string) evolve.StrategyRun {
		return evolve.StrategyRun{Evolution: "e", Plugin: "random", Version: version, Arm: arm}
	}
	base, cand := runOf("1", ArmBaseline), runOf("2", ArmCanary)
	for i := range 10 {
		rec.StrategyCall(base, "propose", time.Duration(i+1)*time.Millisecond, false)
		rec.StrategyCall(cand, "propose", time.Duration(i+1)*time.Millisecond, i == 0)
		rec.StrategyCall(runOf("1", ArmLive), "propose", time.Second, true)       // not judged
		rec.StrategyCall(runOf("1", ""), "propose", time.Second, true)            // not routed
		rec.Generation(base, evolve.GenerationOutcome{Evaluations: 4, Gain: 0.4}) // 0.1 per evaluation
		rec.Generation(cand, evolve.GenerationOutcome{Evaluations: 0, Gain: 1})   // nothing evaluated: dropped
	}
	obs, err := env.Collect(ctx, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	lat := obs.Samples[MetricCallSeconds]
	if len(lat.Control) != 10 || len(lat.Experiment) != 10 || lat.Control[0] != 0.001 {
		t.Fatalf("latency samples %+v", lat)
	}
	if f := obs.Samples[MetricFailures]; sum(f.Control) != 0 || sum(f.Experiment) != 1 || len(f.Experiment) != 10 {
		t.Fatalf("failure samples %+v", f)
	}
	if g := obs.Samples[MetricGainPerEvaluation]; len(g.Control) != 10 || g.Control[0] != 0.1 || len(g.Experiment) != 0 {
		t.Fatalf("gain samples %+v", g)
	}
	if obs.CanaryCrashed {
		t.Fatalf("one failure is a crash: %s", obs.CrashReason)
	}
	// The next interval: two canary failures, none of the baseline's.
	now = now.Add(time.Minute)
	rec.StrategyCall(cand, "propose", time.Millisecond, true)
	rec.StrategyCall(cand, "propose", time.Millisecond, true)
	obs, _ = env.Collect(ctx, now, now.Add(time.Minute))
	if !obs.CanaryCrashed || !strings.Contains(obs.CrashReason, "failed 2 strategy calls") {
		t.Fatalf("two failures: crashed %v %q", obs.CanaryCrashed, obs.CrashReason)
	}
	// As many baseline failures: the environment, not the canary.
	rec.StrategyCall(base, "propose", time.Millisecond, true)
	rec.StrategyCall(base, "propose", time.Millisecond, true)
	if obs, _ = env.Collect(ctx, now, now.Add(time.Minute)); obs.CanaryCrashed {
		t.Fatalf("crash with the baseline failing as much: %q", obs.CrashReason)
	}
	if rec.Dropped() != 0 {
		t.Fatalf("%d samples dropped", rec.Dropped())
	}
}

// TestRollbackRejectsOnlyWhatWasJudged: a judged or manual rollback
// rejects the version with the rollout's reason; a controller that stops
// leaves it a candidate. Both stop routing.
func TestRollbackRejectsOnlyWhatWasJudged(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for _, c := range []struct {
		name   string
		end    func(*canary.Rollout)
		reject bool
	}{
		{"manual", func(r *canary.Rollout) { _, _ = r.Rollback(now, "alice", "it looks slow") }, true},
		{"crash", func(r *canary.Rollout) {
			_, _ = r.Observe(now, canary.Observation{CanaryCrashed: true, CrashReason: "it trapped"})
		}, true},
		{"stopped", func(r *canary.Rollout) {
			_, _ = r.Rollback(now, canary.Actor, "the controller stopped (context canceled), and no canary is left unwatched")
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, router, hub := newFakes(t)
			r, err := canary.NewRollout(canary.Plan{StepWeights: []int{10}, Interval: time.Minute, Judge: DefaultConfig()})
			if err != nil {
				t.Fatal(err)
			}
			env, _ := New(Options{Registry: reg, Router: router, Hub: hub, Plugin: "random", Default: "1", Canary: "2", Rollout: r})
			if err := env.Start(ctx); err != nil {
				t.Fatal(err)
			}
			c.end(r)
			if err := env.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := router.Get("random"); ok {
				t.Fatal("routing after the rollback")
			}
			why, rejected := reg.rejected["2"]
			if rejected != c.reject || rejected && !strings.Contains(why, r.Status().Reason) {
				t.Fatalf("rejected %v (%q), want %v", rejected, why, c.reject)
			}
		})
	}
	// Without a rollout every rollback rejects.
	reg, router, hub := newFakes(t)
	env, _ := New(Options{Registry: reg, Router: router, Hub: hub, Plugin: "random", Default: "1", Canary: "2"})
	if err := env.Rollback(ctx); err != nil || reg.rejected["2"] == "" {
		t.Fatalf("rollback without a rollout: %v, %v", err, reg.rejected)
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range DefaultMetrics() {
		names[m.Name] = true
	}
	for _, m := range Metrics {
		if !names[m] {
			t.Errorf("recorded metric %s has no default judge configuration", m)
		}
	}
	// What the weights decide: only slower pauses, less found rolls back.
	cfg := DefaultConfig()
	score := func(bad ...string) float64 {
		total := 0.0
		for g, w := range cfg.GroupWeights {
			if !strings.Contains(strings.Join(bad, ","), g) {
				total += w
			}
		}
		return total
	}
	if s := score(GroupLatency); s < cfg.Thresholds.Marginal || s >= cfg.Thresholds.Pass {
		t.Errorf("latency alone scores %g: not marginal", s)
	}
	if s := score(GroupQuality); s >= cfg.Thresholds.Marginal {
		t.Errorf("quality alone scores %g: not a failure", s)
	}
}
