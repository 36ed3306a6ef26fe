package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

var _ container.StatsReader = (*Runtime)(nil)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on every architecture Linux reports them for.
const clockTicks = 100

// Stats reports a running container's usage from its cgroup: CPU time
// (cgroup v2's cpu.stat; on v1, cpuacct.usage when the cpu and cpuacct
// hierarchies are mounted together, else the CPU times in /proc of the
// group's processes and of the children they reaped), the working set
// (memory in use less inactive page cache; the processes' resident memory
// where the group has no memory controller) and the OOM kills. Without
// cgroups (rootless, or cgroups none) it is ErrNoStats.
func (r *Runtime) Stats(_ context.Context, id string) (container.Stats, error) {
	c, err := r.get("stats", id)
	if err != nil {
		return container.Stats{}, err
	}
	if st := c.status(); st.State != container.Running {
		return container.Stats{}, fmt.Errorf("stats %s: %w (%s)", id, container.ErrNotRunning, strings.ToLower(string(st.State)))
	}
	var s container.Stats
	switch r.cgroups.version {
	case CgroupsV2:
		s, err = statsV2(filepath.Join(r.cgroups.unified, r.cgroups.parent, id))
	case CgroupsV1:
		s, err = statsV1("/sys/fs/cgroup", r.cgroups.parent+"/"+id)
	default:
		return container.Stats{}, fmt.Errorf("stats %s: %w: the native runtime runs without cgroups here (rootless, or cgroups none)", id, container.ErrNoStats)
	}
	if err != nil {
		if c.status().State != container.Running { // it exited while being read
			return container.Stats{}, fmt.Errorf("stats %s: %w (exited)", id, container.ErrNotRunning)
		}
		return container.Stats{}, fmt.Errorf("stats %s: %w", id, err)
	}
	return s, nil
}

// statsV2 reads a cgroup v2 group's files in dir.
func statsV2(dir string) (container.Stats, error) {
	var s container.Stats
	cpu, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return s, err
	}
	s.CPUSeconds = float64(parseKey(string(cpu), "usage_usec")) / 1e6
	current, err := readUint(filepath.Join(dir, "memory.current"))
	switch {
	case errors.Is(err, os.ErrNotExist): // no memory controller
		if s.MemoryBytes, err = rssOf(filepath.Join(dir, "cgroup.procs")); err != nil {
			return s, err
		}
	case err != nil:
		return s, err
	default:
		stat, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return s, err
		}
		s.MemoryBytes = workingSet(current, parseKey(string(stat), "inactive_file"))
	}
	if s.OOMKills, err = (v2Group{dir: dir}).oomKills(); err != nil {
		return s, err
	}
	return s, nil
}

// statsV1 reads a cgroup v1 group at path under the hierarchies in root.
func statsV1(root, path string) (container.Stats, error) {
	var s container.Stats
	procs := ""
	for _, h := range []string{"memory", "pids", "cpu"} {
		p := filepath.Join(root, h, path, "cgroup.procs")
		if _, err := os.Stat(p); err == nil {
			procs = p
			break
		}
	}
	if procs == "" {
		return s, fmt.Errorf("%w: its cgroup %s is in none of the memory, pids and cpu hierarchies", os.ErrNotExist, path)
	}
	usage, err := readUint(filepath.Join(root, "cpu", path, "cpuacct.usage")) // cpu,cpuacct mounted together
	if errors.Is(err, os.ErrNotExist) {
		usage, err = readUint(filepath.Join(root, "cpuacct", path, "cpuacct.usage"))
	}
	switch {
	case err == nil:
		s.CPUSeconds = float64(usage) / 1e9
	case errors.Is(err, os.ErrNotExist): // the group is in no cpuacct hierarchy
		if s.CPUSeconds, err = cpuOf(procs); err != nil {
			return s, err
		}
	default:
		return s, err
	}
	mem := filepath.Join(root, "memory", path)
	current, err := readUint(filepath.Join(mem, "memory.usage_in_bytes"))
	switch {
	case errors.Is(err, os.ErrNotExist): // no memory hierarchy
		if s.MemoryBytes, err = rssOf(procs); err != nil {
			return s, err
		}
	case err != nil:
		return s, err
	default:
		stat, err := os.ReadFile(filepath.Join(mem, "memory.stat"))
		if err != nil {
			return s, err
		}
		s.MemoryBytes = workingSet(current, parseKey(string(stat), "total_inactive_file"))
		oc, err := os.ReadFile(filepath.Join(mem, "memory.oom_control"))
		if err != nil {
			return s, err
		}
		s.OOMKills = parseKey(string(oc), "oom_kill")
	}
	return s, nil
}

// workingSet is usage less the inactive page cache, never negative.
func workingSet(usage, inactiveFile uint64) int64 {
	if inactiveFile >= usage {
		return 0
	}
	return int64(usage - inactiveFile)
}

// readUint reads a file holding one unsigned integer.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", path, bytes.TrimSpace(b))
	}
	return n, nil
}

// pids reads a cgroup.procs file.
func pids(procs string) ([]int, error) {
	b, err := os.ReadFile(procs)
	if err != nil {
		return nil, err
	}
	var out []int
	for f := range strings.FieldsSeq(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// cpuOf sums the CPU times of the processes in procs and of the children
// they reaped (utime, stime, cutime, cstime of /proc/<pid>/stat). A
// container's init reaps every process of its PID namespace, so the sum
// keeps the time of those that exited.
func cpuOf(procs string) (float64, error) {
	ps, err := pids(procs)
	if err != nil {
		return 0, err
	}
	var ticks uint64
	for _, pid := range ps {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue // it exited meanwhile
		}
		// The fields after the command name, which may hold spaces and
		// parentheses: state is field 3, utime 14, stime 15, cutime 16,
		// cstime 17.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		for _, k := range f[11:15] {
			n, _ := strconv.ParseUint(k, 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / clockTicks, nil
}

// rssOf sums the resident memory (VmRSS) of the processes in procs.
func rssOf(procs string) (int64, error) {
	ps, err := pids(procs)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, pid := range ps {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(rest) // "1234 kB"
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					total += kb << 10
				}
				break
			}
		}
	}
	return total, nil
}
