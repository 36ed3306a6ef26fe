package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
)

// sharedCache keeps compiled plugins across the tests' daemons, as one
// host's swarmds share ~/.cache/stratoswarm.
var sharedCache = filepath.Join(os.TempDir(), "stratoswarm-test-wasm-cache")

// daemon is a swarmd on real loopback TCP ports.
type daemon struct {
	t    *testing.T
	dir  string
	srv  *server.Server
	conn *grpc.ClientConn
}

func testConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.NodeName = "test-node"
	cfg.CacheDir = sharedCache
	return cfg
}

func start(t *testing.T, dir string) *daemon {
	t.Helper()
	srv, err := server.New(testConfig(dir), nil)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	return wrap(t, srv, dir)
}

// wrap starts srv and connects a client to it.
func wrap(t *testing.T, srv *server.Server, dir string) *daemon {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, srv: srv, conn: conn}
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) stop() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		d.t.Errorf("shutdown: %v", err)
	}
}

// ctx carries the daemon's token.
func (d *daemon) ctx() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+d.srv.Token())
}

func (d *daemon) rest(method, path, token, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, "http://"+d.srv.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wantCode(t *testing.T, err error, code codes.Code, contains string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || !strings.Contains(st.Message(), contains) {
		t.Fatalf("got %v: %q; want %v containing %q", st.Code(), st.Message(), code, contains)
	}
}

// wantField checks an INVALID_ARGUMENT names field in its BadRequest detail.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v %q, want InvalidArgument for %s", st.Code(), st.Message(), field)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("no field violation for %s in %v", field, st.Details())
}

func TestAuthOverGRPCAndREST(t *testing.T) {
	d := start(t, t.TempDir())
	cluster := v1.NewClusterServiceClient(d.conn)

	_, err := cluster.GetClusterStatus(context.Background(), &v1.GetClusterStatusRequest{})
	wantCode(t, err, codes.Unauthenticated, "missing bearer token")
	bad := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer nope")
	_, err = cluster.GetClusterStatus(bad, &v1.GetClusterStatusRequest{})
	wantCode(t, err, codes.Unauthenticated, "wrong bearer token")

	st, err := cluster.GetClusterStatus(d.ctx(), &v1.GetClusterStatusRequest{})
	if err != nil {
		t.Fatalf("authenticated call: %v", err)
	}
	if len(st.GetNodes()) != 1 || st.GetNodes()[0].GetName() != "test-node" || !st.GetNodes()[0].GetReady() {
		t.Fatalf("cluster status nodes: %v", st.GetNodes())
	}
	if st.GetStore().GetSchemaVersion() != 1 || st.GetVersion().GetApiVersion() != "stratoswarm.v1alpha1" {
		t.Fatalf("cluster status: %v", st)
	}

	// Health needs no token.
	h, err := healthpb.NewHealthClient(d.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", h, err)
	}

	if code, body := d.rest("GET", "/v1alpha1/cluster/status", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("REST without token: %d %s", code, body)
	}
	if code, _ := d.rest("GET", "/v1alpha1/cluster/status", "wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("REST with wrong token: %d", code)
	}
	code, body := d.rest("GET", "/v1alpha1/nodes/test-node", d.srv.Token(), "")
	if code != http.StatusOK || !strings.Contains(body, `"kernelVersion"`) {
		t.Fatalf("REST get node: %d %s", code, body)
	}
	if code, body := d.rest("GET", "/healthz", "", ""); code != http.StatusOK || !strings.Contains(body, "SERVING") {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, _ := d.rest("GET", "/metrics", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("metrics without token: %d", code)
	}
	code, body = d.rest("GET", "/metrics", d.srv.Token(), "")
	if code != http.StatusOK || !strings.Contains(body, `swarmd_grpc_requests_total{code="Unauthenticated",method="/stratoswarm.v1alpha1.ClusterService/GetClusterStatus"}`) {
		t.Fatalf("metrics: %d, want counted unauthenticated calls in:\n%.2000s", code, body)
	}
	fi, err := os.Stat(filepath.Join(d.dir, "token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", fi.Mode(), err)
	}
}

func TestCreateIsIdempotentAndStaleUpdatesAbort(t *testing.T) {
	d := start(t, t.TempDir())
	agents := v1.NewAgentServiceClient(d.conn)
	ctx := d.ctx()
	mk := func(image string) *v1.Agent {
		return &v1.Agent{Metadata: &v1.ObjectMeta{Name: "solver"}, Spec: &v1.AgentSpec{Image: image}}
	}
	a, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk("img:1"), RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetStatus().GetPhase() != "Registered" {
		t.Fatalf("phase %q", a.GetStatus().GetPhase())
	}
	b, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk("img:1")})
	if err != nil || b.GetMetadata().GetUid() != a.GetMetadata().GetUid() {
		t.Fatalf("repeat create: %v %v", b, err)
	}
	_, err = agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk("img:2")})
	wantCode(t, err, codes.AlreadyExists, "different spec")
	c, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk("img:2"), RequestId: "r1"})
	if err != nil || c.GetSpec().GetImage() != "img:1" {
		t.Fatalf("retry by request_id: %v %v", c, err)
	}

	a.Spec.Image = "img:3"
	if _, err := agents.UpdateAgent(ctx, &v1.UpdateAgentRequest{Agent: a}); err != nil {
		t.Fatal(err)
	}
	a.Spec.Image = "img:4"
	_, err = agents.UpdateAgent(ctx, &v1.UpdateAgentRequest{Agent: a})
	wantCode(t, err, codes.Aborted, "read it again")

	// REST maps the same: 409 for a stale update, and create works.
	code, body := d.rest("POST", "/v1alpha1/agents", d.srv.Token(), `{"agent":{"metadata":{"name":"web"},"spec":{"command":["/bin/true"]}}}`)
	if code != http.StatusOK || !strings.Contains(body, `"uid"`) {
		t.Fatalf("REST create: %d %s", code, body)
	}
	code, body = d.rest("PUT", "/v1alpha1/agents/solver", d.srv.Token(), `{"metadata":{"name":"solver","resourceVersion":"1"},"spec":{"image":"x"}}`)
	if code != http.StatusConflict {
		t.Fatalf("REST stale update: %d %s", code, body)
	}

	nodes := v1.NewNodeServiceClient(d.conn)
	n, err := nodes.GetNode(ctx, &v1.GetNodeRequest{Name: "test-node"})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = true
	n.Metadata.Labels = map[string]string{"zone": "a"}
	if _, err := nodes.UpdateNode(ctx, &v1.UpdateNodeRequest{Node: n}); err != nil {
		t.Fatalf("cordon: %v", err)
	}
	_, err = nodes.UpdateNode(ctx, &v1.UpdateNodeRequest{Node: n})
	wantCode(t, err, codes.Aborted, "stored one")
}

func TestMalformedRequestsNameTheField(t *testing.T) {
	d := start(t, t.TempDir())
	ctx := d.ctx()
	agents := v1.NewAgentServiceClient(d.conn)
	nodes := v1.NewNodeServiceClient(d.conn)

	_, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: "Bad_Name"}, Spec: &v1.AgentSpec{Image: "x"}}})
	wantField(t, err, "agent.metadata.name")
	_, err = agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: "ok"}}})
	wantField(t, err, "agent.spec")
	_, err = agents.CreateAgent(ctx, &v1.CreateAgentRequest{})
	wantField(t, err, "agent")
	_, err = agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: "ok"}, Spec: &v1.AgentSpec{Image: "x", Resources: &v1.ResourceList{MemoryBytes: -1}}}})
	wantField(t, err, "agent.spec.resources.memory_bytes")
	_, err = agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: "ok", Labels: map[string]string{"bad key": "v"}}, Spec: &v1.AgentSpec{Image: "x"}}})
	wantField(t, err, "agent.metadata.labels")
	_, err = agents.ListAgents(ctx, &v1.ListAgentsRequest{PageSize: -1})
	wantField(t, err, "page_size")
	_, err = agents.ListAgents(ctx, &v1.ListAgentsRequest{PageToken: "garbage"})
	wantField(t, err, "page_token")
	_, err = agents.ListAgents(ctx, &v1.ListAgentsRequest{LabelSelector: "a=b=c"})
	wantField(t, err, "label_selector")
	_, err = nodes.UpdateNode(ctx, &v1.UpdateNodeRequest{Node: &v1.Node{Metadata: &v1.ObjectMeta{Name: "test-node"}}})
	wantField(t, err, "node.metadata.resource_version")
	_, err = agents.GetAgent(ctx, &v1.GetAgentRequest{Name: "missing"})
	wantCode(t, err, codes.NotFound, `"missing"`)

	stream, err := agents.WatchAgents(ctx, &v1.WatchAgentsRequest{ResourceVersion: "banana"})
	if err == nil {
		_, err = stream.Recv()
	}
	wantField(t, err, "resource_version")

	// Over the size limit of the method.
	big := &v1.Agent{Metadata: &v1.ObjectMeta{Name: "big", Annotations: map[string]string{"blob": strings.Repeat("x", 2<<20)}}, Spec: &v1.AgentSpec{Image: "x"}}
	_, err = agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: big})
	wantCode(t, err, codes.ResourceExhausted, "limit of /stratoswarm.v1alpha1.AgentService/CreateAgent")

	// REST: unknown fields and wrong types are 400 with the field named.
	code, body := d.rest("POST", "/v1alpha1/agents", d.srv.Token(), `{"agent":{"metadata":{"name":"x"},"spec":{"imag":"x"}}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "imag") {
		t.Fatalf("REST unknown field: %d %s", code, body)
	}
	code, body = d.rest("POST", "/v1alpha1/agents", d.srv.Token(), `{"agent":{"metadata":{"name":"x"},"spec":{"replicas":"many"}}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "replicas") {
		t.Fatalf("REST wrong type: %d %s", code, body)
	}

	// The daemon still serves after all that.
	if _, err := v1.NewClusterServiceClient(d.conn).GetVersion(ctx, &v1.GetVersionRequest{}); err != nil {
		t.Fatalf("after bad input: %v", err)
	}
	// A service that is not built yet says so.
	_, err = v1.NewGPUServiceClient(d.conn).ListGPUs(ctx, &v1.ListGPUsRequest{})
	wantCode(t, err, codes.Unimplemented, "")
}

func TestWatchResumesFromVersionOverGRPCAndREST(t *testing.T) {
	d := start(t, t.TempDir())
	ctx, cancel := context.WithTimeout(d.ctx(), 20*time.Second)
	defer cancel()
	agents := v1.NewAgentServiceClient(d.conn)
	mk := func(name string) *v1.Agent {
		return &v1.Agent{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.AgentSpec{Image: "img"}}
	}
	first, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk("a")})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b", "c"} {
		if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk(n)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := agents.DeleteAgent(ctx, &v1.DeleteAgentRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	stream, err := agents.WatchAgents(ctx, &v1.WatchAgentsRequest{ResourceVersion: first.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.GetType().String()+" "+ev.GetAgent().GetMetadata().GetName())
	}
	if strings.Join(got, ",") != "ADDED b,ADDED c,DELETED a" {
		t.Fatalf("events after %s: %v", first.GetMetadata().GetResourceVersion(), got)
	}
	// A live change arrives on the open stream.
	if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk("d")}); err != nil {
		t.Fatal(err)
	}
	if ev, err := stream.Recv(); err != nil || ev.GetAgent().GetMetadata().GetName() != "d" {
		t.Fatalf("live event: %v %v", ev, err)
	}

	// REST streams newline-delimited JSON from the same version.
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+d.srv.HTTPAddr()+"/v1alpha1/watch/agents?resourceVersion="+first.GetMetadata().GetResourceVersion(), nil)
	req.Header.Set("Authorization", "Bearer "+d.srv.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var line struct {
		Result struct {
			Type  string    `json:"type"`
			Agent *struct{} `json:"agent"`
		} `json:"result"`
	}
	if !sc.Scan() {
		t.Fatalf("REST watch ended: %v", sc.Err())
	}
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Result.Type != "ADDED" {
		t.Fatalf("REST watch first line %s: %v", sc.Text(), err)
	}
}

func TestDataSurvivesRestartAndDataDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	d := start(t, dir)
	_, err := v1.NewAgentServiceClient(d.conn).CreateAgent(d.ctx(), &v1.CreateAgentRequest{Agent: &v1.Agent{Metadata: &v1.ObjectMeta{Name: "keep"}, Spec: &v1.AgentSpec{Image: "img"}}})
	if err != nil {
		t.Fatal(err)
	}
	token := d.srv.Token()

	_, err = server.New(testConfig(dir), nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "swarmd.lock")) || !strings.Contains(err.Error(), "held by process") {
		t.Fatalf("second swarmd on the same data dir: %v", err)
	}

	d.stop()
	d2 := start(t, dir)
	if d2.srv.Token() != token {
		t.Fatal("token changed across restart")
	}
	a, err := v1.NewAgentServiceClient(d2.conn).GetAgent(d2.ctx(), &v1.GetAgentRequest{Name: "keep"})
	if err != nil || a.GetSpec().GetImage() != "img" {
		t.Fatalf("after restart: %v %v", a, err)
	}
}

func TestBadDataDirsAreRefused(t *testing.T) {
	t.Run("corrupted store", func(t *testing.T) {
		dir := t.TempDir()
		d := start(t, dir)
		d.stop()
		manifest := filepath.Join(dir, "store", "MANIFEST")
		if err := os.WriteFile(manifest, []byte("this is not a badger manifest"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := server.New(testConfig(dir), nil)
		if err == nil || !strings.Contains(err.Error(), "corrupted") || !strings.Contains(err.Error(), "changed nothing") {
			t.Fatalf("corrupted store: %v", err)
		}
		if b, _ := os.ReadFile(manifest); string(b) != "this is not a badger manifest" {
			t.Fatal("the refused store was modified")
		}
		// The lock was released: a fixed store could start now.
		if err := os.RemoveAll(filepath.Join(dir, "store")); err != nil {
			t.Fatal(err)
		}
		start(t, dir)
	})
	t.Run("readable token", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "token"), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := server.New(testConfig(dir), nil)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("world-readable token: %v", err)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.LogLevel = "loud"
		_, err := server.New(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "log-level") {
			t.Fatalf("bad config: %v", err)
		}
	})
}

func TestGracefulShutdownEndsWatches(t *testing.T) {
	d := start(t, t.TempDir())
	stream, err := v1.NewNodeServiceClient(d.conn).WatchNodes(d.ctx(), &v1.WatchNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := stream.Recv(); err != nil || ev.GetType() != v1.EventType_ADDED {
		t.Fatalf("initial state: %v %v", ev, err)
	}
	if ev, err := stream.Recv(); err != nil || ev.GetType() != v1.EventType_BOOKMARK {
		t.Fatalf("bookmark: %v %v", ev, err)
	}
	done := make(chan error, 1)
	go func() { _, err := stream.Recv(); done <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-done, codes.Unavailable, "shutting down")
	// The data dir is free again.
	srv, err := server.New(testConfig(d.dir), nil)
	if err != nil {
		t.Fatalf("reopen after shutdown: %v", err)
	}
	srv.Shutdown(context.Background())
}
