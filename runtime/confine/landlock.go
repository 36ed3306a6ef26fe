package confine

import (
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// FSRules are the paths a confined process may use; Landlock denies the
// rest of the file system, execve included, so list the root file system
// (or the directories holding what will run) at least read-only. Each
// entry is a directory (the rule covers everything beneath it) or any
// other file, and must exist.
type FSRules struct {
	// ReadWrite paths may be read, written, executed, created in, removed
	// from and renamed across; devices beneath them take ioctls.
	ReadWrite []string
	// ReadOnly paths may be read and executed.
	ReadOnly []string
}

// LandlockABI returns the kernel's Landlock ABI version, 0 where the
// kernel has no Landlock or it is not enabled at boot.
func LandlockABI() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// RestrictFS confines the whole process (every thread, and what it
// execs) to r with Landlock, as far as the kernel supports it (file-system
// rights up to Landlock ABI 8; older kernels restrict less). It reports
// whether anything was enforced: false with a nil error on a kernel
// without Landlock. It sets no_new_privs on every thread, as Landlock
// requires.
func RestrictFS(r FSRules) (applied bool, err error) {
	abi := LandlockABI()
	if abi < 1 {
		return false, nil
	}
	rules := make([]landlock.Rule, 0, len(r.ReadWrite)+len(r.ReadOnly))
	for _, p := range r.ReadWrite {
		dir, err := isDir(p)
		if err != nil {
			return false, err
		}
		switch {
		case !dir:
			rules = append(rules, landlock.RWFiles(p).WithIoctlDev())
		case abi >= 2:
			// Without refer a rename or link between directories fails
			// with EXDEV. BestEffort turns a rule asking for refer into
			// no restriction at all on ABI 1, hence the check.
			rules = append(rules, landlock.RWDirs(p).WithIoctlDev().WithRefer())
		default:
			rules = append(rules, landlock.RWDirs(p).WithIoctlDev())
		}
	}
	for _, p := range r.ReadOnly {
		dir, err := isDir(p)
		if err != nil {
			return false, err
		}
		if dir {
			rules = append(rules, landlock.RODirs(p))
		} else {
			rules = append(rules, landlock.ROFiles(p))
		}
	}
	if err := landlock.V8.BestEffort().RestrictPaths(rules...); err != nil {
		return false, fmt.Errorf("restricting the file system with Landlock (ABI %d): %w", abi, err)
	}
	return true, nil
}

// isDir says whether p is a directory, following symbolic links as
// Landlock does.
func isDir(p string) (bool, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return false, fmt.Errorf("landlock rule for %s: %w (list only paths that exist)", p, err)
	}
	return fi.IsDir(), nil
}
