// Package mesh is the node's service mesh. A Table says, for each service,
// the address it listens on and the backends that serve it with their
// weights; a Proxy listens on those addresses in userspace, spreads new
// connections over the backends by weight (the canary's traffic split) and
// records per-backend connections, errors, bytes and latency. The table is
// the source of truth: the proxy follows it through Watch, and a socket-level
// eBPF path (cgroup/connect4) can follow the same table later.
package mesh

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// MaxWeight is the largest backend weight. Weights are relative: 0..100
// reads as percent, but any values work. The bound keeps a service's sum of
// weights within 32 bits, which is what an eBPF map value will hold.
const MaxWeight = 1_000_000

// Service is a name and the address it is reached at on the node.
type Service struct {
	// Name identifies the service: 1-253 letters, digits, '.', '-', '_'.
	Name string
	// Address is the IP:port the service listens on, e.g. 127.0.0.1:8080.
	// Port 0 lets the proxy's listener take a free port (Proxy.Addr says
	// which); it is meant for tests, since such an address is not stable.
	Address string
}

// Backend is one replica that serves a service.
type Backend struct {
	// ID names the backend within its service, e.g.
	// "tspsolver@v3/replica-0". It keys the backend's statistics.
	ID string
	// Version is the agent version the backend runs, e.g. "v3": the label
	// a canary judge compares by.
	Version string
	// Address is where the backend listens: host:port, or unix:PATH for
	// a Unix socket (an agent replica's: it has no network of its own).
	Address string
	// Weight is the backend's share of new connections relative to the
	// other backends' weights, 0..MaxWeight. 0 drains it: it gets no new
	// connections and its open ones go on until they end.
	Weight int
}

// Route is a service with its backends, as the table holds it.
type Route struct {
	Service
	Backends []Backend
}

// Errors from Pick and the table's writes (wrapped with the service name).
var (
	// ErrUnknownService: the table has no service by that name.
	ErrUnknownService = errors.New("no such service in the mesh table")
	// ErrNoTraffic: the service has no backend with a weight above 0, so
	// connections to it are refused.
	ErrNoTraffic = errors.New("no backend takes traffic (every weight is 0 or there are no backends)")
)

// Rand is the random source Pick draws from. A *rand.Rand of math/rand/v2
// is one; use a seeded one for reproducible picks.
type Rand interface {
	Uint64N(n uint64) uint64
}

// Snapshot is one version of the table. It never changes once made, so it
// is read without locks.
type Snapshot struct {
	version uint64
	routes  map[string]*route
}

// route is a Route with its sum of weights, kept immutable in a Snapshot.
type route struct {
	Route
	total uint64
}

// Version is the snapshot's version: 0 for an empty new table, then one
// more for each change.
func (s *Snapshot) Version() uint64 { return s.version }

// Get returns the named service's route (a copy) and whether it exists.
func (s *Snapshot) Get(name string) (Route, bool) {
	r, ok := s.routes[name]
	if !ok {
		return Route{}, false
	}
	return Route{Service: r.Service, Backends: slices.Clone(r.Backends)}, true
}

// Routes returns every route (copies), sorted by service name.
func (s *Snapshot) Routes() []Route {
	out := make([]Route, 0, len(s.routes))
	for _, name := range slices.Sorted(maps.Keys(s.routes)) {
		r, _ := s.Get(name)
		out = append(out, r)
	}
	return out
}

// Pick chooses a backend of the service at random with probability
// weight/sum of weights. Each pick is independent, so over N picks a
// backend's share converges to its weight's share with a binomial standard
// deviation of sqrt(N·p·(1-p)); a backend of weight 0 is never picked. The
// error wraps ErrUnknownService or ErrNoTraffic.
func (s *Snapshot) Pick(service string, rnd Rand) (Backend, error) {
	return s.pick(service, "", rnd)
}

// PickOther is Pick over the service's backends other than the one whose ID
// is except: the proxy's one retry after a failed dial. The error wraps
// ErrNoTraffic when no other backend has a weight above 0.
func (s *Snapshot) PickOther(service, except string, rnd Rand) (Backend, error) {
	return s.pick(service, except, rnd)
}

func (s *Snapshot) pick(service, except string, rnd Rand) (Backend, error) {
	r, ok := s.routes[service]
	if !ok {
		return Backend{}, fmt.Errorf("service %q: %w", service, ErrUnknownService)
	}
	total, skip := r.total, -1
	if except != "" {
		for i, b := range r.Backends {
			if b.ID == except {
				total, skip = total-uint64(b.Weight), i
				break
			}
		}
	}
	if total == 0 {
		if skip >= 0 {
			return Backend{}, fmt.Errorf("service %q: besides %q: %w", service, except, ErrNoTraffic)
		}
		return Backend{}, fmt.Errorf("service %q: %w; set a weight above 0 to send it traffic", service, ErrNoTraffic)
	}
	n := rnd.Uint64N(total)
	for i, b := range r.Backends {
		w := uint64(b.Weight)
		if i == skip || w == 0 {
			continue
		}
		if n < w {
			return b, nil
		}
		n -= w
	}
	panic("mesh: pick ran past the sum of weights") // total is the sum of the weights
}

// Table is the mesh's routing table: services and their weighted backends.
// Writes are serialised and copy the table (copy-on-write), so readers take
// the current Snapshot with one atomic load and never lock. Every change
// bumps the version and is sent to watchers. Make one with NewTable.
type Table struct {
	snap atomic.Pointer[Snapshot]

	mu       sync.Mutex // serialises writes and guards watchers
	watchers map[*watcher]struct{}
}

type watcher struct{ ch chan *Snapshot }

// NewTable returns an empty table at version 0.
func NewTable() *Table {
	t := &Table{watchers: map[*watcher]struct{}{}}
	t.snap.Store(&Snapshot{routes: map[string]*route{}})
	return t
}

// Snapshot returns the current version of the table.
func (t *Table) Snapshot() *Snapshot { return t.snap.Load() }

// Version is the current version (Snapshot().Version()).
func (t *Table) Version() uint64 { return t.Snapshot().version }

// Get returns the named service's current route (a copy).
func (t *Table) Get(name string) (Route, bool) { return t.Snapshot().Get(name) }

// Pick is Snapshot().Pick.
func (t *Table) Pick(service string, rnd Rand) (Backend, error) {
	return t.Snapshot().Pick(service, rnd)
}

// Set creates or replaces a service with its backends and returns the new
// version. It refuses an invalid service or backend list (see the errors)
// and an address another service already has. A Set equal to what the
// table holds changes nothing and keeps the version.
func (t *Table) Set(svc Service, backends []Backend) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.set(svc, backends)
}

// Update replaces a service's backends with what fn returns given a copy of
// the current ones, atomically: no other write comes between the read and
// the write. An error from fn is returned as it is and changes nothing. fn
// runs with the table's write lock held, so it must not write to the table.
func (t *Table) Update(service string, fn func([]Backend) ([]Backend, error)) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.Snapshot().routes[service]
	if !ok {
		return t.Snapshot().version, fmt.Errorf("mesh: update service %q: %w", service, ErrUnknownService)
	}
	backends, err := fn(slices.Clone(r.Backends))
	if err != nil {
		return t.Snapshot().version, err
	}
	return t.set(r.Service, backends)
}

// SetWeights sets the weights of the named backends of a service in one
// change (the canary's traffic split); backends not named keep theirs. An
// ID the service does not have is an error and changes nothing.
func (t *Table) SetWeights(service string, weights map[string]int) (uint64, error) {
	return t.Update(service, func(bs []Backend) ([]Backend, error) {
		seen := 0
		for i := range bs {
			if w, ok := weights[bs[i].ID]; ok {
				bs[i].Weight = w
				seen++
			}
		}
		if seen != len(weights) {
			for id := range weights {
				if !slices.ContainsFunc(bs, func(b Backend) bool { return b.ID == id }) {
					return nil, fmt.Errorf("mesh: service %q has no backend %q; list its backends with Get", service, id)
				}
			}
		}
		return bs, nil
	})
}

// Remove deletes a service and returns the new version. The error wraps
// ErrUnknownService when there is none by that name.
func (t *Table) Remove(name string) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.Snapshot()
	if _, ok := old.routes[name]; !ok {
		return old.version, fmt.Errorf("mesh: remove service %q: %w", name, ErrUnknownService)
	}
	routes := maps.Clone(old.routes)
	delete(routes, name)
	return t.publish(routes), nil
}

// Watch returns a channel that holds the newest snapshot: the current one
// at once, then each new one. The channel has one slot and a write replaces
// what is unread, so a slow reader skips intermediate versions but always
// gets the newest, and never blocks a writer. stop ends the watch and
// closes the channel.
func (t *Table) Watch() (snapshots <-chan *Snapshot, stop func()) {
	w := &watcher{ch: make(chan *Snapshot, 1)}
	t.mu.Lock()
	t.watchers[w] = struct{}{}
	w.ch <- t.Snapshot()
	t.mu.Unlock()
	return w.ch, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if _, ok := t.watchers[w]; ok {
			delete(t.watchers, w)
			close(w.ch)
		}
	}
}

// set validates and stores a route; t.mu is held.
func (t *Table) set(svc Service, backends []Backend) (uint64, error) {
	old := t.Snapshot()
	total, err := validate(svc, backends)
	if err != nil {
		return old.version, err
	}
	if cur, ok := old.routes[svc.Name]; ok && cur.Service == svc && slices.Equal(cur.Backends, backends) {
		return old.version, nil
	}
	for _, other := range old.routes {
		if other.Name != svc.Name && sameListenAddress(other.Address, svc.Address) {
			return old.version, fmt.Errorf("mesh: service %q: address %s is taken by service %q; give each service its own address", svc.Name, svc.Address, other.Name)
		}
	}
	routes := maps.Clone(old.routes)
	routes[svc.Name] = &route{Route: Route{Service: svc, Backends: slices.Clone(backends)}, total: total}
	return t.publish(routes), nil
}

// publish stores a new snapshot of routes and hands it to every watcher,
// replacing what a watcher has not read yet; t.mu is held, so no other send
// can fill the slot between the drain and the send.
func (t *Table) publish(routes map[string]*route) uint64 {
	s := &Snapshot{version: t.Snapshot().version + 1, routes: routes}
	t.snap.Store(s)
	for w := range t.watchers {
		select {
		case <-w.ch:
		default:
		}
		w.ch <- s
	}
	return s.version
}

var serviceName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,253}$`)

// validate checks a service and its backends and returns the sum of the
// weights.
func validate(svc Service, backends []Backend) (uint64, error) {
	if !serviceName.MatchString(svc.Name) {
		return 0, fmt.Errorf("mesh: invalid service name %q: use 1-253 letters, digits, '.', '-' and '_'", svc.Name)
	}
	if _, err := netip.ParseAddrPort(svc.Address); err != nil {
		return 0, fmt.Errorf("mesh: service %q: address %q is not IP:port (e.g. 127.0.0.1:8080): %v", svc.Name, svc.Address, err)
	}
	var total uint64
	seen := make(map[string]bool, len(backends))
	for i, b := range backends {
		switch {
		case b.ID == "":
			return 0, fmt.Errorf("mesh: service %q: backend %d has no ID; name each backend, e.g. agent@version/replica-0", svc.Name, i)
		case seen[b.ID]:
			return 0, fmt.Errorf("mesh: service %q: backend %q appears twice; give each backend its own ID", svc.Name, b.ID)
		case b.Weight < 0:
			return 0, fmt.Errorf("mesh: service %q: backend %q: weight %d is negative; use 0 to drain it", svc.Name, b.ID, b.Weight)
		case b.Weight > MaxWeight:
			return 0, fmt.Errorf("mesh: service %q: backend %q: weight %d is above %d; weights are relative, so scale them down", svc.Name, b.ID, b.Weight, MaxWeight)
		}
		if err := checkDialAddress(b.Address); err != nil {
			return 0, fmt.Errorf("mesh: service %q: backend %q: %v", svc.Name, b.ID, err)
		}
		seen[b.ID] = true
		total += uint64(b.Weight)
	}
	return total, nil
}

// checkDialAddress accepts host:port with a host and a port of 1-65535,
// or unix:PATH with an absolute path.
func checkDialAddress(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return fmt.Errorf("address %q: a Unix socket needs an absolute path (unix:/run/agent/http.sock)", addr)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port: %v", addr, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 || host == "" {
		return fmt.Errorf("address %q needs a host and a port of 1-65535", addr)
	}
	return nil
}

// sameListenAddress reports whether two valid service addresses would
// collide: the same port on the same IP, or on an unspecified IP (0.0.0.0,
// [::]) and any IP of the same family. Port 0 never collides.
func sameListenAddress(a, b string) bool {
	x, y := netip.MustParseAddrPort(a), netip.MustParseAddrPort(b)
	if x.Port() == 0 || x.Port() != y.Port() {
		return false
	}
	xa, ya := x.Addr().Unmap(), y.Addr().Unmap()
	return xa == ya || (xa.Is4() == ya.Is4() && (xa.IsUnspecified() || ya.IsUnspecified()))
}
