package perf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

// watModule compiles one of host/plugin's WAT test plugins.
func watModule(b *testing.B, name string) []byte {
	b.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		b.Fatalf("wat2wasm is not installed (%v): the plugin benchmarks compile host/plugin/testdata/*.wat with it; install it with `apt-get install wabt`", err)
	}
	out := filepath.Join(b.TempDir(), name+".wasm")
	src := filepath.Join("..", "..", "host", "plugin", "testdata", name)
	if msg, err := exec.Command(bin, src, "-o", out).CombinedOutput(); err != nil {
		b.Fatalf("wat2wasm %s: %v\n%s", src, err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// jsonOfSize returns a JSON object of exactly n bytes.
func jsonOfSize(n int) []byte {
	const head, tail = `{"version":1,"pad":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// asModule builds the AssemblyScript SDK's examples (once per run) and
// returns one of them.
func asModule(b *testing.B, name string) []byte {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "stratoswarm-bench-as")
	if _, err := os.Stat(filepath.Join(dir, name+".wasm")); err != nil {
		script := filepath.Join("..", "..", "sdk-wasm", "assemblyscript", "build.sh")
		if out, err := exec.Command("bash", script, dir).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v (it needs Node.js and npm)\n%s", script, err, out)
		}
	}
	wasm, err := os.ReadFile(filepath.Join(dir, name+".wasm"))
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// goEcho builds host/plugin's plain-Go test guest (no SDK), which echoes
// any request other than "loop" and "oom" in an envelope.
func goEcho(b *testing.B) []byte {
	b.Helper()
	out := filepath.Join(b.TempDir(), "echo-go.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/goplugins/loop")
	cmd.Dir = filepath.Join("..", "..", "host", "plugin")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the Go echo guest: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// BenchmarkPluginRoundTrip measures Plugin.Call on three echo guests (WAT,
// AssemblyScript with its SDK, plain Go) at 1 KiB and 64 KiB: the pool, the
// deadline with close-on-done, the request via swarm_alloc, the response
// read, bounds and size checks, both frees and the envelope validation.
// Beside it, in the same run, two bare wazero round trips of the same guest
// function (cached api.Function, alloc, write, call, read and copy, two
// frees): one on a default runtime, what a user with trusted code would
// pick, and one with close-on-done and a per-call deadline, the least a
// host of untrusted code can do. Metrics: plugin-ns/op, wazero-ns/op,
// wazero-deadline-ns/op, ratio (plugin/wazero) and ratio-vs-deadline; the
// built-in ns/op is the sum of all three.
func BenchmarkPluginRoundTrip(b *testing.B) {
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, plugin.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(ctx)
	for _, guest := range []struct {
		name string
		wasm func(*testing.B) []byte
	}{
		{"wat", func(b *testing.B) []byte { return watModule(b, "echo.wat") }},
		{"as", func(b *testing.B) []byte { return asModule(b, "echo") }},
		{"go", goEcho},
	} {
		b.Run(guest.name, func(b *testing.B) {
			wasm := guest.wasm(b)
			p, err := h.Load(ctx, wasm, plugin.Config{ID: "echo-" + guest.name + "@bench", Kind: plugin.KindTrust, MaxInstances: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(ctx)
			bare := bareRoundTrip(b, wasm, false)
			safe := bareRoundTrip(b, wasm, true)
			roundTrips(b, guest.name, p, bare, safe)
		})
	}
}

// roundTrips runs the 1 KiB and 64 KiB sub-benchmarks of one guest.
func roundTrips(b *testing.B, guest string, p *plugin.Plugin, bare, safe func([]byte) ([]byte, error)) {
	ctx := context.Background()
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			req := jsonOfSize(size.n)
			// Check both paths once.
			got, err := p.Call(ctx, "score", req)
			if err != nil || string(got) != string(req) {
				b.Fatalf("plugin echo: %d bytes, %v", len(got), err)
			}
			for _, f := range []func([]byte) ([]byte, error){bare, safe} {
				raw, err := f(req)
				if err != nil || len(raw) != len(req)+17 {
					b.Fatalf("bare echo: %d bytes, %v", len(raw), err)
				}
			}
			b.ResetTimer()
			t0 := time.Now()
			for range b.N {
				if _, err := p.Call(ctx, "score", req); err != nil {
					b.Fatal(err)
				}
			}
			t1 := time.Now()
			for range b.N {
				if _, err := bare(req); err != nil {
					b.Fatal(err)
				}
			}
			t2 := time.Now()
			for range b.N {
				if _, err := safe(req); err != nil {
					b.Fatal(err)
				}
			}
			t3 := time.Now()
			b.StopTimer()
			perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
			ours, direct, sandboxed := perOp(t1.Sub(t0)), perOp(t2.Sub(t1)), perOp(t3.Sub(t2))
			b.ReportMetric(ours, "plugin-ns/op")
			b.ReportMetric(direct, "wazero-ns/op")
			b.ReportMetric(sandboxed, "wazero-deadline-ns/op")
			b.ReportMetric(ours/direct, "ratio")
			b.ReportMetric(ours/sandboxed, "ratio-vs-deadline")
			b.Logf("n=%d %s %s: Plugin.Call %.0f ns, bare wazero %.0f ns (%.2fx), wazero with close-on-done and a deadline %.0f ns (%.2fx)",
				b.N, guest, size.name, ours, direct, ours/direct, sandboxed, ours/sandboxed)
		})
	}
}

// bareRoundTrip instantiates wasm on its own wazero runtime and returns
// the ABI round trip of swarm_trust_score without anything of ours:
// cached api.Function, alloc, write, call, read and copy, two frees. With
// sandboxed, the runtime closes modules on context done and each round
// trip runs under a 2 s deadline, as Plugin.Call does.
func bareRoundTrip(b *testing.B, wasm []byte, sandboxed bool) func([]byte) ([]byte, error) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(sandboxed))
	b.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r) // the Go guest imports WASI
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	mem := mod.Memory()
	alloc, free, op := mod.ExportedFunction("swarm_alloc"), mod.ExportedFunction("swarm_free"), mod.ExportedFunction(plugin.OpTrustScore)
	stack := make([]uint64, 2)
	return func(req []byte) ([]byte, error) {
		cctx := ctx
		if sandboxed {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
		}
		stack[0] = uint64(len(req))
		if err := alloc.CallWithStack(cctx, stack); err != nil {
			return nil, err
		}
		ptr := uint32(stack[0])
		mem.Write(ptr, req)
		stack[0], stack[1] = uint64(ptr), uint64(len(req))
		if err := op.CallWithStack(cctx, stack); err != nil {
			return nil, err
		}
		rp, rn := uint32(stack[0]>>32), uint32(stack[0])
		view, _ := mem.Read(rp, rn)
		out := append([]byte(nil), view...)
		stack[0], stack[1] = uint64(ptr), uint64(len(req))
		if err := free.CallWithStack(cctx, stack); err != nil {
			return nil, err
		}
		stack[0], stack[1] = uint64(rp), uint64(rn)
		if err := free.CallWithStack(cctx, stack); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// BenchmarkPluginRunaway measures how long a runaway call (a WAT
// `loop br` that never ends) takes to come back against its 50 ms
// deadline. Each call costs a whole deadline, so at most 40 calls run
// whatever b.N is; ns/op is overridden with the mean time to return.
// Metrics: deadline-ratio (mean return time / deadline) and max-ratio.
func BenchmarkPluginRunaway(b *testing.B) {
	const deadline = 50 * time.Millisecond
	wasm := watModule(b, "hostile.wat")
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, plugin.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(ctx)
	p, err := h.Load(ctx, wasm, plugin.Config{ID: "runaway@bench", Kind: plugin.KindTrust,
		Limits: plugin.Limits{CallTimeout: deadline}})
	if err != nil {
		b.Fatal(err)
	}
	loop := []byte("L") // hostile.wat: a request starting with 'L' loops forever
	var total, worst time.Duration
	n := 0
	b.ResetTimer()
	for i := range b.N {
		if i >= 40 {
			break
		}
		t0 := time.Now()
		_, err := p.Call(ctx, "score", loop)
		d := time.Since(t0)
		if err == nil || !strings.Contains(err.Error(), "deadline") {
			b.Fatalf("want a timeout, got %v", err)
		}
		total += d
		worst = max(worst, d)
		n++
	}
	b.StopTimer()
	mean := total / time.Duration(n)
	b.ReportMetric(float64(mean.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(mean)/float64(deadline), "deadline-ratio")
	b.ReportMetric(float64(worst)/float64(deadline), "max-ratio")
	b.Logf("%d runaway calls with a %v deadline: mean return %v (%.2fx), worst %v (%.2fx)",
		n, deadline, mean, float64(mean)/float64(deadline), worst, float64(worst)/float64(deadline))
}
