package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/container/conformance"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// env is what TestMain set up: a containerd of our own, a runtime on it
// and the imported test image.
type env struct {
	rt    *Runtime
	image string
}

// testEnv is filled in by TestMain before any test runs and only read
// afterwards.
var testEnv env

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime/containerd tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	if _, err := exec.LookPath("containerd"); err != nil {
		return 0, errors.New("containerd is not installed (apt-get install containerd runc); these tests need a real daemon, run as root")
	}
	if os.Geteuid() != 0 {
		return 0, errors.New("these tests run containers with a real containerd and need root")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "stratoswarm-containerd-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(root, "hack", "containerd.sh")
	out, err := exec.Command(script, "start", filepath.Join(dir, "daemon")).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return 0, fmt.Errorf("hack/containerd.sh start: %w: %s", err, ee.Stderr)
		}
		return 0, fmt.Errorf("hack/containerd.sh start: %w", err)
	}
	defer func() {
		if out, err := exec.Command(script, "stop", filepath.Join(dir, "daemon")).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "hack/containerd.sh stop: %v: %s\n", err, out)
		}
	}()
	sock := strings.TrimSpace(string(out))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// runc keeps its state under /run/containerd/runc/<namespace> and
	// cgroups under /<namespace>/<id> whichever daemon runs it, so a
	// namespace of our own keeps concurrent test runs (and the host's
	// containerd) apart.
	ns := fmt.Sprintf("stratoswarm-test-%d", os.Getpid())
	rt, err := New(ctx, Options{Address: sock, Namespace: ns, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		return 0, err
	}
	defer rt.Close()
	defer removeNamespaceLeftovers(ns)

	layout := filepath.Join(dir, "image")
	if _, err := image.BuildBusybox(layout, image.Options{}); err != nil {
		return 0, fmt.Errorf("build test image: %w", err)
	}
	tarPath := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return 0, err
	}
	if err := image.WriteTar(layout, f); err != nil {
		f.Close()
		return 0, fmt.Errorf("write test image tar: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	ref, err := rt.ImportImage(ctx, tarPath)
	if err != nil {
		return 0, err
	}
	if ref != image.DefaultRef {
		return 0, fmt.Errorf("imported image is %q, want %q", ref, image.DefaultRef)
	}
	testEnv = env{rt: rt, image: ref}
	return m.Run(), nil
}

func TestConformance(t *testing.T) {
	conformance.Run(t, testEnv.rt, testEnv.image)
}

// TestNoLeaksAfterDelete: after Delete, containerd has no task, container
// or snapshot of it and its log file is gone.
func TestNoLeaksAfterDelete(t *testing.T) {
	rt := testEnv.rt
	ctx := context.Background()
	const id = "leak-check"
	spec := container.Spec{ID: id, Image: testEnv.image, Command: []string{"/bin/sh", "-c", "echo hi"}, Limits: container.Limits{MemoryBytes: 64 << 20, Pids: 20}}
	if err := rt.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rt.LogPath(id)); err != nil {
		t.Fatalf("no log file while the container exists: %v", err)
	}
	nctx := namespaces.WithNamespace(ctx, rt.namespace)
	c, err := rt.client.LoadContainer(nctx, id)
	if err != nil {
		t.Fatal(err)
	}
	spc, err := c.Spec(nctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}

	if _, err := rt.client.LoadContainer(nctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("containerd still has container %s: %v", id, err)
	}
	if _, err := rt.client.TaskService().Get(nctx, &tasks.GetRequest{ContainerID: id}); !errdefs.IsNotFound(errgrpc.ToNative(err)) {
		t.Errorf("containerd still has a task %s: %v", id, err)
	}
	sn := rt.client.SnapshotService("")
	if _, err := sn.Stat(nctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot %s left after Delete: %v", id, err)
	}
	if _, err := os.Stat(rt.LogPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log file left after Delete: %v", err)
	}
	if _, err := rt.Status(ctx, id); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("Status after Delete = %v, want ErrNotFound", err)
	}
	if cg := spc.Linux.CgroupsPath; cg != "" {
		p := filepath.Join("/sys/fs/cgroup/memory", cg)
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("memory cgroup %s left after Delete: %v", p, err)
		}
	}
}

// TestSpecMapping: Spec fields land in the OCI spec containerd runs.
func TestSpecMapping(t *testing.T) {
	rt := testEnv.rt
	ctx := context.Background()
	const id = "spec-map"
	ro := t.TempDir()
	spec := container.Spec{
		ID: id, Image: testEnv.image, Command: []string{"/bin/true"}, Env: []string{"A=b"},
		Mounts: []container.Mount{{Source: ro, Target: "/data", ReadOnly: true}},
		Limits: container.Limits{MemoryBytes: 48 << 20, CPUs: 0.5, Pids: 7},
	}
	if err := rt.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Delete(ctx, id) })
	nctx := namespaces.WithNamespace(ctx, rt.namespace)
	c, err := rt.client.LoadContainer(nctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Spec(nctx)
	if err != nil {
		t.Fatal(err)
	}
	res := s.Linux.Resources
	if got := *res.Memory.Limit; got != 48<<20 {
		t.Errorf("memory limit %d, want %d", got, 48<<20)
	}
	if got, per := *res.CPU.Quota, *res.CPU.Period; got != 50000 || per != 100000 {
		t.Errorf("CPU quota/period %d/%d, want 50000/100000", got, per)
	}
	if res.Pids == nil || res.Pids.Limit == nil || *res.Pids.Limit != 7 {
		t.Errorf("pids limit %+v, want 7", res.Pids)
	}
	if s.Hostname != id {
		t.Errorf("hostname %q, want %q", s.Hostname, id)
	}
	if !slices.Contains(s.Process.Env, "A=b") || !slices.Contains(s.Process.Env, "PATH=/bin") {
		t.Errorf("env %q, want A=b and the image's PATH", s.Process.Env)
	}
	var sawMount bool
	for _, m := range s.Mounts {
		if m.Destination == "/data" {
			sawMount = m.Source == ro && slices.Contains(m.Options, "ro") && slices.Contains(m.Options, "rbind")
		}
	}
	if !sawMount {
		t.Errorf("no read-only bind of %s at /data in %+v", ro, s.Mounts)
	}
	var ns []string
	for _, n := range s.Linux.Namespaces {
		if n.Path == "" {
			ns = append(ns, string(n.Type))
		}
	}
	for _, want := range []string{"pid", "ipc", "uts", "mount", "network"} {
		if !slices.Contains(ns, want) {
			t.Errorf("namespaces %q lack a new %s namespace", ns, want)
		}
	}
}

// removeNamespaceLeftovers removes what runc keeps for the namespace once
// its containers are gone: the empty parent cgroups
// (/sys/fs/cgroup/<controller>/<ns> on v1, /sys/fs/cgroup/<ns> on v2) and
// the empty state directory /run/containerd/runc/<ns>.
func removeNamespaceLeftovers(ns string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ns), filepath.Join("/run/containerd/runc", ns))
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}
