// Package node probes the host swarmd runs on: its kernel, CPUs, memory,
// cgroup layout and the kernel features later layers depend on.
package node

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Facts are what Probe found.
type Facts struct {
	Hostname      string
	OS            string
	Arch          string
	KernelVersion string
	CPUs          int
	MemoryBytes   int64
	// CgroupMode is "v2", "v1" or "hybrid" (v1 controllers beside a v2 tree).
	CgroupMode string
	Features   []Feature
}

// Feature is one kernel or host capability and whether it is usable.
type Feature struct {
	Name      string
	Available bool
	Detail    string
}

// Probe inspects the host. root is "/" outside tests; the files it reads
// are looked up under it.
func Probe(root string) Facts {
	f := Facts{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	f.Hostname, _ = os.Hostname()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		f.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	}
	f.MemoryBytes = memTotal(filepath.Join(root, "proc/meminfo"))
	f.CgroupMode = cgroupMode(root)
	f.Features = append(f.Features,
		Feature{Name: "cgroup", Available: f.CgroupMode != "", Detail: cgroupDetail(f.CgroupMode)},
		lsmFeature(root, "landlock"),
		fileFeature(root, "bpffs", "sys/fs/bpf", "BPF filesystem for pinned maps and programs"),
		fileFeature(root, "btf", "sys/kernel/btf/vmlinux", "kernel BTF for CO-RE eBPF programs"),
		fileFeature(root, "psi", "proc/pressure/memory", "pressure stall information for tier pressure"),
		fileFeature(root, "user-namespaces", "proc/self/ns/user", "user namespaces for containers"),
		fileFeature(root, "nvidia-gpu", "dev/nvidiactl", "NVIDIA driver device nodes"),
	)
	return f
}

func memTotal(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cgroupMode tells a pure v2 host from a v1 or hybrid one.
func cgroupMode(root string) string {
	cg := filepath.Join(root, "sys/fs/cgroup")
	if _, err := os.Stat(filepath.Join(cg, "cgroup.controllers")); err == nil {
		return "v2"
	}
	if _, err := os.Stat(filepath.Join(cg, "memory")); err != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join(cg, "unified", "cgroup.controllers")); err == nil {
		return "hybrid"
	}
	return "v1"
}

func cgroupDetail(mode string) string {
	switch mode {
	case "v2":
		return "unified hierarchy (cgroup v2)"
	case "hybrid":
		return "hybrid: controllers on cgroup v1, an empty v2 tree beside them"
	case "v1":
		return "legacy hierarchy (cgroup v1)"
	}
	return "no cgroup filesystem found under /sys/fs/cgroup"
}

func lsmFeature(root, name string) Feature {
	b, err := os.ReadFile(filepath.Join(root, "sys/kernel/security/lsm"))
	if err != nil {
		return Feature{Name: name, Detail: fmt.Sprintf("cannot read the active LSM list: %v", err)}
	}
	for lsm := range strings.SplitSeq(strings.TrimSpace(string(b)), ",") {
		if lsm == name {
			return Feature{Name: name, Available: true, Detail: "active LSM"}
		}
	}
	return Feature{Name: name, Detail: "not in the active LSM list " + strings.TrimSpace(string(b))}
}

func fileFeature(root, name, rel, what string) Feature {
	if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
		return Feature{Name: name, Detail: fmt.Sprintf("%s: /%s not found", what, rel)}
	}
	return Feature{Name: name, Available: true, Detail: what}
}
