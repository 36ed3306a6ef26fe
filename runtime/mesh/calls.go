package mesh

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
)

// SocketSuffix ends the name of a service's socket under
// Options.SocketDir: <service>.sock.
const SocketSuffix = ".sock"

// maxSocketPath is the longest path a Unix socket can be bound to on Linux
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// Caller is who opened a connection: an agent version, as Options.Identify
// names it from the connecting process. The zero Caller is external: a
// connection on the TCP address, or on a socket from a process Identify
// does not know.
type Caller struct {
	Agent, Version string
}

// External says whether the caller is unknown.
func (c Caller) External() bool { return c == Caller{} }

// String is agent@version, or "external".
func (c Caller) String() string {
	if c.External() {
		return "external"
	}
	return c.Agent + "@" + c.Version
}

// Call counts the connections of one caller to one version of a service
// since the last TakeCalls.
type Call struct {
	Caller Caller
	// Service is the service called; Version the version of the backend
	// that served the connection (or the last one tried, for a failure),
	// "" when the service had no backend with a weight above 0.
	Service, Version string
	// Completed counts connections that reached a backend and ended with
	// both sides closed, without a dial or copy error.
	Completed uint64
	// Failed counts connections refused (no backend reachable) or ended
	// by an error on either side. Connections cut by Close count in
	// neither.
	Failed uint64
}

type callKey struct {
	caller           Caller
	service, version string
}

// countCall adds one connection's outcome to its call counts.
func (p *Proxy) countCall(caller Caller, service, version string, ok bool) {
	k := callKey{caller, service, version}
	p.callsMu.Lock()
	defer p.callsMu.Unlock()
	c := p.calls[k]
	if c == nil {
		c = &Call{Caller: caller, Service: service, Version: version}
		p.calls[k] = c
	}
	if ok {
		c.Completed++
	} else {
		c.Failed++
	}
}

// TakeCalls returns the call counts since the last TakeCalls and starts
// new ones, sorted by service, version, then caller. Connections still
// open are counted when they end.
func (p *Proxy) TakeCalls() []Call {
	p.callsMu.Lock()
	calls := p.calls
	p.calls = map[callKey]*Call{}
	p.callsMu.Unlock()
	out := make([]Call, 0, len(calls))
	for _, c := range calls {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Call) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Caller.Agent, b.Caller.Agent), cmp.Compare(a.Caller.Version, b.Caller.Version))
	})
	return out
}

// listenSocket listens on SocketDir/<service>.sock, replacing a stale
// socket file, and lets anyone who can reach the directory connect.
func (p *Proxy) listenSocket(service string) (*listener, error) {
	path := filepath.Join(p.socketDir, service+SocketSuffix)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("mesh: socket %s for service %q is %d bytes long, over the %d a Unix socket path may have: use a shorter socket directory or service name", path, service, len(path), maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("mesh: %s for service %q exists and is not a socket: remove it, or give the proxy a directory of its own", path, service)
		}
		if err := os.Remove(path); err != nil { // a stale socket of an earlier proxy
			return nil, fmt.Errorf("mesh: remove the stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("mesh: socket for service %q: %w", service, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("mesh: listen on %s for service %q: %w; does the socket directory exist and is it writable?", path, service, err)
	}
	// Connecting needs write permission on the socket file; callers in
	// containers may be other users. Who reaches the directory decides.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("mesh: make the socket %s reachable: %w", path, err)
	}
	return &listener{service: service, address: path, ln: ln, socket: true}, nil
}

// caller identifies the process at the other end of a socket connection.
func (p *Proxy) caller(c net.Conn) Caller {
	if p.identify == nil {
		return Caller{}
	}
	pid, err := peerPID(c)
	if err != nil {
		p.log.Debug("mesh: cannot read a caller's credentials; counted as external", "err", err)
		return Caller{}
	}
	if who, ok := p.identify(pid); ok {
		return who
	}
	return Caller{}
}
