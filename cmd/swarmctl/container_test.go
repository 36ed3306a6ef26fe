package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// fakeContainers is an in-memory ContainerService: a created container runs
// until its log was streamed, then ends with exit.
type fakeContainers struct {
	v1.UnimplementedContainerServiceServer

	mu         sync.Mutex
	containers map[string]*v1.Container
	created    []*v1.CreateContainerRequest
	deleted    []*v1.DeleteContainerRequest
	logReqs    []*v1.ContainerLogsRequest
	// logs are sent by ContainerLogs; then the container ends with exit.
	logs []*v1.ContainerLogsResponse
	exit *v1.ContainerStatus
}

func (f *fakeContainers) CreateContainer(_ context.Context, req *v1.CreateContainerRequest) (*v1.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	ct := proto.Clone(req.GetContainer()).(*v1.Container)
	ct.Status = &v1.ContainerStatus{Phase: "Running", Pid: 42}
	f.containers[ct.GetMetadata().GetName()] = ct
	return ct, nil
}

func (f *fakeContainers) GetContainer(_ context.Context, req *v1.GetContainerRequest) (*v1.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ct, ok := f.containers[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %q not found", req.GetName())
	}
	return ct, nil
}

func (f *fakeContainers) DeleteContainer(_ context.Context, req *v1.DeleteContainerRequest) (*v1.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, req)
	ct, ok := f.containers[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %q not found", req.GetName())
	}
	delete(f.containers, req.GetName())
	return ct, nil
}

func (f *fakeContainers) ContainerLogs(req *v1.ContainerLogsRequest, stream grpc.ServerStreamingServer[v1.ContainerLogsResponse]) error {
	f.mu.Lock()
	f.logReqs = append(f.logReqs, req)
	logs := f.logs
	f.mu.Unlock()
	for _, l := range logs {
		if err := stream.Send(l); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ct, ok := f.containers[req.GetName()]; ok && f.exit != nil {
		ct.Status = f.exit
	}
	return nil
}

// newFakeContainers returns a fake and an env whose swarmctl talks to it
// over loopback with token auth.
func newFakeContainers(t *testing.T) (*fakeContainers, *env) {
	t.Helper()
	f := &fakeContainers{containers: map[string]*v1.Container{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := checkFakeToken(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := checkFakeToken(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	)
	v1.RegisterContainerServiceServer(s, f)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	e := newEnv(t)
	e.vars["SWARM_SERVER"] = lis.Addr().String()
	e.vars["SWARM_TOKEN"] = fakeToken
	return f, e
}

func TestContainerRunMapsFlags(t *testing.T) {
	f, e := newFakeContainers(t)
	out := e.ok("container", "run", "job", "alpine:3", "-d",
		"-e", "A=1", "-e", "B=x=y", "-e", "EMPTY=",
		"-v", "/data:/in:ro", "-v", "/tmp/out:/out", "-v", "/x:/y:rw",
		"--memory", "64Mi", "--cpus", "0.5", "--pids", "100", "--runtime", "native",
		"--gpus", "1", "--hostname", "box", "--request-id", "rid",
		"--", "sh", "-c", "echo hi")
	if out != "container/job created\n" {
		t.Errorf("output %q", out)
	}
	if len(f.created) != 1 {
		t.Fatalf("%d creates", len(f.created))
	}
	req := f.created[0]
	want := &v1.CreateContainerRequest{
		RequestId: "rid",
		Container: &v1.Container{
			Metadata: &v1.ObjectMeta{Name: "job"},
			Spec: &v1.ContainerSpec{
				Image:   "alpine:3",
				Command: []string{"sh", "-c", "echo hi"},
				Env:     map[string]string{"A": "1", "B": "x=y", "EMPTY": ""},
				Mounts: []*v1.Mount{
					{Source: "/data", Target: "/in", ReadOnly: true},
					{Source: "/tmp/out", Target: "/out"},
					{Source: "/x", Target: "/y"},
				},
				Resources: &v1.ResourceList{CpuMillis: 500, MemoryBytes: 64 << 20, Pids: 100, Gpus: 1},
				Runtime:   "native",
				Hostname:  "box",
			},
		},
	}
	if !proto.Equal(req, want) {
		t.Errorf("request\n%v\nwant\n%v", req, want)
	}
	// defaults: swarmd's runtime (none sent), no resources, the image's command
	e.ok("container", "run", "plain", "busybox", "-d")
	if sp := f.created[1].GetContainer().GetSpec(); sp.GetRuntime() != "" || sp.GetResources() != nil || len(sp.GetCommand()) != 0 {
		t.Errorf("defaults: %v", sp)
	}
	e.ok("container", "run", "ctrd", "busybox", "-d", "--runtime", "containerd")
	if sp := f.created[2].GetContainer().GetSpec(); sp.GetRuntime() != "containerd" {
		t.Errorf("--runtime containerd: %v", sp)
	}
}

func TestParseCPUs(t *testing.T) {
	for s, want := range map[string]int64{"0.5": 500, "2": 2000, "0.01": 10, "1.2345": 1235} {
		if got, err := parseCPUs(s); err != nil || got != want {
			t.Errorf("parseCPUs(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

func TestContainerRunBadCommandLines(t *testing.T) {
	f, e := newFakeContainers(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--memory", "-5Mi"}, "--memory"},
		{[]string{"--memory", "0"}, "--memory"},
		{[]string{"--cpus", "half"}, "--cpus"},
		{[]string{"--cpus", "0"}, "--cpus"},
		{[]string{"--cpus", "0.001"}, "--cpus"},
		{[]string{"--pids", "-1"}, "--pids"},
		{[]string{"--pids", "many"}, "--pids"},
		{[]string{"--gpus", "-2"}, "--gpus"},
		{[]string{"--runtime", "docker"}, "--runtime"},
		{[]string{"--hostname", "Not_A_Name"}, "--hostname"},
		{[]string{"-e", "NOVALUE"}, "--env"},
		{[]string{"-e", "=v"}, "--env"},
		{[]string{"-v", "/only"}, "--volume"},
		{[]string{"-v", "rel:/dst"}, "--volume"},
		{[]string{"-v", "/src:rel"}, "--volume"},
		{[]string{"-v", "/a:/b:rx"}, "--volume"},
		{[]string{"--grace-period", "1s"}, "--grace-period"},
	} {
		args := append([]string{"container", "run", "x", "img"}, c.args...)
		r := e.run(args...)
		if r.code != 1 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "Run 'swarmctl container run --help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming %s", c.args, r.code, r.err, c.want)
		}
	}
	for _, args := range [][]string{
		{"container", "run", "x"},
		{"container", "run", "x", "img", "echo", "hi"},
		{"container", "run", "x", "--", "echo"},
		{"container", "run", "x", "img", "--"},
		{"container", "run", "Bad_Name", "img"},
		{"container", "logs", "x", "--tail", "-1"},
		{"container", "stop", "x", "--grace", "-1s"},
		{"container", "rm"},
		{"container", "inspect"},
	} {
		r := e.run(args...)
		if r.code != 1 || !strings.Contains(r.err, "--help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, r.code, r.err)
		}
	}
	if len(f.created) != 0 {
		t.Errorf("bad command lines reached the server: %v", f.created)
	}
}

func TestContainerTable(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	created := timestamppb.New(now.Add(-5 * time.Minute))
	cs := []*v1.Container{
		{Metadata: &v1.ObjectMeta{Name: "web", CreateTime: created}, Spec: &v1.ContainerSpec{Image: "nginx:latest", Runtime: "containerd"}, Status: &v1.ContainerStatus{Phase: "Running", Pid: 4242}},
		{Metadata: &v1.ObjectMeta{Name: "job", CreateTime: created}, Spec: &v1.ContainerSpec{Image: "alpine", Runtime: "native"}, Status: &v1.ContainerStatus{Phase: "Exited", ExitCode: 137, OomKilled: true, Pid: 7}},
		{Metadata: &v1.ObjectMeta{Name: "new"}, Spec: &v1.ContainerSpec{Image: "busybox"}},
	}
	var buf bytes.Buffer
	if err := writeContainerTable(&buf, cs, now); err != nil {
		t.Fatal(err)
	}
	want := `NAME   IMAGE          RUNTIME      PHASE     EXIT        PID      AGE
web    nginx:latest   containerd   Running   <none>      4242     5m
job    alpine         native       Exited    137 (OOM)   <none>   5m
new    busybox        <none>       <none>    <none>      <none>   <unknown>
`
	if buf.String() != want {
		t.Errorf("table\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestContainerRunWaitsAndExitsWithItsCode(t *testing.T) {
	f, e := newFakeContainers(t)
	f.logs = []*v1.ContainerLogsResponse{{Data: []byte("hello\n")}, {Stream: "stderr", Data: []byte("oops\n")}, {Data: []byte("bye\n")}}
	f.exit = &v1.ContainerStatus{Phase: "Exited", ExitCode: 3}
	r := e.run("container", "run", "job", "alpine", "--", "sh", "-c", "exit 3")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstdout %q\nstderr %q", r.code, r.out, r.err)
	}
	if r.out != "hello\nbye\n" || r.err != "oops\n" {
		t.Errorf("stdout %q, stderr %q", r.out, r.err)
	}
	if len(f.logReqs) != 1 || !f.logReqs[0].GetFollow() || f.logReqs[0].GetName() != "job" {
		t.Errorf("log requests %v", f.logReqs)
	}

	f.exit = &v1.ContainerStatus{Phase: "Exited", ExitCode: 0}
	if r := e.run("container", "run", "ok", "alpine"); r.code != 0 {
		t.Errorf("exit 0 container: swarmctl exit %d, stderr %q", r.code, r.err)
	}
}

func TestContainerRunReportsOOMKill(t *testing.T) {
	f, e := newFakeContainers(t)
	f.logs = []*v1.ContainerLogsResponse{{Data: []byte("allocating\n")}}
	f.exit = &v1.ContainerStatus{Phase: "Exited", ExitCode: 137, OomKilled: true}
	r := e.run("container", "run", "hog", "alpine", "--memory", "64Mi")
	if r.code != 137 {
		t.Fatalf("exit %d, want 137; stderr %q", r.code, r.err)
	}
	if !strings.Contains(r.err, "container hog was OOM-killed") || !strings.Contains(r.err, "64MiB") {
		t.Errorf("stderr %q lacks the OOM line", r.err)
	}
	if r.out != "allocating\n" {
		t.Errorf("stdout %q", r.out)
	}
}

func TestContainerRmForce(t *testing.T) {
	f, e := newFakeContainers(t)
	e.ok("container", "run", "a", "img", "-d")
	e.ok("container", "run", "b", "img", "-d")
	if out := e.ok("container", "rm", "--force", "a"); out != "container/a deleted\n" {
		t.Errorf("output %q", out)
	}
	e.ok("container", "rm", "b")
	if len(f.deleted) != 2 || !f.deleted[0].GetForce() || f.deleted[1].GetForce() {
		t.Errorf("delete requests %v", f.deleted)
	}
	if msg := e.fail("container", "rm", "ghost"); !strings.Contains(msg, "NOT_FOUND") {
		t.Errorf("missing container: %q", msg)
	}
}

func TestContainerRunTiers(t *testing.T) {
	f, e := newFakeContainers(t)
	e.ok("container", "run", "train", "img", "-d", "--tier", "cpu=512Mi", "--tier", "nvme=10Gi", "--tier", "hdd=1T")
	want := &v1.ResourceList{TierBytes: map[string]int64{"cpu": 512 << 20, "nvme": 10 << 30, "hdd": 1e12}}
	if got := f.created[0].GetContainer().GetSpec().GetResources(); !proto.Equal(got, want) {
		t.Errorf("resources %v, want %v", got, want)
	}
	// --memory and the cpu tier agree: both are sent.
	e.ok("container", "run", "same", "img", "-d", "--memory", "64Mi", "--tier", "cpu=64Mi")
	if r := f.created[1].GetContainer().GetSpec().GetResources(); r.GetMemoryBytes() != 64<<20 || r.GetTierBytes()["cpu"] != 64<<20 {
		t.Errorf("resources %v", r)
	}

	out := strings.Join(strings.Fields(e.ok("container", "inspect", "train")), " ")
	if !strings.Contains(out, "Tier quotas: cpu=512MiB, nvme=10GiB, hdd=931.3GiB") {
		t.Errorf("inspect lacks the tier quotas:\n%s", out)
	}
	if out := e.ok("container", "inspect", "train", "-o", "yaml"); !strings.Contains(out, "tierBytes:") || !strings.Contains(out, `nvme: "10737418240"`) {
		t.Errorf("yaml lacks the tier quotas:\n%s", out)
	}
	if out := e.ok("container", "inspect", "train", "-o", "json"); !strings.Contains(out, `"cpu": "536870912"`) {
		t.Errorf("json lacks the tier quotas:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "64Mi", "--tier", "cpu=32Mi"}, "--memory 64Mi and --tier cpu=32MiB conflict"},
		{[]string{"--tier", "ram=1Gi"}, `unknown tier "ram"; the tiers are gpu, cpu, nvme, ssd, hdd`},
		{[]string{"--tier", "nvme"}, `--tier "nvme": want TIER=QUANTITY`},
		{[]string{"--tier", "=1Gi"}, `--tier "=1Gi": want TIER=QUANTITY`},
		{[]string{"--tier", "ssd=lots"}, `--tier "ssd=lots": want bytes`},
		{[]string{"--tier", "ssd=0"}, `--tier "ssd=0": must be positive`},
		{[]string{"--tier", "ssd=1Gi", "--tier", "ssd=2Gi"}, "tier ssd is given twice"},
	} {
		r := e.run(append([]string{"container", "run", "x", "img"}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "Run 'swarmctl container run --help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error with %q", c.args, r.code, r.err, c.want)
		}
	}
	if len(f.created) != 2 {
		t.Errorf("bad command lines reached the server: %d creates", len(f.created))
	}

	if out := e.ok("__complete", "container", "run", "x", "img", "--tier", ""); !strings.HasPrefix(out, "gpu=\ncpu=\nnvme=\nssd=\nhdd=\n:6\n") {
		t.Errorf("tier completion %q", out)
	}
	if out := e.ok("__complete", "container", "run", "x", "img", "--tier", "cpu="); !strings.HasPrefix(out, ":4\n") {
		t.Errorf("quantity completion %q", out)
	}
	if out := e.ok("__complete", "container", "run", "x", "img", "--runtime", ""); !strings.HasPrefix(out, "native\ncontainerd\n:4\n") {
		t.Errorf("runtime completion %q", out)
	}
}

func TestContainerRunReportsOOMKillAtTheCPUTier(t *testing.T) {
	f, e := newFakeContainers(t)
	f.exit = &v1.ContainerStatus{Phase: "Failed", ExitCode: 137, OomKilled: true}
	r := e.run("container", "run", "hog", "alpine", "--tier", "cpu=32Mi")
	if r.code != 137 || !strings.Contains(r.err, "it ran out of its cpu tier quota (32MiB); raise --tier cpu=") {
		t.Errorf("exit %d, stderr %q", r.code, r.err)
	}
}
