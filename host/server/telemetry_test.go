package server_test

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
	"github.com/stratoswarm/stratoswarm/internal/testbin"
)

// findSeries returns the series of source and metric in resp, or nil.
func findSeries(resp *v1.GetTelemetryResponse, source, metric string) *v1.TelemetrySeries {
	for _, s := range resp.GetSeries() {
		if s.GetSource() == source && s.GetMetric() == metric {
			return s
		}
	}
	return nil
}

// TestTelemetryPush: pushes are validated whole (unknown agent, bad
// version, NaN, ±Inf, too many points, bad names, a clock far ahead),
// good ones appear in GetTelemetry, a series whose samples stopped is
// stale, and a spike after the detector's warm-up raises an event.
func TestTelemetryPush(t *testing.T) {
	d := start(t, t.TempDir())
	ctx := d.ctx()
	agents := v1.NewAgentServiceClient(d.conn)
	tel := v1.NewTelemetryServiceClient(d.conn)
	if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{
		Metadata: &v1.ObjectMeta{Name: "pusher"}, Spec: &v1.AgentSpec{Command: []string{"/bin/true"}}}}); err != nil {
		t.Fatal(err)
	}
	push := func(version string, points ...*v1.MetricPoint) (*v1.PushMetricsResponse, error) {
		return tel.PushMetrics(ctx, &v1.PushMetricsRequest{Agent: "pusher", Version: version, Points: points})
	}
	pt := func(metric string, v float64) *v1.MetricPoint { return &v1.MetricPoint{Metric: metric, Value: v} }
	at := func(p *v1.MetricPoint, tm time.Time) *v1.MetricPoint { p.Time = timestamppb.New(tm); return p }

	// Refused, with what was wrong and what to do.
	_, err := tel.PushMetrics(ctx, &v1.PushMetricsRequest{Agent: "nobody", Version: "v1", Points: []*v1.MetricPoint{pt("x", 1)}})
	wantCode(t, err, codes.NotFound, `agent "nobody" is not registered: check the name (swarmctl agent ls)`)
	_, err = tel.PushMetrics(ctx, &v1.PushMetricsRequest{Agent: "Bad_Name", Version: "v1"})
	wantField(t, err, "agent")
	_, err = push("V 1", pt("x", 1))
	wantField(t, err, "version")
	_, err = push("v1")
	wantCode(t, err, codes.InvalidArgument, "pushed no samples")
	_, err = push("v1", pt("ok", 1), pt("queue", math.NaN()))
	wantCode(t, err, codes.InvalidArgument, `entry 1 (metric "queue"): value NaN is not finite`)
	wantField(t, err, "points")
	_, err = push("v1", pt("queue", math.Inf(1)), pt("queue", math.Inf(-1)))
	wantCode(t, err, codes.InvalidArgument, "2 of 2 samples from pusher@v1 are invalid; nothing was recorded")
	many := make([]*v1.MetricPoint, 1001)
	for i := range many {
		many[i] = pt("x", 1)
	}
	_, err = push("v1", many...)
	wantCode(t, err, codes.InvalidArgument, "pushed 1001 samples, more than the 1000 a push may hold; split the batch")
	_, err = push("v1", pt("http requests", 1))
	wantCode(t, err, codes.InvalidArgument, `metric name "http requests" must match [a-zA-Z_:][a-zA-Z0-9_:]*`)
	_, err = push("v1", &v1.MetricPoint{Metric: "x", Value: 1, Labels: map[string]string{"__name": "y"}})
	wantCode(t, err, codes.InvalidArgument, `label name "__name" starts with __`)
	_, err = push("v1", at(pt("x", 1), time.Now().Add(time.Hour)))
	wantCode(t, err, codes.InvalidArgument, "ahead of the server's clock, more than the 30s allowed; check the agent's clock")
	_, err = push("v1", &v1.MetricPoint{Metric: "x", Value: 1, Time: &timestamppb.Timestamp{Nanos: -1}})
	wantField(t, err, "points[0].time")

	// Accepted, and read back. A sample older than its series' newest is
	// counted as rejected, the rest recorded.
	now := time.Now()
	resp, err := push("v1", at(pt("queue_depth", 3), now.Add(-2*time.Second)), at(pt("queue_depth", 5), now.Add(-time.Second)),
		&v1.MetricPoint{Metric: "queue_depth", Value: 7, Labels: map[string]string{"shard": "a"}})
	if err != nil || resp.GetAccepted() != 3 || resp.GetRejected() != 0 {
		t.Fatalf("good push: %v %v", resp, err)
	}
	resp, err = push("v1", at(pt("queue_depth", 1), now.Add(-time.Minute)), pt("queue_depth", 6))
	if err != nil || resp.GetAccepted() != 1 || resp.GetRejected() != 1 || len(resp.GetRejections()) != 1 || !strings.Contains(resp.GetRejections()[0], "older than the newest of its series") {
		t.Fatalf("an out-of-order sample: %v %v", resp, err)
	}
	got, err := tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: "pusher", Metric: "queue_depth"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetSeries()) != 2 || got.GetWindow().AsDuration() != time.Minute || got.GetStaleAfter().AsDuration() != 15*time.Second {
		t.Fatalf("GetTelemetry: %v", got)
	}
	s := got.GetSeries()[0] // no labels sorts first
	if s.GetSource() != "agent" || s.GetVersion() != "v1" || s.GetCount() != 3 || s.GetMean() != (3+5+6)/3.0 || s.GetMax() != 6 || s.GetP50() != 5 ||
		s.GetLastValue() != 6 || s.GetStale() || len(s.GetLabels()) != 0 {
		t.Errorf("series %v", s)
	}
	if l := got.GetSeries()[1]; l.GetLabels()["shard"] != "a" || l.GetCount() != 1 || l.GetLastValue() != 7 {
		t.Errorf("labelled series %v", l)
	}
	if len(got.GetTargets()) != 0 {
		t.Errorf("targets of an agent without replicas: %v", got.GetTargets())
	}

	// A series that stopped 40 s ago is stale, outside a 30 s window
	// too; a longer stale_after accepts it.
	if _, err := push("v2", at(pt("heartbeat", 1), now.Add(-40*time.Second))); err != nil {
		t.Fatal(err)
	}
	got, err = tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: "pusher", Version: "v2", Window: durationpb.New(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetSeries()) != 1 || !got.GetSeries()[0].GetStale() || got.GetSeries()[0].GetCount() != 0 || got.GetSeries()[0].GetLastValue() != 1 {
		t.Fatalf("a series that stopped: %v", got)
	}
	got, err = tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: "pusher", Version: "v2", StaleAfter: durationpb.New(time.Hour)})
	if err != nil || len(got.GetSeries()) != 1 || got.GetSeries()[0].GetStale() || got.GetSeries()[0].GetCount() != 1 {
		t.Fatalf("with stale_after 1h: %v %v", got, err)
	}
	_, err = tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: "nobody"})
	wantCode(t, err, codes.NotFound, "not registered")
	_, err = tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: "pusher", Window: durationpb.New(time.Hour)})
	wantCode(t, err, codes.InvalidArgument, "at most 15m0s, what swarmd keeps in memory")
	_, err = tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: "pusher", Source: "disk"})
	wantField(t, err, "source")

	// 40 samples a second apart (past the warm-up of 30, above the
	// traffic floor of 5 a minute), then a spike: one event.
	var steady []*v1.MetricPoint
	for i := range 40 {
		steady = append(steady, at(pt("latency_seconds", 0.100+0.002*float64(i%2)), now.Add(time.Duration(i-41)*time.Second)))
	}
	if _, err := push("v1", steady...); err != nil {
		t.Fatal(err)
	}
	events, err := tel.ListTelemetryEvents(ctx, &v1.ListTelemetryEventsRequest{Agent: "pusher"})
	if err != nil || len(events.GetEvents()) != 0 {
		t.Fatalf("events of steady samples: %v %v", events, err)
	}
	if _, err := push("v1", pt("latency_seconds", 2.5)); err != nil {
		t.Fatal(err)
	}
	events, err = tel.ListTelemetryEvents(ctx, &v1.ListTelemetryEventsRequest{Agent: "pusher"})
	if err != nil || len(events.GetEvents()) != 1 {
		t.Fatalf("events after a spike: %v %v", events, err)
	}
	ev := events.GetEvents()[0]
	if ev.GetMetric() != "latency_seconds" || ev.GetKind() != "spike" || ev.GetValue() != 2.5 || ev.GetZ() < 3 || ev.GetVersion() != "v1" || ev.GetSource() != "agent" {
		t.Errorf("event %v", ev)
	}
	if other, err := tel.ListTelemetryEvents(ctx, &v1.ListTelemetryEventsRequest{Agent: "someone-else"}); err != nil || len(other.GetEvents()) != 0 {
		t.Errorf("another agent's events: %v %v", other, err)
	}
	_, err = tel.ListTelemetryEvents(ctx, &v1.ListTelemetryEventsRequest{Limit: 5000})
	wantCode(t, err, codes.InvalidArgument, "more than the 1024 events swarmd keeps")

	// The same over REST.
	code, body := d.rest("POST", "/v1alpha1/agents/pusher/metrics:push", d.srv.Token(), `{"version":"v3","points":[{"metric":"rest_metric","value":4,"labels":{"via":"rest"}}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"accepted":1`) {
		t.Errorf("REST push: %d %s", code, body)
	}
	code, body = d.rest("POST", "/v1alpha1/agents/pusher/metrics:push", d.srv.Token(), `{"version":"v3","points":[{"metric":"rest metric","value":4}]}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "must match") {
		t.Errorf("REST push of a bad name: %d %s", code, body)
	}
	code, body = d.rest("GET", "/v1alpha1/agents/pusher/telemetry?version=v3&window=120s", d.srv.Token(), "")
	if code != http.StatusOK || !strings.Contains(body, `"metric":"rest_metric"`) || !strings.Contains(body, `"window":"120s"`) {
		t.Errorf("REST get: %d %s", code, body)
	}
	code, body = d.rest("GET", "/v1alpha1/telemetry/events?agent=pusher", d.srv.Token(), "")
	if code != http.StatusOK || !strings.Contains(body, `"kind":"spike"`) {
		t.Errorf("REST events: %d %s", code, body)
	}
	if code, _ := d.rest("GET", "/v1alpha1/telemetry/events", "", ""); code != http.StatusUnauthorized {
		t.Errorf("REST events without a token: %d", code)
	}
}

// TestTelemetryScrapesReplicas: swarmd reads a deployed agent's replica
// every scrape interval: its /metrics (the example agent's counters as
// rates), its container's usage and the mesh's view of its traffic. When
// the replica is killed its target says so, up drops to 0 and its agent
// series go stale.
func TestTelemetryScrapesReplicas(t *testing.T) {
	e := setupNative(t)
	solver := filepath.Join(t.TempDir(), "tspsolver")
	if err := testbin.Build(solver, "./benchmarks/agents/tspsolver"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := nativeConfig(dir, e)
	cfg.TelemetryScrapeInterval = config.Duration(200 * time.Millisecond)
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	agents := v1.NewAgentServiceClient(d.conn)
	tel := v1.NewTelemetryServiceClient(d.conn)
	ctx := d.ctx()
	const name = "telscrape" // the cgroups of all native runtimes on a host share a parent
	a := &v1.Agent{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.AgentSpec{
		Image: "scratch", Replicas: 1,
		Command:   []string{"/opt/stratoswarm/tspsolver", "serve"},
		Mounts:    []*v1.Mount{{Source: solver, Target: "/opt/stratoswarm/tspsolver", ReadOnly: true}},
		Resources: &v1.ResourceList{MemoryBytes: 256 << 20},
	}}
	if _, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: a}); err != nil {
		t.Fatal(err)
	}
	var addr string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, err := agents.GetAgent(ctx, &v1.GetAgentRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if st := got.GetStatus(); st.GetPhase() == "Running" {
			addr = st.GetAddress()
			break
		} else if st.GetPhase() == "Failed" {
			t.Fatalf("agent failed: %v", st)
		}
	}
	if addr == "" {
		t.Fatal("the agent never ran")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	solve := func(i int) {
		resp, err := client.Post(fmt.Sprintf("http://%s/solve?instance=eil51&seed=%d", addr, i), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get := func(staleAfter time.Duration) *v1.GetTelemetryResponse {
		t.Helper()
		resp, err := tel.GetTelemetry(ctx, &v1.GetTelemetryRequest{Agent: name, StaleAfter: durationpb.New(staleAfter)})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var resp *v1.GetTelemetryResponse
	ready := func() bool {
		agentRate := findSeries(resp, "agent", "tspsolver_request_seconds_count")
		meshRate := findSeries(resp, "mesh", "requests_per_second")
		mem := findSeries(resp, "container", "memory_bytes")
		up := findSeries(resp, "container", "up")
		cpu := findSeries(resp, "container", "cpu_cores")
		return agentRate != nil && agentRate.GetMax() > 0 && meshRate != nil && meshRate.GetMax() > 0 &&
			mem != nil && mem.GetLastValue() > 0 && up != nil && up.GetLastValue() == 1 && cpu != nil &&
			findSeries(resp, "mesh", "connection_seconds_mean") != nil
	}
	for i, deadline := 0, time.Now().Add(30*time.Second); ; i++ {
		solve(i)
		resp = get(5 * time.Second)
		if ready() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the series are still incomplete: %v", resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if up := findSeries(resp, "container", "up"); up.GetLabels()["replica"] != "0" || up.GetVersion() != "v1" {
		t.Errorf("container series %v, want label replica=0 of v1", up)
	}
	for _, s := range resp.GetSeries() {
		if s.GetStale() {
			t.Errorf("a live series is stale: %v", s)
		}
	}
	if tg := resp.GetTargets(); len(tg) != 1 || tg[0].GetState() != "Running" || tg[0].GetLastSuccessTime() == nil || tg[0].GetLastError() != "" || tg[0].GetVersion() != "v1" {
		t.Fatalf("targets %v", tg)
	}

	// Kill the replica's processes: no more data is not a pass.
	killContainer(t, name+"-v1-0")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp = get(time.Second)
		up := findSeries(resp, "container", "up")
		agentRate := findSeries(resp, "agent", "tspsolver_request_seconds_count")
		tg := resp.GetTargets()
		if up.GetLastValue() == 0 && agentRate.GetStale() && len(tg) == 1 && tg[0].GetState() == "Exited" {
			if !strings.Contains(tg[0].GetLastError(), "exited with code 137") || !strings.Contains(tg[0].GetLastError(), "swarmctl agent logs telscrape --version v1 --replica 0") {
				t.Errorf("the killed replica's target says %q", tg[0].GetLastError())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the replica was killed: %v", resp)
		}
	}
	// The deployer restarts it (after 1 s): up again, one restart.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp = get(time.Second)
		up, restarts := findSeries(resp, "container", "up"), findSeries(resp, "container", "restarts")
		tg := resp.GetTargets()
		if up.GetLastValue() == 1 && restarts.GetLastValue() == 1 && restarts.GetLabels()["replica"] == "0" && len(tg) == 1 && tg[0].GetState() == "Running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the replica was killed it is not back with one restart: %v", resp)
		}
	}
}

// killContainer SIGKILLs every process of a native container, found by
// its cgroup (v1 or v2) under the default parent.
func killContainer(t *testing.T, id string) {
	t.Helper()
	// swarmd's containers' groups are under stratoswarm/<data-dir hash>.
	var found []string
	for _, h := range []string{"memory", "pids", ""} {
		m, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", h, "stratoswarm", "*", id, "cgroup.procs"))
		found = append(found, m...)
	}
	for _, procs := range found {
		b, err := os.ReadFile(procs)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return
	}
	t.Fatalf("no cgroup of container %s found", id)
}
