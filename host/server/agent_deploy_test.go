package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/server"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
)

// TestAgentReplicasServeThroughTheMesh: an agent with replicas runs: its
// replicas (the example agent, tspsolver serve, on the native runtime)
// answer solve requests at the address its status gives; deleting it
// stops them.
func TestAgentReplicasServeThroughTheMesh(t *testing.T) {
	e := setupNative(t)
	solver := filepath.Join(t.TempDir(), "tspsolver")
	if err := testbin.Build(solver, "./benchmarks/agents/tspsolver"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	agents := v1.NewAgentServiceClient(d.conn)
	ctx := d.ctx()
	genome, err := structpb.NewStruct(map[string]any{"max_iterations": 20})
	if err != nil {
		t.Fatal(err)
	}
	a := &v1.Agent{Metadata: &v1.ObjectMeta{Name: "solver"}, Spec: &v1.AgentSpec{
		Role: "solver", Image: "scratch", Replicas: 2, Genome: genome,
		Command:   []string{"/opt/stratoswarm/tspsolver", "serve"},
		Mounts:    []*v1.Mount{{Source: solver, Target: "/opt/stratoswarm/tspsolver", ReadOnly: true}},
		Resources: &v1.ResourceList{MemoryBytes: 256 << 20},
	}}
	if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: a}); err != nil {
		t.Fatal(err)
	}
	var got *v1.Agent
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if got, err = agents.GetAgent(ctx, &v1.GetAgentRequest{Name: "solver"}); err != nil {
			t.Fatal(err)
		}
		if p := got.GetStatus().GetPhase(); p == "Running" || p == "Failed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := got.GetStatus()
	if st.GetPhase() != "Running" || st.GetReadyReplicas() != 2 || st.GetVersion() != "v1" || st.GetAddress() == "" {
		t.Fatalf("status %v, want Running with 2 ready replicas of v1 and an address", st)
	}
	for i := range 5 {
		resp, err := http.Post(fmt.Sprintf("http://%s/solve?instance=st70&seed=%d", st.GetAddress(), i), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"instance":"st70"`) {
			t.Fatalf("solve through the agent's address: %s %s", resp.Status, b)
		}
	}
	// Each replica's log, through AgentLogs.
	for i := range int32(2) {
		if got := agentLogs(t, ctx, agents, &v1.AgentLogsRequest{Name: "solver", Replica: i}); !strings.Contains(got, "tspsolver: serving on /run/agent/http.sock") {
			t.Errorf("replica %d's log %q lacks the serving line", i, got)
		}
	}
	logs, err := agents.AgentLogs(ctx, &v1.AgentLogsRequest{Name: "solver", Replica: 7})
	if err == nil {
		_, err = logs.Recv()
	}
	wantCode(t, err, codes.NotFound, "has 2 running replicas")
	logs, err = agents.AgentLogs(ctx, &v1.AgentLogsRequest{Name: "solver", TailLines: -1})
	if err == nil {
		_, err = logs.Recv()
	}
	wantCode(t, err, codes.InvalidArgument, "tail_lines")
	if _, err := agents.DeleteAgent(ctx, &v1.DeleteAgentRequest{Name: "solver"}); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post("http://"+st.GetAddress()+"/solve?instance=st70", "text/plain", nil); err == nil {
		t.Error("the deleted agent's address still answers")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "native", "containers", "*"))
	if len(left) != 0 {
		t.Errorf("containers left after the agent was deleted: %v", left)
	}
}

// TestAgentThatCannotServeFails: replicas whose command does not serve
// make the agent Failed with a condition that says why.
func TestAgentThatCannotServeFails(t *testing.T) {
	e := setupNative(t)
	dir := t.TempDir()
	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	agents := v1.NewAgentServiceClient(d.conn)
	ctx := d.ctx()
	a := &v1.Agent{Metadata: &v1.ObjectMeta{Name: "broken"}, Spec: &v1.AgentSpec{
		Image: e.layout, Replicas: 1, Command: []string{"/bin/sh", "-c", "echo no server here; exit 4"},
	}}
	if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: a}); err != nil {
		t.Fatal(err)
	}
	var got *v1.Agent
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got, _ = agents.GetAgent(ctx, &v1.GetAgentRequest{Name: "broken"})
		if got.GetStatus().GetPhase() == "Failed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := got.GetStatus()
	if st.GetPhase() != "Failed" || len(st.GetConditions()) == 0 {
		t.Fatalf("status %v, want Failed with a condition", st)
	}
	c := st.GetConditions()[0]
	if c.GetReason() != "DeployFailed" || !strings.Contains(c.GetMessage(), "exited with code 4") || !strings.Contains(c.GetMessage(), "no server here") {
		t.Errorf("condition %v, want DeployFailed naming the exit and the log", c)
	}
}

// agentLogs reads a whole AgentLogs stream.
func agentLogs(t *testing.T, ctx context.Context, c v1.AgentServiceClient, req *v1.AgentLogsRequest) string {
	t.Helper()
	stream, err := c.AgentLogs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatalf("agent logs %v: %v", req, err)
		}
		b.Write(resp.GetData())
	}
}
