package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/plugins/strategy/random/randomsearch"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// builtinModule reads a built-in plugin that `make plugins` built.
func builtinModule(b *testing.B, base string) []byte {
	b.Helper()
	wasm, err := os.ReadFile(filepath.Join("..", "..", "host", "plugin", "builtin", "wasm", base+".wasm"))
	if err != nil {
		b.Fatalf("%v: build the built-in plugins first with `make plugins` (make bench does)", err)
	}
	return wasm
}

// benchSpace is an 8-parameter search space of every kind a strategy
// draws from.
const benchSpace = `{"parameters": [
  {"name": "x", "float": {"min": -5, "max": 5}},
  {"name": "y", "float": {"min": -5, "max": 5}},
  {"name": "lr", "float": {"min": 0.0001, "max": 0.1, "log": true}},
  {"name": "k", "int": {"min": "1", "max": "64"}},
  {"name": "algo", "categorical": {"choices": ["ga", "de", "cma"]}},
  {"name": "on", "bool": {}},
  {"name": "steps", "sequence": {"choices": ["2opt", "oropt", "swap", "3opt"], "minLength": 1, "maxLength": 6}},
  {"name": "restarts", "int": {"min": "0", "max": "10"}}
]}`

// BenchmarkStrategyProposeObserve measures one ask/tell step of the
// built-in random strategy (propose 16 candidates, observe their 16
// results) three ways in the same run: through the Wasm plugin
// (plugin.Session, JSON over ABI v1, standard Go compiled to wasip1),
// natively through the SDK's JSON dispatcher (sdk.Handle: the same JSON
// work without Wasm), and natively on Go values (randomsearch.Random, what
// a user would pick who trusted the code and linked it in). Metrics:
// wasm-ns/op, json-ns/op, native-ns/op and the ratios; at most 500 steps
// are timed whatever b.N is.
func BenchmarkStrategyProposeObserve(b *testing.B) {
	const batch = 16
	ctx := context.Background()
	wasm := builtinModule(b, "strategy-random")
	h, err := plugin.NewHost(ctx, plugin.Options{CacheDir: filepath.Join(os.TempDir(), "stratoswarm-bench-wasm-cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(ctx)
	p, err := h.Load(ctx, wasm, plugin.Config{ID: "random@bench", Kind: plugin.KindStrategy, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	sess, err := p.Session(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close(ctx)

	initReq := []byte(`{"version":1,"space":` + benchSpace + `,"objectives":[{"name":"f","direction":"MINIMIZE"}],"seed":7}`)
	proposeReq := []byte(fmt.Sprintf(`{"version":1,"n":%d}`, batch))
	// observe builds the results of a proposal, as the engine would.
	observe := func(proposed json.RawMessage) []byte {
		var pr sdk.ProposeResult
		if err := json.Unmarshal(proposed, &pr); err != nil || len(pr.Candidates) != batch {
			b.Fatalf("propose: %d candidates, %v", len(pr.Candidates), err)
		}
		req := sdk.ObserveRequest{Version: 1}
		for i, c := range pr.Candidates {
			req.Results = append(req.Results, sdk.Result{ID: c.ID, Scores: map[string]float64{"f": float64(i)}})
		}
		out, _ := json.Marshal(req)
		return out
	}

	// Wasm: the plugin.
	if _, err := sess.Call(ctx, "init", initReq); err != nil {
		b.Fatal(err)
	}
	wasmStep := func() {
		res, err := sess.Call(ctx, "propose", proposeReq)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sess.Call(ctx, "observe", observe(res)); err != nil {
			b.Fatal(err)
		}
	}
	// Native JSON: the SDK dispatcher on the host.
	randomRegister := func() sdk.Strategy { return &randomsearch.Random{} }
	sdk.RegisterStrategy(randomRegister)
	defer sdk.RegisterStrategy(nil)
	handle := func(op string, req []byte) json.RawMessage {
		var env struct {
			Result json.RawMessage
			Error  *sdk.Error
		}
		if err := json.Unmarshal(sdk.Handle(op, req), &env); err != nil || env.Error != nil {
			b.Fatalf("%s: %v %v", op, err, env.Error)
		}
		return env.Result
	}
	handle(sdk.OpStrategyInit, initReq)
	jsonStep := func() {
		res := handle(sdk.OpStrategyPropose, proposeReq)
		handle(sdk.OpStrategyObserve, observe(res))
	}
	// Native values.
	var space sdk.SearchSpace
	if err := json.Unmarshal([]byte(benchSpace), &space); err != nil {
		b.Fatal(err)
	}
	native := &randomsearch.Random{}
	if err := native.Init(sdk.InitRequest{Version: 1, Space: space, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	results := make([]sdk.Result, batch)
	nativeStep := func() {
		cs, err := native.Propose(batch)
		if err != nil || len(cs) != batch {
			b.Fatal(err)
		}
		for i, c := range cs {
			results[i] = sdk.Result{ID: c.ID, Scores: map[string]float64{"f": float64(i)}}
		}
		if err := native.Observe(results); err != nil {
			b.Fatal(err)
		}
	}

	// A Wasm step costs milliseconds: cap the runs so `make bench` (20000x)
	// stays short; ns/op is overridden with the Wasm step's mean.
	n := min(b.N, 500)
	b.ResetTimer()
	tw := timeLoop(n, wasmStep)
	tj := timeLoop(n, jsonStep)
	tn := timeLoop(n, nativeStep)
	b.StopTimer()
	b.ReportMetric(tw, "ns/op")
	b.ReportMetric(tw, "wasm-ns/op")
	b.ReportMetric(tj, "json-ns/op")
	b.ReportMetric(tn, "native-ns/op")
	b.ReportMetric(tw/tn, "ratio-vs-native")
	b.ReportMetric(tw/tj, "ratio-vs-json")
	b.Logf("n=%d propose %d + observe %d: Wasm plugin %.0f ns, native SDK JSON %.0f ns (%.2fx), native Go values %.0f ns (%.2fx)",
		n, batch, batch, tw, tj, tw/tj, tn, tw/tn)
}

// timeLoop runs f n times and returns the mean ns per run.
func timeLoop(n int, f func()) float64 {
	t0 := time.Now()
	for range n {
		f()
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

// BenchmarkGoPluginLoad measures, for the built-in strategy plugin (3.6 MB
// of standard Go), the two costs of bringing a plugin up once it is in the
// compilation cache: Host.Load (compile from the cache, a runtime of its
// own with the host module linked, the first instance and its
// _initialize) and a fresh instance of a loaded plugin (plugin.Session on
// a busy pool: instantiate and _initialize). Beside them, in the same run,
// the bare wazero equivalent of Load (a runtime with the same cache, WASI,
// CompileModule, InstantiateModule). It also reports the memory one more
// instance costs: its linear memory after _initialize and the Go heap
// growth per live instance. Metrics: load-ms, wazero-load-ms,
// instance-ms, ratio, linear-MiB, heap-MiB/instance.
func BenchmarkGoPluginLoad(b *testing.B) {
	ctx := context.Background()
	wasm := builtinModule(b, "strategy-random")
	cacheDir := filepath.Join(os.TempDir(), "stratoswarm-bench-wasm-cache")
	h, err := plugin.NewHost(ctx, plugin.Options{CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(ctx)
	// Warm the cache (the upload did this in swarmd).
	warm, err := h.Load(ctx, wasm, plugin.Config{ID: "random@warm", Kind: plugin.KindStrategy})
	if err != nil {
		b.Fatal(err)
	}

	cache, err := wazero.NewCompilationCacheWithDir(cacheDir + "-bare")
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close(ctx)
	bareLoad := func() (wazero.Runtime, uint32) {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		cm, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
		if err != nil {
			b.Fatal(err)
		}
		return rt, mod.Memory().Size()
	}
	rt, linear := bareLoad() // warm the bare cache too
	rt.Close(ctx)

	n := min(b.N, 50)
	b.ResetTimer()
	t0 := time.Now()
	for i := range n {
		p, err := h.Load(ctx, wasm, plugin.Config{ID: fmt.Sprintf("random@%d", i), Kind: plugin.KindStrategy})
		if err != nil {
			b.Fatal(err)
		}
		p.Close(ctx)
	}
	t1 := time.Now()
	for range n {
		rt, _ := bareLoad()
		rt.Close(ctx)
	}
	t2 := time.Now()
	// Fresh instances: each Session takes one; holding them keeps the pool
	// busy so the next Session instantiates.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sessions := make([]*plugin.Session, 0, n)
	t3 := time.Now()
	for range n {
		s, err := warm.Session(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	t4 := time.Now()
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	for _, s := range sessions {
		s.Close(ctx)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	load, bare, inst := ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t4.Sub(t3))
	heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n) / (1 << 20)
	b.ReportMetric(load*1e6, "ns/op")
	b.ReportMetric(load, "load-ms")
	b.ReportMetric(bare, "wazero-load-ms")
	b.ReportMetric(inst, "instance-ms")
	b.ReportMetric(load/bare, "ratio")
	b.ReportMetric(float64(linear)/(1<<20), "linear-MiB")
	b.ReportMetric(heap, "heap-MiB/instance")
	b.Logf("n=%d, %.1f MB module: Host.Load %.2f ms, bare wazero compile+instantiate %.2f ms (%.2fx); a fresh instance %.2f ms; linear memory %.2f MiB, Go heap %.2f MiB per instance",
		n, float64(len(wasm))/1e6, load, bare, load/bare, inst, float64(linear)/(1<<20), heap)
}
