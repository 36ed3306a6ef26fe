package adas

import (
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo"
)

// The prompts follow ADAS's _mgsm/mgsm_prompt.py with the agent's forward()
// code replaced by a genome over the search space.

const systemPrompt = "You are a helpful assistant. Make sure to return in a WELL-FORMED JSON object."

const basePrompt = `# Overview
You are an expert researcher designing solutions (designs) for a task. A design is a JSON object over a typed search space; it is evaluated on a set of tasks and its fitness is measured. Your aim is to design the best-performing design.

# Search space
Every design is a JSON object over these parameters (a sequence is an ordered list of steps; text and code are complete strings):
[SPACE]

# Objective
[OBJECTIVE]

# Discovered design archive
Here is the archive of the discovered designs:

[ARCHIVE]

The fitness value is the median and 95% Bootstrap Confidence Interval of the score on the evaluation tasks. Your GOAL is to [GOAL] the "fitness".

# Output Instruction and Example:
The first key should be ("thought"), and it should capture your thought process for designing the next design. In the "thought" section, first reason about what should be the next interesting design to try, then describe your reasoning and the overall concept behind the design, and finally detail the choices of its parameters.
The second key ("name") corresponds to the name of your next design.
Finally, the last key ("genome") corresponds to the exact design you would like to try: a COMPLETE JSON object with a value for every parameter, inside the search space.

Here is an example of the output format for the next design:

[EXAMPLE]

## WRONG Implementation examples:
Here are designs that failed their evaluation, with the error:
[WRONG]

# Your task
Your goal is to maximize "fitness" by proposing interestingly new designs.
Observe the discovered designs carefully and think about what insights, lessons, or stepping stones can be learned from them.
Be creative to think about the next interesting design to try.
Using the knowledge learned from the archive, give the next interesting design.
THINK OUTSIDE THE BOX.`

const reflexion1 = `[EXAMPLE]Carefully review the proposed new design and reflect on the following points:

1. **Interestingness**: Assess whether your proposed design is interesting or innovative compared to existing designs in the archive. If you determine that the proposed design is not interesting, suggest a new design that addresses these shortcomings.
- Make sure to check the difference between the proposed design and previous attempts.
- Compare the proposal and the designs in the archive CAREFULLY, including their actual differences in the parameters.
- Decide whether the current design is innovative.
- USE CRITICAL THINKING!

2. **Implementation Mistakes**: Identify any mistakes you may have made: values outside the search space, missing parameters, broken text or code. REMEMBER checking "## WRONG Implementation examples" in the prompt.

3. **Improvement**: Based on the proposed design, suggest improvements in the detailed choices that could increase its performance. In this step, focus on refining the existing design without altering the overall concept, except if you want to propose a different design if the current is not interesting.
- Try to avoid the design being too similar to the previous design.

And then, you need to improve or revise the design, or implement the new proposed design based on the reflection.

Your response should be organized as follows:

"reflection": Provide your thoughts on the interestingness of the design, identify any mistakes, and suggest improvements.

"thought": Revise your previous proposal or propose a new design if necessary, using the same format as the example response.

"name": Provide a name for the revised or new design. (Don't put words like "new" or "improved" in the name.)

"genome": Provide the corrected or improved design. Make sure you actually implement your fix and improvement in this genome.`

const reflexion2 = `Using the tips in "## WRONG Implementation examples" section, revise the design further.
Your response should be organized as follows:
Put your new reflection thinking in "reflection". Repeat the previous "thought" and "name", and update the corrected version of the design in "genome".`

// answer is the meta agent's JSON answer.
type answer struct {
	Reflection   string         `json:"reflection,omitempty"`
	DebugThought string         `json:"debug_thought,omitempty"`
	Thought      string         `json:"thought"`
	Name         string         `json:"name"`
	Genome       map[string]any `json:"genome"`
}

// archiveJSON is the archive as the prompt shows it: the seeds and the
// latest entries, at most PromptArchiveMax.
func (st *state) archiveJSON() string {
	type shown struct {
		Thought string     `json:"thought"`
		Name    string     `json:"name"`
		Genome  sdk.Genome `json:"genome"`
		Fitness string     `json:"fitness,omitempty"`
	}
	var seeds, rest []Entry
	for _, e := range st.Archive {
		if e.Generation == 0 {
			seeds = append(seeds, e)
		} else {
			rest = append(rest, e)
		}
	}
	max := st.Config.PromptArchiveMax
	seeds = seeds[:min(len(seeds), max)]
	if room := max - len(seeds); len(rest) > room {
		rest = rest[len(rest)-room:]
	}
	list := append(seeds, rest...)
	var parts []string
	for _, e := range list {
		b, _ := json.Marshal(shown{Thought: e.Thought, Name: e.Name, Genome: e.Genome, Fitness: e.Fitness})
		parts = append(parts, string(b))
	}
	return "[" + strings.Join(parts, ",\n") + "]"
}

func (st *state) prompt() string {
	goal, obj := "maximize", fmt.Sprintf("Maximize the score %q.", st.Goal.Name)
	if st.Goal.Minimize {
		goal, obj = "minimize", fmt.Sprintf("Minimize the score %q (lower is better; the fitness interval is in its units).", st.Goal.Name)
	}
	example, _ := json.Marshal(map[string]any{
		"thought": "**Insights:**\nYour insights on what should be the next interesting design.\n**Overall Idea:**\nyour reasoning and the overall concept behind the design.\n**Implementation:**\ndescribe the parameter choices step by step.",
		"name":    "Name of your proposed design",
		"genome":  evo.Default(st.Space),
	})
	wrong := "(none yet)"
	if len(st.Wrong) > 0 {
		var w []string
		for i, x := range st.Wrong {
			w = append(w, fmt.Sprintf("%d. This is WRONG: %s\nError: %s", i+1, evo.Canonical(x.Genome), x.Error))
		}
		wrong = strings.Join(w, "\n\n")
	}
	r := strings.NewReplacer("[SPACE]", evo.DescribeSpace(st.Space), "[OBJECTIVE]", obj, "[ARCHIVE]", st.archiveJSON(),
		"[GOAL]", goal, "[EXAMPLE]", string(example), "[WRONG]", wrong)
	return r.Replace(basePrompt)
}

// llmDesign runs the meta agent: the archive prompt, then the two
// reflection turns in the same chat (search.py). A failed turn keeps the
// last good answer; no good answer, or a genome identical to a known design,
// falls back to the deterministic operator.
func (st *state) llmDesign() (proposal, bool) {
	msgs := []sdk.ChatMessage{{Role: "system", Content: systemPrompt}, {Role: "user", Content: st.prompt()}}
	prev := ""
	if len(st.Archive) > 0 && st.Generation > 1 {
		b, _ := json.Marshal(st.Archive[len(st.Archive)-1])
		prev = "Here is the previous design you tried:\n" + string(b) + "\n\n"
	}
	turns := []string{"", strings.Replace(reflexion1, "[EXAMPLE]", prev, 1), reflexion2}
	var good *answer
	for i, turn := range turns {
		if i > 0 {
			if good == nil {
				break
			}
			b, _ := json.Marshal(good)
			msgs = append(msgs, sdk.ChatMessage{Role: "assistant", Content: string(b)}, sdk.ChatMessage{Role: "user", Content: turn})
		}
		var ans answer
		if _, err := st.LLM.Chat(msgs, &ans); err != nil || len(ans.Genome) == 0 {
			if i == 0 {
				return proposal{}, false
			}
			break
		}
		good = &ans
	}
	if good == nil {
		return proposal{}, false
	}
	base := evo.Default(st.Space)
	if l, ok := st.leader(); ok {
		base = l.Genome // genes the answer leaves out come from the leader
	}
	g, _ := evo.PatchGenome(st.Space, base, good.Genome)
	if st.nearest(g) == 0 {
		st.LLM.Failures++
		return proposal{}, false
	}
	name := good.Name
	if name == "" {
		name = fmt.Sprintf("design-%d", st.Generation)
	}
	return proposal{Name: name, Thought: good.Thought, Genome: g, Generation: st.Generation, Try: 1, Operator: "meta_agent"}, true
}

// leader is the valid entry with the best median; ok is false when there
// is none.
func (st *state) leader() (e Entry, ok bool) {
	bestMed := 0.0
	for _, x := range st.Archive {
		if !x.Valid() {
			continue
		}
		if _, med, _ := st.utility(x); !ok || med > bestMed {
			e, bestMed, ok = x, med, true
		}
	}
	return e, ok
}

// llmRepair feeds the evaluation error back (search.py's debug loop).
func (st *state) llmRepair(p proposal, reason string) (proposal, bool) {
	b, _ := json.Marshal(map[string]any{"thought": p.Thought, "name": p.Name, "genome": p.Genome})
	msgs := []sdk.ChatMessage{
		{Role: "system", Content: systemPrompt},
		{Role: "user", Content: st.prompt()},
		{Role: "assistant", Content: string(b)},
		{Role: "user", Content: fmt.Sprintf("Error during evaluation:\n%s\nCarefully consider where you went wrong in your latest design. "+
			"Using insights from previous attempts, try to debug the current design to implement the same thought. "+
			"Repeat your previous thought in 'thought', and put your thinking for debugging in 'debug_thought'; give the corrected design in 'genome'.", reason)},
	}
	var ans answer
	if _, err := st.LLM.Chat(msgs, &ans); err != nil || len(ans.Genome) == 0 {
		return proposal{}, false
	}
	g, _ := evo.PatchGenome(st.Space, p.Genome, ans.Genome)
	name := ans.Name
	if name == "" {
		name = p.Name
	}
	return proposal{Name: name, Thought: ans.Thought, Genome: g, Operator: "meta_agent_debug"}, true
}
