package confine

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

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

// fsRights are the file-system access rights Landlock ABI abi knows.
func fsRights(abi int) uint64 {
	r := uint64(unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM)
	if abi >= 2 {
		r |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		r |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		r |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return r
}

// RestrictThreadBeneath confines the calling thread, and what it executes,
// to the file hierarchy beneath dir, where it keeps every right: nothing
// outside is reachable, even through a descriptor opened before. Unlike
// RestrictFS it touches one thread only (a few system calls, no
// stop-the-world), which is what an init about to execve on its locked
// thread needs. The thread must have no_new_privs or CAP_SYS_ADMIN in its
// user namespace. It reports false with a nil error on a kernel without
// Landlock.
func RestrictThreadBeneath(dir string) (bool, error) {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e == unix.ENOSYS || e == unix.EOPNOTSUPP {
		return false, nil
	}
	if e != 0 {
		return false, fmt.Errorf("landlock: ABI version: %w", e)
	}
	rights := fsRights(int(abi))
	attr := unix.LandlockRulesetAttr{Handled_access_fs: rights}
	// Only the first field: every ABI accepts that size.
	rs, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), 8, 0)
	if e != 0 {
		return false, fmt.Errorf("landlock: create a ruleset: %w", e)
	}
	defer unix.Close(int(rs))
	pfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
	if err != nil {
		return false, fmt.Errorf("landlock: open %s: %w", dir, err)
	}
	defer unix.Close(pfd)
	rule := unix.LandlockPathBeneathAttr{Allowed_access: rights, Parent_fd: int32(pfd)}
	if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, rs, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
		return false, fmt.Errorf("landlock: allow %s: %w", dir, e)
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rs, 0, 0); e != 0 {
		return false, fmt.Errorf("landlock: restrict the thread: %w (it needs no_new_privs or CAP_SYS_ADMIN)", e)
	}
	return true, nil
}
