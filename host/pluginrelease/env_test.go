package pluginrelease

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/registry"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// modules are the random strategy (its manifest and module) and the trap
// strategy, built once.
var modules struct {
	manifest, random, trap []byte
}

// def is the built-in random's version, the default in every test.
var def string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginrelease-test")
	if err != nil {
		panic(err)
	}
	for out, pkg := range map[string]string{"random.wasm": "./plugins/strategy/random", "trap.wasm": "./host/pluginrelease/testdata/trapstrategy"} {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, out), pkg)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		return b
	}
	modules.manifest = read("../../plugins/strategy/random/plugin.yaml")
	for _, l := range strings.Split(string(modules.manifest), "\n") {
		if v, ok := strings.CutPrefix(l, "version:"); ok {
			def = strings.TrimSpace(v)
		}
	}
	modules.random = read(filepath.Join(dir, "random.wasm"))
	modules.trap = read(filepath.Join(dir, "trap.wasm"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var sharedCache = filepath.Join(os.TempDir(), "stratoswarm-test-wasm-cache")

// stepClock is a canary.Clock whose intervals are made of evolutions: each
// After runs one batch of evolutions to their end (step), then moves the
// time on by the interval. The recorder stamps samples with its Now, so
// every sample of a batch falls in the interval the batch ran in.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	step func()
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		c.step()
		c.mu.Lock()
		c.now = c.now.Add(d)
		t := c.now
		c.mu.Unlock()
		ch <- t
	}()
	return ch
}

// world is a registry with the built-in random strategy (version def, the
// default), an engine that routes through a Router and records outcomes
// into a hub, and a clock whose intervals run batches of evolutions.
type world struct {
	t      *testing.T
	st     *store.Store
	reg    *registry.Registry
	eng    *evolve.Engine
	router *Router
	hub    *telemetry.Hub
	clock  *stepClock

	mu      sync.Mutex
	created []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	host, err := plugin.NewHost(ctx, plugin.Options{CacheDir: sharedCache})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.Options{Store: st, BlobDir: filepath.Join(dir, "plugins"), Host: host,
		Grants: []string{"log", "clock", "random", "metrics"}, AllowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.InstallBuiltins(ctx, fstest.MapFS{
		"strategy-random.yaml": {Data: modules.manifest}, "strategy-random.wasm": {Data: modules.random},
	}); err != nil {
		t.Fatal(err)
	}
	hub, err := telemetry.NewHub(telemetry.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, st: st, reg: reg, router: NewRouter(), hub: hub, clock: &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	w.eng = evolve.New(evolve.Options{Store: st, Plugins: reg, Suites: suite.Catalog{DataDir: filepath.Join(dir, "suites")},
		Router: w.router, Outcomes: NewRecorder(hub, w.clock.Now)})
	t.Cleanup(func() {
		w.eng.Close()
		reg.Close(ctx)
		host.Close(ctx)
		st.Close()
	})
	return w
}

// upload registers module as random@version and waits for its gates.
func (w *world) upload(version string, module []byte) {
	w.t.Helper()
	var lines []string
	for _, l := range strings.Split(string(modules.manifest), "\n") {
		if strings.HasPrefix(l, "version:") {
			l = "version: " + version
		}
		lines = append(lines, l)
	}
	if _, err := w.reg.Upload(context.Background(), []byte(strings.Join(lines, "\n")), nil, module, ""); err != nil {
		w.t.Fatal(err)
	}
	w.reg.Wait()
	if v := w.version(version); v.GetState() != registry.StateCandidate {
		w.t.Fatalf("random %s after its gates: %s %s", version, v.GetState(), v.GetReason())
	}
}

func (w *world) plugin() *v1.Plugin {
	w.t.Helper()
	p, err := w.reg.Plugins().Get(context.Background(), "random")
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) version(version string) *v1.PluginVersion {
	for _, v := range w.plugin().GetStatus().GetVersions() {
		if v.GetVersion() == version {
			return v
		}
	}
	w.t.Fatalf("random has no version %s", version)
	return nil
}

// run creates evolutions of random (strategy as given: "random" or
// "random@VERSION") on bbob's sphere, named prefix-N, and waits until
// each has ended or paused.
func (w *world) run(prefix, strategy string, n int) []*v1.Evolution {
	ctx := context.Background()
	name, version, _ := strings.Cut(strategy, "@")
	var names []string
	for i := range n {
		evo := &v1.Evolution{
			Metadata: &v1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i)},
			Spec: &v1.EvolutionSpec{
				Strategy: &v1.PluginRef{Name: name, Version: version},
				Suite:    "bbob-f1-d2",
				Budget:   &v1.Budget{MaxEvaluations: 24, BatchSize: 4, Parallelism: 4},
				Seed:     uint64(i + 1),
			},
		}
		if _, err := w.eng.Create(ctx, evo, ""); err != nil {
			w.t.Error(err)
			return nil
		}
		names = append(names, evo.GetMetadata().GetName())
	}
	w.mu.Lock()
	w.created = append(w.created, names...)
	w.mu.Unlock()
	var out []*v1.Evolution
	for _, n := range names {
		out = append(out, w.wait(n))
	}
	return out
}

// wait returns the evolution once it has ended or paused.
func (w *world) wait(name string) *v1.Evolution {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		evo, err := w.eng.Evolutions().Get(context.Background(), name)
		if err != nil {
			w.t.Error(err)
			return nil
		}
		switch evo.GetStatus().GetPhase() {
		case evolve.PhaseSucceeded, evolve.PhasePaused, evolve.PhaseFailed:
			return evo
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Errorf("evolution %s did not end in 2 minutes", name)
	return nil
}

// strategyVersion is the version an evolution's checkpoint ran.
func (w *world) strategyVersion(name string) string {
	w.t.Helper()
	ck, err := store.NewRepository[*v1.EvolutionCheckpoint](w.st, evolve.KindCheckpoints, true).Get(context.Background(), name)
	if err != nil {
		w.t.Fatalf("checkpoint of %s: %v", name, err)
	}
	return ck.GetStrategyVersion()
}

// plan is a rollout of two steps (25 %, 50 %), judged by DefaultConfig on
// at least 20 values per side.
func plan() canary.Plan {
	return canary.Plan{StepWeights: []int{25, 50}, Interval: time.Minute, Judge: DefaultConfig(), MinSamples: 20, MaxNoData: 3, Pace: canary.DefaultPace}
}

// drive runs a rollout of random from the default to version, each interval a
// batch of 32 unpinned evolutions and 4 pinned to the default.
func (w *world) drive(version string) (canary.Status, *Env, error) {
	w.t.Helper()
	r, err := canary.NewRollout(plan())
	if err != nil {
		w.t.Fatal(err)
	}
	env, err := New(Options{Registry: w.reg, Router: w.router, Hub: w.hub, Plugin: "random", Default: def, Canary: version, Rollout: r})
	if err != nil {
		w.t.Fatal(err)
	}
	batch := 0
	w.clock.step = func() {
		batch++
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); w.run(fmt.Sprintf("b%d", batch), "random", 32) }()
		go func() { defer wg.Done(); w.run(fmt.Sprintf("p%d", batch), "random@"+def, 4) }()
		wg.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := canary.Drive(ctx, r, env, w.clock)
	return st, env, err
}

// arms counts evolutions by their arm label ("" unrouted) and checks that
// each ran the version of its arm.
func (w *world) arms(evos []*v1.Evolution, canaryVersion string) map[string]int {
	w.t.Helper()
	out := map[string]int{}
	for _, evo := range evos {
		name := evo.GetMetadata().GetName()
		arm := evo.GetMetadata().GetLabels()[evolve.LabelStrategyArm]
		out[arm]++
		want := def
		if arm == ArmCanary {
			want = canaryVersion
		}
		route := evo.GetMetadata().GetAnnotations()[evolve.AnnotationStrategyRoute]
		if arm != "" && route != "random@"+want || arm == "" && route != "" {
			w.t.Errorf("%s on arm %q has route %q, want random@%s", name, arm, route, want)
		}
		if got := w.strategyVersion(name); got != want {
			w.t.Errorf("%s on arm %q ran random %s, want %s", name, arm, got, want)
		}
	}
	return out
}

func TestASameQualityCanaryIsPromoted(t *testing.T) {
	w := newWorld(t)
	w.upload("9.1.0", modules.random) // the same code under a new version
	st, _, err := w.drive("9.1.0")
	if err != nil || st.Phase != canary.PhasePromoted {
		t.Fatalf("rollout: %v, %s: %s", err, st.Phase, st.Reason)
	}
	for _, d := range st.Decisions {
		t.Logf("%s %s %g: %s", d.Action, d.Verdict, d.Score, d.Reason)
		if d.Verdict == canary.VerdictPass && d.Score < 90 {
			t.Errorf("a pass with score %g", d.Score)
		}
	}
	if n := len(st.Decisions); n < 2 || st.Decisions[n-1].Action != canary.ActionPromote {
		t.Fatalf("decisions %+v", st.Decisions)
	}
	p := w.plugin()
	if p.GetSpec().GetDefaultVersion() != "9.1.0" || w.version(def).GetState() != registry.StateRetired {
		t.Fatalf("after the promotion: default %s, the old default %s", p.GetSpec().GetDefaultVersion(), w.version(def).GetState())
	}
	if _, ok := w.router.Get("random"); ok {
		t.Fatal("still routing after the promotion")
	}
	// Every evolution of the rollout ran its arm's version to the end;
	// the pinned ones were never routed.
	var routed, pinned []*v1.Evolution
	for _, name := range w.created {
		evo := w.wait(name)
		if evo.GetStatus().GetPhase() != evolve.PhaseSucceeded {
			t.Errorf("%s: %s %s", name, evo.GetStatus().GetPhase(), evo.GetStatus().GetReason())
		}
		if strings.HasPrefix(name, "p") {
			pinned = append(pinned, evo)
		} else {
			routed = append(routed, evo)
		}
	}
	arms := w.arms(routed, "9.1.0")
	if arms[ArmCanary] == 0 || arms[ArmBaseline] == 0 || arms[ArmLive] == 0 || arms[""] != 0 {
		t.Fatalf("arms %v", arms)
	}
	if got := w.arms(pinned, "9.1.0"); got[""] != len(pinned) {
		t.Fatalf("pinned evolutions were routed: %v", got)
	}
	// New evolutions run the new default, unrouted.
	for _, evo := range w.run("after", "random", 4) {
		if evo.GetMetadata().GetLabels()[evolve.LabelStrategyArm] != "" || w.strategyVersion(evo.GetMetadata().GetName()) != "9.1.0" {
			t.Fatalf("%s after the promotion: %v, version %s", evo.GetMetadata().GetName(), evo.GetMetadata(), w.strategyVersion(evo.GetMetadata().GetName()))
		}
	}
}

func TestATrappingCanaryIsRolledBackAndNeverRoutedAgain(t *testing.T) {
	w := newWorld(t)
	// It traps on every space without a "mode" parameter: it passes its
	// gates and fails on every real evolution.
	w.upload("9.2.0", modules.trap)
	st, _, err := w.drive("9.2.0")
	if err != nil || st.Phase != canary.PhaseRolledBack {
		t.Fatalf("rollout: %v, %s: %s", err, st.Phase, st.Reason)
	}
	if !strings.Contains(st.Reason, "crashed") || !strings.Contains(st.Reason, "failed") {
		t.Fatalf("reason %q", st.Reason)
	}
	v := w.version("9.2.0")
	if v.GetState() != registry.StateRejected || !strings.Contains(v.GetReason(), "its canary was rolled back") || !strings.Contains(v.GetReason(), "crashed") {
		t.Fatalf("random 9.2.0 after the rollback: %s %q", v.GetState(), v.GetReason())
	}
	if w.plugin().GetSpec().GetDefaultVersion() != def {
		t.Fatal("the default changed")
	}
	if _, ok := w.router.Get("random"); ok {
		t.Fatal("still routing after the rollback")
	}
	// The canary's evolutions paused at their first propose; the others
	// ran to the end.
	var onCanary []string
	for _, name := range w.created {
		evo := w.wait(name)
		arm := evo.GetMetadata().GetLabels()[evolve.LabelStrategyArm]
		phase := evo.GetStatus().GetPhase()
		switch {
		case arm == ArmCanary && (phase != evolve.PhasePaused || !strings.Contains(evo.GetStatus().GetReason(), "failed in propose")):
			t.Errorf("%s on the canary: %s %s", name, phase, evo.GetStatus().GetReason())
		case arm != ArmCanary && phase != evolve.PhaseSucceeded:
			t.Errorf("%s on arm %q: %s %s", name, arm, phase, evo.GetStatus().GetReason())
		}
		if arm == ArmCanary {
			onCanary = append(onCanary, name)
		}
	}
	if len(onCanary) < DefaultCrashFailures {
		t.Fatalf("%d evolutions on the canary", len(onCanary))
	}
	// Never routed again: new evolutions run the default, unrouted.
	after := w.run("after", "random", 16)
	if arms := w.arms(after, "9.2.0"); arms[""] != len(after) {
		t.Fatalf("routed after the rollback: %v", arms)
	}
	// A paused canary evolution resumed moves to the default version.
	ctx := context.Background()
	if _, err := w.eng.Resume(ctx, onCanary[0], nil); err != nil {
		t.Fatal(err)
	}
	evo := w.wait(onCanary[0])
	if evo.GetStatus().GetPhase() != evolve.PhaseSucceeded || evo.GetMetadata().GetLabels()[evolve.LabelStrategyArm] != "" || w.strategyVersion(onCanary[0]) != def {
		t.Fatalf("resumed canary evolution: %s %s, labels %v, version %s", evo.GetStatus().GetPhase(), evo.GetStatus().GetReason(), evo.GetMetadata().GetLabels(), w.strategyVersion(onCanary[0]))
	}
	// And the version cannot be canaried again.
	env, err := New(Options{Registry: w.reg, Router: w.router, Hub: w.hub, Plugin: "random", Default: def, Canary: "9.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Start(ctx); err == nil || !strings.Contains(err.Error(), "Rejected") {
		t.Fatalf("a second canary of the rejected version: %v", err)
	}
}
