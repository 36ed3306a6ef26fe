package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
)

// What swarmd's telemetry keeps and answers.
const (
	// eventRing is how many anomaly events are kept for
	// ListTelemetryEvents (the log has them all).
	eventRing = 1024
	// defaultEventsLimit is ListTelemetryEvents' default page.
	defaultEventsLimit = 100
	// defaultTelemetryWindow is GetTelemetry's default window.
	defaultTelemetryWindow = time.Minute
	// minStaleAfter floors GetTelemetry's default stale_after (three scrape
	// intervals).
	minStaleAfter = 10 * time.Second
	// floorInterval is the longest scrape interval at which scraped, mesh
	// and container series can raise events: the detector's traffic floor
	// wants 5 samples a minute.
	floorInterval = 12 * time.Second
	// telemetryDir is where summaries are kept, under the data dir.
	telemetryDir = "telemetry"
)

// The series swarmd records itself (docs/architecture/telemetry.md).
const (
	// Source mesh, per agent version, from the proxy's counters between
	// two reads.
	metricRequestsPerSecond = "requests_per_second"
	metricErrorsPerSecond   = "errors_per_second"
	metricErrorRatio        = "error_ratio"
	metricConnectionSeconds = "connection_seconds_mean"
	metricFirstByteSeconds  = "first_byte_seconds_mean"
	metricActive            = "active_connections"
	// Source container, per replica (label replica).
	metricUp       = "up"
	metricCPUCores = "cpu_cores"
	metricMemory   = "memory_bytes"
	metricOOMKills = "oom_kills"
	// metricRestarts is how many times the deployer restarted the replica
	// (deploy.Replica.Restarts).
	metricRestarts = "restarts"
)

// telemetryService serves TelemetryService and runs the loop that feeds
// the server's hub: every scrape interval it reads the mesh's counters,
// every replica's container (state and usage) and /metrics, then
// summarises and prunes the hub.
type telemetryService struct {
	v1.UnimplementedTelemetryServiceServer
	hub       *telemetry.Hub
	agents    *store.Repository[*v1.Agent]
	deployer  *deploy.Deployer // nil: no replicas run here
	proxy     *mesh.Proxy
	transport *deploy.SocketTransport
	summaries *lazySummaries
	interval  time.Duration
	log       *slog.Logger
	now       func() time.Time

	emu    sync.Mutex
	events []telemetry.Event // a ring of eventRing
	next   int               // where the next event goes

	tmu     sync.Mutex
	targets map[string]*replicaTarget // by replica ID

	// Read and written by the loop alone.
	meshPrev map[string]mesh.BackendStats // by service and backend ID
	meshAt   time.Time                    // when meshPrev was read
	sumWarn  bool                         // a Summarize failure was logged at Warn
}

// replicaTarget is what the loop knows of one replica.
type replicaTarget struct {
	agent, version string
	index          int
	replica        deploy.Replica
	state          string
	lastScrape     time.Time
	lastSuccess    time.Time
	lastErr        string
	// The previous CPU reading, for the rate.
	cpu   float64
	cpuAt time.Time
}

// buildTelemetry makes the server's telemetry hub (s.hub, summaries under
// <data-dir>/telemetry) and its service, and starts the loop that feeds
// it, which ends at Shutdown.
func (s *Server) buildTelemetry(agents *store.Repository[*v1.Agent]) *telemetryService {
	interval := time.Duration(s.cfg.TelemetryScrapeInterval)
	if interval <= 0 {
		interval = 5 * time.Second
	}
	log := s.log.With("component", "telemetry")
	t := &telemetryService{
		agents: agents, deployer: s.deployer, proxy: s.meshProxy, transport: &deploy.SocketTransport{},
		summaries: &lazySummaries{dir: filepath.Join(s.cfg.DataDir, telemetryDir), log: log},
		interval:  interval, log: log, now: time.Now,
		events: make([]telemetry.Event, 0, eventRing), targets: map[string]*replicaTarget{},
		meshPrev: map[string]mesh.BackendStats{},
	}
	hub, err := telemetry.NewHub(telemetry.HubOptions{
		Summaries: t.summaries,
		Scraper:   &telemetry.Scraper{Client: &http.Client{Transport: t.transport}, Timeout: min(max(interval, time.Second), telemetry.DefaultScrapeTimeout)},
		OnEvent:   t.onEvent,
	})
	if err != nil { // the defaults are valid: a bug
		panic(fmt.Sprintf("telemetry hub with its default options: %v", err))
	}
	t.hub, s.hub = hub, hub
	if interval > floorInterval {
		log.Warn("telemetry-scrape-interval is longer than 12s: scraped, mesh and container series get fewer than 5 samples a minute and raise no anomaly events (the detector's traffic floor)", "interval", interval)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t.run(s.stopping)
	}()
	return t
}

// run reads every interval until ctx ends, then closes the summaries.
func (t *telemetryService) run(ctx context.Context) {
	defer func() {
		if err := t.summaries.Close(); err != nil {
			t.log.Warn("close the telemetry summaries", "err", err)
		}
	}()
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.collect(ctx)
	}
}

// collect is one pass of the loop.
func (t *telemetryService) collect(ctx context.Context) {
	now := t.now()
	if t.proxy != nil {
		t.collectMesh(now)
	}
	if t.deployer != nil {
		t.collectReplicas(ctx, now)
	}
	if _, err := t.hub.Summarize(ctx, now); err != nil && ctx.Err() == nil {
		if !t.sumWarn {
			t.log.Warn("telemetry summaries are not being stored (the in-memory window still works); retrying every scrape interval", "dir", t.summaries.dir, "err", err)
			t.sumWarn = true
		} else {
			t.log.Debug("store telemetry summaries", "err", err)
		}
	} else if err == nil && t.sumWarn {
		t.log.Info("telemetry summaries are stored again", "dir", t.summaries.dir)
		t.sumWarn = false
	}
	t.hub.Prune(now)
}

// meshAgg adds up one agent version's backends between two reads.
type meshAgg struct {
	requests, errors, durN, firstN uint64
	durSum, firstSum               time.Duration
	active                         int64
}

// collectMesh records, per agent version, the mesh's requests and errors
// per second, the error ratio, the mean connection and first-byte times
// of the connections since the last read, and the open connections.
func (t *telemetryService) collectMesh(now time.Time) {
	st := t.proxy.Stats()
	first := t.meshAt.IsZero()
	dt := now.Sub(t.meshAt).Seconds()
	next := make(map[string]mesh.BackendStats, len(t.meshPrev))
	per := map[deploy.AgentVersion]*meshAgg{}
	for _, svc := range st.Services {
		for _, b := range svc.Backends {
			if b.Version == "" {
				continue
			}
			key := svc.Name + "\x00" + b.ID
			next[key] = b
			p := t.meshPrev[key] // zero for a backend new since the last read
			av := deploy.AgentVersion{Agent: svc.Name, Version: b.Version}
			a := per[av]
			if a == nil {
				a = &meshAgg{}
				per[av] = a
			}
			a.requests += delta(b.Requests, p.Requests)
			a.errors += delta(b.Errors(), p.Errors())
			a.durN += delta(b.Duration.Count, p.Duration.Count)
			a.durSum += time.Duration(delta(uint64(b.Duration.Sum), uint64(p.Duration.Sum)))
			a.firstN += delta(b.FirstByte.Count, p.FirstByte.Count)
			a.firstSum += time.Duration(delta(uint64(b.FirstByte.Sum), uint64(p.FirstByte.Sum)))
			a.active += b.Active
		}
	}
	t.meshPrev, t.meshAt = next, now
	if first || dt <= 0 {
		return // rates need two reads
	}
	var points []telemetry.Point
	for av, a := range per {
		add := func(metric string, v float64) {
			points = append(points, telemetry.Point{
				Series: telemetry.Series{Agent: av.Agent, Version: av.Version, Source: telemetry.SourceMesh, Metric: metric},
				Sample: telemetry.Sample{Time: now, Value: v},
			})
		}
		add(metricRequestsPerSecond, float64(a.requests)/dt)
		add(metricErrorsPerSecond, float64(a.errors)/dt)
		add(metricActive, float64(a.active))
		if a.requests > 0 {
			add(metricErrorRatio, float64(a.errors)/float64(a.requests))
		}
		if a.durN > 0 {
			add(metricConnectionSeconds, a.durSum.Seconds()/float64(a.durN))
		}
		if a.firstN > 0 {
			add(metricFirstByteSeconds, a.firstSum.Seconds()/float64(a.firstN))
		}
	}
	if _, err := t.hub.RecordAll(points); err != nil {
		t.log.Debug("record mesh telemetry", "err", err)
	}
}

// delta is the increase of a counter; a value below the previous one is
// a reset (the counter was made again) and the increase is the value.
func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// collectReplicas reads every running agent version's replicas: their
// container's state and usage, and their /metrics.
func (t *telemetryService) collectReplicas(ctx context.Context, now time.Time) {
	seen := map[string]bool{}
	for _, av := range t.deployer.Deployed() {
		for i, r := range t.deployer.Replicas(av.Agent, av.Version) {
			if ctx.Err() != nil {
				return
			}
			seen[r.ID] = true
			t.collectReplica(ctx, now, av, i, r)
		}
	}
	t.tmu.Lock()
	for id, tg := range t.targets {
		if !seen[id] {
			t.transport.Unregister(tg.replica)
			delete(t.targets, id)
		}
	}
	t.tmu.Unlock()
}

// collectReplica records replica i's container series (label replica)
// and scrapes its /metrics into the version's agent series.
func (t *telemetryService) collectReplica(ctx context.Context, now time.Time, av deploy.AgentVersion, i int, r deploy.Replica) {
	t.tmu.Lock()
	tg := t.targets[r.ID]
	if tg == nil || tg.replica != r {
		tg = &replicaTarget{agent: av.Agent, version: av.Version, index: i, replica: r}
		t.targets[r.ID] = tg
	}
	prevCPU, prevAt := tg.cpu, tg.cpuAt
	t.tmu.Unlock()

	series := func(metric string) telemetry.Series {
		return telemetry.Series{Agent: av.Agent, Version: av.Version, Source: telemetry.SourceContainer, Metric: metric,
			Labels: telemetry.FormatLabels(map[string]string{"replica": fmt.Sprint(i)})}
	}
	var points []telemetry.Point
	add := func(metric string, v float64) {
		points = append(points, telemetry.Point{Series: series(metric), Sample: telemetry.Sample{Time: now, Value: v}})
	}
	var errs []string
	state := ""
	st, err := t.deployer.Stats(ctx, r)
	if err != nil {
		errs = append(errs, err.Error())
	} else {
		state = string(st.Status.State)
		up := 0.0
		if st.Status.State == container.Running {
			up = 1
		}
		add(metricUp, up)
		add(metricRestarts, float64(r.Restarts))
		switch {
		case st.Usage != nil:
			u := st.Usage
			if !prevAt.IsZero() && u.CPUSeconds >= prevCPU {
				if dt := now.Sub(prevAt).Seconds(); dt > 0 {
					add(metricCPUCores, (u.CPUSeconds-prevCPU)/dt)
				}
			}
			add(metricMemory, float64(u.MemoryBytes))
			add(metricOOMKills, float64(u.OOMKills))
			prevCPU, prevAt = u.CPUSeconds, now
		case st.Status.State == container.Exited:
			how := fmt.Sprintf("replica %s exited with code %d", r.Container, st.Status.ExitCode)
			if st.Status.OOMKilled {
				how = fmt.Sprintf("replica %s was OOM-killed (over its memory limit)", r.Container)
			}
			errs = append(errs, how+fmt.Sprintf("; the deployer restarts it after a backoff (%d restarts so far): see swarmctl agent logs ", r.Restarts)+av.Agent+" --version "+av.Version+fmt.Sprintf(" --replica %d", i))
		default:
			t.log.Debug("replica usage", "replica", r.ID, "err", st.UsageErr)
		}
	}
	if _, err := t.hub.RecordAll(points); err != nil {
		t.log.Debug("record container telemetry", "replica", r.ID, "err", err)
	}
	scraped := false
	if state == string(container.Running) {
		url := "http://" + t.transport.Register(r) + "/metrics"
		n, err := t.hub.Scrape(ctx, av.Agent, av.Version, url)
		if err != nil {
			errs = append(errs, err.Error())
		}
		scraped = n > 0 || err == nil
	}
	t.tmu.Lock()
	tg.state, tg.lastScrape, tg.lastErr = state, now, strings.Join(errs, "; ")
	tg.cpu, tg.cpuAt = prevCPU, prevAt
	if scraped {
		tg.lastSuccess = now
	}
	t.tmu.Unlock()
}

// onEvent keeps an anomaly event (HubOptions.OnEvent) and logs it.
func (t *telemetryService) onEvent(ev telemetry.Event) {
	t.log.Info("telemetry anomaly", "series", ev.Series.String(), "kind", ev.Kind, "value", ev.Value,
		"mean", ev.Mean, "stddev", ev.StdDev, "z", ev.Z, "time", ev.Time)
	t.emu.Lock()
	if len(t.events) < eventRing {
		t.events = append(t.events, ev)
	} else {
		t.events[t.next] = ev
	}
	t.next = (t.next + 1) % eventRing
	t.emu.Unlock()
}

// versionPattern is what deploy accepts as a version name.
var versionPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// registered checks the agent's name and that it is registered.
func (t *telemetryService) registered(ctx context.Context, field, name string) error {
	if err := checkName(field, name); err != nil {
		return err
	}
	if _, err := t.agents.Get(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.NotFound, "agent %q is not registered: check the name (swarmctl agent ls) or register it (swarmctl agent create)", name)
		}
		return storeError(err)
	}
	return nil
}

// PushMetrics records samples an agent pushes about itself.
func (t *telemetryService) PushMetrics(ctx context.Context, req *v1.PushMetricsRequest) (*v1.PushMetricsResponse, error) {
	if err := t.registered(ctx, "agent", req.GetAgent()); err != nil {
		return nil, err
	}
	if v := req.GetVersion(); !versionPattern.MatchString(v) {
		return nil, invalidField("version", "%q must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit (e.g. v1)", v)
	}
	batch := make([]telemetry.Pushed, len(req.GetPoints()))
	for i, p := range req.GetPoints() {
		batch[i] = telemetry.Pushed{Metric: p.GetMetric(), Labels: p.GetLabels(), Value: p.GetValue()}
		if ts := p.GetTime(); ts != nil {
			if err := ts.CheckValid(); err != nil {
				return nil, invalidField(fmt.Sprintf("points[%d].time", i), "%v; leave it unset for now", err)
			}
			batch[i].Time = ts.AsTime()
		}
	}
	n, err := t.hub.Push(req.GetAgent(), req.GetVersion(), batch)
	if errors.Is(err, telemetry.ErrInvalidPush) {
		return nil, invalidField("points", "%v; correct or drop the points named and push the batch again", err)
	}
	resp := &v1.PushMetricsResponse{Accepted: int32(n), Rejected: int32(len(batch) - n)}
	if err != nil {
		var many interface{ Unwrap() []error }
		if errors.As(err, &many) {
			for _, e := range many.Unwrap() {
				resp.Rejections = append(resp.Rejections, e.Error())
			}
		} else {
			resp.Rejections = []string{err.Error()}
		}
	}
	return resp, nil
}

// GetTelemetry summarises an agent's series over the request's window.
func (t *telemetryService) GetTelemetry(ctx context.Context, req *v1.GetTelemetryRequest) (*v1.GetTelemetryResponse, error) {
	if err := t.registered(ctx, "agent", req.GetAgent()); err != nil {
		return nil, err
	}
	maxAge := t.hub.Window().Options().MaxAge
	window := defaultTelemetryWindow
	if w := req.GetWindow(); w != nil {
		if err := w.CheckValid(); err != nil {
			return nil, invalidField("window", "%v", err)
		}
		window = w.AsDuration()
		if window <= 0 || window > maxAge {
			return nil, invalidField("window", "%v must be positive and at most %v, what swarmd keeps in memory", window, maxAge)
		}
	}
	staleAfter := max(3*t.interval, minStaleAfter)
	if sa := req.GetStaleAfter(); sa != nil {
		if err := sa.CheckValid(); err != nil {
			return nil, invalidField("stale_after", "%v", err)
		}
		if staleAfter = sa.AsDuration(); staleAfter <= 0 {
			return nil, invalidField("stale_after", "%v must be positive (e.g. 30s)", staleAfter)
		}
	}
	switch telemetry.Source(req.GetSource()) {
	case "", telemetry.SourceMesh, telemetry.SourceContainer, telemetry.SourceAgent:
	default:
		return nil, invalidField("source", "%q is not one of mesh, container, agent (or empty for all)", req.GetSource())
	}
	now := t.now()
	// Pushed samples may be up to the push skew ahead of the clock.
	from, to := now.Add(-window), now.Add(telemetry.DefaultMaxSkew+time.Nanosecond)
	w := t.hub.Window()
	resp := &v1.GetTelemetryResponse{Agent: req.GetAgent(), Time: timestamppb.New(now),
		Window: durationpb.New(window), StaleAfter: durationpb.New(staleAfter)}
	for _, s := range w.Series() {
		if s.Agent != req.GetAgent() || (req.GetVersion() != "" && s.Version != req.GetVersion()) ||
			(req.GetMetric() != "" && s.Metric != req.GetMetric()) || (req.GetSource() != "" && string(s.Source) != req.GetSource()) {
			continue
		}
		samples := w.Samples(s, from, to)
		if len(samples) == 0 { // the newest is older than the window
			samples = w.Samples(s, now.Add(-maxAge-time.Minute), from)
			samples = samples[max(len(samples)-1, 0):]
			if len(samples) == 0 {
				continue // pruned meanwhile
			}
			resp.Series = append(resp.Series, seriesOf(s, nil, samples[0], now, staleAfter))
			continue
		}
		values := make([]float64, len(samples))
		for i, smp := range samples {
			values[i] = smp.Value
		}
		sum, _ := telemetry.Summarize(s, from, now, values)
		resp.Series = append(resp.Series, seriesOf(s, &sum, samples[len(samples)-1], now, staleAfter))
	}
	resp.Targets = t.targetsOf(req.GetAgent(), req.GetVersion())
	return resp, nil
}

// seriesOf is one series of GetTelemetry: its summary over the window
// (nil: no sample in it) and its newest sample.
func seriesOf(s telemetry.Series, sum *telemetry.Summary, last telemetry.Sample, now time.Time, staleAfter time.Duration) *v1.TelemetrySeries {
	labels, _ := telemetry.ParseLabels(s.Labels)
	if len(labels) == 0 {
		labels = nil
	}
	out := &v1.TelemetrySeries{
		Version: s.Version, Source: string(s.Source), Metric: s.Metric, Labels: labels,
		LastValue: last.Value, LastSampleTime: timestamppb.New(last.Time),
		Stale: now.Sub(last.Time) > staleAfter,
	}
	if sum != nil {
		out.Count, out.Mean, out.Min, out.Max = int64(sum.Count), sum.Mean, sum.Min, sum.Max
		out.P50, out.P90, out.P99 = sum.P50, sum.P90, sum.P99
	}
	return out
}

// targetsOf lists an agent's replicas the loop reads.
func (t *telemetryService) targetsOf(agent, version string) []*v1.TelemetryTarget {
	t.tmu.Lock()
	var tgs []*replicaTarget
	for _, tg := range t.targets {
		if tg.agent == agent && (version == "" || tg.version == version) {
			c := *tg
			tgs = append(tgs, &c)
		}
	}
	t.tmu.Unlock()
	slices.SortFunc(tgs, func(a, b *replicaTarget) int {
		return cmp.Or(cmp.Compare(a.version, b.version), cmp.Compare(a.index, b.index))
	})
	out := make([]*v1.TelemetryTarget, 0, len(tgs))
	for _, tg := range tgs {
		o := &v1.TelemetryTarget{Version: tg.version, Replica: int32(tg.index), State: tg.state, LastError: tg.lastErr}
		if !tg.lastScrape.IsZero() {
			o.LastScrapeTime = timestamppb.New(tg.lastScrape)
		}
		if !tg.lastSuccess.IsZero() {
			o.LastSuccessTime = timestamppb.New(tg.lastSuccess)
		}
		out = append(out, o)
	}
	return out
}

// ListTelemetryEvents lists the kept anomaly events, newest first.
func (t *telemetryService) ListTelemetryEvents(_ context.Context, req *v1.ListTelemetryEventsRequest) (*v1.ListTelemetryEventsResponse, error) {
	if a := req.GetAgent(); a != "" {
		if err := checkName("agent", a); err != nil {
			return nil, err
		}
	}
	limit := int(req.GetLimit())
	switch {
	case limit < 0:
		return nil, invalidField("limit", "%d must not be negative (0 means %d)", limit, defaultEventsLimit)
	case limit == 0:
		limit = defaultEventsLimit
	case limit > eventRing:
		return nil, invalidField("limit", "%d is more than the %d events swarmd keeps; ask for at most %d (swarmd's log has every event)", limit, eventRing, eventRing)
	}
	resp := &v1.ListTelemetryEventsResponse{}
	t.emu.Lock()
	defer t.emu.Unlock()
	for k := 1; k <= len(t.events) && len(resp.Events) < limit; k++ {
		ev := t.events[(t.next-k+eventRing)%eventRing]
		if req.GetAgent() != "" && ev.Series.Agent != req.GetAgent() {
			continue
		}
		labels, _ := telemetry.ParseLabels(ev.Series.Labels)
		if len(labels) == 0 {
			labels = nil
		}
		resp.Events = append(resp.Events, &v1.TelemetryEvent{
			Agent: ev.Series.Agent, Version: ev.Series.Version, Source: string(ev.Series.Source), Metric: ev.Series.Metric,
			Labels: labels, Time: timestamppb.New(ev.Time), Value: ev.Value, Mean: ev.Mean, StdDev: ev.StdDev, Z: finiteOr(ev.Z), Kind: string(ev.Kind),
		})
	}
	return resp, nil
}

// finiteOr keeps a z-score JSON can carry (protojson writes ±Infinity as
// strings, which clients rarely expect): ±MaxFloat64 for ±Inf.
func finiteOr(z float64) float64 {
	switch {
	case math.IsInf(z, 1):
		return math.MaxFloat64
	case math.IsInf(z, -1):
		return -math.MaxFloat64
	}
	return z
}

// lazySummaries is the hub's SummaryStore: a badger database of its own in
// dir (<data-dir>/telemetry), opened on the first summary, so that a
// short-lived swarmd (swarmctl's local mode) opens nothing. Summaries are
// history: on an open failure the window goes on, and the next
// Summarize tries again.
type lazySummaries struct {
	dir string
	log *slog.Logger

	mu     sync.Mutex
	db     *telemetry.BadgerSummaries
	closed bool
}

func (l *lazySummaries) open() (*telemetry.BadgerSummaries, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("telemetry summaries: closed (swarmd is stopping)")
	}
	if l.db == nil {
		db, err := telemetry.OpenBadgerSummaries(l.dir, telemetry.SummaryStoreOptions{Logger: l.log})
		if err != nil {
			return nil, err
		}
		l.db = db
	}
	return l.db, nil
}

// Put stores a summary, opening the database first if need be.
func (l *lazySummaries) Put(ctx context.Context, sum telemetry.Summary) error {
	db, err := l.open()
	if err != nil {
		return err
	}
	return db.Put(ctx, sum)
}

// List reads a series' summaries, opening the database first if need be.
func (l *lazySummaries) List(ctx context.Context, s telemetry.Series, from, to time.Time) ([]telemetry.Summary, error) {
	db, err := l.open()
	if err != nil {
		return nil, err
	}
	return db.List(ctx, s, from, to)
}

// Close closes the database if it was opened; later calls fail.
func (l *lazySummaries) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.db == nil {
		return nil
	}
	err := l.db.Close()
	l.db = nil
	return err
}
