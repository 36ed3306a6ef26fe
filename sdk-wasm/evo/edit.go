package evo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// The operations of an Edit.
const (
	// OpAddStep inserts Value (a choice) into sequence Param at Index.
	OpAddStep = "add_step"
	// OpRemoveStep deletes the step at Index of sequence Param; when Value
	// is set, only if that step is Value.
	OpRemoveStep = "remove_step"
	// OpReorderStep moves the step at Index of sequence Param to position
	// To; when Value is set, only if that step is Value.
	OpReorderStep = "reorder_step"
	// OpModifyParam sets Param to Value. On a sequence, a string Value
	// replaces the step at Index and a list replaces the whole sequence.
	OpModifyParam = "modify_param"
)

// Edit is one change of a genome, in the vocabulary of SwarmAgentic's
// velocity (add, delete, re-order a step; modify a parameter). Edits are
// JSON, so an LLM can write them and a snapshot can hold them:
//
//	{"op": "add_step", "param": "steps", "index": 1, "value": "2opt"}
//	{"op": "modify_param", "param": "lr", "value": 0.01}
type Edit struct {
	// Op is one of OpAddStep, OpRemoveStep, OpReorderStep, OpModifyParam.
	Op string `json:"op"`
	// Param is the parameter's name.
	Param string `json:"param"`
	// Index is the step a sequence edit works on (0-based).
	Index int `json:"index,omitempty"`
	// To is where OpReorderStep moves the step.
	To int `json:"to,omitempty"`
	// Value is the new value (OpModifyParam), the inserted step
	// (OpAddStep) or the expected step (OpRemoveStep, OpReorderStep).
	Value any `json:"value,omitempty"`
}

// ErrNotApplicable is wrapped by Apply's errors: the edit does not fit the
// genome (unknown parameter, wrong type, index out of range, a sequence at
// its length bound, a value that is not allowed).
var ErrNotApplicable = errors.New("edit not applicable")

// Key is a canonical string for the edit, equal for equal edits whatever
// the Go types of Value (after a JSON round trip too); strategies use it to
// remember failed adjustments.
func (e Edit) Key() string {
	v, _ := json.Marshal(e.Value)
	return e.Op + "|" + e.Param + "|" + strconv.Itoa(e.Index) + "|" + strconv.Itoa(e.To) + "|" + string(v)
}

// String is Key.
func (e Edit) String() string { return e.Key() }

// Apply returns a copy of g (clamped into space) with the edit made, or an
// error wrapping ErrNotApplicable. Numbers are clamped into their bounds
// (ints rounded) and text is cut at maxLength; a category, a step or a
// sequence that the parameter does not allow is an error.
func (e Edit) Apply(space sdk.SearchSpace, g sdk.Genome) (sdk.Genome, error) {
	p, ok := space.Lookup(e.Param)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a parameter", ErrNotApplicable, e.Param)
	}
	out := Clamp(space, g)
	v, err := e.applyValue(p, out[p.Name])
	if err != nil {
		return nil, err
	}
	out[p.Name] = v
	return out, nil
}

func (e Edit) applyValue(p sdk.Parameter, cur any) (any, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s: %s", ErrNotApplicable, e.Op, e.Param, fmt.Sprintf(format, args...))
	}
	if p.Type() == sdk.TypeSequence {
		return applySeq(p, cur.([]string), e)
	}
	if e.Op != OpModifyParam {
		return nil, bad("%s is not a sequence", p.Type())
	}
	switch p.Type() {
	case sdk.TypeFloat, sdk.TypeInt:
		x, ok := toFloat(e.Value)
		if !ok {
			if s, isStr := e.Value.(string); isStr {
				f, err := strconv.ParseFloat(s, 64)
				x, ok = f, err == nil
			}
		}
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, bad("%v is not a number", e.Value)
		}
		return ClampValue(p, x), nil
	case sdk.TypeCategorical:
		s, ok := e.Value.(string)
		if !ok || !slices.Contains(p.Categorical.Choices, s) {
			return nil, bad("%v is not one of %q", e.Value, p.Categorical.Choices)
		}
		return s, nil
	case sdk.TypeBool:
		switch v := e.Value.(type) {
		case bool:
			return v, nil
		case string:
			if b, err := strconv.ParseBool(v); err == nil {
				return b, nil
			}
		}
		return nil, bad("%v is not a boolean", e.Value)
	case sdk.TypeText, sdk.TypeCode:
		s, ok := e.Value.(string)
		if !ok {
			return nil, bad("%v is not a string", e.Value)
		}
		return truncateRunes(s, maxLen(p)), nil
	}
	return nil, bad("invalid parameter")
}

// applySeq makes a sequence edit on a copy of seq.
func applySeq(p sdk.Parameter, seq []string, e Edit) ([]string, error) {
	s := p.Sequence
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s: %s", ErrNotApplicable, e.Op, e.Param, fmt.Sprintf(format, args...))
	}
	step := func() (string, error) {
		v, ok := e.Value.(string)
		if !ok || !slices.Contains(s.Choices, v) {
			return "", bad("%v is not one of %q", e.Value, s.Choices)
		}
		return v, nil
	}
	expect := func() error {
		if e.Value == nil {
			return nil
		}
		if v, ok := e.Value.(string); !ok || seq[e.Index] != v {
			return bad("step %d is %q, not %v", e.Index, seq[e.Index], e.Value)
		}
		return nil
	}
	switch e.Op {
	case OpAddStep:
		v, err := step()
		if err != nil {
			return nil, err
		}
		if len(seq) >= s.MaxLength {
			return nil, bad("the sequence is at its maxLength %d", s.MaxLength)
		}
		i := min(max(e.Index, 0), len(seq))
		return slices.Insert(slices.Clone(seq), i, v), nil
	case OpRemoveStep:
		if e.Index < 0 || e.Index >= len(seq) {
			return nil, bad("index %d outside [0, %d)", e.Index, len(seq))
		}
		if len(seq) <= s.MinLength {
			return nil, bad("the sequence is at its minLength %d", s.MinLength)
		}
		if err := expect(); err != nil {
			return nil, err
		}
		return slices.Delete(slices.Clone(seq), e.Index, e.Index+1), nil
	case OpReorderStep:
		if e.Index < 0 || e.Index >= len(seq) {
			return nil, bad("index %d outside [0, %d)", e.Index, len(seq))
		}
		if err := expect(); err != nil {
			return nil, err
		}
		out, err := moveStep(seq, e.Index, e.To)
		if err != nil {
			return nil, bad("%v", err)
		}
		return out, nil
	case OpModifyParam:
		if _, isStr := e.Value.(string); isStr {
			v, err := step()
			if err != nil {
				return nil, err
			}
			if e.Index < 0 || e.Index >= len(seq) {
				return nil, bad("index %d outside [0, %d)", e.Index, len(seq))
			}
			out := slices.Clone(seq)
			out[e.Index] = v
			return out, nil
		}
		list, ok := seqOf(e.Value)
		if !ok {
			return nil, bad("%v is neither a step nor a list of steps", e.Value)
		}
		if len(list) < s.MinLength || len(list) > s.MaxLength {
			return nil, bad("length %d outside [%d, %d]", len(list), s.MinLength, s.MaxLength)
		}
		for _, x := range list {
			if !slices.Contains(s.Choices, x) {
				return nil, bad("step %q is not one of %q", x, s.Choices)
			}
		}
		return slices.Clone(list), nil
	}
	return nil, bad("unknown op")
}

// moveStep moves seq[i] to position j of the result.
func moveStep(seq []string, i, j int) ([]string, error) {
	if i < 0 || i >= len(seq) || j < 0 || j >= len(seq) {
		return nil, fmt.Errorf("move %d to %d outside [0, %d)", i, j, len(seq))
	}
	out := slices.Clone(seq)
	x := out[i]
	out = slices.Delete(out, i, i+1)
	return slices.Insert(out, j, x), nil
}

// InEffect reports whether g already shows the edit's result, so that
// applying it again would change nothing it intends: a modify_param whose
// value (or step at Index) is already there, an add_step whose step is at
// Index, a remove_step whose expected step is no longer at Index, a
// reorder_step whose step is at To. Strategies re-apply remembered edits
// (SwarmAgentic's inertia) only when they are not in effect.
func (e Edit) InEffect(space sdk.SearchSpace, g sdk.Genome) bool {
	p, ok := space.Lookup(e.Param)
	if !ok {
		return false
	}
	cur := ClampValue(p, g[p.Name])
	if p.Type() != sdk.TypeSequence {
		v, err := e.applyValue(p, cur)
		return err == nil && EqualValue(p, v, cur)
	}
	seq := cur.([]string)
	at := func(i int) string {
		if i < 0 || i >= len(seq) {
			return "\x00"
		}
		return seq[i]
	}
	str, isStr := e.Value.(string)
	switch e.Op {
	case OpAddStep:
		return isStr && at(min(max(e.Index, 0), len(seq)-1)) == str
	case OpRemoveStep:
		return isStr && at(e.Index) != str
	case OpReorderStep:
		return isStr && at(e.To) == str
	case OpModifyParam:
		if isStr {
			return at(e.Index) == str
		}
		list, ok := seqOf(e.Value)
		return ok && slices.Equal(list, seq)
	}
	return false
}

// ApplyAll applies edits in order, skipping those that are not applicable,
// and returns the genome and the edits that were applied.
func ApplyAll(space sdk.SearchSpace, g sdk.Genome, edits []Edit) (sdk.Genome, []Edit) {
	out := Clamp(space, g)
	var done []Edit
	for _, e := range edits {
		if next, err := e.Apply(space, out); err == nil {
			out = next
			done = append(done, e)
		}
	}
	return out, done
}

// Diff returns edits that turn a into b (both clamped into space first),
// one modify_param per differing non-sequence gene and, for a sequence, the
// steps of a minimal edit script (substitutions as modify_param with an
// Index, remove_step, add_step) ordered from the last position to the
// first, every index relative to a. Applying all of them in order gives b;
// applying any subset in order gives a point between a and b, since an
// edit at a later position never shifts an earlier one (this is how
// SwarmAgentic's cognitive and social terms take part of a difference).
// When a script would pass a length bound on the way, the sequence gets one
// modify_param with b's whole list instead.
func Diff(space sdk.SearchSpace, a, b sdk.Genome) []Edit {
	a, b = Clamp(space, a), Clamp(space, b)
	var out []Edit
	for _, p := range space.Parameters {
		x, y := a[p.Name], b[p.Name]
		if EqualValue(p, x, y) {
			continue
		}
		if p.Type() != sdk.TypeSequence {
			out = append(out, Edit{Op: OpModifyParam, Param: p.Name, Value: y})
			continue
		}
		script := seqScript(p.Name, x.([]string), y.([]string))
		cur, ok := x.([]string), true
		for _, e := range script {
			next, err := applySeq(p, cur, e)
			if err != nil {
				ok = false
				break
			}
			cur = next
		}
		if !ok || !slices.Equal(cur, y.([]string)) {
			script = []Edit{{Op: OpModifyParam, Param: p.Name, Value: slices.Clone(y.([]string))}}
		}
		out = append(out, script...)
	}
	return out
}

// seqScript is a Levenshtein edit script from a to b, last position first.
func seqScript(name string, a, b []string) []Edit {
	n, m := len(a), len(b)
	d := make([][]int, n+1)
	for i := range d {
		d[i] = make([]int, m+1)
		d[i][0] = i
	}
	for j := 0; j <= m; j++ {
		d[0][j] = j
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			c := d[i-1][j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			d[i][j] = min(c, d[i-1][j]+1, d[i][j-1]+1)
		}
	}
	var out []Edit
	i, j := n, m
	for i > 0 || j > 0 {
		switch {
		case i > 0 && j > 0 && a[i-1] == b[j-1] && d[i][j] == d[i-1][j-1]:
			i, j = i-1, j-1
		case i > 0 && j > 0 && d[i][j] == d[i-1][j-1]+1:
			out = append(out, Edit{Op: OpModifyParam, Param: name, Index: i - 1, Value: b[j-1]})
			i, j = i-1, j-1
		case i > 0 && d[i][j] == d[i-1][j]+1:
			out = append(out, Edit{Op: OpRemoveStep, Param: name, Index: i - 1, Value: a[i-1]})
			i--
		default:
			out = append(out, Edit{Op: OpAddStep, Param: name, Index: i, Value: b[j-1]})
			j--
		}
	}
	return out
}
