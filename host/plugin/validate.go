package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// HostModule is the import module of the host functions of ABI version 1.
const HostModule = "swarm:host/v1"

// ABIVersion is the plugin ABI version this package implements.
const ABIVersion = 1

// Info describes a module that passed Validate.
type Info struct {
	ABIVersion int
	Kind       Kind
	// Exports are the names of the exported functions and memories, sorted.
	Exports []string
	// Imports are the imported functions as "module.name", sorted.
	Imports []string
	// UsesWASI reports whether the module imports wasi_snapshot_preview1.
	UsesWASI bool
}

// hostFunc describes one function of swarm:host/v1.
type hostFunc struct {
	name    string
	cap     Capability
	params  []api.ValueType
	results []api.ValueType
}

// hostFuncs lists swarm:host/v1 (ABI.md §4).
func hostFuncs() []hostFunc {
	i32, i64, f64 := api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF64
	return []hostFunc{
		{"log", CapLog, []api.ValueType{i32, i32, i32}, nil},
		{"clock_now", CapClock, nil, []api.ValueType{i64}},
		{"random_u64", CapRandom, nil, []api.ValueType{i64}},
		{"metric", CapMetrics, []api.ValueType{i32, i32, f64}, nil},
		{"llm_complete", CapLLM, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	}
}

// sigAlloc, sigFree, sigOp and sigMarker are the ABI's export signatures.
func sigAlloc() signature {
	return sig([]api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32})
}
func sigFree() signature { return sig([]api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil) }
func sigOp() signature {
	return sig([]api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64})
}
func sigMarker() signature { return sig(nil, nil) }

// Validate checks a module without running it: the upload gate. It decodes
// and compiles wasm (the compiled code lands in the cache, so a later Load
// is quick), then checks the ABI marker, the memory and allocator exports,
// the operation exports of kind, and that every import is a host function
// of a granted (or optional) capability or a WASI function. limits are
// checked for range and the module's initial memory must fit
// limits.MemoryBytes. optional lists capabilities the plugin runs without
// (Config.Optional).
func (h *Host) Validate(ctx context.Context, wasm []byte, kind Kind, caps []Capability, limits Limits, optional ...Capability) (Info, error) {
	if h.isClosed() {
		return Info{}, errors.New("plugin host is closed: create a new Host to validate plugins")
	}
	l, err := limits.normalized()
	if err != nil {
		return Info{}, fmt.Errorf("invalid plugin limits: %w", err)
	}
	r := h.newRuntime(ctx, l)
	defer r.Close(ctx)
	cm, info, err := h.inspect(ctx, r, wasm, kind, caps, optional)
	if err != nil {
		return Info{}, err
	}
	_ = cm.Close(ctx)
	return info, nil
}

// inspect compiles wasm in r and checks it against the ABI. On success the
// caller owns the compiled module.
func (h *Host) inspect(ctx context.Context, r wazero.Runtime, wasm []byte, kind Kind, caps, optional []Capability) (wazero.CompiledModule, Info, error) {
	if err := kind.check(); err != nil {
		return nil, Info{}, fmt.Errorf("invalid plugin manifest: %w", err)
	}
	granted := map[Capability]bool{}
	for _, c := range caps {
		if err := c.check(); err != nil {
			return nil, Info{}, fmt.Errorf("invalid plugin manifest: %w", err)
		}
		granted[c] = true
	}
	linkable := maps.Clone(granted)
	for _, c := range optional {
		if err := c.check(); err != nil {
			return nil, Info{}, fmt.Errorf("invalid plugin manifest: optional: %w", err)
		}
		linkable[c] = true
	}
	if granted[CapLLM] && h.opts.LLM == nil {
		return nil, Info{}, errors.New("invalid plugin manifest: the llm capability cannot be granted: this swarmd has no LLM configured (configure one, or remove llm from the plugin's capabilities)")
	}
	if err := checkHeader(wasm); err != nil {
		return nil, Info{}, fmt.Errorf("invalid plugin: %w", err)
	}
	cctx := experimental.WithCompilationWorkers(ctx, max(1, min(runtime.GOMAXPROCS(0), 4)))
	cm, err := r.CompileModule(cctx, wasm)
	if err != nil {
		return nil, Info{}, fmt.Errorf("invalid plugin: the module does not decode, validate or fit its memory limit: %w (if the upload was truncated or corrupted, upload it again; if its initial memory is over the limit, raise memory_bytes)", err)
	}
	info, problems := h.check(cm, wasm, kind, linkable)
	if len(problems) > 0 {
		_ = cm.Close(ctx)
		return nil, Info{}, fmt.Errorf("invalid plugin: %s", strings.Join(problems, "; "))
	}
	return cm, info, nil
}

// checkHeader gives clear errors for bytes that are not a core module.
func checkHeader(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("the module is empty (0 bytes): upload the .wasm file")
	case len(b) < 8:
		return fmt.Errorf("the module is %d bytes, too short to be WebAssembly (truncated upload?)", len(b))
	case !bytes.Equal(b[:4], []byte("\x00asm")):
		hint := ""
		if bytes.Contains(b[:min(len(b), 4096)], []byte("(module")) {
			hint = " (this is WAT text: compile it with wat2wasm)"
		}
		return fmt.Errorf("not a WebAssembly module: it does not start with \\0asm%s", hint)
	case bytes.Equal(b[4:8], []byte{0x0d, 0x00, 0x01, 0x00}):
		return errors.New("this is a WebAssembly component (component model), not a core module: build a core module, e.g. GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
	case !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}):
		return fmt.Errorf("WebAssembly binary version %d is not supported: build a WebAssembly 1.0 module", uint32(b[4])|uint32(b[5])<<8|uint32(b[6])<<16|uint32(b[7])<<24)
	}
	return nil
}

// check returns the module's Info and every way it breaks the ABI.
func (h *Host) check(cm wazero.CompiledModule, wasm []byte, kind Kind, linkable map[Capability]bool) (Info, []string) {
	info := Info{ABIVersion: ABIVersion, Kind: kind}
	exports := cm.ExportedFunctions()

	// The marker decides whether anything else is worth saying.
	if def, ok := exports["swarm_abi_v1"]; ok {
		if s := sigOf(def); s != sigMarker() {
			return info, []string{fmt.Sprintf("export swarm_abi_v1 has type %s; ABI v1 requires %s", s, sigMarker())}
		}
	} else {
		var others []int
		for name := range exports {
			if rest, ok := strings.CutPrefix(name, "swarm_abi_v"); ok {
				if n, err := strconv.Atoi(rest); err == nil && n != ABIVersion {
					others = append(others, n)
				}
			}
		}
		if len(others) > 0 {
			slices.Sort(others)
			return info, []string{fmt.Sprintf("ABI version %d is not supported; this swarmd supports %d (rebuild the plugin with an SDK for ABI v%d)", others[0], ABIVersion, ABIVersion)}
		}
		return info, []string{"not a Stratoswarm plugin: no swarm_abi_v1 export (build it with the Stratoswarm SDK, or export an empty function swarm_abi_v1)"}
	}

	var problems []string
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		problems = append(problems, `the module exports no linear memory named "memory" (ABI v1 requires it)`)
	}
	want := func(name string, s signature, why string) {
		def, ok := exports[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing export %s %s (%s)", name, s, why))
			return
		}
		if got := sigOf(def); got != s {
			problems = append(problems, fmt.Sprintf("export %s has type %s; ABI v1 requires %s", name, got, s))
		}
	}
	want("swarm_alloc", sigAlloc(), "every plugin needs it")
	want("swarm_free", sigFree(), "every plugin needs it")
	if def, ok := exports["_initialize"]; ok {
		if got := sigOf(def); got != sigMarker() {
			problems = append(problems, fmt.Sprintf("export _initialize has type %s; it must be %s", got, sigMarker()))
		}
	} else if _, ok := exports["_start"]; ok {
		problems = append(problems, "the module exports _start but not _initialize: it is a WASI command, not a reactor (build Go plugins with -buildmode=c-shared)")
	}

	// Operations: all of this kind, none of another.
	var foreign []string
	for _, other := range kinds() {
		if other == kind {
			continue
		}
		var found []string
		for name := range exports {
			if strings.HasPrefix(name, "swarm_"+string(other)+"_") {
				found = append(found, name)
			}
		}
		if len(found) > 0 {
			sort.Strings(found)
			foreign = append(foreign, fmt.Sprintf("manifest says kind %s but the module exports %s operations: %s", kind, other, strings.Join(found, ", ")))
		}
	}
	var missing []string
	for _, op := range kind.operations() {
		def, ok := exports[op]
		if !ok {
			missing = append(missing, op)
			continue
		}
		if got := sigOf(def); got != sigOp() {
			problems = append(problems, fmt.Sprintf("operation export %s has type %s; ABI v1 requires %s", op, got, sigOp()))
		}
	}
	if len(foreign) > 0 {
		if len(missing) == len(kind.operations()) {
			problems = append(problems, strings.Join(foreign, "; ")+" (fix the manifest's kind, or build the plugin for the right kind)")
			missing = nil
		} else {
			problems = append(problems, strings.Join(foreign, "; ")+" (a plugin may export operations of its own kind only)")
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("kind %s requires operation exports %s %s; missing: %s", kind, strings.Join(kind.operations(), ", "), sigOp(), strings.Join(missing, ", ")))
	}

	// Imports: functions only, from the host module (granted) or WASI.
	imports, err := scanImports(wasm)
	if err != nil {
		problems = append(problems, err.Error())
	}
	funcSigs := map[[2]string]signature{}
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		funcSigs[[2]string{mod, name}] = sigOf(def)
	}
	offered := map[string]hostFunc{}
	var offeredNames []string
	for _, f := range hostFuncs() {
		offered[f.name] = f
		offeredNames = append(offeredNames, f.name)
	}
	for _, im := range imports {
		full := im.module + "." + im.name
		if im.kind != importFunc {
			problems = append(problems, fmt.Sprintf("the module imports %s %s; plugins may import functions only (export the memory instead of importing it)", im.kindName(), full))
			continue
		}
		got := funcSigs[[2]string{im.module, im.name}]
		switch im.module {
		case HostModule:
			f, ok := offered[im.name]
			if !ok {
				problems = append(problems, fmt.Sprintf("the module imports %s, which ABI v1 does not offer (%s offers %s)", full, HostModule, strings.Join(offeredNames, ", ")))
				continue
			}
			if want := sig(f.params, f.results); got != want {
				problems = append(problems, fmt.Sprintf("the module imports %s with type %s; ABI v1 defines it as %s", full, got, want))
			}
			if !linkable[f.cap] {
				problems = append(problems, fmt.Sprintf("the module imports %s, which needs the %q capability, and that was not granted (add %s to the manifest's capabilities and have the operator's policy allow it, list it in optional_capabilities if the plugin can run without it, or drop the import)", full, f.cap, f.cap))
			}
		case wasi_snapshot_preview1.ModuleName:
			info.UsesWASI = true
			want, ok := h.wasi[im.name]
			if !ok {
				problems = append(problems, fmt.Sprintf("the module imports %s, which is not a WASI preview 1 function", full))
			} else if got != want {
				problems = append(problems, fmt.Sprintf("the module imports %s with type %s; WASI defines it as %s", full, got, want))
			}
		default:
			problems = append(problems, fmt.Sprintf("the module imports %s from module %q, which the host does not provide: plugins may import only from %s and %s", full, im.module, HostModule, wasi_snapshot_preview1.ModuleName))
		}
		info.Imports = append(info.Imports, full)
	}
	sort.Strings(info.Imports)
	info.Imports = slices.Compact(info.Imports)
	for name := range exports {
		info.Exports = append(info.Exports, name)
	}
	for name := range cm.ExportedMemories() {
		info.Exports = append(info.Exports, name)
	}
	sort.Strings(info.Exports)
	return info, problems
}

const importFunc = 0x00

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	module, name string
	kind         byte
}

func (im wasmImport) kindName() string {
	switch im.kind {
	case 0x00:
		return "function"
	case 0x01:
		return "table"
	case 0x02:
		return "memory"
	case 0x03:
		return "global"
	case 0x04:
		return "tag"
	}
	return fmt.Sprintf("import of kind %#x", im.kind)
}

// scanImports reads the import section of a module that wazero already
// decoded, since wazero's API lists imported functions and memories but
// not tables or globals. It stops at the first import that is not a
// function: that one is refused anyway.
func scanImports(b []byte) ([]wasmImport, error) {
	bad := errors.New("cannot read the module's import section (corrupt module?)")
	r := reader{b: b, i: 8}
	for r.i < len(r.b) {
		id, ok := r.byte()
		if !ok {
			return nil, bad
		}
		size, ok := r.u32()
		if !ok || uint64(r.i)+uint64(size) > uint64(len(r.b)) {
			return nil, bad
		}
		if id != 2 {
			r.i += int(size)
			continue
		}
		sec := reader{b: r.b[r.i : r.i+int(size)]}
		n, ok := sec.u32()
		if !ok {
			return nil, bad
		}
		var out []wasmImport
		for range n {
			mod, ok1 := sec.name()
			name, ok2 := sec.name()
			kind, ok3 := sec.byte()
			if !ok1 || !ok2 || !ok3 {
				return nil, bad
			}
			out = append(out, wasmImport{mod, name, kind})
			if kind != importFunc {
				return out, nil
			}
			if _, ok := sec.u32(); !ok {
				return nil, bad
			}
		}
		return out, nil
	}
	return nil, nil
}

// reader decodes the few binary forms scanImports needs.
type reader struct {
	b []byte
	i int
}

func (r *reader) byte() (byte, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	r.i++
	return r.b[r.i-1], true
}

func (r *reader) u32() (uint32, bool) {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c, ok := r.byte()
		if !ok {
			return 0, false
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return uint32(v), v <= 0xffffffff
		}
	}
	return 0, false
}

func (r *reader) name() (string, bool) {
	n, ok := r.u32()
	if !ok || uint64(r.i)+uint64(n) > uint64(len(r.b)) {
		return "", false
	}
	s := string(r.b[r.i : r.i+int(n)])
	r.i += int(n)
	return s, true
}
