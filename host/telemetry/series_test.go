package telemetry

import (
	"errors"
	"strings"
	"testing"
)

func TestLabelsRoundTrip(t *testing.T) {
	for _, ls := range []map[string]string{
		nil,
		{"route": "/solve"},
		{"z": "1", "a": `quote " and \ and , and }`, "_m": "ünïcode\n"},
	} {
		s := FormatLabels(ls)
		back, err := ParseLabels(s)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		if len(back) != len(ls) {
			t.Fatalf("%q parsed to %v, want %v", s, back, ls)
		}
		for k, v := range ls {
			if back[k] != v {
				t.Fatalf("%q: label %s is %q, want %q", s, k, back[k], v)
			}
		}
	}
	if got := FormatLabels(map[string]string{"b": "2", "a": "1"}); got != `{a="1",b="2"}` {
		t.Fatalf("not sorted: %s", got)
	}
}

func TestParseLabelsRefusesBadInput(t *testing.T) {
	for _, in := range []string{`a="1"`, `{a="1"`, `{a}`, `{a=1}`, `{a="1"b="2"}`, `{a="1",}`, `{1a="x"}`, `{__name__="x"}`, `{a="1",a="2"}`, `{a="1}`} {
		if _, err := ParseLabels(in); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
	_, err := ParseLabels(`{__x="1"}`)
	if !errors.Is(err, errName) || !strings.Contains(err.Error(), "reserves") {
		t.Fatalf("reserved label: %v", err)
	}
}

func TestSeriesValidate(t *testing.T) {
	good := Series{Agent: "solver", Version: "v1", Source: SourceContainer, Metric: "container_memory_bytes", Labels: FormatLabels(map[string]string{"node": "n1"})}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := good.String(); got != `solver@v1/container/container_memory_bytes{node="n1"}` {
		t.Fatalf("String: %s", got)
	}
	for _, tc := range []struct {
		mut  func(*Series)
		want string
	}{
		{func(s *Series) { s.Agent = "" }, "agent is empty"},
		{func(s *Series) { s.Version = "" }, "version is empty"},
		{func(s *Series) { s.Source = "gpu" }, `source "gpu"`},
		{func(s *Series) { s.Metric = "9lives" }, `metric name "9lives"`},
		{func(s *Series) { s.Labels = `{b="1",a="1"}` }, "canonical"},
	} {
		s := good
		tc.mut(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", s, err, tc.want)
		}
	}
}
