package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	"github.com/stratoswarm/stratoswarm/runtime/containerd/containerdtest"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// env is what TestMain set up: a containerd of our own (its socket), a
// runtime on it and the imported test image.
type env struct {
	rt      *Runtime
	address string
	image   string
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
	dir, err := os.MkdirTemp("", "stratoswarm-containerd-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	d, err := containerdtest.Start(filepath.Join(dir, "daemon"))
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := d.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A namespace of our own keeps concurrent test runs (and the host's
	// containerd) apart.
	ns := containerdtest.Namespace("stratoswarm-test")
	rt, err := New(ctx, Options{Address: d.Address, Namespace: ns, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		return 0, err
	}
	defer rt.Close()
	defer containerdtest.RemoveNamespaceLeftovers(ns)

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
	testEnv = env{rt: rt, address: d.Address, image: ref}
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

// busybox is the host's static busybox (Debian's busybox-static), bind-
// mounted into scratch containers.
const busybox = "/bin/busybox"

// runScratch runs command in a container of the Scratch image with the
// host's busybox bind-mounted read-only at /bin/busybox, and returns its
// exit status and output.
func runScratch(t *testing.T, rt *Runtime, id string, command ...string) (container.Status, string) {
	t.Helper()
	ctx := context.Background()
	spec := container.Spec{
		ID: id, Image: Scratch, Command: command,
		Mounts: []container.Mount{{Source: busybox, Target: "/bin/busybox", ReadOnly: true}},
		Limits: container.Limits{MemoryBytes: 64 << 20, Pids: 20},
	}
	if err := rt.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Delete(ctx, id); err != nil {
			t.Errorf("delete %s: %v", id, err)
		}
	})
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := rt.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rt.Logs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return st, string(out)
}

// TestScratch: the image "scratch" is an empty root filesystem, as in the
// native backend: a static program bind-mounted into it runs, and the root
// holds no more than the mount points, /etc and the bind mount.
func TestScratch(t *testing.T) {
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%v: install Debian's busybox-static (.ci/run does)", err)
	}
	rt := testEnv.rt
	st, out := runScratch(t, rt, "scratch-echo", "/bin/busybox", "echo", "hello-scratch")
	if st.ExitCode != 0 || !strings.Contains(out, "hello-scratch") {
		t.Fatalf("echo in scratch: exit %d, output %q", st.ExitCode, out)
	}
	st, out = runScratch(t, rt, "scratch-ls", "/bin/busybox", "ls", "/bin", "/etc")
	if st.ExitCode != 0 {
		t.Fatalf("ls in scratch: exit %d, output %q", st.ExitCode, out)
	}
	if got, want := strings.Fields(out), []string{"/bin:", "busybox", "/etc:", "group", "passwd"}; !slices.Equal(got, want) {
		t.Errorf("ls /bin /etc in scratch: %q, want %q", got, want)
	}
	img, err := rt.client.GetImage(namespaces.WithNamespace(context.Background(), rt.namespace), image.ScratchRef)
	if err != nil {
		t.Fatalf("the scratch image is not in containerd as %s: %v", image.ScratchRef, err)
	}
	layout := t.TempDir()
	want, err := image.BuildScratch(layout, image.ScratchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Target().Digest != want.Digest {
		t.Errorf("imported scratch image %s, a fresh build is %s", img.Target().Digest, want.Digest)
	}
}

// TestScratchConcurrentCreates: creates of scratch containers racing on a
// fresh Runtime (the image not yet imported by it) all succeed.
func TestScratchConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, Options{Address: testEnv.address, Namespace: testEnv.rt.namespace, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	const n = 4
	errs := make(chan error, n)
	for i := range n {
		go func() {
			id := fmt.Sprintf("scratch-race-%d", i)
			err := rt.Create(ctx, container.Spec{ID: id, Image: Scratch, Command: []string{"/none"}})
			if err == nil {
				err = rt.Delete(ctx, id)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
