package plugin

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// DefaultMaxInstances is the pool size when Config.MaxInstances is 0.
const DefaultMaxInstances = 4

const (
	maxMaxInstances = 1024
	// minInitTimeout bounds instantiation (_initialize) from below: a Go
	// reactor needs a few milliseconds, more on a loaded machine, even
	// when the call timeout is tighter.
	minInitTimeout = 5 * time.Second
)

// Config describes one plugin version to load.
type Config struct {
	// ID names the plugin version in evidence and logs, e.g. "random@1.0.0".
	ID string
	// Kind must match the module's operation exports.
	Kind Kind
	// Capabilities are the host-function groups already granted (the
	// manifest's request intersected with the operator's policy).
	Capabilities []Capability
	// Optional are capabilities the plugin may import but runs without:
	// those not also in Capabilities are linked as stubs that refuse
	// (log and metric do nothing, clock_now and random_u64 return 0,
	// llm_complete answers a "not_granted" error).
	Optional []Capability
	// Limits bound each instance; zero fields take the ABI defaults.
	Limits Limits
	// Seed seeds the random capability's generator.
	Seed uint64
	// MaxInstances caps the pool used by Plugin.Call (default 4). Sessions
	// have their own instances outside the pool.
	MaxInstances int
}

// Plugin is one loaded plugin version: its own wazero runtime, host module
// and instance pool. It is safe for concurrent use.
type Plugin struct {
	h         *Host
	id        string
	kind      Kind
	limits    Limits
	info      Info
	log       *slog.Logger
	rt        wazero.Runtime
	cm        wazero.CompiledModule
	modCfg    wazero.ModuleConfig
	ops       []string       // operation exports of kind, in ABI order
	opIndex   map[string]int // export and short names → index into ops
	highWater uint64         // 3/4 of the memory cap, in bytes

	rngMu sync.Mutex
	rng   *rand.Rand

	sem      chan struct{} // one token per pooled instance in use
	mu       sync.Mutex
	idle     []*instance
	closed   bool
	inflight sync.WaitGroup
}

// instance is one module instance with its exports looked up once
// (ExportedFunction costs microseconds per call).
type instance struct {
	mod   api.Module
	mem   api.Memory
	alloc api.Function
	free  api.Function
	ops   []api.Function
	stack []uint64

	// retired is set once the instance passed the memory high-water mark.
	retired bool

	// ctx is what the instance's calls run under; cancel ends it when a
	// call overruns its deadline (timer) or its caller gives up, which
	// makes wazero close the module. One per instance, not per call: a
	// context.WithTimeout per call costs more than the call itself.
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

// Load validates wasm like Validate and prepares it to run: the module is
// compiled once (through the cache), a runtime with close-on-context-done
// and the memory cap is built for this plugin alone, and its swarm:host/v1
// module links only the granted functions. WASI, if imported, is linked in
// its closed form (no files, environment or arguments, stdout and stderr
// discarded, a fixed clock and deterministic randomness) unless the wasi
// capability is granted. One instance is created at once, so a plugin
// whose _initialize fails is refused here.
func (h *Host) Load(ctx context.Context, wasm []byte, cfg Config) (*Plugin, error) {
	if cfg.ID == "" {
		return nil, errors.New("load plugin: Config.ID is empty: set it to name@version (it tags evidence and logs)")
	}
	if h.isClosed() {
		return nil, fmt.Errorf("load plugin %s: the plugin host is closed: create a new Host", cfg.ID)
	}
	switch {
	case cfg.MaxInstances == 0:
		cfg.MaxInstances = DefaultMaxInstances
	case cfg.MaxInstances < 0 || cfg.MaxInstances > maxMaxInstances:
		return nil, fmt.Errorf("load plugin %s: MaxInstances %d is out of range: use 1..%d, or 0 for %d", cfg.ID, cfg.MaxInstances, maxMaxInstances, DefaultMaxInstances)
	}
	l, err := cfg.Limits.normalized()
	if err != nil {
		return nil, fmt.Errorf("load plugin %s: invalid limits: %w", cfg.ID, err)
	}
	rt := h.newRuntime(ctx, l)
	cm, info, err := h.inspect(ctx, rt, wasm, cfg.Kind, cfg.Capabilities, cfg.Optional)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("load plugin %s: %w", cfg.ID, err)
	}
	p := &Plugin{
		h:         h,
		id:        cfg.ID,
		kind:      cfg.Kind,
		limits:    l,
		info:      info,
		log:       h.log.With("plugin", cfg.ID),
		rt:        rt,
		cm:        cm,
		ops:       cfg.Kind.operations(),
		opIndex:   map[string]int{},
		highWater: uint64(l.memoryPages()) * pageSize / 4 * 3,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		sem:       make(chan struct{}, cfg.MaxInstances),
	}
	for i, op := range p.ops {
		p.opIndex[op] = i
		p.opIndex[strings.TrimPrefix(op, "swarm_"+string(cfg.Kind)+"_")] = i
	}
	granted, stubbed := map[Capability]bool{}, map[Capability]bool{}
	for _, c := range cfg.Capabilities {
		granted[c] = true
	}
	for _, c := range cfg.Optional {
		stubbed[c] = !granted[c]
	}
	fail := func(what string, err error) (*Plugin, error) {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("load plugin %s: %s: %w", cfg.ID, what, err)
	}
	if err := p.linkHost(ctx, granted, stubbed); err != nil {
		return fail("link "+HostModule, err)
	}
	if info.UsesWASI {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			return fail("link WASI", err)
		}
	}
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize")
	if granted[CapWASI] {
		mc = mc.WithSysWalltime().WithSysNanotime().WithSysNanosleep().
			WithRandSource(crand.Reader).
			WithStdout(logWriter{p.log, slog.LevelInfo, "stdout"}).
			WithStderr(logWriter{p.log, slog.LevelWarn, "stderr"})
	}
	p.modCfg = mc
	inst, err := p.instantiate(ctx)
	if err != nil {
		return fail("create the first instance", err)
	}
	p.idle = append(p.idle, inst)
	if err := h.register(p); err != nil {
		return fail("register", err)
	}
	return p, nil
}

// ID returns Config.ID.
func (p *Plugin) ID() string { return p.id }

// Info returns what Validate found in the module.
func (p *Plugin) Info() Info { return p.info }

// Record adds evidence about this plugin through the host's EvidenceSink,
// e.g. kind "invalid" when the caller had to clamp a result, or "ok". A
// zero Time is set to now.
func (p *Plugin) Record(e Evidence) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if p.h.opts.Evidence != nil {
		p.h.opts.Evidence.RecordEvidence(p.id, e)
	}
}

// op resolves an operation name.
func (p *Plugin) op(name string) (int, error) {
	i, ok := p.opIndex[name]
	if !ok {
		return 0, fmt.Errorf("plugin %s (kind %s) has no operation %q: use one of %s", p.id, p.kind, name, strings.Join(p.ops, ", "))
	}
	return i, nil
}

// enter registers a call in flight, refusing it once Close has begun.
func (p *Plugin) enter() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.errClosed()
	}
	p.inflight.Add(1)
	return nil
}

func (p *Plugin) errClosed() error {
	return fmt.Errorf("plugin %s is closed: load it again to call it", p.id)
}

// Call runs operation op (its export name, e.g. OpTrustScore, or the short
// name, e.g. "score") of a stateless plugin on an instance from the pool
// and returns the envelope's result. When all MaxInstances are busy it
// waits for one, as long as ctx allows. Each call has the deadline
// Limits.CallTimeout.
//
// Errors: *GuestError when the plugin answered an error envelope;
// *Failure when the instance trapped, timed out, ran out of memory or
// answered something that is not a valid envelope (the instance is
// discarded, evidence is recorded, the next call gets a fresh instance);
// plain errors for the caller's own mistakes and a done ctx.
func (p *Plugin) Call(ctx context.Context, op string, request []byte) (json.RawMessage, error) {
	if !p.kind.stateless() {
		return nil, fmt.Errorf("plugin %s is a %s plugin, which keeps state: open a Session and call it there", p.id, p.kind)
	}
	idx, err := p.op(op)
	if err != nil {
		return nil, err
	}
	if err := p.checkRequest(ctx, idx, request); err != nil {
		return nil, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %s: %s: gave up waiting for a free instance (all %d busy): %w", p.id, p.ops[idx], cap(p.sem), ctx.Err())
	}
	defer func() { <-p.sem }()
	inst, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		p.put(inst)
		return nil, fmt.Errorf("plugin %s: %s: not called: %w", p.id, p.ops[idx], err)
	}
	out, keep, err := p.call(ctx, inst, idx, request)
	if keep {
		p.put(inst)
	} else {
		p.discard(inst)
	}
	return out, err
}

// take returns an idle instance or a new one.
func (p *Plugin) take(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		inst := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !inst.mod.IsClosed() {
			p.mu.Unlock()
			return inst, nil
		}
	}
	p.mu.Unlock()
	return p.instantiate(ctx)
}

// put returns a healthy instance to the pool.
func (p *Plugin) put(inst *instance) {
	p.mu.Lock()
	if p.closed || inst.mod.IsClosed() {
		p.mu.Unlock()
		p.discard(inst)
		return
	}
	p.idle = append(p.idle, inst)
	p.mu.Unlock()
}

func (p *Plugin) discard(inst *instance) {
	inst.close(context.Background())
}

// close stops the instance's timer, ends its context and closes it.
func (inst *instance) close(ctx context.Context) {
	inst.timer.Stop()
	inst.cancel()
	_ = inst.mod.Close(ctx)
}

// memBytes is the instance's memory size. Grow(0) reports pages, which,
// unlike Size, does not wrap at 4 GiB.
func (inst *instance) memBytes() uint64 {
	pages, _ := inst.mem.Grow(0)
	return uint64(pages) * pageSize
}

// instantiate creates an instance, running _initialize if the module has
// one, under a deadline.
func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plugin %s: create an instance: %w", p.id, err)
	}
	ictx, cancel := context.WithTimeout(ctx, max(p.limits.CallTimeout, minInitTimeout))
	defer cancel()
	mod, err := p.rt.InstantiateModule(ictx, p.cm, p.modCfg)
	if err != nil {
		return nil, p.classify(ctx, nil, "_initialize", "instantiation", max(p.limits.CallTimeout, minInitTimeout), err)
	}
	inst := &instance{
		mod:   mod,
		mem:   mod.ExportedMemory("memory"),
		alloc: mod.ExportedFunction("swarm_alloc"),
		free:  mod.ExportedFunction("swarm_free"),
		ops:   make([]api.Function, len(p.ops)),
		stack: make([]uint64, 2),
	}
	inst.ctx, inst.cancel = context.WithCancel(context.Background())
	inst.timer = time.AfterFunc(time.Hour, inst.cancel)
	inst.timer.Stop()
	for i, op := range p.ops {
		inst.ops[i] = mod.ExportedFunction(op)
	}
	if inst.mem == nil || inst.alloc == nil || inst.free == nil || inst.ops[0] == nil {
		inst.close(ctx)
		return nil, fmt.Errorf("plugin %s: the instance lacks ABI exports that validation found (a wazero bug?)", p.id)
	}
	return inst, nil
}

// checkRequest refuses requests that are the caller's mistake, before any
// instance is touched.
func (p *Plugin) checkRequest(ctx context.Context, idx int, req []byte) error {
	op := p.ops[idx]
	if len(req) == 0 {
		return fmt.Errorf("plugin %s: %s: the request is empty: send a JSON object (at least {})", p.id, op)
	}
	if int64(len(req)) > p.limits.MemoryBytes/2 {
		return fmt.Errorf("plugin %s: %s: the request of %d bytes is more than half the plugin's memory limit (%d bytes): send less, or raise memory_bytes", p.id, op, len(req), p.limits.MemoryBytes)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("plugin %s: %s: not called: %w", p.id, op, err)
	}
	return nil
}

// call runs one operation on inst (the request passed checkRequest) under
// the plugin's deadline and ctx. keep reports whether inst may serve again.
func (p *Plugin) call(ctx context.Context, inst *instance, idx int, req []byte) (out json.RawMessage, keep bool, err error) {
	inst.timer.Reset(p.limits.CallTimeout)
	var unhook func() bool
	if ctx.Done() != nil {
		unhook = context.AfterFunc(ctx, inst.cancel)
	}
	out, keep, err = p.run(ctx, inst, idx, req)
	inst.timer.Stop()
	if unhook != nil {
		unhook()
	}
	if inst.ctx.Err() != nil {
		// The deadline or the caller's cancellation came as the call
		// ended: the answer stands, but the instance's context is spent.
		keep = false
	}
	return out, keep, err
}

// run is call's body: the request into the guest, the operation, the
// response out, all under inst.ctx.
func (p *Plugin) run(ctx context.Context, inst *instance, idx int, req []byte) (out json.RawMessage, keep bool, err error) {
	op := p.ops[idx]
	cctx := inst.ctx
	st := inst.stack
	trapped := func(stage string, err error) (json.RawMessage, bool, error) {
		return nil, false, p.classify(ctx, inst, op, stage, p.limits.CallTimeout, err)
	}

	st[0] = uint64(len(req))
	if err := inst.alloc.CallWithStack(cctx, st); err != nil {
		return trapped("swarm_alloc", err)
	}
	reqPtr := uint32(st[0])
	if reqPtr == 0 {
		return nil, false, p.failure(FailMemory, op, fmt.Errorf("swarm_alloc(%d) returned 0: the plugin could not allocate the request (out of memory; memory_bytes is %d)", len(req), p.limits.MemoryBytes))
	}
	if !inst.mem.Write(reqPtr, req) {
		return nil, false, p.failure(FailMemory, op, fmt.Errorf("swarm_alloc(%d) returned %#x, which lies outside the plugin's %d bytes of memory", len(req), reqPtr, inst.memBytes()))
	}

	st[0], st[1] = uint64(reqPtr), uint64(len(req))
	if err := inst.ops[idx].CallWithStack(cctx, st); err != nil {
		return trapped(op, err)
	}
	ptr, n := uint32(st[0]>>32), uint32(st[0])
	switch {
	case ptr == 0 && n == 0:
		return nil, false, p.failure(FailOutput, op, errors.New("no response (the operation returned ptr 0, len 0)"))
	case int64(n) > p.limits.MaxOutputBytes:
		return nil, false, p.failure(FailOutput, op, fmt.Errorf("the response of %d bytes exceeds max_output_bytes (%d)", n, p.limits.MaxOutputBytes))
	}
	view, ok := inst.mem.Read(ptr, n)
	if !ok {
		return nil, false, p.failure(FailOutput, op, fmt.Errorf("the response (ptr %#x, len %d) lies outside the plugin's %d bytes of memory", ptr, n, inst.memBytes()))
	}
	resp := make([]byte, n)
	copy(resp, view)

	st[0], st[1] = uint64(reqPtr), uint64(len(req))
	if err := inst.free.CallWithStack(cctx, st); err != nil {
		return trapped("swarm_free", err)
	}
	st[0], st[1] = uint64(ptr), uint64(n)
	if err := inst.free.CallWithStack(cctx, st); err != nil {
		return trapped("swarm_free", err)
	}

	result, guest, err := parseEnvelope(resp)
	if err != nil {
		return nil, false, p.failure(FailOutput, op, fmt.Errorf("invalid response: %w (response starts %.80q)", err, resp))
	}
	keep = true
	if size := inst.memBytes(); size > p.highWater {
		// The answer stands, but memory only grows: retire the instance.
		keep = false
		if !inst.retired { // noted once, though a snapshot may follow to carry its state over
			inst.retired = true
			detail := fmt.Errorf("memory grew to %d bytes, past 3/4 of memory_bytes (%d); the instance was retired after answering", size, p.limits.MemoryBytes)
			p.note(EvidenceMemory, op, detail)
		}
	}
	if guest != nil {
		guest.Plugin, guest.Op = p.id, op
		if guest.Code == "panic" {
			return nil, false, p.failure(FailPanic, op, guest)
		}
		return nil, keep, guest
	}
	return result, keep, nil
}

// classify turns an error from wazero into a *Failure (recorded as
// evidence) or, when the plugin is not to blame, a plain error.
func (p *Plugin) classify(ctx context.Context, inst *instance, op, stage string, timeout time.Duration, err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("plugin %s: %s: %w", p.id, op, p.errClosed())
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("plugin %s: %s: the caller gave up (the instance was discarded): %w", p.id, op, cerr)
			}
			return p.failure(FailTimeout, op, fmt.Errorf("%s ran past its %v deadline (call_timeout_millis) and was cut: %w", stage, timeout, context.DeadlineExceeded))
		default:
			return p.failure(FailTrap, op, fmt.Errorf("%s exited with code %d (proc_exit): plugins must return, not exit", stage, exit.ExitCode()))
		}
	}
	where := ""
	if stage != op {
		where = " in " + stage
	}
	if inst != nil {
		if size := inst.memBytes(); size > p.highWater {
			// Most likely the guest ran out of memory (Go aborts with a trap).
			return p.failure(FailMemory, op, fmt.Errorf("trapped%s with its memory at %d bytes, past 3/4 of memory_bytes (%d), so probably out of memory: %w", where, size, p.limits.MemoryBytes, err))
		}
	}
	return p.failure(FailTrap, op, fmt.Errorf("trapped%s: %w", where, err))
}

// failure records evidence of a failed instance and returns the error.
func (p *Plugin) failure(kind, op string, err error) *Failure {
	p.note(kind, op, err)
	return &Failure{Kind: kind, Op: op, Err: err, Plugin: p.id}
}

// note records negative evidence and logs it.
func (p *Plugin) note(kind, op string, err error) {
	p.log.Warn("plugin instance discarded", "op", op, "kind", kind, "err", err)
	p.Record(Evidence{Kind: kind, Detail: op + ": " + err.Error()})
}

// Close waits for calls in flight (each bounded by its deadline; ctx can
// cut the wait), then closes every instance, sessions' included, and the
// plugin's runtime. Later calls fail with "plugin is closed".
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.idle = nil
	p.mu.Unlock()
	p.h.unregister(p)
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	if err := p.rt.Close(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("plugin %s: close its runtime: %w", p.id, err)
	}
	return nil
}

// Session is a dedicated instance for a stateful strategy run: calls go to
// the same instance, in order. After a failure (trap, timeout, memory,
// invalid output, panic) the instance is discarded and the next Call runs
// on a fresh one, whose state is empty: Fresh tells the caller to restore
// from its last snapshot first. Calls are serialised; a Session is safe for
// concurrent use but gains nothing from it.
type Session struct {
	p      *Plugin
	mu     sync.Mutex
	inst   *instance
	fresh  bool
	closed bool
}

// Session opens a Session on a new (or never used) instance.
func (p *Plugin) Session(ctx context.Context) (*Session, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	inst, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	return &Session{p: p, inst: inst, fresh: true}, nil
}

// Fresh reports whether the session's instance holds no state: true when
// the session opens and after a failure discarded the instance, false once
// a call has completed on the instance. A strategy instance retired for its
// memory after a good answer hands its state to a fresh instance (snapshot,
// restore), so the session stays not fresh unless that hand-over failed.
func (s *Session) Fresh() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh
}

// Call runs op on the session's instance, creating a fresh one first if a
// failure discarded the last. Results and errors are as for Plugin.Call.
func (s *Session) Call(ctx context.Context, op string, request []byte) (json.RawMessage, error) {
	p := s.p
	idx, err := p.op(op)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("plugin %s: the session is closed: open a new one", p.id)
	}
	if err := p.checkRequest(ctx, idx, request); err != nil {
		return nil, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	if s.inst == nil {
		inst, err := p.instantiate(ctx)
		if err != nil {
			return nil, err
		}
		s.inst, s.fresh = inst, true
	}
	out, keep, err := p.call(ctx, s.inst, idx, request)
	if keep && !s.inst.mod.IsClosed() {
		s.fresh = false
		return out, err
	}
	old := s.inst
	s.inst, s.fresh = nil, true
	if err == nil && p.kind == KindStrategy && !old.mod.IsClosed() && old.ctx.Err() == nil {
		// The instance answered but is retired (its memory passed the
		// high-water mark): carry its state over to a fresh one.
		if next := p.carryOver(ctx, old); next != nil {
			s.inst, s.fresh = next, false
		}
	}
	p.discard(old)
	return out, err
}

// carryOver moves a healthy strategy instance's state into a new instance
// through snapshot and restore, and returns it; nil if any step fails (the
// session is then fresh, and its owner restores from its own snapshot).
func (p *Plugin) carryOver(ctx context.Context, old *instance) *instance {
	snap, _, err := p.call(ctx, old, p.opIndex["snapshot"], []byte(`{"version":1}`))
	if err != nil {
		return nil
	}
	next, err := p.instantiate(ctx)
	if err != nil {
		return nil
	}
	if _, keep, err := p.call(ctx, next, p.opIndex["restore"], snap); err != nil || !keep {
		p.discard(next)
		return nil
	}
	p.log.Info("strategy instance retired for memory; its state moved to a fresh instance")
	return next
}

// Close discards the session's instance.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.inst != nil {
		s.inst.close(ctx)
		s.inst = nil
	}
	return nil
}
