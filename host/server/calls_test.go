package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/server"
	"github.com/stratoswarm/stratoswarm/host/trust"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
)

// TestAgentCallsBecomeTrustEvidence: an agent whose replica calls another
// agent through /run/mesh/solver.sock (tspsolver load, in the busybox
// image) is identified by the mesh; swarmd records the calls in the called
// version's trust log (flushed at shutdown), and eigentrust over that call
// graph ranks the called version above one nobody called.
func TestAgentCallsBecomeTrustEvidence(t *testing.T) {
	e := setupNative(t)
	bin := t.TempDir()
	solver := filepath.Join(bin, "tspsolver")
	if err := testbin.Build(solver, "./benchmarks/agents/tspsolver"); err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(bin, "eigentrust.wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", wasm, "./plugins/trust/eigentrust")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the eigentrust plugin: %v\n%s", err, out)
	}
	dir := t.TempDir()
	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	agents := v1.NewAgentServiceClient(d.conn)
	ctx := d.ctx()
	genome, err := structpb.NewStruct(map[string]any{"max_iterations": 10})
	if err != nil {
		t.Fatal(err)
	}
	mount := []*v1.Mount{{Source: solver, Target: "/opt/stratoswarm/tspsolver", ReadOnly: true}}
	create := func(a *v1.Agent) {
		t.Helper()
		if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: a}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			got, err := agents.GetAgent(ctx, &v1.GetAgentRequest{Name: a.GetMetadata().GetName()})
			if err != nil {
				t.Fatal(err)
			}
			switch got.GetStatus().GetPhase() {
			case "Running":
				return
			case "Failed":
				t.Fatalf("agent %s failed: %v", a.GetMetadata().GetName(), got.GetStatus())
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("agent %s is not running after 60 s", a.GetMetadata().GetName())
	}
	create(&v1.Agent{Metadata: &v1.ObjectMeta{Name: "solver"}, Spec: &v1.AgentSpec{
		Role: "solver", Image: "scratch", Replicas: 1, Genome: genome, Mounts: mount,
		Command:   []string{"/opt/stratoswarm/tspsolver", "serve"},
		Resources: &v1.ResourceList{MemoryBytes: 256 << 20},
	}})
	// The caller serves too (a replica must), and sends solve requests,
	// a connection each, to the solver through its mesh socket.
	create(&v1.Agent{Metadata: &v1.ObjectMeta{Name: "client"}, Spec: &v1.AgentSpec{
		Role: "client", Image: e.layout, Replicas: 1, Mounts: mount,
		Command: []string{"/bin/sh", "-c", "/opt/stratoswarm/tspsolver load --target unix:$SWARM_MESH_DIR/solver.sock --concurrency 1 --instances eil51 & " +
			"exec /opt/stratoswarm/tspsolver serve"},
		Resources: &v1.ResourceList{MemoryBytes: 256 << 20},
	}})
	time.Sleep(2 * time.Second) // calls, fewer than callRecordInterval: the shutdown records them
	d.stop()

	l, err := trust.OpenLog(trust.LogOptions{Dir: filepath.Join(dir, "trust")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bg := context.Background()
	solverV1 := trust.Subject{Kind: trust.SubjectAgent, Name: "solver", Version: "v1"}
	calls, err := l.Calls(bg)
	if err != nil {
		t.Fatal(err)
	}
	var satisfied, failed float64
	for _, c := range calls {
		dt, err := trust.ParseCallDetail(c.Detail)
		if err != nil || dt.From != "agent/client@v1" || dt.To != solverV1.String() || c.Source != server.SourceMesh {
			t.Fatalf("call record %+v (%v): want client@v1 → solver@v1 from the mesh", c, err)
		}
		if c.Positive {
			satisfied += c.Weight
		} else {
			failed += c.Weight
		}
	}
	if satisfied < 5 || failed > satisfied/10 {
		t.Fatalf("call records %+v: want at least 5 satisfied calls in 2 s, few failed", calls)
	}
	own, err := l.List(bg, solverV1, 0)
	if err != nil || len(own) != len(calls) {
		t.Fatalf("the solver's own log holds %d records (%v), want the %d call records", len(own), err, len(calls))
	}
	t.Logf("client@v1 → solver@v1: %.0f satisfied, %.0f failed", satisfied, failed)

	h, err := plugin.NewHost(bg, plugin.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(bg)
	module, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Load(bg, module, plugin.Config{ID: "eigentrust@1.0.0", Kind: plugin.KindTrust})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"preTrusted": []string{"agent/client@v1"}})
	scorer, err := trust.NewPluginScorer(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := trust.NewService(trust.ServiceOptions{Log: l, Scorer: scorer, CallGraph: true})
	if err != nil {
		t.Fatal(err)
	}
	idle := trust.Subject{Kind: trust.SubjectAgent, Name: "idle", Version: "v1"}
	now := time.Now()
	ranked, err := svc.Rank(bg, []trust.Subject{idle, solverV1}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranked) != 2 || ranked[0].Subject != solverV1 || ranked[0].Stale || ranked[0].LowerBound <= trust.Prior().LowerBound {
		t.Fatalf("eigentrust's ranking %+v: want solver@v1 first, above the prior", ranked)
	}
	t.Logf("eigentrust: solver@v1 %+v", ranked[0].TrustScore)
}
