package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
)

// The operations of ABI.md §1, named by their export names. Handle takes them.
const (
	OpStrategyInit      = "swarm_strategy_init"
	OpStrategyPropose   = "swarm_strategy_propose"
	OpStrategyObserve   = "swarm_strategy_observe"
	OpStrategySnapshot  = "swarm_strategy_snapshot"
	OpStrategyRestore   = "swarm_strategy_restore"
	OpTrustScore        = "swarm_trust_score"
	OpPersonalityAdjust = "swarm_personality_adjust"
)

// registry holds the registered factories and the live instances they made.
//
// The one package-level variable, registered, is an unavoidable piece of
// mutable state: the wasm exports are plain functions, so the registration a
// plugin makes in its init function has to live somewhere they can reach.
// (The other one is the pinned-buffer table of the wasm glue, in
// internal/guest.) A plugin module runs single-threaded; the mutex only
// matters for native tests.
type registry struct {
	mu sync.Mutex

	newStrategy func() Strategy
	strategy    Strategy // the run's instance, after a successful init or restore

	newTrust func() TrustScorer
	trust    TrustScorer // made on first use

	newPersonality func() Personality
	personality    Personality // made on first use
}

var registered registry

// RegisterStrategy makes f the strategy factory: swarm_strategy_init and
// swarm_strategy_restore each call f for a fresh instance. It replaces any
// earlier registration and drops the live instance; nil unregisters.
//
// Plugins call strategy.Register (package sdk-wasm/strategy) instead, whose
// import also adds the strategy operation exports to the module.
func RegisterStrategy(f func() Strategy) {
	registered.mu.Lock()
	defer registered.mu.Unlock()
	registered.newStrategy, registered.strategy = f, nil
}

// RegisterTrust makes f the trust scorer factory, called once on the first
// swarm_trust_score. It replaces any earlier registration; nil unregisters.
//
// Plugins call trust.Register (package sdk-wasm/trust) instead, whose import
// also adds the trust operation export to the module.
func RegisterTrust(f func() TrustScorer) {
	registered.mu.Lock()
	defer registered.mu.Unlock()
	registered.newTrust, registered.trust = f, nil
}

// RegisterPersonality makes f the personality factory, called once on the
// first swarm_personality_adjust. It replaces any earlier registration; nil
// unregisters.
//
// Plugins call personality.Register (package sdk-wasm/personality) instead,
// whose import also adds the personality operation export to the module.
func RegisterPersonality(f func() Personality) {
	registered.mu.Lock()
	defer registered.mu.Unlock()
	registered.newPersonality, registered.personality = f, nil
}

// Handle runs one operation: it decodes request (JSON), checks its "version",
// calls the registered implementation and returns the response envelope,
// {"v":1,"result":...} or {"v":1,"error":{"code":...,"message":...}}. It never
// panics and never returns an empty response:
//
//   - a request that is not a JSON object, has no "version" (except the
//     snapshot request, whose schema is {}), has a version other than 1, or
//     does not fit the schema gives code "invalid" naming the problem;
//   - an operation nobody registered gives "unimplemented";
//   - an error from the implementation gives "failed" (or the code of an
//     *Error, see Errorf);
//   - a panic in the implementation gives "panic" with the panic's message,
//     and the live instances are dropped (their state may be half-updated).
//
// Handle is what the wasm exports call; tests call it directly.
func Handle(op string, request []byte) []byte {
	return registered.handle(op, request)
}

func (r *registry) handle(op string, request []byte) (response []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			r.strategy, r.trust, r.personality = nil, nil, nil
			response = errorEnvelope(&Error{Code: CodePanic, Message: fmt.Sprint(p)})
		}
	}()
	result, err := r.dispatch(op, request)
	if err != nil {
		return errorEnvelope(toError(err))
	}
	return resultEnvelope(result)
}

// ack is the result of operations that return {} in ABI.md's table; it
// carries the version like every result.
type ack struct {
	Version int `json:"version"`
}

func (r *registry) dispatch(op string, request []byte) (any, error) {
	switch op {
	case OpStrategyInit:
		var req InitRequest
		if err := decodeRequest(request, &req, false); err != nil {
			return nil, err
		}
		if err := req.Space.Validate(); err != nil {
			return nil, Errorf(CodeInvalid, "space: %v", err)
		}
		s, err := r.freshStrategy()
		if err != nil {
			return nil, err
		}
		r.strategy = nil
		if err := s.Init(req); err != nil {
			return nil, err
		}
		r.strategy = s
		return ack{Version: SchemaVersion}, nil

	case OpStrategyPropose:
		var req ProposeRequest
		if err := decodeRequest(request, &req, false); err != nil {
			return nil, err
		}
		if req.N <= 0 {
			return nil, Errorf(CodeInvalid, "n must be positive, got %d", req.N)
		}
		bias := NeutralMutationBias
		if req.MutationBias != nil {
			bias = *req.MutationBias
			if math.IsNaN(bias) || bias < 0 || bias > 1 {
				return nil, Errorf(CodeInvalid, "mutationBias %v is outside [0, 1]", bias)
			}
		}
		s, err := r.liveStrategy()
		if err != nil {
			return nil, err
		}
		if mb, ok := s.(MutationBiaser); ok {
			mb.SetMutationBias(bias)
		}
		cands, err := s.Propose(req.N)
		if err != nil {
			return nil, err
		}
		return checkCandidates(cands, req.N)

	case OpStrategyObserve:
		var req ObserveRequest
		if err := decodeRequest(request, &req, false); err != nil {
			return nil, err
		}
		s, err := r.liveStrategy()
		if err != nil {
			return nil, err
		}
		if err := s.Observe(req.Results); err != nil {
			return nil, err
		}
		return ack{Version: SchemaVersion}, nil

	case OpStrategySnapshot:
		if err := decodeRequest(request, nil, true); err != nil {
			return nil, err
		}
		s, err := r.liveStrategy()
		if err != nil {
			return nil, err
		}
		state, err := s.Snapshot()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(state)) == 0 {
			state = json.RawMessage("null")
		}
		if !json.Valid(state) {
			return nil, Errorf(CodeFailed, "snapshot state is not valid JSON")
		}
		return Snapshot{Version: SchemaVersion, State: state}, nil

	case OpStrategyRestore:
		var req Snapshot
		if err := decodeRequest(request, &req, false); err != nil {
			return nil, err
		}
		if req.State == nil {
			return nil, Errorf(CodeInvalid, "restore request has no state")
		}
		s, err := r.freshStrategy()
		if err != nil {
			return nil, err
		}
		r.strategy = nil
		if err := s.Restore(req.State); err != nil {
			return nil, err
		}
		r.strategy = s
		return ack{Version: SchemaVersion}, nil

	case OpTrustScore:
		req, err := decodeFast(request, fastScoreRequest)
		if err != nil {
			return nil, err
		}
		if r.trust == nil {
			if r.newTrust == nil {
				return nil, Errorf(CodeUnimplemented, "no trust scorer registered (call trust.Register from an init function)")
			}
			if r.trust = r.newTrust(); r.trust == nil {
				return nil, Errorf(CodeFailed, "the registered trust factory returned nil")
			}
		}
		score, err := r.trust.Score(req)
		if err != nil {
			return nil, err
		}
		score.Version = SchemaVersion
		return score, nil

	case OpPersonalityAdjust:
		req, err := decodeFast(request, fastAdjustRequest)
		if err != nil {
			return nil, err
		}
		if r.personality == nil {
			if r.newPersonality == nil {
				return nil, Errorf(CodeUnimplemented, "no personality registered (call personality.Register from an init function)")
			}
			if r.personality = r.newPersonality(); r.personality == nil {
				return nil, Errorf(CodeFailed, "the registered personality factory returned nil")
			}
		}
		adj, err := r.personality.Adjust(req)
		if err != nil {
			return nil, err
		}
		adj.Version = SchemaVersion
		return adj, nil
	}
	return nil, Errorf(CodeUnimplemented, "unknown operation %q", op)
}

func (r *registry) freshStrategy() (Strategy, error) {
	if r.newStrategy == nil {
		return nil, Errorf(CodeUnimplemented, "no strategy registered (call strategy.Register from an init function)")
	}
	s := r.newStrategy()
	if s == nil {
		return nil, Errorf(CodeFailed, "the registered strategy factory returned nil")
	}
	return s, nil
}

func (r *registry) liveStrategy() (Strategy, error) {
	if r.strategy != nil {
		return r.strategy, nil
	}
	if r.newStrategy == nil {
		return nil, Errorf(CodeUnimplemented, "no strategy registered (call strategy.Register from an init function)")
	}
	return nil, Errorf(CodeInvalid, "the strategy has no run: call init or restore first")
}

// checkCandidates enforces what the host relies on: at most n candidates,
// each with a non-empty id unique in the batch; a nil genome is sent as {}.
func checkCandidates(cands []Candidate, n int) (ProposeResult, error) {
	if len(cands) > n {
		return ProposeResult{}, Errorf(CodeFailed, "the strategy proposed %d candidates, %d were asked for", len(cands), n)
	}
	out := make([]Candidate, len(cands))
	seen := make(map[string]bool, len(cands))
	for i, c := range cands {
		if c.ID == "" {
			return ProposeResult{}, Errorf(CodeFailed, "candidate %d has no id", i)
		}
		if seen[c.ID] {
			return ProposeResult{}, Errorf(CodeFailed, "candidate id %q appears twice", c.ID)
		}
		seen[c.ID] = true
		if c.Genome == nil {
			c.Genome = Genome{}
		}
		out[i] = c
	}
	return ProposeResult{Version: SchemaVersion, Candidates: out}, nil
}

// decodeRequest checks that request is a JSON object whose "version" is
// SchemaVersion (absent is allowed only when versionOptional) and decodes it
// into dst (unless nil). Every failure is a CodeInvalid *Error.
func decodeRequest(request []byte, dst any, versionOptional bool) error {
	trimmed := bytes.TrimSpace(request)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Errorf(CodeInvalid, "the request is not a JSON object")
	}
	probe, err := objectFields(trimmed)
	if err != nil {
		return Errorf(CodeInvalid, "the request is not valid JSON: %v", err)
	}
	version, ok := probe["version"]
	switch {
	case !ok || isNull(version):
		if !versionOptional {
			return Errorf(CodeInvalid, "the request has no version (this SDK speaks version %d)", SchemaVersion)
		}
	default:
		v, err := decodeInt64(version)
		if err != nil {
			return Errorf(CodeInvalid, "request version %s is not an integer", bytes.TrimSpace(version))
		}
		if v != SchemaVersion {
			return Errorf(CodeInvalid, "request version %d is not supported (this SDK speaks version %d)", v, SchemaVersion)
		}
	}
	if dst != nil {
		if err := json.Unmarshal(trimmed, dst); err != nil {
			return Errorf(CodeInvalid, "bad request: %v", err)
		}
	}
	return nil
}

// envelope is the response of every operation (ABI.md §2).
type envelope struct {
	V      int             `json:"v"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// resultEnvelope writes {"v":1,"result":...}. A proposal, the largest and
// most frequent result, and the results of trust and personality calls,
// which the host may make for every agent of a swarm, are written by hand
// (encoding/json's reflection and its re-validation of MarshalJSON output
// dominate such calls in Wasm); the rest, and a score or an adjustment that
// is not finite, go through encoding/json.
func resultEnvelope(result any) []byte {
	b := append(make([]byte, 0, 256), `{"v":`+strconv.Itoa(EnvelopeVersion)+`,"result":`...)
	var err error
	written := false
	switch r := result.(type) {
	case ProposeResult:
		b, err = appendProposeResult(b, r)
		written = true
	case TrustScore:
		b, written = appendResult(b, r.Version, [3]string{"score", "uncertainty", "lowerBound"}, [3]float64{r.Score, r.Uncertainty, r.LowerBound})
	case Adjustment:
		b, written = appendResult(b, r.Version, [3]string{"mutationBias", "resourceHeadroom", "canaryPace"}, [3]float64{r.MutationBias, r.ResourceHeadroom, r.CanaryPace})
	}
	if !written {
		var raw []byte
		raw, err = json.Marshal(result)
		b = append(b, raw...)
	}
	if err != nil {
		return errorEnvelope(&Error{Code: CodeFailed, Message: "cannot encode the result: " + err.Error()})
	}
	return append(b, '}')
}

// appendProposeResult writes pr as encoding/json would.
func appendProposeResult(b []byte, pr ProposeResult) ([]byte, error) {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(pr.Version), 10)
	b = append(b, `,"candidates":`...)
	if pr.Candidates == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	for i, c := range pr.Candidates {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSONString(b, c.ID)
		b = append(b, `,"genome":`...)
		g, err := c.Genome.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("candidate %q: %w", c.ID, err)
		}
		b = append(b, g...)
		if len(c.Parents) > 0 {
			b = append(b, `,"parents":`...)
			b, _ = appendJSONValue(b, c.Parents)
		}
		if c.Operator != "" {
			b = append(b, `,"operator":`...)
			b = appendJSONString(b, c.Operator)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

func errorEnvelope(e *Error) []byte {
	out, err := json.Marshal(envelope{V: EnvelopeVersion, Error: e})
	if err != nil { // cannot happen: two strings
		return []byte(`{"v":1,"error":{"code":"failed","message":"cannot encode the error"}}`)
	}
	return out
}
