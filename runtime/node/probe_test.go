package node

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func feature(f Facts, name string) Feature {
	for _, x := range f.Features {
		if x.Name == name {
			return x
		}
	}
	return Feature{}
}

func TestProbeReadsHostFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/meminfo", "MemTotal:       2048 kB\nMemFree: 1 kB\n")
	write(t, root, "sys/fs/cgroup/memory/tasks", "")
	write(t, root, "sys/fs/cgroup/unified/cgroup.controllers", "")
	write(t, root, "sys/kernel/security/lsm", "lockdown,capability,landlock,apparmor\n")
	f := Probe(root)
	if f.MemoryBytes != 2048*1024 {
		t.Errorf("memory = %d, want %d", f.MemoryBytes, 2048*1024)
	}
	if f.CgroupMode != "hybrid" {
		t.Errorf("cgroup mode = %q, want hybrid", f.CgroupMode)
	}
	if !feature(f, "landlock").Available {
		t.Errorf("landlock not detected: %+v", feature(f, "landlock"))
	}
	if g := feature(f, "nvidia-gpu"); g.Available || g.Detail == "" {
		t.Errorf("nvidia-gpu should be missing with a reason: %+v", g)
	}
}

func TestProbeCgroupModes(t *testing.T) {
	v2 := t.TempDir()
	write(t, v2, "sys/fs/cgroup/cgroup.controllers", "cpu memory")
	if m := Probe(v2).CgroupMode; m != "v2" {
		t.Errorf("v2 host: mode %q", m)
	}
	v1 := t.TempDir()
	write(t, v1, "sys/fs/cgroup/memory/tasks", "")
	if m := Probe(v1).CgroupMode; m != "v1" {
		t.Errorf("v1 host: mode %q", m)
	}
	if m := Probe(t.TempDir()).CgroupMode; m != "" {
		t.Errorf("no cgroups: mode %q", m)
	}
}

func TestProbeRealHost(t *testing.T) {
	f := Probe("/")
	if f.CPUs < 1 || f.MemoryBytes <= 0 || f.KernelVersion == "" {
		t.Errorf("implausible facts for this host: %+v", f)
	}
}
