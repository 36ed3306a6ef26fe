package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// SpawnerArg, as swarm-init's first argument, makes it the runtime's
// spawner: one small process per runtime that clones the containers'
// inits. Cloning a user namespace needs a real fork (the child waits for
// its uid map), and a fork copies the caller's page tables: from the
// spawner's few megabytes it costs a fraction of what it costs from a
// daemon with a large heap.
const SpawnerArg = "--spawner"

// SpawnerFD is the spawner's end of its SOCK_SEQPACKET socket.
const SpawnerFD = 3

// SpawnRequest asks the spawner to start an init. It travels with one
// descriptor (SCM_RIGHTS), the init's end of its socket to the runtime,
// which becomes the init's SocketFD.
type SpawnRequest struct {
	// Path is the init binary; Args its arguments (Args[0] its name).
	Path string   `json:"path"`
	Args []string `json:"args"`
}

// SpawnMessage is what the spawner sends: the answer to a request (Pid,
// or Error) or, later, the exit of an init it started (Exited, Status).
type SpawnMessage struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	// Exited marks an exit; Status is the raw wait status.
	Exited bool   `json:"exited,omitempty"`
	Status uint32 `json:"status,omitempty"`
}

// maxSpawnMessage bounds one message on the spawner's socket.
const maxSpawnMessage = 64 << 10

// Cloneflags are the namespaces an init is cloned into (the cgroup one
// it enters itself, once the runtime has put it in its cgroup).
const Cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUTS | unix.CLONE_NEWUSER

// SysProcAttr is how an init is cloned: into new namespaces, with the
// caller mapped to root in the user namespace (without root: the caller's
// own uid; as root: an identity map of 65536 ids), killed if its parent
// dies.
func SysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Cloneflags: Cloneflags, Pdeathsig: syscall.SIGKILL}
	if uid := os.Geteuid(); uid != 0 {
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		a.GidMappingsEnableSetgroups = false
	} else {
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		a.GidMappingsEnableSetgroups = true
	}
	return a
}

// Spawner serves spawn requests on SpawnerFD until the runtime's end of
// the socket closes (the runtime exited or closed it); then it kills the
// inits it started and exits. It never returns.
func Spawner() {
	f := os.NewFile(SpawnerFD, "spawner")
	c, err := net.FileConn(f)
	f.Close()
	conn, ok := c.(*net.UnixConn)
	if err != nil || !ok {
		fmt.Fprintf(os.Stderr, "swarm-init %s must be started by the native runtime (no socket on fd %d: %v)\n", SpawnerArg, SpawnerFD, err)
		os.Exit(ExitSetup)
	}
	s := spawnServer{conn: conn, live: map[int]bool{}}
	s.serve()
	s.mu.Lock()
	for pid := range s.live {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	s.mu.Unlock()
	os.Exit(0)
}

type spawnServer struct {
	conn *net.UnixConn
	mu   sync.Mutex // guards writes and live
	live map[int]bool
}

func (s *spawnServer) send(m SpawnMessage) {
	b, _ := json.Marshal(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.conn.Write(b)
}

func (s *spawnServer) serve() {
	buf := make([]byte, maxSpawnMessage)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return
		}
		files, err := receivedFiles(oob[:oobn])
		if err != nil {
			s.send(SpawnMessage{Error: err.Error()})
			continue
		}
		var req SpawnRequest
		if err := json.Unmarshal(buf[:n], &req); err != nil || len(files) != 1 || len(req.Args) == 0 {
			closeAll(files)
			s.send(SpawnMessage{Error: fmt.Sprintf("malformed spawn request (%d descriptors): %v", len(files), err)})
			continue
		}
		s.spawn(req, files)
	}
}

func (s *spawnServer) spawn(req SpawnRequest, files []*os.File) {
	cmd := &exec.Cmd{
		Path: req.Path, Args: req.Args, Env: initEnv(), Dir: "/",
		ExtraFiles:  files,
		SysProcAttr: SysProcAttr(),
	}
	err := cmd.Start()
	closeAll(files)
	if err != nil {
		s.send(SpawnMessage{Error: fmt.Sprintf("run %s: %v", req.Path, err)})
		return
	}
	pid := cmd.Process.Pid
	s.mu.Lock()
	s.live[pid] = true
	s.mu.Unlock()
	s.send(SpawnMessage{Pid: pid})
	go func() {
		_ = cmd.Wait()
		var status uint32
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			status = uint32(ws)
		}
		s.mu.Lock()
		delete(s.live, pid)
		s.mu.Unlock()
		s.send(SpawnMessage{Pid: pid, Exited: true, Status: status})
	}()
}

// receivedFiles are the descriptors passed with a message.
func receivedFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("spawn request: control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("spawn request: descriptors: %w", err)
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	if len(files) == 0 {
		return nil, errors.New("spawn request: no descriptors passed")
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// initEnv is the init's own environment (the command gets Config.Env): a
// short-lived Go program that never needs a collection or a second
// processor.
func initEnv() []string { return []string{"GOGC=off", "GOMAXPROCS=1"} }
