package personality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

// builtDir holds the built-in personalities, built once for the package.
var builtDir string

var personalities = []string{"conservative", "balanced", "explorer"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "personality-plugins")
	if err != nil {
		panic(err)
	}
	builtDir = dir
	for _, name := range personalities {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w",
			"-o", filepath.Join(dir, name+".wasm"), "../../plugins/personality/"+name)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build plugins/personality/%s for wasip1: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sink keeps the evidence the host records.
type sink struct {
	mu  sync.Mutex
	got []string // "id kind detail"
}

func (s *sink) RecordEvidence(id string, e plugin.Evidence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, id+" "+e.Kind+" "+e.Detail)
}

func (s *sink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// load loads module as a personality plugin called id on a host closed
// with the test; hosts share a compilation cache.
func load(t *testing.T, module []byte, id string, evidence plugin.EvidenceSink) *plugin.Plugin {
	t.Helper()
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, plugin.Options{Logger: slog.New(slog.DiscardHandler), Evidence: evidence, CacheDir: filepath.Join(builtDir, "wazero-cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	p, err := h.Load(ctx, module, plugin.Config{ID: id, Kind: plugin.KindPersonality})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func builtin(t *testing.T, name string, evidence plugin.EvidenceSink) *plugin.Plugin {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(builtDir, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return load(t, b, name+"@1.0.0", evidence)
}

func wat(t *testing.T, name string) []byte {
	t.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm is not installed (%v): these tests compile testdata/*.wat with it; install it with `apt-get install wabt`", err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".wat")+".wasm")
	if b, err := exec.Command(bin, filepath.Join("testdata", name), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm testdata/%s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The three built-in personalities through the wazero host, over a grid
// of generations and trust: every value is in [0, 1], nothing is clamped,
// and they differ as documented: mutation bias explorer > balanced >
// conservative everywhere; canary pace conservative < balanced
// everywhere, explorer above balanced only at high trust.
func TestBuiltinPersonalitiesDiffer(t *testing.T) {
	ctx := context.Background()
	ev := &sink{}
	ps := map[string]*plugin.Plugin{}
	for _, name := range personalities {
		ps[name] = builtin(t, name, ev)
	}
	for _, g := range []int{0, 1, 3, 10, 100, 5000} {
		for _, trust := range []float64{0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1} {
			adj := map[string]Adjustment{}
			for _, name := range personalities {
				a, err := Adjust(ctx, ps[name], Request{Role: "solver", Generation: g, Trust: trust})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for field, v := range map[string]float64{"mutationBias": a.MutationBias, "resourceHeadroom": a.ResourceHeadroom, "canaryPace": a.CanaryPace} {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("%s g %d trust %v: %s = %v", name, g, trust, field, v)
					}
				}
				if len(a.Clamped) != 0 {
					t.Fatalf("%s clamped: %v", name, a.Clamped)
				}
				adj[name] = a
			}
			c, b, e := adj["conservative"], adj["balanced"], adj["explorer"]
			where := fmt.Sprintf("g %d trust %v", g, trust)
			// "Measurably": at least 0.1 apart in mutation bias.
			if !(e.MutationBias-b.MutationBias >= 0.1 && b.MutationBias-c.MutationBias >= 0.1) {
				t.Errorf("%s: mutationBias explorer %v, balanced %v, conservative %v", where, e.MutationBias, b.MutationBias, c.MutationBias)
			}
			if !(c.CanaryPace < b.CanaryPace) {
				t.Errorf("%s: canaryPace conservative %v is not below balanced %v", where, c.CanaryPace, b.CanaryPace)
			}
			if trust >= 0.8 && !(e.CanaryPace > b.CanaryPace) || trust <= 0.7 && !(e.CanaryPace < b.CanaryPace) {
				t.Errorf("%s: canaryPace explorer %v vs balanced %v: explorer should be faster only at high trust", where, e.CanaryPace, b.CanaryPace)
			}
			if !(e.ResourceHeadroom > c.ResourceHeadroom && c.ResourceHeadroom > b.ResourceHeadroom) {
				t.Errorf("%s: resourceHeadroom explorer %v, conservative %v, balanced %v", where, e.ResourceHeadroom, c.ResourceHeadroom, b.ResourceHeadroom)
			}
		}
	}
	if got := ev.all(); len(got) != 0 {
		t.Fatalf("evidence recorded against well-behaved personalities: %v", got)
	}
}

// A personality answering out of range is clamped, and the clamp is
// reported and recorded against it.
func TestOutOfRangeIsClampedAndRecorded(t *testing.T) {
	ev := &sink{}
	p := load(t, wat(t, "outofrange.wat"), "wild@0.1.0", ev)
	a, err := Adjust(context.Background(), p, Request{Role: "solver", Generation: 2, Trust: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if a.MutationBias != 1 || a.ResourceHeadroom != 0 || a.CanaryPace != 0.5 ||
		strings.Join(a.Clamped, "; ") != "mutationBias 1.7 clamped to 1; resourceHeadroom -0.2 clamped to 0" {
		t.Fatalf("%+v", a)
	}
	if got := ev.all(); len(got) != 1 || got[0] != "wild@0.1.0 invalid adjust: mutationBias 1.7 clamped to 1; resourceHeadroom -0.2 clamped to 0" {
		t.Fatalf("evidence %v", got)
	}
}

// A result that lacks fields is refused and recorded.
func TestIncompleteResultIsRefused(t *testing.T) {
	ev := &sink{}
	p := load(t, wat(t, "partial.wat"), "half@0.1.0", ev)
	_, err := Adjust(context.Background(), p, Request{Trust: 0.5})
	if err == nil || !strings.Contains(err.Error(), "not an Adjustment") {
		t.Fatalf("Adjust: %v", err)
	}
	if got := ev.all(); len(got) != 1 || !strings.HasPrefix(got[0], "half@0.1.0 invalid adjust: the result") {
		t.Fatalf("evidence %v", got)
	}
}

// fakeCaller answers a fixed result and keeps the request.
type fakeCaller struct {
	answer  string
	err     error
	request string
	records []plugin.Evidence
}

func (f *fakeCaller) ID() string { return "fake@1.0.0" }

func (f *fakeCaller) Call(_ context.Context, op string, req []byte) (json.RawMessage, error) {
	f.request = op + " " + string(req)
	return json.RawMessage(f.answer), f.err
}

func (f *fakeCaller) Record(e plugin.Evidence) { f.records = append(f.records, e) }

func TestRequests(t *testing.T) {
	f := &fakeCaller{answer: `{"version":1,"mutationBias":0.1,"resourceHeadroom":0.2,"canaryPace":0.3}`}
	a, err := Adjust(context.Background(), f, Request{Role: "solver", Generation: 3, Trust: 0.8, Config: json.RawMessage(`{"k":1}`)})
	if err != nil || a.MutationBias != 0.1 || a.ResourceHeadroom != 0.2 || a.CanaryPace != 0.3 || a.Clamped != nil {
		t.Fatalf("%+v %v", a, err)
	}
	if want := `swarm_personality_adjust {"version":1,"role":"solver","generation":3,"trust":0.8,"config":{"k":1}}`; f.request != want {
		t.Fatalf("sent %s\nwant %s", f.request, want)
	}
	for _, req := range []Request{{Trust: -0.1}, {Trust: 1.5}, {Trust: math.NaN()}, {Generation: -1}, {Config: json.RawMessage(`[]`)}} {
		f.request = ""
		if _, err := Adjust(context.Background(), f, req); err == nil || f.request != "" {
			t.Errorf("%+v: %v (sent %q)", req, err, f.request)
		}
	}
	// A plugin failure is the caller's to handle; the host recorded it.
	failure := &plugin.Failure{Kind: plugin.FailTrap, Op: plugin.OpPersonalityAdjust, Err: errors.New("unreachable"), Plugin: "fake@1.0.0"}
	f.err = failure
	if _, err := Adjust(context.Background(), f, Request{Trust: 0.5}); !errors.Is(err, failure) {
		t.Fatalf("failure: %v", err)
	}
	if len(f.records) != 0 {
		t.Fatalf("Adjust recorded %v for a failure the host records itself", f.records)
	}
}
