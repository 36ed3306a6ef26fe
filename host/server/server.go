// Package server is swarmd: the gRPC API, its REST gateway, health,
// reflection and metrics, served from the badger store in the data dir.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/identity"
	"github.com/stratoswarm/stratoswarm/host/llm"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/plugin/builtin"
	"github.com/stratoswarm/stratoswarm/host/pluginrelease"
	"github.com/stratoswarm/stratoswarm/host/registry"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
	"github.com/stratoswarm/stratoswarm/host/telemetry"
	"github.com/stratoswarm/stratoswarm/host/trust"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/containerd"
	"github.com/stratoswarm/stratoswarm/runtime/mesh"
	"github.com/stratoswarm/stratoswarm/runtime/native"
	"github.com/stratoswarm/stratoswarm/runtime/node"
)

// Server is one swarmd. New opens its data dir; Start listens; Shutdown
// stops gracefully and releases the data dir.
type Server struct {
	cfg   config.Config
	log   *slog.Logger
	lock  *lockFile
	token string
	store *store.Store
	nodes *store.Repository[*v1.Node]

	plugins  *plugin.Host
	registry *registry.Registry
	engine   *evolve.Engine
	evoSteps *prometheus.HistogramVec
	// pluginRouter puts new evolutions on the arms of plugin canaries and
	// pluginHub holds their strategy outcomes (pluginrelease.go).
	pluginRouter *pluginrelease.Router
	pluginHub    *telemetry.Hub

	pluginGauges *prometheus.GaugeVec
	gaugeMu      sync.Mutex
	gaugeNames   map[string]map[string]bool // plugin → metric names seen
	catalog      suite.Catalog

	// trustLog is the trust evidence log (<data-dir>/trust) and trustSvcs
	// the scorers over it, one per trust plugin version (trust.go).
	trustLog  *trust.Log
	trustSvcs trustServices

	// containerd runs containers with runtime containerd; nil without
	// containerd-address.
	containerd *containerd.Runtime
	// native runs containers with runtime native, its state under
	// <data-dir>/native; nil when it could not be created, nativeErr
	// saying why and how to fix it.
	native    *native.Runtime
	nativeErr error
	// ca issues the agents' identities (<data-dir>/identity).
	ca *identity.CA
	// The agents' services on this node and what runs their replicas.
	meshTable   *mesh.Table
	meshProxy   *mesh.Proxy
	deployer    *deploy.Deployer // nil without the native runtime
	agentRunner *agentRunner
	canaries    *canaryService
	containers  *containerService
	// hub is the node's telemetry (host/telemetry): the mesh's, the
	// replicas' containers' and the agents' own series, fed by the loop
	// in telemetry.go; telemetry serves TelemetryService.
	hub       *telemetry.Hub
	telemetry *telemetryService

	grpc       *grpc.Server
	health     *health.Server
	metricsReg *prometheus.Registry
	http       *http.Server
	gwConn     *grpc.ClientConn

	grpcLis, httpLis net.Listener
	started          time.Time

	// stopping is cancelled by Shutdown: it ends watches and loops.
	stopping context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	shutdown sync.Once
	errc     chan error
	builtins chan struct{} // closed when the built-in plugins are installed
}

// New opens the data dir: it takes the lock, reads or creates the token and
// opens the store, refusing a store it cannot use. Nothing listens yet.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := acquireLock(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, lock: lock, errc: make(chan error, 2), builtins: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		if s.meshProxy != nil {
			_ = s.meshProxy.Close(context.Background())
		}
		if s.containerd != nil {
			s.containerd.Close()
		}
		if s.native != nil {
			s.native.Close()
		}
		if s.plugins != nil {
			s.plugins.Close(context.Background())
		}
		if s.trustLog != nil {
			s.trustLog.Close()
		}
		if s.store != nil {
			s.store.Close()
		}
		lock.release()
		return nil, err
	}
	if s.token, err = loadOrCreateToken(cfg.DataDir); err != nil {
		return fail(err)
	}
	s.store, err = store.Open(store.Options{
		Dir:     filepath.Join(cfg.DataDir, "store"),
		History: cfg.WatchHistory,
		Logger:  log.With("component", "store"),
	})
	if err != nil {
		return fail(fmt.Errorf("open store: %w", err))
	}
	s.nodes = store.NewRepository[*v1.Node](s.store, kindNode, false)
	if s.trustLog, err = openTrustLog(cfg.DataDir, log.With("component", "trust")); err != nil {
		return fail(err)
	}
	evidence := &evidenceSink{}
	popts := plugin.Options{
		CacheDir: filepath.Join(cfg.CacheDir, "wasm"),
		Logger:   log.With("component", "plugin"),
		Evidence: evidence,
		Metrics:  s.pluginMetric,
	}
	if cfg.LLMEndpoint != "" {
		key := ""
		if cfg.LLMAPIKeyFile != "" {
			b, err := os.ReadFile(cfg.LLMAPIKeyFile)
			if err != nil {
				return fail(fmt.Errorf("llm-api-key-file: %w", err))
			}
			key = strings.TrimSpace(string(b))
		}
		client, err := llm.New(llm.Options{Endpoint: cfg.LLMEndpoint, Model: cfg.LLMModel, APIKey: key})
		if err != nil {
			return fail(fmt.Errorf("llm-endpoint: %w", err))
		}
		popts.LLM = client
	}
	s.plugins, err = plugin.NewHost(context.Background(), popts)
	if err != nil {
		return fail(fmt.Errorf("start plugin host: %w", err))
	}
	s.registry, err = registry.New(registry.Options{
		Store:          s.store,
		BlobDir:        filepath.Join(cfg.DataDir, "plugins"),
		Host:           s.plugins,
		Grants:         cfg.PluginGrants,
		AllowUnsigned:  cfg.AllowUnsignedPlugins,
		MaxModuleBytes: cfg.MaxPluginBytes,
		Logger:         log.With("component", "registry"),
		OnEvidence:     s.pluginEvidence,
	})
	if err != nil {
		s.plugins.Close(context.Background())
		return fail(err)
	}
	evidence.reg = s.registry
	if s.ca, err = identity.Open(filepath.Join(cfg.DataDir, "identity"), cfg.TrustDomain, nil); err != nil {
		return fail(fmt.Errorf("trust-domain: %w", err))
	}
	s.native, s.nativeErr = openNative(cfg, log)
	s.meshTable = mesh.NewTable()
	meshDir, err := meshSocketDir(cfg.DataDir)
	if err != nil {
		return fail(err)
	}
	if s.meshProxy, err = mesh.New(s.meshTable, mesh.Options{Log: log.With("component", "mesh"), SocketDir: meshDir, Identify: s.identifyCaller}); err != nil {
		return fail(fmt.Errorf("mesh: %w", err))
	}
	if s.native != nil {
		if s.deployer, err = deploy.New(deploy.Options{
			Runtime: s.native, Mesh: s.meshTable, Dir: filepath.Join(cfg.DataDir, "agents"), MeshDir: meshDir, Log: log.With("component", "deploy"),
			// The agent runner (made in build, before any replica runs)
			// keeps the agents' ready replicas.
			OnReplicaChange: func(agent, version string) { s.agentRunner.replicaChanged(agent, version) },
		}); err != nil {
			return fail(fmt.Errorf("agents: %w", err))
		}
	}
	s.catalog = suite.Catalog{
		TSPSolver: findTSPSolver(cfg.TSPSolver),
		DataDir:   filepath.Join(cfg.CacheDir, "suites"),
		// What an evolution's candidate_resources leave unset.
		DefaultLimits: container.Limits{MemoryBytes: int64(cfg.EvalMemory), CPUs: cfg.EvalCPUs, Pids: cfg.EvalPids},
		Runtime:       cfg.EvalRuntime,
		// Filled as the runtimes open (containerd below).
		Runtimes: map[string]container.Runtime{},
	}
	if s.native != nil {
		s.catalog.Runtimes[runtimeNative] = s.native
	}
	if s.pluginRouter, s.pluginHub, err = newPluginRelease(); err != nil {
		return fail(err)
	}
	s.engine = evolve.New(evolve.Options{
		Store:      s.store,
		Plugins:    s.registry,
		Suites:     s.catalog,
		Agents:     store.NewRepository[*v1.Agent](s.store, kindAgent, true),
		Operations: store.NewRepository[*v1.Operation](s.store, kindOperation, true),
		Logger:     log.With("component", "evolve"),
		Timings: func(step string, d time.Duration) {
			if s.evoSteps != nil {
				s.evoSteps.WithLabelValues(step).Observe(d.Seconds())
			}
		},
		Router:         s.pluginRouter,
		Outcomes:       pluginrelease.NewRecorder(s.pluginHub, nil),
		Evidence:       s.trustLog,
		Trust:          s.trustService,
		TrustThreshold: cfg.TrustThreshold,
	})
	if cfg.ContainerdAddress != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s.containerd, err = containerd.New(ctx, containerd.Options{
			Address:   cfg.ContainerdAddress,
			Namespace: cfg.ContainerdNamespace,
			LogDir:    filepath.Join(cfg.DataDir, "containers", "logs"),
		})
		cancel()
		if err != nil {
			s.registry.Close(context.Background())
			s.plugins.Close(context.Background())
			return fail(fmt.Errorf("containerd-address: %w", err))
		}
		s.catalog.Runtimes[runtimeContainerd] = s.containerd
	}
	if cfg.AllowUnsignedPlugins {
		log.Warn("allow-unsigned-plugins is on: unsigned and unverified plugins are accepted; never use this in production")
	}
	s.build()
	return s, nil
}

// nativeCgroupParent is the cgroup the native runtime of the swarmd on
// dataDir makes its containers' groups in: one per data dir under
// native.DefaultCgroupParent, so that two swarmds on a host never share a
// container's group (container IDs are only unique per swarmd).
func nativeCgroupParent(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	return native.DefaultCgroupParent + "/" + hex.EncodeToString(sum[:4])
}

// openNative creates the native runtime on <data-dir>/native. When it
// cannot be created (no swarm-init, no cgroups, ...), swarmd starts
// without it: the warning and the error returned say why and what to do.
func openNative(cfg config.Config, log *slog.Logger) (*native.Runtime, error) {
	rt, err := native.New(native.Options{
		StateDir:     filepath.Join(cfg.DataDir, "native"),
		InitPath:     cfg.NativeInit,
		CgroupParent: nativeCgroupParent(cfg.DataDir),
		Log:          log.With("component", "native"),
	})
	if err == nil {
		return rt, nil
	}
	err = fmt.Errorf("%w (%s's path is swarmd's native-init setting: --native-init or SWARMD_NATIVE_INIT); restart swarmd once this is fixed, or run the container with runtime containerd", err, native.InitName)
	if cfg.ContainerRuntime == runtimeNative {
		log.Warn("native runtime unavailable: containers with runtime native, the default (container-runtime), are refused", "reason", err)
	} else {
		log.Warn("native runtime unavailable: containers with runtime native are refused", "reason", err)
	}
	return nil, err
}

// build wires the gRPC server and the HTTP mux.
func (s *Server) build() {
	s.metricsReg = prometheus.NewRegistry()
	s.metricsReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metricsReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "swarmd_store_revision", Help: "Newest resource version written to the store.",
	}, func() float64 { return float64(s.store.Revision()) }))
	s.evoSteps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "swarmd_evolution_step_seconds",
		Help:    "Time evolutions spend per step of a generation: strategy (plugin calls), evaluate (a batch's evaluations), persist (checkpoint and status writes).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 12),
	}, []string{"step"})
	s.metricsReg.MustRegister(s.evoSteps)
	s.pluginGauges = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "swarm_plugin_metric",
		Help: "Gauges plugins report through swarm:host/v1.metric (capability metrics), by plugin version and name.",
	}, []string{"plugin", "name"})
	s.metricsReg.MustRegister(s.pluginGauges)
	s.stopping, s.stop = context.WithCancel(context.Background())
	ic := &interceptors{stopping: s.stopping, token: s.token, limits: requestLimits{}, metrics: newMetrics(s.metricsReg), log: s.log}
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(ic.unary),
		grpc.ChainStreamInterceptor(ic.stream),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
	)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	now := time.Now
	v1.RegisterClusterServiceServer(s.grpc, &clusterService{store: s.store, nodes: s.nodes, local: s.cfg.NodeName, now: now})
	v1.RegisterNodeServiceServer(s.grpc, &nodeService{nodes: s.nodes})
	// Agents are declarations people write by hand: synced so a crash
	// right after create loses nothing.
	agents := store.NewRepository[*v1.Agent](s.store, kindAgent, true)
	s.agentRunner = &agentRunner{
		agents: agents, deployer: s.deployer, why: s.nativeErr, table: s.meshTable, proxy: s.meshProxy,
		meshHost: "127.0.0.1", idRoot: filepath.Join(s.cfg.DataDir, "identity", "agents"),
		log: s.log.With("component", "agents"), stopping: s.stopping, wg: &s.wg,
	}
	s.metricsReg.MustRegister(mesh.NewCollector(s.meshProxy))
	s.canaries = s.newCanaryService(agents)
	v1.RegisterCanaryServiceServer(s.grpc, s.canaries)
	v1.RegisterAgentServiceServer(s.grpc, &agentService{
		agents: agents, runner: s.agentRunner, canaries: s.canaries,
		ca: s.ca, ttl: time.Duration(s.cfg.SVIDTTL), dir: filepath.Join(s.cfg.DataDir, "identity", "agents"),
	})
	s.telemetry = s.buildTelemetry(agents)
	v1.RegisterTelemetryServiceServer(s.grpc, s.telemetry)
	v1.RegisterOperationServiceServer(s.grpc, &operationService{ops: store.NewRepository[*v1.Operation](s.store, kindOperation, true)})
	v1.RegisterPluginServiceServer(s.grpc, &pluginService{reg: s.registry, maxBytes: s.cfg.MaxPluginBytes})
	v1.RegisterEvolutionServiceServer(s.grpc, &evolutionService{eng: s.engine, ops: store.NewRepository[*v1.Operation](s.store, kindOperation, true), builtins: s.builtins})
	v1.RegisterSuiteServiceServer(s.grpc, &suiteService{catalog: s.catalog})
	// Container records are synced: they track processes that outlive a
	// crash of swarmd.
	runtimes := map[string]runtimeSlot{
		runtimeContainerd: {rt: s.containerd, down: noContainerd()},
		runtimeNative:     {rt: s.native},
	}
	if s.containerd == nil { // not a nil *containerd.Runtime in the interface
		runtimes[runtimeContainerd] = runtimeSlot{down: noContainerd()}
	}
	if s.native == nil {
		runtimes[runtimeNative] = runtimeSlot{down: unavailable(s.nativeErr)}
	}
	s.containers = &containerService{
		containers:     store.NewRepository[*v1.Container](s.store, kindContainer, true),
		runtimes:       runtimes,
		defaultRuntime: s.cfg.ContainerRuntime,
		node:           s.cfg.NodeName,
		log:            s.log.With("component", "containers"),
		stopping:       s.stopping,
		wg:             &s.wg,
	}
	v1.RegisterContainerServiceServer(s.grpc, s.containers)
}

// maxPluginMetricNames bounds the distinct metric names one plugin version
// can create, so a plugin cannot blow up /metrics.
const maxPluginMetricNames = 64

// pluginMetric records a plugin's gauge (plugin.Options.Metrics).
func (s *Server) pluginMetric(pluginID, name string, value float64) {
	if s.pluginGauges == nil {
		return
	}
	s.gaugeMu.Lock()
	if s.gaugeNames == nil {
		s.gaugeNames = map[string]map[string]bool{}
	}
	names := s.gaugeNames[pluginID]
	if names == nil {
		names = map[string]bool{}
		s.gaugeNames[pluginID] = names
	}
	if !names[name] && len(names) >= maxPluginMetricNames {
		s.gaugeMu.Unlock()
		return
	}
	names[name] = true
	s.gaugeMu.Unlock()
	s.pluginGauges.WithLabelValues(pluginID, name).Set(value)
}

// findTSPSolver resolves the tspsolver command: the configured path, the
// binary beside this one (make build puts both in bin/), or PATH. Nil when
// there is none: the tsplib suites then say how to get one.
func findTSPSolver(configured string) []string {
	if configured != "" {
		return []string{configured}
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "tspsolver")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return []string{p}
		}
	}
	if p, err := exec.LookPath("tspsolver"); err == nil {
		return []string{p}
	}
	return nil
}

// evidenceSink forwards plugin failures to the registry, which is created
// after the plugin host it needs.
type evidenceSink struct{ reg *registry.Registry }

func (e *evidenceSink) RecordEvidence(id string, ev plugin.Evidence) {
	if e.reg != nil {
		e.reg.RecordEvidence(id, ev)
	}
}

// Start registers the local node and starts listening. With ":0" ports,
// GRPCAddr and HTTPAddr report the chosen addresses.
func (s *Server) Start() error {
	s.started = time.Now()
	ctx := s.stopping
	if err := registerNode(ctx, s.nodes, s.cfg.NodeName, node.Probe("/"), s.started, time.Now()); err != nil {
		return fmt.Errorf("register node %q: %w", s.cfg.NodeName, err)
	}
	// Containers that ended while swarmd was down get their exit
	// recorded, before any request can create one meanwhile.
	if err := s.containers.reconcile(ctx); err != nil {
		s.log.Error("reconcile containers", "err", err)
	}
	// Canaries that were running ended with the swarmd that ran them.
	if err := s.canaries.reconcile(ctx); err != nil {
		s.log.Error("reconcile canaries", "err", err)
	}
	// Agents with replicas run again (their containers stopped with the
	// swarmd that ran them).
	if err := s.restartAgents(ctx); err != nil {
		s.log.Error("restart agents", "err", err)
	}
	var err error
	if s.grpcLis, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen on grpc-addr %s: %w", s.cfg.GRPCAddr, err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(s.grpcLis); err != nil {
			s.errc <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	if s.cfg.HTTPAddr != "" {
		if err := s.startHTTP(ctx); err != nil {
			s.grpc.Stop()
			return err
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.heartbeatLoop(ctx)
	}()
	s.startReplicaExits(ctx)
	s.startCallRecorder(ctx)
	// Built-in plugins are validated and benchmarked in the background;
	// versions a previous run left half-gated are gated again.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.builtins)
		if err := s.registry.Resume(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("resume plugin gates", "err", err)
		}
		if err := s.registry.InstallBuiltins(ctx, builtin.FS()); err != nil && ctx.Err() == nil {
			s.log.Error("install built-in plugins", "err", err)
		}
		// Evolutions need their strategies: resume them once the
		// built-ins are in.
		if err := s.engine.Start(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("resume evolutions", "err", err)
		}
	}()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("swarmd started", "grpc", s.GRPCAddr(), "http", s.HTTPAddr(), "data-dir", s.cfg.DataDir, "node", s.cfg.NodeName)
	return nil
}

// startHTTP serves REST (through the gateway, which calls the gRPC
// listener so every request passes the same interceptors), /healthz and
// /metrics.
func (s *Server) startHTTP(ctx context.Context) error {
	var err error
	s.gwConn, err = grpc.NewClient("passthrough:///"+s.grpcLis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return fmt.Errorf("connect REST gateway: %w", err)
	}
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithHealthzEndpoint(healthpb.NewHealthClient(s.gwConn)),
	)
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		v1.RegisterClusterServiceHandler, v1.RegisterNodeServiceHandler, v1.RegisterTierServiceHandler,
		v1.RegisterGPUServiceHandler, v1.RegisterOperationServiceHandler, v1.RegisterAgentServiceHandler,
		v1.RegisterSuiteServiceHandler, v1.RegisterEvolutionServiceHandler, v1.RegisterPluginServiceHandler,
		v1.RegisterCanaryServiceHandler, v1.RegisterContainerServiceHandler, v1.RegisterTelemetryServiceHandler,
	} {
		if err := reg(ctx, gw, s.gwConn); err != nil {
			return fmt.Errorf("register REST handler: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", gw)
	mux.Handle("/metrics", s.requireToken(promhttp.HandlerFor(s.metricsReg, promhttp.HandlerOpts{})))
	mux.Handle("/", http.MaxBytesHandler(gw, MaxMessageBytes))
	if s.httpLis, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen on http-addr %s: %w", s.cfg.HTTPAddr, err)
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	return nil
}

// requireToken guards a plain HTTP handler with the bearer token.
func (s *Server) requireToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !tokenEqual(tok, s.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swarmd"`)
			http.Error(w, "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token in <data-dir>/token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := heartbeat(ctx, s.nodes, s.cfg.NodeName, now); err != nil && ctx.Err() == nil {
				s.log.Warn("node heartbeat failed", "err", err)
			}
		}
	}
}

// GRPCAddr is the gRPC listen address, once started.
func (s *Server) GRPCAddr() string {
	if s.grpcLis == nil {
		return ""
	}
	return s.grpcLis.Addr().String()
}

// HTTPAddr is the HTTP listen address, once started; empty if disabled.
func (s *Server) HTTPAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// Token is the bearer token clients must send.
func (s *Server) Token() string { return s.token }

// Errors reports a listener that failed after Start.
func (s *Server) Errors() <-chan error { return s.errc }

// BuiltinsInstalled is closed once the built-in plugins are registered and
// gated (or the attempt ended, or the server stopped). Embedded users such
// as swarmctl's local mode wait on it so a short command sees them.
func (s *Server) BuiltinsInstalled() <-chan struct{} { return s.builtins }

// Shutdown stops accepting calls, lets running ones finish until ctx is
// done (then cuts them), closes the store and releases the data dir.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdown.Do(func() {
		s.health.Shutdown()
		s.stop() // ends watches and the heartbeat
		if s.http != nil {
			if e := s.http.Shutdown(ctx); e != nil {
				s.http.Close()
			}
		}
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.log.Warn("graceful shutdown timed out; cutting remaining calls")
			s.grpc.Stop()
			<-done
		}
		if s.gwConn != nil {
			s.gwConn.Close()
		}
		s.wg.Wait()
		s.engine.Close()
		s.registry.Close(context.Background())
		s.plugins.Close(context.Background())
		if s.containerd != nil {
			s.containerd.Close() // the containers keep running
		}
		if s.meshProxy != nil {
			_ = s.meshProxy.Close(ctx)
			s.recordCalls(context.Background()) // the calls since the last tick
		}
		if s.deployer != nil {
			s.deployer.Close() // no restarts of the replicas the runtime stops
		}
		if s.native != nil {
			s.native.Close() // its containers stop with it
		}
		if e := s.trustLog.Close(); e != nil {
			s.log.Warn("close the trust log", "err", e)
		}
		err = s.store.Close()
		s.lock.release()
		s.log.Info("swarmd stopped")
	})
	return err
}

// Run starts the server and blocks until ctx is done or a listener fails,
// then shuts down within the configured timeout.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.ShutdownTimeout))
	defer cancel()
	return errors.Join(runErr, s.Shutdown(sctx))
}

// restartAgents deploys again the agents that have replicas.
func (s *Server) restartAgents(ctx context.Context) error {
	for a, err := range s.agentRunner.agents.All(ctx) {
		if err != nil {
			return err
		}
		if a.GetSpec().GetReplicas() > 0 {
			name := a.GetMetadata().GetName()
			s.agentRunner.start(name, filepath.Join(s.cfg.DataDir, "identity", "agents", name))
		}
	}
	return nil
}
