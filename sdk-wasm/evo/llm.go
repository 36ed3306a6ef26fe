package evo

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// LLM modes (the "llm" key of the strategies' config).
const (
	// LLMAuto uses the LLM when the host grants one and falls back to the
	// deterministic operators otherwise (the default).
	LLMAuto = "auto"
	// LLMOff never calls the LLM: the run is deterministic even where an
	// LLM is granted.
	LLMOff = "off"
)

// LLM is a strategy's use of the optional LLM (sdk.Complete). It is plain
// data, meant to live in the strategy's snapshot: once the host answers that
// no LLM is available (sdk.ErrNoLLM) it is not asked again, also after a
// restore.
type LLM struct {
	// Mode is LLMAuto ("" means the same) or LLMOff.
	Mode string `json:"mode,omitempty"`
	// Model is passed on; "" lets the host pick its default.
	Model string `json:"model,omitempty"`
	// Temperature is passed on when set.
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxTokens is passed on when positive.
	MaxTokens int `json:"maxTokens,omitempty"`
	// Unavailable records that the host has no LLM for this plugin.
	Unavailable bool `json:"unavailable,omitempty"`
	// Calls counts completions that came back.
	Calls int `json:"calls,omitempty"`
	// Failures counts calls that failed or whose answer could not be used.
	Failures int `json:"failures,omitempty"`
}

// CheckMode returns an error unless mode is "", LLMAuto or LLMOff.
func CheckMode(mode string) error {
	if mode != "" && mode != LLMAuto && mode != LLMOff {
		return fmt.Errorf("llm %q must be %q or %q", mode, LLMAuto, LLMOff)
	}
	return nil
}

// Enabled reports whether the strategy should try the LLM.
func (l *LLM) Enabled() bool { return l != nil && l.Mode != LLMOff && !l.Unavailable }

// Chat runs one completion in JSON mode at the configured temperature and
// decodes the answer's JSON object into out; it returns the answer's text.
// An error wrapping sdk.ErrNoLLM marks the LLM unavailable.
func (l *LLM) Chat(messages []sdk.ChatMessage, out any) (string, error) {
	return l.ChatAt(l.Temperature, messages, out)
}

// ChatAt is Chat at another temperature (nil: the host's default).
func (l *LLM) ChatAt(temperature *float64, messages []sdk.ChatMessage, out any) (string, error) {
	if !l.Enabled() {
		return "", sdk.ErrNoLLM
	}
	req := sdk.ChatRequest{
		Model: l.Model, Messages: messages, Temperature: temperature, MaxTokens: l.MaxTokens,
		ResponseFormat: json.RawMessage(`{"type":"json_object"}`),
	}
	content, err := sdk.Complete(req)
	if errors.Is(err, sdk.ErrNoLLM) {
		l.Unavailable = true
		return "", err
	}
	if err != nil {
		l.Failures++
		return "", err
	}
	l.Calls++
	obj, ok := ExtractJSON(content)
	if !ok {
		l.Failures++
		return content, fmt.Errorf("llm: the answer holds no JSON object")
	}
	if err := json.Unmarshal([]byte(obj), out); err != nil {
		l.Failures++
		return content, fmt.Errorf("llm: the answer's JSON does not fit: %v", err)
	}
	return content, nil
}

// ExtractJSON returns the JSON object in an LLM answer: the whole answer,
// or the text from its first '{' to its last '}' (dropping code fences and
// chatter around it); ok is false when there is no valid object.
func ExtractJSON(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if json.Valid([]byte(s)) && strings.HasPrefix(s, "{") {
		return s, true
	}
	i, j := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if i < 0 || j <= i {
		return "", false
	}
	s = s[i : j+1]
	return s, json.Valid([]byte(s))
}

// DescribeSpace returns the search space as compact JSON, for prompts.
func DescribeSpace(space sdk.SearchSpace) string {
	b, err := json.Marshal(space)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// PatchGenome sets the genes that patch names (an LLM's answer: parameter
// name to new value) on a copy of base, as modify_param edits in name order;
// values that are not allowed are skipped and reported in errs (unknown
// names too). The result is clamped into space.
func PatchGenome(space sdk.SearchSpace, base sdk.Genome, patch map[string]any) (g sdk.Genome, errs []error) {
	g = Clamp(space, base)
	names := make([]string, 0, len(patch))
	for k := range patch {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		next, err := (Edit{Op: OpModifyParam, Param: k, Value: patch[k]}).Apply(space, g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g = next
	}
	return g, errs
}
