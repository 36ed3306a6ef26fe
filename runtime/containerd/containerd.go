// Package containerd is the container.Runtime backed by a containerd
// daemon through the containerd v2 Go client. Images are imported from
// local OCI layout tars (no registry access), and Scratch, the empty
// image, is built and imported on first use; each container gets its own
// snapshot, its own PID, IPC, UTS, mount and network namespaces (the
// client's default spec), cgroup limits, and one log file for stdout and
// stderr under Options.LogDir.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// DefaultNamespace is the containerd namespace used when Options.Namespace
// is empty.
const DefaultNamespace = "stratoswarm"

// Scratch names the empty image, as in the native backend: a root
// filesystem with only the mount points and /etc/passwd and /etc/group,
// for static programs brought in with a bind mount (what evaluations of
// the tspsolver use). It is built (image.BuildScratch) and imported as
// image.ScratchRef the first time a Runtime creates a container of it.
const Scratch = "scratch"

// cpuPeriod is the CFS period (µs) CPU quotas are expressed against.
const cpuPeriod = 100000

// Labels kept on each containerd container.
const (
	labelStarted = "stratoswarm.io/started-at"
	labelStopped = "stratoswarm.io/stopped"
	// The final status, recorded when the task is reaped (see finish).
	labelExitCode = "stratoswarm.io/exit-code"
	labelExitedAt = "stratoswarm.io/exited-at"
	labelOOM      = "stratoswarm.io/oom-killed"
)

// Options configure New.
type Options struct {
	// Address is the containerd socket (e.g. what hack/containerd.sh
	// start prints).
	Address string
	// Namespace is the containerd namespace the containers live in
	// (default DefaultNamespace).
	Namespace string
	// LogDir holds one log file per container (stdout and stderr
	// together); created if missing.
	LogDir string
}

// Runtime is a container.Runtime backed by containerd.
type Runtime struct {
	client    *client.Client
	namespace string
	logDir    string
	locks     keyedMutex
	scratch   scratchImage
}

// scratchImage is the Scratch image's reference once imported.
type scratchImage struct {
	mu  sync.Mutex
	ref string // "" until imported
}

// keyedMutex serializes the task changes (start, reap, delete) of one
// container ID, so that a late reap of one incarnation never races the
// start of the next under the same ID.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

// lock locks id and returns its unlock.
func (k *keyedMutex) lock(id string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[id]
	if m == nil {
		m = &refMutex{}
		k.locks[id] = m
	}
	m.refs++
	k.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, id)
		}
		k.mu.Unlock()
	}
}

var _ container.Runtime = (*Runtime)(nil)

// New connects to the containerd at opts.Address.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Address == "" {
		return nil, errors.New("containerd runtime: no address given (start one with hack/containerd.sh start DIR and pass the socket it prints)")
	}
	if opts.LogDir == "" {
		return nil, errors.New("containerd runtime: no log directory given (set Options.LogDir)")
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	logDir, err := filepath.Abs(opts.LogDir)
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: log directory %q: %w", opts.LogDir, err)
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("containerd runtime: create log directory: %w (check permissions on %s)", err, logDir)
	}
	c, err := client.New(opts.Address, client.WithDefaultNamespace(opts.Namespace), client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: connect to %s: %w (is containerd running there? hack/containerd.sh start DIR)", opts.Address, err)
	}
	return &Runtime{client: c, namespace: opts.Namespace, logDir: logDir}, nil
}

// Close closes the connection to containerd; the containers keep running.
func (r *Runtime) Close() error { return r.client.Close() }

// Client returns the underlying containerd client (for tests and tools).
func (r *Runtime) Client() *client.Client { return r.client }

// Name is "containerd".
func (r *Runtime) Name() string { return "containerd" }

func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.namespace)
}

// LogPath is the log file of container id.
func (r *Runtime) LogPath(id string) string { return filepath.Join(r.logDir, id+".log") }

// ImportImage imports an OCI image layout tar (as runtime/image.WriteTar
// writes) and unpacks it for the default snapshotter. It returns the
// image's reference (from the layout's org.opencontainers.image.ref.name
// annotation), the name to use as Spec.Image.
func (r *Runtime) ImportImage(ctx context.Context, tarPath string) (string, error) {
	ctx = r.ctx(ctx)
	f, err := os.Open(tarPath)
	if err != nil {
		return "", fmt.Errorf("import image: %w (build it with make image)", err)
	}
	defer f.Close()
	imgs, err := r.client.Import(ctx, f)
	if err != nil {
		return "", fmt.Errorf("import image %s: %w (is it an OCI layout tar?)", tarPath, err)
	}
	if len(imgs) == 0 {
		return "", fmt.Errorf("import image %s: no named image in it (its index needs an org.opencontainers.image.ref.name annotation)", tarPath)
	}
	for _, img := range imgs {
		if err := client.NewImage(r.client, img).Unpack(ctx, ""); err != nil {
			return "", fmt.Errorf("unpack image %s: %w", img.Name, err)
		}
	}
	return imgs[0].Name, nil
}

// scratchRef returns the reference of the Scratch image, building and
// importing it on the first call; concurrent callers wait for that one,
// and a failed import is tried again by the next call.
func (r *Runtime) scratchRef(ctx context.Context) (string, error) {
	r.scratch.mu.Lock()
	defer r.scratch.mu.Unlock()
	if r.scratch.ref != "" {
		return r.scratch.ref, nil
	}
	dir, err := os.MkdirTemp("", "stratoswarm-scratch-")
	if err != nil {
		return "", fmt.Errorf("build the scratch image: %w (check TMPDIR is writable)", err)
	}
	defer os.RemoveAll(dir)
	layout := filepath.Join(dir, "layout")
	if _, err := image.BuildScratch(layout, image.ScratchOptions{}); err != nil {
		return "", fmt.Errorf("build the scratch image: %w", err)
	}
	tarPath := filepath.Join(dir, "scratch.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return "", fmt.Errorf("build the scratch image: %w (check TMPDIR is writable)", err)
	}
	if err := image.WriteTar(layout, f); err != nil {
		f.Close()
		return "", fmt.Errorf("build the scratch image: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("build the scratch image: %w", err)
	}
	ref, err := r.ImportImage(ctx, tarPath)
	if err != nil {
		return "", fmt.Errorf("the scratch image: %w", err)
	}
	if ref != image.ScratchRef {
		return "", fmt.Errorf("the scratch image was imported as %q, not %q: a containerd that renames images is not supported", ref, image.ScratchRef)
	}
	r.scratch.ref = ref
	return ref, nil
}

// Create prepares the container: a snapshot of the image and an OCI spec
// with the command, env, hostname, mounts and limits. The image Scratch is
// built and imported on first use.
func (r *Runtime) Create(ctx context.Context, spec container.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	ctx = r.ctx(ctx)
	name := spec.Image
	if name == Scratch {
		ref, err := r.scratchRef(ctx)
		if err != nil {
			return fmt.Errorf("create %s: %w", spec.ID, err)
		}
		name = ref
	}
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("create %s: image %q: %w (import it first: ImportImage, or use %q, the empty image)", spec.ID, spec.Image, container.ErrImageNotFound, Scratch)
		}
		return fmt.Errorf("create %s: look up image %q: %w", spec.ID, spec.Image, err)
	}
	if _, err := r.client.LoadContainer(ctx, spec.ID); err == nil {
		return fmt.Errorf("create %s: %w (delete it first or pick another ID)", spec.ID, container.ErrExists)
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = spec.ID
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(img), oci.WithHostname(hostname)}
	if len(spec.Command) > 0 {
		opts = append(opts, oci.WithProcessArgs(spec.Command...))
	}
	if len(spec.Env) > 0 {
		opts = append(opts, oci.WithEnv(spec.Env))
	}
	if len(spec.Mounts) > 0 {
		ms := make([]specs.Mount, 0, len(spec.Mounts))
		for _, m := range spec.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			ms = append(ms, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: []string{"rbind", mode}})
		}
		opts = append(opts, oci.WithMounts(ms))
	}
	if l := spec.Limits; l.Memory() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(l.Memory())))
	}
	if l := spec.Limits; l.CPUs > 0 {
		opts = append(opts, oci.WithCPUCFS(int64(l.CPUs*cpuPeriod), cpuPeriod))
	}
	if l := spec.Limits; l.Pids > 0 {
		opts = append(opts, oci.WithPidsLimit(l.Pids))
	}
	_, err = r.client.NewContainer(ctx, spec.ID,
		client.WithImage(img),
		client.WithNewSnapshot(spec.ID, img),
		client.WithNewSpec(opts...),
	)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w (delete it first or pick another ID)", spec.ID, container.ErrExists)
		}
		return fmt.Errorf("create %s: %w", spec.ID, err)
	}
	// A log left over from an earlier container of this ID is not ours.
	if err := os.Remove(r.LogPath(spec.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("create %s: remove stale log: %w", spec.ID, err)
	}
	return nil
}

func (r *Runtime) load(ctx context.Context, op, id string) (client.Container, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%s %s: %w (create it first; List shows what exists)", op, id, container.ErrNotFound)
		}
		return nil, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return c, nil
}

// task returns the container's task, or nil when it has none (never
// started).
func task(ctx context.Context, c client.Container) (client.Task, error) {
	t, err := c.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("task of %s: %w", c.ID(), err)
	}
	return t, nil
}

// Start creates the container's task with its output going to its log
// file and starts it.
func (r *Runtime) Start(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	defer r.locks.lock(id)()
	c, err := r.load(ctx, "start", id)
	if err != nil {
		return err
	}
	if t, err := task(ctx, c); err != nil {
		return err
	} else if t != nil {
		return fmt.Errorf("start %s: already started (delete and create it again to rerun)", id)
	}
	if _, ran, err := r.observe(ctx, c); err != nil {
		return err
	} else if ran {
		return fmt.Errorf("start %s: already ran (delete and create it again to rerun)", id)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return fmt.Errorf("start %s: read spec: %w", id, err)
	}
	var args []string
	if spec.Process != nil {
		args = spec.Process.Args
	}
	t, err := c.NewTask(ctx, cio.LogFile(r.LogPath(id)))
	if err != nil {
		return fmt.Errorf("start %s: command %q: %w (%s)", id, strings.Join(args, " "), err, startHint(err))
	}
	if err := t.Start(ctx); err != nil {
		_, _ = t.Delete(ctx, client.WithProcessKill)
		return fmt.Errorf("start %s: command %q: %w (%s)", id, strings.Join(args, " "), err, startHint(err))
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelStarted: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("start %s: record start time: %w", id, err)
	}
	return nil
}

// startHint says what to do about a task that failed to start: runc
// refuses a memory limit below what its init already uses (cgroup v1
// cannot shrink under the usage), else the command is likely missing.
func startHint(err error) string {
	if strings.Contains(err.Error(), "unable to set memory limit") {
		return "the memory limit is below what runc's init already uses, a few MiB: raise it"
	}
	return "check the command exists in the image"
}

// Wait blocks until the container's task exits and returns its status.
func (r *Runtime) Wait(ctx context.Context, id string) (container.Status, error) {
	ctx = r.ctx(ctx)
	c, err := r.load(ctx, "wait", id)
	if err != nil {
		return container.Status{}, err
	}
	t, err := task(ctx, c)
	if err != nil {
		return container.Status{}, err
	}
	if t == nil {
		s, recorded, err := r.observe(ctx, c)
		if err != nil || recorded {
			return s, err
		}
		return container.Status{}, fmt.Errorf("wait %s: not started (Start it first)", id)
	}
	ch, err := t.Wait(ctx)
	if err != nil {
		return container.Status{}, fmt.Errorf("wait %s: %w", id, err)
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return container.Status{}, fmt.Errorf("wait %s: %w", id, ctx.Err())
	}
	return r.finish(ctx, c, t)
}

// finish reaps an exited task: it records the final status in the
// container's labels, then deletes the task. Deleting is what makes the
// shim wait for its output copy to drain into the log file (the exit event
// comes before that) and frees the task's cgroup, so Logs after Wait has
// everything and nothing is left behind. A task already reaped by a
// concurrent caller is not an error.
func (r *Runtime) finish(ctx context.Context, c client.Container, t client.Task) (container.Status, error) {
	defer r.locks.lock(c.ID())()
	cur, err := task(ctx, c)
	if err != nil {
		return container.Status{}, err
	}
	if cur == nil || cur.Pid() != t.Pid() { // reaped already (and maybe started again)
		return r.status(ctx, c)
	}
	s, recorded, err := r.observe(ctx, c)
	if err != nil {
		return s, err
	}
	if s.State != container.Exited {
		return s, nil
	}
	if !recorded {
		labels := map[string]string{
			labelExitCode: strconv.Itoa(s.ExitCode),
			labelExitedAt: s.ExitedAt.UTC().Format(time.RFC3339Nano),
			labelOOM:      strconv.FormatBool(s.OOMKilled),
		}
		if _, err := c.SetLabels(ctx, labels); err != nil {
			return s, fmt.Errorf("record exit of %s: %w", c.ID(), err)
		}
	}
	if _, err := t.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		return s, fmt.Errorf("reap %s: %w", c.ID(), err)
	}
	return s, nil
}

// Stop sends SIGTERM, then SIGKILL after grace, waits for the exit and
// reaps the task. A container not running is left as it is.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.ctx(ctx)
	c, err := r.load(ctx, "stop", id)
	if err != nil {
		return err
	}
	t, err := task(ctx, c)
	if err != nil || t == nil {
		return err
	}
	st, err := t.Status(ctx)
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if st.Status == client.Stopped {
		_, err := r.finish(ctx, c, t)
		return err
	}
	ch, err := t.Wait(ctx)
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelStopped: "true"}); err != nil {
		return fmt.Errorf("stop %s: record stop: %w", id, err)
	}
	if err := t.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: SIGTERM: %w", id, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-ch:
		_, err := r.finish(ctx, c, t)
		return err
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	case <-timer.C:
	}
	if err := t.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: SIGKILL: %w", id, err)
	}
	select {
	case <-ch:
		_, err := r.finish(ctx, c, t)
		return err
	case <-ctx.Done():
		return fmt.Errorf("stop %s: waiting after SIGKILL: %w", id, ctx.Err())
	}
}

// Delete removes a container that is not running: its task, its
// containerd container and snapshot, and its log file.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	defer r.locks.lock(id)()
	c, err := r.load(ctx, "delete", id)
	if err != nil {
		return err
	}
	t, err := task(ctx, c)
	if err != nil {
		return err
	}
	if t != nil {
		st, err := t.Status(ctx)
		if err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		if st.Status == client.Running || st.Status == client.Paused || st.Status == client.Pausing {
			return fmt.Errorf("delete %s: %w (Stop it first)", id, container.ErrRunning)
		}
		if _, err := t.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete %s: task: %w", id, err)
		}
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if err := os.Remove(r.LogPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete %s: remove log: %w", id, err)
	}
	return nil
}

// Status reports the container's state.
func (r *Runtime) Status(ctx context.Context, id string) (container.Status, error) {
	ctx = r.ctx(ctx)
	c, err := r.load(ctx, "status", id)
	if err != nil {
		return container.Status{}, err
	}
	return r.status(ctx, c)
}

func (r *Runtime) status(ctx context.Context, c client.Container) (container.Status, error) {
	s, _, err := r.observe(ctx, c)
	return s, err
}

// observe reports the container's state and whether it came from the
// final status recorded when its task was reaped.
func (r *Runtime) observe(ctx context.Context, c client.Container) (container.Status, bool, error) {
	s := container.Status{ID: c.ID(), State: container.Created}
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return s, false, fmt.Errorf("status %s: %w", c.ID(), err)
	}
	if v := info.Labels[labelStarted]; v != "" {
		s.StartedAt, _ = time.Parse(time.RFC3339Nano, v)
	}
	reason := func() {
		switch {
		case s.OOMKilled:
			s.Reason = "OOMKilled: over its memory limit"
		case info.Labels[labelStopped] == "true":
			s.Reason = "Stopped"
		}
	}
	if v, ok := info.Labels[labelExitCode]; ok {
		s.State = container.Exited
		s.ExitCode, _ = strconv.Atoi(v)
		s.ExitedAt, _ = time.Parse(time.RFC3339Nano, info.Labels[labelExitedAt])
		s.OOMKilled = info.Labels[labelOOM] == "true"
		reason()
		return s, true, nil
	}
	t, err := task(ctx, c)
	if err != nil || t == nil {
		return s, false, err
	}
	st, err := t.Status(ctx)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return s, false, nil
		}
		return s, false, fmt.Errorf("status %s: %w", c.ID(), err)
	}
	switch st.Status {
	case client.Stopped:
		s.State = container.Exited
		s.ExitCode = int(st.ExitStatus)
		s.ExitedAt = st.ExitTime
		if s.ExitCode == 128+int(syscall.SIGKILL) {
			oom, err := r.oomKilled(ctx, c)
			if err != nil {
				return s, false, fmt.Errorf("status %s: %w", c.ID(), err)
			}
			s.OOMKilled = oom
		}
		reason()
	case client.Created:
		s.State = container.Created
	default:
		s.State = container.Running
		s.Pid = int(t.Pid())
	}
	return s, false, nil
}

// oomKilled says whether the container had a memory limit and its memory
// cgroup (still there until the task is deleted) counted an OOM kill: v1's
// memory.oom_control or v2's memory.events.
func (r *Runtime) oomKilled(ctx context.Context, c client.Container) (bool, error) {
	spec, err := c.Spec(ctx)
	if err != nil {
		return false, fmt.Errorf("read spec: %w", err)
	}
	if spec.Linux == nil || spec.Linux.Resources == nil || spec.Linux.Resources.Memory == nil ||
		spec.Linux.Resources.Memory.Limit == nil || *spec.Linux.Resources.Memory.Limit <= 0 {
		return false, nil
	}
	cg := spec.Linux.CgroupsPath
	if cg == "" || strings.Contains(cg, ":") { // systemd-style paths are not ours
		return false, nil
	}
	candidates := []struct{ file, key string }{
		{filepath.Join("/sys/fs/cgroup/memory", cg, "memory.oom_control"), "oom_kill"},
		{filepath.Join("/sys/fs/cgroup", cg, "memory.events"), "oom_kill"},
		{filepath.Join("/sys/fs/cgroup/unified", cg, "memory.events"), "oom_kill"},
	}
	for _, cand := range candidates {
		b, err := os.ReadFile(cand.file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == cand.key {
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err == nil && n > 0 {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// List reports every container in the runtime's namespace.
func (r *Runtime) List(ctx context.Context) ([]container.Status, error) {
	ctx = r.ctx(ctx)
	cs, err := r.client.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]container.Status, 0, len(cs))
	for _, c := range cs {
		s, err := r.status(ctx, c)
		if err != nil {
			if errdefs.IsNotFound(err) { // deleted meanwhile
				continue
			}
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Logs opens the container's log file (stdout and stderr interleaved).
func (r *Runtime) Logs(ctx context.Context, id string) (io.ReadCloser, error) {
	ctx = r.ctx(ctx)
	if _, err := r.load(ctx, "logs", id); err != nil {
		return nil, err
	}
	f, err := os.Open(r.LogPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", id, err)
	}
	return f, nil
}
