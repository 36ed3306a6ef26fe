package plugin

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

type okLLM struct{}

func (okLLM) Complete(_ context.Context, req []byte) ([]byte, error) {
	return []byte(`{"choices":[{"message":{"role":"assistant","content":"hi"}}]}`), nil
}

func TestValidateAcceptsGoodPlugins(t *testing.T) {
	h := newHost(t, Options{LLM: okLLM{}})
	ctx := context.Background()
	cases := []struct {
		file     string
		kind     Kind
		caps     []Capability
		wantWASI bool
		imports  []string
	}{
		{"echo.wat", KindTrust, nil, false, nil},
		{"personality.wat", KindPersonality, nil, false, nil},
		{"strategy.wat", KindStrategy, nil, false, nil},
		{"hostile.wat", KindTrust, nil, false, nil},
		{"caps.wat", KindPersonality, []Capability{CapLog, CapClock, CapRandom, CapMetrics}, false,
			[]string{"swarm:host/v1.clock_now", "swarm:host/v1.log", "swarm:host/v1.metric", "swarm:host/v1.random_u64"}},
		{"llm.wat", KindPersonality, []Capability{CapLLM}, false, []string{"swarm:host/v1.llm_complete"}},
		{"wasi.wat", KindTrust, nil, true, []string{"wasi_snapshot_preview1.clock_time_get", "wasi_snapshot_preview1.random_get"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			info, err := h.Validate(ctx, wat(t, c.file), c.kind, c.caps, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if info.ABIVersion != 1 || info.Kind != c.kind || info.UsesWASI != c.wantWASI {
				t.Fatalf("info = %+v", info)
			}
			if !slices.Equal(info.Imports, c.imports) {
				t.Fatalf("imports = %q, want %q", info.Imports, c.imports)
			}
			for _, want := range append([]string{"memory", "swarm_abi_v1", "swarm_alloc", "swarm_free"}, c.kind.operations()...) {
				if !slices.Contains(info.Exports, want) {
					t.Fatalf("exports %q lack %s", info.Exports, want)
				}
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	h := newHost(t, Options{}) // no LLM
	ctx := context.Background()
	echo := wat(t, "echo.wat")
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	headerThenRandom := append([]byte("\x00asm\x01\x00\x00\x00"), random...)
	watText, err := os.ReadFile(filepath.Join("testdata", "echo.wat"))
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name   string
		wasm   []byte
		kind   Kind
		caps   []Capability
		limits Limits
		want   []string
	}
	cases := []tc{
		{"empty", nil, KindTrust, nil, Limits{}, []string{"empty"}},
		{"tiny", echo[:5], KindTrust, nil, Limits{}, []string{"too short"}},
		{"random bytes", random, KindTrust, nil, Limits{}, []string{"not a WebAssembly module"}},
		{"wat text", watText, KindTrust, nil, Limits{}, []string{"not a WebAssembly module", "wat2wasm"}},
		{"component", []byte("\x00asm\x0d\x00\x01\x00rest"), KindTrust, nil, Limits{}, []string{"component"}},
		{"version 2 binary", []byte("\x00asm\x02\x00\x00\x00"), KindTrust, nil, Limits{}, []string{"binary version 2"}},
		{"header then random", headerThenRandom, KindTrust, nil, Limits{}, []string{"does not decode"}},
		{"missing exports", wat(t, "bad_missing_exports.wat"), KindTrust, nil, Limits{},
			[]string{"missing export swarm_alloc (i32) -> (i32)", "missing export swarm_free", "missing: swarm_trust_score"}},
		{"abi v2", wat(t, "bad_abi_v2.wat"), KindTrust, nil, Limits{},
			[]string{"ABI version 2 is not supported; this swarmd supports 1"}},
		{"no marker", wat(t, "bad_no_marker.wat"), KindTrust, nil, Limits{},
			[]string{"not a Stratoswarm plugin: no swarm_abi_v1 export"}},
		{"ungranted imports", wat(t, "bad_ungranted.wat"), KindTrust, []Capability{CapClock}, Limits{},
			[]string{`swarm:host/v1.llm_complete, which needs the "llm" capability`, `swarm:host/v1.log, which needs the "log" capability`}},
		{"unknown import module", wat(t, "bad_unknown_import.wat"), KindTrust, nil, Limits{},
			[]string{"env.abort", `from module "env", which the host does not provide`}},
		{"unknown host function", wat(t, "bad_unknown_host_func.wat"), KindTrust, nil, Limits{},
			[]string{"swarm:host/v1.open_socket, which ABI v1 does not offer"}},
		{"host function signature", wat(t, "bad_host_signature.wat"), KindTrust, []Capability{CapLog}, Limits{},
			[]string{"swarm:host/v1.log with type (i32) -> (); ABI v1 defines it as (i32, i32, i32) -> ()"}},
		{"unknown WASI function", wat(t, "bad_wasi_func.wat"), KindTrust, nil, Limits{},
			[]string{"wasi_snapshot_preview1.open_the_pod_bay_doors, which is not a WASI preview 1 function"}},
		{"imported memory", wat(t, "bad_import_memory.wat"), KindTrust, nil, Limits{},
			[]string{"imports memory env.memory", "functions only"}},
		{"imported global", wat(t, "bad_import_global.wat"), KindTrust, nil, Limits{},
			[]string{"imports global env.g"}},
		{"wrong export types", wat(t, "bad_signatures.wat"), KindTrust, nil, Limits{},
			[]string{"export swarm_alloc has type (i64) -> (i64)", "export swarm_free has type (i32) -> ()", "swarm_trust_score has type (i32, i32) -> (i32)"}},
		{"kind mismatch", wat(t, "strategy.wat"), KindTrust, nil, Limits{},
			[]string{"manifest says kind trust but the module exports strategy operations: swarm_strategy_init, swarm_strategy_observe, swarm_strategy_propose, swarm_strategy_restore, swarm_strategy_snapshot"}},
		{"kind mismatch the other way", wat(t, "echo.wat"), KindStrategy, nil, Limits{},
			[]string{"manifest says kind strategy but the module exports trust operations: swarm_trust_score"}},
		{"mixed kinds", wat(t, "bad_mixed_kinds.wat"), KindTrust, nil, Limits{},
			[]string{"exports personality operations: swarm_personality_adjust", "own kind only"}},
		{"initial memory over the limit", wat(t, "bad_big_memory.wat"), KindTrust, nil, Limits{MemoryBytes: 1 << 20},
			[]string{"min 256 pages", "memory_bytes"}},
		{"wasi command", wat(t, "bad_command.wat"), KindTrust, nil, Limits{},
			[]string{"_start but not _initialize", "-buildmode=c-shared"}},
		{"unknown kind", echo, Kind("optimizer"), nil, Limits{}, []string{`unknown plugin kind "optimizer"`}},
		{"unknown capability", echo, KindTrust, []Capability{"network"}, Limits{}, []string{`unknown capability "network"`}},
		{"llm without an LLM", wat(t, "llm.wat"), KindPersonality, []Capability{CapLLM}, Limits{},
			[]string{"llm capability cannot be granted", "no LLM configured"}},
		{"memory limit too small", echo, KindTrust, nil, Limits{MemoryBytes: 512}, []string{"memory limit 512 bytes is out of range", "1 MiB and 4 GiB"}},
		{"memory limit too big", echo, KindTrust, nil, Limits{MemoryBytes: 8 << 30}, []string{"memory limit", "out of range"}},
		{"negative memory", echo, KindTrust, nil, Limits{MemoryBytes: -1}, []string{"memory limit -1 bytes"}},
		{"timeout too long", echo, KindTrust, nil, Limits{CallTimeout: time.Hour}, []string{"call timeout 1h0m0s is out of range"}},
		{"timeout too short", echo, KindTrust, nil, Limits{CallTimeout: time.Microsecond}, []string{"call timeout", "out of range"}},
		{"output limit too small", echo, KindTrust, nil, Limits{MaxOutputBytes: 10}, []string{"output limit 10 bytes is out of range"}},
		{"output limit too big", echo, KindTrust, nil, Limits{MaxOutputBytes: 1 << 30}, []string{"output limit", "64 MiB"}},
	}
	// Every truncation of a valid module is refused with an error, never a panic.
	for _, n := range []int{8, 9, 10, 20, len(echo) / 2, len(echo) - 1} {
		cases = append(cases, tc{"truncated", echo[:n], KindTrust, nil, Limits{}, []string{"invalid plugin"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.Validate(ctx, c.wasm, c.kind, c.caps, c.limits)
			mustContain(t, err, c.want...)
			// Load refuses the same module with the same message.
			_, lerr := h.Load(ctx, c.wasm, Config{ID: "bad@1", Kind: c.kind, Capabilities: c.caps, Limits: c.limits})
			mustContain(t, lerr, append([]string{"load plugin bad@1"}, c.want...)...)
		})
	}
	// Random corruption of a valid module never panics the host.
	for i := range 200 {
		b := slices.Clone(echo)
		for range 1 + i%4 {
			b[8+rng.IntN(len(b)-8)] = byte(rng.Uint32())
		}
		_, _ = h.Validate(ctx, b, KindTrust, nil, Limits{})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	h := newHost(t, Options{})
	ctx := context.Background()
	echo := wat(t, "echo.wat")
	_, err := h.Load(ctx, echo, Config{Kind: KindTrust})
	mustContain(t, err, "Config.ID is empty")
	_, err = h.Load(ctx, echo, Config{ID: "e@1", Kind: KindTrust, MaxInstances: -1})
	mustContain(t, err, "MaxInstances -1 is out of range")
	_, err = h.Load(ctx, wat(t, "init_trap.wat"), Config{ID: "init@1", Kind: KindTrust})
	mustContain(t, err, "load plugin init@1", "_initialize", "trap")
}
