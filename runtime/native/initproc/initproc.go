// Package initproc is the first process of a native container: the
// runtime starts it (cmd/swarm-init) in fresh namespaces and it builds the
// container's world from inside before it becomes the container's command.
//
// The runtime passes a Config as JSON on file descriptor 3 (a socket,
// with the container's log), after it has put the process into the
// container's cgroup; until then the init waits, so the runtime can start
// inits ahead of need (warm inits) and hand each to the next container. The init then enters a new
// cgroup namespace, mounts the image (an overlay of the shared, read-only
// image root under the container's own upper layer), the bind mounts,
// /proc, /dev and /sys, pivots into that root, brings the loopback device
// up, sets the hostname, confines itself (Landlock, capabilities,
// no_new_privs, seccomp) and executes the command. Every mount lives in
// the container's mount namespace, so none outlives the container.
//
// The same socket carries errors back: it is closed on exec, so the
// runtime reads end-of-file when the command started, or one message
// saying what failed.
package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/stratoswarm/stratoswarm/runtime/confine"
)

// SocketFD is the init's end of its SOCK_SEQPACKET socket to the runtime:
// the configuration comes on it, with the log as SCM_RIGHTS; an error
// goes back on it; it is closed on exec.
const SocketFD = 3

// Exit statuses of an init that failed before the command ran, the
// shell's conventions.
const (
	ExitSetup       = 125 // the container could not be set up
	ExitCannotExec  = 126 // the command exists but cannot run
	ExitNotFound    = 127 // the command is not in the image
	defaultPath     = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	devMode         = "mode=755,size=65536k"
	overlayFSType   = "overlay"
	mountAttrLocked = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME
)

// Layers are a container's root filesystem: the image's root under the
// container's own overlay layer, assembled at Root.
type Layers struct {
	// Root is where the root filesystem is assembled (an empty
	// directory).
	Root string `json:"root"`
	// Lower is the image's unpacked root filesystem, shared read-only.
	Lower string `json:"lower"`
	// Upper and Work are the container's overlay layer and its work
	// directory (same filesystem).
	Upper string `json:"upper"`
	Work  string `json:"work"`
}

// Message is what the runtime sends an init: Prepare, to a warm init
// before any container is its own (assemble these layers, with /proc,
// /dev and /sys, then wait), or the container's Config (with the log).
type Message struct {
	Prepare *Layers `json:"prepare,omitempty"`
	Config  *Config `json:"config,omitempty"`
}

// Config is what the runtime tells the init.
type Config struct {
	// Layers are the root filesystem, unless Prepared: the init assembled
	// the layers of its Prepare message already.
	Layers
	Prepared bool `json:"prepared,omitempty"`
	// Mounts bind host paths into the container.
	Mounts []Mount `json:"mounts,omitempty"`
	// Hostname is set in the container's UTS namespace.
	Hostname string `json:"hostname"`
	// Args is the command; Env its environment; Cwd its directory.
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	// Capabilities are kept; everything else is dropped.
	Capabilities []string `json:"capabilities"`
	// Seccomp is the compiled filter to install; empty installs none.
	Seccomp confine.Program `json:"seccomp,omitempty"`
	// Landlock confines file access to beneath the container's root.
	Landlock bool `json:"landlock"`
}

// Mount is a bind mount.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// stageError is a failure with the exit status it ends the init with.
type stageError struct {
	code int
	err  error
}

func (e stageError) Error() string { return e.err.Error() }

func setupErr(format string, a ...any) error {
	return stageError{ExitSetup, fmt.Errorf(format, a...)}
}

// Main is the init's main function: it never returns. The caller must
// have locked the main goroutine to its thread (runtime.LockOSThread in an
// init function), because capabilities are per thread.
func Main() {
	runtime.LockOSThread()
	code, err := run()
	if _, werr := unix.Write(SocketFD, []byte(err.Error())); werr != nil {
		fmt.Fprintln(os.Stderr, "swarm-init:", err)
	}
	os.Exit(code)
}

// maxConfig bounds the configuration message.
const maxConfig = 1 << 20

func run() (int, error) {
	cfg, err := receive()
	if err != nil {
		var se stageError
		if errors.As(err, &se) {
			return se.code, err
		}
		return ExitSetup, err
	}
	err = setup(cfg)
	var se stageError
	if errors.As(err, &se) {
		return se.code, err
	}
	return ExitSetup, err
}

// receive waits for the configuration and the log on SocketFD and makes
// the log the init's stdout and stderr. The runtime closing the socket
// instead (a warm init it no longer needs) ends the init quietly.
func receive() (Config, error) {
	var cfg Config
	if _, err := unix.FcntlInt(SocketFD, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return cfg, fmt.Errorf("swarm-init must be started by the native runtime (no socket on fd %d: %v)", SocketFD, err)
	}
	buf := make([]byte, maxConfig)
	oob := make([]byte, unix.CmsgSpace(4))
	var prepared *Layers
	var n, oobn int
	for {
		var err error
		n, oobn, _, _, err = unix.Recvmsg(SocketFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			return cfg, fmt.Errorf("read the container's configuration: %w", err)
		}
		if n == 0 {
			os.Exit(0) // not needed after all
		}
		var m Message
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			return cfg, fmt.Errorf("read the container's configuration: %w", err)
		}
		if m.Prepare == nil {
			if m.Config == nil {
				return cfg, errors.New("a message with neither layers to prepare nor a configuration")
			}
			cfg = *m.Config
			break
		}
		if prepared != nil {
			return cfg, errors.New("asked to prepare layers twice")
		}
		if err := mountLayers(*m.Prepare); err != nil {
			return cfg, err
		}
		prepared = m.Prepare
		// Say the layers are ready: the runtime hands this init out only then.
		if _, err := unix.Write(SocketFD, []byte{0}); err != nil {
			return cfg, fmt.Errorf("report the prepared layers: %w", err)
		}
	}
	if cfg.Prepared {
		if prepared == nil {
			return cfg, errors.New("the configuration says prepared, but no layers were prepared")
		}
		cfg.Layers = *prepared
	}
	files, err := receivedFiles(oob[:oobn])
	if err != nil || len(files) != 1 {
		closeAll(files)
		return cfg, fmt.Errorf("the container's configuration came without its log (%d descriptors): %v", len(files), err)
	}
	logFD := int(files[0].Fd())
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(logFD, fd, 0); err != nil {
			return cfg, fmt.Errorf("attach the log: %w", err)
		}
	}
	files[0].Close()
	return cfg, nil
}

// setup builds the container and executes its command; it returns only on
// failure.
func setup(cfg Config) error {
	if len(cfg.Args) == 0 {
		return setupErr("no command to run")
	}
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return setupErr("enter a cgroup namespace: %w", err)
	}
	if !cfg.Prepared {
		if err := mountLayers(cfg.Layers); err != nil {
			return err
		}
	}
	for _, m := range cfg.Mounts {
		if err := bind(cfg.Root, m); err != nil {
			return err
		}
	}
	if err := pivot(cfg.Root); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return setupErr("set the hostname %q: %w", cfg.Hostname, err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	env := cfg.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=" + defaultPath}, env...)
	}
	cwd := cfg.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.Chdir(cwd); err != nil {
		return setupErr("working directory %s: %w", cwd, err)
	}
	path, err := lookPath(cfg.Args[0], env)
	if err != nil {
		return err
	}
	if cfg.Landlock {
		if _, err := confine.RestrictThreadBeneath("/"); err != nil {
			return setupErr("landlock: %w", err)
		}
	}
	if err := confine.DropCapabilities(cfg.Capabilities); err != nil {
		return setupErr("drop capabilities: %w", err)
	}
	if err := confine.SetNoNewPrivs(); err != nil {
		return setupErr("no_new_privs: %w", err)
	}
	if len(cfg.Seccomp) > 0 {
		if err := confine.InstallSeccomp(cfg.Seccomp); err != nil {
			return setupErr("seccomp: %w", err)
		}
	}
	err = unix.Exec(path, cfg.Args, env)
	return stageError{ExitCannotExec, fmt.Errorf("command %q: exec %s: %w", strings.Join(cfg.Args, " "), path, err)}
}

// mountLayers assembles the root filesystem at cfg.Root with /proc, /dev
// and /sys.
func mountLayers(cfg Layers) error {
	// Nothing mounted here propagates back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return setupErr("make the mount namespace private: %w", err)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", cfg.Lower, cfg.Upper, cfg.Work)
	if err := unix.Mount(overlayFSType, cfg.Root, overlayFSType, 0, opts); err != nil {
		return setupErr("mount the image's root filesystem (overlay of %s): %w", cfg.Lower, err)
	}
	type special struct {
		target, fstype, data string
		flags                uintptr
		optional             bool
	}
	for _, s := range []special{
		{"/proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
		{"/dev", "tmpfs", devMode, unix.MS_NOSUID | unix.MS_STRICTATIME, false},
		{"/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620", unix.MS_NOSUID | unix.MS_NOEXEC, true},
		{"/dev/shm", "tmpfs", "mode=1777,size=65536k", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, true},
		{"/dev/mqueue", "mqueue", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, true},
		{"/sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY, true},
	} {
		dst, err := securejoin.SecureJoin(cfg.Root, s.target)
		if err != nil {
			return setupErr("resolve %s in the container: %w", s.target, err)
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return setupErr("create %s in the container: %w", s.target, err)
		}
		if err := unix.Mount(s.fstype, dst, s.fstype, s.flags, s.data); err != nil && !s.optional {
			return setupErr("mount %s on %s: %w", s.fstype, s.target, err)
		}
	}
	devDir := filepath.Join(cfg.Root, "dev")
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		dst := filepath.Join(devDir, d)
		if err := touch(dst); err != nil {
			return setupErr("create /dev/%s: %w", d, err)
		}
		if err := unix.Mount("/dev/"+d, dst, "", unix.MS_BIND, ""); err != nil {
			return setupErr("bind /dev/%s: %w", d, err)
		}
	}
	for link, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
	} {
		if err := os.Symlink(target, filepath.Join(devDir, link)); err != nil && !errors.Is(err, os.ErrExist) {
			return setupErr("link /dev/%s: %w", link, err)
		}
	}
	return nil
}

// bind mounts m.Source on m.Target inside root, read-only when asked. A
// read-only remount keeps the source's locked flags (nosuid, nodev,
// noexec), which a user namespace may not clear.
func bind(root string, m Mount) error {
	dst, err := securejoin.SecureJoin(root, m.Target)
	if err != nil {
		return setupErr("mount target %s: %w", m.Target, err)
	}
	st, err := os.Stat(m.Source)
	if err != nil {
		return setupErr("mount source: %w", err)
	}
	if st.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			err = touch(dst)
		}
	}
	if err != nil {
		return setupErr("create mount target %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return setupErr("bind %s on %s: %w", m.Source, m.Target, err)
	}
	if !m.ReadOnly {
		return nil
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dst, &sfs); err != nil {
		return setupErr("read the flags of %s: %w", m.Source, err)
	}
	flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY) | statfsToMount(sfs.Flags)
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return setupErr("make %s read-only: %w", m.Target, err)
	}
	return nil
}

// statfsToMount maps statfs's ST_* flags to the MS_* flags a remount must
// keep.
func statfsToMount(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV, unix.ST_NOEXEC: unix.MS_NOEXEC,
		unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME, unix.ST_RELATIME: unix.MS_RELATIME,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out & mountAttrLocked
}

// pivot makes root the root directory and detaches the old one.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return setupErr("enter the root filesystem: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return setupErr("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return setupErr("detach the host's root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return setupErr("chdir /: %w", err)
	}
	return nil
}

// loopbackUp brings up lo, the only interface of a fresh network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return setupErr("loopback: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return setupErr("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return setupErr("loopback: read flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return setupErr("loopback: bring up: %w", err)
	}
	return nil
}

// lookPath finds the command in the container's PATH.
func lookPath(name string, env []string) (string, error) {
	notFound := func(detail string) error {
		return stageError{ExitNotFound, fmt.Errorf("command %q not found in the image%s", name, detail)}
	}
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", notFound("")
			}
			return "", stageError{ExitCannotExec, fmt.Errorf("command %q: %w", name, err)}
		}
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", notFound(" (searched PATH=" + path + ")")
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func touch(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
