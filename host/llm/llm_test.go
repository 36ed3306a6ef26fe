package llm

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCompleteAgainstAFakeEndpoint(t *testing.T) {
	var got string
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got, auth = string(b), r.Header.Get("Authorization")
		if strings.Contains(got, "overload") {
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"rate limited","type":"rate_limit"}}`)
			return
		}
		if strings.Contains(got, "garbage") {
			io.WriteString(w, `<html>`)
			return
		}
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"ok"}}]}`)
	}))
	defer srv.Close()
	c, err := New(Options{Endpoint: srv.URL + "/v1/", Model: "m-default", APIKey: "sk-test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := c.Complete(ctx, []byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || !strings.Contains(string(out), `"content":"ok"`) {
		t.Fatalf("complete: %s %v", out, err)
	}
	if !strings.Contains(got, `"model":"m-default"`) || auth != "Bearer sk-test" {
		t.Fatalf("sent %s with %q", got, auth)
	}
	if _, err := c.Complete(ctx, []byte(`{"model":"mine","messages":[]}`)); err != nil || !strings.Contains(got, `"model":"mine"`) {
		t.Fatalf("own model: %s %v", got, err)
	}
	for _, c2 := range []struct{ req, want string }{
		{`{"messages":[{"role":"user","content":"overload"}]}`, "429 Too Many Requests: rate limited"},
		{`{"messages":[{"role":"user","content":"garbage"}]}`, "not JSON"},
		{`[1]`, "not a JSON object"},
		{`{"model":"x"}`, `no "messages"`},
	} {
		if _, err := c.Complete(ctx, []byte(c2.req)); err == nil || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("%s: %v, want %q", c2.req, err, c2.want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "not a url", "http://"} {
		if _, err := New(Options{Endpoint: bad}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}
