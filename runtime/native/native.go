// Package native is the container runtime with no daemon: containers are
// child processes of the program that runs them (swarmd), each in all
// seven namespaces (mount, PID, network, IPC, UTS, user, cgroup), on an
// overlay of a shared read-only image root, limited by a cgroup (v1 or
// v2, github.com/containerd/cgroups/v3) and confined by seccomp (close to
// Docker's default profile), Landlock, no_new_privs and Docker's default
// capability set.
//
// The namespaces are made by clone, from a small spawner process the
// runtime starts once (swarm-init --spawner: cloning a user namespace is a
// real fork, cheap only from a small address space); everything inside
// them (mounts, pivot_root, hostname, loopback, confinement) is done by
// the container's first process, cmd/swarm-init (package initproc),
// before it executes the command. Containers live with their runtime: the
// spawner exits when the runtime's end of its socket closes (the runtime
// exited or called Close), its inits have it as parent-death signal, and
// a runtime that starts on a state directory where containers were left
// running kills what remains of them and records them as exited
// (reconcile).
//
// Without root, the runtime maps the caller's user to root in the user
// namespace and runs without cgroups: limits are not enforced (the kernel
// offers no unprivileged way to on a host that does not delegate a
// cgroup), and the container's Status carries a warning saying so.
package native

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stratoswarm/stratoswarm/runtime/confine"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/native/initproc"
)

// InitName is the init binary's file name, looked up beside the running
// executable and then on PATH when Options.InitPath is empty.
const InitName = "swarm-init"

// DefaultWarmInits is how many inits wait ready by default: a Start that
// finds one skips the clone and the init's own start (about half of a
// cold start); each costs a few megabytes while it waits.
const DefaultWarmInits = 2

// DefaultCgroupParent is the cgroup every container's group is made in.
const DefaultCgroupParent = "stratoswarm"

// reasonLost is the exit reason of a container whose runtime died while it
// ran.
const reasonLost = "Lost: the runtime that ran it stopped (native containers stop with their runtime)"

// reasonClosed is the exit reason of a container killed by Close.
const reasonClosed = "Stopped: its runtime closed (native containers stop with their runtime)"

// Options configure New.
type Options struct {
	// StateDir holds the containers' overlay layers and logs and the
	// unpacked images. Required.
	StateDir string
	// RunDir holds the containers' records (default StateDir/run). They
	// describe processes, so a tmpfs that a reboot empties (like runc's
	// /run/runc) suits them; after a reboot on disk, reconcile records
	// the containers that were running as lost.
	RunDir string
	// InitPath is the swarm-init binary (default: beside the executable,
	// then on PATH).
	InitPath string
	// Cgroups picks the hierarchy: CgroupsAuto, CgroupsV1, CgroupsV2 or
	// CgroupsNone (the default without root).
	Cgroups string
	// CgroupParent is the group containers' groups are made in (default
	// DefaultCgroupParent).
	CgroupParent string
	// WarmInits is how many inits wait, cloned into their namespaces
	// and started, for the next containers (default DefaultWarmInits;
	// negative: none, every Start clones its own).
	WarmInits int
	// NoSeccomp and NoLandlock turn those confinements off (for
	// debugging; never the default).
	NoSeccomp, NoLandlock bool
	// Log receives warnings (default: discarded).
	Log *slog.Logger
}

// Runtime is a container.Runtime with no daemon.
type Runtime struct {
	init     string
	dir      string // containers
	runDir   string // records
	trash    string // deleted containers' directories, removed in the background
	pool     string // warm inits' prepared layers
	images   imageStore
	cgroups  cgroupDriver
	seccomp  confine.Program
	landlock bool
	rootless bool
	log      *slog.Logger

	mu     sync.Mutex
	ctrs   map[string]*ctr
	spawn  *spawner // started on first use, again if it dies
	closed bool
	// lastLower is the image root of the last container started: warm
	// inits are prepared with it.
	lastLower string
	// warmPrefix starts the names of the warm inits' cgroups.
	warmPrefix string
	// discards are warm inits being discarded in the background.
	discards sync.WaitGroup
	// lastStart is when a container last started (Unix ns): refills
	// wait for a quiet moment (awaitQuiet).
	lastStart atomic.Int64

	warm     chan *warmInit // inits waiting for a container
	refill   chan struct{}  // asks the refiller to fill warm
	stop     chan struct{}  // closed by Close
	refilled chan struct{}  // closed when the refiller has stopped
	sweep    chan struct{}  // asks the sweeper to empty the trash
	trashMu  sync.Mutex     // one emptying at a time
	swept    chan struct{}  // closed when the sweeper has stopped
}

var _ container.Runtime = (*Runtime)(nil)

// ctr is one container: its persisted record and, while it runs, its
// process.
type ctr struct {
	mu      sync.Mutex
	dir     string // layers and log
	recPath string // the record
	rec     record
	done    chan struct{} // closed when the process has exited; final is set
	final   container.Status
}

// record is what a container's record file (<run dir>/<id>.json) holds.
type record struct {
	Spec      container.Spec  `json:"spec"`
	Lower     string          `json:"lower"`
	Args      []string        `json:"args"`
	Env       []string        `json:"env"`
	Cwd       string          `json:"cwd"`
	State     container.State `json:"state"`
	Pid       int             `json:"pid,omitempty"`
	PidStart  uint64          `json:"pidStart,omitempty"`
	ExitCode  int             `json:"exitCode"`
	OOMKilled bool            `json:"oomKilled,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Stopped   bool            `json:"stopped,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
	// LayerDir holds the container's rootfs, upper and work directories:
	// its own directory, or the one a warm init prepared them in.
	LayerDir  string    `json:"layerDir,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	ExitedAt  time.Time `json:"exitedAt,omitzero"`
}

// New opens (or creates) the runtime's state directory and reconciles the
// containers it finds there.
func New(opts Options) (*Runtime, error) {
	if opts.StateDir == "" {
		return nil, errors.New("native runtime: no state directory given")
	}
	if opts.RunDir == "" {
		opts.RunDir = filepath.Join(opts.StateDir, "run")
	}
	r := &Runtime{
		dir:      filepath.Join(opts.StateDir, "containers"),
		runDir:   opts.RunDir,
		trash:    filepath.Join(opts.StateDir, "trash"),
		pool:     filepath.Join(opts.StateDir, "pool"),
		sweep:    make(chan struct{}, 1),
		swept:    make(chan struct{}),
		images:   imageStore{dir: filepath.Join(opts.StateDir, "images")},
		rootless: os.Geteuid() != 0,
		landlock: !opts.NoLandlock && confine.LandlockABI() > 0,
		log:      opts.Log,
		ctrs:     map[string]*ctr{},
		refill:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		refilled: make(chan struct{}),
	}
	switch {
	case opts.WarmInits == 0:
		r.warm = make(chan *warmInit, DefaultWarmInits)
	case opts.WarmInits > 0:
		r.warm = make(chan *warmInit, opts.WarmInits)
	default:
		r.warm = make(chan *warmInit)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	init, err := findInit(opts.InitPath)
	if err != nil {
		return nil, err
	}
	r.init = init
	want := opts.Cgroups
	if r.rootless && want == CgroupsAuto {
		want = CgroupsNone
	}
	parent := opts.CgroupParent
	if parent == "" {
		parent = DefaultCgroupParent
	}
	if r.cgroups, err = newCgroupDriver(want, parent); err != nil {
		return nil, fmt.Errorf("native runtime: %w", err)
	}
	if !opts.NoSeccomp {
		if r.seccomp, err = confine.DefaultSeccomp(confine.DefaultCapabilities()); err != nil {
			return nil, fmt.Errorf("native runtime: compile the seccomp profile: %w", err)
		}
	}
	for _, d := range []string{r.dir, r.runDir, r.trash, r.pool} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("native runtime: state directory: %w", err)
		}
	}
	if err := r.images.init(); err != nil {
		return nil, fmt.Errorf("native runtime: %w", err)
	}
	if err := r.reconcile(); err != nil {
		return nil, fmt.Errorf("native runtime: reconcile %s: %w", r.dir, err)
	}
	// Warm inits' groups are named after the state directory, so that
	// runtimes sharing a cgroup parent leave each other's alone.
	sum := sha256.Sum256([]byte(r.dir))
	r.warmPrefix = "warm-" + hex.EncodeToString(sum[:4]) + "-"
	r.cgroups.sweepWarm(r.warmPrefix)
	go r.refiller()
	if cap(r.warm) > 0 {
		r.kickRefill()
	}
	go r.sweeper()
	r.kickSweep()
	return r, nil
}

// findInit locates swarm-init.
func findInit(given string) (string, error) {
	if given != "" {
		if err := isExecutable(given); err != nil {
			return "", fmt.Errorf("native runtime: init %s: %w (build it with make build: bin/%s)", given, err, InitName)
		}
		return given, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), InitName)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(InitName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("native runtime: %s was found neither beside this program nor on PATH: build it with make build (bin/%s) or give its path", InitName, InitName)
}

func isExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// Name is "native".
func (r *Runtime) Name() string { return "native" }

// Rootless says whether the runtime runs without root (no cgroups).
func (r *Runtime) Rootless() bool { return r.rootless }

// CgroupVersion is the hierarchy containers' limits use: "v1", "v2" or
// "none".
func (r *Runtime) CgroupVersion() string { return r.cgroups.version }

// ImportImage unpacks the OCI layout directory or tar at path (once per
// image digest) and returns its reference, the name to use as Spec.Image.
func (r *Runtime) ImportImage(_ context.Context, path string) (string, error) {
	return r.images.importImage(path)
}

// LogPath is the log file of container id.
func (r *Runtime) LogPath(id string) string { return filepath.Join(r.dir, id, "log") }

// limitsWarning says why l is not enforced, or "" when it is.
func (r *Runtime) limitsWarning(l container.Limits) string {
	if r.cgroups.version != CgroupsNone || (l.Memory() <= 0 && l.CPUs <= 0 && l.Pids <= 0) {
		return ""
	}
	why := "cgroups are off (cgroups none)"
	if r.rootless {
		why = "the native runtime runs without root and the host delegates no cgroup to it"
	}
	return fmt.Sprintf("limits not enforced (memory %d bytes, %v CPUs, %d pids): %s; run swarmd as root to enforce them", l.Memory(), l.CPUs, l.Pids, why)
}

// Create prepares a container: its directory, overlay layer, cgroup with
// its limits and record. Nothing runs yet.
func (r *Runtime) Create(_ context.Context, spec container.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	img, err := r.images.lookup(spec.Image)
	if err != nil {
		return fmt.Errorf("create %s: %w", spec.ID, err)
	}
	args := spec.Command
	if len(args) == 0 {
		args = append(slices.Clone(img.config.Entrypoint), img.config.Cmd...)
	}
	if len(args) == 0 {
		return fmt.Errorf("create %s: no command given and the image %s has none", spec.ID, spec.Image)
	}
	if spec.Hostname == "" {
		spec.Hostname = spec.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ctrs[spec.ID]; ok {
		return fmt.Errorf("create %s: %w (delete it first or pick another ID)", spec.ID, container.ErrExists)
	}
	dir := filepath.Join(r.dir, spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create %s: %w (its directory %s is left from before: delete it)", spec.ID, container.ErrExists, dir)
		}
		return fmt.Errorf("create %s: %w", spec.ID, err)
	}
	c := &ctr{dir: dir, recPath: r.recordPath(spec.ID), rec: record{
		Spec: spec, Lower: img.rootfs, Args: args, Env: mergeEnv(img.config.Env, spec.Env),
		Cwd: img.config.WorkingDir, State: container.Created, CreatedAt: time.Now().UTC(),
	}}
	if w := r.limitsWarning(spec.Limits); w != "" {
		r.log.Warn("container limits degraded", "container", spec.ID, "warning", w)
		c.rec.Warnings = []string{w}
	}
	undo := func(err error) error {
		os.RemoveAll(dir)
		return err
	}
	cg, err := r.cgroups.create(spec.ID, spec.Limits)
	if err != nil {
		return undo(fmt.Errorf("create %s: %w", spec.ID, err))
	}
	if err := c.save(); err != nil {
		_ = cg.remove()
		return undo(fmt.Errorf("create %s: %w", spec.ID, err))
	}
	r.ctrs[spec.ID] = c
	return nil
}

// mergeEnv is the image's environment with the spec's added (a spec
// value replaces the image's for the same key).
func mergeEnv(image, spec []string) []string {
	out := slices.Clone(image)
	for _, kv := range spec {
		k, _, _ := strings.Cut(kv, "=")
		out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		out = append(out, kv)
	}
	return out
}

func (r *Runtime) recordPath(id string) string { return filepath.Join(r.runDir, id+".json") }

func (c *ctr) save() error {
	b, err := json.Marshal(c.rec)
	if err != nil {
		return err
	}
	if err := writeAtomic(c.recPath, b); err != nil {
		return fmt.Errorf("save the state of %s: %w", c.rec.Spec.ID, err)
	}
	return nil
}

func (r *Runtime) get(op, id string) (*ctr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, id, container.ErrNotFound)
	}
	return c, nil
}

// Start starts the container's init, which sets the container up and
// executes the command. A command that is not in the image, or any
// failure to set the container up, is Start's error.
func (r *Runtime) Start(_ context.Context, id string) error {
	c, err := r.get("start", id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State != container.Created {
		return fmt.Errorf("start %s: already %s (delete and create it again to rerun)", id, strings.ToLower(string(c.rec.State)))
	}
	cg, err := r.cgroups.load(id)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if cg == nil {
		return fmt.Errorf("start %s: its cgroup is gone (delete and create it again)", id)
	}
	log, err := os.OpenFile(filepath.Join(c.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start %s: open its log: %w", id, err)
	}
	defer log.Close()
	r.mu.Lock()
	r.lastLower = c.rec.Lower
	r.mu.Unlock()
	r.lastStart.Store(time.Now().UnixNano())
	w, err := r.takeInit(c.rec.Lower)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	pid, exited := w.pid, w.exited
	abort := func(err error) error {
		w.kill()
		_ = cg.kill()
		return err
	}
	// The container's layers: those the warm init prepared, or its own.
	layers := initproc.Layers{Root: filepath.Join(c.dir, "rootfs"), Lower: c.rec.Lower,
		Upper: filepath.Join(c.dir, "upper"), Work: filepath.Join(c.dir, "work")}
	if w.layers != nil {
		layers, c.rec.LayerDir = *w.layers, w.pool
	} else {
		c.rec.LayerDir = c.dir
		for _, d := range []string{layers.Root, layers.Upper, layers.Work} {
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return abort(fmt.Errorf("start %s: %w", id, err))
			}
		}
	}
	adopted := false
	if w.cgroup != "" {
		// The init waits in a group of its own: it becomes the container's.
		// If the container's group is not empty (a runtime sharing the
		// cgroup parent left processes in it), the init joins it instead.
		adoptedCg, err := r.cgroups.adopt(w.cgroup, id, c.rec.Spec.Limits)
		switch {
		case err == nil:
			cg, adopted = adoptedCg, true
		case errors.Is(err, errGroupBusy):
			r.log.Warn("the container's cgroup holds processes already; its init joins them (does another runtime share the cgroup parent?)", "container", id)
		default:
			w.kill()
			_ = r.cgroups.removeWarm(w.cgroup)
			return fmt.Errorf("start %s: %w", id, err)
		}
	}
	if !adopted {
		if err := cg.add(pid); err != nil {
			_ = r.cgroups.removeWarm(w.cgroup)
			return abort(fmt.Errorf("start %s: join its cgroup: %w", id, err))
		}
		if err := r.cgroups.removeWarm(w.cgroup); err != nil {
			r.log.Warn("remove a warm init's cgroup", "cgroup", w.cgroup, "err", err)
		}
	}
	cfg := initproc.Config{
		Layers: layers, Prepared: w.layers != nil,
		Hostname: c.rec.Spec.Hostname, Args: c.rec.Args, Env: c.rec.Env, Cwd: c.rec.Cwd,
		Capabilities: confine.DefaultCapabilities(), Seccomp: r.seccomp, Landlock: r.landlock,
	}
	for _, m := range c.rec.Spec.Mounts {
		cfg.Mounts = append(cfg.Mounts, initproc.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	b, err := json.Marshal(initproc.Message{Config: &cfg})
	if err != nil {
		return abort(fmt.Errorf("start %s: %w", id, err))
	}
	if err := w.start(b, log); err != nil {
		return abort(fmt.Errorf("start %s: %w", id, err))
	}
	now := time.Now().UTC()
	c.rec.State, c.rec.Pid, c.rec.StartedAt = container.Running, pid, now
	c.rec.PidStart, _ = pidStartTime(pid)
	c.done = make(chan struct{})
	if err := c.save(); err != nil {
		return abort(fmt.Errorf("start %s: %w", id, err))
	}
	go r.wait(c, exited, cg)
	return nil
}

// takeInit returns a warm init if one waits, else starts one, and has the
// pool refilled in the background.
func (r *Runtime) takeInit(lower string) (*warmInit, error) {
	defer r.kickRefill()
	// Best a warm init prepared for this image, else one that prepared
	// nothing; those prepared for another image are of no use.
	var chosen, plain *warmInit
	var back []*warmInit
scan:
	for range cap(r.warm) {
		select {
		case w := <-r.warm:
			switch {
			case w.dead():
				r.discardLater(w)
			case w.layers == nil:
				if plain == nil {
					plain = w
				} else {
					back = append(back, w)
				}
			case w.layers.Lower != lower:
				r.discardLater(w)
			case chosen == nil:
				chosen = w
			default:
				back = append(back, w)
			}
		default:
			break scan
		}
	}
	if chosen == nil {
		chosen, plain = plain, nil
	}
	if plain != nil {
		back = append(back, plain)
	}
	for _, w := range back {
		select {
		case r.warm <- w:
		default:
			r.discardLater(w)
		}
	}
	if chosen != nil {
		return chosen, nil
	}
	sp, err := r.spawner()
	if err != nil {
		return nil, err
	}
	return newInit(sp, r.init)
}

// discardLater discards w in the background; Close waits for it.
func (r *Runtime) discardLater(w *warmInit) {
	r.discards.Add(1)
	go func() {
		defer r.discards.Done()
		r.discardInit(w)
	}()
}

// discardInit ends a warm init that will not be used, its layers and its
// cgroup.
func (r *Runtime) discardInit(w *warmInit) {
	w.kill()
	if err := r.cgroups.removeWarm(w.cgroup); err != nil {
		r.log.Warn("remove a warm init's cgroup", "cgroup", w.cgroup, "err", err)
	}
	if w.pool != "" {
		if err := r.discard(w.pool); err != nil {
			r.log.Warn("discard a warm init's layers", "dir", w.pool, "err", err)
		}
	}
}

func (r *Runtime) kickRefill() {
	select {
	case r.refill <- struct{}{}:
	default:
	}
}

// refiller keeps the pool of warm inits full until the runtime closes.
func (r *Runtime) refiller() {
	defer close(r.refilled)
	for {
		select {
		case <-r.stop:
			return
		case <-r.refill:
		}
		if !r.awaitQuiet() {
			return
		}
		for len(r.warm) < cap(r.warm) {
			sp, err := r.spawner()
			if err != nil {
				break
			}
			w, err := newInit(sp, r.init)
			if err != nil {
				r.log.Warn("start a warm init", "err", err)
				break
			}
			if w.cgroup, err = r.cgroups.placeWarm(r.warmPrefix, w.pid); err != nil {
				r.log.Warn("place a warm init in a cgroup of its own", "err", err)
			}
			// Ready the root of the image the last container used: most
			// containers in a row share one.
			r.mu.Lock()
			lower := r.lastLower
			r.mu.Unlock()
			if lower != "" {
				if err := w.prepare(lower, r.pool); err != nil {
					r.log.Warn("prepare a warm init", "err", err)
					w.kill()
					break
				}
			}
			select {
			case r.warm <- w:
			case <-r.stop:
				r.discardInit(w)
				return
			}
		}
	}
}

// Refills wait for a quiet moment: moving a process into a cgroup v1
// memory group holds a kernel lock that every fork, exec and exit on the
// host waits for (milliseconds for a Go process), so a refill right after
// a Start would stall the container it started. A refill waits until no
// container has started for refillQuiet, or refillMaxWait has passed.
const (
	refillQuiet   = 10 * time.Millisecond
	refillMaxWait = 100 * time.Millisecond
)

// awaitQuiet waits for a quiet moment to refill; false if the runtime is
// closing.
func (r *Runtime) awaitQuiet() bool {
	deadline := time.Now().Add(refillMaxWait)
	for {
		since := time.Since(time.Unix(0, r.lastStart.Load()))
		if since >= refillQuiet || time.Now().After(deadline) {
			return true
		}
		select {
		case <-r.stop:
			return false
		case <-time.After(refillQuiet - since):
		}
	}
}

// spawner returns the runtime's spawner, starting it again if it died.
func (r *Runtime) spawner() (*spawner, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("the runtime is closed")
	}
	if r.spawn != nil && r.spawn.alive() {
		return r.spawn, nil
	}
	sp, err := startSpawner(r.init)
	if err != nil {
		return nil, err
	}
	r.spawn = sp
	return sp, nil
}

// Close stops the runtime's spawner; every container still running dies
// with it (native containers live with their runtime) and is recorded as
// exited.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = os.Remove(r.runDir) // records deleted since
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.refilled
	<-r.swept
	for len(r.warm) > 0 {
		r.discardInit(<-r.warm)
	}
	r.discards.Wait()
	r.mu.Lock()
	sp := r.spawn
	r.spawn = nil
	r.mu.Unlock()
	if sp != nil {
		sp.close()
	}
	_ = os.Remove(r.runDir)  // only if no record is left in it
	r.cgroups.removeParent() // only if no group is left in it
	return nil
}

// wait records the exit of a started container: its code, whether the
// kernel OOM-killed it, and it removes the container's cgroup.
func (r *Runtime) wait(c *ctr, exited <-chan syscall.WaitStatus, cg cgroup) {
	ws := <-exited
	code := -1
	switch {
	case ws.Exited():
		code = ws.ExitStatus()
	case ws.Signaled():
		code = 128 + int(ws.Signal())
	}
	// The init was PID 1 of its namespace: the kernel has killed the rest.
	oom, err := cg.oomKills()
	if err != nil {
		r.log.Warn("read the OOM count of a container", "container", c.rec.Spec.ID, "err", err)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.State, c.rec.ExitCode, c.rec.ExitedAt, c.rec.Pid = container.Exited, code, time.Now().UTC(), 0
	c.rec.OOMKilled = oom > 0 && code == 128+int(syscall.SIGKILL)
	switch {
	case c.rec.OOMKilled:
		c.rec.Reason = "OOMKilled: over its memory limit"
	case c.rec.Stopped:
		c.rec.Reason = "Stopped"
	case closed:
		c.rec.Reason = reasonClosed
	}
	// Waiters have what they wait for; the rest (under c.mu, which Delete
	// takes) is cleanup.
	c.final = c.statusLocked()
	close(c.done)
	_ = cg.kill()
	if err := removeCgroup(cg); err != nil {
		r.log.Warn("remove the cgroup of an exited container", "container", c.rec.Spec.ID, "err", err)
	}
	if err := c.save(); err != nil {
		r.log.Warn("save the exit of a container", "container", c.rec.Spec.ID, "err", err)
	}
}

// removeCgroup removes a group whose processes were just killed; the
// kernel may take a moment to let go of them.
func removeCgroup(cg cgroup) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = cg.remove(); err == nil {
			return nil
		}
		_ = cg.kill()
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return err
}

// Wait blocks until the container exits and returns its final status.
func (r *Runtime) Wait(ctx context.Context, id string) (container.Status, error) {
	c, err := r.get("wait", id)
	if err != nil {
		return container.Status{}, err
	}
	c.mu.Lock()
	done, state := c.done, c.rec.State
	c.mu.Unlock()
	if done == nil {
		if state == container.Exited {
			return c.status(), nil
		}
		return container.Status{}, fmt.Errorf("wait %s: not started (Start it first)", id)
	}
	select {
	case <-done:
		return c.final, nil
	case <-ctx.Done():
		return container.Status{}, fmt.Errorf("wait %s: %w", id, ctx.Err())
	}
}

// Stop sends SIGTERM, then SIGKILL after grace, and waits for the exit. A
// container not running is left as it is. (The command is PID 1 of its
// namespace: it gets SIGTERM only if it handles it.)
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	c, err := r.get("stop", id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.rec.State != container.Running {
		c.mu.Unlock()
		return nil
	}
	c.rec.Stopped = true
	pid, done := c.rec.Pid, c.done
	c.mu.Unlock()
	if err := unix.Kill(pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("stop %s: SIGTERM: %w", id, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	case <-timer.C:
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("stop %s: SIGKILL: %w", id, err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: waiting after SIGKILL: %w", id, ctx.Err())
	}
}

// Delete removes a container that is not running: its cgroup, its layer,
// its log and its record.
func (r *Runtime) Delete(_ context.Context, id string) error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		// Its cgroup may be another runtime's by now (same parent, same
		// ID): a closed runtime touches nothing.
		return fmt.Errorf("delete %s: the runtime is closed (a new runtime on the same state directory reconciles and deletes it)", id)
	}
	c, err := r.get("delete", id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State == container.Running {
		return fmt.Errorf("delete %s: %w (Stop it first)", id, container.ErrRunning)
	}
	// Its exit removed the cgroup, unless that failed or it never ran.
	cg, err := r.cgroups.load(id)
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if cg != nil {
		if err := removeCgroup(cg); err != nil {
			return fmt.Errorf("delete %s: remove its cgroup: %w", id, err)
		}
	}
	if err := r.discard(c.dir); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if l := c.rec.LayerDir; l != "" && l != c.dir {
		if err := r.discard(l); err != nil {
			return fmt.Errorf("delete %s: its layers: %w", id, err)
		}
	}
	if err := os.Remove(c.recPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete %s: remove its record: %w", id, err)
	}
	r.mu.Lock()
	delete(r.ctrs, id)
	r.mu.Unlock()
	return nil
}

// discard moves a container's directory into the trash, which the
// sweeper empties in the background: removing a layer file by file is the
// slowest part of a delete, and nothing waits on it (the name is free at
// once; a runtime that starts empties what a crash left in the trash).
func (r *Runtime) discard(dir string) error {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	dst := filepath.Join(r.trash, filepath.Base(dir)+"-"+hex.EncodeToString(rnd[:]))
	if err := os.Rename(dir, dst); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	r.kickSweep()
	return nil
}

func (r *Runtime) kickSweep() {
	select {
	case r.sweep <- struct{}{}:
	default:
	}
}

// sweeper empties the trash when asked, until the runtime closes.
func (r *Runtime) sweeper() {
	defer close(r.swept)
	for {
		select {
		case <-r.stop:
			r.emptyTrash()
			return
		case <-r.sweep:
			r.emptyTrash()
		}
	}
}

func (r *Runtime) emptyTrash() {
	r.trashMu.Lock()
	defer r.trashMu.Unlock()
	ents, err := os.ReadDir(r.trash)
	if err != nil {
		r.log.Warn("read the trash", "dir", r.trash, "err", err)
		return
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(r.trash, e.Name())); err != nil {
			r.log.Warn("empty the trash", "dir", r.trash, "err", err)
		}
	}
}

// Sweep removes what deleted containers left in the trash now and
// returns when it is empty (tests and tools; Delete needs no sweep).
func (r *Runtime) Sweep() { r.emptyTrash() }

// Status reports the container's state.
func (r *Runtime) Status(_ context.Context, id string) (container.Status, error) {
	c, err := r.get("status", id)
	if err != nil {
		return container.Status{}, err
	}
	return c.status(), nil
}

func (c *ctr) status() container.Status {
	if c.done != nil {
		select {
		case <-c.done:
			return c.final // without waiting for the exit's cleanup
		default:
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

func (c *ctr) statusLocked() container.Status {
	rec := c.rec
	return container.Status{
		ID: rec.Spec.ID, State: rec.State, Pid: rec.Pid, ExitCode: rec.ExitCode, OOMKilled: rec.OOMKilled,
		Reason: rec.Reason, StartedAt: rec.StartedAt, ExitedAt: rec.ExitedAt, Warnings: rec.Warnings,
	}
}

// List reports every container, ordered by ID.
func (r *Runtime) List(_ context.Context) ([]container.Status, error) {
	r.mu.Lock()
	cs := make([]*ctr, 0, len(r.ctrs))
	for _, c := range r.ctrs {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	out := make([]container.Status, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.status())
	}
	slices.SortFunc(out, func(a, b container.Status) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Logs opens the container's log (stdout and stderr interleaved).
func (r *Runtime) Logs(_ context.Context, id string) (io.ReadCloser, error) {
	c, err := r.get("logs", id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(c.dir, "log"))
	if errors.Is(err, os.ErrNotExist) {
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", id, err)
	}
	return f, nil
}

// reconcile loads the records. A container recorded as running belonged
// to a runtime that died: whatever is left of it is killed and it is
// recorded as exited. A container directory without a readable record (a
// Create cut short, a record torn by a host crash, or a reboot that
// emptied the run directory) goes to the trash after its cgroup is
// emptied and removed; a record without a directory is dropped.
func (r *Runtime) reconcile() error {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		id, dir := e.Name(), filepath.Join(r.dir, e.Name())
		c := &ctr{dir: dir, recPath: r.recordPath(id)}
		b, err := os.ReadFile(c.recPath)
		if err == nil {
			err = json.Unmarshal(b, &c.rec)
			if err == nil && c.rec.Spec.ID != id {
				err = fmt.Errorf("the record names %q", c.rec.Spec.ID)
			}
		}
		if err != nil {
			r.log.Warn("removing a container without a readable record", "dir", dir, "err", err)
			if cg, lerr := r.cgroups.load(id); lerr == nil && cg != nil {
				_ = cg.kill()
				_ = removeCgroup(cg)
			}
			_ = os.Remove(c.recPath)
			if err := r.discard(dir); err != nil {
				return err
			}
			continue
		}
		if c.rec.State == container.Running {
			if c.rec.Pid > 0 {
				if start, err := pidStartTime(c.rec.Pid); err == nil && start == c.rec.PidStart {
					_ = killPid(c.rec.Pid)
				}
			}
			if cg, err := r.cgroups.load(id); err == nil && cg != nil {
				_ = cg.kill()
				if oom, _ := cg.oomKills(); oom > 0 {
					c.rec.OOMKilled = true
				}
				if err := removeCgroup(cg); err != nil {
					r.log.Warn("remove the cgroup of a lost container", "container", id, "err", err)
				}
			}
			c.rec.State, c.rec.Pid, c.rec.ExitCode = container.Exited, 0, -1
			c.rec.ExitedAt, c.rec.Reason = time.Now().UTC(), reasonLost
			if err := c.save(); err != nil {
				return err
			}
		}
		r.ctrs[id] = c
	}
	// Layers prepared by the warm inits of a runtime that died, and not
	// a container's, go.
	kept := map[string]bool{}
	for _, c := range r.ctrs {
		kept[c.rec.LayerDir] = true
	}
	pooled, err := os.ReadDir(r.pool)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range pooled {
		if dir := filepath.Join(r.pool, e.Name()); !kept[dir] {
			if err := r.discard(dir); err != nil {
				return err
			}
		}
	}
	recs, err := os.ReadDir(r.runDir)
	if err != nil {
		return err
	}
	for _, e := range recs {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if _, known := r.ctrs[id]; ok && !known {
			_ = os.Remove(filepath.Join(r.runDir, e.Name()))
		}
	}
	return nil
}

// pidStartTime is a process's start time in clock ticks since boot (field
// 22 of /proc/PID/stat): with the pid it names one process, not a reuse.
func pidStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func killPid(pid int) error {
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}
