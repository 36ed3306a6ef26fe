package sdk

import (
	"errors"
	"strings"
	"testing"
)

func TestCompleteWithoutAnLLM(t *testing.T) {
	SetLLM(nil)
	if _, err := Complete(ChatRequest{Messages: []ChatMessage{{Role: "user", Content: "hi"}}}); !errors.Is(err, ErrNoLLM) {
		t.Fatalf("native default: %v, want ErrNoLLM", err)
	}
}

func TestCompleteThroughTheHook(t *testing.T) {
	defer SetLLM(nil)
	var sent string
	SetLLM(func(req []byte) ([]byte, error) {
		sent = string(req)
		return []byte(`{"choices":[{"message":{"role":"assistant","content":"{\"steps\":[\"2opt\"]}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}`), nil
	})
	temp := 0.8
	got, err := Complete(ChatRequest{Messages: []ChatMessage{{Role: "user", Content: "propose"}}, Temperature: &temp, ResponseFormat: []byte(`{"type":"json_object"}`)})
	if err != nil || got != `{"steps":["2opt"]}` {
		t.Fatalf("Complete: %q, %v", got, err)
	}
	if !strings.Contains(sent, `"temperature":0.8`) || !strings.Contains(sent, `"response_format":{"type":"json_object"}`) {
		t.Fatalf("request sent: %s", sent)
	}
	for _, c := range []struct{ resp, want string }{
		{`{"error":{"message":"the llm capability is not granted","type":"not_granted"}}`, "no LLM"},
		{`{"error":{"message":"rate limited","type":"rate_limit"}}`, "rate limited"},
		{`not json`, "not a chat completion"},
		{`{"choices":[]}`, "no choices"},
	} {
		SetLLM(func([]byte) ([]byte, error) { return []byte(c.resp), nil })
		if _, err := Complete(ChatRequest{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("response %s: %v, want %q", c.resp, err, c.want)
		}
	}
}
