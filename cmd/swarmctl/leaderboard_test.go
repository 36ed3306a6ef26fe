package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

func TestLeaderboardRanksAgainstTheDefaultDesign(t *testing.T) {
	cand := func(name string, gen int32, gap, ms float64, tasks map[string]float64) *v1.Candidate {
		g, _ := structpb.NewStruct(map[string]any{"construction": "greedy_edge", "neighbors": 10.0})
		var trs []*v1.TaskResult
		for task, v := range tasks {
			trs = append(trs, &v1.TaskResult{Task: task, Scores: map[string]float64{"gap": v}})
		}
		return &v1.Candidate{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.CandidateSpec{Generation: gen, Genome: g, Operator: "random"},
			Status: &v1.CandidateStatus{Phase: "Evaluated", Scores: map[string]float64{"gap": gap, "time_ms": ms}, TaskResults: trs}}
	}
	ev := &v1.Evolution{Metadata: &v1.ObjectMeta{Name: "tsp"},
		Spec: &v1.EvolutionSpec{Strategy: &v1.PluginRef{Name: "random"}, Suite: "tsplib-small",
			Objectives: []*v1.Objective{{Name: "gap", Direction: v1.Objective_MINIMIZE}, {Name: "time_ms", Direction: v1.Objective_MINIMIZE}}},
		Status: &v1.EvolutionStatus{Phase: "Succeeded", Evaluations: 3, Generation: 1, BestCandidate: "fast"}}
	cands := []*v1.Candidate{
		cand("slow", 0, 0, 900, map[string]float64{"eil51": 0}),
		cand("fast", 0, 0, 20, map[string]float64{"eil51": 0}),
		cand("poor", 0, 0.05, 5, map[string]float64{"eil51": 0.05}),
		cand("baseline", 0, 0.02, 1, map[string]float64{"eil51": 0.02}),
	}
	var out bytes.Buffer
	if err := writeLeaderboard(context.Background(), &out, ev, cands, 5); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.Split(got, "\n")
	var ranks []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && (f[0] == "1" || f[0] == "2" || f[0] == "3" || f[0] == "default") {
			ranks = append(ranks, f[0]+":"+f[1])
		}
	}
	// equal gaps are broken by time; the default design comes last
	if strings.Join(ranks, " ") != "1:fast 2:slow 3:poor default:baseline" {
		t.Fatalf("ranks %v in:\n%s", ranks, got)
	}
	if !strings.Contains(got, "eil51   0.02      0      -0.02") || !strings.Contains(got, "construction   greedy_edge") {
		t.Fatalf("per-task comparison or design missing:\n%s", got)
	}
}
