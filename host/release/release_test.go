package release

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
	"github.com/stratoswarm/stratoswarm/runtime/native"
)

// bins are swarm-init and a static tspsolver, built once.
var bins struct{ init, solver string }

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "host/release tests run agents in real containers and need root")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "release-test")
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
		os.Remove(filepath.Join("/sys/fs/cgroup", sub, "stratoswarm-release-test"))
	}
	os.Exit(code)
}

// world is a live agent (v1, two replicas) behind its mesh service, with
// traffic flowing.
type world struct {
	d       *deploy.Deployer
	hub     *telemetry.Hub
	rt      *native.Runtime
	address string
	served  map[int]int // by HTTP status
	mu      sync.Mutex
}

func solverVersion(version string, maxIterations int) deploy.Version {
	return deploy.Version{
		Agent: "tspsolver", Version: version, Replicas: 1, Image: native.Scratch,
		Command: []string{"/opt/stratoswarm/tspsolver", "serve"},
		Mounts:  []container.Mount{{Source: bins.solver, Target: "/opt/stratoswarm/tspsolver", ReadOnly: true}},
		Limits:  container.Limits{MemoryBytes: 256 << 20, Pids: 64},
		Genome:  fmt.Appendf(nil, `{"max_iterations": %d, "time_budget_ms": 0}`, maxIterations),
	}
}

func newWorld(t *testing.T) *world {
	t.Helper()
	rt, err := native.New(native.Options{StateDir: t.TempDir(), InitPath: bins.init, CgroupParent: "stratoswarm-release-test"})
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
	d, err := deploy.New(deploy.Options{Runtime: rt, Mesh: tab, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close) // before the runtime's Close: no restarts of what it stops
	hub, err := telemetry.NewHub(telemetry.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	live := solverVersion("v1", 30)
	live.Replicas = 2
	if _, err := d.Deploy(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := d.Route("tspsolver", "127.0.0.1:0", map[string]int{"v1": 100}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.WaitApplied(wctx, tab.Version()); err != nil {
		t.Fatal(err)
	}
	w := &world{d: d, hub: hub, rt: rt, address: p.Addr("tspsolver").String(), served: map[int]int{}}
	return w
}

// traffic sends solve requests from 3 clients until the test ends.
func (w *world) traffic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	instances := []string{"eil51", "berlin52", "st70"}
	for c := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 1))
			for ctx.Err() == nil {
				url := fmt.Sprintf("http://%s/solve?instance=%s&seed=%d", w.address, instances[rnd.IntN(len(instances))], rnd.IntN(1000))
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				w.mu.Lock()
				w.served[resp.StatusCode]++
				w.mu.Unlock()
			}
		}()
	}
}

func plan() canary.Plan {
	return canary.Plan{
		StepWeights: []int{20, 50},
		Interval:    2 * time.Second,
		MinSamples:  4,
		Pace:        canary.DefaultPace, // one passing analysis per step
		Judge: canary.Config{
			Metrics:    []canary.MetricConfig{{Name: "tspsolver_request_seconds_mean", Group: "latency", Direction: canary.DirectionIncrease}},
			Thresholds: canary.Thresholds{Pass: 95, Marginal: 75},
		},
	}
}

func release(t *testing.T, w *world, candidate deploy.Version) canary.Status {
	t.Helper()
	baseline := solverVersion("v1-baseline", 30)
	env, err := New(Options{Deployer: w.d, Hub: w.hub, Agent: "tspsolver", Address: "127.0.0.1:0", Live: "v1",
		Baseline: baseline, Canary: candidate, Metrics: []string{"tspsolver_request_seconds_mean"}, ScrapeEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := canary.NewRollout(plan())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := canary.Drive(ctx, r, env, canary.SystemClock{})
	if err != nil {
		t.Fatalf("drive: %v (status %+v)", err, st)
	}
	return st
}

// TestGoodCanaryIsPromoted: a canary like the live version, under live
// traffic, passes every step and takes all the traffic; the old version
// and the baseline are gone.
func TestGoodCanaryIsPromoted(t *testing.T) {
	w := newWorld(t)
	w.traffic(t)
	st := release(t, w, solverVersion("v2", 30))
	if st.Phase != canary.PhasePromoted {
		t.Fatalf("phase %s, want promoted; decisions: %+v", st.Phase, st.Decisions)
	}
	if vs := w.d.Versions("tspsolver"); strings.Join(vs, ",") != "v2" {
		t.Errorf("versions after promotion %v, want only v2", vs)
	}
}

// TestWorseCanaryIsRolledBack: a canary whose design is much slower is
// judged High on latency and rolled back; the live version keeps all the
// traffic and nothing of the canary is left.
func TestWorseCanaryIsRolledBack(t *testing.T) {
	w := newWorld(t)
	w.traffic(t)
	st := release(t, w, solverVersion("v2", 3000))
	if st.Phase != canary.PhaseRolledBack {
		t.Fatalf("phase %s, want rolled back; decisions: %+v", st.Phase, st.Decisions)
	}
	last := st.Decisions[len(st.Decisions)-1]
	found := false
	for _, m := range last.Result.Metrics {
		if m.Name == "tspsolver_request_seconds_mean" && m.Classification == canary.High {
			found = true
		}
	}
	if !found {
		t.Errorf("the rollback's metric table does not show latency High: %+v", last.Result)
	}
	if vs := w.d.Versions("tspsolver"); strings.Join(vs, ",") != "v1" {
		t.Errorf("versions after rollback %v, want only v1", vs)
	}
	cs, _ := w.rt.List(context.Background())
	if len(cs) != 2 {
		t.Errorf("containers after rollback: %d, want the live version's 2", len(cs))
	}
}
