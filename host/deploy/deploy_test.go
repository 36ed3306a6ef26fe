package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/internal/testbin"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
	"github.com/stratoswarm/stratoswarm/runtime/native"
)

// bins are swarm-init and a static tspsolver, built once for the tests.
var bins struct{ init, solver string }

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "host/deploy tests run agents in real containers and need root")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "deploy-test")
	if err != nil {
		panic(err)
	}
	if bins.init, bins.solver, err = testbin.Agents(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	for _, sub := range []string{"memory", "cpu", "pids"} {
		os.Remove(filepath.Join("/sys/fs/cgroup", sub, "stratoswarm-deploy-test"))
	}
	os.Exit(code)
}

// setup is a deployer on a native runtime and a proxy on its table.
func setup(t *testing.T) (*Deployer, *mesh.Proxy, *native.Runtime) {
	t.Helper()
	rt, err := native.New(native.Options{StateDir: t.TempDir(), InitPath: bins.init, CgroupParent: "stratoswarm-deploy-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	tab := mesh.NewTable()
	p, err := mesh.New(tab, mesh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	d, err := New(Options{Runtime: rt, Mesh: tab, Dir: t.TempDir(), ReadyTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close) // before the runtime's Close: no restarts of what it stops
	return d, p, rt
}

func solverVersion(version string, replicas int) Version {
	return Version{
		Agent: "tspsolver", Version: version, Replicas: replicas, Image: native.Scratch,
		Command: []string{"/opt/stratoswarm/tspsolver", "serve"},
		Mounts:  []container.Mount{{Source: bins.solver, Target: "/opt/stratoswarm/tspsolver", ReadOnly: true}},
		Limits:  container.Limits{MemoryBytes: 256 << 20, Pids: 64},
		Genome:  []byte(`{"max_iterations": 50}`),
	}
}

// TestVersionsServeThroughTheMesh: two versions of the example agent serve
// solve requests through one mesh service, split by the route's weights.
func TestVersionsServeThroughTheMesh(t *testing.T) {
	d, p, rt := setup(t)
	ctx := context.Background()
	if _, err := d.Deploy(ctx, solverVersion("v1", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deploy(ctx, solverVersion("v2", 1)); err != nil {
		t.Fatal(err)
	}
	if err := d.Route("tspsolver", "127.0.0.1:0", map[string]int{"v1": 80, "v2": 20}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.WaitApplied(wctx, d.mesh.Version()); err != nil {
		t.Fatal(err)
	}
	addr := p.Addr("tspsolver").String()
	// A connection per request: the mesh splits connections.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	const n = 200
	for i := range n {
		resp, err := client.Post(fmt.Sprintf("http://%s/solve?instance=eil51&seed=%d", addr, i), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			Instance string `json:"instance"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Instance != "eil51" {
			t.Fatalf("request %d: %s %s", i, resp.Status, b)
		}
	}
	perVersion := map[string]uint64{}
	for _, s := range p.Stats().Services {
		for _, b := range s.Backends {
			perVersion[b.Version] += b.Requests
		}
	}
	// v2's share is binomial(n, 0.2): within 4 standard deviations.
	mean, sd := float64(n)*0.2, math.Sqrt(float64(n)*0.2*0.8)
	if total := perVersion["v1"] + perVersion["v2"]; total != n || math.Abs(float64(perVersion["v2"])-mean) > 4*sd {
		t.Errorf("per version %v: want %d connections, about %.0f ± %.0f on v2", perVersion, n, mean, 4*sd)
	}
	// The canary's rollback: all traffic back to v1, then v2 goes.
	if err := d.Route("tspsolver", "127.0.0.1:0", map[string]int{"v1": 100}); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, "tspsolver", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := d.Route("tspsolver", "127.0.0.1:0", map[string]int{"v2": 1}); err == nil {
		t.Error("a route to a removed version was accepted")
	}
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := rt.List(ctx); len(cs) != 0 {
		t.Errorf("containers left after removing both versions: %+v", cs)
	}
}

// TestDeployFailuresSayWhyAndLeaveNothing: a command that exits, a command
// that never serves, bad names and a second deploy of a version.
func TestDeployFailuresSayWhyAndLeaveNothing(t *testing.T) {
	d, _, rt := setup(t)
	d.ready = 2 * time.Second
	ctx := context.Background()
	exits := solverVersion("v1", 2)
	exits.Command = []string{"/opt/stratoswarm/tspsolver", "serve", "--max-concurrent", "0"}
	_, err := d.Deploy(ctx, exits)
	if err == nil || !strings.Contains(err.Error(), "exited with code 2 before it was ready") || !strings.Contains(err.Error(), "usage: tspsolver serve") {
		t.Errorf("a command that exits: %v, want the exit and its log", err)
	}
	silent := solverVersion("v1", 1)
	silent.Command = []string{"/opt/stratoswarm/tspsolver", "serve", "--listen", "127.0.0.1:9"} // not $SWARM_LISTEN
	if _, err := d.Deploy(ctx, silent); err == nil || !strings.Contains(err.Error(), "not ready after") {
		t.Errorf("a command that does not serve on its socket: %v", err)
	}
	if cs, _ := rt.List(ctx); len(cs) != 0 {
		t.Errorf("containers left after failed deploys: %+v", cs)
	}
	for _, v := range []Version{{Agent: "Bad", Version: "v1", Replicas: 1, Image: "x", Command: []string{"x"}},
		{Agent: "a", Version: "v_1", Replicas: 1, Image: "x", Command: []string{"x"}},
		{Agent: "a", Version: "v1", Replicas: 0, Image: "x", Command: []string{"x"}}} {
		if _, err := d.Deploy(ctx, v); err == nil {
			t.Errorf("deploy %+v succeeded", v)
		}
	}
	if _, err := d.Deploy(ctx, solverVersion("v1", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deploy(ctx, solverVersion("v1", 1)); err == nil || !strings.Contains(err.Error(), "already deployed") {
		t.Errorf("a second deploy of v1: %v", err)
	}
	if err := d.Route("tspsolver", "127.0.0.1:0", map[string]int{"v9": 1}); err == nil || !strings.Contains(err.Error(), "not deployed") {
		t.Errorf("route to a version never deployed: %v", err)
	}
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
}

// TestReplicasReachTheMeshAndAreIdentified: with a MeshDir, a replica has
// the mesh's service sockets at /run/mesh (read-only), and Caller
// attributes its processes, by PID namespace, to its agent version; the
// host's processes and removed replicas are nobody.
func TestReplicasReachTheMeshAndAreIdentified(t *testing.T) {
	rt, err := native.New(native.Options{StateDir: t.TempDir(), InitPath: bins.init, CgroupParent: "stratoswarm-deploy-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	sockets, err := os.MkdirTemp("", "mesh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockets) })
	tab := mesh.NewTable()
	var d *Deployer
	p, err := mesh.New(tab, mesh.Options{SocketDir: sockets, Identify: func(pid int) (mesh.Caller, bool) {
		a, v, ok := d.Caller(pid)
		return mesh.Caller{Agent: a, Version: v}, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	if d, err = New(Options{Runtime: rt, Mesh: tab, Dir: t.TempDir(), MeshDir: sockets, ReadyTimeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx := context.Background()
	rs, err := d.Deploy(ctx, solverVersion("v1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Route("tspsolver", "127.0.0.1:0", map[string]int{"v1": 1}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.WaitApplied(wctx, tab.Version()); err != nil {
		t.Fatal(err)
	}
	st, err := rt.Status(ctx, rs[0].Container)
	if err != nil || st.Pid <= 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	if a, v, ok := d.Caller(st.Pid); !ok || a != "tspsolver" || v != "v1" {
		t.Errorf("Caller(replica's pid %d) = %q %q %v, want tspsolver v1", st.Pid, a, v, ok)
	}
	if _, _, ok := d.Caller(os.Getpid()); ok {
		t.Error("the host's process was taken for a replica")
	}
	// The socket, seen through the replica's root: mounted, and served.
	inside := fmt.Sprintf("/proc/%d/root%s/tspsolver.sock", st.Pid, MeshDir)
	client := socketClient(inside)
	resp, err := client.Post("http://mesh/solve?instance=eil51&seed=1", "text/plain", nil)
	if err != nil {
		t.Fatalf("solve through the replica's %s: %v", inside, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "eil51") {
		t.Fatalf("solve through /run/mesh: %s %s", resp.Status, b)
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.Pid))
	if err != nil || !strings.Contains(string(env), "SWARM_MESH_DIR=/run/mesh\x00") {
		t.Errorf("replica's environment lacks SWARM_MESH_DIR (%v): %q", err, env)
	}
	mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == MeshDir && !strings.HasPrefix(f[5], "ro") {
			t.Errorf("%s is mounted %s, want read-only", MeshDir, f[5])
		}
	}
	if !strings.Contains(string(mounts), " "+MeshDir+" ") {
		t.Errorf("%s is not mounted in the replica:\n%s", MeshDir, mounts)
	}
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := d.Caller(st.Pid); ok {
		t.Error("a removed replica is still identified")
	}
}
