package mesh

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// callerEnv, in a helper process's environment, is the socket it dials
// (helperCaller, through TestMain); helperIdentity is the caller the test's Identify
// gives a process whose environment carries it.
const (
	callerEnv      = "MESH_TEST_DIAL"
	helperIdentity = "MESH_TEST_CALLER=client@v1"
)

// TestMain runs the test binary as the caller of
// TestServiceSocketsIdentifyCallers when $MESH_TEST_DIAL is set, else the
// tests.
func TestMain(m *testing.M) {
	if path := os.Getenv(callerEnv); path != "" {
		helperCaller(path)
	}
	os.Exit(m.Run())
}

// helperCaller is the test binary run in a process of its own by
// TestServiceSocketsIdentifyCallers: it sends two lines over the socket at
// path, half-closes and prints the reply.
func helperCaller(path string) {
	got, err := exchangeUnix(path, "a\nb\n")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	fmt.Print(got)
	os.Exit(0)
}

// exchangeUnix is exchange over a Unix socket.
func exchangeUnix(path, payload string) (string, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, payload); err != nil {
		return "", err
	}
	if err := c.(*net.UnixConn).CloseWrite(); err != nil {
		return "", err
	}
	got, err := io.ReadAll(c)
	return string(got), err
}

// Every service gets a socket under SocketDir beside its TCP address; a
// connection on it is attributed, through SO_PEERCRED and Identify, to the
// process that connected, and counted per caller and version as completed
// or failed. TCP connections and unknown processes are external.
func TestServiceSocketsIdentifyCallers(t *testing.T) {
	dir, err := os.MkdirTemp("", "mesh") // short: socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// A stale socket of an earlier proxy is replaced.
	stale, err := net.Listen("unix", filepath.Join(dir, "solver.sock"))
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	v2 := startBackend(t, "v2/0")
	tab := NewTable()
	if _, err := tab.Set(Service{Name: "solver", Address: "127.0.0.1:0"}, []Backend{v2.backend(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Set(Service{Name: "down", Address: "127.0.0.1:0"}, []Backend{{ID: "v9/0", Version: "v9", Address: deadAddress(t), Weight: 1}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pids []int
	identify := func(pid int) (Caller, bool) {
		mu.Lock()
		pids = append(pids, pid)
		mu.Unlock()
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && bytes.Contains(env, []byte(helperIdentity+"\x00")) {
			return Caller{Agent: "client", Version: "v1"}, true
		}
		return Caller{}, false
	}
	p := startProxy(t, tab, Options{SocketDir: dir, Identify: identify})
	sock := p.SocketPath("solver")
	if sock != filepath.Join(dir, "solver.sock") {
		t.Fatalf("socket path %q", sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %s: %v %v, want a socket of mode 0666", sock, fi, err)
	}
	if st := p.Stats(); st.Services[1].Socket != sock || st.Services[1].ListenError != "" {
		t.Fatalf("stats %+v", st.Services[1])
	}

	// Two calls from the helper process: identified.
	var helperPids []int
	for range 2 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), callerEnv+"="+sock, helperIdentity)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v: %s", err, out)
		}
		if id, err := servedBy(string(out), 4); err != nil || id != "v2/0" {
			t.Fatalf("helper's reply %q: %v", out, err)
		}
		helperPids = append(helperPids, cmd.Process.Pid)
	}
	// One from this process over the socket, one over TCP: external.
	if got, err := exchangeUnix(sock, "x\n"); err != nil || !strings.HasSuffix(got, "bye 2\n") {
		t.Fatalf("own call over the socket: %q %v", got, err)
	}
	if got, err := exchange(p.Addr("solver").String(), "x\n"); err != nil || !strings.HasSuffix(got, "bye 2\n") {
		t.Fatalf("call over TCP: %q %v", got, err)
	}
	// The helper's identity on a service whose backend is down: failed.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), callerEnv+"="+p.SocketPath("down"), helperIdentity)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("a call to a service whose backend is down answered: %s", out)
	}
	closeProxy(t, p) // every connection ended: the counts are final

	mu.Lock()
	if len(pids) != 4 || pids[0] != helperPids[0] || pids[1] != helperPids[1] || pids[2] != os.Getpid() || pids[3] != cmd.Process.Pid {
		t.Errorf("Identify got pids %v, want the helpers' %v, this process's %d, then %d", pids, helperPids, os.Getpid(), cmd.Process.Pid)
	}
	mu.Unlock()
	client := Caller{Agent: "client", Version: "v1"}
	want := []Call{
		{Caller: client, Service: "down", Version: "v9", Failed: 1},
		{Caller: Caller{}, Service: "solver", Version: "v2", Completed: 2},
		{Caller: client, Service: "solver", Version: "v2", Completed: 2},
	}
	if got := p.TakeCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n got %+v\nwant %+v", got, want)
	}
	if got := p.TakeCalls(); len(got) != 0 {
		t.Errorf("calls taken twice: %+v", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("sockets left after Close: %v", left)
	}
	if client.String() != "client@v1" || (Caller{}).String() != "external" {
		t.Error("Caller.String")
	}
}

// A removed service loses its socket; a socket path that is too long, or
// a file in the way, is a listen error that says what to do.
func TestServiceSocketFollowsTheTable(t *testing.T) {
	dir, err := os.MkdirTemp("", "mesh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "blocked.sock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b := startBackend(t, "v1/0")
	tab := NewTable()
	if _, err := tab.Set(Service{Name: "a", Address: "127.0.0.1:0"}, []Backend{b.backend(1)}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, tab, Options{SocketDir: dir})
	sock := p.SocketPath("a")
	if got, err := exchangeUnix(sock, "hi\n"); err != nil || !strings.HasSuffix(got, "bye 3\n") {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := tab.Remove("a"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 120)
	if _, err := tab.Set(Service{Name: long, Address: "127.0.0.1:0"}, []Backend{b.backend(1)}); err != nil {
		t.Fatal(err)
	}
	v, err := tab.Set(Service{Name: "blocked", Address: "127.0.0.1:0"}, []Backend{b.backend(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitApplied(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the removed service's socket is still there: %v", err)
	}
	errs := map[string]string{}
	for _, s := range p.Stats().Services {
		errs[s.Name] = s.ListenError
	}
	if e := errs[long]; !strings.Contains(e, "over the 107") {
		t.Errorf("long name: listen error %q", e)
	}
	if e := errs["blocked"]; !strings.Contains(e, "is not a socket: remove it") {
		t.Errorf("blocked: listen error %q", e)
	}
	// TCP still serves both.
	if got, err := exchange(p.Addr("blocked").String(), "hi\n"); err != nil || !strings.HasSuffix(got, "bye 3\n") {
		t.Errorf("TCP beside a failed socket: %q %v", got, err)
	}
}
