package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/container/conformance"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// env is what TestMain set up: swarm-init built from this tree, the test
// image (an OCI layout tar) and a runtime with it imported.
type env struct {
	init      string
	imageTar  string
	rt        *Runtime
	image     string
	cgParent  string
	stateRoot string
}

// testEnv is filled in by TestMain before any test runs and only read
// afterwards.
var testEnv env

// helperEnv runs the test binary as a helper process (see TestMain).
const helperEnv = "STRATOSWARM_NATIVE_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helper(h))
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime/native tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	if os.Geteuid() != 0 {
		return 0, errors.New("these tests make namespaces, cgroups and mounts for real and need root")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "stratoswarm-native-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the rootless test runs as nobody
		return 0, err
	}
	init := filepath.Join(dir, InitName)
	build := exec.Command("go", "build", "-o", init, "./cmd/swarm-init")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build swarm-init: %v: %s", err, out)
	}
	layout := filepath.Join(dir, "image")
	if _, err := image.BuildBusybox(layout, image.Options{Applets: append(append([]string{}, image.DefaultApplets...), "unshare")}); err != nil {
		return 0, fmt.Errorf("build the test image: %w", err)
	}
	tarPath := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return 0, err
	}
	if err := image.WriteTar(layout, f); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	parent := fmt.Sprintf("stratoswarm-test-%d", os.Getpid())
	rt, err := New(Options{StateDir: filepath.Join(dir, "state"), InitPath: init, CgroupParent: parent})
	if err != nil {
		return 0, err
	}
	ref, err := rt.ImportImage(context.Background(), tarPath)
	if err != nil {
		return 0, err
	}
	testEnv = env{init: init, imageTar: tarPath, rt: rt, image: ref, cgParent: parent, stateRoot: dir}
	code := m.Run()
	rt.Close()
	for _, sub := range []string{"memory", "cpu", "pids", "unified"} {
		os.Remove(filepath.Join("/sys/fs/cgroup", sub, parent))
	}
	return code, nil
}

// newRuntime opens a runtime of its own on a fresh state directory.
func newRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	opts.InitPath = testEnv.init
	if opts.CgroupParent == "" {
		opts.CgroupParent = testEnv.cgParent
	}
	rt, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.ImportImage(context.Background(), testEnv.imageTar); err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestConformance(t *testing.T) {
	conformance.Run(t, testEnv.rt, testEnv.image)
}

// run runs spec to its end and returns its status and logs; the
// container is deleted when the test ends.
func run(t *testing.T, rt *Runtime, spec container.Spec) (container.Status, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if spec.Image == "" {
		spec.Image = testEnv.image
	}
	if err := rt.Create(ctx, spec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background(), spec.ID, 0); _ = rt.Delete(context.Background(), spec.ID) })
	if err := rt.Start(ctx, spec.ID); err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err := rt.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	rc, err := rt.Logs(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return st, string(b)
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// TestAllSevenNamespaces compares each namespace the container's command
// is in with the test's own, and checks what each one means from inside.
func TestAllSevenNamespaces(t *testing.T) {
	kinds := []string{"mnt", "pid", "net", "ipc", "uts", "user", "cgroup"}
	script := ""
	for _, k := range kinds {
		script += fmt.Sprintf("echo %s=$(readlink /proc/self/ns/%s); ", k, k)
	}
	script += "echo uidmap=$(cat /proc/self/uid_map); echo cgroup=$(cat /proc/self/cgroup); echo pid=$$"
	st, logs := run(t, testEnv.rt, container.Spec{ID: "ns-all", Command: sh(script)})
	if st.ExitCode != 0 {
		t.Fatalf("exit %d: %s", st.ExitCode, logs)
	}
	got := map[string]string{}
	for _, line := range strings.Split(logs, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = strings.TrimSpace(v)
		}
	}
	for _, k := range kinds {
		host, err := os.Readlink("/proc/self/ns/" + k)
		if err != nil {
			t.Fatal(err)
		}
		if got[k] == "" || got[k] == host {
			t.Errorf("namespace %s inside = %q, host %q: want a different one", k, got[k], host)
		}
	}
	if f := strings.Fields(got["uidmap"]); len(f) != 3 || f[0] != "0" || f[2] == "4294967295" {
		t.Errorf("uid_map inside = %q: want root mapped over a bounded range (a user namespace of its own)", got["uidmap"])
	}
	if !strings.HasSuffix(got["cgroup"], ":/") {
		t.Errorf("/proc/self/cgroup inside = %q: want the cgroup namespace's root /", got["cgroup"])
	}
	if got["pid"] != "1" {
		t.Errorf("the command is pid %q inside, want 1", got["pid"])
	}
}

// TestConfinement reads the confinement from inside: seccomp filter mode,
// no_new_privs, Docker's capability set and nothing in the ambient set.
func TestConfinement(t *testing.T) {
	st, logs := run(t, testEnv.rt, container.Spec{ID: "confine", Command: []string{"/bin/cat", "/proc/self/status"}})
	if st.ExitCode != 0 {
		t.Fatalf("exit %d: %s", st.ExitCode, logs)
	}
	want := map[string]string{
		"Seccomp":    "2",
		"NoNewPrivs": "1",
		// CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
		// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
		"CapEff": "00000000a80425fb",
		"CapBnd": "00000000a80425fb",
		"CapAmb": "0000000000000000",
	}
	for _, line := range strings.Split(logs, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if w, there := want[k]; ok && there {
			if strings.TrimSpace(v) != w {
				t.Errorf("%s = %q, want %q", k, strings.TrimSpace(v), w)
			}
			delete(want, k)
		}
	}
	for k := range want {
		t.Errorf("/proc/self/status inside lacks %s", k)
	}
}

// TestSeccompDeniesUnshare: unshare(CLONE_NEWUSER) needs no capability,
// so only the seccomp filter (Docker's denies it) can refuse it; without
// the filter the same command succeeds.
func TestSeccompDeniesUnshare(t *testing.T) {
	cmd := sh("unshare -U true && echo unshared || echo refused")
	_, logs := run(t, testEnv.rt, container.Spec{ID: "seccomp-on", Command: cmd})
	if !strings.Contains(logs, "refused") || !strings.Contains(logs, "Operation not permitted") {
		t.Errorf("with the default filter: %q, want unshare refused with EPERM", logs)
	}
	open := newRuntime(t, Options{NoSeccomp: true, WarmInits: -1}) // and every start cold
	_, logs = run(t, open, container.Spec{ID: "seccomp-off", Command: cmd})
	if !strings.Contains(logs, "unshared") {
		t.Errorf("without the filter: %q, want unshare to succeed (the test shows nothing otherwise)", logs)
	}
}

// TestWritesConfinedToLayer: what a container writes lands in its own
// layer; the shared image and the next container do not see it.
func TestWritesConfinedToLayer(t *testing.T) {
	rt := testEnv.rt
	st, logs := run(t, rt, container.Spec{ID: "writer", Command: sh("echo mark > /etc/written && rm /bin/cat && echo done")})
	if st.ExitCode != 0 || !strings.Contains(logs, "done") {
		t.Fatalf("exit %d: %s", st.ExitCode, logs)
	}
	img, err := rt.images.lookup(testEnv.image)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(img.rootfs, "etc", "written")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the write reached the shared image root: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(img.rootfs, "bin", "cat")); err != nil {
		t.Errorf("a delete in the container removed the image's /bin/cat: %v", err)
	} else if fi.Mode()&os.ModeSymlink == 0 && fi.Size() < 1000 {
		t.Errorf("the image's /bin/cat changed")
	}
	rt.mu.Lock()
	layers := rt.ctrs["writer"].rec.LayerDir
	rt.mu.Unlock()
	if b, err := os.ReadFile(filepath.Join(layers, "upper", "etc", "written")); err != nil || string(b) != "mark\n" {
		t.Errorf("the container's layer lacks its write: %q, %v", b, err)
	}
	st, logs = run(t, rt, container.Spec{ID: "reader", Command: sh("test -e /etc/written && echo seen; /bin/cat /proc/self/comm")})
	if strings.Contains(logs, "seen") || st.ExitCode != 0 {
		t.Errorf("the next container sees the first one's writes or lost /bin/cat: exit %d, %q", st.ExitCode, logs)
	}
}

// TestNothingLeaks: after a run and Delete, no mount, cgroup, directory
// or process of the container is left on the host.
func TestNothingLeaks(t *testing.T) {
	rt := testEnv.rt
	ctx := context.Background()
	const id = "leaks"
	spec := container.Spec{ID: id, Image: testEnv.image, Command: sh("sleep 1000 & sleep 1000"), Limits: container.Limits{MemoryBytes: 64 << 20, Pids: 20, CPUs: 0.5}}
	if err := rt.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	cgDirs := []string{}
	for _, sub := range []string{"memory", "cpu", "pids"} {
		d := filepath.Join("/sys/fs/cgroup", sub, testEnv.cgParent, id)
		if _, err := os.Stat(d); err != nil {
			t.Errorf("while it runs, its %s cgroup is missing: %v", sub, err)
		}
		cgDirs = append(cgDirs, d)
	}
	st, _ := rt.Status(ctx, id)
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", testEnv.cgParent, id, "memory.limit_in_bytes")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(64<<20) {
		t.Errorf("memory.limit_in_bytes = %q, %v; want %d", b, err, 64<<20)
	}
	if err := rt.Stop(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, d := range cgDirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s left: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(rt.dir, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory left: %v", err)
	}
	if _, err := os.Stat(rt.recordPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record left: %v", err)
	}
	rt.Sweep()
	if left, err := os.ReadDir(rt.trash); err != nil || len(left) != 0 {
		t.Errorf("the trash still holds %v (%v) after a sweep", left, err)
	}
	if err := syscall.Kill(st.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still there: %v", st.Pid, err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), filepath.Join(rt.dir, id)) {
		t.Errorf("a mount of the container is in the host's mount table")
	}
}

// TestCrashedContainerIsCleanedUp: a container whose command fails while
// it has children running leaves no process and no cgroup behind (its
// init was PID 1 of its namespace: the kernel kills the rest).
func TestCrashedContainerIsCleanedUp(t *testing.T) {
	st, logs := run(t, testEnv.rt, container.Spec{ID: "crash", Command: sh("sleep 1000 & sleep 1000 & exit 3"), Limits: container.Limits{Pids: 10}})
	if st.ExitCode != 3 {
		t.Errorf("exit %d, want 3; logs %q", st.ExitCode, logs)
	}
	// Its children died with it: the cgroup holds nothing (or is gone).
	procs, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", testEnv.cgParent, "crash", "cgroup.procs"))
	if err == nil && strings.TrimSpace(string(procs)) != "" {
		t.Errorf("the crashed container's children live on: %q", procs)
	}
	if err := testEnv.rt.Delete(context.Background(), "crash"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", testEnv.cgParent, "crash")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crashed container's cgroup is left after delete: %v", err)
	}
}

// TestReconcileAfterRuntimeDies: a process running a container is killed
// with SIGKILL; its container dies with it, and the next runtime on the
// same state directory records it as lost and leaves nothing running.
func TestReconcileAfterRuntimeDies(t *testing.T) {
	state := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=run-and-hang", "STATE="+state, "INIT="+testEnv.init, "IMAGE="+testEnv.imageTar, "CGPARENT="+testEnv.cgParent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The parent-death signal kills the container's init.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the container (pid %d) outlived its runtime: %v", pid, err)
	}
	left := warmGroups(testEnv.cgParent)
	rt := newRuntime(t, Options{StateDir: state})
	for _, g := range warmGroups(testEnv.cgParent) {
		if slices.Contains(left, g) && strings.HasPrefix(g, rt.warmPrefix) {
			t.Errorf("the dead runtime's warm init cgroup %s is left", g)
		}
	}
	st, err := rt.Status(context.Background(), "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != container.Exited || st.Reason != reasonLost {
		t.Errorf("after reconcile: %+v, want Exited with reason %q", st, reasonLost)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", testEnv.cgParent, "survivor")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lost container's cgroup is left: %v", err)
	}
	if err := rt.Delete(context.Background(), "survivor"); err != nil {
		t.Fatal(err)
	}
}

// warmGroups lists the warm inits' groups under parent (memory hierarchy).
func warmGroups(parent string) []string {
	var out []string
	ents, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup/memory", parent))
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "warm-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestWarmInitsWaitInCgroupsOfTheirOwn: on cgroup v1 warm inits wait in
// groups of their own, which become their containers' (with the limits
// applied); after Close no group is left under the runtime's parent.
func TestWarmInitsWaitInCgroupsOfTheirOwn(t *testing.T) {
	parent := fmt.Sprintf("stratoswarm-warm-%d", os.Getpid())
	rt := newRuntime(t, Options{CgroupParent: parent})
	if rt.CgroupVersion() != CgroupsV1 {
		t.Fatalf("these machines have memory, cpu and pids on cgroup v1; the runtime picked %s", rt.CgroupVersion())
	}
	for i := range 3 {
		id := fmt.Sprintf("warm-%d", i)
		st, logs := run(t, rt, container.Spec{ID: id, Image: testEnv.image, Limits: container.Limits{MemoryBytes: 32 << 20}, Command: sh("true")})
		if st.ExitCode != 0 {
			t.Fatalf("run %d: %+v %q", i, st, logs)
		}
		if err := rt.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * refillQuiet) // let the refill place the next init
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(warmGroups(parent)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := warmGroups(parent); len(g) != 2 {
		t.Errorf("warm groups %v, want one per warm init (2)", g)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"memory", "cpu", "pids"} {
		ents, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h, parent))
		for _, e := range ents {
			if e.IsDir() {
				t.Errorf("after Close, cgroup %s/%s/%s is left", h, parent, e.Name())
			}
		}
		if err := os.Remove(filepath.Join("/sys/fs/cgroup", h, parent)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove the test's parent: %v", err)
		}
	}
}

// TestCgroupV2 runs a container in the unified hierarchy. On a hybrid host
// (these machines) cgroup2 has no memory, cpu or pids controller, so a
// container without limits runs there and one with limits is refused
// with an error that says why; on a unified host limits apply.
func TestCgroupV2(t *testing.T) {
	rt, err := New(Options{StateDir: t.TempDir(), InitPath: testEnv.init, CgroupParent: testEnv.cgParent + "-v2", Cgroups: CgroupsV2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.ImportImage(context.Background(), testEnv.imageTar); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filepath.Join(rt.cgroups.unified, testEnv.cgParent+"-v2"))
	ctx := context.Background()
	if err := rt.Create(ctx, container.Spec{ID: "v2", Image: testEnv.image, Command: []string{"/bin/sleep", "1000"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(ctx, "v2", 0); _ = rt.Delete(ctx, "v2") })
	if err := rt.Start(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	st, _ := rt.Status(ctx, "v2")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := "0::/" + testEnv.cgParent + "-v2/v2"
	if !strings.Contains(string(b), want) {
		t.Errorf("/proc/%d/cgroup = %q, want it in %s", st.Pid, b, want)
	}
	if err := rt.Stop(ctx, "v2", 0); err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(rt.cgroups.unified, testEnv.cgParent+"-v2", "v2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the v2 cgroup is left after exit and delete: %v", err)
	}
	err = rt.Create(ctx, container.Spec{ID: "v2-limited", Image: testEnv.image, Command: []string{"/bin/true"}, Limits: container.Limits{MemoryBytes: 64 << 20}})
	controllers, _ := os.ReadFile(filepath.Join(rt.cgroups.unified, "cgroup.controllers"))
	if strings.Contains(string(controllers), "memory") {
		if err != nil {
			t.Errorf("a memory limit on a unified host with the memory controller: %v", err)
		}
		_ = rt.Delete(ctx, "v2-limited")
	} else if err == nil || !strings.Contains(err.Error(), "controller") {
		t.Errorf("a memory limit where cgroup2 has no memory controller: %v, want an error naming the controllers", err)
	}
}

// TestRootless runs the runtime as nobody: root inside maps to nobody
// outside, containers run without cgroups, and one with limits runs with
// a warning in its status that says they are not enforced and why.
func TestRootless(t *testing.T) {
	state := t.TempDir()
	for _, d := range []string{filepath.Dir(state), state} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary's own directory is private to root: run a copy.
	self := filepath.Join(testEnv.stateRoot, "native.test")
	if err := copyFile(os.Args[0], self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=rootless", "STATE="+filepath.Join(state, "s"), "INIT="+testEnv.init, "IMAGE="+testEnv.imageTar, "HOME=/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rootless helper: %v\n%s", err, out)
	}
	var lines []string
	for _, line := range strings.Split(string(out), "\n") {
		lines = append(lines, strings.Join(strings.Fields(strings.Replace(line, "=", "= ", 1)), " "))
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"uid-inside= 0", "uidmap= 0 65534 1", "limits-warned= true exit=0", "limited-ran"} {
		if !strings.Contains(got, want) {
			t.Errorf("rootless run lacks %q:\n%s", want, got)
		}
	}
}

// helper is the test binary run as a helper process.
func helper(kind string) int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "helper:", err); return 1 }
	rt, err := New(Options{StateDir: os.Getenv("STATE"), InitPath: os.Getenv("INIT"), CgroupParent: os.Getenv("CGPARENT")})
	if err != nil {
		return fail(err)
	}
	ref, err := rt.ImportImage(ctx, os.Getenv("IMAGE"))
	if err != nil {
		return fail(err)
	}
	switch kind {
	case "run-and-hang":
		spec := container.Spec{ID: "survivor", Image: ref, Command: []string{"/bin/sleep", "1000"}, Limits: container.Limits{MemoryBytes: 64 << 20}}
		if err := rt.Create(ctx, spec); err != nil {
			return fail(err)
		}
		if err := rt.Start(ctx, spec.ID); err != nil {
			return fail(err)
		}
		st, _ := rt.Status(ctx, spec.ID)
		fmt.Println(st.Pid)
		select {} // until killed
	case "rootless":
		spec := container.Spec{ID: "rootless", Image: ref, Command: sh("echo uid-inside=$(id -u); echo uidmap=$(cat /proc/self/uid_map)")}
		if err := rt.Create(ctx, spec); err != nil {
			return fail(err)
		}
		if err := rt.Start(ctx, spec.ID); err != nil {
			return fail(err)
		}
		if _, err := rt.Wait(ctx, spec.ID); err != nil {
			return fail(err)
		}
		rc, err := rt.Logs(ctx, spec.ID)
		if err != nil {
			return fail(err)
		}
		io.Copy(os.Stdout, rc)
		rc.Close()
		limited := container.Spec{ID: "limited", Image: ref, Command: sh("echo limited-ran"), Limits: container.Limits{MemoryBytes: 64 << 20}}
		if err := rt.Create(ctx, limited); err != nil {
			return fail(err)
		}
		if err := rt.Start(ctx, limited.ID); err != nil {
			return fail(err)
		}
		st, err := rt.Wait(ctx, limited.ID)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("limits-warned=%v exit=%d (%q)\n", len(st.Warnings) == 1 && strings.Contains(st.Warnings[0], "without root"), st.ExitCode, st.Warnings)
		rc, err = rt.Logs(ctx, limited.ID)
		if err != nil {
			return fail(err)
		}
		io.Copy(os.Stdout, rc)
		rc.Close()
		if err := rt.Delete(ctx, limited.ID); err != nil {
			return fail(err)
		}
		if err := rt.Delete(ctx, spec.ID); err != nil {
			return fail(err)
		}
		return 0
	}
	return fail(fmt.Errorf("unknown helper %q", kind))
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// TestTornRecordIsDropped: a record torn by a host crash neither stops
// the runtime from opening nor leaves the container behind.
func TestTornRecordIsDropped(t *testing.T) {
	state := t.TempDir()
	rt := newRuntime(t, Options{StateDir: state})
	ctx := context.Background()
	if err := rt.Create(ctx, container.Spec{ID: "torn", Image: testEnv.image, Command: []string{"/bin/true"}, Limits: container.Limits{Pids: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rt.recordPath("torn"), []byte(`{"spec":{"ID":"to`), 0o644); err != nil {
		t.Fatal(err)
	}
	again := newRuntime(t, Options{StateDir: state})
	if _, err := again.Status(ctx, "torn"); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("Status of a torn record = %v, want ErrNotFound", err)
	}
	for _, p := range []string{filepath.Join(state, "containers", "torn"), filepath.Join("/sys/fs/cgroup/pids", testEnv.cgParent, "torn")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}

// TestUnreadableImageRoot: an image whose unpacked root is gone is a clear
// error at Create, and nothing is left.
func TestUnreadableImageRoot(t *testing.T) {
	state := t.TempDir()
	rt := newRuntime(t, Options{StateDir: state})
	img, err := rt.images.lookup(testEnv.image)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(img.rootfs); err != nil {
		t.Fatal(err)
	}
	err = rt.Create(context.Background(), container.Spec{ID: "noroot", Image: testEnv.image, Command: []string{"/bin/true"}})
	if err == nil || !strings.Contains(err.Error(), "root filesystem") || !strings.Contains(err.Error(), "import it again") {
		t.Errorf("Create on an unreadable image root = %v, want an error naming the root filesystem and what to do", err)
	}
	if _, err := rt.Status(context.Background(), "noroot"); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("Status after the refused Create = %v, want ErrNotFound", err)
	}
}

// TestSpawnerDeathAndClose: containers die with the spawner; the runtime
// records their exit, starts a new spawner for the next container, and
// after Close refuses to start more.
func TestSpawnerDeathAndClose(t *testing.T) {
	rt := newRuntime(t, Options{})
	ctx := context.Background()
	start := func(id string) {
		t.Helper()
		if err := rt.Create(ctx, container.Spec{ID: id, Image: testEnv.image, Command: []string{"/bin/sleep", "1000"}}); err != nil {
			t.Fatal(err)
		}
		if err := rt.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	start("orphan")
	rt.mu.Lock()
	sp := rt.spawn
	rt.mu.Unlock()
	if err := sp.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := rt.Wait(wctx, "orphan")
	if err != nil || st.State != container.Exited || st.ExitCode != 137 {
		t.Fatalf("after the spawner was killed: %+v, %v; want Exited 137", st, err)
	}
	st2, logs := run(t, rt, container.Spec{ID: "after", Command: []string{"/bin/echo", "again"}})
	if st2.ExitCode != 0 || !strings.Contains(logs, "again") {
		t.Errorf("a container after the spawner died: %+v %q", st2, logs)
	}
	start("closing")
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := rt.Wait(wctx, "closing"); err != nil || st.State != container.Exited || st.Reason != reasonClosed {
		t.Errorf("after Close: %+v, %v; want the running container Exited with reason %q", st, err, reasonClosed)
	}
	if err := rt.Create(ctx, container.Spec{ID: "late", Image: testEnv.image, Command: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx, "late"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Start after Close = %v, want an error saying the runtime is closed", err)
	}
	// A closed runtime touches nothing: its containers' cgroups may be
	// another runtime's by now.
	if err := rt.Delete(ctx, "closing"); err == nil || !strings.Contains(err.Error(), "the runtime is closed") {
		t.Errorf("Delete after Close = %v, want an error saying the runtime is closed", err)
	}
	rt.Close()
}

// waitWarm waits until rt's pool of warm inits is full (the refiller runs
// in the background).
func waitWarm(t *testing.T, rt *Runtime) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(rt.warm) < cap(rt.warm) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool of warm inits did not fill: %d of %d", len(rt.warm), cap(rt.warm))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWarmInitsPrepareTheLastImage: after a container of an image, the
// warm inits assemble that image's root ahead of time and the next
// container of it uses one (its layers are in the pool); a container of
// another image still runs (the prepared inits are discarded), and
// deleting leaves no layers behind.
func TestWarmInitsPrepareTheLastImage(t *testing.T) {
	rt := newRuntime(t, Options{})
	st, logs := run(t, rt, container.Spec{ID: "first", Command: sh("echo one > /tmp/f; cat /tmp/f")})
	if st.ExitCode != 0 || !strings.Contains(logs, "one") {
		t.Fatalf("first: %+v %q", st, logs)
	}
	waitWarm(t, rt)
	st, logs = run(t, rt, container.Spec{ID: "second", Command: sh("test -e /tmp/f && echo leaked; echo two; cat /proc/self/mountinfo | wc -l")})
	if st.ExitCode != 0 || strings.Contains(logs, "leaked") || !strings.Contains(logs, "two") {
		t.Fatalf("second: %+v %q", st, logs)
	}
	rt.mu.Lock()
	layers := rt.ctrs["second"].rec.LayerDir
	rt.mu.Unlock()
	if filepath.Dir(layers) != rt.pool {
		t.Errorf("the second container's layers are in %s, want a prepared set in %s", layers, rt.pool)
	}
	// Another image: the scratch image with a static busybox mounted.
	st, logs = run(t, rt, container.Spec{ID: "other", Image: Scratch,
		Command: []string{"/busybox", "echo", "scratch-ran"},
		Mounts:  []container.Mount{{Source: "/bin/busybox", Target: "/busybox", ReadOnly: true}}})
	if st.ExitCode != 0 || !strings.Contains(logs, "scratch-ran") {
		t.Fatalf("a container of another image: %+v %q", st, logs)
	}
	for _, id := range []string{"first", "second", "other"} {
		if err := rt.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	rt.Sweep()
	if left, _ := os.ReadDir(rt.pool); len(left) != 0 {
		t.Errorf("layers left in the pool after close: %v", left)
	}
	if left, _ := os.ReadDir(rt.trash); len(left) != 0 {
		t.Errorf("the trash holds %v after a sweep", left)
	}
}
