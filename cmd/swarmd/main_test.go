package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// binary is swarmd built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swarmd-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "swarmd")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("build swarmd: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a swarmd child process.
type proc struct {
	cmd  *exec.Cmd
	grpc string
	logs chan string
	done chan error
}

// spawn starts swarmd on dir with ports chosen by the kernel and waits for
// its "swarmd started" log line.
func spawn(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	args = append([]string{"--data-dir", dir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs <- sc.Text()
		}
		close(p.logs)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.logs:
			if !ok {
				t.Fatalf("swarmd exited before it started: %v", <-p.done)
			}
			var rec struct {
				Msg  string `json:"msg"`
				GRPC string `json:"grpc"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "swarmd started" {
				p.grpc = rec.GRPC
				return p
			}
		case <-deadline:
			t.Fatal("swarmd did not start within 30s")
		}
	}
}

func (p *proc) client(t *testing.T, dir string) (v1.AgentServiceClient, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tok, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return v1.NewAgentServiceClient(conn), ctx
}

// wait returns the exit error and every remaining log line.
func (p *proc) wait(t *testing.T) (string, error) {
	t.Helper()
	var rest []string
	for line := range p.logs {
		rest = append(rest, line)
	}
	select {
	case err := <-p.done:
		return strings.Join(rest, "\n"), err
	case <-time.After(30 * time.Second):
		t.Fatal("swarmd did not exit")
	}
	return "", nil
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	p := spawn(t, dir)
	agents, ctx := p.client(t, dir)
	if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: "a"}, Spec: &v1.AgentSpec{Image: "img"}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs, err := p.wait(t)
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
	}
	if !strings.Contains(logs, "swarmd stopped") {
		t.Fatalf("no clean stop in the log:\n%s", logs)
	}
	// The lock is free: a new swarmd starts on the same dir.
	p2 := spawn(t, dir)
	p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.wait(t)
}

func TestKilledDaemonLosesNothing(t *testing.T) {
	dir := t.TempDir()
	p := spawn(t, dir)
	agents, ctx := p.client(t, dir)
	for _, name := range []string{"one", "two", "three"} {
		if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.AgentSpec{Image: "img"}}}); err != nil {
			t.Fatal(err)
		}
	}
	// A second daemon on the same dir refuses, naming the lock.
	out, err := exec.Command(binary, "--data-dir", dir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), filepath.Join(dir, "swarmd.lock")) {
		t.Fatalf("second swarmd: %v\n%s", err, out)
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)

	p2 := spawn(t, dir)
	agents, ctx = p2.client(t, dir)
	list, err := agents.ListAgents(ctx, &v1.ListAgentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetAgents()) != 3 {
		t.Fatalf("after kill -9: %d agents, want 3", len(list.GetAgents()))
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if logs, err := p2.wait(t); err != nil {
		t.Fatalf("second run exit: %v\n%s", err, logs)
	}
}

func TestBadConfigFileExitsNamingTheKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "swarmd.yaml")
	if err := os.WriteFile(cfg, []byte("data-dir: /tmp/x\nlisten: :80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown key "listen"`) {
		t.Fatalf("bad config: %v\n%s", err, out)
	}
}
