package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const loadUsage = "usage: tspsolver load --target HOST:PORT|unix:PATH [--concurrency N] [--duration D] [--instances a,b,...] [--keepalive]"

// loadStats are what a load run saw.
type loadStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	failed    int
	lastErr   string
}

func (s *loadStats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		s.lastErr = err.Error()
		return
	}
	s.latencies = append(s.latencies, d)
}

// load sends solve requests to an agent's address (a generated live
// traffic for canaries): concurrency workers, each POSTing /solve of the
// instances in turn with a new seed, until the duration ends or SIGTERM or
// SIGINT arrives; then it prints what it saw.
func load(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tspsolver load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, loadUsage); fs.PrintDefaults() }
	target := fs.String("target", "", "the agent's address, `HOST:PORT` (swarmctl agent describe shows it), or unix:PATH, a socket such as a replica's /run/mesh/AGENT.sock")
	concurrency := fs.Int("concurrency", 4, "requests in flight at once")
	duration := fs.Duration("duration", 0, "how long to send requests (0: until SIGTERM or SIGINT)")
	instances := fs.String("instances", "eil51,st70,kroA100", "embedded instances to solve, comma-separated")
	keepAlive := fs.Bool("keepalive", false, "reuse connections (the mesh splits traffic by connection: without this every request is a new connection, like many independent clients, so a canary's share of connections is its share of requests)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	names := strings.Split(*instances, ",")
	switch {
	case *target == "":
		fmt.Fprintln(stderr, "tspsolver load: --target is required: the agent's HOST:PORT")
		return exitUsage
	case *concurrency < 1:
		fmt.Fprintf(stderr, "tspsolver load: --concurrency %d: give at least 1\n", *concurrency)
		return exitUsage
	case slices.Contains(names, ""):
		fmt.Fprintf(stderr, "tspsolver load: --instances %q holds an empty name\n", *instances)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	stats := runLoad(ctx, *target, names, *concurrency, *keepAlive)
	n := len(stats.latencies)
	if n == 0 {
		fmt.Fprintf(stdout, "load: 0 requests answered, %d failed (%s)\n", stats.failed, stats.lastErr)
		return exitFailed
	}
	slices.Sort(stats.latencies)
	q := func(p float64) time.Duration { return stats.latencies[min(n-1, int(p*float64(n)))] }
	fmt.Fprintf(stdout, "load: %d requests answered, %d failed; latency p50 %v p99 %v\n", n, stats.failed, q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond))
	return exitOK
}

// runLoad sends requests to target (HOST:PORT or unix:PATH) until ctx
// ends.
func runLoad(ctx context.Context, target string, instances []string, concurrency int, keepAlive bool) *loadStats {
	stats := &loadStats{}
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: concurrency}
	base := "http://" + target
	if path, ok := strings.CutPrefix(target, "unix:"); ok {
		base = "http://agent"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				url := fmt.Sprintf("%s/solve?instance=%s&seed=%d", base, instances[i%len(instances)], w*1_000_000+i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
				start := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", url, resp.Status)
					}
				}
				if ctx.Err() != nil {
					return
				}
				stats.add(time.Since(start), err)
				if err != nil {
					time.Sleep(50 * time.Millisecond) // no busy loop while the agent is away
				}
			}
		}()
	}
	wg.Wait()
	return stats
}
