package perf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/mesh"
)

// meshMsg is the size of a request and of its response.
const meshMsg = 64

// BenchmarkMeshProxy measures 64-byte request/response round trips through
// the mesh proxy (runtime/mesh: a service with two backends weighted 90/10,
// both the same echo server) and, in the same run, directly to that echo
// server. Two loads, each run with the direct and the proxied path
// interleaved (2 rounds of 3 s per path): "persistent", 16 clients each
// doing round trips back to back over one connection, and "newconn", 16
// clients each making a new connection per round trip (dial + request +
// response; the server closes). The clients run in the benchmark's
// process, the echo servers and the proxy in two helper processes (the test
// binary again), as agents and swarmd do. Metrics per load: <load>-{direct,proxy}-{p50,p99}-us,
// <load>-{direct,proxy}-rps, and <load>-p99-ratio (proxy p99 over direct
// p99; goal ≤ 2). The work is the same whatever b.N is, done once per
// process.
func BenchmarkMeshProxy(b *testing.B) {
	meshOnce.Do(func() { meshLines, meshMetrics, meshErr = meshLoad() })
	if meshErr != nil {
		b.Fatal(meshErr)
	}
	for _, l := range meshLines {
		b.Log(l)
	}
	for _, m := range meshMetrics {
		b.ReportMetric(m.v, m.unit)
	}
}

// meshOnce, meshLines, meshMetrics and meshErr cache BenchmarkMeshProxy's
// half minute of load.
var (
	meshOnce    sync.Once
	meshLines   []string
	meshMetrics []metric
	meshErr     error
)

func meshLoad() (lines []string, metrics []metric, err error) {
	const clients, rounds, phase = 16, 2, 3 * time.Second
	echo, err := startMeshHelper("echo")
	if err != nil {
		return nil, nil, err
	}
	defer echo.stop()
	proxy, err := startMeshHelper("proxy", echo.addrs...)
	if err != nil {
		return nil, nil, err
	}
	defer proxy.stop()

	metrics = append(metrics, metric{0, "ns/op"}) // set below: proxy persistent p50
	for i, name := range []string{"persistent", "newconn"} {
		var lat [2][]time.Duration // direct, proxy
		var n [2]int
		for range rounds {
			for j, addr := range []string{echo.addrs[i], proxy.addrs[i]} {
				l, err := meshRoundTrips(addr, clients, phase, name == "newconn")
				if err != nil {
					return nil, nil, fmt.Errorf("%s via %s: %w", name, []string{"direct", "proxy"}[j], err)
				}
				lat[j] = append(lat[j], l...)
				n[j] += len(l)
			}
		}
		secs := float64(rounds) * phase.Seconds()
		d50, d99 := meshPctUS(lat[0], 0.50), meshPctUS(lat[0], 0.99)
		p50, p99 := meshPctUS(lat[1], 0.50), meshPctUS(lat[1], 0.99)
		drps, prps := float64(n[0])/secs, float64(n[1])/secs
		if name == "persistent" {
			metrics[0].v = p50 * 1000
		}
		metrics = append(metrics,
			metric{d50, name + "-direct-p50-us"}, metric{d99, name + "-direct-p99-us"},
			metric{p50, name + "-proxy-p50-us"}, metric{p99, name + "-proxy-p99-us"},
			metric{drps, name + "-direct-rps"}, metric{prps, name + "-proxy-rps"},
			metric{p99 / d99, name + "-p99-ratio"})
		lines = append(lines, fmt.Sprintf("%s, %d clients, %d-byte round trips, %.0f s per path: direct p50 %.0f µs p99 %.0f µs %.0f req/s; proxy p50 %.0f µs p99 %.0f µs %.0f req/s; proxy/direct p50 %.2fx p99 %.2fx, req/s %.2fx",
			name, clients, meshMsg, secs, d50, d99, drps, p50, p99, prps, p50/d50, p99/d99, prps/drps))
	}
	// Every proxied round trip must have been a clean connection.
	summary, err := proxy.stop()
	if err != nil {
		return nil, nil, err
	}
	if summary != "ok" {
		return nil, nil, fmt.Errorf("proxy: %s", summary)
	}
	return lines, metrics, nil
}

// meshHelperEnv makes the test binary a helper process of
// BenchmarkMeshProxy (see TestMain): "echo" serves the echo servers,
// "proxy" the mesh proxy in front of the addresses in its arguments. The
// proxy, the servers and the clients are separate processes, as an
// agent, swarmd and another agent are.
const meshHelperEnv = "STRATOSWARM_MESH_BENCH_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(meshHelperEnv); h != "" {
		if err := meshHelper(h, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, h+":", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// meshHelper runs a helper: it prints its listening addresses on one line
// and serves until its stdin closes; the proxy then prints "ok" or what
// went wrong.
func meshHelper(kind string, args []string) error {
	switch kind {
	case "echo":
		persistent, err := meshEchoServer(false)
		if err != nil {
			return err
		}
		oneShot, err := meshEchoServer(true)
		if err != nil {
			return err
		}
		fmt.Println(persistent.Addr(), oneShot.Addr())
		io.Copy(io.Discard, os.Stdin)
		return nil
	case "proxy":
		tab := mesh.NewTable()
		names := []string{"persistent", "newconn"}
		for i, name := range names {
			if _, err := tab.Set(mesh.Service{Name: name, Address: "127.0.0.1:0"}, []mesh.Backend{
				{ID: "v1/0", Version: "v1", Address: args[i], Weight: 90},
				{ID: "v2/0", Version: "v2", Address: args[i], Weight: 10},
			}); err != nil {
				return err
			}
		}
		p, err := mesh.New(tab, mesh.Options{})
		if err != nil {
			return err
		}
		fmt.Println(p.Addr(names[0]), p.Addr(names[1]))
		io.Copy(io.Discard, os.Stdin)
		if err := p.Close(context.Background()); err != nil {
			return err
		}
		var problems []string
		for _, s := range p.Stats().Services {
			for _, be := range s.Backends {
				if be.Errors() != 0 {
					problems = append(problems, fmt.Sprintf("service %s backend %s: %d dial errors, %d resets", s.Name, be.ID, be.DialErrors, be.Resets))
				}
			}
			if s.Refused != 0 {
				problems = append(problems, fmt.Sprintf("service %s: %d connections refused", s.Name, s.Refused))
			}
		}
		if problems == nil {
			problems = []string{"ok"}
		}
		fmt.Println(strings.Join(problems, "; "))
		return nil
	}
	return fmt.Errorf("unknown helper %q", kind)
}

// meshProcess is a running helper.
type meshProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	addrs []string
}

func startMeshHelper(kind string, args ...string) (*meshProcess, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), meshHelperEnv+"="+kind)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &meshProcess{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := h.out.ReadString('\n')
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("%s helper: %w", kind, err)
	}
	h.addrs = strings.Fields(line)
	return h, nil
}

// stop closes the helper's stdin and returns the rest of its output.
func (h *meshProcess) stop() (string, error) {
	if h.stdin == nil {
		return "", nil
	}
	h.stdin.Close()
	h.stdin = nil
	rest, _ := io.ReadAll(h.out)
	return strings.TrimSpace(string(rest)), h.cmd.Wait()
}

// meshEchoServer answers each 64-byte request with the same 64 bytes;
// oneShot closes the connection after one answer (so TIME_WAIT stays on
// the server's side, not on the clients' ephemeral ports).
func meshEchoServer(oneShot bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, meshMsg)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil || oneShot {
						return
					}
				}
			}()
		}
	}()
	return ln, nil
}

// meshRoundTrips runs clients goroutines doing round trips to addr for d and
// returns every round trip's latency.
func meshRoundTrips(addr string, clients int, d time.Duration, newConn bool) ([]time.Duration, error) {
	end := time.Now().Add(d)
	lats := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			lats[i], errs[i] = meshClient(addr, end, newConn)
		})
	}
	wg.Wait()
	return slices.Concat(lats...), errors.Join(errs...)
}

func meshClient(addr string, end time.Time, newConn bool) ([]time.Duration, error) {
	req, resp := make([]byte, meshMsg), make([]byte, meshMsg)
	for i := range req {
		req[i] = byte(i)
	}
	lat := make([]time.Duration, 0, 1<<16)
	var c net.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for time.Now().Before(end) {
		t0 := time.Now()
		if c == nil {
			var err error
			if c, err = net.Dial("tcp", addr); err != nil {
				return lat, err
			}
		}
		if _, err := c.Write(req); err != nil {
			return lat, err
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(t0))
		if newConn {
			// Wait for the server's close before closing.
			if _, err := io.Copy(io.Discard, c); err != nil {
				return lat, err
			}
			c.Close()
			c = nil
		}
	}
	return lat, nil
}

// meshPctUS returns the p-quantile of d in microseconds.
func meshPctUS(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return float64(s[int(p*float64(len(s)-1))].Nanoseconds()) / 1000
}
