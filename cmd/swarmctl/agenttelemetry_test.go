package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// TestAgentTelemetryCommands: push-metrics records samples (and refuses
// bad ones with the server's reason), top shows them with a STALE status
// for a series that stopped, and events lists the spike that followed a
// steady series, against a real swarmd.
func TestAgentTelemetryCommands(t *testing.T) {
	e := newEnv(t)
	srv := startDaemon(t, e.dataDir)
	e.vars["SWARM_SERVER"] = srv.GRPCAddr()
	e.vars["SWARM_TOKEN"] = srv.Token()
	e.ok("agent", "create", "-f", e.writeFile("pusher.yaml", "metadata: {name: pusher}\nspec: {command: [/bin/true]}\n"))

	if out := e.ok("agent", "push-metrics", "pusher", "v1", "queue_depth=3", "latency_seconds=0.25", "--label", "shard=a"); out != "agent/pusher@v1: 2 of 2 samples recorded\n" {
		t.Errorf("push-metrics: %q", out)
	}
	old := time.Now().Add(-40 * time.Second).UTC().Format(time.RFC3339)
	e.ok("agent", "push-metrics", "pusher", "v1", "heartbeat=1", "--time", old)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pusher", "v1", "queue_depth"}, `"queue_depth" is not METRIC=VALUE (e.g. queue_depth=12)`},
		{[]string{"pusher", "v1", "queue_depth=many"}, `"queue_depth=many": "many" is not a number`},
		{[]string{"pusher", "v1"}, "needs NAME, VERSION and at least one METRIC=VALUE"},
		{[]string{"pusher", "v1", "x=1", "--label", "nolabel"}, `--label "nolabel": want NAME=VALUE`},
		{[]string{"pusher", "v1", "x=1", "--time", "yesterday"}, "want an RFC 3339 time"},
		{[]string{"pusher", "v1", "queue_depth=NaN"}, `Error: agent "pusher": INVALID_ARGUMENT: invalid points: push refused: 1 of 1 samples from pusher@v1 are invalid; nothing was recorded: entry 0 (metric "queue_depth"): value NaN is not finite`},
		{[]string{"pusher", "v1", "http requests=1"}, `must match [a-zA-Z_:][a-zA-Z0-9_:]*`},
		{[]string{"nobody", "v1", "x=1"}, `Error: agent "nobody": NOT_FOUND: agent "nobody" is not registered`},
	} {
		if msg := e.fail(append([]string{"agent", "push-metrics"}, c.args...)...); !strings.Contains(msg, c.want) {
			t.Errorf("push-metrics %v: %q, want %q", c.args, msg, c.want)
		}
	}
	// An older sample than its series holds: recorded partly, and a failure.
	r := e.run("agent", "push-metrics", "pusher", "v1", "queue_depth=4", "--label", "shard=a", "--time", old)
	if r.code != 1 || !strings.Contains(r.out, "0 of 1 samples recorded") || !strings.Contains(r.err, "1 of 1 samples were not recorded: ") || !strings.Contains(r.err, "older than the newest of its series") {
		t.Errorf("an out-of-order push: %+v", r)
	}

	r = e.run("agent", "top", "pusher", "--stale-after", "20s")
	if r.code != 0 {
		t.Fatalf("top: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "VERSION") || !strings.Contains(lines[0], "STATUS") {
		t.Fatalf("top output:\n%s", r.out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		rows[f[2]] = f
	}
	if f := rows["latency_seconds"]; len(f) != 11 || f[0] != "v1" || f[1] != "agent" || f[3] != "shard=a" || f[4] != "1" || f[5] != "250ms" || f[10] != "ok" {
		t.Errorf("latency row %q", f)
	}
	if f := rows["heartbeat"]; len(f) != 11 || f[3] != "<none>" || f[10] != "STALE" {
		t.Errorf("heartbeat row %q", f)
	}
	if !strings.Contains(r.err, "warning: 1 of 3 series are stale: no sample in the last 20s") {
		t.Errorf("top's warning: %q", r.err)
	}
	var resp struct {
		Agent  string `json:"agent"`
		Series []struct {
			Metric string  `json:"metric"`
			Mean   float64 `json:"mean"`
			Stale  bool    `json:"stale"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(e.ok("agent", "top", "pusher", "--metric", "queue_depth", "-o", "json")), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Agent != "pusher" || len(resp.Series) != 1 || resp.Series[0].Metric != "queue_depth" || resp.Series[0].Mean != 3 {
		t.Errorf("top -o json: %+v", resp)
	}
	if r := e.run("agent", "top", "pusher", "--version", "v9"); r.code != 0 || r.out != "" || !strings.Contains(r.err, "No telemetry for agent pusher in the last 1m0s") {
		t.Errorf("top of a version without telemetry: %+v", r)
	}
	if msg := e.fail("agent", "top", "pusher", "--window", "1h"); !strings.Contains(msg, "at most 15m0s") {
		t.Errorf("top --window 1h: %s", msg)
	}
	if msg := e.fail("agent", "top", "nobody"); !strings.Contains(msg, "NOT_FOUND") {
		t.Errorf("top of an unknown agent: %s", msg)
	}

	// Events: none yet, then a spike after 40 steady samples.
	if r := e.run("agent", "events"); r.code != 0 || r.out != "" || r.err != "No telemetry events.\n" {
		t.Errorf("events before any: %+v", r)
	}
	steady := []string{"agent", "push-metrics", "pusher", "v1"}
	for i := range 40 {
		steady = append(steady, []string{"work_seconds=0.100", "work_seconds=0.102"}[i%2])
	}
	e.ok(steady...)
	e.ok("agent", "push-metrics", "pusher", "v1", "work_seconds=2.5")
	out := e.ok("agent", "events", "pusher")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "AGE") {
		t.Fatalf("events:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 10 || f[1] != "pusher" || f[2] != "v1" || f[3] != "agent" || f[4] != "work_seconds" || f[6] != "spike" || f[7] != "2.5s" {
		t.Errorf("event row %q", f)
	}
	var list struct {
		Items []struct {
			Kind string  `json:"kind"`
			Z    float64 `json:"z"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("agent", "events", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Kind != "spike" || list.Items[0].Z < 3 {
		t.Errorf("events -o json: %+v", list)
	}
	if msg := e.fail("agent", "events", "a", "b"); !strings.Contains(msg, "takes at most one NAME") {
		t.Errorf("events a b: %s", msg)
	}
}

func TestMetricValue(t *testing.T) {
	for _, c := range []struct {
		metric string
		v      float64
		want   string
	}{
		{"memory_bytes", 2 << 20, "2MiB"},
		{"connection_seconds_mean", 0.001533, "1.53ms"},
		{"latency_seconds", 12.5, "12.5s"},
		{"latency_seconds", 0.0000042, "4.2µs"},
		{"tspsolver_request_seconds_count", 10.13, "10.13"},
		{"requests_per_second", 1234567, "1.235e+06"},
		{"up", 1, "1"},
	} {
		if got := metricValue(c.metric, c.v); got != c.want {
			t.Errorf("metricValue(%s, %v) = %q, want %q", c.metric, c.v, got, c.want)
		}
	}
}

// TestPrintTopTargets: the replicas follow the series, with their state,
// when they were last read and why the read failed.
func TestPrintTopTargets(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	resp := &v1.GetTelemetryResponse{
		Agent: "solver", Time: timestamppb.New(now), Window: durationpb.New(time.Minute), StaleAfter: durationpb.New(15 * time.Second),
		Series: []*v1.TelemetrySeries{{Version: "v1", Source: "container", Metric: "memory_bytes", Labels: map[string]string{"replica": "0"},
			Count: 12, Mean: 2 << 20, P50: 2 << 20, P99: 3 << 20, LastValue: 2 << 20, LastSampleTime: timestamppb.New(now.Add(-30 * time.Second)), Stale: true}},
		Targets: []*v1.TelemetryTarget{{Version: "v1", Replica: 0, State: "Exited", LastScrapeTime: timestamppb.New(now.Add(-2 * time.Second)),
			LastSuccessTime: timestamppb.New(now.Add(-30 * time.Second)), LastError: "replica solver-v1-0 exited with code 137"}},
	}
	var out, errOut strings.Builder
	if err := printTop(&out, &errOut, resp); err != nil {
		t.Fatal(err)
	}
	want := `VERSION   SOURCE      METRIC         LABELS      N    MEAN   P50    P99    LAST   AGE   STATUS
v1        container   memory_bytes   replica=0   12   2MiB   2MiB   3MiB   2MiB   30s   STALE

REPLICA   STATE    LAST READ   LAST SUCCESS   ERROR
v1/0      Exited   2s ago      30s ago        replica solver-v1-0 exited with code 137
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if errOut.String() != "warning: 1 of 1 series are stale: no sample in the last 15s; their telemetry stopped arriving (see the replicas' errors)\n" {
		t.Errorf("warning %q", errOut.String())
	}
}
