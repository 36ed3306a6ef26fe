package main

import (
	"bytes"
	"context"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/registry"
)

// asMainEnv makes the test binary run swarmctl's main instead of the tests,
// so that TestExtensionsGuide can put it on a shell's PATH as swarmctl.
const asMainEnv = "SWARMCTL_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		return
	}
	cleanup, err := provideSwarmInit()
	if err != nil {
		fmt.Fprintln(os.Stderr, "swarmctl tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// shared holds the plugin modules built once per test binary, by kind.
var shared struct {
	mu     sync.Mutex
	dir    string
	byKind map[string]*builtPlugin
}

// builtPlugin is a project made by plugin init and compiled by plugin build.
type builtPlugin struct {
	module, manifest string
	err              error
}

// sdkPath is the SDK directory of this checkout.
func sdkPath(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "sdk-wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("the SDK is not at %s: %v", dir, err)
	}
	return dir
}

// needGo fails tests that build Wasm when there is no Go toolchain.
func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("no go tool on PATH (%v): these tests build Wasm plugins with it", err)
	}
}

// pluginModule returns the module and manifest of a plugin of kind named
// hello-<kind>, made with plugin init and plugin build the first time it is
// asked for, then copied into a fresh temporary directory for each caller.
func pluginModule(t *testing.T, kind string) (module, manifest string) {
	t.Helper()
	needGo(t)
	sdk := sdkPath(t)
	shared.mu.Lock()
	if shared.byKind == nil {
		shared.byKind = map[string]*builtPlugin{}
	}
	b := shared.byKind[kind]
	if b == nil {
		b = &builtPlugin{}
		shared.byKind[kind] = b
		b.module, b.manifest, b.err = buildShared(kind, sdk)
	}
	shared.mu.Unlock()
	if b.err != nil {
		t.Fatalf("build a %s plugin: %v", kind, b.err)
	}
	dir := t.TempDir()
	module = filepath.Join(dir, filepath.Base(b.module))
	manifest = filepath.Join(dir, "plugin.yaml")
	copyFile(t, b.module, module)
	copyFile(t, b.manifest, manifest)
	return module, manifest
}

// buildShared runs plugin init and plugin build in the shared directory.
// Callers hold shared.mu.
func buildShared(kind, sdk string) (module, manifest string, err error) {
	if shared.dir == "" {
		if shared.dir, err = os.MkdirTemp("", "swarmctl-plugins-"); err != nil {
			return "", "", err
		}
	}
	name := "hello-" + kind
	dir := filepath.Join(shared.dir, name)
	swarmctl := func(args ...string) error {
		var out, errOut bytes.Buffer
		root := newRootCmd(strings.NewReader(""), &out, &errOut, func(k string) string {
			if k == "SWARM_SDK" {
				return sdk
			}
			return ""
		})
		if code := execute(context.Background(), root, args); code != 0 {
			return fmt.Errorf("swarmctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return nil
	}
	if err := swarmctl("plugin", "init", dir, "--kind", kind); err != nil {
		return "", "", err
	}
	if err := swarmctl("plugin", "build", dir); err != nil {
		return "", "", err
	}
	return filepath.Join(dir, name+".wasm"), filepath.Join(dir, "plugin.yaml"), nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setManifest rewrites a manifest's name and version.
func setManifest(t *testing.T, path, name, version string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(string(data), "name: "+name)
	s = regexp.MustCompile(`(?m)^version: .*$`).ReplaceAllString(s, "version: "+version)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// keyID reads the key id that keygen printed.
func keyID(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`Key id: ([0-9a-f]{16})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keygen printed no key id:\n%s", out)
	}
	return m[1]
}

// getPlugin reads a plugin through describe -o json.
func (e *env) getPlugin(name string) *v1.Plugin {
	e.t.Helper()
	p := &v1.Plugin{}
	if err := protojson.Unmarshal([]byte(e.ok("plugin", "describe", name, "-o", "json")), p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// row finds the line of a table whose first field is first.
func row(table, first string) []string {
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == first {
			return f
		}
	}
	return nil
}

func TestPluginSignPushPromoteRollback(t *testing.T) {
	module, manifest := pluginModule(t, "trust")
	e := newEnv(t)
	keyDir := t.TempDir()
	keyBase := filepath.Join(keyDir, "me")

	// keygen: a private key only its owner reads, a public key, the key id
	out := e.ok("plugin", "keygen", "--out", keyBase)
	id := keyID(t, out)
	st, err := os.Stat(keyBase + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
	}
	pubPEM, err := os.ReadFile(keyBase + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := registry.ParsePublicKey(pubPEM)
	if err != nil || registry.KeyID(pub) != id {
		t.Fatalf("public key %v, id %s: %v", pub, id, err)
	}
	keyBefore, _ := os.ReadFile(keyBase + ".key")
	if msg := e.fail("plugin", "keygen", "--out", keyBase); !strings.Contains(msg, "--force") {
		t.Errorf("keygen over an existing key: %s", msg)
	}
	if keyAfter, _ := os.ReadFile(keyBase + ".key"); !bytes.Equal(keyBefore, keyAfter) {
		t.Fatal("a refused keygen changed the key")
	}
	other := keyID(t, e.ok("plugin", "keygen", "--out", filepath.Join(keyDir, "other")))
	replaced := keyID(t, e.ok("plugin", "keygen", "--out", filepath.Join(keyDir, "other"), "--force"))
	if replaced == other {
		t.Error("keygen --force made the same key again")
	}

	// the operator trusts the key
	if got := e.ok("plugin", "key", "add", keyBase+".pub", "--comment", "test key"); got != "key/"+id+" trusted (test key)\n" {
		t.Errorf("key add: %q", got)
	}
	if f := row(e.ok("plugin", "key", "ls"), id); len(f) != 5 || f[1] != "test" || f[2] != "key" || f[3] != "no" {
		t.Errorf("key ls row %v", f)
	}

	// sign writes FILE.wasm.sig, which push picks up
	if out := e.ok("plugin", "sign", module, "--key", keyBase+".key"); !strings.Contains(out, "with key "+id) || !strings.Contains(out, module+".sig") {
		t.Errorf("sign: %q", out)
	}
	if _, err := os.Stat(module + ".sig"); err != nil {
		t.Fatal(err)
	}
	r := e.run("plugin", "push", module, "--manifest", manifest)
	if r.code != 0 {
		t.Fatalf("push: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"Plugin:     hello-trust", "Version:    0.1.0", "State:      Candidate", "Signed by:  " + id, "smoke_separation", "swarmctl plugin promote hello-trust 0.1.0"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("push output lacks %q:\n%s", want, r.out)
		}
	}

	desc := e.ok("plugin", "describe", "hello-trust")
	v := row(desc, "0.1.0")
	sum := registry.Digest(mustRead(t, module))
	if len(v) < 5 || v[1] != "Candidate" || v[2] != id || v[3] != sum[:12] {
		t.Errorf("describe version row %v:\n%s", v, desc)
	}
	for _, want := range []string{"Kind:", "trust", "Scores:", "smoke_separation", "Evidence:", "benchmark"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}

	// rollback needs a promotion to undo
	if msg := e.fail("plugin", "rollback", "hello-trust"); !strings.Contains(msg, "no previous default") || !strings.Contains(msg, "promote") {
		t.Errorf("rollback before any promotion: %s", msg)
	}
	if got := e.ok("plugin", "promote", "hello-trust", "0.1.0"); got != "plugin/hello-trust promoted: default version 0.1.0\n" {
		t.Errorf("promote: %q", got)
	}
	if f := row(e.ok("plugin", "ls"), "hello-trust"); len(f) != 5 || f[1] != "trust" || f[2] != "0.1.0" || f[3] != "1" {
		t.Errorf("ls row after promote: %v", f)
	}
	if msg := e.fail("plugin", "rollback", "hello-trust"); !strings.Contains(msg, "no previous default") || !strings.Contains(msg, "0.1.0") {
		t.Errorf("rollback after one promotion: %s", msg)
	}
	if msg := e.fail("plugin", "promote", "hello-trust", "0.1.0"); !strings.Contains(msg, "FAILED_PRECONDITION") || !strings.Contains(msg, "already the default") {
		t.Errorf("promote the default again: %s", msg)
	}

	// a second version: push as JSON, promote, roll back
	setManifest(t, manifest, "hello-trust", "0.2.0")
	pj := e.ok("plugin", "push", module, "--manifest", manifest, "-o", "json")
	p := &v1.Plugin{}
	if err := protojson.Unmarshal([]byte(pj), p); err != nil {
		t.Fatalf("push -o json: %v\n%s", err, pj)
	}
	if v := findPluginVersion(p, "0.2.0"); v.GetState() != "Candidate" || v.GetSignedBy() != id {
		t.Errorf("push -o json: version %v", v)
	}
	if got := e.ok("plugin", "promote", "hello-trust", "0.2.0"); got != "plugin/hello-trust promoted: default version 0.2.0 (was 0.1.0)\n" {
		t.Errorf("promote 0.2.0: %q", got)
	}
	if got := e.ok("plugin", "rollback", "hello-trust"); got != "plugin/hello-trust rolled back: default version 0.1.0 (was 0.2.0)\n" {
		t.Errorf("rollback: %q", got)
	}
	p = e.getPlugin("hello-trust")
	if p.GetSpec().GetDefaultVersion() != "0.1.0" || findPluginVersion(p, "0.2.0").GetState() != "Candidate" {
		t.Errorf("after rollback: default %q, 0.2.0 %v", p.GetSpec().GetDefaultVersion(), findPluginVersion(p, "0.2.0"))
	}
	// the same module again under a pushed version is harmless
	if out := e.ok("plugin", "push", module, "--manifest", manifest); !strings.Contains(out, "State:      Candidate") {
		t.Errorf("repeated push:\n%s", out)
	}

	// a module changed after signing is refused and nothing is stored
	tampered := filepath.Join(t.TempDir(), "tampered.wasm")
	copyFile(t, module, tampered)
	tm := filepath.Join(filepath.Dir(tampered), "plugin.yaml")
	copyFile(t, manifest, tm)
	setManifest(t, tm, "tampered", "1.0.0")
	e.ok("plugin", "sign", tampered, "--key", keyBase+".key")
	data := mustRead(t, tampered)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	msg := e.fail("plugin", "push", tampered) // the manifest beside the module
	for _, want := range []string{"push tampered 1.0.0", "PERMISSION_DENIED", "signature does not verify", "hint: ", "plugin sign " + tampered} {
		if !strings.Contains(msg, want) {
			t.Errorf("tampered push error lacks %q: %s", want, msg)
		}
	}
	if msg := e.fail("plugin", "describe", "tampered"); !strings.Contains(msg, "NOT_FOUND") {
		t.Errorf("a refused push stored the plugin: %s", msg)
	}

	// no signature: refused, with a hint
	unsigned := filepath.Join(t.TempDir(), "unsigned.wasm")
	copyFile(t, module, unsigned)
	setManifest(t, manifest, "unsigned", "1.0.0")
	r = e.run("plugin", "push", unsigned, "--manifest", manifest)
	if r.code != 1 || !strings.Contains(r.err, "warning: "+unsigned+" has no signature") || !strings.Contains(r.err, "not signed") ||
		!strings.Contains(r.err, "hint: swarmctl plugin sign "+unsigned+" --key NAME.key writes "+unsigned+".sig") {
		t.Errorf("unsigned push: exit %d\n%s", r.code, r.err)
	}
	e.fail("plugin", "describe", "unsigned")

	// a revoked key: refused, naming the key
	e.ok("plugin", "key", "add", filepath.Join(keyDir, "other.pub"))
	if got := e.ok("plugin", "key", "revoke", replaced); got != "key/"+replaced+" revoked\n" {
		t.Errorf("revoke: %q", got)
	}
	if f := row(e.ok("plugin", "key", "ls"), replaced); len(f) < 3 || f[1] != "other" || f[2] != "yes" {
		t.Errorf("key ls row of the revoked key: %v", f)
	}
	revoked := filepath.Join(t.TempDir(), "revoked.wasm")
	copyFile(t, module, revoked)
	setManifest(t, manifest, "revoked", "1.0.0")
	e.ok("plugin", "sign", revoked, "--key", filepath.Join(keyDir, "other.key"))
	msg = e.fail("plugin", "push", revoked, "--manifest", manifest)
	if !strings.Contains(msg, "revoked") || !strings.Contains(msg, replaced) {
		t.Errorf("push signed by a revoked key: %s", msg)
	}
	e.fail("plugin", "describe", "revoked")

	// rm one version, then the plugin
	if got := e.ok("plugin", "rm", "hello-trust", "--version", "0.2.0"); got != "plugin/hello-trust version 0.2.0 deleted\n" {
		t.Errorf("rm --version: %q", got)
	}
	if msg := e.fail("plugin", "rm", "hello-trust", "--version", "0.2.0"); !strings.Contains(msg, "NOT_FOUND") {
		t.Errorf("rm a removed version: %s", msg)
	}
	e.ok("plugin", "rm", "hello-trust")
	e.ok("plugin", "rm", "hello-trust", "--ignore-not-found")
	if out := e.ok("plugin", "ls", "-o", "json"); strings.Contains(out, "hello-trust") {
		t.Errorf("ls after rm:\n%s", out)
	}
}

func TestPluginPushOfARejectedVersionExitsOne(t *testing.T) {
	module, manifest := pluginModule(t, "trust")
	e := newEnv(t)
	key := filepath.Join(t.TempDir(), "k")
	e.ok("plugin", "keygen", "--out", key)
	e.ok("plugin", "key", "add", key+".pub")
	e.ok("plugin", "sign", module, "--key", key+".key")

	// a capability the operator does not grant
	data := strings.Replace(string(mustRead(t, manifest)), "capabilities: []", "capabilities: [llm]", 1)
	if err := os.WriteFile(manifest, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("plugin", "push", module, "--manifest", manifest)
	if r.code != 1 || !strings.Contains(r.out, "State:      Rejected") || !strings.Contains(r.out, `capability "llm" is not granted`) ||
		!strings.Contains(r.err, "Error: plugin hello-trust 0.1.0 was rejected: ") {
		t.Errorf("push of an ungranted capability: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if v := row(e.ok("plugin", "describe", "hello-trust"), "0.1.0"); len(v) < 2 || v[1] != "Rejected" {
		t.Errorf("describe row %v", v)
	}
	if msg := e.fail("plugin", "promote", "hello-trust", "0.1.0"); !strings.Contains(msg, "only a Candidate") {
		t.Errorf("promote a rejected version: %s", msg)
	}

	// a trust module that says it is a personality: JSON output, exit 1
	setManifest(t, manifest, "mislabelled", "1.0.0")
	data = strings.Replace(string(mustRead(t, manifest)), "kind: trust", "kind: personality", 1)
	data = strings.Replace(data, "capabilities: [llm]", "capabilities: []", 1)
	if err := os.WriteFile(manifest, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.run("plugin", "push", module, "--manifest", manifest, "-o", "json")
	p := &v1.Plugin{}
	if err := protojson.Unmarshal([]byte(r.out), p); err != nil {
		t.Fatalf("push -o json of a rejected version: %v\n%s\n%s", err, r.out, r.err)
	}
	if v := findPluginVersion(p, "1.0.0"); r.code != 1 || v.GetState() != "Rejected" || !strings.Contains(v.GetReason(), "validation") {
		t.Errorf("mislabelled kind: exit %d, version %v\n%s", r.code, v, r.err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPluginPushChecksBeforeConnecting(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	module := filepath.Join(dir, "p.wasm")
	if err := os.WriteFile(module, append(append([]byte{}, wasmMagic...), 0, 0, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := e.fail("plugin", "push", module); !strings.Contains(msg, "--manifest") {
		t.Errorf("no manifest: %s", msg)
	}
	bad := e.writeFile("plugin.yaml", "name: p\nversion: v1.0.0\nkind: trust\nabi: 1\n")
	if msg := e.fail("plugin", "push", module, "--manifest", bad); !strings.Contains(msg, bad) || !strings.Contains(msg, `key "version"`) {
		t.Errorf("bad version: %s", msg)
	}
	typo := e.writeFile("plugin.yaml", "name: p\nversion: 1.0.0\nkind: trust\nabi: 1\ncapabilites: [log]\n")
	if msg := e.fail("plugin", "push", module, "--manifest", typo); !strings.Contains(msg, "capabilites") {
		t.Errorf("unknown key: %s", msg)
	}
	good := e.writeFile("plugin.yaml", "name: p\nversion: 1.0.0\nkind: trust\nabi: 1\n")
	notWasm := e.writeFile("p.wasm", "#!/bin/sh\n")
	if msg := e.fail("plugin", "push", notWasm, "--manifest", good); !strings.Contains(msg, "not a WebAssembly") {
		t.Errorf("not wasm: %s", msg)
	}
	if err := os.WriteFile(module+".sig", []byte("not base64!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := e.fail("plugin", "push", module, "--manifest", good); !strings.Contains(msg, module+".sig") || !strings.Contains(msg, "base64") {
		t.Errorf("malformed signature: %s", msg)
	}
	if msg := e.fail("plugin", "push", module, "--manifest", good, "--signature", filepath.Join(dir, "missing.sig")); !strings.Contains(msg, "missing.sig") {
		t.Errorf("missing --signature file: %s", msg)
	}
	if _, err := os.Stat(e.dataDir); !os.IsNotExist(err) {
		t.Errorf("a push refused locally started local mode (stat: %v)", err)
	}

	// sign and keygen check their inputs too
	if msg := e.fail("plugin", "sign", module); !strings.Contains(msg, "--key") {
		t.Errorf("sign without --key: %s", msg)
	}
	if msg := e.fail("plugin", "sign", module, "--key", good); !strings.Contains(msg, "PRIVATE KEY") {
		t.Errorf("sign with a manifest as key: %s", msg)
	}
	if msg := e.fail("plugin", "keygen"); !strings.Contains(msg, "--out NAME") {
		t.Errorf("keygen without --out: %s", msg)
	}
	if msg := e.fail("plugin", "key", "add", good); !strings.Contains(msg, "PUBLIC KEY") {
		t.Errorf("key add of a manifest: %s", msg)
	}
}

func TestPluginInitChecksAndRendersEveryKind(t *testing.T) {
	e := newEnv(t)
	sdk := sdkPath(t)
	dir := filepath.Join(t.TempDir(), "my-plugin")
	if msg := e.fail("plugin", "init", dir); !strings.Contains(msg, "--kind") {
		t.Errorf("no kind: %s", msg)
	}
	if msg := e.fail("plugin", "init", dir, "--kind", "scorer"); !strings.Contains(msg, "strategy, trust, personality") {
		t.Errorf("bad kind: %s", msg)
	}
	if msg := e.fail("plugin", "init", dir, "--kind", "trust"); !strings.Contains(msg, "SWARM_SDK") {
		t.Errorf("no SDK: %s", msg)
	}
	if msg := e.fail("plugin", "init", dir, "--kind", "trust", "--sdk", t.TempDir()); !strings.Contains(msg, "go.mod") {
		t.Errorf("not an SDK: %s", msg)
	}
	if msg := e.fail("plugin", "init", filepath.Join(t.TempDir(), "My_Plugin"), "--kind", "trust", "--sdk", sdk); !strings.Contains(msg, "--name") {
		t.Errorf("invalid name from DIR: %s", msg)
	}
	e.vars["SWARM_SDK"] = sdk
	out := e.ok("plugin", "init", dir, "--kind", "trust")
	if !strings.Contains(out, "Created trust plugin my-plugin") || !strings.Contains(out, "swarmctl plugin build "+dir) {
		t.Errorf("init output:\n%s", out)
	}
	gomod := string(mustRead(t, filepath.Join(dir, "go.mod")))
	if !strings.Contains(gomod, "module my-plugin\n") || !strings.Contains(gomod, "replace "+sdkModule+" => "+sdk+"\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	m, err := registry.ParseManifest(mustRead(t, filepath.Join(dir, "plugin.yaml")))
	if err != nil || m.Name != "my-plugin" || m.Kind != "trust" || m.Version != "0.1.0" {
		t.Errorf("plugin.yaml: %+v, %v", m, err)
	}
	if msg := e.fail("plugin", "init", dir, "--kind", "trust"); !strings.Contains(msg, "exists") {
		t.Errorf("init over a project: %s", msg)
	}
	if msg := e.fail("plugin", "build", t.TempDir()); !strings.Contains(msg, "go.mod") {
		t.Errorf("build of an empty dir: %s", msg)
	}

	// every kind renders to gofmt-clean Go that imports its SDK package
	for _, kind := range pluginKinds() {
		files, err := renderProject(pluginProject{Name: "x-" + kind, Kind: kind, SDKDir: sdk, GoVersion: "1.26.0"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"main.go", "main_test.go"} {
			if formatted, err := format.Source(files[f]); err != nil || !bytes.Equal(formatted, files[f]) {
				t.Errorf("%s %s is not gofmt-clean (%v)", kind, f, err)
			}
		}
		if !strings.Contains(string(files["main.go"]), `"`+sdkModule+"/"+kind+`"`) {
			t.Errorf("%s main.go does not import its SDK package", kind)
		}
		if _, err := registry.ParseManifest(files["plugin.yaml"]); err != nil {
			t.Errorf("%s plugin.yaml: %v", kind, err)
		}
	}
}

func TestPluginTemplatesOfEveryKindPassTheGates(t *testing.T) {
	e := newEnv(t)
	key := filepath.Join(t.TempDir(), "k")
	e.ok("plugin", "keygen", "--out", key)
	e.ok("plugin", "key", "add", key+".pub")
	for _, kind := range []string{"strategy", "personality"} {
		module, manifest := pluginModule(t, kind)
		e.ok("plugin", "sign", module, "--key", key+".key")
		out := e.ok("plugin", "push", module, "--manifest", manifest)
		if !strings.Contains(out, "State:      Candidate") || !strings.Contains(out, "smoke_") {
			t.Errorf("%s push:\n%s", kind, out)
		}
		if f := row(e.ok("plugin", "ls"), "hello-"+kind); len(f) != 5 || f[1] != kind {
			t.Errorf("%s ls row %v", kind, f)
		}
	}
}

func TestPluginPushWithoutWaitAndWatch(t *testing.T) {
	module, manifest := pluginModule(t, "trust")
	e := newEnv(t)
	srv := startDaemon(t, e.dataDir)
	e.vars["SWARM_SERVER"] = srv.GRPCAddr()
	e.vars["SWARM_TOKEN"] = srv.Token()
	key := filepath.Join(t.TempDir(), "k")
	e.ok("plugin", "keygen", "--out", key)
	e.ok("plugin", "key", "add", key+".pub")
	e.ok("plugin", "sign", module, "--key", key+".key")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched, watchErr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		root := newRootCmd(strings.NewReader(""), watched, watchErr, func(k string) string { return e.vars[k] })
		done <- execute(ctx, root, []string{"plugin", "ls", "-w"})
	}()

	out := e.ok("plugin", "push", module, "--manifest", manifest, "--wait=false")
	if !strings.Contains(out, "plugin/hello-trust 0.1.0 uploaded; the gates run as operation ") || !strings.Contains(out, "swarmctl plugin describe hello-trust") {
		t.Errorf("push --wait=false:\n%s", out)
	}
	waitFor(t, watched, "hello-trust")
	// the same request again returns the operation, now or soon done
	opJSON := e.ok("plugin", "push", module, "--manifest", manifest, "--wait=false", "-o", "json")
	op := &v1.Operation{}
	if err := protojson.Unmarshal([]byte(opJSON), op); err != nil || op.GetKind() != "UploadPlugin" || op.GetTarget() != "plugins/hello-trust" {
		t.Errorf("push --wait=false -o json: %v %v", op, err)
	}
	// waiting on it gives the outcome
	if out := e.ok("plugin", "push", module, "--manifest", manifest); !strings.Contains(out, "State:      Candidate") {
		t.Errorf("push after --wait=false:\n%s", out)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("plugin ls -w: exit %d: %s", code, watchErr.String())
	}
	lines := strings.Split(strings.TrimSpace(watched.String()), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "EVENT NAME KIND DEFAULT VERSIONS AGE" {
		t.Errorf("watch header %q", lines[0])
	}
	// the built-ins may be installed meanwhile, so look for the upload's row
	added := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		added = added || (len(f) >= 2 && f[0] == "ADDED" && f[1] == "hello-trust")
	}
	if !added {
		t.Errorf("watch output has no ADDED hello-trust row:\n%s", watched.String())
	}
}

func TestPluginCompletion(t *testing.T) {
	module, manifest := pluginModule(t, "trust")
	e := newEnv(t)
	key := filepath.Join(t.TempDir(), "k")
	id := keyID(t, e.ok("plugin", "keygen", "--out", key))
	e.ok("plugin", "key", "add", key+".pub")
	e.ok("plugin", "sign", module, "--key", key+".key")
	e.ok("plugin", "push", module, "--manifest", manifest)

	if out := e.ok("__complete", "plugin", "describe", "hel"); !strings.HasPrefix(out, "hello-trust\n") {
		t.Errorf("plugin names: %q", out)
	}
	if out := e.ok("__complete", "plugin", "promote", "hello-trust", ""); !strings.HasPrefix(out, "0.1.0\n") {
		t.Errorf("versions to promote: %q", out)
	}
	if out := e.ok("__complete", "plugin", "rm", "hello-trust", "--version", ""); !strings.HasPrefix(out, "0.1.0\n") {
		t.Errorf("versions to remove: %q", out)
	}
	if out := e.ok("__complete", "plugin", "key", "revoke", ""); !strings.HasPrefix(out, id+"\n") {
		t.Errorf("key ids: %q", out)
	}
	if out := e.ok("__complete", "plugin", "init", "x", "--kind", ""); !strings.HasPrefix(out, "strategy\ntrust\npersonality\n") {
		t.Errorf("kinds: %q", out)
	}
}

func TestPluginHelpHasExamples(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	plugin, _, err := root.Find([]string{"plugin"})
	if err != nil {
		t.Fatal(err)
	}
	var check func(c *cobra.Command)
	check = func(c *cobra.Command) {
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s lacks Short, Long or Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			check(sub)
		}
	}
	check(plugin)
	if a := plugin.Aliases; len(a) == 0 || a[0] != "plugins" {
		t.Errorf("plugin aliases %v", a)
	}
}

// guideBlocks returns the ```sh blocks of a Markdown file and its ```go
// blocks.
func guideBlocks(t *testing.T, path string) (sh []string, goBlocks []string) {
	t.Helper()
	data := string(mustRead(t, path))
	re := regexp.MustCompile("(?ms)^```(sh|go)\n(.*?)^```\\s*$")
	for _, m := range re.FindAllStringSubmatch(data, -1) {
		if m[1] == "sh" {
			sh = append(sh, m[2])
		} else {
			goBlocks = append(goBlocks, m[2])
		}
	}
	return sh, goBlocks
}

// TestExtensionsGuide runs every ```sh block of docs/dev/extensions.md, in
// order, in one bash with `set -euo pipefail`, swarmctl on PATH (this test
// binary, which runs main when SWARMCTL_TEST_AS_MAIN=1) and a fresh home,
// config and data directory: the guide must work as written. The main.go
// it shows must be what plugin init writes.
func TestExtensionsGuide(t *testing.T) {
	needGo(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("no bash on PATH (%v): the guide's shell blocks run with it", err)
	}
	sh, goBlocks := guideBlocks(t, filepath.Join("..", "..", "docs", "dev", "extensions.md"))
	if len(sh) < 5 {
		t.Fatalf("docs/dev/extensions.md has %d sh blocks", len(sh))
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	work := filepath.Join(root, "work")
	for _, d := range []string{bin, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(self, filepath.Join(bin, "swarmctl")); err != nil {
		t.Fatal(err)
	}
	// keep the real Go caches: a fresh HOME would rebuild the world
	goEnv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	script := "set -euo pipefail\n" + strings.Join(sh, "\n")
	cmd := exec.Command(bash, "-c", script)
	cmd.Dir = work
	cmd.Env = []string{
		asMainEnv + "=1",
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"XDG_CONFIG_HOME=" + filepath.Join(root, "config"),
		"XDG_DATA_HOME=" + filepath.Join(root, "data"),
		"XDG_CACHE_HOME=" + filepath.Join(root, "cache"),
		"SWARM_SDK=" + sdkPath(t),
		"GOCACHE=" + goEnv["GOCACHE"],
		"GOMODCACHE=" + goEnv["GOMODCACHE"],
		"GOPATH=" + goEnv["GOPATH"],
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the guide's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{"State:      Candidate", "plugin/hello promoted: default version 0.1.0", "plugin/hello rolled back: default version 0.1.0 (was 0.2.0)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the guide's output lacks %q:\n%s", want, out)
		}
	}
	// the main.go the guide shows is the one plugin init writes (the
	// guide edits it later, so render it again)
	sdk, goVersion, err := checkSDKDir(sdkPath(t))
	if err != nil {
		t.Fatal(err)
	}
	files, err := renderProject(pluginProject{Name: "hello", Kind: "trust", SDKDir: sdk, GoVersion: goVersion})
	if err != nil {
		t.Fatal(err)
	}
	generated := string(files["main.go"])
	found := false
	for _, b := range goBlocks {
		if strings.HasPrefix(b, "// Command hello ") {
			found = true
			if b != generated {
				t.Errorf("the guide's main.go differs from what plugin init writes:\n--- guide\n%s\n--- plugin init\n%s", b, generated)
			}
		}
	}
	if !found {
		t.Error("the guide does not show hello/main.go")
	}
}

func TestProgressBarDrawsOnlyOnATerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, label: "Pushing x 1.0.0", total: 2048, last: -1}
	p.update(1024)
	p.update(1024) // the same percentage is not drawn again
	p.update(2048)
	p.finish()
	want := "\rPushing x 1.0.0 [===============               ]  50% 1KiB/2KiB" +
		"\rPushing x 1.0.0 [==============================] 100% 2KiB/2KiB\n"
	if b.String() != want {
		t.Errorf("progress:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	q := newProgress(&b, "x", 10)
	q.update(5)
	q.finish()
	if b.Len() != 0 || isTerminal(&b) {
		t.Errorf("a progress bar on a buffer: %q", b.String())
	}
}
