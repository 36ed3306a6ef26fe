package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

// Caller is what PluginScorer needs of a loaded trust plugin;
// *plugin.Plugin has it.
type Caller interface {
	// ID is the plugin's NAME@VERSION.
	ID() string
	// Call runs an operation (plugin.Plugin.Call).
	Call(ctx context.Context, op string, request []byte) (json.RawMessage, error)
}

// Opener loads plugin versions by name; *registry.Registry has it.
type Opener interface {
	Open(ctx context.Context, name, version string, kind plugin.Kind) (*plugin.Plugin, string, error)
}

// PluginScorer is a Scorer that runs a Wasm trust plugin
// (swarm_trust_score, sdk-wasm/ABI.md §3). It is safe for concurrent use.
type PluginScorer struct {
	p       Caller
	subject Subject
	config  map[string]json.RawMessage
}

// NewPluginScorer returns a scorer calling p with config, the scorer's
// settings (a JSON object, or empty for none). The key "subject" is the
// host's: each request sets it to the id of the subject being scored.
func NewPluginScorer(p Caller, config json.RawMessage) (*PluginScorer, error) {
	subject, err := PluginSubject(p.ID())
	if err != nil {
		return nil, fmt.Errorf("trust plugin scorer: %w", err)
	}
	cfg := map[string]json.RawMessage{}
	if len(config) > 0 {
		if err := json.Unmarshal(config, &cfg); err != nil || cfg == nil {
			return nil, fmt.Errorf("trust plugin scorer %s: config %.80q is not a JSON object: give the scorer's settings as an object, e.g. {\"halfLifeSeconds\": 86400}", p.ID(), config)
		}
	}
	return &PluginScorer{p: p, subject: subject, config: cfg}, nil
}

// OpenScorer opens the trust plugin name@version (the default version when
// version is "") through o and returns a scorer for it.
func OpenScorer(ctx context.Context, o Opener, name, version string, config json.RawMessage) (*PluginScorer, error) {
	p, _, err := o.Open(ctx, name, version, plugin.KindTrust)
	if err != nil {
		return nil, fmt.Errorf("open trust plugin %s: %w", name, err)
	}
	return NewPluginScorer(p, config)
}

// Subject is the plugin version that scores.
func (ps *PluginScorer) Subject() Subject { return ps.subject }

// wireEvidence and wireRequest are ScoreRequest as ABI.md §3 writes it.
type wireEvidence struct {
	Time     string  `json:"time"`
	Kind     string  `json:"kind"`
	Positive bool    `json:"positive"`
	Weight   float64 `json:"weight"`
	Detail   string  `json:"detail"`
}

type wireRequest struct {
	Version  int                        `json:"version"`
	Now      string                     `json:"now"`
	Evidence []wireEvidence             `json:"evidence"`
	Config   map[string]json.RawMessage `json:"config"`
}

// request returns the JSON that Score sends for req: ABI v1's ScoreRequest
// with config.subject set to the subject's id.
func (ps *PluginScorer) request(req ScoreRequest) ([]byte, error) {
	w := wireRequest{Version: 1, Now: req.Now.UTC().Format(time.RFC3339Nano), Evidence: make([]wireEvidence, len(req.Evidence)), Config: make(map[string]json.RawMessage, len(ps.config)+1)}
	for i, e := range req.Evidence {
		w.Evidence[i] = wireEvidence{Time: e.Time.UTC().Format(time.RFC3339Nano), Kind: e.Kind, Positive: e.Positive, Weight: e.Weight, Detail: e.Detail}
	}
	for k, v := range ps.config {
		w.Config[k] = v
	}
	id, _ := json.Marshal(req.Subject.String()) // a string: cannot fail
	w.Config["subject"] = id
	return json.Marshal(w)
}

// Score calls swarm_trust_score. A plugin failure comes back as the
// host's *plugin.Failure or *plugin.GuestError; a result without the three
// numbers, or of another schema version, as an invalid-result error.
func (ps *PluginScorer) Score(ctx context.Context, req ScoreRequest) (TrustScore, error) {
	body, err := ps.request(req)
	if err != nil {
		return TrustScore{}, fmt.Errorf("trust plugin %s: encode the request: %w", ps.subject, err)
	}
	raw, err := ps.p.Call(ctx, plugin.OpTrustScore, body)
	if err != nil {
		return TrustScore{}, err
	}
	var r struct {
		Version     int      `json:"version"`
		Score       *float64 `json:"score"`
		Uncertainty *float64 `json:"uncertainty"`
		LowerBound  *float64 `json:"lowerBound"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return TrustScore{}, fmt.Errorf("%w from %s: %v (result %.120q)", errInvalidResult, ps.subject, err, raw)
	}
	if r.Version != 1 || r.Score == nil || r.Uncertainty == nil || r.LowerBound == nil {
		return TrustScore{}, fmt.Errorf("%w from %s: want {\"version\": 1, \"score\", \"uncertainty\", \"lowerBound\"}, got %.120q", errInvalidResult, ps.subject, raw)
	}
	return TrustScore{Score: *r.Score, Uncertainty: *r.Uncertainty, LowerBound: *r.LowerBound}, nil
}
