package server_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/server"
)

// TestPluginCanaryThroughTheAPI: a new version of the built-in random
// strategy, uploaded, is canaried through CanaryService: its spec takes
// the plugin defaults (the default version as baseline, the three strategy
// metrics, pass 90 and marginal 75); evolutions started meanwhile are put
// on an arm; a rollback by hand rejects the version in the registry.
func TestPluginCanaryThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.AllowUnsignedPlugins = true
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	select {
	case <-srv.BuiltinsInstalled():
	case <-time.After(2 * time.Minute):
		t.Fatal("the built-in plugins were not installed within 2 minutes")
	}
	ctx := d.ctx()
	plugins := v1.NewPluginServiceClient(d.conn)
	p, err := plugins.GetPlugin(ctx, &v1.GetPluginRequest{Name: "random"})
	if err != nil {
		t.Fatalf("the built-in random strategy is missing (run make plugins first): %v", err)
	}
	def := p.GetSpec().GetDefaultVersion()
	manifest, err := os.ReadFile("../../plugins/strategy/random/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile("../plugin/builtin/wasm/strategy-random.wasm")
	if err != nil {
		t.Fatalf("%v (run make plugins first)", err)
	}
	m := strings.Replace(string(manifest), "version: "+def, "version: 9.9.0", 1)
	msgs := []*v1.UploadPluginRequest{header(m, nil, int64(len(module)))}
	for b := module; len(b) > 0; {
		n := min(len(b), 512<<10)
		msgs, b = append(msgs, chunk(b[:n])), b[n:]
	}
	op, err := push(t, d, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.NewOperationServiceClient(d.conn).WaitOperation(ctx, &v1.WaitOperationRequest{Name: op.GetMetadata().GetName(), Timeout: durationpb.New(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}

	canaries := v1.NewCanaryServiceClient(d.conn)
	_, err = canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{Metadata: &v1.ObjectMeta{Name: "same"},
		Spec: &v1.CanarySpec{TargetKind: "Plugin", Target: "random", CanaryVersion: def}}})
	wantCode(t, err, codes.InvalidArgument, "already plugin random's default version")
	c, err := canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: &v1.Canary{Metadata: &v1.ObjectMeta{Name: "random-next"},
		Spec: &v1.CanarySpec{TargetKind: "Plugin", Target: "random", CanaryVersion: "9.9.0", StepWeights: []int32{50}, Interval: durationpb.New(time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range c.GetSpec().GetMetrics() {
		names = append(names, m.GetName())
	}
	if s := c.GetSpec(); s.GetBaselineVersion() != def || len(names) != 3 || s.GetPassThreshold() != 90 || s.GetMarginalThreshold() != 75 {
		t.Errorf("plugin canary spec %v: want baseline %s, the three strategy metrics, pass 90, marginal 75", s, def)
	}

	// Evolutions started once the canary runs (its Start is asynchronous)
	// are put on an arm: canary, baseline or live.
	evos := v1.NewEvolutionServiceClient(d.conn)
	arms := map[string]int{}
	labelled := 0
	for i := 0; i < 20 && labelled < 6; i++ {
		name := fmt.Sprintf("routed-%d", i)
		spec := &v1.EvolutionSpec{Strategy: &v1.PluginRef{Name: "random"}, Suite: "bbob-f1-d2", Seed: uint64(i + 1), Budget: &v1.Budget{MaxEvaluations: 16, BatchSize: 8}}
		if _, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: name}, Spec: spec}}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			e, err := evos.GetEvolution(ctx, &v1.GetEvolutionRequest{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			if arm := e.GetMetadata().GetLabels()[evolve.LabelStrategyArm]; arm != "" {
				arms[arm]++
				labelled++
				break
			}
			if ph := e.GetStatus().GetPhase(); ph == evolve.PhaseSucceeded || ph == evolve.PhaseFailed || time.Now().After(deadline) {
				break // ran unrouted: the canary was not running yet
			}
		}
	}
	if labelled < 6 {
		t.Fatalf("only %d of the evolutions were put on an arm (%v)", labelled, arms)
	}
	if arms["canary"]+arms["baseline"] == 0 {
		t.Errorf("arms %v: at 50%% canary and 50%% baseline, six evolutions all went live", arms)
	}

	if _, err := canaries.RollbackCanary(ctx, &v1.RollbackCanaryRequest{Name: "random-next", Reason: "not this one"}); err != nil {
		t.Fatal(err)
	}
	p, err = plugins.GetPlugin(ctx, &v1.GetPluginRequest{Name: "random"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.GetStatus().GetVersions() {
		if v.GetVersion() == "9.9.0" && v.GetState() != "Rejected" {
			t.Errorf("the rolled-back version is %s, want Rejected", v.GetState())
		}
	}
	if p.GetSpec().GetDefaultVersion() != def {
		t.Errorf("the default moved to %s", p.GetSpec().GetDefaultVersion())
	}
}
