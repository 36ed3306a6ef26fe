package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
)

// TestLoadDrivesAServer: load sends solve requests to a real server for
// its duration and reports what was answered.
func TestLoadDrivesAServer(t *testing.T) {
	s := newServer(solver.DefaultGenome(), 2)
	ts := httptest.NewServer(s.handler())
	defer ts.Close()
	var out, errb bytes.Buffer
	code := run([]string{"load", "--target", strings.TrimPrefix(ts.URL, "http://"), "--concurrency", "2", "--duration", "500ms", "--instances", "eil51"}, nil, &out, &errb)
	if code != exitOK || !strings.Contains(out.String(), "requests answered, 0 failed") {
		t.Fatalf("load: exit %d, out %q, err %q", code, out.String(), errb.String())
	}
	s.mu.Lock()
	n := s.requests[200]
	s.mu.Unlock()
	if n == 0 {
		t.Errorf("the server answered %d requests with 200", n)
	}
}

// TestLoadBadArguments: each a usage error that says what is wrong.
func TestLoadBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"load"}, "--target is required"},
		{[]string{"load", "--target", "x:1", "--concurrency", "0"}, "give at least 1"},
		{[]string{"load", "--target", "x:1", "--instances", "a,,b"}, "empty name"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
}

// TestLoadUnanswered: nothing answering is a failure, not a silent zero.
func TestLoadUnanswered(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"load", "--target", "127.0.0.1:1", "--duration", "200ms"}, nil, &out, &errb)
	if code != exitFailed || !strings.Contains(out.String(), "0 requests answered") {
		t.Fatalf("exit %d, out %q", code, out.String())
	}
}
