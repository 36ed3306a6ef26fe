package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stratoswarm/stratoswarm/runtime/native/initproc"
)

// spawner is the runtime's end of its spawner process (see
// initproc.Spawner): it sends spawn requests one at a time and routes the
// exits the spawner reports to whoever waits for that pid.
type spawner struct {
	conn *net.UnixConn
	cmd  *exec.Cmd
	done chan struct{} // closed when the spawner is gone

	reqMu   sync.Mutex // one request in flight
	replies chan initproc.SpawnMessage

	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
	early   map[int]syscall.WaitStatus // exits nobody waited for yet
}

// startSpawner starts init in spawner mode.
func startSpawner(init string) (*spawner, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawner socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "spawner"), os.NewFile(uintptr(fds[1]), "spawner")
	defer theirs.Close()
	cmd := &exec.Cmd{Path: init, Args: []string{InitName, initproc.SpawnerArg}, Env: []string{}, Dir: "/",
		Stderr: os.Stderr, ExtraFiles: []*os.File{theirs}}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("start the spawner %s: %w", init, err)
	}
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("spawner socket: %w", err)
	}
	s := &spawner{
		conn: c.(*net.UnixConn), cmd: cmd, done: make(chan struct{}),
		replies: make(chan initproc.SpawnMessage, 1),
		waiters: map[int]chan syscall.WaitStatus{}, early: map[int]syscall.WaitStatus{},
	}
	go s.read()
	return s, nil
}

// read routes the spawner's messages until it is gone; then every waiter
// gets SIGKILL (the inits die with their parent).
func (s *spawner) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.conn.Read(buf)
		if err != nil || n == 0 {
			break
		}
		var m initproc.SpawnMessage
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			continue
		}
		if !m.Exited {
			s.replies <- m
			continue
		}
		s.mu.Lock()
		if ch, ok := s.waiters[m.Pid]; ok {
			ch <- syscall.WaitStatus(m.Status)
			delete(s.waiters, m.Pid)
		} else {
			s.early[m.Pid] = syscall.WaitStatus(m.Status)
		}
		s.mu.Unlock()
	}
	_ = s.conn.Close()
	_ = s.cmd.Wait()
	s.mu.Lock()
	for pid, ch := range s.waiters {
		ch <- syscall.WaitStatus(syscall.SIGKILL) // signaled by SIGKILL
		delete(s.waiters, pid)
	}
	close(s.done)
	s.mu.Unlock()
}

// alive says whether the spawner still runs.
func (s *spawner) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// spawn starts an init with sock as its end of its socket to the runtime,
// and returns its pid and the channel its exit comes on.
func (s *spawner) spawn(init string, args []string, sock *os.File) (int, <-chan syscall.WaitStatus, error) {
	b, err := json.Marshal(initproc.SpawnRequest{Path: init, Args: args})
	if err != nil {
		return 0, nil, err
	}
	rights := unix.UnixRights(int(sock.Fd()))
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if _, _, err := s.conn.WriteMsgUnix(b, rights, nil); err != nil {
		return 0, nil, fmt.Errorf("ask the spawner: %w", err)
	}
	var m initproc.SpawnMessage
	select {
	case m = <-s.replies:
	case <-s.done:
		return 0, nil, errors.New("the spawner exited")
	}
	if m.Error != "" {
		return 0, nil, errors.New(m.Error)
	}
	ch := make(chan syscall.WaitStatus, 1)
	s.mu.Lock()
	if ws, ok := s.early[m.Pid]; ok {
		ch <- ws
		delete(s.early, m.Pid)
	} else if !s.alive() {
		ch <- syscall.WaitStatus(syscall.SIGKILL)
	} else {
		s.waiters[m.Pid] = ch
	}
	s.mu.Unlock()
	return m.Pid, ch, nil
}

// close ends the spawner (and with it every init it started) and waits
// for it.
func (s *spawner) close() {
	_ = s.conn.CloseWrite()
	<-s.done
}

// warmInit is an init in its fresh namespaces, waiting on its socket for
// a container's configuration.
type warmInit struct {
	pid    int
	conn   *net.UnixConn
	exited <-chan syscall.WaitStatus
	// layers are what the init assembled already (prepare), in pool;
	// nil for an init that assembles its container's root itself.
	layers *initproc.Layers
	pool   string
	// cgroup is the group the init waits in (cgroupDriver.placeWarm), ""
	// when it waits in the runtime's own.
	cgroup string
}

// newInit starts an init through sp.
func newInit(sp *spawner, init string) (*warmInit, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("init socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "init"), os.NewFile(uintptr(fds[1]), "init")
	pid, exited, err := sp.spawn(init, []string{InitName}, theirs)
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, err
	}
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("init socket: %w", err)
	}
	return &warmInit{pid: pid, conn: c.(*net.UnixConn), exited: exited}, nil
}

// dead says whether the init exited already (it is then of no use). It
// leaves the exit status in the channel for kill (the channel holds one).
func (w *warmInit) dead() bool {
	select {
	case ws := <-w.exited:
		w.putBack(ws)
		return true
	default:
		return false
	}
}

// putBack returns an exit status dead took to the channel.
func (w *warmInit) putBack(ws syscall.WaitStatus) {
	ch := make(chan syscall.WaitStatus, 1)
	ch <- ws
	w.exited = ch
}

// kill ends the init and waits for its exit.
func (w *warmInit) kill() {
	_ = unix.Kill(w.pid, unix.SIGKILL)
	_ = w.conn.Close()
	<-w.exited
}

// prepare has the init assemble a root filesystem of the image at lower,
// in a directory of its own under poolDir, before any container is its.
func (w *warmInit) prepare(lower, poolDir string) error {
	dir, err := os.MkdirTemp(poolDir, "layers-")
	if err != nil {
		return fmt.Errorf("prepare a warm init: %w", err)
	}
	l := initproc.Layers{Root: filepath.Join(dir, "rootfs"), Lower: lower, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	for _, d := range []string{l.Root, l.Upper, l.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("prepare a warm init: %w", err)
		}
	}
	fail := func(err error) error {
		os.RemoveAll(dir)
		return fmt.Errorf("prepare a warm init: %w", err)
	}
	b, err := json.Marshal(initproc.Message{Prepare: &l})
	if err != nil {
		return fail(err)
	}
	if _, err := w.conn.Write(b); err != nil {
		return fail(err)
	}
	buf := make([]byte, 64<<10)
	n, err := w.conn.Read(buf)
	switch {
	case n == 1 && buf[0] == 0:
		w.layers, w.pool = &l, dir
		return nil
	case n > 0:
		return fail(errors.New(string(bytes.TrimSpace(buf[:n]))))
	case err != nil:
		return fail(err)
	}
	return fail(errors.New("the init closed its socket"))
}

// start hands the init its container: the configuration and the log. It
// returns once the init has executed the command, or with what failed.
func (w *warmInit) start(cfg []byte, log *os.File) error {
	defer w.conn.Close()
	if _, _, err := w.conn.WriteMsgUnix(cfg, unix.UnixRights(int(log.Fd())), nil); err != nil {
		return fmt.Errorf("hand the configuration to %s: %w", InitName, err)
	}
	buf := make([]byte, 64<<10)
	n, err := w.conn.Read(buf)
	if n > 0 {
		return errors.New(string(bytes.TrimSpace(buf[:n])))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("wait for %s: %w", InitName, err)
	}
	return nil
}
