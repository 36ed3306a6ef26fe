package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ChatMessage is one message of an OpenAI-compatible chat completion.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is an OpenAI-compatible chat-completions request
// (POST /v1/chat/completions). The host fills in the endpoint, the key
// and, when Model is empty, the operator's default model.
type ChatRequest struct {
	Model       string        `json:"model,omitempty"`
	Messages    []ChatMessage `json:"messages"`
	Temperature *float64      `json:"temperature,omitempty"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Seed        *int64        `json:"seed,omitempty"`
	// ResponseFormat is passed through, e.g. {"type":"json_object"}.
	ResponseFormat json.RawMessage `json:"response_format,omitempty"`
}

// ChatResponse is the part of a chat-completions response plugins use.
type ChatResponse struct {
	Choices []struct {
		Message      ChatMessage `json:"message"`
		FinishReason string      `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error,omitempty"`
}

// ErrNoLLM is returned by Complete when no LLM is available: the plugin
// does not have the llm capability (manifest optional_capabilities or
// capabilities, and the operator's --plugin-grants), or swarmd has no LLM
// configured. Strategies fall back to their deterministic operators.
var ErrNoLLM = errors.New("no LLM is available to this plugin")

// llmHook is the completion function: the swarm:host/v1.llm_complete import
// in a wasm module, SetLLM's function in native tests.
//
// Package-level state by necessity, like the registry: host imports are
// plain functions.
var llmHook struct {
	mu sync.Mutex
	fn func(request []byte) ([]byte, error)
}

// SetLLM replaces the completion function, for native tests (a recorded
// cassette of responses); nil restores the default, which in a native
// build answers ErrNoLLM. In a wasm module the default calls the host.
func SetLLM(fn func(request []byte) ([]byte, error)) {
	llmHook.mu.Lock()
	defer llmHook.mu.Unlock()
	llmHook.fn = fn
}

// Complete runs one chat completion and returns the first choice's
// content. It returns an error wrapping ErrNoLLM when the plugin has no LLM,
// and other errors for a failed completion; it never panics.
func Complete(req ChatRequest) (string, error) {
	resp, err := CompleteRaw(req)
	if err != nil {
		return "", err
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("llm: the completion has no choices")
	}
	return resp.Choices[0].Message.Content, nil
}

// CompleteRaw is Complete returning the whole response.
func CompleteRaw(req ChatRequest) (ChatResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return ChatResponse{}, fmt.Errorf("llm: encode the request: %w", err)
	}
	llmHook.mu.Lock()
	fn := llmHook.fn
	llmHook.mu.Unlock()
	if fn == nil {
		fn = hostComplete
	}
	raw, err := fn(body)
	if err != nil {
		return ChatResponse{}, err
	}
	var resp ChatResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return ChatResponse{}, fmt.Errorf("llm: the response is not a chat completion: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.Type == "not_granted" || strings.Contains(resp.Error.Type, "no_llm") {
			return resp, fmt.Errorf("%w: %s", ErrNoLLM, resp.Error.Message)
		}
		return resp, fmt.Errorf("llm: %s (%s)", resp.Error.Message, resp.Error.Type)
	}
	return resp, nil
}
