package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/plugin/builtin"
	"github.com/stratoswarm/stratoswarm/host/registry"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
	"github.com/stratoswarm/stratoswarm/plugins/strategy/random/randomsearch"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// steps sums Options.Timings.
type steps struct {
	mu  sync.Mutex
	sum map[string]time.Duration
}

func (s *steps) add(step string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sum[step] += d
}

// engineWorld is an in-process engine with the built-in plugins.
func engineWorld(b *testing.B, timings func(string, time.Duration)) (*evolve.Engine, func()) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		b.Fatal(err)
	}
	host, err := plugin.NewHost(ctx, plugin.Options{CacheDir: filepath.Join(os.TempDir(), "stratoswarm-bench-wasm-cache")})
	if err != nil {
		b.Fatal(err)
	}
	reg, err := registry.New(registry.Options{Store: st, BlobDir: filepath.Join(dir, "plugins"), Host: host, Grants: []string{"log", "clock", "random", "metrics"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := reg.InstallBuiltins(ctx, builtin.FS()); err != nil {
		b.Fatalf("install the built-ins (make plugins first): %v", err)
	}
	tsp, _ := filepath.Abs(filepath.Join("..", "..", "bin", "tspsolver"))
	eng := evolve.New(evolve.Options{Store: st, Plugins: reg, Timings: timings,
		Suites: suite.Catalog{DataDir: filepath.Join(dir, "suites"), TSPSolver: []string{tsp}}})
	return eng, func() {
		eng.Close()
		reg.Close(ctx)
		host.Close(ctx)
		st.Close()
	}
}

// runEvolution runs one evolution to its end and returns its wall time.
func runEvolution(b *testing.B, eng *evolve.Engine, name string, spec *v1.EvolutionSpec) (time.Duration, *v1.Evolution) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	if _, err := eng.Create(ctx, &v1.Evolution{Metadata: &v1.ObjectMeta{Name: name}, Spec: spec}, ""); err != nil {
		b.Fatal(err)
	}
	eng.Wait(name)
	wall := time.Since(start)
	evo, err := eng.Evolutions().Get(ctx, name)
	if err != nil || evo.GetStatus().GetPhase() != evolve.PhaseSucceeded {
		b.Fatalf("%s: %v %v", name, evo.GetStatus(), err)
	}
	return wall, evo
}

// BenchmarkEngineGeneration runs the engine on bbob f1 in 10-D with the
// built-in random strategy at population 64 (batch 64, 20 generations) and
// reports where a generation's wall time goes: strategy plugin calls,
// evaluations, persistence (checkpoint synced to disk, status), and the
// share of engine+plugin time. Beside it, in the same run, the loop a user
// would write by hand: the same random search linked natively, calling the
// same BBOB function, with nothing persisted. Metrics: ms/gen, strategy-,
// evaluate-, persist-ms/gen, overhead-share, evals/s, native-evals/s and
// ratio (native evals/s over ours).
func BenchmarkEngineGeneration(b *testing.B) {
	const gens, pop = 20, 64
	tm := &steps{sum: map[string]time.Duration{}}
	eng, done := engineWorld(b, tm.add)
	defer done()
	var wall time.Duration
	runs := min(b.N, 3)
	b.ResetTimer()
	for i := range runs {
		w, _ := runEvolution(b, eng, "bbob-"+strconv.Itoa(i), &v1.EvolutionSpec{
			Strategy: &v1.PluginRef{Name: "random"}, Suite: "bbob-f1-d10", Seed: uint64(i + 1),
			Budget: &v1.Budget{MaxGenerations: gens, BatchSize: pop, Parallelism: 2},
		})
		wall += w
	}
	b.StopTimer()
	n := float64(runs * gens)
	perGen := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	genMS := perGen(wall)
	evalsPerSec := float64(runs*gens*pop) / wall.Seconds()

	// The hand-written loop.
	st, _ := suite.Catalog{}.Lookup("bbob-f1-d10", suite.Options{})
	var space sdk.SearchSpace
	spaceJSON, _ := marshalSpace(st.Space())
	if err := json.Unmarshal(spaceJSON, &space); err != nil {
		b.Fatal(err)
	}
	native := &randomsearch.Random{}
	_ = native.Init(sdk.InitRequest{Version: 1, Space: space, Seed: 1})
	t0 := time.Now()
	task := st.Tasks()[0]
	for range runs * gens {
		cs, _ := native.Propose(pop)
		res := make([]sdk.Result, len(cs))
		for j, c := range cs {
			o := st.Evaluate(context.Background(), c.Genome, task, 0)
			res[j] = sdk.Result{ID: c.ID, Scores: o.Scores}
		}
		_ = native.Observe(res)
	}
	nativeRate := float64(runs*gens*pop) / time.Since(t0).Seconds()

	b.ReportMetric(genMS*1e6, "ns/op")
	b.ReportMetric(genMS, "ms/gen")
	b.ReportMetric(perGen(tm.sum["strategy"]), "strategy-ms/gen")
	b.ReportMetric(perGen(tm.sum["evaluate"]), "evaluate-ms/gen")
	b.ReportMetric(perGen(tm.sum["persist"]), "persist-ms/gen")
	b.ReportMetric(1-perGen(tm.sum["evaluate"])/genMS, "overhead-share")
	b.ReportMetric(evalsPerSec, "evals/s")
	b.ReportMetric(nativeRate, "native-evals/s")
	b.ReportMetric(nativeRate/evalsPerSec, "ratio")
	b.Logf("%d runs x %d generations of %d on bbob-f1-d10: %.1f ms/generation (strategy %.1f, evaluate %.1f, persist %.1f); engine+plugin share %.1f%%; %.0f evals/s vs a native loop's %.0f (%.0fx)",
		runs, gens, pop, genMS, perGen(tm.sum["strategy"]), perGen(tm.sum["evaluate"]), perGen(tm.sum["persist"]),
		100*(1-perGen(tm.sum["evaluate"])/genMS), evalsPerSec, nativeRate, nativeRate/evalsPerSec)
}

func marshalSpace(s *v1.SearchSpace) ([]byte, error) { return protojsonMarshal(s) }

// BenchmarkTSPLIBStrategies evolves the tspsolver's design on tsplib with
// each built-in strategy under the same budget (24 evaluations, staged:
// eil51, berlin52, st70 first, all 14 instances for designs within 2%),
// seed 1, and reports the best design's mean gap and time beside the
// default design's. Metrics: <strategy>-gap and <strategy>-ms (the best
// design's mean over the 14 instances), default-gap and default-ms. It runs
// for minutes: make bench runs it once.
func BenchmarkTSPLIBStrategies(b *testing.B) {
	tsp := filepath.Join("..", "..", "bin", "tspsolver")
	if _, err := os.Stat(tsp); err != nil {
		b.Fatalf("%v: build it first with make build (make bench does)", err)
	}
	tspOnce.Do(func() { tspLines, tspMetrics = tsplibStrategies(b) })
	for _, l := range tspLines {
		b.Log(l)
	}
	for _, m := range tspMetrics {
		b.ReportMetric(m.v, m.unit)
	}
}

// tspOnce, tspLines and tspMetrics cache BenchmarkTSPLIBStrategies' work,
// which is the same whatever b.N is.
var (
	tspOnce    sync.Once
	tspLines   []string
	tspMetrics []metric
)

func tsplibStrategies(b *testing.B) (lines []string, metrics []metric) {
	eng, done := engineWorld(b, nil)
	defer done()
	ctx := context.Background()
	for _, strategy := range []string{"random", "cmaes", "dgm", "adas", "swarmagentic"} {
		name := "tsp-" + strategy
		wall, evo := runEvolution(b, eng, name, &v1.EvolutionSpec{
			Strategy: &v1.PluginRef{Name: strategy}, Suite: "tsplib", Seed: 1,
			Budget: &v1.Budget{MaxEvaluations: 24, BatchSize: 8, Parallelism: 2},
			Stages: []*v1.Stage{{Name: "first", Subset: "small", Threshold: 0.02}, {Name: "all", Subset: "full"}},
		})
		best := evo.GetStatus().GetBestScores()
		base, err := eng.Candidates(name).Get(ctx, evolve.BaselineCandidate)
		if err != nil {
			b.Fatal(err)
		}
		metrics = append(metrics, metric{best["gap"], strategy + "-gap"}, metric{best["time_ms"], strategy + "-ms"},
			metric{base.GetStatus().GetScores()["gap"], "default-gap"}, metric{base.GetStatus().GetScores()["time_ms"], "default-ms"})
		lines = append(lines, fmt.Sprintf("%-12s best %s: mean gap %.4f%%, %.1f ms per instance; default design: %.4f%%, %.2f ms (%d evaluations, %v)",
			strategy, evo.GetStatus().GetBestCandidate(), 100*best["gap"], best["time_ms"],
			100*base.GetStatus().GetScores()["gap"], base.GetStatus().GetScores()["time_ms"], evo.GetStatus().GetEvaluations(), wall.Round(time.Second)))
	}
	return lines, metrics
}
