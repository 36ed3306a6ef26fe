package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// builtDir holds the built-in plugins, built once with plugins/build.sh.
var builtDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "registry-plugins")
	if err != nil {
		panic(err)
	}
	builtDir = dir
	cmd := exec.Command("bash", "../../plugins/build.sh", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the built-in plugins: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func builtin(t *testing.T, base string) (manifest, module []byte) {
	t.Helper()
	var err error
	if manifest, err = os.ReadFile(filepath.Join(builtDir, base+".yaml")); err != nil {
		t.Fatal(err)
	}
	if module, err = os.ReadFile(filepath.Join(builtDir, base+".wasm")); err != nil {
		t.Fatal(err)
	}
	return manifest, module
}

// withVersion rewrites the manifest's version line.
func withVersion(manifest []byte, version string) []byte {
	var out []string
	for _, l := range strings.Split(string(manifest), "\n") {
		if strings.HasPrefix(l, "version:") {
			l = "version: " + version
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

func withLine(manifest []byte, key, line string) []byte {
	var out []string
	for _, l := range strings.Split(string(manifest), "\n") {
		if strings.HasPrefix(l, key+":") {
			l = line
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

type fixture struct {
	reg   *Registry
	store *store.Store
	host  *plugin.Host
	priv  ed25519.PrivateKey
	pub   []byte
}

var sharedCache = filepath.Join(os.TempDir(), "stratoswarm-test-wasm-cache")

func newFixture(t *testing.T, mutate ...func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	host, err := plugin.NewHost(ctx, plugin.Options{CacheDir: sharedCache})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: st, BlobDir: filepath.Join(t.TempDir(), "blobs"), Host: host, Grants: []string{"log", "clock", "random", "metrics"}}
	for _, m := range mutate {
		m(&opts)
	}
	reg, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := ParsePrivateKey(privPEM)
	if _, err := reg.AddKey(ctx, pubPEM, "test key"); err != nil {
		t.Fatal(err)
	}
	f := &fixture{reg: reg, store: st, host: host, priv: priv, pub: pubPEM}
	t.Cleanup(func() {
		reg.Close(ctx)
		host.Close(ctx)
		st.Close()
	})
	return f
}

// upload signs and uploads, then waits for the gates.
func (f *fixture) upload(t *testing.T, manifest, module []byte) *v1.PluginVersion {
	t.Helper()
	op, err := f.reg.Upload(context.Background(), manifest, Sign(f.priv, module), module, "")
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	f.reg.Wait()
	m, _ := ParseManifest(manifest)
	p, err := f.reg.Plugins().Get(context.Background(), m.Name)
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.reg.ops.Get(context.Background(), op.GetMetadata().GetName())
	if err != nil || !done.GetDone() {
		t.Fatalf("operation %s not done after the gates: %v %v", op.GetMetadata().GetName(), done, err)
	}
	return findVersion(p, m.Version)
}

func TestUploadGatesPromoteRollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	manifest, module := builtin(t, "strategy-random")
	v := f.upload(t, manifest, module)
	if v.GetState() != StateCandidate {
		t.Fatalf("random strategy: state %s, reason %q", v.GetState(), v.GetReason())
	}
	if v.GetScores()["smoke_evaluations"] != 64 || v.GetScores()["smoke_best"] <= 0 || v.GetSignedBy() == "" {
		t.Fatalf("scores %v signed by %q", v.GetScores(), v.GetSignedBy())
	}
	m, _ := ParseManifest(manifest)
	if _, err := f.reg.Promote(ctx, m.Name, m.Version); err != nil {
		t.Fatal(err)
	}
	// A second version of the same code, scored against the default.
	next := withVersion(manifest, "9.9.9")
	v2 := f.upload(t, next, module)
	if v2.GetState() != StateCandidate || v2.GetScores()["default_smoke_best"] != v.GetScores()["smoke_best"] {
		t.Fatalf("second version: %s %v", v2.GetState(), v2.GetScores())
	}
	p, err := f.reg.Promote(ctx, m.Name, "9.9.9")
	if err != nil || p.GetSpec().GetDefaultVersion() != "9.9.9" || p.GetStatus().GetPreviousDefault() != m.Version {
		t.Fatalf("promote: %v %v", p, err)
	}
	p, err = f.reg.Rollback(ctx, m.Name)
	if err != nil || p.GetSpec().GetDefaultVersion() != m.Version || findVersion(p, "9.9.9").GetState() != StateCandidate {
		t.Fatalf("rollback: %v %v", p, err)
	}
	if _, err := f.reg.Rollback(ctx, m.Name); !errors.Is(err, ErrState) {
		t.Fatalf("second rollback: %v", err)
	}
	if _, err := f.reg.Delete(ctx, m.Name, m.Version); !errors.Is(err, ErrState) {
		t.Fatalf("deleting the default: %v", err)
	}
	if _, err := f.reg.Delete(ctx, m.Name, "9.9.9"); err != nil {
		t.Fatal(err)
	}
	// The blob is shared with the remaining version, so it stays.
	if _, err := f.reg.readBlob(Digest(module)); err != nil {
		t.Fatalf("shared blob removed: %v", err)
	}
	// Re-uploading the same version and module is idempotent; another
	// module under the same version is refused.
	if _, err := f.reg.Upload(ctx, manifest, Sign(f.priv, module), module, ""); err != nil {
		t.Fatalf("same upload again: %v", err)
	}
	other := append(bytes.Clone(module), 0)
	if _, err := f.reg.Upload(ctx, manifest, Sign(f.priv, other), other, ""); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("same version, other module: %v", err)
	}
}

func TestBuiltinsOfEveryKindPassTheirGates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	fsys := fstest.MapFS{}
	entries, err := os.ReadDir(builtDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(builtDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	if err := f.reg.InstallBuiltins(ctx, fsys); err != nil {
		t.Fatal(err)
	}
	page, err := f.reg.Plugins().List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[v1.PluginKind]bool{}
	for _, p := range page.Items {
		v := findVersion(p, p.GetSpec().GetDefaultVersion())
		if v == nil || v.GetState() != StateDefault || !v.GetBuiltin() {
			t.Errorf("built-in %s: default %q, versions %v", p.GetMetadata().GetName(), p.GetSpec().GetDefaultVersion(), p.GetStatus().GetVersions())
		}
		kinds[p.GetSpec().GetKind()] = true
	}
	if len(kinds) != 3 {
		t.Fatalf("built-in kinds: %v", kinds)
	}
	// Installing again changes nothing.
	rev := f.store.Revision()
	if err := f.reg.InstallBuiltins(ctx, fsys); err != nil || f.store.Revision() != rev {
		t.Fatalf("second install: %v (revision %d → %d)", err, rev, f.store.Revision())
	}
}

func TestBuiltinInterruptedMidGateIsFinishedNextStart(t *testing.T) {
	f := newFixture(t)
	manifest, module := builtin(t, "strategy-random")
	fsys := fstest.MapFS{"strategy-random.yaml": {Data: manifest}, "strategy-random.wasm": {Data: module}}
	m, _ := ParseManifest(manifest)
	// A daemon stopped while gating: the context ends during the gates.
	ctx, cancel := context.WithCancel(context.Background())
	from := strconv.FormatInt(f.store.Revision(), 10)
	go func() {
		_ = f.reg.Plugins().Watch(ctx, from, func(ev store.Event[*v1.Plugin]) error {
			if v := findVersion(ev.Object, m.Version); v != nil && v.GetState() == StateBenchmarking {
				cancel()
			}
			return nil
		})
	}()
	if err := f.reg.InstallBuiltins(ctx, fsys); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted install: %v, want context.Canceled", err)
	}
	p, err := f.reg.Plugins().Get(context.Background(), "random")
	if err != nil {
		t.Fatal(err)
	}
	if v := findVersion(p, m.Version); v.GetState() != StateBenchmarking || p.GetSpec().GetDefaultVersion() != "" {
		t.Fatalf("after the interruption: %s, default %q", v.GetState(), p.GetSpec().GetDefaultVersion())
	}
	// Resume leaves built-ins alone; the next install finishes them.
	if err := f.reg.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.reg.Wait()
	if err := f.reg.InstallBuiltins(context.Background(), fsys); err != nil {
		t.Fatal(err)
	}
	p, _ = f.reg.Plugins().Get(context.Background(), "random")
	if v := findVersion(p, m.Version); v.GetState() != StateDefault || p.GetSpec().GetDefaultVersion() != m.Version {
		t.Fatalf("after the next install: %s %q, default %q", v.GetState(), v.GetReason(), p.GetSpec().GetDefaultVersion())
	}
}

// TestOptionalCapabilityNotGrantedStillLands: a plugin that can use an LLM
// but does not need one lands as Candidate on a swarmd that grants none;
// the same capability as a requirement is rejected with the reason.
func TestOptionalCapabilityNotGrantedStillLands(t *testing.T) {
	f := newFixture(t)
	manifest, module := builtin(t, "personality-balanced")
	optional := append(withLine(manifest, "name", "name: maybe-llm"), []byte("\noptional_capabilities: [llm]\n")...)
	if v := f.upload(t, optional, module); v.GetState() != StateCandidate || len(v.GetManifest().GetOptionalCapabilities()) != 1 {
		t.Fatalf("optional llm: %s %q, manifest %v", v.GetState(), v.GetReason(), v.GetManifest())
	}
	required := withLine(withLine(manifest, "name", "name: needs-llm"), "capabilities", "capabilities: [llm]")
	if v := f.upload(t, required, module); v.GetState() != StateRejected || !strings.Contains(v.GetReason(), `capability "llm" is not granted`) {
		t.Fatalf("required llm: %s %q", v.GetState(), v.GetReason())
	}
}

func TestSignaturesAreEnforced(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	manifest, module := builtin(t, "trust-beta")

	_, err := f.reg.Upload(ctx, manifest, nil, module, "")
	if !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "swarmctl plugin sign") {
		t.Fatalf("unsigned: %v", err)
	}
	sig := Sign(f.priv, module)
	tampered := bytes.Clone(module)
	tampered[len(tampered)/2] ^= 0xff
	if _, err := f.reg.Upload(ctx, manifest, sig, tampered, ""); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := f.reg.Upload(ctx, manifest, []byte("garbage"), module, ""); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("garbage signature: %v", err)
	}
	// Nothing was stored by the refused uploads.
	if n, _ := f.store.Count(KindPlugins); n != 0 {
		t.Fatalf("%d plugins stored after refused uploads", n)
	}
	if entries, _ := os.ReadDir(f.reg.opts.BlobDir); len(entries) != 0 {
		t.Fatalf("blobs stored after refused uploads: %v", entries)
	}
	pub, _ := ParsePublicKey(f.pub)
	if _, err := f.reg.RevokeKey(ctx, KeyID(pub)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Upload(ctx, manifest, sig, module, ""); !errors.Is(err, ErrRevokedKey) || !strings.Contains(err.Error(), KeyID(pub)) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := f.reg.AddKey(ctx, []byte("not a key"), ""); !errors.Is(err, ErrBadKey) {
		t.Fatalf("bad key: %v", err)
	}

	dev := newFixture(t, func(o *Options) { o.AllowUnsigned = true })
	if _, err := dev.reg.Upload(ctx, manifest, nil, module, ""); err != nil {
		t.Fatalf("unsigned with the development switch: %v", err)
	}
	dev.reg.Wait()
	small := newFixture(t, func(o *Options) { o.MaxModuleBytes = 1024 })
	if _, err := small.reg.Upload(ctx, manifest, Sign(small.priv, module), module, ""); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestBadModulesAreRejectedWithTheReason(t *testing.T) {
	f := newFixture(t)
	manifest, module := builtin(t, "strategy-random")
	cases := []struct {
		name     string
		manifest []byte
		module   []byte
		want     string
	}{
		{"kind mismatch", withLine(withLine(manifest, "kind", "kind: trust"), "name", "name: liar"), module, "strategy"},
		{"random bytes", withLine(manifest, "name", "name: noise"), []byte("this is not webassembly at all"), "validation"},
		{"truncated", withLine(manifest, "name", "name: cut"), module[:len(module)/3], "validation"},
		{"capability not granted", withLine(withLine(manifest, "name", "name: greedy"), "capabilities", "capabilities: [llm]"), module, `capability "llm" is not granted`},
	}
	for _, c := range cases {
		v := f.upload(t, c.manifest, c.module)
		if v.GetState() != StateRejected || !strings.Contains(v.GetReason(), c.want) {
			t.Errorf("%s: state %s reason %q, want Rejected mentioning %q", c.name, v.GetState(), v.GetReason(), c.want)
		}
	}
	m, _ := ParseManifest(manifest)
	if _, err := f.reg.Promote(context.Background(), "noise", m.Version); !errors.Is(err, ErrState) {
		t.Fatalf("promoting a rejected version: %v", err)
	}
}

func TestUnfinishedGatesResume(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	manifest, module := builtin(t, "personality-balanced")
	m, _ := ParseManifest(manifest)
	// What a daemon killed mid-gate leaves: the blob and a Validating version.
	if err := f.reg.writeBlob(Digest(module), module); err != nil {
		t.Fatal(err)
	}
	_, err := f.reg.plugins.Modify(ctx, m.Name, newPlugin(m.Kind), func(p *v1.Plugin) error {
		p.Status.Versions = append(p.Status.Versions, &v1.PluginVersion{Version: m.Version, Sha256: Digest(module), Manifest: manifestProto(m), State: StateBenchmarking})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	f.reg.Wait()
	p, _ := f.reg.Plugins().Get(ctx, m.Name)
	if v := findVersion(p, m.Version); v.GetState() != StateCandidate {
		t.Fatalf("after resume: %s %q", v.GetState(), v.GetReason())
	}
}

func TestEvidenceIsRecordedAgainstTheVersion(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	manifest, module := builtin(t, "trust-beta")
	v := f.upload(t, manifest, module)
	m, _ := ParseManifest(manifest)
	for range maxEvidence + 5 {
		f.reg.RecordEvidence(m.Name+"@"+m.Version, plugin.Evidence{Time: time.Now(), Kind: "trap", Detail: "unreachable"})
	}
	p, _ := f.reg.Plugins().Get(ctx, m.Name)
	got := findVersion(p, v.GetVersion())
	if len(got.GetEvidence()) != maxEvidence || got.GetScores()["failures"] != maxEvidence+5 {
		t.Fatalf("evidence %d, failures %v", len(got.GetEvidence()), got.GetScores()["failures"])
	}
}

// TestGoStrategyMemoryStaysBounded runs a built-in Go strategy for a few
// hundred propose/observe steps in one session under a 16 MiB cap and
// checks that it never reaches the high-water mark (12 MiB). No goroutine
// runs after a Go export returns (golang/go#65199), so unless the SDK
// yields after each call a GC cycle can stay unfinished and memory grows
// (seen: ~80 KB a step, 550 MiB after 24,000 steps).
func TestGoStrategyMemoryStaysBounded(t *testing.T) {
	_, module := builtin(t, "strategy-random")
	ctx := context.Background()
	var rec evidenceLog
	host, err := plugin.NewHost(ctx, plugin.Options{CacheDir: sharedCache, Evidence: &rec})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(ctx)
	p, err := host.Load(ctx, module, plugin.Config{ID: "random@mem", Kind: plugin.KindStrategy, Limits: plugin.Limits{MemoryBytes: 16 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	space := `{"parameters":[{"name":"x","float":{"min":-5,"max":5}},{"name":"steps","sequence":{"choices":["a","b","c"],"minLength":1,"maxLength":6}}]}`
	if _, err := s.Call(ctx, "init", []byte(`{"version":1,"space":`+space+`,"seed":3}`)); err != nil {
		t.Fatal(err)
	}
	obs := `{"version":1,"results":[` + strings.TrimSuffix(strings.Repeat(`{"id":"r-000001","scores":{"f":1},"failed":false,"reason":""},`, 16), ",") + `]}`
	for i := range 300 {
		if _, err := s.Call(ctx, "propose", []byte(`{"version":1,"n":16}`)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if _, err := s.Call(ctx, "observe", []byte(obs)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if ev := rec.all(); len(ev) != 0 {
		t.Fatalf("the strategy's memory did not stay bounded: %v", ev)
	}
}

type evidenceLog struct {
	mu sync.Mutex
	ev []string
}

func (l *evidenceLog) RecordEvidence(id string, e plugin.Evidence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, id+": "+e.Kind+": "+e.Detail)
}

func (l *evidenceLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ev...)
}
