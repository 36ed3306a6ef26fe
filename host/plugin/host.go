package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Options configure a Host. Every field may be left zero.
type Options struct {
	// CacheDir holds compiled modules across restarts
	// (wazero.NewCompilationCacheWithDir); "" keeps them in memory only.
	CacheDir string
	// Logger receives plugin log lines and failures; nil discards them.
	Logger *slog.Logger
	// Evidence receives failures of plugin instances; nil drops them.
	Evidence EvidenceSink
	// LLM serves swarm:host/v1.llm_complete; nil refuses the llm capability.
	LLM LLM
	// Metrics receives swarm:host/v1.metric gauges; nil drops them. It is
	// called from plugin calls and must be safe for concurrent use.
	Metrics func(pluginID, name string, value float64)
}

// Host validates, compiles and loads WebAssembly plugins (ABI version 1).
// It is safe for concurrent use. Each loaded Plugin gets its own wazero
// runtime; compiled code is shared through one compilation cache.
type Host struct {
	opts  Options
	log   *slog.Logger
	cache wazero.CompilationCache
	// wasi maps each wasi_snapshot_preview1 function to its signature,
	// read once from wazero's own host module.
	wasi map[string]signature

	mu      sync.Mutex
	plugins map[*Plugin]struct{}
	closed  bool
}

// signature is a function type, comparable and printable.
type signature struct{ params, results string }

func sigOf(def api.FunctionDefinition) signature {
	return signature{typeList(def.ParamTypes()), typeList(def.ResultTypes())}
}

func sig(params, results []api.ValueType) signature {
	return signature{typeList(params), typeList(results)}
}

func (s signature) String() string { return "(" + s.params + ") -> (" + s.results + ")" }

func typeList(ts []api.ValueType) string {
	out := ""
	for i, t := range ts {
		if i > 0 {
			out += ", "
		}
		out += api.ValueTypeName(t)
	}
	return out
}

// NewHost creates a Host. With Options.CacheDir it creates the directory
// if needed and reuses code compiled by earlier processes.
func NewHost(ctx context.Context, opts Options) (*Host, error) {
	h := &Host{opts: opts, log: opts.Logger, plugins: map[*Plugin]struct{}{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("plugin host: create the compilation cache directory: %w (set Options.CacheDir to a writable directory, or \"\" for an in-memory cache)", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin host: open the compilation cache in %s: %w (set Options.CacheDir to a writable directory, or \"\" for an in-memory cache)", opts.CacheDir, err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(h.cache))
	defer r.Close(ctx)
	cm, err := wasi_snapshot_preview1.NewBuilder(r).Compile(ctx)
	if err != nil {
		_ = h.cache.Close(ctx)
		return nil, fmt.Errorf("plugin host: compile wazero's WASI module: %w", err)
	}
	h.wasi = map[string]signature{}
	for name, def := range cm.ExportedFunctions() {
		h.wasi[name] = sigOf(def)
	}
	return h, nil
}

// Close closes every plugin loaded by h, then the compilation cache (the
// files of Options.CacheDir stay for the next process). Calls in flight
// fail with "plugin is closed".
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	plugins := make([]*Plugin, 0, len(h.plugins))
	for p := range h.plugins {
		plugins = append(plugins, p)
	}
	h.mu.Unlock()
	var errs []error
	for _, p := range plugins {
		if err := p.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.cache.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("plugin host: close the compilation cache: %w", err))
	}
	return errors.Join(errs...)
}

func (h *Host) register(p *Plugin) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("plugin host is closed: create a new Host to load plugins")
	}
	h.plugins[p] = struct{}{}
	return nil
}

func (h *Host) unregister(p *Plugin) {
	h.mu.Lock()
	delete(h.plugins, p)
	h.mu.Unlock()
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// HasLLM reports whether this host can serve llm_complete (Options.LLM).
func (h *Host) HasLLM() bool { return h.opts.LLM != nil }

// newRuntime builds a wazero runtime with the settings every plugin
// runtime must have: the shared cache, close-on-context-done (without it a
// runaway guest cannot be stopped and hangs the next GC) and the memory cap.
func (h *Host) newRuntime(ctx context.Context, l Limits) wazero.Runtime {
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(l.memoryPages())
	return wazero.NewRuntimeWithConfig(ctx, cfg)
}
