package main

import (
	"strings"
	"testing"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// --personality, --trust-scorer and --trust-threshold set the spec's trust
// gate and personality; bad values are refused before anything is sent.
func TestEvolutionTrustFlags(t *testing.T) {
	f, e := newFakeEvolutions(t)
	e.ok("evolution", "start", "gated", "--suite", "bbob-f8-d10", "--strategy", "cmaes", "--detach",
		"--personality", "explorer", "--trust-scorer", "eigentrust@1.0.0", "--trust-threshold", "0.3")
	s := f.created[0].GetEvolution().GetSpec()
	if pluginRef(s.GetPersonality()) != "explorer" || pluginRef(s.GetTrustScorer()) != "eigentrust@1.0.0" || s.GetTrustThreshold() != 0.3 {
		t.Fatalf("spec %v", s)
	}
	e.ok("evolution", "start", "open", "--suite", "bbob-f8-d10", "--strategy", "cmaes", "--detach", "--trust-threshold", "-1")
	if s := f.created[1].GetEvolution().GetSpec(); s.GetTrustThreshold() != -1 || s.GetPersonality() != nil || s.GetTrustScorer() != nil {
		t.Fatalf("spec %v", s)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--trust-threshold", "1.5"}, "--trust-threshold 1.5"},
		{[]string{"--personality", "a@"}, "--personality"},
		{[]string{"--trust-scorer", "x/y"}, "--trust-scorer"},
	} {
		args := append([]string{"evolution", "start", "bad", "--suite", "bbob-f8-d10", "--strategy", "cmaes", "--detach"}, c.args...)
		if out := e.fail(args...); !strings.Contains(out, c.want) {
			t.Errorf("%v: %q", c.args, out)
		}
	}
	if len(f.created) != 2 {
		t.Fatalf("%d creates: bad flags reached the server", len(f.created))
	}
}

func TestEvolutionDescribeShowsTheGate(t *testing.T) {
	f, e := newFakeEvolutions(t)
	ev := withStatus("Succeeded", 2, 100, 0.05, "")
	ev.Spec.Personality = &v1.PluginRef{Name: "conservative"}
	ev.Spec.TrustThreshold = 0.25
	f.evolutions["demo"] = ev
	out := strings.Join(strings.Fields(e.ok("evolution", "describe", "demo")), " ")
	for _, want := range []string{"Trust scorer: beta", "Trust threshold: 0.25", "Personality: conservative"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}
