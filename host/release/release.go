// Package release releases a new version of an agent through a canary: Env
// is the canary.Env of one rollout, over the deployer (replica sets), the
// mesh (the traffic split) and the replicas' own metrics, scraped from
// their sockets into a telemetry hub and read back per interval as the
// judge's samples.
//
// A release runs three versions of the agent side by side: the live one,
// a fresh baseline (the live version's spec, started with the canary so
// that both are equally new — a canary is never judged against a version
// that has been running for days), and the canary.
package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
)

// DefaultScrapeEvery is how often the replicas' metrics are read.
const DefaultScrapeEvery = 250 * time.Millisecond

// Options configure New.
type Options struct {
	Deployer *deploy.Deployer
	Hub      *telemetry.Hub
	// Agent, its service Address, and the Live version now serving.
	Agent, Address, Live string
	// Baseline is the live version's spec under a version name of its own
	// (e.g. v1-baseline); Canary the new version's.
	Baseline, Canary deploy.Version
	// Metrics are the telemetry metrics (source agent) the judge compares,
	// e.g. tspsolver_request_seconds_mean; Plan.Judge names the same.
	Metrics []string
	// ScrapeEvery is the replicas' scrape period (default
	// DefaultScrapeEvery).
	ScrapeEvery time.Duration
	// Log receives each step (default: discarded).
	Log *slog.Logger
}

// Env is one release's canary.Env.
type Env struct {
	o         Options
	scraper   *telemetry.Scraper
	transport *deploy.SocketTransport

	mu      sync.Mutex
	stop    context.CancelFunc
	done    chan struct{}
	started bool
}

var _ canary.Env = (*Env)(nil)

// New checks the options and returns the release's Env.
func New(o Options) (*Env, error) {
	switch {
	case o.Deployer == nil || o.Hub == nil:
		return nil, errors.New("release: a deployer and a telemetry hub are required")
	case o.Agent == "" || o.Address == "" || o.Live == "":
		return nil, errors.New("release: the agent, its service address and its live version are required")
	case o.Baseline.Agent != o.Agent || o.Canary.Agent != o.Agent:
		return nil, fmt.Errorf("release: the baseline and the canary must be versions of agent %s", o.Agent)
	case o.Baseline.Version == o.Live || o.Canary.Version == o.Live || o.Baseline.Version == o.Canary.Version:
		return nil, fmt.Errorf("release: live %s, baseline %s and canary %s must be three different versions", o.Live, o.Baseline.Version, o.Canary.Version)
	case len(o.Metrics) == 0:
		return nil, errors.New("release: no metrics to judge")
	}
	if o.ScrapeEvery <= 0 {
		o.ScrapeEvery = DefaultScrapeEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	tr := &deploy.SocketTransport{}
	return &Env{o: o, transport: tr, scraper: &telemetry.Scraper{Client: &http.Client{Transport: tr}}}, nil
}

// Start deploys the fresh baseline and the canary (without traffic) and
// starts reading their metrics.
func (e *Env) Start(ctx context.Context) error {
	if _, err := e.o.Deployer.Deploy(ctx, e.o.Baseline); err != nil {
		return fmt.Errorf("start the baseline: %w", err)
	}
	if _, err := e.o.Deployer.Deploy(ctx, e.o.Canary); err != nil {
		_ = e.o.Deployer.Remove(context.WithoutCancel(ctx), e.o.Agent, e.o.Baseline.Version)
		return fmt.Errorf("start the canary: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.mu.Lock()
	e.stop, e.done, e.started = cancel, make(chan struct{}), true
	e.mu.Unlock()
	go e.scrapeLoop(sctx)
	e.o.Log.Info("release: baseline and canary started", "agent", e.o.Agent, "baseline", e.o.Baseline.Version, "canary", e.o.Canary.Version)
	return nil
}

// scrapeLoop reads every baseline and canary replica's /metrics until
// stopped.
func (e *Env) scrapeLoop(ctx context.Context) {
	defer close(e.done)
	rates := map[string]*telemetry.Rates{} // by replica
	tick := time.NewTicker(e.o.ScrapeEvery)
	defer tick.Stop()
	for {
		for _, v := range []string{e.o.Baseline.Version, e.o.Canary.Version} {
			for _, r := range e.o.Deployer.Replicas(e.o.Agent, v) {
				if err := e.scrape(ctx, v, r, rates); err != nil && ctx.Err() == nil {
					e.o.Log.Debug("release: scrape", "replica", r.ID, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// scrape reads replica r's /metrics (through its socket) into the hub:
// counters as rates, histograms as means between two scrapes.
func (e *Env) scrape(ctx context.Context, version string, r deploy.Replica, rates map[string]*telemetry.Rates) error {
	host := e.transport.Register(r)
	readings, err := e.scraper.Fetch(ctx, "http://"+host+"/metrics")
	if err != nil {
		return err
	}
	rt := rates[r.ID]
	if rt == nil {
		rt = &telemetry.Rates{}
		rates[r.ID] = rt
	}
	points, _ := rt.Points(e.o.Agent, version, time.Now(), readings)
	_, err = e.o.Hub.RecordAll(points)
	return err
}

// SetWeights splits the agent's traffic between the three versions.
func (e *Env) SetWeights(_ context.Context, live, baseline, canaryShare int) error {
	w := map[string]int{e.o.Live: live, e.o.Baseline.Version: baseline, e.o.Canary.Version: canaryShare}
	if err := e.o.Deployer.Route(e.o.Agent, e.o.Address, w); err != nil {
		return err
	}
	e.o.Log.Info("release: weights", "agent", e.o.Agent, e.o.Live, live, e.o.Baseline.Version, baseline, e.o.Canary.Version, canaryShare)
	return nil
}

// Collect returns each metric's baseline (control) and canary (experiment)
// samples of [from, to), and whether a canary replica died.
func (e *Env) Collect(ctx context.Context, from, to time.Time) (canary.Observation, error) {
	obs := canary.Observation{Samples: map[string]canary.Samples{}, Seed: uint64(to.UnixNano())}
	w := e.o.Hub.Window()
	for _, m := range e.o.Metrics {
		series := func(version string) telemetry.Series {
			return telemetry.Series{Agent: e.o.Agent, Version: version, Source: telemetry.SourceAgent, Metric: m}
		}
		obs.Samples[m] = canary.Samples{Control: w.Values(series(e.o.Baseline.Version), from, to), Experiment: w.Values(series(e.o.Canary.Version), from, to)}
	}
	if err := e.o.Deployer.Check(ctx, e.o.Agent, e.o.Canary.Version); err != nil {
		obs.CanaryCrashed, obs.CrashReason = true, err.Error()
	}
	return obs, nil
}

// Promote gives the canary all the traffic and removes the baseline and
// the old live version.
func (e *Env) Promote(ctx context.Context) error {
	e.stopScraping()
	if err := e.o.Deployer.Route(e.o.Agent, e.o.Address, map[string]int{e.o.Canary.Version: 100}); err != nil {
		return err
	}
	return errors.Join(e.o.Deployer.Remove(ctx, e.o.Agent, e.o.Baseline.Version), e.o.Deployer.Remove(ctx, e.o.Agent, e.o.Live))
}

// Rollback gives the live version all the traffic and removes the canary
// and the baseline.
func (e *Env) Rollback(ctx context.Context) error {
	e.stopScraping()
	if err := e.o.Deployer.Route(e.o.Agent, e.o.Address, map[string]int{e.o.Live: 100}); err != nil {
		return err
	}
	return errors.Join(e.o.Deployer.Remove(ctx, e.o.Agent, e.o.Baseline.Version), e.o.Deployer.Remove(ctx, e.o.Agent, e.o.Canary.Version))
}

func (e *Env) stopScraping() {
	e.mu.Lock()
	stop, done, started := e.stop, e.done, e.started
	e.started = false
	e.mu.Unlock()
	if started {
		stop()
		<-done
	}
}
