package deploy

// The restart policy, like a Kubernetes Deployment's (restartPolicy
// Always): every replica of a deployed version has a supervisor that waits
// for its container to exit; an exit (a crash, an OOM kill, a SIGKILL, a
// stop by hand) is recorded (Exits, Check), and after a backoff the
// container is deleted and created again in the same slot: same name
// (<agent>-<version>-<i>), same directory and socket, so the mesh's
// backend for it stays valid. The backoff starts at
// Options.RestartBackoff, doubles with each exit up to
// Options.RestartBackoffMax, and starts over when the replica ran
// RestartReset before it exited. Remove and Close end the supervisors
// first, so a version being removed, or replicas stopped with their
// runtime, are never restarted.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// The restart backoff's defaults, and how long a replica must run for its
// backoff to start over.
const (
	DefaultRestartBackoff    = time.Second
	DefaultRestartBackoffMax = 30 * time.Second
	RestartReset             = 60 * time.Second
)

// maxExits is how many exits a version keeps (Exits, Check).
const maxExits = 64

// exitRecord is one recorded exit.
type exitRecord struct {
	Exit
	// tail is the end of the replica's log when it exited.
	tail string
	// seq numbers the version's exits from 1 (deployment.checked).
	seq int
}

// how says how a replica exited.
func (e Exit) how() string {
	if e.OOMKilled {
		return "was OOM-killed (over its memory limit)"
	}
	return fmt.Sprintf("exited with code %d", e.ExitCode)
}

// supervise restarts slot i of dep whenever its container exits, until
// ctx ends.
func (d *Deployer) supervise(ctx context.Context, dep *deployment, i int) {
	defer dep.wg.Done()
	delay := d.backoff
	since := time.Now()
	for {
		d.mu.Lock()
		r := dep.replicas[i]
		d.mu.Unlock()
		st, err := d.rt.Wait(ctx, r.Container)
		if ctx.Err() != nil {
			return
		}
		why := ""
		if err != nil { // its start failed, or it is gone
			why = err.Error()
		} else {
			e := d.record(dep, i, r, st)
			why = e.how()
		}
		if time.Since(since) >= RestartReset {
			delay = d.backoff
		}
		d.log.Warn("agent replica exited; restarting it", "replica", r.ID, "exit", why, "restarts", r.Restarts, "in", delay)
		d.notify(dep)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, d.backoffMax)
		since = time.Now()
		d.restart(ctx, dep, i)
		d.notify(dep)
	}
}

// notify calls Options.OnReplicaChange for dep's version.
func (d *Deployer) notify(dep *deployment) {
	if d.changed != nil {
		d.changed(dep.v.Agent, dep.v.Version)
	}
}

// Ready counts agent's version's replicas whose containers are running.
func (d *Deployer) Ready(ctx context.Context, agent, version string) int {
	n := 0
	for _, r := range d.Replicas(agent, version) {
		if st, err := d.rt.Status(ctx, r.Container); err == nil && st.State == container.Running {
			n++
		}
	}
	return n
}

// restart deletes slot i's container and starts it again; a failed start
// is logged (the supervisor retries after its backoff) and counts as a
// restart.
func (d *Deployer) restart(ctx context.Context, dep *deployment, i int) {
	d.mu.Lock()
	old := dep.replicas[i]
	if old.pidNS != "" {
		delete(d.byPidNS, old.pidNS)
	}
	d.mu.Unlock()
	if err := d.rt.Stop(ctx, old.Container, 0); err != nil && !errors.Is(err, container.ErrNotFound) {
		d.log.Warn("restart a replica: stop its container", "replica", old.ID, "err", err)
	}
	if err := d.rt.Delete(ctx, old.Container); err != nil && !errors.Is(err, container.ErrNotFound) {
		d.log.Warn("restart a replica: delete its container", "replica", old.ID, "err", err)
	}
	if ctx.Err() != nil {
		return
	}
	r, err := d.start(ctx, dep.v, i)
	if err != nil {
		d.log.Warn("restart a replica", "replica", old.ID, "err", err)
	}
	next := Replica{ID: old.ID, Container: old.Container, Socket: old.Socket, Version: old.Version,
		Restarts: old.Restarts + 1, pidNS: r.pidNS}
	d.mu.Lock()
	dep.replicas[i] = next
	d.mu.Unlock()
	if err == nil {
		d.log.Info("agent replica restarted", "replica", next.ID, "restarts", next.Restarts)
	}
}

// record notes r's exit (st) in slot i of dep, once per incarnation, and
// returns it.
func (d *Deployer) record(dep *deployment, i int, r Replica, st container.Status) Exit {
	e := Exit{Agent: dep.v.Agent, Version: dep.v.Version, Replica: i, Container: r.Container,
		ExitCode: st.ExitCode, OOMKilled: st.OOMKilled, ExitedAt: st.ExitedAt}
	d.mu.Lock()
	done := dep.recorded[i] == r.Restarts+1 || dep.replicas[i].Restarts != r.Restarts
	d.mu.Unlock()
	if done {
		return e
	}
	tail := d.tail(r.Container) // before a restart deletes the log
	if e.ExitedAt.IsZero() {
		e.ExitedAt = time.Now().UTC() // tells this exit from the next
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if dep.recorded[i] == r.Restarts+1 || dep.replicas[i].Restarts != r.Restarts {
		return e
	}
	dep.recorded[i] = r.Restarts + 1
	dep.seq++
	dep.exits = append(dep.exits, exitRecord{Exit: e, tail: tail, seq: dep.seq})
	if len(dep.exits) > maxExits {
		dep.exits = slices.Delete(dep.exits, 0, len(dep.exits)-maxExits)
	}
	return e
}

// observe records the exits of dep's replicas that their supervisors have
// not yet seen, so that an exit shows in Exits and Check as soon as the
// runtime knows it.
func (d *Deployer) observe(ctx context.Context, dep *deployment) error {
	d.mu.Lock()
	rs, rec := slices.Clone(dep.replicas), slices.Clone(dep.recorded)
	d.mu.Unlock()
	var errs []error
	for i, r := range rs {
		if rec[i] == r.Restarts+1 {
			continue
		}
		st, err := d.rt.Status(ctx, r.Container)
		if errors.Is(err, container.ErrNotFound) {
			continue // between a failed restart's delete and its create
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("replica %s: %w", r.Container, err))
			continue
		}
		if st.State == container.Exited {
			d.record(dep, i, r, st)
		}
	}
	return errors.Join(errs...)
}

// Check says whether agent@version's replicas have served without a break
// since the previous Check of that version (or since it was deployed). An
// error names the first replica that exited since then, with its exit code
// (an OOM kill said so) and the end of its log, even when it has been
// restarted since: a canary that crashes and restarts is still a crashed
// canary. Without such an exit, an error names a replica that does not
// run now (waiting to be restarted, or its restart failed). Each exit is
// reported by one Check only: Check is meant for one caller per version
// (a canary's Env, once per interval); Exits lists every exit to anyone.
// A version not deployed is nil.
func (d *Deployer) Check(ctx context.Context, agent, version string) error {
	d.mu.Lock()
	dep := d.versions[key{agent, version}]
	d.mu.Unlock()
	if dep == nil || dep.replicas == nil {
		return nil
	}
	obsErr := d.observe(ctx, dep)
	d.mu.Lock()
	var first *exitRecord
	for j := range dep.exits {
		if dep.exits[j].seq > dep.checked {
			e := dep.exits[j]
			first = &e
			break
		}
	}
	n := dep.seq - dep.checked
	dep.checked = dep.seq
	rs := slices.Clone(dep.replicas)
	d.mu.Unlock()
	if first != nil {
		more := ""
		if n > 1 {
			more = fmt.Sprintf(" (and %d more exits since the last check)", n-1)
		}
		return fmt.Errorf("replica %s %s%s%s", first.Container, first.how(), more, first.tail)
	}
	if obsErr != nil {
		return obsErr
	}
	for _, r := range rs {
		st, err := d.rt.Status(ctx, r.Container)
		if err != nil {
			return fmt.Errorf("replica %s does not run (%d restarts): %w", r.Container, r.Restarts, err)
		}
		if st.State != container.Running {
			return fmt.Errorf("replica %s is %s, not running (%d restarts)", r.Container, st.State, r.Restarts)
		}
	}
	return nil
}

// Close ends the restart policy: no replica is restarted from then on,
// and Deploy fails. It leaves the replicas as they are: call it before
// the runtime's Close, which stops them.
func (d *Deployer) Close() {
	d.mu.Lock()
	d.closed = true
	var deps []*deployment
	for _, dep := range d.versions {
		if dep.cancel != nil {
			deps = append(deps, dep)
		}
	}
	d.mu.Unlock()
	for _, dep := range deps {
		dep.cancel()
	}
	for _, dep := range deps {
		dep.wg.Wait()
	}
}
