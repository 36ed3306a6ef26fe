package registry

import (
	"errors"
	"strings"
	"testing"
)

const goodManifest = `name: random
version: 1.2.0
kind: strategy
abi: 1
capabilities: [log, random]
limits:
  memory_bytes: 33554432
  call_timeout_millis: 500
description: uniform random search
author: Stratoswarm
`

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "random" || m.Version != "1.2.0" || m.Kind != KindStrategy || m.Limits.MemoryBytes != 32<<20 || m.Limits.MaxOutputBytes != DefaultMaxOutputBytes {
		t.Fatalf("parsed %+v", m)
	}
}

func TestBadManifestsNameTheKey(t *testing.T) {
	cases := []struct{ edit, want string }{
		{"name: Random\n", `key "name"`},
		{"version: 1.2\n", `key "version"`},
		{"version: v1.2.0\n", `key "version"`},
		{"kind: scorer\n", `key "kind"`},
		{"abi: 2\n", `ABI version 2 is not supported`},
		{"capabilities: [root]\n", `key "capabilities": "root"`},
		{"capabilities: [log, log]\n", `listed twice`},
		{"optional_capabilities: [root]\n", `key "optional_capabilities": "root"`},
		{"optional_capabilities: [log]\n", `key "optional_capabilities": "log" is listed twice`},
		{"limits: {memory_bytes: 10}\n", `key "limits.memory_bytes"`},
		{"limits: {call_timeout_millis: -1}\n", `key "limits.call_timeout_millis"`},
		{"limits: {max_output_bytes: 1}\n", `key "limits.max_output_bytes"`},
		{"limits: {memroy: 1}\n", `unknown field "memroy"`},
		{"colour: blue\n", `unknown field "colour"`},
		{"abi: one\n", `key abi`},
	}
	for _, c := range cases {
		key := strings.SplitN(c.edit, ":", 2)[0]
		var lines []string
		for _, l := range strings.Split(goodManifest, "\n") {
			if strings.HasPrefix(l, key+":") || (key == "limits" && strings.HasPrefix(l, "  ")) {
				continue
			}
			lines = append(lines, l)
		}
		doc := strings.Join(lines, "\n") + c.edit
		_, err := ParseManifest([]byte(doc))
		if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.edit, err, c.want)
		}
	}
	if _, err := ParseManifest([]byte(strings.Repeat("#", 70000))); err == nil {
		t.Error("oversized manifest accepted")
	}
}

// FuzzParseManifest: any input gives a manifest that passes Check or an
// ErrManifest, never a panic.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte("name: x\nversion: 0.0.1\nkind: trust\nabi: 1\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("- a\n- b"))
	f.Add([]byte("limits: {memory_bytes: 99999999999999999999}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error not marked ErrManifest: %v", err)
			}
			return
		}
		if err := m.Check(); err != nil {
			t.Fatalf("accepted manifest fails Check: %v", err)
		}
	})
}
