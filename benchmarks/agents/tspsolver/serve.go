package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
	"github.com/stratoswarm/stratoswarm/benchmarks/suites/tsplib"
)

// maxInstanceBytes bounds a posted instance.
const maxInstanceBytes = 4 << 20

// serveUsage is the serve subcommand's synopsis.
const serveUsage = "usage: tspsolver serve [--listen HOST:PORT|unix:PATH] [--genome GENOME.json] [--max-concurrent N]"

// latencyBuckets are the upper bounds (seconds) of the solve-time
// histogram.
var latencyBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// server answers solve requests with one genome: POST /solve, GET
// /healthz, GET /metrics (Prometheus text format).
type server struct {
	genome solver.Genome
	slots  chan struct{} // bounds concurrent solves
	now    func() time.Time

	mu       sync.Mutex
	requests map[int]uint64 // by HTTP status
	buckets  [len(latencyBuckets)]uint64
	count    uint64
	sum      float64
	gapSum   float64
	gapCount uint64
}

func newServer(g solver.Genome, maxConcurrent int) *server {
	return &server{genome: g, slots: make(chan struct{}, maxConcurrent), now: time.Now, requests: map[int]uint64{}}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /solve", s.solve)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// solve takes an instance as the body (TSPLIB text), or the name of an
// embedded one (?instance=eil51) with no body, and a ?seed=N.
func (s *server) solve(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	code, out, err := s.answer(r)
	if err != nil {
		http.Error(w, "tspsolver: "+err.Error(), code)
	} else {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(out)
	}
	s.record(code, s.now().Sub(start), out)
}

func (s *server) answer(r *http.Request) (int, *output, error) {
	seed := uint64(1)
	if v := r.URL.Query().Get("seed"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return http.StatusBadRequest, nil, fmt.Errorf("seed %q: want a non-negative integer", v)
		}
		seed = n
	}
	var in *tsplib.Instance
	if name := r.URL.Query().Get("instance"); name != "" {
		loaded, err := tsplib.Load(name)
		if err != nil {
			return http.StatusNotFound, nil, fmt.Errorf("instance %q: %v", name, err)
		}
		in = loaded
	} else {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxInstanceBytes+1))
		if err != nil {
			return http.StatusBadRequest, nil, fmt.Errorf("read the instance: %v", err)
		}
		if len(body) > maxInstanceBytes {
			return http.StatusRequestEntityTooLarge, nil, fmt.Errorf("the instance is over %d bytes", maxInstanceBytes)
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return http.StatusBadRequest, nil, errors.New("no instance: post TSPLIB text, or name an embedded one with ?instance=")
		}
		if in, err = tsplib.Parse(bytes.NewReader(body)); err != nil {
			return http.StatusBadRequest, nil, fmt.Errorf("instance: %v", err)
		}
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-r.Context().Done():
		return http.StatusServiceUnavailable, nil, errors.New("gave up waiting for a free solver")
	}
	t0 := s.now()
	res, err := solver.Solve(in, s.genome, solver.Options{Seed: seed})
	if err != nil {
		return http.StatusInternalServerError, nil, fmt.Errorf("solving %s: %v", in.Name, err)
	}
	out := &output{Instance: in.Name, Length: res.Length, Tour: make([]int, len(res.Tour)), Iterations: res.Iterations,
		TimeMS: math.Round(float64(s.now().Sub(t0).Nanoseconds())/1e3) / 1e3}
	for i, c := range res.Tour {
		out.Tour[i] = c + 1
	}
	if opt, ok := knownOptimum(in); ok {
		gap := float64(res.Length-opt) / float64(opt)
		out.Optimum, out.Gap = &opt, &gap
	}
	return http.StatusOK, out, nil
}

func (s *server) record(code int, d time.Duration, out *output) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[code]++
	sec := d.Seconds()
	s.count++
	s.sum += sec
	for i, b := range latencyBuckets {
		if sec <= b {
			s.buckets[i]++
		}
	}
	if out != nil && out.Gap != nil {
		s.gapSum += *out.Gap
		s.gapCount++
	}
}

// metrics writes the Prometheus text format by hand (the agent stays on
// the standard library).
func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP tspsolver_requests_total Solve requests by HTTP status.\n# TYPE tspsolver_requests_total counter\n")
	codes := make([]int, 0, len(s.requests))
	for c := range s.requests {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(&b, "tspsolver_requests_total{code=\"%d\"} %d\n", c, s.requests[c])
	}
	b.WriteString("# HELP tspsolver_request_seconds Time to answer a solve request.\n# TYPE tspsolver_request_seconds histogram\n")
	for i, bound := range latencyBuckets {
		fmt.Fprintf(&b, "tspsolver_request_seconds_bucket{le=\"%g\"} %d\n", bound, s.buckets[i])
	}
	fmt.Fprintf(&b, "tspsolver_request_seconds_bucket{le=\"+Inf\"} %d\n", s.count)
	fmt.Fprintf(&b, "tspsolver_request_seconds_sum %g\ntspsolver_request_seconds_count %d\n", s.sum, s.count)
	b.WriteString("# HELP tspsolver_gap Gap to the known optimum of the solved instances.\n# TYPE tspsolver_gap summary\n")
	fmt.Fprintf(&b, "tspsolver_gap_sum %g\ntspsolver_gap_count %d\n", s.gapSum, s.gapCount)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, b.String())
}

// serve runs the solver as a service until SIGTERM or SIGINT; it returns
// the exit status.
func serve(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("tspsolver serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen", envOr("SWARM_LISTEN", ":8080"), "address to listen on: `HOST:PORT`, or unix:PATH for a Unix socket (default $SWARM_LISTEN, what an agent's container is given)")
	genomePath := flags.String("genome", os.Getenv("SWARM_GENOME"), "genome JSON file (`PATH`; default $SWARM_GENOME, else the default genome)")
	maxConcurrent := flags.Int("max-concurrent", runtime.GOMAXPROCS(0), "solves at once; more requests wait")
	flags.Usage = func() {
		fmt.Fprintln(stderr, serveUsage)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() != 0 || *maxConcurrent < 1 {
		flags.Usage()
		return exitUsage
	}
	g := solver.DefaultGenome()
	if *genomePath != "" {
		data, err := os.ReadFile(*genomePath)
		if err != nil {
			fmt.Fprintf(stderr, "tspsolver: reading the genome: %v\n", err)
			return exitUsage
		}
		if g, err = solver.ParseGenome(data); err != nil {
			fmt.Fprintf(stderr, "tspsolver: %s: %v\n", *genomePath, err)
			return exitUsage
		}
	}
	network, address := "tcp", *listen
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		network, address = "unix", path
		_ = os.Remove(path) // a socket left by an earlier run
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		fmt.Fprintf(stderr, "tspsolver: listen: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "tspsolver: serving on %s\n", ln.Addr())
	srv := &http.Server{Handler: newServer(g, *maxConcurrent).handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "tspsolver: %v\n", err)
		return exitFailed
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "tspsolver: shutdown: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// envOr is the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
