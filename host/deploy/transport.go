package deploy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
)

// SocketTransport is an http.RoundTripper that reaches replicas by their
// Unix sockets (a replica has no network): Register gives a replica a
// host name, and a request to http://<that name>/... is sent over its
// socket. Connections are not kept alive, so a replica that is replaced
// at the same name is reached at its new socket. The zero value is ready
// to use; it is safe for concurrent use.
type SocketTransport struct {
	mu      sync.Mutex
	sockets map[string]string // host name → socket path
	rt      http.Transport
	once    sync.Once
}

// HostName is the host name Register gives replica r: its ID with '@'
// and '/' as dots, under .replica (solver@v1/0 → solver.v1.0.replica).
func HostName(r Replica) string {
	return strings.NewReplacer("@", ".", "/", ".").Replace(r.ID) + ".replica"
}

// Register maps replica r's host name (HostName) to its socket and
// returns the name.
func (t *SocketTransport) Register(r Replica) string {
	host := HostName(r)
	t.mu.Lock()
	if t.sockets == nil {
		t.sockets = map[string]string{}
	}
	t.sockets[host] = r.Socket
	t.mu.Unlock()
	return host
}

// Unregister forgets replica r's host name; requests to it then fail.
func (t *SocketTransport) Unregister(r Replica) {
	t.mu.Lock()
	delete(t.sockets, HostName(r))
	t.mu.Unlock()
}

// RoundTrip sends req over the socket of the replica its URL's host
// names; a host no replica was registered under is an error saying so.
func (t *SocketTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(func() {
		t.rt.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			t.mu.Lock()
			sock, ok := t.sockets[host]
			t.mu.Unlock()
			if !ok {
				return nil, fmt.Errorf("no replica is registered as %s (register it with SocketTransport.Register)", host)
			}
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		t.rt.DisableKeepAlives = true
	})
	return t.rt.RoundTrip(req)
}
