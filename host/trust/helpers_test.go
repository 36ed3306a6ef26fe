package trust

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

// builtDir holds the trust plugins under test, built once for the package.
var builtDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trust-plugins")
	if err != nil {
		panic(err)
	}
	builtDir = dir
	for _, name := range []string{"beta", "eigentrust"} {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w",
			"-o", filepath.Join(dir, name+".wasm"), "../../plugins/trust/"+name)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build plugins/trust/%s for wasip1: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// builtPlugin returns the module of plugins/trust/<name>.
func builtPlugin(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(builtDir, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wat compiles testdata/<name> with wat2wasm (apt-get install wabt).
func wat(t testing.TB, name string) []byte {
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

// sink is a plugin.EvidenceSink that keeps what the host records.
type sink struct {
	mu  sync.Mutex
	got []string // "id kind"
}

func (s *sink) RecordEvidence(id string, e plugin.Evidence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, id+" "+e.Kind)
}

func (s *sink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// newHost returns a plugin host closed with the test. Hosts share one
// compilation cache, so each module is compiled once per test run.
func newHost(t testing.TB, evidence plugin.EvidenceSink) *plugin.Host {
	t.Helper()
	h, err := plugin.NewHost(context.Background(), plugin.Options{
		Logger: slog.New(slog.DiscardHandler), Evidence: evidence, CacheDir: filepath.Join(builtDir, "wazero-cache"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

// loadScorer loads a trust plugin as id (NAME@VERSION) and returns its scorer.
func loadScorer(t testing.TB, h *plugin.Host, wasm []byte, id string, limits plugin.Limits, config string) *PluginScorer {
	t.Helper()
	p, err := h.Load(context.Background(), wasm, plugin.Config{ID: id, Kind: plugin.KindTrust, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewPluginScorer(p, []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openLog opens a log in dir (a new temporary one when "") closed with the test.
func openLog(t testing.TB, dir string) *Log {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	l, err := OpenLog(LogOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func newService(t testing.TB, opts ServiceOptions) *Service {
	t.Helper()
	s, err := NewService(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAppend(t testing.TB, l *Log, s Subject, es ...Evidence) []Evidence {
	t.Helper()
	out, err := l.Append(context.Background(), s, es...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	now   = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	agent = Subject{Kind: SubjectAgent, Name: "tsp", Version: "1.0.0"}
)

// tasks returns pos positive and neg negative task records of weight 1 at time at.
func tasks(pos, neg int, at time.Time) []Evidence {
	var out []Evidence
	for i := range pos + neg {
		out = append(out, Evidence{Time: at, Kind: EvidenceTask, Positive: i < pos, Weight: 1, Source: "test"})
	}
	return out
}
