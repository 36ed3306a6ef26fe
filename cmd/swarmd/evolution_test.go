package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

func (p *proc) evolutions(t *testing.T, dir string) (v1.EvolutionServiceClient, context.Context) {
	t.Helper()
	_, ctx := p.client(t, dir)
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Wait for the built-in strategies.
	plugins := v1.NewPluginServiceClient(conn)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if pl, err := plugins.GetPlugin(ctx, &v1.GetPluginRequest{Name: "random"}); err == nil && pl.GetSpec().GetDefaultVersion() != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the built-in random strategy never became available (run make plugins before go test)")
		}
	}
	return v1.NewEvolutionServiceClient(conn), ctx
}

func waitEvolution(t *testing.T, c v1.EvolutionServiceClient, ctx context.Context, name string, done func(*v1.Evolution) bool) *v1.Evolution {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		evo, err := c.GetEvolution(ctx, &v1.GetEvolutionRequest{Name: name})
		if err == nil && done(evo) {
			return evo
		}
	}
	t.Fatalf("evolution %s did not get there", name)
	return nil
}

func archive(t *testing.T, c v1.EvolutionServiceClient, ctx context.Context, name string) map[string]*v1.Candidate {
	t.Helper()
	out := map[string]*v1.Candidate{}
	token := ""
	for {
		page, err := c.ListCandidates(ctx, &v1.ListCandidatesRequest{Evolution: name, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, cand := range page.GetCandidates() {
			for _, tr := range cand.GetStatus().GetTaskResults() {
				tr.Duration = nil
			}
			out[cand.GetMetadata().GetName()] = cand
		}
		if token = page.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// TestKilledDaemonResumesEvolutions kills swarmd with SIGKILL in the middle
// of an evolution and restarts it: the evolution finishes with exactly the
// archive of an uninterrupted run with the same seed.
func TestKilledDaemonResumesEvolutions(t *testing.T) {
	dir := t.TempDir()
	p := spawn(t, dir)
	evos, ctx := p.evolutions(t, dir)
	spec := &v1.EvolutionSpec{Strategy: &v1.PluginRef{Name: "random"}, Suite: "bbob-f1-d10", Seed: 9,
		Budget: &v1.Budget{MaxEvaluations: 1200, BatchSize: 16, Parallelism: 2}}
	for _, name := range []string{"ref", "cut"} {
		if _, err := evos.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: &v1.Evolution{Metadata: &v1.ObjectMeta{Name: name}, Spec: proto.Clone(spec).(*v1.EvolutionSpec)}}); err != nil {
			t.Fatal(err)
		}
	}
	cut := waitEvolution(t, evos, ctx, "cut", func(e *v1.Evolution) bool { return e.GetStatus().GetGeneration() >= 8 })
	if cut.GetStatus().GetPhase() != "Running" {
		t.Fatalf("the run was not running when killed: %v", cut.GetStatus())
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)

	p2 := spawn(t, dir)
	evos, ctx = p2.evolutions(t, dir)
	for _, name := range []string{"ref", "cut"} {
		evo := waitEvolution(t, evos, ctx, name, func(e *v1.Evolution) bool {
			return e.GetStatus().GetPhase() != "Running" && e.GetStatus().GetPhase() != "Pending"
		})
		if evo.GetStatus().GetPhase() != "Succeeded" || evo.GetStatus().GetEvaluations() != 1200 {
			t.Fatalf("%s after the restart: %v", name, evo.GetStatus())
		}
	}
	ref, got := archive(t, evos, ctx, "ref"), archive(t, evos, ctx, "cut")
	if len(got) != 1200 || len(ref) != 1200 {
		t.Fatalf("archives: %d and %d candidates, want 1200", len(ref), len(got))
	}
	for name, c := range got {
		r := ref[name]
		if r == nil || !proto.Equal(c.GetSpec().GetGenome(), r.GetSpec().GetGenome()) || !proto.Equal(c.GetStatus(), r.GetStatus()) {
			t.Fatalf("candidate %s differs from the uninterrupted run:\n%v\n%v", name, c, r)
		}
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.wait(t)
}
