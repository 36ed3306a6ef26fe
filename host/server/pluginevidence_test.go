package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// TestPluginEvidenceReachesTheTrustLog: what the registry learns about a
// plugin version — its signature (here: accepted unsigned), its gates and
// a rejection — lands in swarmd's trust log as evidence about
// plugin/NAME@VERSION, so trust scorers see plugin versions too.
func TestPluginEvidenceReachesTheTrustLog(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", ""
	cfg.NodeName = "test-node"
	cfg.CacheDir = filepath.Join(os.TempDir(), "stratoswarm-test-wasm-cache")
	cfg.AllowUnsignedPlugins = true
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	select {
	case <-s.BuiltinsInstalled():
	case <-time.After(2 * time.Minute):
		t.Fatal("the built-in plugins were not installed within 2 minutes")
	}
	ctx := context.Background()
	p, err := s.registry.Plugins().Get(ctx, "random")
	if err != nil {
		t.Fatalf("%v (run make plugins first)", err)
	}
	manifest, err := os.ReadFile("../../plugins/strategy/random/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile("../plugin/builtin/wasm/strategy-random.wasm")
	if err != nil {
		t.Fatal(err)
	}
	m := strings.Replace(string(manifest), "version: "+p.GetSpec().GetDefaultVersion(), "version: 9.8.0", 1)
	if _, err := s.registry.Upload(ctx, []byte(m), nil, module, ""); err != nil {
		t.Fatal(err)
	}
	s.registry.Wait() // the gates
	if _, err := s.registry.Reject(ctx, "random", "9.8.0", "worse than the default in its canary"); err != nil {
		t.Fatal(err)
	}
	subject := trust.Subject{Kind: trust.SubjectPlugin, Name: "random", Version: "9.8.0"}
	es, err := s.trustLog.List(ctx, subject, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Source != sourceRegistry {
			t.Errorf("record %+v: source %q, want %q", e, e.Source, sourceRegistry)
		}
		sign := "+"
		if !e.Positive {
			sign = "-"
		}
		got = append(got, sign+e.Kind)
	}
	if want := "-signature +benchmark -canary"; strings.Join(got, " ") != want {
		t.Errorf("trust log of %s: %v, want %s", subject, got, want)
	}
}
