package astest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/registry"
	"github.com/stratoswarm/stratoswarm/host/space"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// builtDir holds the modules built by sdk-wasm/assemblyscript/build.sh.
var builtDir string

// TestMain builds the SDK's examples and test guests once. A missing npm
// fails the run: CI installs Node.js, and these tests are the SDK's only
// check against the real host.
func TestMain(m *testing.M) {
	dir, err := build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "astest:", err)
		os.Exit(1)
	}
	builtDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build() (string, error) {
	for _, tool := range []string{"bash", "node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is not installed (%v): these tests build the AssemblyScript SDK's plugins with sdk-wasm/assemblyscript/build.sh, which needs Node.js and npm", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "astest")
	if err != nil {
		return "", err
	}
	script := filepath.Join("..", "..", "..", "sdk-wasm", "assemblyscript", "build.sh")
	if out, err := exec.Command("bash", script, dir).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%s %s: %v\n%s", script, dir, err, out)
	}
	return dir, nil
}

// module returns a built module, e.g. "trust-mean" or "testdata-probe".
func module(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(builtDir, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// example returns an example's module, its plugin.yaml and the parsed
// manifest.
func example(t testing.TB, name string) ([]byte, []byte, registry.Manifest) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(builtDir, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := registry.ParseManifest(raw)
	if err != nil {
		t.Fatalf("examples/%s/plugin.yaml: %v", name, err)
	}
	return module(t, name), raw, m
}

// trustMean returns examples/trust-mean.
func trustMean(t testing.TB) ([]byte, []byte, registry.Manifest) {
	t.Helper()
	return example(t, "trust-mean")
}

func limitsOf(m registry.Manifest) plugin.Limits {
	return plugin.Limits{
		MemoryBytes:    m.Limits.MemoryBytes,
		CallTimeout:    time.Duration(m.Limits.CallTimeoutMillis) * time.Millisecond,
		MaxOutputBytes: m.Limits.MaxOutputBytes,
	}
}

// recorder is an EvidenceSink that keeps everything.
type recorder struct {
	mu  sync.Mutex
	got []plugin.Evidence
}

func (r *recorder) RecordEvidence(_ string, e plugin.Evidence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
}

func (r *recorder) all() []plugin.Evidence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]plugin.Evidence(nil), r.got...)
}

func newHost(t testing.TB, opts plugin.Options) *plugin.Host {
	t.Helper()
	h, err := plugin.NewHost(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func load(t testing.TB, h *plugin.Host, wasm []byte, cfg plugin.Config) *plugin.Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), wasm, cfg)
	if err != nil {
		t.Fatalf("load %s: %v", cfg.ID, err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trustResult is TrustScore, decoded strictly.
type trustResult struct {
	Version     int     `json:"version"`
	Score       float64 `json:"score"`
	Uncertainty float64 `json:"uncertainty"`
	LowerBound  float64 `json:"lowerBound"`
}

func decodeStrict(t testing.TB, raw []byte, dst any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(dst); err != nil {
		t.Fatalf("result %s does not match the schema: %v", raw, err)
	}
}

// evidence returns pos positive and neg negative pieces of weight 1.
func evidence(pos, neg int) []map[string]any {
	out := []map[string]any{}
	for i := range pos + neg {
		out = append(out, map[string]any{"time": "2026-11-25T11:00:00Z", "kind": "task", "positive": i < pos, "weight": 1, "detail": "é ✓"})
	}
	return out
}

// meanScore is the documented formula of examples/trust-mean.
func meanScore(p, w, k float64) trustResult {
	s := (p + k/2) / (w + k)
	lb := s - 1.6448536269514722*math.Sqrt(s*(1-s)/(w+k+1))
	return trustResult{Version: 1, Score: s, Uncertainty: k / (w + k), LowerBound: math.Max(0, math.Min(1, lb))}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func TestTrustMeanValidates(t *testing.T) {
	wasm, _, m := trustMean(t)
	if m.Name != "mean-as" || m.Kind != registry.KindTrust || m.ABI != 1 {
		t.Fatalf("manifest: %+v", m)
	}
	h := newHost(t, plugin.Options{})
	info, err := h.Validate(context.Background(), wasm, plugin.KindTrust, nil, limitsOf(m))
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(info.Imports) != 0 || info.UsesWASI {
		t.Fatalf("trust-mean imports %v (WASI %v); it uses no host function and must import nothing", info.Imports, info.UsesWASI)
	}
	want := []string{"memory", "swarm_abi_v1", "swarm_alloc", "swarm_free", "swarm_trust_score"}
	if strings.Join(info.Exports, ",") != strings.Join(want, ",") {
		t.Fatalf("exports %v, want %v", info.Exports, want)
	}
	// The manifest's kind is checked against the operations.
	if _, err := h.Validate(context.Background(), wasm, plugin.KindPersonality, nil, limitsOf(m)); err == nil || !strings.Contains(err.Error(), "swarm_trust_score") {
		t.Fatalf("validate as personality: %v, want a refusal naming swarm_trust_score", err)
	}
	t.Logf("trust-mean.wasm: %d bytes, echo.wasm: %d bytes", len(wasm), len(module(t, "echo")))
}

func TestTrustMeanScores(t *testing.T) {
	wasm, _, m := trustMean(t)
	rec := &recorder{}
	h := newHost(t, plugin.Options{Evidence: rec})
	p := load(t, h, wasm, plugin.Config{ID: "mean-as@1.0.0", Kind: plugin.KindTrust, Limits: limitsOf(m)})
	ctx := context.Background()

	score := func(req map[string]any) trustResult {
		t.Helper()
		raw, err := p.Call(ctx, "score", mustJSON(t, req))
		if err != nil {
			t.Fatalf("score %v: %v", req, err)
		}
		var r trustResult
		decodeStrict(t, raw, &r)
		for name, x := range map[string]float64{"score": r.Score, "uncertainty": r.Uncertainty, "lowerBound": r.LowerBound} {
			if math.IsNaN(x) || x < 0 || x > 1 {
				t.Fatalf("%s = %v is outside [0, 1] (%s)", name, x, raw)
			}
		}
		return r
	}
	check := func(what string, got, want trustResult) {
		t.Helper()
		if got.Version != 1 || !near(got.Score, want.Score) || !near(got.Uncertainty, want.Uncertainty) || !near(got.LowerBound, want.LowerBound) {
			t.Errorf("%s: got %+v, want %+v", what, got, want)
		}
	}
	now := "2026-11-25T12:00:00Z"
	good := score(map[string]any{"version": 1, "now": now, "evidence": evidence(9, 1)})
	none := score(map[string]any{"version": 1, "now": now, "evidence": []any{}})
	bad := score(map[string]any{"version": 1, "now": now, "evidence": evidence(1, 9)})
	check("9 good, 1 bad", good, meanScore(9, 10, 2))
	check("no evidence", none, trustResult{Version: 1, Score: 0.5, Uncertainty: 1, LowerBound: meanScore(0, 0, 2).LowerBound})
	check("1 good, 9 bad", bad, meanScore(1, 10, 2))
	if !(good.Score > none.Score && none.Score > bad.Score && good.LowerBound > bad.LowerBound && good.Uncertainty < none.Uncertainty) {
		t.Fatalf("not monotonic: %+v, %+v, %+v", good, none, bad)
	}
	// Weights, the configured prior, no "now", and protojson's numbers as
	// strings and snake_case keys.
	check("weights and prior", score(map[string]any{
		"version": "1", "config": map[string]any{"prior": 4},
		"evidence": []any{
			map[string]any{"positive": true, "weight": "2.5", "time": "2026-11-25T12:00:00.25+01:00"},
			map[string]any{"positive": false, "weight": 0.5, "unknown_field": []any{1, "x", nil}},
			map[string]any{"positive": true},
		},
	}), meanScore(2.5, 3, 4))
	// Replaying the same request gives the same bytes.
	req := mustJSON(t, map[string]any{"version": 1, "now": now, "evidence": evidence(7, 3)})
	first, err := p.Call(ctx, "score", req)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		again, err := p.Call(ctx, "score", req)
		if err != nil || !bytes.Equal(again, first) {
			t.Fatalf("replay gave %s (%v), first %s", again, err, first)
		}
	}
	if ev := rec.all(); len(ev) != 0 {
		t.Fatalf("well-formed calls recorded evidence against the plugin: %+v", ev)
	}
}

func TestTrustMeanErrorsAreEnvelopes(t *testing.T) {
	wasm, _, m := trustMean(t)
	rec := &recorder{}
	h := newHost(t, plugin.Options{Evidence: rec})
	p := load(t, h, wasm, plugin.Config{ID: "mean-as@1.0.0", Kind: plugin.KindTrust, Limits: limitsOf(m), MaxInstances: 1})
	ctx := context.Background()
	deep := `{"version":1,"config":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`
	for _, c := range []struct{ req, want string }{
		{`{"version":1,"evidence":[{"positive":true,"weight":1},{"positive":true,"weight":-1}]}`, "evidence[1].weight must be a finite number >= 0, got -1$"},
		{`{"version":1,"evidence":[{"weight":"NaN"}]}`, "evidence[0].weight must be a finite number >= 0, got NaN$"},
		{`{"version":1,"config":{"prior":0}}`, "config.prior must be positive and finite, got 0$"},
		{`{"version":1,"config":{"prior":"lots"}}`, `config.prior: "lots" is not a number`},
		{`{"version":1,"evidence":"lots"}`, `bad request: evidence: "lots" is not an array`},
		{`{"version":1,"evidence":[{"positive":"yes"}]}`, `bad request: evidence[0].positive: "yes" is not a boolean`},
		{`{"version":1,"now":"yesterday"}`, `bad request: now: "yesterday" is not an RFC 3339 time`},
		{`{"version":1,"now":""}`, `bad request: now: "" is not an RFC 3339 time`},
		{`{"version":1,"evidence":[{"time":"2026-02-30T00:00:00Z"}]}`, `evidence[0].time: "2026-02-30T00:00:00Z" is not an RFC 3339 time`},
		{`{"version":2,"evidence":[]}`, "request version 2 is not supported (this SDK speaks version 1)"},
		{`{"version":1.5}`, "request version 1.5 is not an integer"},
		{`{"evidence":[]}`, "the request has no version"},
		{`[1,2,3]`, "the request is not a JSON object"},
		{`{"version":1,"evidence":[{"weight":1,`, "the request is not valid JSON"},
		{`{"version":1} trailing`, "the request is not valid JSON: unexpected character 't' after the top-level value"},
		{"{\"version\":1,\"now\":\"a\x01b\"}", "control character in a string"},
		{deep, "nesting deeper than 512"},
	} {
		_, err := p.Call(ctx, "score", []byte(c.req))
		var ge *plugin.GuestError
		if !errors.As(err, &ge) {
			t.Fatalf("request %.60s: got %v, want an error envelope (a *plugin.GuestError)", c.req, err)
		}
		var f *plugin.Failure
		if errors.As(err, &f) {
			t.Fatalf("request %.60s: the instance failed (%v); a malformed request must be answered, not trap", c.req, err)
		}
		// A trailing $ anchors the expected text at the end of the message.
		want, anchored := strings.CutSuffix(c.want, "$")
		if ge.Code != "invalid" || !strings.Contains(ge.Message, want) || anchored && !strings.HasSuffix(ge.Message, want) {
			t.Errorf("request %.60s: error %q %q, want code invalid and a message containing %q", c.req, ge.Code, ge.Message, c.want)
		}
	}
	// The instance served every error and still scores.
	if _, err := p.Call(ctx, "score", []byte(`{"version":1,"evidence":[]}`)); err != nil {
		t.Fatal(err)
	}
	if ev := rec.all(); len(ev) != 0 {
		t.Fatalf("error envelopes recorded evidence against the plugin: %+v", ev)
	}
}

// jsonOfSize returns a JSON object of exactly n bytes, as the benchmarks do.
func jsonOfSize(n int) []byte {
	const head, tail = `{"version":1,"pad":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

func TestEchoRoundTrips(t *testing.T) {
	h := newHost(t, plugin.Options{})
	p := load(t, h, module(t, "echo"), plugin.Config{ID: "echo-as@bench", Kind: plugin.KindTrust, MaxInstances: 1})
	ctx := context.Background()
	unicode := []byte(` { "version" : 1, "s": "é ✓ 😀 \u0000 \"q\"", "n": [1.5e300, -0, true, null] } `)
	for _, req := range [][]byte{jsonOfSize(1 << 10), jsonOfSize(64 << 10), unicode} {
		for range 100 {
			got, err := p.Call(ctx, "score", req)
			if err != nil {
				t.Fatalf("echo of %d bytes: %v", len(req), err)
			}
			// The host hands back the result without the whitespace around it.
			if !bytes.Equal(got, bytes.TrimSpace(req)) {
				t.Fatalf("echo of %d bytes returned %d bytes: %.60q", len(req), len(got), got)
			}
		}
	}
}

// bare is one instance of a module on a plain wazero runtime, driven
// through the ABI by hand, without the host's pool or checks.
type bare struct {
	t                 testing.TB
	mod               api.Module
	alloc, free, call api.Function
}

func newBare(t testing.TB, wasm []byte, op string) *bare {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	// No _initialize: an AssemblyScript module registers in its start
	// section, which every instantiation runs.
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	return &bare{t, mod, mod.ExportedFunction("swarm_alloc"), mod.ExportedFunction("swarm_free"), mod.ExportedFunction(op)}
}

func (b *bare) fn(f api.Function, args ...uint64) uint64 {
	b.t.Helper()
	res, err := f.Call(context.Background(), args...)
	if err != nil {
		b.t.Fatalf("%s%v: %v", f.Definition().Name(), args, err)
	}
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

// roundTrip calls the operation on a request at ptr (already written) and
// returns the response, then frees both buffers.
func (b *bare) roundTrip(ptr, n uint32) []byte {
	b.t.Helper()
	r := b.fn(b.call, uint64(ptr), uint64(n))
	rp, rn := uint32(r>>32), uint32(r)
	view, ok := b.mod.Memory().Read(rp, rn)
	if !ok || rp == 0 {
		b.t.Fatalf("response (%#x, %d) is outside memory", rp, rn)
	}
	out := append([]byte(nil), view...)
	b.fn(b.free, uint64(ptr), uint64(n))
	b.fn(b.free, uint64(rp), uint64(rn))
	return out
}

func (b *bare) send(req []byte) []byte {
	b.t.Helper()
	ptr := uint32(b.fn(b.alloc, uint64(len(req))))
	if ptr == 0 || !b.mod.Memory().Write(ptr, req) {
		b.t.Fatalf("swarm_alloc(%d) = %#x", len(req), ptr)
	}
	return b.roundTrip(ptr, uint32(len(req)))
}

// TestEchoMemoryIsReclaimed checks the runtime choice: with the minimal
// runtime and a collection at the start of each operation, 1000 round
// trips of 64 KiB (125 MiB through the guest) run in under 1 MiB of
// memory, which stops growing after the first round trips.
func TestEchoMemoryIsReclaimed(t *testing.T) {
	b := newBare(t, module(t, "echo"), plugin.OpTrustScore)
	req := jsonOfSize(64 << 10)
	want := append(append([]byte(`{"v":1,"result":`), req...), '}')
	if got := b.send(req); !bytes.Equal(got, want) {
		t.Fatalf("bare echo: %.60q...", got)
	}
	sizes := []uint32{}
	for range 4 {
		for range 250 {
			if got := b.send(req); len(got) != len(want) {
				t.Fatalf("bare echo returned %d bytes, want %d", len(got), len(want))
			}
		}
		sizes = append(sizes, b.mod.Memory().Size())
	}
	t.Logf("memory after each 250 round trips of 64 KiB: %v bytes", sizes)
	if sizes[3] != sizes[0] || sizes[3] > 1<<20 {
		t.Fatalf("memory grew to %v bytes over 1000 round trips: garbage is not collected", sizes)
	}
}

func TestAllocatorEdges(t *testing.T) {
	b := newBare(t, module(t, "trust-mean"), plugin.OpTrustScore)
	if p := b.fn(b.alloc, 0xffffffff); p != 0 {
		t.Fatalf("swarm_alloc(4 GiB - 1) = %#x, want 0", p)
	}
	p0, p1 := b.fn(b.alloc, 0), b.fn(b.alloc, 0)
	if p0 == 0 || p1 == 0 || p0 == p1 {
		t.Fatalf("zero-length allocations: %#x and %#x, want distinct non-zero addresses", p0, p1)
	}
	// Freeing an unknown address, or twice, is ignored.
	b.fn(b.free, 12345, 1)
	b.fn(b.free, p0, 0)
	b.fn(b.free, p0, 0)
	b.fn(b.free, p1, 0)
	// A request that swarm_alloc did not hand out is refused with an
	// envelope, not read.
	var env struct {
		V     int `json:"v"`
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(b.roundTrip(8, 16), &env); err != nil || env.V != 1 || env.Error.Code != "invalid" || !strings.Contains(env.Error.Message, "swarm_alloc") {
		t.Fatalf("request outside any buffer: %+v (%v)", env, err)
	}
	// A length past the buffer is refused too.
	ptr := uint32(b.fn(b.alloc, 4))
	b.mod.Memory().Write(ptr, []byte(`{"v"`))
	if err := json.Unmarshal(b.roundTrip(ptr, 4096), &env); err != nil || env.Error.Code != "invalid" {
		t.Fatalf("request longer than its buffer: %+v (%v)", env, err)
	}
}

// adjustResult is Adjustment, decoded strictly.
type adjustResult struct {
	Version          int     `json:"version"`
	MutationBias     float64 `json:"mutationBias"`
	ResourceHeadroom float64 `json:"resourceHeadroom"`
	CanaryPace       float64 `json:"canaryPace"`
}

// TestTrapIsAFailure shows the two ways a plugin says no: an error
// envelope (the instance carries on) and an AssemblyScript abort (throw,
// an index out of range), which traps: the host discards the instance,
// records evidence and serves the next call on a fresh one.
func TestTrapIsAFailure(t *testing.T) {
	wasm := module(t, "testdata-probe")
	rec := &recorder{}
	h := newHost(t, plugin.Options{Evidence: rec})
	info, err := h.Validate(context.Background(), wasm, plugin.KindPersonality, nil, plugin.Limits{})
	if err != nil || len(info.Imports) != 0 {
		t.Fatalf("validate probe: imports %v, %v", info.Imports, err)
	}
	p := load(t, h, wasm, plugin.Config{ID: "probe@1.0.0", Kind: plugin.KindPersonality, MaxInstances: 1})
	ctx := context.Background()
	adjust := func(role string, generation int, trust float64) (json.RawMessage, error) {
		return p.Call(ctx, "adjust", mustJSON(t, map[string]any{"version": 1, "role": role, "generation": generation, "trust": trust}))
	}
	ok := func() {
		t.Helper()
		raw, err := adjust("solver", 3, 0.75)
		if err != nil {
			t.Fatalf("adjust: %v", err)
		}
		var a adjustResult
		decodeStrict(t, raw, &a)
		if a != (adjustResult{Version: 1, MutationBias: 0.25, ResourceHeadroom: 0.25, CanaryPace: 0.75}) {
			t.Fatalf("adjust = %+v (%s)", a, raw)
		}
	}
	ok()

	for _, c := range []struct {
		role, code, msg string
	}{
		{"refuse", "failed", "refused on purpose (generation 3)"},
		{"nan", "failed", "cannot encode the result: mutationBias is NaN (results must be finite numbers)"},
	} {
		_, err := adjust(c.role, 3, 0.5)
		var ge *plugin.GuestError
		if !errors.As(err, &ge) || ge.Code != c.code || ge.Message != c.msg {
			t.Fatalf("role %s: %v, want error envelope %s: %s", c.role, err, c.code, c.msg)
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("error envelopes recorded %d pieces of evidence", n)
	}

	for i, role := range []string{"throw", "bounds"} {
		_, err := adjust(role, 5, 0.5)
		var f *plugin.Failure
		if !errors.As(err, &f) || f.Kind != plugin.FailTrap || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("role %s: %v, want a trap failure (wasm error: unreachable)", role, err)
		}
		var ge *plugin.GuestError
		if errors.As(err, &ge) {
			t.Fatalf("role %s: a trap surfaced as a guest error: %v", role, err)
		}
		ev := rec.all()
		if len(ev) != i+1 || ev[i].Kind != plugin.EvidenceTrap || ev[i].Positive {
			t.Fatalf("role %s: evidence %+v, want one more negative trap", role, ev)
		}
		ok() // a fresh instance serves the next call
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostImportsNeedTheirCapability: a module imports a host function
// only when it calls it; then it needs the capability.
func TestHostImportsNeedTheirCapability(t *testing.T) {
	wasm := module(t, "testdata-logger")
	logs := &syncBuffer{}
	h := newHost(t, plugin.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()
	if _, err := h.Validate(ctx, wasm, plugin.KindTrust, nil, plugin.Limits{}); err == nil || !strings.Contains(err.Error(), "swarm:host/v1.log") || !strings.Contains(err.Error(), `"log" capability`) {
		t.Fatalf("validate without the log capability: %v, want a refusal naming swarm:host/v1.log", err)
	}
	info, err := h.Validate(ctx, wasm, plugin.KindTrust, []plugin.Capability{plugin.CapLog}, plugin.Limits{})
	if err != nil || strings.Join(info.Imports, ",") != "swarm:host/v1.log" {
		t.Fatalf("validate with log: imports %v, %v; want exactly swarm:host/v1.log", info.Imports, err)
	}
	p := load(t, h, wasm, plugin.Config{ID: "logger@1.0.0", Kind: plugin.KindTrust, Capabilities: []plugin.Capability{plugin.CapLog}})
	raw, err := p.Call(ctx, "score", []byte(`{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[{"positive":true,"weight":1},{"weight":2}]}`))
	if err != nil || string(raw) != `{"version":1,"score":0.5,"uncertainty":1,"lowerBound":0.05}` {
		t.Fatalf("score: %s, %v", raw, err)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "scoring 2 pieces of evidence at 2026-11-25T12:00:00Z") {
		t.Fatalf("the plugin's log line is missing from the host log:\n%s", out)
	}
}

// TestRegistryUploadLandsCandidate pushes the examples through the
// registry's upload gates (validation, then the kind's smoke workload: for
// the strategy, restore must reproduce the proposals) as `swarmctl plugin
// push --manifest plugin.yaml` does on a swarmd with
// --allow-unsigned-plugins.
func TestRegistryUploadLandsCandidate(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := newHost(t, plugin.Options{})
	reg, err := registry.New(registry.Options{Store: st, BlobDir: filepath.Join(t.TempDir(), "blobs"), Host: h, AllowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	for _, c := range []struct {
		example, score string
		check          func(float64) bool
	}{
		// 9 good/1 bad against 1 good/9 bad: 10/12 - 2/12.
		{"trust-mean", "smoke_separation", func(x float64) bool { return near(x, 8.0/12) }},
		// 64 random points of a 4-D sphere in [-5, 5]^4 plus a 1-in-3 penalty.
		{"random-search", "smoke_evaluations", func(x float64) bool { return x == 64 }},
	} {
		wasm, manifest, m := example(t, c.example)
		if _, err := reg.Upload(ctx, manifest, nil, wasm, ""); err != nil {
			t.Fatalf("upload %s: %v", c.example, err)
		}
		reg.Wait()
		p, err := reg.Plugins().Get(ctx, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, v := range p.GetStatus().GetVersions() {
			if v.GetVersion() != m.Version {
				continue
			}
			found = true
			if v.GetState() != registry.StateCandidate {
				t.Fatalf("%s %s is %s (%s), want %s", m.Name, m.Version, v.GetState(), v.GetReason(), registry.StateCandidate)
			}
			if x, ok := v.GetScores()[c.score]; !ok || !c.check(x) {
				t.Fatalf("%s: %s = %v (scores %v)", m.Name, c.score, x, v.GetScores())
			}
			t.Logf("%s %s: %s, scores %v", m.Name, m.Version, v.GetState(), v.GetScores())
		}
		if !found {
			t.Fatalf("%s: version %s not in %v", m.Name, m.Version, p.GetStatus().GetVersions())
		}
	}
}

// richSpace has one parameter of every type, in protojson with proto
// names: the SDK must read int64 bounds written as strings and snake_case
// keys (min_length).
func richSpace(t testing.TB) (*v1.SearchSpace, json.RawMessage) {
	t.Helper()
	s := &v1.SearchSpace{Parameters: []*v1.Parameter{
		{Name: "lr", Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: 1e-4, Max: 1, Log: true}}},
		{Name: "x", Type: &v1.Parameter_Float{Float: &v1.Parameter_FloatRange{Min: -5, Max: 5}}},
		{Name: "layers", Type: &v1.Parameter_Int{Int: &v1.Parameter_IntRange{Min: -3, Max: 9}}},
		{Name: "mode", Type: &v1.Parameter_Categorical{Categorical: &v1.Parameter_Choices{Choices: []string{"a", "b", "c"}}}},
		{Name: "on", Type: &v1.Parameter_Bool{Bool: &v1.Parameter_Boolean{}}},
		{Name: "steps", Type: &v1.Parameter_Sequence{Sequence: &v1.Parameter_Steps{Choices: []string{"2opt", "oropt"}, MinLength: 1, MaxLength: 4}}},
		{Name: "prompt", Type: &v1.Parameter_Text{Text: &v1.Parameter_TextSpec{MaxLength: 100}}},
		{Name: "src", Type: &v1.Parameter_Code{Code: &v1.Parameter_CodeSpec{Language: "python"}}},
	}}
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, raw
}

type proposal struct {
	Version    int `json:"version"`
	Candidates []struct {
		ID       string       `json:"id"`
		Genome   space.Genome `json:"genome"`
		Parents  []string     `json:"parents"`
		Operator string       `json:"operator"`
	} `json:"candidates"`
}

func TestRandomSearchSession(t *testing.T) {
	wasm, _, m := example(t, "random-search")
	h := newHost(t, plugin.Options{})
	p := load(t, h, wasm, plugin.Config{ID: "random-as@1.0.0", Kind: plugin.KindStrategy, Limits: limitsOf(m)})
	ctx := context.Background()
	sp, spaceJSON := richSpace(t)
	s, err := p.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	call := func(s *plugin.Session, op string, req any) json.RawMessage {
		t.Helper()
		out, err := s.Call(ctx, op, mustJSON(t, req))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return out
	}
	refused := func(s *plugin.Session, op string, req any, want string) {
		t.Helper()
		_, err := s.Call(ctx, op, mustJSON(t, req))
		var ge *plugin.GuestError
		if !errors.As(err, &ge) || ge.Code != "invalid" || !strings.Contains(ge.Message, want) {
			t.Fatalf("%s %s: %v, want an invalid error containing %q", op, mustJSON(t, req), err, want)
		}
	}
	refused(s, "propose", map[string]any{"version": 1, "n": 4}, "the strategy has no run: call init or restore first")
	refused(s, "init", map[string]any{"version": 1, "seed": 1, "space": map[string]any{"parameters": []any{
		map[string]any{"name": "x", "float": map[string]any{"min": 2, "max": 1}},
	}}}, `space: parameters[0]: parameter "x": float min 2 is above max 1`)
	refused(s, "init", map[string]any{"version": 1, "seed": 1, "space": map[string]any{"parameters": []any{
		map[string]any{"name": "x", "float": map[string]any{"min": 0, "max": 1}, "bool": map[string]any{}},
	}}}, `must have exactly one type`)

	init := map[string]any{"version": 1, "space": spaceJSON, "seed": "18446744073709551615",
		"objectives": []any{map[string]any{"name": "f", "direction": "MINIMIZE"}}, "config": map[string]any{}}
	if got := string(call(s, "init", init)); got != `{"version":1}` {
		t.Fatalf("init = %s", got)
	}
	refused(s, "propose", map[string]any{"version": 1, "n": 0}, "n must be positive, got 0")
	var first proposal
	decodeStrict(t, call(s, "propose", map[string]any{"version": 1, "n": 32}), &first)
	if first.Version != 1 || len(first.Candidates) != 32 {
		t.Fatalf("propose: %+v", first)
	}
	seen := map[string]bool{}
	for _, c := range first.Candidates {
		if err := space.CheckGenome(sp, c.Genome); err != nil {
			t.Fatalf("candidate %s: %v (%v)", c.ID, err, c.Genome)
		}
		if c.ID == "" || seen[c.ID] || c.Operator != "random" || c.Parents != nil {
			t.Fatalf("candidate %+v", c)
		}
		seen[c.ID] = true
	}
	call(s, "observe", map[string]any{"version": 1, "results": []any{
		map[string]any{"id": first.Candidates[0].ID, "scores": map[string]any{"f": 0.5, "g": "NaN"}},
		map[string]any{"id": first.Candidates[1].ID, "failed": true, "reason": "crashed"},
	}})
	refused(s, "observe", map[string]any{"version": 1, "results": []any{map[string]any{"id": "c-1", "scores": map[string]any{"f": "lots"}}}}, `results[0].scores.f: "lots" is not a number`)
	snap := call(s, "snapshot", map[string]any{})
	var snapshot struct {
		Version int             `json:"version"`
		State   json.RawMessage `json:"state"`
	}
	decodeStrict(t, snap, &snapshot)
	var next proposal
	decodeStrict(t, call(s, "propose", map[string]any{"version": 1, "n": 8}), &next)

	// A fresh instance restored from the snapshot proposes the same.
	s2, err := p.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(ctx)
	refused(s2, "restore", map[string]any{"version": 1}, "restore request has no state")
	if got := string(call(s2, "restore", snapshot)); got != `{"version":1}` {
		t.Fatalf("restore = %s", got)
	}
	var again proposal
	decodeStrict(t, call(s2, "propose", map[string]any{"version": 1, "n": 8}), &again)
	if !reflect.DeepEqual(again, next) {
		t.Fatalf("after restore: %+v\nthe original: %+v", again, next)
	}
	if next.Candidates[0].ID != "c-33" {
		t.Fatalf("ids do not continue after the snapshot: %s", next.Candidates[0].ID)
	}
}
