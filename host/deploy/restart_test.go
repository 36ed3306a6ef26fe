package deploy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// killReplicaProcs SIGKILLs the processes of replica i of agent@version,
// found by SWARM_AGENT, SWARM_VERSION and SWARM_REPLICA in their
// environment, and says how many it killed.
func killReplicaProcs(agent, version string, i int) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	want := [][]byte{[]byte("SWARM_AGENT=" + agent), []byte("SWARM_VERSION=" + version), []byte("SWARM_REPLICA=" + strconv.Itoa(i))}
	killed := 0
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		vars := bytes.Split(env, []byte{0})
		all := true
		for _, w := range want {
			found := false
			for _, v := range vars {
				if bytes.Equal(v, w) {
					found = true
					break
				}
			}
			all = all && found
		}
		if all {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	return killed
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
	}
}

// healthy says whether the replica answers its health check on socket.
func healthy(socket string) bool {
	c := socketClient(socket)
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return health(ctx, c) == nil
}

// TestKilledReplicaIsRestarted: a replica whose processes are SIGKILLed
// comes back in its slot (same container name, healthz on the same
// socket) with one restart; Exits lists its exit once, and Check reports
// it once, though it runs again. A removed version is not restarted.
func TestKilledReplicaIsRestarted(t *testing.T) {
	d, _, rt := setup(t)
	d.backoff, d.backoffMax = 200*time.Millisecond, time.Second
	ctx := context.Background()
	rs, err := d.Deploy(ctx, solverVersion("v1", 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(ctx, "tspsolver", "v1"); err != nil {
		t.Fatalf("check of a healthy version: %v", err)
	}
	before, err := rt.Status(ctx, rs[1].Container)
	if err != nil {
		t.Fatal(err)
	}
	if n := killReplicaProcs("tspsolver", "v1", 1); n == 0 {
		t.Fatal("no process of replica 1 to kill")
	}
	waitFor(t, 20*time.Second, "replica 1 restarted and healthy", func() bool {
		r := d.Replicas("tspsolver", "v1")[1]
		return r.Restarts == 1 && healthy(r.Socket)
	})
	now := d.Replicas("tspsolver", "v1")
	if now[1].Container != rs[1].Container || now[1].Socket != rs[1].Socket || now[1].ID != rs[1].ID {
		t.Errorf("restarted replica %+v, want the slot of %+v", now[1], rs[1])
	}
	if now[0].Restarts != 0 {
		t.Errorf("replica 0 restarted %d times, want 0", now[0].Restarts)
	}
	st, err := rt.Status(ctx, now[1].Container)
	if err != nil || st.State != container.Running || st.Pid == before.Pid {
		t.Errorf("restarted container: %+v %v (was pid %d)", st, err, before.Pid)
	}
	if a, v, ok := d.Caller(st.Pid); !ok || a != "tspsolver" || v != "v1" {
		t.Errorf("the restarted replica's calls are not attributed: %q %q %v", a, v, ok)
	}
	for range 2 { // each exit once, however often asked
		ex, err := d.Exits(ctx)
		if err != nil || len(ex) != 1 {
			t.Fatalf("exits: %+v %v, want one", ex, err)
		}
		if e := ex[0]; e.Replica != 1 || e.Container != rs[1].Container || e.ExitCode != 128+int(syscall.SIGKILL) || e.ExitedAt.IsZero() {
			t.Errorf("exit %+v, want replica 1 killed by SIGKILL", e)
		}
	}
	err = d.Check(ctx, "tspsolver", "v1")
	if err == nil || !strings.Contains(err.Error(), "replica "+rs[1].Container+" exited with code 137") {
		t.Errorf("check after a crash and restart: %v, want the exit", err)
	}
	if err := d.Check(ctx, "tspsolver", "v1"); err != nil {
		t.Errorf("second check: %v, want the exit reported once", err)
	}
	// Removed: not restarted, and its exits go with it.
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * d.backoffMax)
	if cs, _ := rt.List(ctx); len(cs) != 0 {
		t.Errorf("containers after removal: %+v", cs)
	}
	if ex, err := d.Exits(ctx); err != nil || len(ex) != 0 {
		t.Errorf("exits after removal: %+v %v", ex, err)
	}
}

// TestCrashingReplicaBacksOff: a replica killed whenever it comes back is
// restarted after 1, 2, 4... times the backoff, up to its maximum; Close
// ends the restarts.
func TestCrashingReplicaBacksOff(t *testing.T) {
	d, _, rt := setup(t)
	const base = 300 * time.Millisecond
	d.backoff, d.backoffMax = base, 4*base
	ctx := context.Background()
	if _, err := d.Deploy(ctx, solverVersion("v1", 1)); err != nil {
		t.Fatal(err)
	}
	// Kill it whenever it runs, and note when each incarnation appeared.
	var gaps []time.Duration
	last := time.Now()
	for restarts := 0; restarts < 4; restarts++ {
		waitFor(t, 20*time.Second, "replica running", func() bool {
			r := d.Replicas("tspsolver", "v1")[0]
			return r.Restarts == restarts && killReplicaProcs("tspsolver", "v1", 0) > 0
		})
		now := time.Now()
		if restarts > 0 {
			gaps = append(gaps, now.Sub(last))
		}
		last = now
	}
	// Gaps between kills: the backoff after each exit (base, 2 base,
	// 4 base = the max) plus the start.
	want := []time.Duration{base, 2 * base, 4 * base}
	for i, g := range gaps {
		if g < want[i] || g > want[i]+3*time.Second {
			t.Errorf("gap %d between crashes %v, want %v plus a start", i, g, want[i])
		}
	}
	if gaps[2] <= gaps[0] {
		t.Errorf("gaps %v do not grow", gaps)
	}
	ex, err := d.Exits(ctx)
	if err != nil || len(ex) < 3 {
		t.Errorf("exits of a crashing replica: %d %v, want at least 3", len(ex), err)
	}
	d.Close()
	n := d.Replicas("tspsolver", "v1")[0].Restarts
	time.Sleep(2 * d.backoffMax)
	if got := d.Replicas("tspsolver", "v1")[0].Restarts; got != n {
		t.Errorf("restarts went from %d to %d after Close", n, got)
	}
	if _, err := d.Deploy(ctx, solverVersion("v2", 1)); err == nil {
		t.Error("deploy after Close succeeded")
	}
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := rt.List(ctx); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}
}
