package evo

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

// Mutation sets how strongly Mutate changes a genome. The zero value is the
// default: strength 0.1, one gene on average, DefaultPhrases().
type Mutation struct {
	// Strength is the Gaussian step of float and int genes in normalised
	// units (the standard deviation; 1 is about a uniform redraw), and the
	// chance of each further edit of a sequence, text or code gene. 0 means
	// 0.1.
	Strength float64 `json:"strength,omitempty"`
	// Rate is the chance that each gene mutates; 0 means 1/len(parameters).
	// At least one gene always mutates.
	Rate float64 `json:"rate,omitempty"`
	// Phrases is the phrase bank that text mutation inserts from; nil means
	// DefaultPhrases().
	Phrases []string `json:"phrases,omitempty"`
}

// DefaultPhrases returns the phrase bank of text mutation when
// Mutation.Phrases is nil: generic instructions of prompt engineering.
func DefaultPhrases() []string {
	return []string{
		"Think step by step.",
		"Be concise.",
		"Double-check the answer before replying.",
		"List the constraints first.",
		"Verify every constraint.",
		"Consider edge cases.",
		"Answer with only the final result.",
		"Break the problem into smaller parts.",
		"Explain the reasoning briefly.",
		"Use the examples as a guide.",
	}
}

func (m Mutation) strength() float64 {
	if m.Strength > 0 {
		return m.Strength
	}
	return 0.1
}

// Scaled returns m with its strength (the default 0.1 when unset)
// multiplied by f, for a personality's mutation bias: pass
// sdk.StepScale(bias). f of 0 or 1 returns m unchanged.
func (m Mutation) Scaled(f float64) Mutation {
	if f > 0 && f != 1 {
		m.Strength = m.strength() * f
	}
	return m
}

func (m Mutation) phrases() []string {
	if m.Phrases != nil {
		return m.Phrases
	}
	return DefaultPhrases()
}

// Mutate returns a mutated copy of g (clamped into space first): each gene
// mutates with probability m.Rate (at least one does), by MutateValue. It
// retries up to 8 times to return a genome that differs from g; a space
// where nothing can change (e.g. single-choice categoricals) gives g back.
func Mutate(space sdk.SearchSpace, g sdk.Genome, m Mutation, rng *sdk.Rand) sdk.Genome {
	base := Clamp(space, g)
	n := len(space.Parameters)
	if n == 0 {
		return base
	}
	rate := m.Rate
	if rate <= 0 {
		rate = 1 / float64(n)
	}
	for range 8 {
		out := base.Clone()
		picked := false
		for _, p := range space.Parameters {
			if rng.Float64() < rate {
				out[p.Name] = MutateValue(p, out[p.Name], m, rng)
				picked = true
			}
		}
		if !picked {
			p := space.Parameters[rng.IntN(n)]
			out[p.Name] = MutateValue(p, out[p.Name], m, rng)
		}
		if !Equal(space, out, base) {
			return out
		}
	}
	return base
}

// MutateValue returns a mutated value of p:
//   - float: a Gaussian step of m.Strength in normalised (log for log
//     floats) coordinates, reflected at the bounds;
//   - int: a Gaussian step of m.Strength times the range, rounded, at least
//     one, reflected at the bounds;
//   - categorical: another choice, uniformly; bool: flipped;
//   - sequence: one edit (add, remove, reorder or replace a step, see
//     SequenceEdit), then more with probability m.Strength each (at most 8);
//   - text: a phrase-bank edit (MutateText); code: a constant, boolean or
//     comparison flip (MutateCode).
//
// The value is clamped into p first; the result is canonical and valid.
func MutateValue(p sdk.Parameter, v any, m Mutation, rng *sdk.Rand) any {
	v = ClampValue(p, v)
	s := m.strength()
	switch p.Type() {
	case sdk.TypeFloat:
		u, _ := Normalize(p, v)
		return Denormalize(p, Reflect(u+s*rng.NormFloat64()))
	case sdk.TypeInt:
		lo, hi := p.Int.Min, p.Int.Max
		if hi <= lo {
			return lo
		}
		x := v.(int64)
		span := float64(hi) - float64(lo)
		step := math.Round(s * span * rng.NormFloat64())
		if step == 0 {
			step = 1
			if rng.IntN(2) == 0 {
				step = -1
			}
		}
		u := Reflect((float64(x) - float64(lo) + step) / span)
		return clampInt(math.Round(float64(lo)+u*span), lo, hi)
	case sdk.TypeCategorical:
		c := p.Categorical.Choices
		if len(c) < 2 {
			return v
		}
		i := slices.Index(c, v.(string))
		j := rng.IntN(len(c) - 1)
		if j >= i {
			j++
		}
		return c[j]
	case sdk.TypeBool:
		return !v.(bool)
	case sdk.TypeSequence:
		seq := v.([]string)
		for k := 0; k == 0 || k < maxEdits && rng.Float64() < s; k++ {
			e, ok := SequenceEdit(p, seq, rng)
			if !ok {
				break
			}
			if next, err := applySeq(p, seq, e); err == nil {
				seq = next
			}
		}
		return seq
	case sdk.TypeText:
		t := v.(string)
		for k := 0; k == 0 || k < maxEdits && rng.Float64() < s; k++ {
			t = MutateText(t, maxLen(p), m.phrases(), rng)
		}
		return t
	case sdk.TypeCode:
		c := v.(string)
		for k := 0; k == 0 || k < maxEdits && rng.Float64() < s; k++ {
			c = MutateCode(c, maxLen(p), s, rng)
		}
		return c
	}
	return v
}

// maxEdits bounds the edits one mutation makes to a sequence, text or code
// gene.
const maxEdits = 8

// Reflect folds x into [0, 1] by reflection at the bounds (so a large step
// does not pile up on a bound).
func Reflect(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0.5
	}
	x = math.Mod(math.Abs(x), 2)
	if x > 1 {
		x = 2 - x
	}
	return x
}

// SequenceEdit draws one feasible edit of a sequence value of p: add a
// random choice at a random position (below maxLength), remove a step
// (above minLength), move a step to another position, or replace a step by
// another choice, uniformly among those possible. ok is false when none is.
func SequenceEdit(p sdk.Parameter, seq []string, rng *sdk.Rand) (e Edit, ok bool) {
	s := p.Sequence
	var ops []string
	if len(seq) < s.MaxLength && len(s.Choices) > 0 {
		ops = append(ops, OpAddStep)
	}
	if len(seq) > s.MinLength {
		ops = append(ops, OpRemoveStep)
	}
	if len(seq) >= 2 && slices.ContainsFunc(seq, func(x string) bool { return x != seq[0] }) {
		ops = append(ops, OpReorderStep)
	}
	if len(seq) >= 1 && len(s.Choices) >= 2 {
		ops = append(ops, OpModifyParam)
	}
	if len(ops) == 0 {
		return Edit{}, false
	}
	switch op := ops[rng.IntN(len(ops))]; op {
	case OpAddStep:
		return Edit{Op: op, Param: p.Name, Index: rng.IntN(len(seq) + 1), Value: rng.Choice(s.Choices)}, true
	case OpRemoveStep:
		i := rng.IntN(len(seq))
		return Edit{Op: op, Param: p.Name, Index: i, Value: seq[i]}, true
	case OpReorderStep:
		for range 64 {
			i, j := rng.IntN(len(seq)), rng.IntN(len(seq))
			if moved, err := moveStep(seq, i, j); err == nil && !slices.Equal(moved, seq) {
				return Edit{Op: op, Param: p.Name, Index: i, To: j, Value: seq[i]}, true
			}
		}
		return Edit{}, false
	default:
		i := rng.IntN(len(seq))
		c := s.Choices
		k := slices.Index(c, seq[i])
		j := rng.IntN(len(c) - 1)
		if j >= k {
			j++
		}
		return Edit{Op: OpModifyParam, Param: p.Name, Index: i, Value: c[j]}, true
	}
}

// RandomEdit draws one mutation of g as an Edit: it picks a gene uniformly
// among the space's parameters (only non-numeric ones when discreteOnly) and
// returns a sequence edit (SequenceEdit) or a modify_param with a mutated
// value (MutateValue). ok is false when no gene can change.
func RandomEdit(space sdk.SearchSpace, g sdk.Genome, m Mutation, discreteOnly bool, rng *sdk.Rand) (e Edit, ok bool) {
	var params []sdk.Parameter
	for _, p := range space.Parameters {
		if discreteOnly && Numeric(p) {
			continue
		}
		params = append(params, p)
	}
	for len(params) > 0 {
		i := rng.IntN(len(params))
		p := params[i]
		v := ClampValue(p, g[p.Name])
		if p.Type() == sdk.TypeSequence {
			if e, ok := SequenceEdit(p, v.([]string), rng); ok {
				return e, true
			}
		} else if nv := MutateValue(p, v, m, rng); !EqualValue(p, nv, v) {
			return Edit{Op: OpModifyParam, Param: p.Name, Value: nv}, true
		}
		params = slices.Delete(params, i, i+1)
	}
	return Edit{}, false
}

// MutateText makes one phrase-bank edit of a prompt: insert a phrase from
// the bank at a sentence boundary, delete a sentence, swap two sentences, or
// replace a sentence by a phrase, uniformly among those possible. An edit
// that would exceed maxLength characters (when positive) is not made; text
// that cannot change comes back unchanged.
func MutateText(text string, maxLength int, phrases []string, rng *sdk.Rand) string {
	sentences := splitSentences(text)
	var ops []int
	const (
		insert = iota
		remove
		swap
		replace
	)
	if len(phrases) > 0 {
		ops = append(ops, insert)
	}
	if len(sentences) > 0 {
		ops = append(ops, remove)
	}
	if len(sentences) > 1 {
		ops = append(ops, swap)
	}
	if len(sentences) > 0 && len(phrases) > 0 {
		ops = append(ops, replace)
	}
	if len(ops) == 0 {
		return text
	}
	out := slices.Clone(sentences)
	switch ops[rng.IntN(len(ops))] {
	case insert:
		out = slices.Insert(out, rng.IntN(len(out)+1), rng.Choice(phrases))
	case remove:
		i := rng.IntN(len(out))
		out = slices.Delete(out, i, i+1)
	case swap:
		i := rng.IntN(len(out))
		j := rng.IntN(len(out) - 1)
		if j >= i {
			j++
		}
		out[i], out[j] = out[j], out[i]
	case replace:
		out[rng.IntN(len(out))] = rng.Choice(phrases)
	}
	s := strings.Join(out, " ")
	if maxLength > 0 && len([]rune(s)) > maxLength {
		return text
	}
	return s
}

// splitSentences splits text after '.', '!', '?' or a newline and trims each
// piece; empty pieces are dropped.
func splitSentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if r == '.' || r == '!' || r == '?' || r == '\n' {
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// site is a place in code that MutateCode can change.
type site struct {
	start, end int
	kind       byte // 'n' number, 'b' boolean, 'c' comparison
}

// MutateCode makes one "flag flip" in source code: a numeric literal is
// perturbed (an integer by ±1 or doubled/halved, a decimal multiplied by
// 1+N(0, strength)), a boolean literal (true/false, True/False) is flipped, or
// a spaced comparison (" < ", " <= ", " > ", " >= ") is made strict or not.
// A site is drawn uniformly; code without sites, or whose edit would exceed
// maxLength characters (when positive), comes back unchanged.
func MutateCode(code string, maxLength int, strength float64, rng *sdk.Rand) string {
	sites := codeSites(code)
	if len(sites) == 0 {
		return code
	}
	s := sites[rng.IntN(len(sites))]
	old := code[s.start:s.end]
	var repl string
	switch s.kind {
	case 'n':
		if strings.Contains(old, ".") {
			f, err := strconv.ParseFloat(old, 64)
			if err != nil {
				return code
			}
			nf := f * (1 + strength*rng.NormFloat64())
			if nf < 0 && f >= 0 {
				nf = -nf // literals are unsigned: the sign lives outside
			}
			repl = strconv.FormatFloat(nf, 'g', 6, 64)
			if !strings.ContainsAny(repl, ".e") {
				repl += ".0"
			}
		} else {
			n, err := strconv.ParseInt(old, 10, 64)
			if err != nil {
				return code
			}
			switch rng.IntN(4) {
			case 0:
				n++
			case 1:
				if n > 0 {
					n--
				} else {
					n++
				}
			case 2:
				n *= 2
			default:
				n /= 2
			}
			repl = strconv.FormatInt(n, 10)
		}
	case 'b':
		repl = map[string]string{"true": "false", "false": "true", "True": "False", "False": "True"}[old]
	case 'c':
		repl = map[string]string{" < ": " <= ", " <= ": " < ", " > ": " >= ", " >= ": " > "}[old]
	}
	if repl == "" || repl == old {
		return code
	}
	out := code[:s.start] + repl + code[s.end:]
	if maxLength > 0 && len([]rune(out)) > maxLength {
		return code
	}
	return out
}

// codeSites finds the mutable places of code: numbers that are not part of
// an identifier, the boolean words, and spaced comparisons.
func codeSites(code string) []site {
	var out []site
	isWord := func(b byte) bool {
		return b == '_' || b < 128 && (unicode.IsLetter(rune(b)) || unicode.IsDigit(rune(b)))
	}
	for i := 0; i < len(code); {
		c := code[i]
		switch {
		case c >= '0' && c <= '9' && (i == 0 || !isWord(code[i-1]) && code[i-1] != '.'):
			j := i
			dot := false
			for j < len(code) && (code[j] >= '0' && code[j] <= '9' || code[j] == '.' && !dot && j+1 < len(code) && code[j+1] >= '0' && code[j+1] <= '9') {
				if code[j] == '.' {
					dot = true
				}
				j++
			}
			if j >= len(code) || !isWord(code[j]) && code[j] != '.' {
				out = append(out, site{i, j, 'n'})
			}
			i = j
		case isWord(c):
			j := i
			for j < len(code) && isWord(code[j]) {
				j++
			}
			switch code[i:j] {
			case "true", "false", "True", "False":
				if i == 0 || code[i-1] != '.' {
					out = append(out, site{i, j, 'b'})
				}
			}
			i = j
		case c == ' ':
			for _, op := range []string{" <= ", " >= ", " < ", " > "} {
				if strings.HasPrefix(code[i:], op) {
					out = append(out, site{i, i + len(op), 'c'})
					break
				}
			}
			i++
		default:
			i++
		}
	}
	return out
}

// Diversify returns a starting point around base at a temperature t in
// [0, 1]: Mutate with Rate t and Strength t, so 0.2 stays near base and 1.0
// is close to a uniform draw (SwarmAgentic initialises its particles at
// sampling temperatures 0.2..1.0). t <= 0 returns base clamped.
func Diversify(space sdk.SearchSpace, base sdk.Genome, t float64, rng *sdk.Rand) sdk.Genome {
	if t <= 0 {
		return Clamp(space, base)
	}
	return Mutate(space, base, Mutation{Strength: t, Rate: math.Min(t, 1)}, rng)
}
