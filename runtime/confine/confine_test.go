package confine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests confine a child: the test binary run again with childEnv
// naming what to do, handled in TestMain. The test process itself is
// never confined.
const (
	childEnv = "CONFINE_TEST_CHILD"
	// progEnv is the path of a compiled seccomp program.
	progEnv = "CONFINE_TEST_PROG"
	// capsEnv is a comma-separated capability list to keep.
	capsEnv = "CONFINE_TEST_CAPS"
	// dirEnv is a directory the test made (several for Landlock).
	dirEnv = "CONFINE_TEST_DIR"
)

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		// What the init does: everything on one thread, which then execs.
		runtime.LockOSThread()
		if err := child(scenario); err != nil {
			fmt.Fprintf(os.Stderr, "child %s: %v\n", scenario, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(scenario string) error {
	switch scenario {
	case "seccomp":
		return childSeccomp()
	case "seccomp-sys-admin":
		return childSeccompSysAdmin()
	case "caps":
		if err := DropCapabilities(strings.Split(os.Getenv(capsEnv), ",")); err != nil {
			return err
		}
		return execStatus()
	case "nnp":
		if err := SetNoNewPrivs(); err != nil {
			return err
		}
		return execStatus()
	case "landlock":
		return childLandlock()
	case "landlock-thread":
		return childLandlockThread()
	case "all":
		return childAll()
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// runChild runs scenario in a child and returns its output; the child must
// succeed.
func runChild(t *testing.T, scenario string, env ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", scenario, err, out)
	}
	t.Logf("child %s:\n%s", scenario, out)
	return string(out)
}

// requireCapability skips a test that needs a capability the test process
// lacks (it runs as root in CI and on developer machines).
func requireCapability(t *testing.T, c Capability) {
	t.Helper()
	if statusMask(t, readStatus(t, "/proc/self/status"), "CapEff")&(1<<c) == 0 {
		t.Fatalf("the test process lacks %s: run the tests as root", c)
	}
}

// writeProgram compiles the default filter for caps into a file, as the
// daemon hands it to an init.
func writeProgram(t *testing.T, caps []string) string {
	t.Helper()
	p, err := DefaultSeccomp(caps)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seccomp.bpf")
	if err := os.WriteFile(path, p, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func installFrom(path string) error {
	p, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := SetNoNewPrivs(); err != nil {
		return err
	}
	return InstallSeccomp(Program(p))
}

// want reports a check that went as expected, or an error saying how not.
func want(what string, ok bool, got any) error {
	if !ok {
		return fmt.Errorf("%s: got %v", what, got)
	}
	fmt.Printf("ok %s (%v)\n", what, got)
	return nil
}

func wantErrno(what string, err error, errno unix.Errno) error {
	return want(what+" fails with "+errno.Error(), errors.Is(err, errno), err)
}

func rawErr(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// execShell replaces the child with sh -c script, as the init execs the
// container's command.
func execShell(script string) error {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return err
	}
	return unix.Exec(sh, []string{"sh", "-c", script}, os.Environ())
}

// execStatus replaces the child with a grep of /proc/self/status: what
// the confined process ends up with after execve.
func execStatus() error {
	grep, err := exec.LookPath("grep")
	if err != nil {
		return err
	}
	return unix.Exec(grep, []string{"grep", "-E", "^(Cap[a-zA-Z]+|NoNewPrivs|Seccomp):", "/proc/self/status"}, os.Environ())
}

func childSeccomp() error {
	if err := installFrom(os.Getenv(progEnv)); err != nil {
		return err
	}
	// Denied by the profile; the child is root with every capability, so
	// EPERM comes from the filter.
	checks := []error{
		wantErrno("unshare(CLONE_NEWUTS)", unix.Unshare(unix.CLONE_NEWUTS), unix.EPERM),
		wantErrno("unshare(CLONE_NEWNS)", unix.Unshare(unix.CLONE_NEWNS), unix.EPERM),
		wantErrno("mount tmpfs", unix.Mount("none", os.Getenv(dirEnv), "tmpfs", 0, ""), unix.EPERM),
		wantErrno("setns", unix.Setns(0, 0), unix.EPERM),
	}
	_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, ^uintptr(2) /* KEY_SPEC_SESSION_KEYRING */, 0)
	checks = append(checks, wantErrno("keyctl", rawErr(e), unix.EPERM))
	_, _, e = unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, 0)
	checks = append(checks, wantErrno("init_module", rawErr(e), unix.EPERM))
	// Unfiltered, these flags are EINVAL (a new user namespace cannot
	// share fs), so a broken filter cannot fork this process.
	_, _, e = unix.RawSyscall(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0)
	checks = append(checks, wantErrno("clone(CLONE_NEWUSER)", rawErr(e), unix.EPERM))
	// Unfiltered, a zero size is EINVAL.
	_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	checks = append(checks, wantErrno("clone3", rawErr(e), unix.ENOSYS))
	_, _, e = unix.Syscall(unix.SYS_PERSONALITY, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0)
	checks = append(checks, wantErrno("personality(ADDR_NO_RANDOMIZE)", rawErr(e), unix.EPERM))
	_, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	checks = append(checks, wantErrno("socket(AF_VSOCK)", err, unix.EPERM))

	// Allowed.
	_, _, e = unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	checks = append(checks, want("personality(query) works", e == 0, rawErr(e)))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	checks = append(checks, want("socket(AF_UNIX) works", err == nil, err))
	if err == nil {
		unix.Close(fd)
	}
	checks = append(checks, want("getpid works", unix.Getpid() > 0, unix.Getpid()))
	status, err := os.ReadFile("/proc/thread-self/status")
	checks = append(checks, want("open and read work, filter in place", err == nil && strings.Contains(string(status), "Seccomp:\t2"), err))
	err = exec.Command("true").Run()
	checks = append(checks, want("fork and exec of true work", err == nil, err))
	out, err := exec.Command("unshare", "-u", "true").CombinedOutput()
	checks = append(checks, want("unshare -u in a child fails", err != nil && strings.Contains(string(out), "Operation not permitted"), strings.TrimSpace(string(out))))
	if err := errors.Join(checks...); err != nil {
		return err
	}
	// After execve: busybox's shell forks, execs and waits; the filter and
	// no_new_privs are still there.
	return execShell(`busybox sh -c 'true && echo busybox ran true'
grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status
unshare -u true; echo "unshare exit $?"`)
}

func childSeccompSysAdmin() error {
	if err := installFrom(os.Getenv(progEnv)); err != nil {
		return err
	}
	_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	return errors.Join(
		want("unshare(CLONE_NEWUTS) works", unix.Unshare(unix.CLONE_NEWUTS) == nil, nil),
		wantErrno("clone3 reaches the kernel and", rawErr(e), unix.EINVAL),
	)
}

func childLandlock() error {
	dirs := strings.Split(os.Getenv(dirEnv), ",")
	rw, ro, other := dirs[0], dirs[1], dirs[2]
	applied, err := RestrictFS(FSRules{
		ReadWrite: []string{rw},
		ReadOnly:  []string{ro, filepath.Join(other, "listed.txt")},
	})
	if err != nil {
		return err
	}
	create := func(path string) error { return os.WriteFile(path, []byte("x"), 0o644) }
	read := func(path string) error { _, err := os.ReadFile(path); return err }
	denied := func(what string, err error) error {
		return want(what+" is denied", errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM), err)
	}
	works := func(what string, err error) error { return want(what+" works", err == nil, err) }
	return errors.Join(
		want("Landlock applied", applied, applied),
		works("creating a file in the read-write dir", create(filepath.Join(rw, "new.txt"))),
		works("reading it back", read(filepath.Join(rw, "new.txt"))),
		works("making a dir in the read-write dir", os.Mkdir(filepath.Join(rw, "sub"), 0o755)),
		works("renaming across dirs in it", os.Rename(filepath.Join(rw, "new.txt"), filepath.Join(rw, "sub", "new.txt"))),
		works("reading in the read-only dir", read(filepath.Join(ro, "data.txt"))),
		denied("creating a file in the read-only dir", create(filepath.Join(ro, "new.txt"))),
		denied("writing a file in the read-only dir", os.WriteFile(filepath.Join(ro, "data.txt"), []byte("y"), 0o644)),
		works("reading a listed file elsewhere", read(filepath.Join(other, "listed.txt"))),
		denied("writing a read-only listed file", os.WriteFile(filepath.Join(other, "listed.txt"), []byte("y"), 0o644)),
		denied("reading an unlisted file", read(filepath.Join(other, "secret.txt"))),
		denied("creating a file in an unlisted dir", create(filepath.Join(other, "new.txt"))),
		denied("reading /etc/hostname", read("/etc/hostname")),
	)
}

// childAll confines as the init does, in the init's order, then execs.
func childAll() error {
	dir, other, _ := strings.Cut(os.Getenv(dirEnv), ",")
	p, err := os.ReadFile(os.Getenv(progEnv))
	if err != nil {
		return err
	}
	applied, err := RestrictFS(FSRules{ReadWrite: []string{dir}, ReadOnly: []string{"/"}})
	if err != nil || !applied {
		return fmt.Errorf("RestrictFS: applied %v, err %v", applied, err)
	}
	if err := DropCapabilities(DefaultCapabilities()); err != nil {
		return err
	}
	if err := SetNoNewPrivs(); err != nil {
		return err
	}
	if err := InstallSeccomp(Program(p)); err != nil {
		return err
	}
	return execShell(`cd "` + dir + `" && echo hello > out.txt && cat out.txt
if touch "` + other + `/new" 2>&1; then echo "touch outside: allowed"; else echo "touch outside: denied"; fi
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
unshare -u true; echo "unshare exit $?"`)
}

// readStatus parses a /proc status file into its fields.
func readStatus(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseStatus(string(b))
}

func parseStatus(s string) map[string]string {
	fields := map[string]string{}
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

func statusMask(t *testing.T, status map[string]string, field string) uint64 {
	t.Helper()
	m, err := strconv.ParseUint(status[field], 16, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", field, status[field], err)
	}
	return m
}

func TestSeccompInChild(t *testing.T) {
	requireCapability(t, unix.CAP_SYS_ADMIN)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Fatalf("busybox is needed: apt-get install busybox-static (%v)", err)
	}
	out := runChild(t, "seccomp", progEnv+"="+writeProgram(t, DefaultCapabilities()), dirEnv+"="+t.TempDir())
	for _, line := range []string{"busybox ran true", "Seccomp:\t2", "NoNewPrivs:\t1", "Operation not permitted", "unshare exit 1"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q", line)
		}
	}
}

// Includes.Caps is honoured: with CAP_SYS_ADMIN kept, unshare and clone3
// are allowed.
func TestSeccompKeepingSysAdmin(t *testing.T) {
	requireCapability(t, unix.CAP_SYS_ADMIN)
	runChild(t, "seccomp-sys-admin", progEnv+"="+writeProgram(t, withSysAdmin()))
}

func TestDropCapabilities(t *testing.T) {
	requireCapability(t, unix.CAP_SETPCAP)
	parent := readStatus(t, "/proc/self/status")
	for _, keep := range [][]string{DefaultCapabilities(), {"chown", "Net_Admin", "CAP_SYS_NICE"}} {
		mask, err := capabilityMask(keep)
		if err != nil {
			t.Fatal(err)
		}
		st := parseStatus(runChild(t, "caps", capsEnv+"="+strings.Join(keep, ",")))
		wantMask := mask & statusMask(t, parent, "CapBnd")
		// The child execs as root, so its permitted and effective sets
		// become its bounding set (plus inheritable, which is empty).
		for _, field := range []string{"CapEff", "CapPrm", "CapBnd"} {
			if got := statusMask(t, st, field); got != wantMask {
				t.Errorf("keep %v: %s = %016x, want %016x", keep, field, got, wantMask)
			}
		}
		for _, field := range []string{"CapAmb", "CapInh"} {
			if got := statusMask(t, st, field); got != 0 {
				t.Errorf("keep %v: %s = %016x, want 0", keep, field, got)
			}
		}
	}
}

func TestCapabilityNames(t *testing.T) {
	caps, err := ParseCapabilities([]string{"chown", "CAP_NET_ADMIN", " sys_admin ", "Cap_Kill", "chown"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(caps); got != "[CAP_CHOWN CAP_NET_ADMIN CAP_SYS_ADMIN CAP_KILL]" {
		t.Errorf("ParseCapabilities = %s", got)
	}
	def, err := ParseCapabilities(DefaultCapabilities())
	if err != nil || len(def) != 14 {
		t.Errorf("DefaultCapabilities parse to %v, %v; want 14", def, err)
	}
	for _, bad := range []string{"CAP_BOGUS", "", "CAP_"} {
		if _, err := ParseCapabilities([]string{"chown", bad}); err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("ParseCapabilities(%q): err = %v, want one naming it", bad, err)
		}
	}
	// An unknown name is refused before anything is dropped, so this is
	// safe in the test process.
	if err := DropCapabilities([]string{"CAP_CHOWN", "CAP_NOPE"}); err == nil || !strings.Contains(err.Error(), "CAP_NOPE") {
		t.Errorf("DropCapabilities with an unknown name: err = %v, want one naming it", err)
	}
	if got := Capability(unix.CAP_CHECKPOINT_RESTORE).String(); got != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("String = %q", got)
	}
}

func TestSetNoNewPrivs(t *testing.T) {
	st := parseStatus(runChild(t, "nnp"))
	if st["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q after exec, want 1", st["NoNewPrivs"])
	}
}

func TestRestrictFS(t *testing.T) {
	if abi := LandlockABI(); abi < 1 {
		t.Fatalf("the kernel has no Landlock (ABI %d): this machine kind has ABI 7", abi)
	}
	rw, ro, other := t.TempDir(), t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(ro, "data.txt"), filepath.Join(other, "listed.txt"), filepath.Join(other, "secret.txt")} {
		if err := os.WriteFile(f, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runChild(t, "landlock", dirEnv+"="+strings.Join([]string{rw, ro, other}, ","))
}

// TestRestrictThreadBeneath: the thread keeps every right beneath its
// directory and reaches nothing else, not even through a descriptor it
// opened before.
func TestRestrictThreadBeneath(t *testing.T) {
	if abi := LandlockABI(); abi < 1 {
		t.Fatalf("the kernel has no Landlock (ABI %d): this machine kind has ABI 7", abi)
	}
	inside, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	runChild(t, "landlock-thread", dirEnv+"="+inside+","+outside)
}

func childLandlockThread() error {
	dirs := strings.Split(os.Getenv(dirEnv), ",")
	inside, outside := dirs[0], dirs[1]
	before, err := unix.Open(outside, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	applied, err := RestrictThreadBeneath(inside)
	if err != nil || !applied {
		return fmt.Errorf("RestrictThreadBeneath: %v, applied %v", err, applied)
	}
	if err := os.WriteFile(filepath.Join(inside, "new.txt"), []byte("x"), 0o644); err != nil {
		return fmt.Errorf("write beneath the directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(inside, "sub"), 0o755); err != nil {
		return fmt.Errorf("mkdir beneath the directory: %w", err)
	}
	if _, err := os.ReadFile(filepath.Join(outside, "secret.txt")); !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("read outside: %v, want EACCES", err)
	}
	if fd, err := unix.Openat(before, "secret.txt", unix.O_RDONLY, 0); !errors.Is(err, unix.EACCES) {
		unix.Close(fd)
		return fmt.Errorf("read outside through a descriptor opened before: %v, want EACCES", err)
	}
	if err := unix.Exec("/bin/true", []string{"true"}, nil); !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("exec outside: %v, want EACCES", err)
	}
	return nil
}

func TestRestrictFSMissingPath(t *testing.T) {
	if abi := LandlockABI(); abi < 1 {
		t.Fatalf("the kernel has no Landlock (ABI %d): this machine kind has ABI 7", abi)
	}
	// The path is checked before anything is restricted, so this is safe
	// in the test process.
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := RestrictFS(FSRules{ReadOnly: []string{missing}}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("RestrictFS with a missing path: err = %v, want one naming it", err)
	}
}

// Everything together, in the init's order, then execve.
func TestConfineAll(t *testing.T) {
	requireCapability(t, unix.CAP_SETPCAP)
	if LandlockABI() < 1 {
		t.Fatal("the kernel has no Landlock: this machine kind has ABI 7")
	}
	out := runChild(t, "all", progEnv+"="+writeProgram(t, DefaultCapabilities()), dirEnv+"="+t.TempDir()+","+t.TempDir())
	mask, err := capabilityMask(DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	mask &= statusMask(t, readStatus(t, "/proc/self/status"), "CapBnd")
	for _, line := range []string{"hello", "touch outside: denied", fmt.Sprintf("CapEff:\t%016x", mask), "NoNewPrivs:\t1", "Seccomp:\t2", "unshare exit 1"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q", line)
		}
	}
}
