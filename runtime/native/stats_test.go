package native

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// startForStats creates and starts a container of the test image running
// script, deleted when the test ends.
func startForStats(t *testing.T, rt *Runtime, id, script string, l container.Limits) {
	t.Helper()
	ctx := context.Background()
	if err := rt.Create(ctx, container.Spec{ID: id, Image: testEnv.image, Command: sh(script), Limits: l}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(ctx, id, 0); _ = rt.Delete(ctx, id) })
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// waitLogForStats waits until the container's log holds want.
func waitLogForStats(t *testing.T, rt *Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(rt.LogPath(id))
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never wrote %q; its log: %s", id, want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// burn is a fixed amount of CPU work (about half a second here) in a
// child the shell reaps: the same work however loaded the machine is.
const burn = `(i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done)`

// TestStats: a container that burns CPU in a child it reaps,
// then has a child OOM-killed and keeps running, reports that CPU time,
// the kill and some memory; an unknown container is ErrNotFound, a
// stopped one ErrNotRunning.
func TestStats(t *testing.T) {
	rt := testEnv.rt
	ctx := context.Background()
	startForStats(t, rt, "stats", burn+`
dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd-done; sleep 1000`, container.Limits{MemoryBytes: 32 << 20})
	waitLogForStats(t, rt, "stats", "dd-done")
	s, err := rt.Stats(ctx, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUSeconds < 0.2 || s.CPUSeconds > 30 {
		t.Errorf("CPU %.2f s, want about half a second (the counting child)", s.CPUSeconds)
	}
	if s.OOMKills < 1 {
		t.Errorf("OOM kills %d, want at least 1 (dd's 64 MiB buffer over a 32 MiB limit)", s.OOMKills)
	}
	if s.MemoryBytes <= 0 || s.MemoryBytes > 32<<20 {
		t.Errorf("memory %d bytes, want some, under the 32 MiB limit", s.MemoryBytes)
	}
	if _, err := rt.Stats(ctx, "no-such"); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("unknown container: %v, want ErrNotFound", err)
	}
	if err := rt.Stop(ctx, "stats", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Stats(ctx, "stats"); !errors.Is(err, container.ErrNotRunning) {
		t.Errorf("stopped container: %v, want ErrNotRunning", err)
	}
}

// TestStatsCgroupV2 reads a container in the unified hierarchy: on these
// hybrid hosts it has no memory controller, so the memory is the
// processes' resident memory.
func TestStatsCgroupV2(t *testing.T) {
	rt, err := New(Options{StateDir: t.TempDir(), InitPath: testEnv.init, CgroupParent: testEnv.cgParent + "-v2s", Cgroups: CgroupsV2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		rt.Close() // first: the parent is removable once its containers' groups are gone
		parent := filepath.Join(rt.cgroups.unified, testEnv.cgParent+"-v2s")
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if err = os.Remove(parent); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
		}
		t.Errorf("the test's cgroup parent is left: %v", err)
	}()
	if _, err := rt.ImportImage(context.Background(), testEnv.imageTar); err != nil {
		t.Fatal(err)
	}
	startForStats(t, rt, "stats-v2", burn+`; echo burnt; sleep 1000`, container.Limits{})
	waitLogForStats(t, rt, "stats-v2", "burnt")
	s, err := rt.Stats(context.Background(), "stats-v2")
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUSeconds < 0.2 || s.MemoryBytes <= 0 {
		t.Errorf("stats %+v, want about half a second of CPU and some memory", s)
	}
}

// TestStatsV1Files reads a v1 group laid out as on hosts that mount cpu
// and cpuacct together, with page cache to leave out.
func TestStatsV1Files(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cpu/p/c/cpuacct.usage", "2500000000\n")
	write("memory/p/c/cgroup.procs", "")
	write("memory/p/c/memory.usage_in_bytes", "10485760\n")
	write("memory/p/c/memory.stat", "cache 4194304\ntotal_inactive_file 4194304\ninactive_file 1\n")
	write("memory/p/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	s, err := statsV1(root, "p/c")
	if err != nil {
		t.Fatal(err)
	}
	if want := (container.Stats{CPUSeconds: 2.5, MemoryBytes: 6 << 20, OOMKills: 2}); s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if _, err := statsV1(root, "p/gone"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a group that is gone: %v", err)
	}
}
