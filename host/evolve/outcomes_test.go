package evolve

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/suite"
)

// fakeRouter routes the evolutions it has a route for and remembers whom
// it was asked about.
type fakeRouter struct {
	routes map[string][2]string // evolution → version, arm
	mu     sync.Mutex
	asked  []string
}

func (f *fakeRouter) Route(evolution, plugin string) (string, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, evolution+"/"+plugin)
	r, ok := f.routes[evolution]
	return r[0], r[1], ok
}

type call struct {
	run    StrategyRun
	op     string
	failed bool
}

// fakeOutcomes keeps every report.
type fakeOutcomes struct {
	mu    sync.Mutex
	calls []call
	gens  map[string][]GenerationOutcome
	runs  map[string]StrategyRun
}

func (f *fakeOutcomes) StrategyCall(run StrategyRun, op string, latency time.Duration, failed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{run, op, failed})
}

func (f *fakeOutcomes) Generation(run StrategyRun, g GenerationOutcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gens == nil {
		f.gens, f.runs = map[string][]GenerationOutcome{}, map[string]StrategyRun{}
	}
	f.gens[run.Evolution] = append(f.gens[run.Evolution], g)
	f.runs[run.Evolution] = run
}

// runsOf is every StrategyRun the calls of evolution were reported with.
func (f *fakeOutcomes) runsOf(evolution string) map[StrategyRun]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[StrategyRun]int{}
	for _, c := range f.calls {
		if c.run.Evolution == evolution {
			out[c.run]++
		}
	}
	return out
}

// uploadRandom registers the built-in random module under another version.
func (w *world) uploadRandom(version string) {
	w.t.Helper()
	manifest, module := readBuilt(w.t, "strategy-random.yaml"), readBuilt(w.t, "strategy-random.wasm")
	var lines []string
	for _, l := range strings.Split(string(manifest), "\n") {
		if strings.HasPrefix(l, "version:") {
			l = "version: " + version
		}
		lines = append(lines, l)
	}
	if _, err := w.reg.Upload(context.Background(), []byte(strings.Join(lines, "\n")), nil, module, ""); err != nil {
		w.t.Fatal(err)
	}
	w.reg.Wait()
}

func readBuilt(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(builtDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoutedEvolutionsKeepTheirArm: the router is asked once, at a fresh
// start, and only for evolutions that pin no version; a routed evolution
// shows its arm, reports its outcomes under it, and after a restart
// resumes on the version it was routed to even though the router no
// longer routes; one whose routed version was rejected meanwhile
// continues on the default, unrouted.
func TestRoutedEvolutionsKeepTheirArm(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := newWorld(t, dir)
	_, def, err := w.reg.Open(ctx, "random", "", plugin.KindStrategy)
	if err != nil {
		t.Fatal(err)
	}
	w.uploadRandom("9.1.0")
	w.uploadRandom("9.2.0")
	router := &fakeRouter{routes: map[string][2]string{
		"kept": {"9.1.0", "canary"}, "dropped": {"9.2.0", "canary"}, "base": {def, "baseline"}, "pinned": {"9.1.0", "canary"},
	}}
	out1 := &fakeOutcomes{}
	w.eng.opts.Router, w.eng.opts.Outcomes = router, out1
	// Every evaluation hangs: the evolutions stop in their first
	// generation, with a checkpoint.
	w.eng.opts.Suites = stallingSuites{inner: suite.Catalog{DataDir: filepath.Join(dir, "suites")}, after: 0, count: &atomic.Int64{}}
	names := []string{"kept", "dropped", "base", "pinned", "plain"}
	for _, n := range names {
		strategy := "random"
		if n == "pinned" {
			strategy = "random@" + def
		}
		if _, err := w.eng.Create(ctx, evolution(n, "bbob-f1-d2", strategy, 40, 3), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		for {
			ck, err := w.eng.checkpoints.Get(ctx, n)
			if err == nil && len(ck.GetPending()) > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	w.close()
	slices.Sort(router.asked)
	if got := strings.Join(router.asked, " "); got != "base/random dropped/random kept/random plain/random" {
		t.Fatalf("the router was asked about %s; want the four evolutions that pin no version, once each", got)
	}
	if runs := out1.runsOf("kept"); len(runs) != 1 || runs[StrategyRun{"kept", "random", "9.1.0", "canary"}] == 0 {
		t.Fatalf("kept's calls were reported as %v", runs)
	}

	// The canary is over (no router); 9.2.0 was rejected.
	w2 := newWorld(t, dir)
	if _, err := w2.reg.Reject(ctx, "random", "9.2.0", "its canary was rolled back"); err != nil {
		t.Fatal(err)
	}
	out2 := &fakeOutcomes{}
	w2.eng.opts.Outcomes = out2
	if err := w2.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ version, arm string }{
		"kept": {"9.1.0", "canary"}, "dropped": {def, ""}, "base": {def, "baseline"}, "pinned": {def, ""}, "plain": {def, ""},
	}
	for _, n := range names {
		evo := w2.waitPhase(n, PhaseSucceeded, PhasePaused, PhaseFailed)
		if evo.GetStatus().GetPhase() != PhaseSucceeded {
			t.Fatalf("%s: %v", n, evo.GetStatus())
		}
		wv := want[n]
		route := ""
		if wv.arm != "" {
			route = "random@" + wv.version
		}
		md := evo.GetMetadata()
		if md.GetLabels()[LabelStrategyArm] != wv.arm || md.GetAnnotations()[AnnotationStrategyRoute] != route {
			t.Errorf("%s: labels %v, annotations %v; want arm %q, route %q", n, md.GetLabels(), md.GetAnnotations(), wv.arm, route)
		}
		ck, err := w2.eng.checkpoints.Get(ctx, n)
		if err != nil || ck.GetStrategyVersion() != wv.version {
			t.Errorf("%s ran random %s, want %s (%v)", n, ck.GetStrategyVersion(), wv.version, err)
		}
		run := StrategyRun{n, "random", wv.version, wv.arm}
		if runs := out2.runsOf(n); len(runs) != 1 || runs[run] == 0 {
			t.Errorf("%s's calls after the restart were reported as %v, want %v", n, runs, run)
		}
		// 5 generations of 8; the first complete one has no best before it.
		gens := out2.gens[n]
		if len(gens) != 4 || out2.runs[n] != run {
			t.Errorf("%s: %d generation outcomes as %v", n, len(gens), out2.runs[n])
		}
		for _, g := range gens {
			if g.Evaluations != 8 || g.Gain < 0 || g.Gain > 1 {
				t.Errorf("%s: generation outcome %+v", n, g)
			}
		}
	}
	for _, c := range out2.calls {
		if c.failed {
			t.Errorf("a failed call was reported: %+v", c)
		}
	}
}

func TestGainIsRelativeAndHigherIsBetter(t *testing.T) {
	minimise, maximise := suite.Objective{Name: "f"}, suite.Objective{Name: "f", Maximize: true}
	for _, c := range []struct {
		o                   suite.Objective
		before, after, want float64
	}{
		{minimise, 10, 5, 0.5},
		{minimise, 10, 10, 0},
		{minimise, -4, -6, 0.5},
		{maximise, 4, 6, 0.5},
		{maximise, 6, 4, 0},
		{minimise, 0, -0.25, 0.25}, // |before| < 1e-12: the plain difference
	} {
		if got := gain(c.o, c.before, c.after); got != c.want {
			t.Errorf("gain(%v, %g → %g) = %g, want %g", c.o.Maximize, c.before, c.after, got, c.want)
		}
	}
}
