package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/evolve"
)

// newEvolutionLeaderboardCmd prints the best designs of an evolution
// against the suite's incumbent design, task by task.
func newEvolutionLeaderboardCmd(o *options) *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "leaderboard NAME",
		Short: "Rank an evolution's best designs against the default design, task by task",
		Long: `Rank the evolution's candidates by its primary objective (those evaluated on
every stage), show the top ones beside the suite's default design (the
"baseline" candidate, when the suite has one), then compare the best design
with the default on every task, and print the best design.`,
		Example: `  swarmctl evolution leaderboard tsp
  swarmctl evolution leaderboard tsp --top 10`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 1 {
				return usagef("--top %d: must be at least 1", top)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ev, cands, err := evolutionArchive(cmd.Context(), c.evolutions(), args[0])
			if err != nil {
				return err
			}
			return writeLeaderboard(cmd.Context(), o.out, ev, cands, top)
		},
	}
	cmd.Flags().IntVar(&top, "top", 5, "how many designs to rank")
	return cmd
}

// writeLeaderboard renders the leaderboard of ev.
func writeLeaderboard(_ context.Context, w io.Writer, ev *v1.Evolution, cands []*v1.Candidate, top int) error {
	objs := ev.GetSpec().GetObjectives()
	if len(objs) == 0 {
		return fmt.Errorf("evolution %s records no objectives", ev.GetMetadata().GetName())
	}
	rule := newScoreRule(ev, objs[0])
	var ranked []*v1.Candidate
	var baseline *v1.Candidate
	byName := map[string]*v1.Candidate{}
	for _, c := range cands {
		byName[c.GetMetadata().GetName()] = c
		if c.GetMetadata().GetName() == evolve.BaselineCandidate {
			baseline = c
			continue
		}
		if _, ok := rule.score(c); ok {
			ranked = append(ranked, c)
		}
	}
	sortByScore(ranked, rule)
	st := ev.GetStatus()
	fmt.Fprintf(w, "Evolution %s: %s, %d evaluations in %d generations, strategy %s on %s.\n\n",
		ev.GetMetadata().GetName(), orNone(st.GetPhase()), st.GetEvaluations(), st.GetGeneration(), ev.GetSpec().GetStrategy().GetName(), ev.GetSpec().GetSuite())
	if len(ranked) == 0 {
		fmt.Fprintln(w, "No candidate has been evaluated on every stage yet.")
		return nil
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	tw := newTable(w)
	writeRow(tw, append([]string{"RANK", "CANDIDATE", "GEN", "OPERATOR"}, upper(names)...)...)
	row := func(rank string, c *v1.Candidate) {
		cells := []string{rank, c.GetMetadata().GetName(), fmt.Sprint(c.GetSpec().GetGeneration()), orNone(c.GetSpec().GetOperator())}
		for _, n := range names {
			cells = append(cells, scoreCellOf(c, n))
		}
		writeRow(tw, cells...)
	}
	for i, c := range ranked[:min(top, len(ranked))] {
		row(fmt.Sprint(i+1), c)
	}
	if baseline != nil {
		row("default", baseline)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	best := ranked[0]
	if id := st.GetBestCandidate(); byName[id] != nil {
		best = byName[id]
	}
	fmt.Fprintf(w, "\nBest design %s against the default design, %s per task:\n\n", best.GetMetadata().GetName(), names[0])
	tw = newTable(w)
	writeRow(tw, "TASK", "DEFAULT", "BEST", "CHANGE")
	base := map[string]*v1.TaskResult{}
	for _, t := range baseline.GetStatus().GetTaskResults() {
		base[t.GetTask()] = t
	}
	tasks := best.GetStatus().GetTaskResults()
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].GetTask() < tasks[j].GetTask() })
	for _, t := range tasks {
		b := base[t.GetTask()]
		writeRow(tw, t.GetTask(), taskScore(b, names[0]), taskScore(t, names[0]), change(b, t, names[0]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nBest design (swarmctl evolution best %s -o json):\n\n", ev.GetMetadata().GetName())
	tw = newTable(w)
	writeRow(tw, "PARAMETER", "VALUE")
	for _, r := range genomeRows(best.GetSpec().GetGenome()) {
		writeRow(tw, r...)
	}
	return tw.Flush()
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = toUpper(s)
	}
	return out
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func scoreCellOf(c *v1.Candidate, name string) string {
	v, ok := c.GetStatus().GetScores()[name]
	if !ok {
		return "-"
	}
	return formatScore(v)
}

func taskScore(t *v1.TaskResult, name string) string {
	switch {
	case t == nil:
		return "-"
	case t.GetFailed():
		return "failed"
	}
	v, ok := t.GetScores()[name]
	if !ok {
		return "-"
	}
	return formatScore(v)
}

// change is best − default on one task, or "-" when either is missing.
func change(base, best *v1.TaskResult, name string) string {
	if base == nil || best == nil || base.GetFailed() || best.GetFailed() {
		return "-"
	}
	a, ok1 := base.GetScores()[name]
	b, ok2 := best.GetScores()[name]
	if !ok1 || !ok2 {
		return "-"
	}
	return fmt.Sprintf("%+.4g", b-a)
}
