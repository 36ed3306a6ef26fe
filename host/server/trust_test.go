package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// TestEvolutionTrustAndPersonalityOverGRPC: through swarmd, an evolution
// with a personality has its candidates recorded in <data-dir>/trust and
// scored by the built-in beta (every bbob candidate's one clean task gives
// a lower bound of 0.224, above the default threshold 0.2), and its status
// shows the personality's adjustment and the gate. Bad gates are refused
// naming the field.
func TestEvolutionTrustAndPersonalityOverGRPC(t *testing.T) {
	dir := t.TempDir()
	d := start(t, dir)
	select {
	case <-d.srv.BuiltinsInstalled():
	case <-time.After(2 * time.Minute):
		t.Fatal("the built-in plugins were not installed")
	}
	ctx := d.ctx()
	evos := v1.NewEvolutionServiceClient(d.conn)
	spec := func() *v1.EvolutionSpec {
		return &v1.EvolutionSpec{Strategy: &v1.PluginRef{Name: "cmaes"}, Suite: "bbob-f1-d2", Seed: 5,
			Budget: &v1.Budget{MaxEvaluations: 12, BatchSize: 6}, Personality: &v1.PluginRef{Name: "explorer"}}
	}
	for field, edit := range map[string]func(*v1.EvolutionSpec){
		"evolution.spec.trust_threshold": func(s *v1.EvolutionSpec) { s.TrustThreshold = 2 },
		"evolution.spec.personality":     func(s *v1.EvolutionSpec) { s.Personality.Name = "beta" },
		"evolution.spec.trust_scorer":    func(s *v1.EvolutionSpec) { s.TrustScorer = &v1.PluginRef{Name: "ghost"} },
	} {
		bad := spec()
		edit(bad)
		_, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "bad"}, Spec: bad}})
		wantCode(t, err, codes.InvalidArgument, field)
	}
	op, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "explore"}, Spec: spec()}})
	if err != nil {
		t.Fatal(err)
	}
	done, err := v1.NewOperationServiceClient(d.conn).WaitOperation(ctx, &v1.WaitOperationRequest{Name: op.GetMetadata().GetName(), Timeout: durationpb.New(time.Minute)})
	if err != nil || !done.GetDone() {
		t.Fatalf("wait: %v %v", done, err)
	}
	evo := &v1.Evolution{}
	if err := done.GetResponse().UnmarshalTo(evo); err != nil || evo.GetStatus().GetPhase() != "Succeeded" || evo.GetStatus().GetBestCandidate() == "" {
		t.Fatalf("result %v %v", evo.GetStatus(), err)
	}
	conds := map[string]string{}
	for _, c := range evo.GetStatus().GetConditions() {
		conds[c.GetType()] = c.GetReason() + ": " + c.GetMessage()
	}
	if c := conds["Personality"]; !strings.Contains(c, "explorer@") || !strings.Contains(c, "resource headroom 0.35") {
		t.Errorf("Personality condition %q", c)
	}
	if c := conds["TrustGate"]; !strings.Contains(c, "beta@") || !strings.Contains(c, "0.2") {
		t.Errorf("TrustGate condition %q", c)
	}
	cands, err := evos.ListCandidates(ctx, &v1.ListCandidatesRequest{Evolution: "explore"})
	if err != nil || len(cands.GetCandidates()) != 12 {
		t.Fatalf("candidates: %d %v", len(cands.GetCandidates()), err)
	}
	for _, c := range cands.GetCandidates() {
		ts := c.GetStatus().GetTrust()
		if ts.GetScorer().GetName() != "beta" || ts.GetEvidenceCount() != 1 || ts.GetLowerBound() < 0.22 || ts.GetLowerBound() > 0.23 || c.GetStatus().GetReason() != "" {
			t.Fatalf("candidate %s: %v", c.GetMetadata().GetName(), c.GetStatus())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "trust")); err != nil {
		t.Fatalf("no trust log in the data dir: %v", err)
	}
}
