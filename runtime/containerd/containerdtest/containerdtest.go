// Package containerdtest runs a containerd of a test's own with
// hack/containerd.sh (its config, root, state and socket in a directory of
// the test's, never the system's), for the tests of the containerd backend
// and of what runs on it.
package containerdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Daemon is a running containerd of a test's own.
type Daemon struct {
	// Address is the daemon's socket, for containerd.Options.Address.
	Address string
	script  string
	dir     string
}

// Start starts a containerd in dir (created) with hack/containerd.sh. It
// needs Debian's containerd and runc and root.
func Start(dir string) (*Daemon, error) {
	if _, err := exec.LookPath("containerd"); err != nil {
		return nil, errors.New("containerd is not installed (apt-get install containerd runc); these tests need a real daemon, run as root")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("these tests run containers with a real containerd and need root")
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, errors.New("containerdtest: cannot tell where the source tree is, to find hack/containerd.sh")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "hack", "containerd.sh")
	out, err := exec.Command(script, "start", dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("hack/containerd.sh start: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("hack/containerd.sh start: %w", err)
	}
	return &Daemon{Address: strings.TrimSpace(string(out)), script: script, dir: dir}, nil
}

// Stop stops the daemon; its directory is left for the caller to remove.
func (d *Daemon) Stop() error {
	if out, err := exec.Command(d.script, "stop", d.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("hack/containerd.sh stop: %w: %s", err, out)
	}
	return nil
}

// Namespace is a containerd namespace of this test process's own,
// prefix-<pid>. runc keeps its state under /run/containerd/runc/<namespace>
// and cgroups under /<namespace>/<id> whichever daemon runs it, so
// concurrent test runs (and the host's containerd) must not share one.
func Namespace(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, os.Getpid())
}

// RemoveNamespaceLeftovers removes what runc keeps for the namespace once
// its containers are gone: the empty parent cgroups
// (/sys/fs/cgroup/<controller>/<ns> on v1, /sys/fs/cgroup/<ns> on v2) and
// the empty state directory /run/containerd/runc/<ns>.
func RemoveNamespaceLeftovers(ns string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ns), filepath.Join("/run/containerd/runc", ns))
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}
