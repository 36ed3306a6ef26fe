package plugin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// wat compiles testdata/<name> with wat2wasm. A missing wat2wasm fails the
// test: the hostile plugins are the point of these tests.
func wat(t testing.TB, name string) []byte {
	t.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm is not installed (%v): the plugin tests compile testdata/*.wat with it; install it with `apt-get install wabt`", err)
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

// goPlugin builds testdata/goplugins/<name> for wasip1 as a reactor.
func goPlugin(t testing.TB, name string) []byte {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH (%v): the tests build Go plugins with it", err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", out, "./testdata/goplugins/"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/goplugins/%s for wasip1: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder is an EvidenceSink that keeps everything.
type recorder struct {
	mu  sync.Mutex
	got []recorded
}

type recorded struct {
	id string
	e  Evidence
}

func (r *recorder) RecordEvidence(id string, e Evidence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, recorded{id, e})
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.got...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newHost returns a Host closed with the test.
func newHost(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := NewHost(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func load(t testing.TB, h *Host, wasm []byte, cfg Config) *Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// within runs f and fails the test if it has not returned after 30 s: a
// hang guard, not a timing assertion.
func within(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not return within 30 s: the host hangs", what)
	}
}

func wantFailure(t testing.TB, err error, kind string) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("want a *Failure of kind %s, got %T: %v", kind, err, err)
	}
	if f.Kind != kind {
		t.Fatalf("want a failure of kind %s, got %s: %v", kind, f.Kind, err)
	}
	return f
}

func mustContain(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got nil", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}
