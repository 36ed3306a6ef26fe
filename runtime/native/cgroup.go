package native

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// Cgroup versions Options.Cgroups may name.
const (
	CgroupsAuto = ""     // v2 on a unified host, v1 on a hybrid or legacy one
	CgroupsV1   = "v1"   // memory, cpu and pids hierarchies of cgroup v1
	CgroupsV2   = "v2"   // the unified hierarchy
	CgroupsNone = "none" // no cgroups: limits are refused (rootless)
)

// cpuPeriod is the CFS period (µs) CPU quotas are expressed against.
const cpuPeriod = 100000

// cgroup is one container's control group in either hierarchy.
type cgroup interface {
	// add moves pid into the group.
	add(pid int) error
	// oomKills is how many processes the kernel killed for the memory
	// limit.
	oomKills() (uint64, error)
	// kill SIGKILLs every process left in the group.
	kill() error
	// remove deletes the group (it must be empty).
	remove() error
}

// cgroupDriver creates and loads groups under a parent path.
type cgroupDriver struct {
	version string // CgroupsV1 or CgroupsV2 or CgroupsNone
	// unified is the cgroup2 mount point (/sys/fs/cgroup, or
	// /sys/fs/cgroup/unified on a hybrid host).
	unified string
	parent  string // e.g. /stratoswarm
}

// newCgroupDriver picks the hierarchy: want is an Options.Cgroups value.
func newCgroupDriver(want, parent string) (cgroupDriver, error) {
	d := cgroupDriver{version: want, parent: "/" + strings.Trim(parent, "/"), unified: "/sys/fs/cgroup"}
	mode := cgroups.Mode()
	if mode == cgroups.Hybrid {
		d.unified = "/sys/fs/cgroup/unified"
	}
	switch want {
	case CgroupsAuto:
		switch mode {
		case cgroups.Unified:
			d.version = CgroupsV2
		case cgroups.Legacy, cgroups.Hybrid:
			d.version = CgroupsV1
		default:
			return d, errors.New("no cgroup hierarchy is mounted under /sys/fs/cgroup: mount one, or run with cgroups none (no limits)")
		}
	case CgroupsV1:
		if mode == cgroups.Unified || mode == cgroups.Unavailable {
			return d, errors.New("cgroups v1 asked for, but this host has no v1 hierarchies: use v2 or leave it empty (auto)")
		}
	case CgroupsV2:
		if mode == cgroups.Legacy || mode == cgroups.Unavailable {
			return d, errors.New("cgroups v2 asked for, but this host has no unified hierarchy: use v1 or leave it empty (auto)")
		}
	case CgroupsNone:
	default:
		return d, fmt.Errorf("cgroups %q: want v1, v2, none or empty (auto)", want)
	}
	return d, nil
}

// resources maps limits onto the OCI resources both libraries take.
func resources(l container.Limits) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if m := l.Memory(); m > 0 {
		swap := m // no swap beyond the limit
		r.Memory = &specs.LinuxMemory{Limit: &m, Swap: &swap}
	}
	if l.CPUs > 0 {
		quota, period := int64(l.CPUs*cpuPeriod), uint64(cpuPeriod)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if l.Pids > 0 {
		pids := l.Pids
		r.Pids = &specs.LinuxPids{Limit: &pids}
	}
	return r
}

// create makes the group for container id with its limits.
func (d cgroupDriver) create(id string, l container.Limits) (cgroup, error) {
	path := d.parent + "/" + id
	switch d.version {
	case CgroupsNone:
		return noCgroup{}, nil
	case CgroupsV2:
		m, err := cgroup2.NewManager(d.unified, path, cgroup2.ToResources(resources(l)))
		if err != nil {
			return nil, fmt.Errorf("create cgroup v2 %s under %s: %w (are the memory, cpu and pids controllers enabled in the parent's cgroup.subtree_control?)", path, d.unified, err)
		}
		return v2Group{m: m, dir: filepath.Join(d.unified, path)}, nil
	default:
		cg, err := cgroup1.New(cgroup1.StaticPath(path), resources(l), cgroup1.WithHierarchy(v1Subsystems))
		if err != nil {
			return nil, fmt.Errorf("create cgroup v1 %s: %w", path, err)
		}
		return v1Group{cg: cg, path: path}, nil
	}
}

// load opens the group of container id if it exists (nil if not).
func (d cgroupDriver) load(id string) (cgroup, error) {
	path := d.parent + "/" + id
	switch d.version {
	case CgroupsNone:
		return noCgroup{}, nil
	case CgroupsV2:
		dir := filepath.Join(d.unified, path)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		m, err := cgroup2.Load(path, cgroup2.WithMountpoint(d.unified))
		if err != nil {
			return nil, fmt.Errorf("load cgroup v2 %s: %w", path, err)
		}
		return v2Group{m: m, dir: dir}, nil
	default:
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", path)); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", path)); errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
		}
		cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(v1Subsystems))
		if err != nil {
			return nil, fmt.Errorf("load cgroup v1 %s: %w", path, err)
		}
		return v1Group{cg: cg, path: path}, nil
	}
}

// v1Subsystems are the v1 hierarchies a container joins: the ones its
// limits use (and no others, each costs a mkdir).
func v1Subsystems() ([]cgroup1.Subsystem, error) {
	const root = "/sys/fs/cgroup"
	var out []cgroup1.Subsystem
	for _, s := range []cgroup1.Subsystem{cgroup1.NewMemory(root), cgroup1.NewCpu(root), cgroup1.NewPids(root)} {
		if p, ok := s.(interface{ Path(string) string }); ok {
			if _, err := os.Stat(p.Path("/")); err != nil {
				continue // not mounted here
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("none of the memory, cpu and pids cgroup v1 hierarchies is mounted under /sys/fs/cgroup")
	}
	return out, nil
}

type v1Group struct {
	cg   cgroup1.Cgroup
	path string
}

func (g v1Group) add(pid int) error { return g.cg.Add(cgroup1.Process{Pid: pid}) }

// oomKills reads memory.oom_control alone (a full Stat reads every
// controller's files and costs ten times more on the exit path).
func (g v1Group) oomKills() (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", g.path, "memory.oom_control"))
	if errors.Is(err, os.ErrNotExist) { // no memory hierarchy: no limit
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseKey(string(b), "oom_kill"), nil
}

func (g v1Group) kill() error {
	ps, err := g.cg.Processes(cgroup1.Pids, true)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		ps, err = g.cg.Processes(cgroup1.Memory, true)
		if err != nil {
			return nil
		}
	}
	for _, p := range ps {
		_ = killPid(p.Pid)
	}
	return nil
}

func (g v1Group) remove() error { return g.cg.Delete() }

type v2Group struct {
	m   *cgroup2.Manager
	dir string
}

func (g v2Group) add(pid int) error { return g.m.AddProc(uint64(pid)) }

func (g v2Group) oomKills() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(g.dir, "memory.events"))
	if errors.Is(err, os.ErrNotExist) { // no memory controller: no limit
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseKey(string(b), "oom_kill"), nil
}

func (g v2Group) kill() error {
	if err := g.m.Kill(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (g v2Group) remove() error {
	if err := g.m.Delete(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

type noCgroup struct{}

func (noCgroup) add(int) error             { return nil }
func (noCgroup) oomKills() (uint64, error) { return 0, nil }
func (noCgroup) kill() error               { return nil }
func (noCgroup) remove() error             { return nil }
func parseKey(s, key string) (n uint64) {
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			fmt.Sscan(f[1], &n)
		}
	}
	return n
}

// placeWarm moves warm init pid into a group of its own, named prefix and
// a random suffix, under the parent, and returns the name: Start then
// hands the group to the container by renaming it (adopt). On cgroup v1,
// moving a Go process into a memory group costs milliseconds (the kernel
// migrates its threads and memory state), a rename microseconds; warm
// inits pay the move in the background instead of Start. Only on v1: v2
// refuses renames, and there "" is returned and nothing done.
func (d cgroupDriver) placeWarm(prefix string, pid int) (string, error) {
	if d.version != CgroupsV1 {
		return "", nil
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := prefix + hex.EncodeToString(rnd[:])
	path := d.parent + "/" + name
	cg, err := cgroup1.New(cgroup1.StaticPath(path), &specs.LinuxResources{}, cgroup1.WithHierarchy(v1Subsystems))
	if err != nil {
		return "", fmt.Errorf("create the warm init's cgroup v1 %s: %w", path, err)
	}
	if err := cg.Add(cgroup1.Process{Pid: pid}); err != nil {
		_ = cg.Delete()
		return "", fmt.Errorf("move the warm init into cgroup v1 %s: %w", path, err)
	}
	return name, nil
}

// errGroupBusy: the container's group holds processes of its own (it was
// made before, by a runtime that shares the cgroup parent).
var errGroupBusy = errors.New("the container's cgroup is not empty")

// adopt makes warm group name the group of container id, with limits l:
// in each hierarchy it removes the empty group Create made and renames the
// warm one in its place, then applies the limits.
func (d cgroupDriver) adopt(name, id string, l container.Limits) (cgroup, error) {
	subs, err := v1Subsystems()
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		p, ok := s.(interface{ Path(string) string })
		if !ok {
			continue
		}
		from, to := p.Path(d.parent+"/"+name), p.Path(d.parent+"/"+id)
		if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
			if errors.Is(err, unix.EBUSY) {
				err = errGroupBusy
			}
			return nil, fmt.Errorf("make way for the warm init's cgroup: %w", err)
		}
		if err := os.Rename(from, to); err != nil {
			return nil, fmt.Errorf("hand the warm init's cgroup to the container: %w", err)
		}
	}
	cg, err := d.load(id)
	if err != nil {
		return nil, err
	}
	g, ok := cg.(v1Group)
	if !ok {
		return nil, fmt.Errorf("the container's cgroup %s is not a v1 group", id)
	}
	if err := g.cg.Update(resources(l)); err != nil {
		return nil, fmt.Errorf("set the limits of cgroup v1 %s: %w", g.path, err)
	}
	return g, nil
}

// removeWarm removes warm group name (its init has exited or is killed).
func (d cgroupDriver) removeWarm(name string) error {
	if name == "" {
		return nil
	}
	cg, err := d.load(name)
	if err != nil || cg == nil {
		return err
	}
	_ = cg.kill()
	return removeCgroup(cg)
}

// sweepWarm removes the warm groups whose names start with prefix: what a
// runtime on the same state directory left when it died.
func (d cgroupDriver) sweepWarm(prefix string) {
	if d.version != CgroupsV1 {
		return
	}
	for _, h := range []string{"memory", "cpu", "pids"} {
		ents, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h, d.parent))
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				_ = d.removeWarm(e.Name())
			}
		}
	}
}

// removeParent removes the parent group if it is empty (what is left once
// every container is gone); a busy or missing one is left as it is.
func (d cgroupDriver) removeParent() {
	switch d.version {
	case CgroupsV1:
		for _, h := range []string{"memory", "cpu", "pids"} {
			_ = os.Remove(filepath.Join("/sys/fs/cgroup", h, d.parent))
		}
	case CgroupsV2:
		_ = os.Remove(filepath.Join(d.unified, d.parent))
	}
}
