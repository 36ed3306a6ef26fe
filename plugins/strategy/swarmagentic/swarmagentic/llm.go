package swarmagentic

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

const system = "You optimise a design for a task as one particle of a particle swarm (SwarmAgentic). Reply with one well-formed JSON object."

// header describes the space and the objective for a prompt.
func (st *state) header(b *strings.Builder) {
	dir := "maximize"
	if st.Goal.Minimize {
		dir = "minimize"
	}
	fmt.Fprintf(b, "# Search space\nEvery design is a JSON object over these parameters:\n%s\n\n# Objective\n%s the score %q.\n\n",
		evo.DescribeSpace(st.Space), dir, st.Goal.Name)
}

// llmInit asks for a particle's initial design at the particle's sampling
// temperature (the paper initialises its 5 teams at 0.2..1.0).
func (st *state) llmInit(base sdk.Genome, t float64) (sdk.Genome, bool) {
	var b strings.Builder
	st.header(&b)
	fmt.Fprintf(&b, "# Starting point\n%s\n\n", evo.Canonical(base))
	b.WriteString("# Task\nPropose a complete initial design for this task: choose every parameter so that the design is likely to score well. " +
		"Reply EXACTLY with a JSON object {\"genome\": {\"<parameter name>\": <value>}} with every value inside the search space " +
		"(a sequence is the whole list of steps, text and code are complete strings).")
	var ans struct {
		Genome map[string]any `json:"genome"`
	}
	temp := t
	if _, err := st.LLM.ChatAt(&temp, []sdk.ChatMessage{{Role: "system", Content: system}, {Role: "user", Content: b.String()}}, &ans); err != nil || len(ans.Genome) == 0 {
		return nil, false
	}
	g, _ := evo.PatchGenome(st.Space, base, ans.Genome)
	return g, true
}

// llmPlan asks for the velocity: one adjustment per flaw, given the flaws,
// the previous plan with its failed adjustments, and the personal and
// global bests (update_velocity with identify_failure's result).
func (st *state) llmPlan(p *Particle, pos sdk.Genome, flaws []string, inertia []Move) ([]Move, bool) {
	var b strings.Builder
	st.header(&b)
	fmt.Fprintf(&b, "# Current design\n%s\n\n# Identified flaws (from its evaluation)\n", evo.Canonical(pos))
	for i, f := range flaws {
		t, _ := p.Eval.task(f)
		state := fmt.Sprintf("utility %.6g", t.U)
		if t.Failed {
			state = "failed"
		}
		fmt.Fprintf(&b, "%d. task %q: %s\n", i+1, f, state)
	}
	if len(inertia) > 0 {
		b.WriteString("\n# Adjustments that worked (their flaw was fixed)\n")
		for _, m := range inertia {
			fmt.Fprintf(&b, "- flaw %q: %s\n", m.Flaw, editJSON(m.Edit))
		}
	}
	if n := len(p.Failed); n > 0 {
		b.WriteString("\n# Failed adjustments (the flaw persisted; op|param|index|to|value): do NOT repeat them\n")
		for _, k := range p.Failed[max(0, n-20):] {
			flaw, edit, _ := strings.Cut(k, "\x1f")
			fmt.Fprintf(&b, "- flaw %q: %s\n", flaw, edit)
		}
	}
	if p.Best != nil && !evo.Equal(st.Space, p.Best.Genome, p.Position) {
		fmt.Fprintf(&b, "\n# Past best setup of this particle (fitness %.6g)\n%s\n", p.Best.Fitness, evo.Canonical(p.Best.Genome))
	}
	if st.Global != nil && !evo.Equal(st.Space, st.Global.Genome, p.Position) {
		fmt.Fprintf(&b, "\n# Best team of the swarm (fitness %.6g)\n%s\n", st.Global.Fitness, evo.Canonical(st.Global.Genome))
	}
	b.WriteString("\n# Task\nFor each identified flaw, propose one adjustment that addresses it, drawing on the past best setup and the best team, " +
		"and never repeating a failed adjustment. An adjustment is one operation: {\"op\": \"add_step\", \"param\": <sequence>, \"index\": <position>, \"value\": <step>}, " +
		"{\"op\": \"remove_step\", \"param\": <sequence>, \"index\": <position>}, {\"op\": \"reorder_step\", \"param\": <sequence>, \"index\": <from>, \"to\": <to>}, " +
		"or {\"op\": \"modify_param\", \"param\": <name>, \"value\": <new value>} (for a sequence, a list replaces it and a step with an \"index\" replaces that step). " +
		"Reply EXACTLY with a JSON object {\"adjustments\": [{\"flaw\": \"<task>\", \"adjustment\": <operation>}]}.")
	var ans struct {
		Adjustments []struct {
			Flaw       string   `json:"flaw"`
			Adjustment evo.Edit `json:"adjustment"`
		} `json:"adjustments"`
	}
	if _, err := st.LLM.Chat([]sdk.ChatMessage{{Role: "system", Content: system}, {Role: "user", Content: b.String()}}, &ans); err != nil {
		return nil, false
	}
	var out []Move
	for _, a := range ans.Adjustments {
		m := Move{Flaw: a.Flaw, Edit: a.Adjustment, Source: "llm"}
		if _, err := m.Edit.Apply(st.Space, pos); err != nil {
			continue
		}
		if !slices.Contains(p.Failed, failKey(m.Flaw, m.Edit)) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		st.LLM.Failures++
		return nil, false
	}
	return out, true
}

// editJSON is the edit as JSON, for prompts.
func editJSON(e evo.Edit) string {
	b, err := json.Marshal(e)
	if err != nil {
		return e.Key()
	}
	return string(b)
}
