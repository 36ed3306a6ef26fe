package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
	"github.com/stratoswarm/stratoswarm/runtime/containerd"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// ctrEnv is a containerd of the test's own with the busybox test image.
type ctrEnv struct {
	sock, ns, image string
	rt              *containerd.Runtime
}

// startContainerd runs a containerd for the test (hack/containerd.sh) and
// imports the busybox test image into a namespace of this process. It
// fails, never skips, without containerd or root.
func startContainerd(t *testing.T) ctrEnv {
	t.Helper()
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatal("containerd is not installed (apt-get install containerd runc); the container tests need a real daemon, run as root")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the container tests run containers with a real containerd and need root")
	}
	// A short path: the socket's must fit in sun_path.
	dir, err := os.MkdirTemp("", "swarmd-ctr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script, err := filepath.Abs(filepath.Join("..", "..", "hack", "containerd.sh"))
	if err != nil {
		t.Fatal(err)
	}
	daemonDir := filepath.Join(dir, "daemon")
	out, err := exec.Command(script, "start", daemonDir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("hack/containerd.sh start: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("hack/containerd.sh start: %v", err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", daemonDir).CombinedOutput(); err != nil {
			t.Errorf("hack/containerd.sh stop: %v: %s", err, out)
		}
	})
	env := ctrEnv{sock: strings.TrimSpace(string(out)), ns: fmt.Sprintf("stratoswarm-test-%d", os.Getpid())}
	t.Cleanup(func() { removeNamespaceLeftovers(env.ns) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env.rt, err = containerd.New(ctx, containerd.Options{Address: env.sock, Namespace: env.ns, LogDir: filepath.Join(dir, "import-logs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.rt.Close() })
	layout := filepath.Join(dir, "image")
	if _, err := image.BuildBusybox(layout, image.Options{}); err != nil {
		t.Fatalf("build test image: %v", err)
	}
	tarPath := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.WriteTar(layout, f); err != nil {
		f.Close()
		t.Fatalf("write test image tar: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if env.image, err = env.rt.ImportImage(ctx, tarPath); err != nil {
		t.Fatal(err)
	}
	return env
}

// removeNamespaceLeftovers removes the empty cgroups and runc state
// directories runc leaves per namespace (rmdir only: anything still in
// use stays).
func removeNamespaceLeftovers(ns string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ns), filepath.Join("/run/containerd/runc", ns))
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

// removeAll stops and deletes every container of the namespace, so the
// cgroups are empty before the leftovers are removed.
func (e ctrEnv) removeAll(t *testing.T) {
	ctx := context.Background()
	sts, err := e.rt.List(ctx)
	if err != nil {
		t.Errorf("list containers: %v", err)
		return
	}
	for _, st := range sts {
		_ = e.rt.Stop(ctx, st.ID, 0)
		if err := e.rt.Delete(ctx, st.ID); err != nil {
			t.Errorf("delete container %s: %v", st.ID, err)
		}
	}
}

func containerdConfig(dir string, e ctrEnv) config.Config {
	cfg := testConfig(dir)
	cfg.ContainerdAddress = e.sock
	cfg.ContainerdNamespace = e.ns
	cfg.ContainerRuntime = "containerd" // what specs without a runtime get
	return cfg
}

// waitPhase polls the container until its phase is final.
func waitFinal(t *testing.T, d *daemon, name string) *v1.Container {
	t.Helper()
	cs := v1.NewContainerServiceClient(d.conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := cs.GetContainer(d.ctx(), &v1.GetContainerRequest{Name: name})
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		if p := c.GetStatus().GetPhase(); p == "Exited" || p == "Failed" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s after 30s", name, c.GetStatus().GetPhase())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logs(t *testing.T, d *daemon, name string, follow bool) string {
	t.Helper()
	cs := v1.NewContainerServiceClient(d.conn)
	ctx, cancel := context.WithTimeout(d.ctx(), 30*time.Second)
	defer cancel()
	stream, err := cs.ContainerLogs(ctx, &v1.ContainerLogsRequest{Name: name, Follow: follow})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return sb.String()
		}
		if err != nil {
			t.Fatalf("logs of %s: %v", name, err)
		}
		sb.Write(msg.GetData())
	}
}

func mkContainer(name, img string, command ...string) *v1.Container {
	return &v1.Container{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.ContainerSpec{Image: img, Command: command}}
}

func TestContainersWithContainerd(t *testing.T) {
	e := startContainerd(t)
	dir := t.TempDir()
	srv, err := server.New(containerdConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	t.Cleanup(func() { e.removeAll(t) }) // before the daemon stops: cleanups run last first
	cs := v1.NewContainerServiceClient(d.conn)
	ctx := d.ctx()

	t.Run("echo", func(t *testing.T) {
		c, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("hello", e.image, "/bin/sh", "-c", "echo hi"), RequestId: "hello-1"})
		if err != nil {
			t.Fatal(err)
		}
		if c.GetSpec().GetRuntime() != "containerd" || c.GetSpec().GetNode() != "test-node" {
			t.Errorf("spec not defaulted: %v", c.GetSpec())
		}
		c = waitFinal(t, d, "hello")
		if st := c.GetStatus(); st.GetPhase() != "Exited" || st.GetExitCode() != 0 || st.GetFinishTime() == nil || st.GetStartTime() == nil {
			t.Fatalf("status %v, want Exited 0 with times", st)
		}
		if got := logs(t, d, "hello", false); got != "hi\n" {
			t.Errorf("logs %q, want %q", got, "hi\n")
		}
		if got := logs(t, d, "hello", true); got != "hi\n" {
			t.Errorf("followed logs of an exited container %q, want %q", got, "hi\n")
		}
		// Idempotent: the same request or the same spec returns it; another spec conflicts.
		again, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("hello", e.image, "/bin/sh", "-c", "echo hi"), RequestId: "hello-1"})
		if err != nil || again.GetMetadata().GetUid() != c.GetMetadata().GetUid() || again.GetStatus().GetPhase() != "Exited" {
			t.Fatalf("retry: %v %v", again, err)
		}
		_, err = cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("hello", e.image, "/bin/sh", "-c", "echo bye")})
		wantCode(t, err, codes.AlreadyExists, "different spec")
		list, err := cs.ListContainers(ctx, &v1.ListContainersRequest{})
		if err != nil || len(list.GetContainers()) == 0 {
			t.Fatalf("list: %v %v", list, err)
		}
	})

	t.Run("follow", func(t *testing.T) {
		if _, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("follow", e.image, "/bin/sh", "-c", "echo a; sleep 1; echo b")}); err != nil {
			t.Fatal(err)
		}
		if got := logs(t, d, "follow", true); got != "a\nb\n" {
			t.Errorf("followed logs %q, want %q", got, "a\nb\n")
		}
	})

	t.Run("stop and delete", func(t *testing.T) {
		c, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("sleeper", e.image, "sleep", "100")})
		if err != nil {
			t.Fatal(err)
		}
		if c.GetStatus().GetPhase() != "Running" || c.GetStatus().GetPid() <= 0 {
			t.Fatalf("status %v, want Running with a pid", c.GetStatus())
		}
		_, err = cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: "sleeper"})
		wantCode(t, err, codes.FailedPrecondition, "stop it first")
		c, err = cs.StopContainer(ctx, &v1.StopContainerRequest{Name: "sleeper", GracePeriod: durationpb.New(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if c.GetStatus().GetPhase() != "Exited" || c.GetStatus().GetReason() != "Stopped" {
			t.Fatalf("after stop: %v, want Exited (Stopped)", c.GetStatus())
		}
		if _, err := cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: "sleeper"}); err != nil {
			t.Fatal(err)
		}
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "sleeper"})
		wantCode(t, err, codes.NotFound, "sleeper")
		// Force deletes a running one.
		if _, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("sleeper", e.image, "sleep", "100")}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: "sleeper", Force: true}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("oom", func(t *testing.T) {
		c := mkContainer("hog", e.image, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		c.Spec.Resources = &v1.ResourceList{MemoryBytes: 32 << 20}
		if _, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c}); err != nil {
			t.Fatal(err)
		}
		got := waitFinal(t, d, "hog")
		if st := got.GetStatus(); !st.GetOomKilled() || st.GetPhase() != "Failed" {
			t.Fatalf("status %v, want Failed with oom_killed", st)
		}
	})

	t.Run("oom at the cpu tier quota", func(t *testing.T) {
		c := mkContainer("tierhog", e.image, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		c.Spec.Resources = &v1.ResourceList{TierBytes: map[string]int64{"cpu": 32 << 20, "nvme": 1 << 30}}
		if _, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c}); err != nil {
			t.Fatal(err)
		}
		got := waitFinal(t, d, "tierhog")
		if st := got.GetStatus(); !st.GetOomKilled() || st.GetPhase() != "Failed" {
			t.Fatalf("status %v, want Failed with oom_killed: the cpu tier quota is the memory limit", st)
		}
		if tb := got.GetSpec().GetResources().GetTierBytes(); tb["cpu"] != 32<<20 || tb["nvme"] != 1<<30 {
			t.Errorf("tier quotas not stored: %v", tb)
		}
		// Under its quota the same command runs to the end.
		c = mkContainer("tierfits", e.image, "dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1")
		c.Spec.Resources = &v1.ResourceList{MemoryBytes: 32 << 20, TierBytes: map[string]int64{"cpu": 32 << 20}}
		if _, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c}); err != nil {
			t.Fatal(err)
		}
		if st := waitFinal(t, d, "tierfits").GetStatus(); st.GetPhase() != "Exited" || st.GetExitCode() != 0 {
			t.Fatalf("status %v, want Exited 0", st)
		}
	})

	t.Run("bad inputs", func(t *testing.T) {
		for field, c := range map[string]*v1.Container{
			"container.metadata.name":                    mkContainer("Bad_Name", e.image),
			"container.spec.image":                       mkContainer("noimage", ""),
			"container.spec.runtime":                     {Metadata: &v1.ObjectMeta{Name: "rt"}, Spec: &v1.ContainerSpec{Image: e.image, Runtime: "kata"}},
			"container.spec.resources.memory_bytes":      {Metadata: &v1.ObjectMeta{Name: "mem"}, Spec: &v1.ContainerSpec{Image: e.image, Resources: &v1.ResourceList{MemoryBytes: -1}}},
			"container.spec.resources.cpu_millis":        {Metadata: &v1.ObjectMeta{Name: "cpu"}, Spec: &v1.ContainerSpec{Image: e.image, Resources: &v1.ResourceList{CpuMillis: -1}}},
			"container.spec.resources.pids":              {Metadata: &v1.ObjectMeta{Name: "pids"}, Spec: &v1.ContainerSpec{Image: e.image, Resources: &v1.ResourceList{Pids: -1}}},
			"container.spec.mounts[0].source":            {Metadata: &v1.ObjectMeta{Name: "mnt"}, Spec: &v1.ContainerSpec{Image: e.image, Mounts: []*v1.Mount{{Source: "rel", Target: "/x"}}}},
			`container.spec.resources.tier_bytes["xyz"]`: {Metadata: &v1.ObjectMeta{Name: "tier"}, Spec: &v1.ContainerSpec{Image: e.image, Resources: &v1.ResourceList{TierBytes: map[string]int64{"xyz": 1}}}},
		} {
			_, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c})
			wantField(t, err, field)
		}
		_, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("noimg", "example.com/missing:1")})
		wantCode(t, err, codes.FailedPrecondition, "example.com/missing:1")
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "noimg"})
		wantCode(t, err, codes.NotFound, "noimg")
	})

	t.Run("restart reconciles", func(t *testing.T) {
		if _, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("brief", e.image, "sleep", "1")}); err != nil {
			t.Fatal(err)
		}
		d.stop()
		time.Sleep(1500 * time.Millisecond) // it exits while swarmd is down
		srv2, err := server.New(containerdConfig(dir, e), nil)
		if err != nil {
			t.Fatal(err)
		}
		d = wrap(t, srv2, dir)
		c := waitFinal(t, d, "brief")
		if st := c.GetStatus(); st.GetPhase() != "Exited" || st.GetReason() != "swarmd restarted" {
			t.Fatalf("after restart: %v, want Exited with reason %q", st, "swarmd restarted")
		}
	})
}

// TestContainerWithoutContainerd: with no containerd-address, creating a
// containerd container says what to set.
func TestContainerWithoutContainerd(t *testing.T) {
	d := start(t, t.TempDir())
	cs := v1.NewContainerServiceClient(d.conn)
	c := mkContainer("c", "img")
	c.Spec.Runtime = "containerd"
	_, err := cs.CreateContainer(d.ctx(), &v1.CreateContainerRequest{Container: c})
	wantCode(t, err, codes.FailedPrecondition, "containerd-address")
	_, err = cs.GetContainer(d.ctx(), &v1.GetContainerRequest{Name: "c"})
	wantCode(t, err, codes.NotFound, "")
}

// TestContainerResourcesAreChecked: resources are checked before anything
// else happens, with the field named; no containerd is needed for that.
func TestContainerResourcesAreChecked(t *testing.T) {
	d := start(t, t.TempDir())
	cs := v1.NewContainerServiceClient(d.conn)
	for _, c := range []struct {
		r            *v1.ResourceList
		field, words string
	}{
		{&v1.ResourceList{TierBytes: map[string]int64{"xyz": 1 << 20}}, `container.spec.resources.tier_bytes["xyz"]`, `unknown tier "xyz"`},
		{&v1.ResourceList{TierBytes: map[string]int64{"nvme": -1}}, `container.spec.resources.tier_bytes["nvme"]`, "must not be negative"},
		{&v1.ResourceList{MemoryBytes: 64 << 20, TierBytes: map[string]int64{"cpu": 32 << 20}}, `container.spec.resources.tier_bytes["cpu"]`, "drop memory_bytes"},
		{&v1.ResourceList{CpuMillis: 5}, "container.spec.resources.cpu_millis", "smallest CPU quota"},
		{&v1.ResourceList{Gpus: 1}, "container.spec.resources.gpus", "not supported"},
	} {
		ct := mkContainer("limited", "img")
		ct.Spec.Resources = c.r
		_, err := cs.CreateContainer(d.ctx(), &v1.CreateContainerRequest{Container: ct})
		wantField(t, err, c.field)
		wantCode(t, err, codes.InvalidArgument, c.words)
	}
	// Valid quotas get as far as the missing runtime.
	ct := mkContainer("limited", "img")
	ct.Spec.Runtime = "containerd"
	ct.Spec.Resources = &v1.ResourceList{MemoryBytes: 32 << 20, TierBytes: map[string]int64{"cpu": 32 << 20, "ssd": 1 << 30}}
	_, err := cs.CreateContainer(d.ctx(), &v1.CreateContainerRequest{Container: ct})
	wantCode(t, err, codes.FailedPrecondition, "containerd-address")
}
