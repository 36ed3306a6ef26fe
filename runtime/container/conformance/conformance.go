// Package conformance is the test suite every container.Runtime backend
// passes: exit codes, env, logs, isolation (UTS, PID, mount and network
// namespaces), memory and pids limits, stop, delete and the errors of
// bad input. Backends call Run from their own tests with an image they
// have made available (the busybox test image of runtime/image).
package conformance

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// timeout bounds each subtest's calls into the runtime, so that a hung
// backend fails instead of blocking the test binary.
const timeout = 60 * time.Second

// Run runs the conformance subtests against rt; image must name a busybox
// image the runtime knows (runtime/image's test image). Container IDs
// start with "conf-"; each subtest deletes what it created.
func Run(t *testing.T, rt container.Runtime, image string) {
	s := suite{rt: rt, image: image}
	t.Run("TrueExitsZero", s.trueExitsZero)
	t.Run("ExitCode", s.exitCode)
	t.Run("Env", s.env)
	t.Run("Logs", s.logs)
	t.Run("Hostname", s.hostname)
	t.Run("PIDNamespace", s.pidNamespace)
	t.Run("MountNamespace", s.mountNamespace)
	t.Run("NetworkNamespace", s.networkNamespace)
	t.Run("BindMounts", s.bindMounts)
	t.Run("MemoryLimitOOM", s.memoryOOM)
	t.Run("KillIsNotOOM", s.killIsNotOOM)
	t.Run("PidsLimit", s.pidsLimit)
	t.Run("Stop", s.stop)
	t.Run("DeleteAndRecreate", s.deleteAndRecreate)
	t.Run("MissingImage", s.missingImage)
	t.Run("DuplicateID", s.duplicateID)
	t.Run("MissingCommand", s.missingCommand)
	t.Run("BadLimits", s.badLimits)
}

type suite struct {
	rt    container.Runtime
	image string
}

func context60(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// create creates a container of the suite's image and removes it when the
// test ends.
func (s suite) create(t *testing.T, spec container.Spec) {
	t.Helper()
	ctx := context60(t)
	if spec.Image == "" {
		spec.Image = s.image
	}
	if err := s.rt.Create(ctx, spec); err != nil {
		t.Fatalf("Create(%s): %v", spec.ID, err)
	}
	t.Cleanup(func() { s.remove(spec.ID) })
}

// remove stops and deletes id, ignoring errors (cleanup).
func (s suite) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = s.rt.Stop(ctx, id, 0)
	_ = s.rt.Delete(ctx, id)
}

// run creates, starts and waits for a container and returns its status
// and logs.
func (s suite) run(t *testing.T, spec container.Spec) (container.Status, string) {
	t.Helper()
	s.create(t, spec)
	ctx := context60(t)
	if err := s.rt.Start(ctx, spec.ID); err != nil {
		t.Fatalf("Start(%s): %v", spec.ID, err)
	}
	st, err := s.rt.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatalf("Wait(%s): %v", spec.ID, err)
	}
	if st.State != container.Exited {
		t.Fatalf("Wait(%s): state %s, want %s", spec.ID, st.State, container.Exited)
	}
	return st, s.logsOf(t, spec.ID)
}

func (s suite) logsOf(t *testing.T, id string) string {
	t.Helper()
	rc, err := s.rt.Logs(context60(t), id)
	if err != nil {
		t.Fatalf("Logs(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read logs of %s: %v", id, err)
	}
	return string(b)
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func wantExit(t *testing.T, st container.Status, code int, logs string) {
	t.Helper()
	if st.ExitCode != code {
		t.Fatalf("exit code %d, want %d; logs:\n%s", st.ExitCode, code, logs)
	}
}

func (s suite) trueExitsZero(t *testing.T) {
	st, logs := s.run(t, container.Spec{ID: "conf-true", Command: []string{"/bin/true"}})
	wantExit(t, st, 0, logs)
	if st.OOMKilled {
		t.Errorf("OOMKilled = true for /bin/true")
	}
}

func (s suite) exitCode(t *testing.T) {
	st, logs := s.run(t, container.Spec{ID: "conf-exit", Command: sh("exit 3")})
	wantExit(t, st, 3, logs)
}

func (s suite) env(t *testing.T) {
	st, logs := s.run(t, container.Spec{ID: "conf-env", Command: sh(`echo "v=$CONF_VAR"`), Env: []string{"CONF_VAR=hello-env"}})
	wantExit(t, st, 0, logs)
	if !strings.Contains(logs, "v=hello-env") {
		t.Errorf("logs %q do not show the env var", logs)
	}
}

func (s suite) logs(t *testing.T) {
	st, logs := s.run(t, container.Spec{ID: "conf-logs", Command: sh("echo to-stdout; echo to-stderr >&2")})
	wantExit(t, st, 0, logs)
	for _, want := range []string{"to-stdout", "to-stderr"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs %q lack %q", logs, want)
		}
	}
}

func (s suite) hostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	st, logs := s.run(t, container.Spec{ID: "conf-hostname", Command: []string{"/bin/hostname"}})
	wantExit(t, st, 0, logs)
	if got := strings.TrimSpace(logs); got != "conf-hostname" {
		t.Errorf("hostname inside = %q, want the ID conf-hostname (host: %q)", got, host)
	}
	st, logs = s.run(t, container.Spec{ID: "conf-hostname2", Hostname: "given-name", Command: []string{"/bin/hostname"}})
	wantExit(t, st, 0, logs)
	if got := strings.TrimSpace(logs); got != "given-name" {
		t.Errorf("hostname inside = %q, want given-name", got)
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("the host's hostname changed from %q to %q", host, now)
	}
}

func (s suite) pidNamespace(t *testing.T) {
	st, logs := s.run(t, container.Spec{ID: "conf-pid", Command: sh(`echo "pid=$$"`)})
	wantExit(t, st, 0, logs)
	if !strings.Contains(logs, "pid=1\n") {
		t.Errorf("logs %q: the command is not PID 1", logs)
	}
}

func (s suite) mountNamespace(t *testing.T) {
	host, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	st, logs := s.run(t, container.Spec{ID: "conf-mnt", Command: []string{"/bin/cat", "/proc/self/mountinfo"}})
	wantExit(t, st, 0, logs)
	if strings.TrimSpace(logs) == "" {
		t.Fatal("empty mountinfo inside")
	}
	if strings.TrimSpace(logs) == strings.TrimSpace(string(host)) {
		t.Errorf("the container sees the host's mount table")
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/" {
			return
		}
	}
	t.Errorf("no root mount in the container's mountinfo:\n%s", logs)
}

func (s suite) networkNamespace(t *testing.T) {
	st, logs := s.run(t, container.Spec{ID: "conf-net", Command: []string{"/bin/cat", "/proc/net/dev"}})
	wantExit(t, st, 0, logs)
	var ifaces []string
	for _, line := range strings.Split(logs, "\n") {
		name, _, ok := strings.Cut(line, ":")
		if ok && !strings.Contains(name, "|") {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces inside = %q, want only lo; /proc/net/dev:\n%s", ifaces, logs)
	}
}

func (s suite) bindMounts(t *testing.T) {
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, logs := s.run(t, container.Spec{
		ID: "conf-mounts",
		Command: sh(`cat /ro/in.txt; echo; echo from-container > /rw/out.txt || exit 10
			if touch /ro/x 2>/dev/null; then echo ro-writable; fi`),
		Mounts: []container.Mount{{Source: ro, Target: "/ro", ReadOnly: true}, {Source: rw, Target: "/rw"}},
	})
	wantExit(t, st, 0, logs)
	if !strings.Contains(logs, "from-host") {
		t.Errorf("read-only mount not readable; logs %q", logs)
	}
	if strings.Contains(logs, "ro-writable") {
		t.Errorf("read-only mount was writable")
	}
	b, err := os.ReadFile(filepath.Join(rw, "out.txt"))
	if err != nil || strings.TrimSpace(string(b)) != "from-container" {
		t.Errorf("read-write mount: host sees %q, %v; want from-container", b, err)
	}
}

func (s suite) memoryOOM(t *testing.T) {
	st, logs := s.run(t, container.Spec{
		ID:      "conf-oom",
		Command: []string{"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"},
		Limits:  container.Limits{MemoryBytes: 32 << 20},
	})
	wantExit(t, st, 137, logs)
	if !st.OOMKilled {
		t.Errorf("OOMKilled = false after exceeding a 32 MiB limit (status %+v)", st)
	}
	again, err := s.rt.Status(context60(t), "conf-oom")
	if err != nil {
		t.Fatal(err)
	}
	if !again.OOMKilled || again.ExitCode != 137 {
		t.Errorf("Status after Wait = %+v, want OOMKilled with exit 137", again)
	}
}

// killIsNotOOM: a container with a memory limit that is SIGKILLed (exit
// 137) was not OOM-killed.
func (s suite) killIsNotOOM(t *testing.T) {
	s.create(t, container.Spec{ID: "conf-kill", Command: []string{"/bin/sleep", "1000"}, Limits: container.Limits{MemoryBytes: 64 << 20}})
	ctx := context60(t)
	if err := s.rt.Start(ctx, "conf-kill"); err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Stop(ctx, "conf-kill", 0); err != nil {
		t.Fatal(err)
	}
	st, err := s.rt.Wait(ctx, "conf-kill")
	if err != nil {
		t.Fatal(err)
	}
	wantExit(t, st, 137, "")
	if st.OOMKilled {
		t.Errorf("a SIGKILL was reported as an OOM kill: %+v", st)
	}
}

func (s suite) pidsLimit(t *testing.T) {
	st, logs := s.run(t, container.Spec{
		ID:      "conf-pids",
		Command: sh(`for i in $(seq 50); do sleep 1 & done; wait; echo done`),
		Limits:  container.Limits{Pids: 10},
	})
	if !strings.Contains(logs, "fork") && !strings.Contains(logs, "Resource temporarily unavailable") {
		t.Errorf("no fork failure in the logs with pids limit 10 (exit %d); logs:\n%s", st.ExitCode, logs)
	}
}

func (s suite) stop(t *testing.T) {
	s.create(t, container.Spec{ID: "conf-stop", Command: []string{"/bin/sleep", "1000"}})
	ctx := context60(t)
	if err := s.rt.Start(ctx, "conf-stop"); err != nil {
		t.Fatal(err)
	}
	st, err := s.rt.Status(ctx, "conf-stop")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != container.Running || st.Pid <= 0 {
		t.Errorf("Status after Start = %+v, want Running with a pid", st)
	}
	if err := s.rt.Delete(ctx, "conf-stop"); !errors.Is(err, container.ErrRunning) {
		t.Errorf("Delete of a running container = %v, want ErrRunning", err)
	}
	if err := s.rt.Stop(ctx, "conf-stop", 500*time.Millisecond); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st, err = s.rt.Status(ctx, "conf-stop")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != container.Exited {
		t.Errorf("Status after Stop = %+v, want Exited", st)
	}
	if st.OOMKilled {
		t.Errorf("Stop reported as OOM: %+v", st)
	}
}

func (s suite) deleteAndRecreate(t *testing.T) {
	const id = "conf-delete"
	st, logs := s.run(t, container.Spec{ID: id, Command: sh("echo first")})
	wantExit(t, st, 0, logs)
	ctx := context60(t)
	if err := s.rt.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.rt.Status(ctx, id); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("Status after Delete = %v, want ErrNotFound", err)
	}
	if err := s.rt.Delete(ctx, id); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	all, err := s.rt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.ID == id {
			t.Errorf("List still has %s after Delete: %+v", id, c)
		}
	}
	st, logs = s.run(t, container.Spec{ID: id, Command: sh("echo second")})
	wantExit(t, st, 0, logs)
	if strings.Contains(logs, "first") || !strings.Contains(logs, "second") {
		t.Errorf("recreated container's logs = %q, want only its own output", logs)
	}
	found := false
	all, err = s.rt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		found = found || c.ID == id
	}
	if !found {
		t.Errorf("List lacks the recreated %s", id)
	}
}

func (s suite) missingImage(t *testing.T) {
	err := s.rt.Create(context60(t), container.Spec{ID: "conf-noimage", Image: "stratoswarm.local/does-not-exist:none", Command: []string{"/bin/true"}})
	if err == nil {
		s.remove("conf-noimage")
	}
	if !errors.Is(err, container.ErrImageNotFound) {
		t.Errorf("Create with a missing image = %v, want ErrImageNotFound", err)
	}
}

func (s suite) duplicateID(t *testing.T) {
	s.create(t, container.Spec{ID: "conf-dup", Command: []string{"/bin/true"}})
	err := s.rt.Create(context60(t), container.Spec{ID: "conf-dup", Image: s.image, Command: []string{"/bin/true"}})
	if !errors.Is(err, container.ErrExists) {
		t.Errorf("second Create with the same ID = %v, want ErrExists", err)
	}
}

func (s suite) missingCommand(t *testing.T) {
	const id = "conf-nocmd"
	ctx := context60(t)
	err := s.rt.Create(ctx, container.Spec{ID: id, Image: s.image, Command: []string{"/bin/no-such-command-xyz"}})
	if err == nil {
		t.Cleanup(func() { s.remove(id) })
		err = s.rt.Start(ctx, id)
	}
	if err == nil {
		t.Fatal("Create+Start of a command that does not exist succeeded")
	}
	if !strings.Contains(err.Error(), "no-such-command-xyz") {
		t.Errorf("error %q does not name the command", err)
	}
}

func (s suite) badLimits(t *testing.T) {
	ctx := context60(t)
	for _, l := range []container.Limits{{MemoryBytes: -1}, {CPUs: -0.5}, {Pids: -1}} {
		err := s.rt.Create(ctx, container.Spec{ID: "conf-badlimits", Image: s.image, Command: []string{"/bin/true"}, Limits: l})
		if err == nil {
			s.remove("conf-badlimits")
			t.Errorf("Create with limits %+v succeeded, want an error", l)
			continue
		}
		if _, err := s.rt.Status(ctx, "conf-badlimits"); !errors.Is(err, container.ErrNotFound) {
			t.Errorf("after a refused Create with limits %+v, Status = %v, want ErrNotFound", l, err)
		}
	}
}
