package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pluginDirs returns every directory under plugins/ with a plugin.yaml,
// relative to this package's directory, e.g. "strategy/random".
func pluginDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "plugin.yaml" {
			dirs = append(dirs, filepath.ToSlash(filepath.Dir(path)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"strategy/random", "trust/beta", "personality/balanced"} {
		if !slices.Contains(dirs, want) {
			t.Fatalf("built-in plugin %s has no plugin.yaml (found %v)", want, dirs)
		}
	}
	return dirs
}

// manifest is plugin.yaml as flat keys ("limits.memory_bytes").
type manifest map[string]string

// readManifest parses the simple YAML of a plugin manifest: top-level
// scalars, one nested map (limits), a folded scalar (description: >-) and an
// inline list (capabilities: []).
func readManifest(path string) (manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := manifest{}
	key := regexp.MustCompile(`^( *)([a-z_]+):(?: +(.*))?$`)
	parent, folded := "", ""
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if folded != "" && strings.HasPrefix(line, "  ") {
			m[folded] = strings.TrimSpace(m[folded] + " " + strings.TrimSpace(line))
			continue
		}
		folded = ""
		g := key.FindStringSubmatch(line)
		if g == nil {
			return nil, fmt.Errorf("%s:%d: cannot read %q", path, i+1, line)
		}
		name, value := g[2], strings.TrimSpace(g[3])
		switch {
		case g[1] == "" && value == "":
			parent = name
			m[name] = ""
		case g[1] == "":
			parent = ""
			if value == ">-" || value == ">" {
				folded = name
				value = ""
			}
			m[name] = value
		case parent != "":
			m[parent+"."+name] = value
		default:
			return nil, fmt.Errorf("%s:%d: indented key %q outside a map", path, i+1, name)
		}
	}
	return m, nil
}

func TestManifests(t *testing.T) {
	allowed := []string{"name", "version", "kind", "abi", "capabilities", "optional_capabilities", "limits",
		"limits.memory_bytes", "limits.call_timeout_millis", "limits.max_output_bytes", "description", "author"}
	for _, dir := range pluginDirs(t) {
		m, err := readManifest(filepath.Join(dir, "plugin.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for k := range m {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s: unknown key %q (the host reads manifests strictly)", dir, k)
			}
		}
		kind, name := filepath.Dir(dir), filepath.Base(dir)
		checks := []struct {
			key string
			ok  func(string) bool
		}{
			{"name", func(v string) bool { return v == name }},
			{"kind", func(v string) bool { return v == kind }},
			{"version", regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString},
			{"abi", func(v string) bool { return v == "1" }},
			{"capabilities", func(v string) bool { return v == "[]" }},
			{"author", func(v string) bool { return v == "Stratoswarm" }},
			{"description", func(v string) bool { return len(v) > 20 }},
			{"limits.memory_bytes", positive},
			{"limits.call_timeout_millis", positive},
			{"limits.max_output_bytes", positive},
		}
		// optional_capabilities, when present, is [] or [llm]: a built-in may
		// use an LLM when the operator grants one and must run without it.
		if v, ok := m["optional_capabilities"]; ok && v != "[]" && v != "[llm]" {
			t.Errorf("%s/plugin.yaml: optional_capabilities = %q, want [] or [llm]", dir, v)
		}
		for _, c := range checks {
			if v, ok := m[c.key]; !ok || !c.ok(v) {
				t.Errorf("%s/plugin.yaml: %s = %q (present: %v)", dir, c.key, v, ok)
			}
		}
	}
}

func positive(v string) bool {
	n, err := strconv.ParseInt(v, 10, 64)
	return err == nil && n > 0
}

// TestPluginsBuildToABIModules builds every built-in plugin as build.sh does
// (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) and reads each module: it
// must be WebAssembly, export memory, the marker, the allocator pair,
// _initialize and exactly its own kind's operations with the ABI's types,
// and import nothing but WASI (the manifests grant no capability).
func TestPluginsBuildToABIModules(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goroot := os.Getenv("GOROOT")
		if goroot == "" {
			t.Fatalf("no go command on PATH and no GOROOT: %v", err)
		}
		goBin = filepath.Join(goroot, "bin", "go")
	}
	ops := map[string][]string{
		"strategy":    {"swarm_strategy_init", "swarm_strategy_propose", "swarm_strategy_observe", "swarm_strategy_snapshot", "swarm_strategy_restore"},
		"trust":       {"swarm_trust_score"},
		"personality": {"swarm_personality_adjust"},
	}
	out := t.TempDir()
	for _, dir := range pluginDirs(t) {
		kind := filepath.Dir(dir)
		file := filepath.Join(out, strings.ReplaceAll(dir, "/", "-")+".wasm")
		cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", file, "./"+dir)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", dir, err, b)
		}
		wasm, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if !bytes.HasPrefix(wasm, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Fatalf("%s: not a WebAssembly 1.0 module: % x", dir, wasm[:min(8, len(wasm))])
		}
		mod, err := parseModule(wasm)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		t.Logf("%s: %d bytes, %d exports, %d imports", dir, len(wasm), len(mod.exports), len(mod.imports))

		want := map[string]string{
			"swarm_abi_v1": "()->()",
			"swarm_alloc":  "(i32)->(i32)",
			"swarm_free":   "(i32,i32)->()",
			"_initialize":  "()->()",
		}
		for _, op := range ops[kind] {
			want[op] = "(i32,i32)->(i64)"
		}
		for name, sig := range want {
			if got, ok := mod.funcExports[name]; !ok || got != sig {
				t.Errorf("%s: export %s = %q (present: %v), want %s", dir, name, got, ok, sig)
			}
		}
		if mod.memExports["memory"] != true {
			t.Errorf("%s: no exported memory named memory", dir)
		}
		for _, name := range mod.exports {
			if strings.HasPrefix(name, "swarm_") && want[name] == "" {
				t.Errorf("%s: exports %s, which a %s plugin must not", dir, name, kind)
			}
		}
		m, err := readManifest(filepath.Join(dir, "plugin.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range mod.imports {
			if imp == "swarm:host/v1.llm_complete" && m["optional_capabilities"] == "[llm]" {
				continue // linked to a "not granted" stub when the operator grants no LLM
			}
			if !strings.HasPrefix(imp, "wasi_snapshot_preview1.") {
				t.Errorf("%s: imports %s; a plugin without capabilities may import only WASI (and llm_complete with optional_capabilities: [llm])", dir, imp)
			}
		}
	}
}

// module is what the test reads from a binary module.
type module struct {
	exports     []string
	funcExports map[string]string // name → "(i32,i32)->(i64)"
	memExports  map[string]bool
	imports     []string // "module.name"
}

// reader reads the binary format's primitives.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated module")

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("bad LEB128")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = errShort
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func (r *reader) limits() {
	if r.byte()&1 == 1 {
		r.u32()
	}
	r.u32()
}

func valtypes(r *reader) string {
	n := r.u32()
	var out []string
	for range n {
		switch t := r.byte(); t {
		case 0x7f:
			out = append(out, "i32")
		case 0x7e:
			out = append(out, "i64")
		case 0x7d:
			out = append(out, "f32")
		case 0x7c:
			out = append(out, "f64")
		default:
			out = append(out, fmt.Sprintf("0x%x", t))
		}
	}
	return "(" + strings.Join(out, ",") + ")"
}

// parseModule reads the type, import, function and export sections.
func parseModule(wasm []byte) (*module, error) {
	r := &reader{b: wasm[8:]}
	m := &module{funcExports: map[string]string{}, memExports: map[string]bool{}}
	var types, funcTypes []string // funcTypes: imported functions first
	type export struct {
		name  string
		kind  byte
		index uint32
	}
	var exports []export
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		sec := &reader{b: r.bytes(r.u32())}
		switch id {
		case 1: // types
			for range sec.u32() {
				if sec.byte() != 0x60 {
					return nil, errors.New("type section: not a function type")
				}
				params := valtypes(sec)
				types = append(types, params+"->"+valtypes(sec))
			}
		case 2: // imports
			for range sec.u32() {
				mod, name := sec.name(), sec.name()
				m.imports = append(m.imports, mod+"."+name)
				switch sec.byte() {
				case 0x00:
					funcTypes = append(funcTypes, typeAt(types, sec.u32()))
				case 0x01:
					sec.byte()
					sec.limits()
				case 0x02:
					sec.limits()
				case 0x03:
					sec.byte()
					sec.byte()
				default:
					return nil, errors.New("import section: unknown import kind")
				}
			}
		case 3: // functions
			for range sec.u32() {
				funcTypes = append(funcTypes, typeAt(types, sec.u32()))
			}
		case 7: // exports
			for range sec.u32() {
				exports = append(exports, export{name: sec.name(), kind: sec.byte(), index: sec.u32()})
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, sec.err)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	for _, e := range exports {
		m.exports = append(m.exports, e.name)
		switch e.kind {
		case 0x00:
			if int(e.index) >= len(funcTypes) {
				return nil, fmt.Errorf("export %s: function %d does not exist", e.name, e.index)
			}
			m.funcExports[e.name] = funcTypes[e.index]
		case 0x02:
			m.memExports[e.name] = true
		}
	}
	return m, nil
}

func typeAt(types []string, i uint32) string {
	if int(i) < len(types) {
		return types[i]
	}
	return fmt.Sprintf("type %d?", i)
}
