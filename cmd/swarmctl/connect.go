package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
)

// target is where commands send their calls, as resolved from flags,
// environment and the config file.
type target struct {
	// local runs the control plane in-process on dataDir.
	local   bool
	dataDir string
	// server and token reach a running swarmd.
	server string
	token  string
	// source says where the choice came from, for messages.
	source string
}

// resolveTarget decides which swarm to talk to: --local; else --server or
// SWARM_SERVER with --token, SWARM_TOKEN or the context's token; else
// --context or the current context; else local mode on --data-dir.
func (o *options) resolveTarget() (target, error) {
	if o.local {
		if o.flagChanged("server") {
			return target{}, usagef("--local and --server exclude each other")
		}
		return target{local: true, dataDir: o.dataDir, source: "--local"}, nil
	}
	server, serverSource := o.server, "--server"
	if !o.flagChanged("server") {
		server, serverSource = o.getenv("SWARM_SERVER"), "SWARM_SERVER"
	}
	token, haveToken := o.token, o.flagChanged("token")
	if !haveToken {
		if t := o.getenv("SWARM_TOKEN"); t != "" {
			token, haveToken = t, true
		}
	}
	if server != "" {
		t := target{server: server, token: token, source: serverSource}
		if haveToken {
			return t, nil
		}
		// the token may still come from the selected context
		ctx, _, err := o.selectedContext()
		if err != nil {
			return target{}, err
		}
		if ctx != nil {
			if t.token, err = o.contextToken(ctx); err != nil {
				return target{}, err
			}
		}
		return t, nil
	}
	ctx, _, err := o.selectedContext()
	if err != nil {
		return target{}, err
	}
	if ctx == nil {
		return target{local: true, dataDir: o.dataDir, source: "local mode (no context configured)"}, nil
	}
	source := fmt.Sprintf("context %q", ctx.Name)
	if ctx.Local {
		dir := o.dataDir
		if !o.flagChanged("data-dir") && ctx.DataDir != "" {
			dir = o.expandHome(ctx.DataDir)
		}
		return target{local: true, dataDir: dir, source: source}, nil
	}
	if ctx.Server == "" {
		return target{}, fmt.Errorf("context %q has neither a server nor local: true; fix it with swarmctl config set-context %s --server ADDR", ctx.Name, ctx.Name)
	}
	t := target{server: ctx.Server, token: token, source: source}
	if !haveToken {
		if t.token, err = o.contextToken(ctx); err != nil {
			return target{}, err
		}
	}
	return t, nil
}

// selectedContext returns the context named by --context, else the current
// context, else nil. A named context that does not exist is an error.
func (o *options) selectedContext() (*clientContext, string, error) {
	cfg, path, exists, err := o.loadConfig()
	if err != nil {
		return nil, path, err
	}
	name := o.context
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return nil, path, nil
	}
	if !exists {
		return nil, path, fmt.Errorf("context %q not found: config file %s does not exist; create the context with swarmctl config set-context %s", name, path, name)
	}
	c, ok := cfg.find(name)
	if !ok {
		return nil, path, cfg.notFound(name, path)
	}
	return c, path, nil
}

// contextToken reads a context's token, inline or from its token file.
func (o *options) contextToken(c *clientContext) (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	b, err := os.ReadFile(o.expandHome(c.TokenFile))
	if err != nil {
		return "", fmt.Errorf("context %q: read token-file: %w", c.Name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// conn is an open connection to a swarm, remote or in-process.
type conn struct {
	target   target
	cc       *grpc.ClientConn
	srv      *server.Server
	cluster  v1.ClusterServiceClient
	nodes    v1.NodeServiceClient
	agents   v1.AgentServiceClient
	plugins  v1.PluginServiceClient
	ops      v1.OperationServiceClient
	canaries v1.CanaryServiceClient
	closeErr io.Writer
}

// connect opens a connection to the resolved target. In local mode it
// starts the control plane in-process; quiet silences its log (for shell
// completion). Close must be called.
func (o *options) connect(quiet bool) (*conn, error) {
	t, err := o.resolveTarget()
	if err != nil {
		return nil, err
	}
	c := &conn{target: t, closeErr: o.errOut}
	addr, token := t.server, t.token
	if t.local {
		var logOut io.Writer = o.errOut
		if quiet {
			logOut = io.Discard
		}
		srv, err := startLocal(t.dataDir, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})), logOut)
		if err != nil {
			return nil, err
		}
		c.srv = srv
		addr, token = srv.GRPCAddr(), srv.Token()
	} else if err := checkServerAddr(addr); err != nil {
		return nil, err
	}
	dialOpts := []grpc.DialOption{
		// plaintext for now: swarmd listens on loopback; TLS comes with mTLS identities
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	if token != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	cc, err := grpc.NewClient(addr, dialOpts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	c.cc = cc
	c.cluster = v1.NewClusterServiceClient(cc)
	c.nodes = v1.NewNodeServiceClient(cc)
	c.agents = v1.NewAgentServiceClient(cc)
	c.plugins = v1.NewPluginServiceClient(cc)
	c.ops = v1.NewOperationServiceClient(cc)
	c.canaries = v1.NewCanaryServiceClient(cc)
	return c, nil
}

// startLocal runs the control plane in-process on dataDir, listening on a
// free loopback port without HTTP.
func startLocal(dataDir string, log *slog.Logger, notes io.Writer) (*server.Server, error) {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	cfg.LogLevel = "warn"
	// A data dir without a plugin store installs the built-ins, which takes
	// a few seconds: say so then (and only then: later starts just wait).
	_, serr := os.Stat(filepath.Join(dataDir, "plugins"))
	firstStart := errors.Is(serr, os.ErrNotExist)
	srv, err := server.New(cfg, log)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "lock") {
			return nil, fmt.Errorf("local mode on %s: %w\nhint: a swarmd is running on this data dir: use --server 127.0.0.1:7700 --token $(cat %s)",
				dataDir, err, filepath.Join(dataDir, "token"))
		}
		return nil, fmt.Errorf("local mode on %s: %w", dataDir, err)
	}
	if err := srv.Start(); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return nil, fmt.Errorf("local mode on %s: start: %w", dataDir, err)
	}
	// The built-in plugins are gated once per data dir (seconds, the first
	// time); wait so that this command sees them.
	select {
	case <-srv.BuiltinsInstalled():
	case <-time.After(time.Second):
		if firstStart {
			fmt.Fprintln(notes, "swarmctl: installing the built-in plugins into "+dataDir+" (first start only)...")
		}
		<-srv.BuiltinsInstalled()
	}
	return srv, nil
}

// checkServerAddr refuses addresses that gRPC would misread, such as URLs.
func checkServerAddr(addr string) error {
	scheme, _, ok := strings.Cut(addr, "://")
	if !ok {
		return nil
	}
	switch scheme {
	case "dns", "unix", "passthrough":
		return nil
	}
	return usagef("server address %q: want host:port (for example 127.0.0.1:7700), not a URL", addr)
}

// Close closes the connection and, in local mode, shuts the in-process
// control plane down.
func (c *conn) Close() {
	if c.cc != nil {
		_ = c.cc.Close()
	}
	if c.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.srv.Shutdown(ctx); err != nil {
			fmt.Fprintf(c.closeErr, "warning: local mode shutdown: %v\n", err)
		}
	}
}

// bearerToken sends "authorization: Bearer <token>" with every call.
type bearerToken string

// GetRequestMetadata returns the authorization header.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false: the transport is plaintext on loopback
// for now.
func (b bearerToken) RequireTransportSecurity() bool { return false }
