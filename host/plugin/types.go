package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Kind is what a plugin does; it decides which operation exports the module
// must have (ABI.md §1).
type Kind string

// The plugin kinds of ABI version 1.
const (
	// KindStrategy is a stateful ask/tell optimiser, run in a Session.
	KindStrategy Kind = "strategy"
	// KindTrust scores an agent from its evidence; stateless, called through the pool.
	KindTrust Kind = "trust"
	// KindPersonality adjusts an agent's evolution knobs; stateless, called through the pool.
	KindPersonality Kind = "personality"
)

// Operation export names of ABI version 1 (ABI.md §1). Call and Session.Call
// accept these or their short form ("score", "propose", ...).
const (
	OpStrategyInit      = "swarm_strategy_init"      // InitRequest → {}
	OpStrategyPropose   = "swarm_strategy_propose"   // ProposeRequest → ProposeResult
	OpStrategyObserve   = "swarm_strategy_observe"   // ObserveRequest → {}
	OpStrategySnapshot  = "swarm_strategy_snapshot"  // {} → Snapshot
	OpStrategyRestore   = "swarm_strategy_restore"   // Snapshot → {}
	OpTrustScore        = "swarm_trust_score"        // ScoreRequest → TrustScore
	OpPersonalityAdjust = "swarm_personality_adjust" // AdjustRequest → Adjustment
)

// kinds lists the kinds of ABI version 1 in a stable order.
func kinds() []Kind { return []Kind{KindStrategy, KindTrust, KindPersonality} }

// operations returns the operation exports that a plugin of kind k must have.
func (k Kind) operations() []string {
	switch k {
	case KindStrategy:
		return []string{OpStrategyInit, OpStrategyPropose, OpStrategyObserve, OpStrategySnapshot, OpStrategyRestore}
	case KindTrust:
		return []string{OpTrustScore}
	case KindPersonality:
		return []string{OpPersonalityAdjust}
	}
	return nil
}

// stateless reports whether the kind may be served from the instance pool.
func (k Kind) stateless() bool { return k == KindTrust || k == KindPersonality }

func (k Kind) check() error {
	for _, known := range kinds() {
		if k == known {
			return nil
		}
	}
	return fmt.Errorf("unknown plugin kind %q: use one of strategy, trust, personality", string(k))
}

// Capability names a group of host functions a plugin may be granted
// (ABI.md §4).
type Capability string

// The capabilities of ABI version 1.
const (
	// CapLog links swarm:host/v1.log.
	CapLog Capability = "log"
	// CapClock links swarm:host/v1.clock_now.
	CapClock Capability = "clock"
	// CapRandom links swarm:host/v1.random_u64, seeded from Config.Seed.
	CapRandom Capability = "random"
	// CapMetrics links swarm:host/v1.metric.
	CapMetrics Capability = "metrics"
	// CapLLM links swarm:host/v1.llm_complete; it needs Options.LLM.
	CapLLM Capability = "llm"
	// CapWASI gives WASI the real clock and random source and sends
	// stdout/stderr to the log; without it WASI is linked in its closed form.
	CapWASI Capability = "wasi"
)

func capabilities() []Capability {
	return []Capability{CapLog, CapClock, CapRandom, CapMetrics, CapLLM, CapWASI}
}

func (c Capability) check() error {
	for _, known := range capabilities() {
		if c == known {
			return nil
		}
	}
	return fmt.Errorf("unknown capability %q: use any of log, clock, random, metrics, llm, wasi", string(c))
}

// Limits bound one plugin's instances. A zero field takes the default of
// ABI.md §5.
type Limits struct {
	// MemoryBytes caps each instance's linear memory (default 64 MiB,
	// 1 MiB..4 GiB, rounded down to whole 64 KiB pages).
	MemoryBytes int64
	// CallTimeout is each call's deadline (default 2 s, 1 ms..10 min).
	CallTimeout time.Duration
	// MaxOutputBytes caps one response (default 4 MiB, 1 KiB..64 MiB).
	MaxOutputBytes int64
}

// Defaults and bounds of Limits (ABI.md §5).
const (
	DefaultMemoryBytes    int64         = 64 << 20        // memory_bytes
	DefaultCallTimeout    time.Duration = 2 * time.Second // call_timeout_millis
	DefaultMaxOutputBytes int64         = 4 << 20         // max_output_bytes

	minMemoryBytes    int64         = 1 << 20
	maxMemoryBytes    int64         = 4 << 30
	minCallTimeout    time.Duration = time.Millisecond
	maxCallTimeout    time.Duration = 10 * time.Minute
	minMaxOutputBytes int64         = 1 << 10
	maxMaxOutputBytes int64         = 64 << 20

	pageSize = 65536
)

// normalized returns l with defaults filled in, or an error naming the
// field that is out of range.
func (l Limits) normalized() (Limits, error) {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultMemoryBytes
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = DefaultCallTimeout
	}
	if l.MaxOutputBytes == 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if l.MemoryBytes < minMemoryBytes || l.MemoryBytes > maxMemoryBytes {
		return l, fmt.Errorf("memory limit %d bytes is out of range: set memory_bytes between 1 MiB and 4 GiB (0 means the default, 64 MiB)", l.MemoryBytes)
	}
	if l.CallTimeout < minCallTimeout || l.CallTimeout > maxCallTimeout {
		return l, fmt.Errorf("call timeout %v is out of range: set call_timeout_millis between 1 and 600000 (0 means the default, 2000)", l.CallTimeout)
	}
	if l.MaxOutputBytes < minMaxOutputBytes || l.MaxOutputBytes > maxMaxOutputBytes {
		return l, fmt.Errorf("output limit %d bytes is out of range: set max_output_bytes between 1 KiB and 64 MiB (0 means the default, 4 MiB)", l.MaxOutputBytes)
	}
	return l, nil
}

// memoryPages is the memory cap in whole wasm pages.
func (l Limits) memoryPages() uint32 { return uint32(l.MemoryBytes / pageSize) }

// Evidence kinds recorded through an EvidenceSink.
const (
	EvidenceTrap    = "trap"    // the instance trapped (unreachable, stack overflow, out-of-bounds access, exit)
	EvidenceTimeout = "timeout" // the call ran past Limits.CallTimeout and was cut
	EvidenceMemory  = "memory"  // swarm_alloc failed, or memory grew past 3/4 of Limits.MemoryBytes
	EvidenceOutput  = "output"  // the response broke the envelope, the bounds or MaxOutputBytes
	EvidencePanic   = "panic"   // the plugin answered an error with code "panic"
	EvidenceInvalid = "invalid" // a result the caller had to correct (e.g. clamped), recorded via Plugin.Record
	EvidenceOK      = "ok"      // positive evidence, recorded via Plugin.Record by callers that want it
)

// Evidence is one observation about a plugin version: the host records
// failures (Positive false); callers may add their own via Plugin.Record.
type Evidence struct {
	Time     time.Time
	Kind     string // one of the Evidence* constants
	Positive bool
	Detail   string
}

// EvidenceSink receives evidence about plugins, keyed by Config.ID. It is
// called synchronously from the calling goroutine and must be safe for
// concurrent use.
type EvidenceSink interface {
	RecordEvidence(pluginID string, e Evidence)
}

// LLM completes OpenAI-compatible chat requests for plugins granted the llm
// capability. The request and response are the JSON bodies of
// POST /v1/chat/completions.
type LLM interface {
	Complete(ctx context.Context, request []byte) ([]byte, error)
}

// GuestError is a well-formed error envelope from the plugin
// ({"v":1,"error":{"code":...,"message":...}}): the plugin ran fine and
// refused the request. Codes are invalid, failed, panic and unimplemented.
type GuestError struct {
	Code    string
	Message string
	Plugin  string // Config.ID of the plugin that answered
	Op      string // the operation export called
}

// Error implements error.
func (e *GuestError) Error() string {
	return fmt.Sprintf("plugin %s: %s answered error %q: %s", e.Plugin, e.Op, e.Code, e.Message)
}

// Failure kinds.
const (
	FailTrap    = EvidenceTrap    // trap, stack overflow, proc_exit
	FailTimeout = EvidenceTimeout // past Limits.CallTimeout
	FailMemory  = EvidenceMemory  // swarm_alloc failed, or a trap with memory near the cap
	FailOutput  = EvidenceOutput  // a response that breaks the envelope, the bounds or the size limit
	FailPanic   = EvidencePanic   // an error envelope with code "panic"
)

// Failure means the instance that served a call failed and was discarded;
// the next call gets a fresh instance. Kind is trap, timeout, memory,
// output or panic; the same is recorded as evidence against the plugin.
type Failure struct {
	Kind   string
	Op     string
	Err    error
	Plugin string // Config.ID
}

// Error implements error.
func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s: %s: %s: %v", f.Plugin, f.Op, f.Kind, f.Err)
	b.WriteString(" (the instance was discarded and the next call gets a fresh one; recorded as evidence against this plugin version)")
	return b.String()
}

// Unwrap returns the cause: context.DeadlineExceeded for timeouts, the
// *GuestError for panics, wazero's error for traps.
func (f *Failure) Unwrap() error { return f.Err }
