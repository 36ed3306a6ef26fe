package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

func TestEvolutionOverGRPC(t *testing.T) {
	d := start(t, t.TempDir())
	select {
	case <-d.srv.BuiltinsInstalled():
	case <-time.After(2 * time.Minute):
		t.Fatal("the built-in plugins were not installed")
	}
	ctx := d.ctx()
	evos := v1.NewEvolutionServiceClient(d.conn)
	ops := v1.NewOperationServiceClient(d.conn)
	if _, err := v1.NewPluginServiceClient(d.conn).GetPlugin(ctx, &v1.GetPluginRequest{Name: "random"}); err != nil {
		t.Fatalf("the built-in random strategy is missing (run make plugins first): %v", err)
	}

	spec := func() *v1.EvolutionSpec {
		return &v1.EvolutionSpec{Strategy: &v1.PluginRef{Name: "random"}, Suite: "bbob-f1-d2", Seed: 3,
			Budget:             &v1.Budget{MaxEvaluations: 24, BatchSize: 8},
			CandidateResources: &v1.ResourceList{CpuMillis: 500, TierBytes: map[string]int64{"cpu": 256 << 20, "nvme": 1 << 30}}}
	}
	// Bad requests name the field and store nothing.
	bad := spec()
	bad.Budget.Parallelism = 999
	_, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "bad"}, Spec: bad}})
	wantCode(t, err, codes.InvalidArgument, "evolution.spec.budget.parallelism")
	bad = spec()
	bad.Suite = "nope"
	_, err = evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "bad"}, Spec: bad}})
	wantCode(t, err, codes.InvalidArgument, "evolution.spec.suite")
	for field, r := range map[string]*v1.ResourceList{
		`evolution.spec.candidate_resources.tier_bytes["xyz"]`:  {TierBytes: map[string]int64{"xyz": 1 << 20}},
		`evolution.spec.candidate_resources.tier_bytes["nvme"]`: {TierBytes: map[string]int64{"nvme": -1}},
		`evolution.spec.candidate_resources.tier_bytes["cpu"]`:  {MemoryBytes: 64 << 20, TierBytes: map[string]int64{"cpu": 32 << 20}},
		"evolution.spec.candidate_resources.memory_bytes":       {MemoryBytes: -1},
		"evolution.spec.candidate_resources.cpu_millis":         {CpuMillis: 1},
		"evolution.spec.candidate_resources.gpus":               {Gpus: 1},
	} {
		bad = spec()
		bad.CandidateResources = r
		_, err = evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "bad"}, Spec: bad}})
		wantField(t, err, field)
	}
	_, err = evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "Bad_Name"}, Spec: spec()}})
	wantCode(t, err, codes.InvalidArgument, "evolution.metadata.name")
	if _, err := evos.GetEvolution(ctx, &v1.GetEvolutionRequest{Name: "bad"}); err == nil {
		t.Fatal("a refused evolution was stored")
	}

	op, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "sphere"}, Spec: spec()}, RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if op.GetKind() != "Evolution" || op.GetTarget() != "evolutions/sphere" {
		t.Fatalf("operation %v", op)
	}
	done, err := ops.WaitOperation(ctx, &v1.WaitOperationRequest{Name: op.GetMetadata().GetName(), Timeout: durationpb.New(time.Minute)})
	if err != nil || !done.GetDone() {
		t.Fatalf("wait: %v %v", done, err)
	}
	evo := &v1.Evolution{}
	if err := done.GetResponse().UnmarshalTo(evo); err != nil || evo.GetStatus().GetPhase() != "Succeeded" || evo.GetStatus().GetEvaluations() != 24 {
		t.Fatalf("result %v %v", evo.GetStatus(), err)
	}
	if r := evo.GetSpec().GetCandidateResources(); r.GetCpuMillis() != 500 || r.GetTierBytes()["nvme"] != 1<<30 {
		t.Errorf("candidate resources not kept: %v", r)
	}
	// The same request again returns the same operation.
	again, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "sphere"}, Spec: spec()}, RequestId: "r1"})
	if err != nil || again.GetMetadata().GetName() != op.GetMetadata().GetName() {
		t.Fatalf("idempotent create: %v %v", again, err)
	}
	cands, err := evos.ListCandidates(ctx, &v1.ListCandidatesRequest{Evolution: "sphere"})
	if err != nil || len(cands.GetCandidates()) != 24 {
		t.Fatalf("candidates: %d %v", len(cands.GetCandidates()), err)
	}
	best, err := evos.GetCandidate(ctx, &v1.GetCandidateRequest{Evolution: "sphere", Name: evo.GetStatus().GetBestCandidate()})
	if err != nil || best.GetStatus().GetScores()["delta_f"] != evo.GetStatus().GetBestScores()["delta_f"] {
		t.Fatalf("best candidate: %v %v", best, err)
	}
	// Wrong phases are FAILED_PRECONDITION.
	_, err = evos.ResumeEvolution(ctx, &v1.ResumeEvolutionRequest{Name: "sphere"})
	wantCode(t, err, codes.FailedPrecondition, "only a Paused evolution")
	_, err = evos.PauseEvolution(ctx, &v1.PauseEvolutionRequest{Name: "sphere"})
	wantCode(t, err, codes.FailedPrecondition, "Succeeded")
	_, err = evos.ListCandidates(ctx, &v1.ListCandidatesRequest{Evolution: "ghost"})
	wantCode(t, err, codes.NotFound, "")

	suites, err := v1.NewSuiteServiceClient(d.conn).ListSuites(ctx, &v1.ListSuitesRequest{})
	if err != nil || len(suites.GetSuites()) == 0 {
		t.Fatalf("suites: %v %v", suites, err)
	}
}
