package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

const (
	maxLogLine    = 16 << 10 // longer log lines are cut
	maxMetricName = 256      // longer metric names are refused
)

// linkHost instantiates this plugin's swarm:host/v1 with the granted
// functions, and stubs that refuse for the optional capabilities that were
// not granted. Every function checks the guest's pointers: a bad one makes
// the call a no-op (or return 0), never a host panic.
func (p *Plugin) linkHost(ctx context.Context, granted, stubbed map[Capability]bool) error {
	b := p.rt.NewHostModuleBuilder(HostModule)
	n := 0
	for _, f := range hostFuncs() {
		if !granted[f.cap] && !stubbed[f.cap] {
			continue
		}
		var fn api.GoModuleFunc
		switch {
		case !granted[f.cap] && f.name == "llm_complete":
			fn = p.llmFunc(refuseLLM)
		case !granted[f.cap]:
			fn = refuse
		default:
			fn = p.hostFunc(f.name)
		}
		if fn == nil {
			return fmt.Errorf("no implementation for %s.%s", HostModule, f.name)
		}
		b.NewFunctionBuilder().WithGoModuleFunction(fn, f.params, f.results).Export(f.name)
		n++
	}
	if n == 0 {
		return nil
	}
	_, err := b.Instantiate(ctx)
	return err
}

// hostFunc returns the implementation of a granted host function.
func (p *Plugin) hostFunc(name string) api.GoModuleFunc {
	switch name {
	case "log":
		return p.hostLog
	case "clock_now":
		return hostClockNow
	case "random_u64":
		return p.hostRandom
	case "metric":
		return p.hostMetric
	case "llm_complete":
		return p.llmFunc(p.complete)
	}
	return nil
}

// refuse is every stub but llm_complete's: it does nothing and returns 0
// when the function has a result.
func refuse(_ context.Context, _ api.Module, stack []uint64) {
	if len(stack) > 0 {
		stack[0] = 0
	}
}

// refuseLLM is the completion of an llm_complete stub.
func refuseLLM(context.Context, []byte) ([]byte, error) {
	return []byte(`{"error":{"message":"the llm capability is not granted to this plugin (the operator's --plugin-grants, or no LLM configured): use the deterministic operators","type":"not_granted"}}`), nil
}

// read returns a copy of guest memory [ptr, ptr+n), or false when it lies
// outside the memory.
func read(mod api.Module, ptr, n uint32) ([]byte, bool) {
	mem := mod.Memory()
	if mem == nil {
		return nil, false
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// hostLog is log(level, ptr, len): a line into swarmd's log.
func (p *Plugin) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	cut := n > maxLogLine
	if cut {
		n = maxLogLine
	}
	msg, ok := read(mod, ptr, n)
	if !ok {
		p.log.Warn("plugin called log with a buffer outside its memory; ignored", "ptr", ptr, "len", n)
		return
	}
	lvl := slog.LevelInfo
	switch level {
	case 0:
		lvl = slog.LevelDebug
	case 2:
		lvl = slog.LevelWarn
	case 3:
		lvl = slog.LevelError
	}
	text := string(msg)
	if cut {
		text += " …(cut)"
	}
	p.log.Log(ctx, lvl, text, "source", "plugin")
}

// hostClockNow is clock_now() -> i64: Unix nanoseconds.
func hostClockNow(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(time.Now().UnixNano())
}

// hostRandom is random_u64() -> i64 from the plugin's seeded generator.
func (p *Plugin) hostRandom(_ context.Context, _ api.Module, stack []uint64) {
	p.rngMu.Lock()
	stack[0] = p.rng.Uint64()
	p.rngMu.Unlock()
}

// hostMetric is metric(name_ptr, name_len, value f64): a gauge.
func (p *Plugin) hostMetric(_ context.Context, mod api.Module, stack []uint64) {
	ptr, n, value := uint32(stack[0]), uint32(stack[1]), api.DecodeF64(stack[2])
	if n == 0 || n > maxMetricName {
		p.log.Warn("plugin called metric with an empty or too long name; ignored", "len", n)
		return
	}
	name, ok := read(mod, ptr, n)
	if !ok {
		p.log.Warn("plugin called metric with a name outside its memory; ignored", "ptr", ptr, "len", n)
		return
	}
	if p.h.opts.Metrics != nil {
		defer p.recoverHost("metric")
		p.h.opts.Metrics(p.id, string(name), value)
	}
}

// llmFunc returns llm_complete(ptr, len) -> i64: an OpenAI-compatible chat
// completion by complete. The response (or an OpenAI-style {"error":{...}}
// object when the completion fails) is written to memory from the guest's
// swarm_alloc and returned as ptr<<32|len; 0 when the request lies outside
// memory or the guest cannot allocate the response.
func (p *Plugin) llmFunc(complete func(context.Context, []byte) ([]byte, error)) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		ptr, n := uint32(stack[0]), uint32(stack[1])
		stack[0] = 0
		if int64(n) > p.limits.MaxOutputBytes {
			p.log.Warn("plugin called llm_complete with a request over max_output_bytes; refused", "len", n)
			return
		}
		req, ok := read(mod, ptr, n)
		if !ok {
			p.log.Warn("plugin called llm_complete with a request outside its memory; refused", "ptr", ptr, "len", n)
			return
		}
		resp, err := complete(ctx, req)
		if err == nil && int64(len(resp)) > p.limits.MaxOutputBytes {
			err = fmt.Errorf("the completion of %d bytes exceeds the plugin's max_output_bytes (%d)", len(resp), p.limits.MaxOutputBytes)
		}
		if err != nil {
			p.log.Warn("llm_complete failed", "err", err)
			resp, _ = json.Marshal(map[string]any{"error": map[string]string{"message": err.Error(), "type": "swarm_host_error"}})
		}
		alloc := mod.ExportedFunction("swarm_alloc")
		if alloc == nil || len(resp) == 0 {
			return
		}
		res, err := alloc.Call(ctx, uint64(len(resp)))
		if err != nil || len(res) != 1 {
			return
		}
		rptr := uint32(res[0])
		if rptr == 0 || mod.Memory() == nil || !mod.Memory().Write(rptr, resp) {
			return
		}
		stack[0] = uint64(rptr)<<32 | uint64(len(resp))
	}
}

// complete calls Options.LLM, turning a panic into an error so that a
// faulty LLM client is not blamed on the plugin.
func (p *Plugin) complete(ctx context.Context, req []byte) (resp []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("the host's LLM client panicked: %v", r)
		}
	}()
	return p.h.opts.LLM.Complete(ctx, req)
}

// recoverHost keeps a panic in host-side callbacks (Options.Metrics) from
// trapping the guest, which would count against the plugin.
func (p *Plugin) recoverHost(fn string) {
	if r := recover(); r != nil {
		p.log.Error("host callback panicked during a plugin call; ignored", "function", fn, "panic", r)
	}
}

// logWriter sends WASI stdout/stderr to the log (wasi capability only).
type logWriter struct {
	log    *slog.Logger
	level  slog.Level
	stream string
}

func (w logWriter) Write(b []byte) (int, error) {
	n := len(b)
	if len(b) > maxLogLine {
		b = b[:maxLogLine]
	}
	if text := strings.TrimRight(string(b), "\n"); text != "" {
		w.log.Log(context.Background(), w.level, text, "source", w.stream)
	}
	return n, nil
}
