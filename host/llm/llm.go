// Package llm is swarmd's client for an OpenAI-compatible chat-completions
// endpoint, the one behind the llm plugin capability (sdk-wasm/ABI.md §4).
// Plugins send a chat-completions request; the client sets the model when
// the plugin left it empty, adds the key, bounds the time and the size, and
// returns the endpoint's JSON as it is.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configure a Client.
type Options struct {
	// Endpoint is the API's base URL, e.g. https://api.openai.com or
	// http://127.0.0.1:8000 (the client posts to Endpoint/v1/chat/completions).
	Endpoint string
	// Model is used when a request names none.
	Model string
	// APIKey is sent as a bearer token when not empty.
	APIKey string
	// Timeout bounds one completion (default 2 minutes).
	Timeout time.Duration
	// HTTP is the client to use (default: a new one).
	HTTP *http.Client
}

// maxResponseBytes bounds a completion's response body.
const maxResponseBytes = 8 << 20

// Client completes chat requests. It is safe for concurrent use.
type Client struct {
	url  string
	opts Options
}

// New checks opts and returns a client.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm endpoint %q: want an http(s) base URL such as https://api.openai.com", opts.Endpoint)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{}
	}
	base := strings.TrimRight(opts.Endpoint, "/")
	base = strings.TrimSuffix(base, "/v1")
	return &Client{url: base + "/v1/chat/completions", opts: opts}, nil
}

// Complete sends request (a chat-completions JSON object) and returns the
// response body. A response with an HTTP error status is returned as an
// error carrying the endpoint's message.
func (c *Client) Complete(ctx context.Context, request []byte) ([]byte, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(request, &req); err != nil {
		return nil, fmt.Errorf("llm: the request is not a JSON object: %w", err)
	}
	if _, ok := req["messages"]; !ok {
		return nil, errors.New(`llm: the request has no "messages"`)
	}
	if m, ok := req["model"]; !ok || string(m) == `""` {
		if c.opts.Model == "" {
			return nil, errors.New("llm: the request names no model and swarmd has no --llm-model")
		}
		b, _ := json.Marshal(c.opts.Model)
		req["model"] = b
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if c.opts.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	resp, err := c.opts.HTTP.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("llm: read the response: %w", err)
	}
	if len(out) > maxResponseBytes {
		return nil, fmt.Errorf("llm: the response is over %d bytes", maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(out))
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return nil, fmt.Errorf("llm: %s: %s", resp.Status, msg)
	}
	if !json.Valid(out) {
		return nil, errors.New("llm: the endpoint answered something that is not JSON")
	}
	return out, nil
}
