// Package deploy runs agent versions. A version's replicas are containers
// of a container runtime; each serves on a Unix socket in a directory of
// its own on the node (the containers have no network), and one mesh
// service per agent spreads connections over the replicas of the versions
// it routes to, by weight: the canary's traffic split.
//
// What a replica is given, inside its container:
//
//	/run/agent/          its directory: http.sock is where it must listen,
//	                     genome.json its design
//	/run/secrets/spiffe/ its identity (svid.crt, svid.key, bundle.crt),
//	                     read-only, when the agent has one
//	/run/mesh/           the mesh's service sockets, read-only, when the
//	                     deployer has a MeshDir: <agent>.sock reaches that
//	                     agent's service (HTTP over a Unix socket)
//	SWARM_LISTEN=unix:/run/agent/http.sock, SWARM_GENOME=/run/agent/genome.json,
//	SWARM_AGENT, SWARM_VERSION, SWARM_REPLICA, SWARM_IDENTITY_DIR,
//	SWARM_MESH_DIR=/run/mesh (with a MeshDir)
//
// A replica is ready when GET /healthz over its socket answers 200.
//
// A replica that exits while its version is deployed is started again in
// its slot (same container name, same socket), after a backoff: see
// Options.RestartBackoff and the package's restart.go.
//
// A replica's calls through /run/mesh are attributed to it by Caller: the
// mesh proxy reads the connecting process's pid (SO_PEERCRED) and the
// deployer matches that process's PID namespace with its replicas'. The
// environment (SWARM_AGENT) is not trusted for this: a process may set its
// children's as it likes, but cannot leave its PID namespace.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
)

// Paths and variables inside a replica's container.
const (
	AgentDir    = "/run/agent"
	IdentityDir = "/run/secrets/spiffe"
	// MeshDir is where a replica finds the mesh's service sockets.
	MeshDir    = "/run/mesh"
	socketName = "http.sock"
	genomeName = "genome.json"
)

// DefaultReadyTimeout bounds how long a replica may take to answer its
// health check.
const DefaultReadyTimeout = 30 * time.Second

// Options configure New.
type Options struct {
	// Runtime runs the replicas.
	Runtime container.Runtime
	// Mesh is the routing table the agents' services are set in.
	Mesh *mesh.Table
	// Dir holds the replicas' directories (sockets, genomes).
	Dir string
	// MeshDir is the host directory of the mesh proxy's service sockets
	// (mesh.Options.SocketDir), mounted read-only at /run/mesh in every
	// replica with SWARM_MESH_DIR=/run/mesh; empty: replicas cannot call
	// services.
	MeshDir string
	// ReadyTimeout bounds a replica's start (default
	// DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// RestartBackoff is how long a replica that exited waits before it is
	// started again the first time (default DefaultRestartBackoff); each
	// further exit doubles it, up to RestartBackoffMax, and a replica that
	// ran RestartReset (60 s) before it exited starts over from it.
	RestartBackoff time.Duration
	// RestartBackoffMax caps the restart backoff (default
	// DefaultRestartBackoffMax).
	RestartBackoffMax time.Duration
	// OnReplicaChange, if set, is called (from the replica's supervisor,
	// without the deployer's locks) when a replica of agent's version
	// exits and again when it has been started again: swarmd keeps the
	// agent's ready replicas with it. It must not block for long.
	OnReplicaChange func(agent, version string)
	// Log receives what the deployer does (default: discarded).
	Log *slog.Logger
}

// Version is one version of an agent to run.
type Version struct {
	Agent, Version string
	// Replicas is how many containers serve it (at least 1).
	Replicas int
	// Image and Command are what the containers run; Command must serve
	// HTTP on $SWARM_LISTEN.
	Image   string
	Command []string
	Env     []string
	Mounts  []container.Mount
	Limits  container.Limits
	// Genome is the version's design (JSON), written to genome.json.
	Genome []byte
	// Identity is the host directory with the agent's SVID files, mounted
	// read-only; empty: none.
	Identity string
}

// Replica is one running container of a version.
type Replica struct {
	// ID is the replica's mesh backend ID: agent@version/index.
	ID        string
	Container string
	// Socket is the host path of the socket it serves on.
	Socket  string
	Version string
	// Restarts is how many times the deployer has started the replica
	// again after it exited (as of when this copy was taken); a start
	// that failed counts too.
	Restarts int
	// pidNS is the container's PID namespace ("pid:[inode]"), how its
	// calls are attributed (Caller); empty when unknown.
	pidNS string
}

// Deployer runs agent versions. Safe for concurrent use.
type Deployer struct {
	rt      container.Runtime
	mesh    *mesh.Table
	dir     string
	meshDir string
	ready   time.Duration
	log     *slog.Logger
	// backoff and backoffMax are the restart backoff's first and largest
	// delays.
	backoff, backoffMax time.Duration
	// changed is Options.OnReplicaChange (nil: none).
	changed func(agent, version string)

	mu       sync.Mutex
	versions map[key]*deployment
	byPidNS  map[string]key // running replicas' PID namespaces
	closed   bool
}

// deployment is one deployed (or reserved) version: its replicas, by
// slot, and what its supervisors record.
type deployment struct {
	v Version
	// replicas is nil while the version is being deployed.
	replicas []Replica
	// cancel ends the replicas' supervisors; wg waits for them.
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// exits are the last maxExits exits, oldest first; seq counts every
	// exit recorded, checked those Check has reported.
	exits   []exitRecord
	seq     int
	checked int
	// recorded[i] is 1 + the Restarts of slot i's incarnation whose exit
	// was recorded last (0: none): an exit is recorded once.
	recorded []int
}

type key struct{ agent, version string }

// New makes a deployer.
func New(opts Options) (*Deployer, error) {
	if opts.Runtime == nil || opts.Mesh == nil || opts.Dir == "" {
		return nil, errors.New("deploy: a runtime, a mesh table and a directory are required")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = DefaultRestartBackoff
	}
	if opts.RestartBackoffMax <= 0 {
		opts.RestartBackoffMax = DefaultRestartBackoffMax
	}
	opts.RestartBackoffMax = max(opts.RestartBackoffMax, opts.RestartBackoff)
	return &Deployer{rt: opts.Runtime, mesh: opts.Mesh, dir: opts.Dir, meshDir: opts.MeshDir, ready: opts.ReadyTimeout, log: opts.Log,
		backoff: opts.RestartBackoff, backoffMax: opts.RestartBackoffMax, changed: opts.OnReplicaChange,
		versions: map[key]*deployment{}, byPidNS: map[string]key{}}, nil
}

var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func (v Version) check() error {
	switch {
	case !namePattern.MatchString(v.Agent):
		return fmt.Errorf("agent name %q: use lowercase letters, digits and '-'", v.Agent)
	case !namePattern.MatchString(v.Version):
		return fmt.Errorf("agent %s: version %q: use lowercase letters, digits and '-' (e.g. v3)", v.Agent, v.Version)
	case v.Replicas < 1:
		return fmt.Errorf("agent %s@%s: %d replicas: at least 1", v.Agent, v.Version, v.Replicas)
	case len(containerID(v.Agent, v.Version, v.Replicas-1)) > 63:
		return fmt.Errorf("agent %s@%s: name and version too long for container IDs (63 characters)", v.Agent, v.Version)
	case v.Image == "" || len(v.Command) == 0:
		return fmt.Errorf("agent %s@%s: an image and a serving command are required", v.Agent, v.Version)
	}
	return nil
}

func containerID(agent, version string, i int) string {
	return agent + "-" + version + "-" + strconv.Itoa(i)
}

// Deploy starts v's replicas and waits until each answers its health
// check. On any failure it removes what it started and says which replica
// failed and why (with the end of its log). Once deployed, a replica that
// exits is restarted (see Options.RestartBackoff) until the version is
// removed or the deployer closed.
func (d *Deployer) Deploy(ctx context.Context, v Version) ([]Replica, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	k := key{v.Agent, v.Version}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("deploy: the deployer is closed")
	}
	if _, ok := d.versions[k]; ok {
		d.mu.Unlock()
		return nil, fmt.Errorf("agent %s@%s is already deployed: remove it first", v.Agent, v.Version)
	}
	dep := &deployment{v: v}
	d.versions[k] = dep // reserved
	d.mu.Unlock()
	var started []Replica
	fail := func(err error) ([]Replica, error) {
		d.stop(context.WithoutCancel(ctx), started)
		d.mu.Lock()
		if d.versions[k] == dep {
			delete(d.versions, k)
		}
		d.mu.Unlock()
		return nil, err
	}
	for i := range v.Replicas {
		r, err := d.start(ctx, v, i)
		if r.Container != "" {
			started = append(started, r)
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, r := range started {
		if err := d.waitReady(ctx, r); err != nil {
			return fail(err)
		}
	}
	d.mu.Lock()
	if d.closed || d.versions[k] != dep {
		d.mu.Unlock()
		return fail(fmt.Errorf("agent %s@%s was removed (or the deployer closed) while it was deployed", v.Agent, v.Version))
	}
	sctx, cancel := context.WithCancel(context.Background())
	dep.replicas, dep.cancel, dep.recorded = slices.Clone(started), cancel, make([]int, len(started))
	for i := range started {
		dep.wg.Add(1)
		go d.supervise(sctx, dep, i)
	}
	d.mu.Unlock()
	d.log.Info("agent version deployed", "agent", v.Agent, "version", v.Version, "replicas", len(started))
	return slices.Clone(started), nil
}

// start creates and starts replica i; the returned Replica names the
// container once it exists, even with an error.
func (d *Deployer) start(ctx context.Context, v Version, i int) (Replica, error) {
	id := containerID(v.Agent, v.Version, i)
	dir := filepath.Join(d.dir, v.Agent, v.Version, strconv.Itoa(i))
	if err := os.RemoveAll(dir); err != nil {
		return Replica{}, fmt.Errorf("replica %s: %w", id, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Replica{}, fmt.Errorf("replica %s: %w", id, err)
	}
	genome := v.Genome
	if len(genome) == 0 {
		genome = []byte("{}")
	}
	if err := os.WriteFile(filepath.Join(dir, genomeName), genome, 0o644); err != nil {
		return Replica{}, fmt.Errorf("replica %s: genome: %w", id, err)
	}
	r := Replica{ID: fmt.Sprintf("%s@%s/%d", v.Agent, v.Version, i), Socket: filepath.Join(dir, socketName), Version: v.Version}
	env := append(slices.Clone(v.Env),
		"SWARM_LISTEN=unix:"+AgentDir+"/"+socketName, "SWARM_GENOME="+AgentDir+"/"+genomeName,
		"SWARM_AGENT="+v.Agent, "SWARM_VERSION="+v.Version, "SWARM_REPLICA="+strconv.Itoa(i))
	mounts := append(slices.Clone(v.Mounts), container.Mount{Source: dir, Target: AgentDir})
	if v.Identity != "" {
		mounts = append(mounts, container.Mount{Source: v.Identity, Target: IdentityDir, ReadOnly: true})
		env = append(env, "SWARM_IDENTITY_DIR="+IdentityDir)
	}
	if d.meshDir != "" {
		mounts = append(mounts, container.Mount{Source: d.meshDir, Target: MeshDir, ReadOnly: true})
		env = append(env, "SWARM_MESH_DIR="+MeshDir)
	}
	spec := container.Spec{ID: id, Image: v.Image, Command: v.Command, Env: env, Mounts: mounts, Limits: v.Limits,
		Hostname: id}
	if err := d.rt.Create(ctx, spec); err != nil {
		return Replica{}, fmt.Errorf("replica %s: %w", id, err)
	}
	r.Container = id
	if err := d.rt.Start(ctx, id); err != nil {
		return r, fmt.Errorf("replica %s: %w", id, err)
	}
	if ns, err := d.pidNamespace(ctx, id); err != nil {
		d.log.Warn("replica's PID namespace unknown: its calls through the mesh count as external", "replica", r.ID, "err", err)
	} else {
		r.pidNS = ns
		d.mu.Lock()
		d.byPidNS[ns] = key{v.Agent, v.Version}
		d.mu.Unlock()
	}
	return r, nil
}

// pidNamespace reads the PID namespace of a started container's init.
func (d *Deployer) pidNamespace(ctx context.Context, id string) (string, error) {
	st, err := d.rt.Status(ctx, id)
	if err != nil {
		return "", err
	}
	if st.Pid <= 0 {
		return "", fmt.Errorf("the runtime gives no pid for container %s", id)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		return "", err
	}
	if own, err := os.Readlink("/proc/self/ns/pid"); err != nil || own == ns {
		return "", fmt.Errorf("container %s shares the host's PID namespace %s: its processes cannot be told from the host's", id, ns)
	}
	return ns, nil
}

// Caller names the agent version whose replica the process pid (in the
// host's PID namespace) runs in, by the process's PID namespace: a process
// cannot leave its container's namespace, nor set it, as it can its
// environment. False for a process of no running replica (the host's, or
// one gone before it was looked up). The mesh proxy calls it
// (mesh.Options.Identify) for each connection on a service socket; a pid
// reused between the connect and the lookup, in a window of microseconds,
// would be misattributed.
func (d *Deployer) Caller(pid int) (agent, version string, ok bool) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return "", "", false
	}
	d.mu.Lock()
	k, ok := d.byPidNS[ns]
	d.mu.Unlock()
	return k.agent, k.version, ok
}

// waitReady polls the replica's health check until it answers 200, its
// container exits, or the ready timeout passes.
func (d *Deployer) waitReady(ctx context.Context, r Replica) error {
	ctx, cancel := context.WithTimeout(ctx, d.ready)
	defer cancel()
	client := socketClient(r.Socket)
	defer client.CloseIdleConnections()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		st, err := d.rt.Status(ctx, r.Container)
		if err != nil {
			return fmt.Errorf("replica %s: %w", r.Container, err)
		}
		if st.State == container.Exited {
			return fmt.Errorf("replica %s exited with code %d before it was ready%s", r.Container, st.ExitCode, d.tail(r.Container))
		}
		if last = health(ctx, client); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s not ready after %v: %v (does its command serve HTTP on $SWARM_LISTEN?)%s", r.Container, d.ready, last, d.tail(r.Container))
		case <-tick.C:
		}
	}
}

// tail is the end of a container's log, for an error message.
func (d *Deployer) tail(id string) string {
	rc, err := d.rt.Logs(context.Background(), id)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	s := strings.TrimSpace(string(b))
	if len(s) > 500 {
		s = "…" + s[len(s)-500:]
	}
	if s == "" {
		return ""
	}
	return "; its log ends: " + s
}

// socketClient is an HTTP client that reaches a replica's socket.
func socketClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
}

func health(ctx context.Context, c *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://replica/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check answered %s", resp.Status)
	}
	return nil
}

// Replicas are the replicas of agent@version, by slot (a replica waiting
// to be restarted included), with their restart counts.
func (d *Deployer) Replicas(agent, version string) []Replica {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dep := d.versions[key{agent, version}]; dep != nil {
		return slices.Clone(dep.replicas)
	}
	return nil
}

// Route points the agent's mesh service, listening at address, at the
// replicas of the versions in weights (version → share; a version's
// replicas split its share evenly). A version not deployed is an error.
//
// A replica that is down (exited, waiting to be restarted) stays a
// backend: its socket refuses connections, and the mesh proxy retries a
// connection whose dial fails once on another backend (runtime/mesh
// Proxy), so traffic goes around it. Its restart serves on the same
// socket, so the route stays valid without being set again.
func (d *Deployer) Route(agent, address string, weights map[string]int) error {
	d.mu.Lock()
	var backends []mesh.Backend
	versions := make([]string, 0, len(weights))
	for v := range weights {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		dep, ok := d.versions[key{agent, v}]
		if !ok || len(dep.replicas) == 0 {
			d.mu.Unlock()
			return fmt.Errorf("route agent %s: version %s is not deployed", agent, v)
		}
		w := weights[v]
		if w < 0 {
			d.mu.Unlock()
			return fmt.Errorf("route agent %s: version %s: weight %d is negative", agent, v, w)
		}
		rs := dep.replicas
		for _, r := range rs {
			// Per replica: the version's weight spread over its replicas,
			// scaled so that integer shares stay exact enough.
			backends = append(backends, mesh.Backend{ID: r.ID, Version: v, Address: "unix:" + r.Socket, Weight: w * 1000 / len(rs)})
		}
	}
	d.mu.Unlock()
	if _, err := d.mesh.Set(mesh.Service{Name: agent, Address: address}, backends); err != nil {
		return fmt.Errorf("route agent %s: %w", agent, err)
	}
	return nil
}

// Remove stops and deletes agent@version's replicas, which are not
// restarted from then on. Route the agent away from it first: its open
// connections are cut.
func (d *Deployer) Remove(ctx context.Context, agent, version string) error {
	k := key{agent, version}
	d.mu.Lock()
	dep, ok := d.versions[k]
	delete(d.versions, k)
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("agent %s@%s is not deployed", agent, version)
	}
	if dep.cancel == nil {
		return nil // being deployed: Deploy sees it gone and removes what it started
	}
	dep.cancel()
	dep.wg.Wait() // no restart after this
	d.mu.Lock()
	rs := slices.Clone(dep.replicas)
	d.mu.Unlock()
	if err := d.stop(ctx, rs); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(d.dir, agent, version))
}

// stop stops and deletes replicas, joining their errors.
func (d *Deployer) stop(ctx context.Context, rs []Replica) error {
	var errs []error
	d.mu.Lock()
	for _, r := range rs {
		if r.pidNS != "" {
			delete(d.byPidNS, r.pidNS)
		}
	}
	d.mu.Unlock()
	for _, r := range rs {
		if err := d.rt.Stop(ctx, r.Container, 5*time.Second); err != nil && !errors.Is(err, container.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if err := d.rt.Delete(ctx, r.Container); err != nil && !errors.Is(err, container.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Logs returns what replica i of agent@version wrote.
func (d *Deployer) Logs(ctx context.Context, agent, version string, i int) (io.ReadCloser, error) {
	return d.rt.Logs(ctx, containerID(agent, version, i))
}

// Versions lists the versions of agent that run, sorted.
func (d *Deployer) Versions(agent string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for k := range d.versions {
		if k.agent == agent { // being deployed included
			out = append(out, k.version)
		}
	}
	slices.Sort(out)
	return out
}

// Exited says whether replica i of agent@version is gone or has exited.
func (d *Deployer) Exited(ctx context.Context, agent, version string, i int) (bool, error) {
	rs := d.Replicas(agent, version)
	if i < 0 || i >= len(rs) {
		return true, nil
	}
	st, err := d.rt.Status(ctx, rs[i].Container)
	if errors.Is(err, container.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return st.State == container.Exited, nil
}
