package server_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// nativeEnv is what swarmd's native runtime needs in a test: swarm-init
// built from this tree and the busybox test image as an OCI layout.
type nativeEnv struct {
	init, layout string
}

// setupNative builds swarm-init and the test image. It fails, never
// skips, without root: the native runtime makes namespaces and cgroups
// for real.
func setupNative(t *testing.T) nativeEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the native container tests make namespaces, cgroups and mounts for real and need root")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir := t.TempDir()
	e := nativeEnv{init: filepath.Join(dir, "swarm-init"), layout: filepath.Join(dir, "busybox")}
	build := exec.Command("go", "build", "-o", e.init, "./cmd/swarm-init")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build swarm-init: %v: %s", err, out)
	}
	if _, err := image.BuildBusybox(e.layout, image.Options{}); err != nil {
		t.Fatalf("build the test image: %v", err)
	}
	return e
}

func nativeConfig(dir string, e nativeEnv) config.Config {
	cfg := testConfig(dir)
	cfg.NativeInit = e.init
	return cfg
}

// TestContainersWithNative runs containers through ContainerService on the
// native runtime, the default: no containerd is involved. Names start
// with nat- as the cgroups of all native runtimes on a host share one
// parent.
func TestContainersWithNative(t *testing.T) {
	e := setupNative(t)
	dir := t.TempDir()
	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	cs := v1.NewContainerServiceClient(d.conn)
	ctx := d.ctx()
	create := func(c *v1.Container) *v1.Container {
		t.Helper()
		out, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c})
		if err != nil {
			t.Fatalf("create %s: %v", c.GetMetadata().GetName(), err)
		}
		return out
	}
	// rm deletes what a subtest left running, so no process outlives it.
	rm := func(name string) {
		if _, err := cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: name, Force: true}); status.Code(err) != codes.OK && status.Code(err) != codes.NotFound {
			t.Errorf("delete %s: %v", name, err)
		}
	}

	t.Run("echo by path, exit code by imported name", func(t *testing.T) {
		c := create(mkContainer("nat-hello", e.layout, "/bin/sh", "-c", "echo hi; echo err >&2"))
		defer rm("nat-hello")
		if c.GetSpec().GetRuntime() != "native" || c.GetSpec().GetNode() != "test-node" {
			t.Errorf("spec not defaulted to the native runtime on this node: %v", c.GetSpec())
		}
		c = waitFinal(t, d, "nat-hello")
		if st := c.GetStatus(); st.GetPhase() != "Exited" || st.GetExitCode() != 0 || st.GetFinishTime() == nil || st.GetStartTime() == nil {
			t.Fatalf("status %v, want Exited 0 with times", st)
		}
		if got := logs(t, d, "nat-hello", false); got != "hi\nerr\n" {
			t.Errorf("logs %q, want %q", got, "hi\nerr\n")
		}
		if got := logs(t, d, "nat-hello", true); got != "hi\nerr\n" {
			t.Errorf("followed logs of an exited container %q, want %q", got, "hi\nerr\n")
		}
		// The layout was imported under its reference on first use.
		c = mkContainer("nat-three", image.DefaultRef, "/bin/sh", "-c", "echo three; exit 3")
		c.Spec.Runtime = "native"
		create(c)
		defer rm("nat-three")
		if st := waitFinal(t, d, "nat-three").GetStatus(); st.GetPhase() != "Failed" || st.GetExitCode() != 3 || st.GetOomKilled() {
			t.Fatalf("status %v, want Failed with exit code 3", st)
		}
		if got := logs(t, d, "nat-three", true); got != "three\n" {
			t.Errorf("logs %q, want %q", got, "three\n")
		}
	})

	t.Run("scratch with a bind-mounted static binary", func(t *testing.T) {
		c := mkContainer("nat-scratch", "scratch", "/busybox", "echo", "from scratch")
		c.Spec.Mounts = []*v1.Mount{{Source: "/bin/busybox", Target: "/busybox", ReadOnly: true}}
		create(c)
		defer rm("nat-scratch")
		if st := waitFinal(t, d, "nat-scratch").GetStatus(); st.GetPhase() != "Exited" || st.GetExitCode() != 0 {
			t.Fatalf("status %v, want Exited 0", st)
		}
		if got := logs(t, d, "nat-scratch", false); got != "from scratch\n" {
			t.Errorf("logs %q", got)
		}
	})

	t.Run("stop and delete", func(t *testing.T) {
		c := create(mkContainer("nat-sleeper", e.layout, "sleep", "100"))
		defer rm("nat-sleeper")
		if c.GetStatus().GetPhase() != "Running" || c.GetStatus().GetPid() <= 0 {
			t.Fatalf("status %v, want Running with a pid", c.GetStatus())
		}
		_, err := cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: "nat-sleeper"})
		wantCode(t, err, codes.FailedPrecondition, "stop it first")
		c, err = cs.StopContainer(ctx, &v1.StopContainerRequest{Name: "nat-sleeper", GracePeriod: durationpb.New(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if c.GetStatus().GetPhase() != "Exited" || c.GetStatus().GetReason() != "Stopped" {
			t.Fatalf("after stop: %v, want Exited (Stopped)", c.GetStatus())
		}
		if _, err := cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: "nat-sleeper"}); err != nil {
			t.Fatal(err)
		}
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "nat-sleeper"})
		wantCode(t, err, codes.NotFound, "nat-sleeper")
		// The name is free again in the runtime too; force deletes a
		// running one.
		create(mkContainer("nat-sleeper", e.layout, "sleep", "100"))
		if _, err := cs.DeleteContainer(ctx, &v1.DeleteContainerRequest{Name: "nat-sleeper", Force: true}); err != nil {
			t.Fatal(err)
		}
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "nat-sleeper"})
		wantCode(t, err, codes.NotFound, "nat-sleeper")
	})

	t.Run("oom", func(t *testing.T) {
		c := mkContainer("nat-hog", e.layout, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		c.Spec.Resources = &v1.ResourceList{MemoryBytes: 32 << 20}
		create(c)
		defer rm("nat-hog")
		if st := waitFinal(t, d, "nat-hog").GetStatus(); !st.GetOomKilled() || st.GetPhase() != "Failed" {
			t.Fatalf("status %v, want Failed with oom_killed", st)
		}
	})

	t.Run("missing command", func(t *testing.T) {
		_, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("nat-nocmd", e.layout, "/bin/no-such-command")})
		wantCode(t, err, codes.FailedPrecondition, "/bin/no-such-command")
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "nat-nocmd"})
		wantCode(t, err, codes.NotFound, "nat-nocmd")
		// The empty image has no command of its own.
		_, err = cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("nat-nocmd", "scratch")})
		wantCode(t, err, codes.FailedPrecondition, "no command given")
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "nat-nocmd"})
		wantCode(t, err, codes.NotFound, "nat-nocmd")
		// The name was not left behind in the runtime either.
		create(mkContainer("nat-nocmd", e.layout, "true"))
		defer rm("nat-nocmd")
		if st := waitFinal(t, d, "nat-nocmd").GetStatus(); st.GetPhase() != "Exited" || st.GetExitCode() != 0 {
			t.Fatalf("status %v, want Exited 0", st)
		}
	})

	t.Run("bad image and unknown runtime", func(t *testing.T) {
		_, err := cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("nat-noimg", "example.com/missing:1", "true")})
		wantCode(t, err, codes.FailedPrecondition, "example.com/missing:1")
		_, err = cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("nat-noimg", "/nonexistent/layout", "true")})
		wantCode(t, err, codes.FailedPrecondition, "/nonexistent/layout")
		_, err = cs.GetContainer(ctx, &v1.GetContainerRequest{Name: "nat-noimg"})
		wantCode(t, err, codes.NotFound, "nat-noimg")
		c := mkContainer("nat-kata", e.layout, "true")
		c.Spec.Runtime = "kata"
		_, err = cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c})
		wantField(t, err, "container.spec.runtime")
		wantCode(t, err, codes.InvalidArgument, `"kata" is not one of native, containerd`)
		// containerd was not configured: it says what to set.
		c = mkContainer("nat-ctrd", e.layout, "true")
		c.Spec.Runtime = "containerd"
		_, err = cs.CreateContainer(ctx, &v1.CreateContainerRequest{Container: c})
		wantCode(t, err, codes.FailedPrecondition, "containerd-address")
	})

}

// The environment of restartHelper: its data dir makes the test binary
// the helper; the others give swarm-init and the image layout.
const (
	restartHelperEnv = "STRATOSWARM_SERVER_TEST_RESTART_DIR"
	helperInitEnv    = "STRATOSWARM_SERVER_TEST_INIT"
	helperImageEnv   = "STRATOSWARM_SERVER_TEST_IMAGE"
)

// restartHelper runs in a child process: a swarmd on the data dir dir
// that creates the native container nat-long, prints "ready" and waits to
// be killed, as a swarmd dies.
func restartHelper(dir string) int {
	e := nativeEnv{init: os.Getenv(helperInitEnv), layout: os.Getenv(helperImageEnv)}
	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Idle before it dies: no plugin install is cut off half-way.
	<-srv.BuiltinsInstalled()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+srv.Token())
	c, err := v1.NewContainerServiceClient(conn).CreateContainer(ctx, &v1.CreateContainerRequest{Container: mkContainer("nat-long", e.layout, "sleep", "1000")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if c.GetStatus().GetPhase() != "Running" {
		fmt.Fprintf(os.Stderr, "nat-long is %v, want Running\n", c.GetStatus())
		return 1
	}
	fmt.Println("ready")
	select {}
}

// TestNativeContainerLostInRestart: a swarmd dies (SIGKILL) with a native
// container running; the container dies with it, and the next swarmd on
// the data dir records it Failed with the native runtime's Lost reason.
func TestNativeContainerLostInRestart(t *testing.T) {
	e := setupNative(t)
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), restartHelperEnv+"="+dir, helperInitEnv+"="+e.init, helperImageEnv+"="+e.layout)
	var stderr strings.Builder
	child.Stderr = &stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("the first swarmd did not start its container: %q %v\n%s", line, err, stderr.String())
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait() // killed: the error says so

	srv, err := server.New(nativeConfig(dir, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	cs := v1.NewContainerServiceClient(d.conn)
	c, err := cs.GetContainer(d.ctx(), &v1.GetContainerRequest{Name: "nat-long"})
	if err != nil {
		t.Fatal(err)
	}
	// Reconciled before Start returned: no waiting.
	if st := c.GetStatus(); st.GetPhase() != "Failed" || !strings.HasPrefix(st.GetReason(), "Lost") || st.GetPid() != 0 || st.GetFinishTime() == nil {
		t.Fatalf("after the restart: %v, want Failed with the native runtime's Lost reason", st)
	}
	if c.GetSpec().GetRuntime() != "native" {
		t.Errorf("runtime %q, want native kept in the record", c.GetSpec().GetRuntime())
	}
	if _, err := cs.DeleteContainer(d.ctx(), &v1.DeleteContainerRequest{Name: "nat-long"}); err != nil {
		t.Fatalf("delete a lost container: %v", err)
	}
}

// lockedBuffer is a log destination the server's goroutines may write
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNativeUnavailable: a swarmd whose native runtime cannot be created
// still starts; native containers, the default, are refused with the
// reason and the setting to fix, and nothing is recorded.
func TestNativeUnavailable(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.NativeInit = filepath.Join(dir, "no-swarm-init")
	var logged lockedBuffer
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatalf("swarmd must start without the native runtime: %v", err)
	}
	if l := logged.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "native runtime unavailable") || !strings.Contains(l, "no-swarm-init") || !strings.Contains(l, "native-init") {
		t.Errorf("no warning saying why and what to set:\n%s", l)
	}
	d := wrap(t, srv, dir)
	cs := v1.NewContainerServiceClient(d.conn)
	for _, rt := range []string{"", "native"} {
		c := mkContainer("c", "scratch", "/x")
		c.Spec.Runtime = rt
		_, err := cs.CreateContainer(d.ctx(), &v1.CreateContainerRequest{Container: c})
		wantCode(t, err, codes.FailedPrecondition, "no-swarm-init")
		wantCode(t, err, codes.FailedPrecondition, "native-init")
		_, err = cs.GetContainer(d.ctx(), &v1.GetContainerRequest{Name: "c"})
		wantCode(t, err, codes.NotFound, "")
	}
}
