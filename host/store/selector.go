package store

import (
	"errors"
	"fmt"
	"strings"
)

// Requirement is one term of a label selector.
type Requirement struct {
	Key string
	// Op is "=", "!=" or "exists".
	Op    string
	Value string
}

// Selector is a conjunction of label requirements, written as
// "env=prod,tier!=gpu,canary".
type Selector []Requirement

// ErrBadSelector: the label selector does not parse.
var ErrBadSelector = errors.New("invalid label selector")

// ParseSelector parses "k=v", "k==v", "k!=v" and "k" terms separated by
// commas. The empty string selects everything.
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for term := range strings.SplitSeq(s, ",") {
		term = strings.TrimSpace(term)
		var r Requirement
		switch {
		case strings.Contains(term, "!="):
			k, v, _ := strings.Cut(term, "!=")
			r = Requirement{Key: strings.TrimSpace(k), Op: "!=", Value: strings.TrimSpace(v)}
		case strings.Contains(term, "="):
			k, v, _ := strings.Cut(term, "=")
			r = Requirement{Key: strings.TrimSpace(k), Op: "=", Value: strings.TrimPrefix(strings.TrimSpace(v), "=")}
		default:
			r = Requirement{Key: term, Op: "exists"}
		}
		if r.Key == "" || strings.ContainsAny(r.Key, " =!") || strings.ContainsAny(r.Value, " =!") {
			return nil, fmt.Errorf("%w: term %q: want key=value, key!=value or key", ErrBadSelector, term)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// Matches reports whether labels satisfy every requirement.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s {
		v, ok := labels[r.Key]
		switch r.Op {
		case "=":
			if !ok || v != r.Value {
				return false
			}
		case "!=":
			if ok && v == r.Value {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		}
	}
	return true
}
