// Package personality calls personality plugins (sdk-wasm/ABI.md, kind
// personality) for the host: Adjust sends an agent's role, generation and
// trust and returns the plugin's mutation bias, resource headroom and
// canary pace, clamped into [0, 1]. A clamp is reported in the result and
// recorded as "invalid" evidence against the plugin version, as ABI.md
// asks.
package personality

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

// Caller is what Adjust needs of a loaded personality plugin;
// *plugin.Plugin has it.
type Caller interface {
	// ID is the plugin's NAME@VERSION.
	ID() string
	// Call runs an operation (plugin.Plugin.Call).
	Call(ctx context.Context, op string, request []byte) (json.RawMessage, error)
	// Record adds evidence about the plugin version (plugin.Plugin.Record).
	Record(e plugin.Evidence)
}

// Request is what a personality is asked.
type Request struct {
	// Role is the agent's role, e.g. "solver".
	Role string
	// Generation is the evolution's generation, 0 or more.
	Generation int
	// Trust is the agent's trust score, in [0, 1].
	Trust float64
	// Config is the personality's settings from its plugin reference (a
	// JSON object), or empty.
	Config json.RawMessage
}

// Adjustment is a personality's answer, every value in [0, 1].
type Adjustment struct {
	// MutationBias leans the strategy towards exploration (1) or
	// exploitation (0).
	MutationBias float64
	// ResourceHeadroom is the share of resources to keep spare.
	ResourceHeadroom float64
	// CanaryPace is how fast a canary's traffic share steps up (0: slowest).
	CanaryPace float64
	// Clamped lists what the plugin answered outside [0, 1], e.g.
	// "canaryPace 1.7 clamped to 1"; empty when nothing was.
	Clamped []string
}

// wireRequest is AdjustRequest as ABI.md §3 writes it.
type wireRequest struct {
	Version    int             `json:"version"`
	Role       string          `json:"role"`
	Generation int             `json:"generation"`
	Trust      float64         `json:"trust"`
	Config     json.RawMessage `json:"config,omitempty"`
}

// Adjust asks the personality p for req's adjustment. Values outside [0, 1]
// are clamped, listed in Adjustment.Clamped and recorded against p as
// "invalid" evidence. A request out of range is refused before p is called;
// a plugin failure (*plugin.Failure, *plugin.GuestError) or a result that
// is not an Adjustment is returned as an error, and the caller keeps the
// knobs it had.
func Adjust(ctx context.Context, p Caller, req Request) (Adjustment, error) {
	switch {
	case math.IsNaN(req.Trust) || req.Trust < 0 || req.Trust > 1:
		return Adjustment{}, fmt.Errorf("personality %s: trust %v is outside [0, 1]: pass the agent's trust score", p.ID(), req.Trust)
	case req.Generation < 0:
		return Adjustment{}, fmt.Errorf("personality %s: generation %d is negative", p.ID(), req.Generation)
	}
	if len(req.Config) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(req.Config, &obj); err != nil || obj == nil {
			return Adjustment{}, fmt.Errorf("personality %s: config %.80q is not a JSON object: give the personality's settings as an object", p.ID(), req.Config)
		}
	}
	body, err := json.Marshal(wireRequest{Version: 1, Role: req.Role, Generation: req.Generation, Trust: req.Trust, Config: req.Config})
	if err != nil {
		return Adjustment{}, fmt.Errorf("personality %s: encode the request: %w", p.ID(), err)
	}
	raw, err := p.Call(ctx, plugin.OpPersonalityAdjust, body)
	if err != nil {
		return Adjustment{}, err
	}
	var r struct {
		Version          int      `json:"version"`
		MutationBias     *float64 `json:"mutationBias"`
		ResourceHeadroom *float64 `json:"resourceHeadroom"`
		CanaryPace       *float64 `json:"canaryPace"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Version != 1 || r.MutationBias == nil || r.ResourceHeadroom == nil || r.CanaryPace == nil {
		detail := fmt.Sprintf("adjust: the result %.120q is not an Adjustment {\"version\": 1, \"mutationBias\", \"resourceHeadroom\", \"canaryPace\"}", raw)
		p.Record(plugin.Evidence{Kind: plugin.EvidenceInvalid, Detail: detail})
		return Adjustment{}, fmt.Errorf("personality %s: %s (recorded against it)", p.ID(), detail)
	}
	a := Adjustment{MutationBias: *r.MutationBias, ResourceHeadroom: *r.ResourceHeadroom, CanaryPace: *r.CanaryPace}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"mutationBias", &a.MutationBias}, {"resourceHeadroom", &a.ResourceHeadroom}, {"canaryPace", &a.CanaryPace}} {
		if c := math.Min(1, math.Max(0, *f.v)); c != *f.v {
			a.Clamped = append(a.Clamped, fmt.Sprintf("%s %g clamped to %g", f.name, *f.v, c))
			*f.v = c
		}
	}
	if len(a.Clamped) > 0 {
		p.Record(plugin.Evidence{Kind: plugin.EvidenceInvalid, Detail: "adjust: " + strings.Join(a.Clamped, "; ")})
	}
	return a, nil
}
