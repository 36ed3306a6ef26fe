package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 512: "512B", 1024: "1KiB", 1536: "1.5KiB", 1 << 20: "1MiB",
		25276063744: "23.5GiB", 3 << 40: "3TiB", -2048: "-2KiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 5*time.Minute + 10*time.Second: "5m",
		2 * time.Hour: "2h", 47 * time.Hour: "47h", 3 * 24 * time.Hour: "3d", 800 * 24 * time.Hour: "2y",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := age(nil, time.Now()); got != "<unknown>" {
		t.Errorf("age(nil) = %q", got)
	}
}

func TestDescribeError(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "bad agent").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "agent.spec.image", Description: "image or command is required"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := describeError(fmt.Errorf("agent %q: %w", "x", st.Err()))
	want := "agent \"x\": INVALID_ARGUMENT: bad agent\n  agent.spec.image: image or command is required"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	var buf bytes.Buffer
	printError(&buf, errors.Join(status.Error(codes.NotFound, "a"), errors.New("b")))
	if buf.String() != "Error: NOT_FOUND: a\nError: b\n" {
		t.Errorf("joined: %q", buf.String())
	}
	for c, want := range map[codes.Code]string{codes.OK: "OK", codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.Aborted: "ABORTED", codes.FailedPrecondition: "FAILED_PRECONDITION"} {
		if got := codeName(c); got != want {
			t.Errorf("codeName(%v) = %q", c, got)
		}
	}
	if !isCode(fmt.Errorf("wrapped: %w", status.Error(codes.Aborted, "stale")), codes.Aborted) {
		t.Error("isCode does not see through wrapping")
	}
}

func TestCollectPages(t *testing.T) {
	var sizes []int32
	fetch := func(size int32, token string) ([]int, string, error) {
		sizes = append(sizes, size)
		start := 0
		if token != "" {
			fmt.Sscan(token, &start)
		}
		var items []int
		for i := start; i < 250 && len(items) < int(size); i++ {
			items = append(items, i)
		}
		next := ""
		if start+len(items) < 250 {
			next = fmt.Sprint(start + len(items))
		}
		return items, next, nil
	}
	all, err := collectPages(0, fetch)
	if err != nil || len(all) != 250 || all[249] != 249 {
		t.Fatalf("all: %d items, %v", len(all), err)
	}
	if fmt.Sprint(sizes) != "[100 100 100]" {
		t.Errorf("page sizes %v", sizes)
	}
	sizes = nil
	some, err := collectPages(120, fetch)
	if err != nil || len(some) != 120 || some[119] != 119 {
		t.Fatalf("limit 120: %d items, %v", len(some), err)
	}
	if fmt.Sprint(sizes) != "[100 20]" {
		t.Errorf("page sizes with limit %v", sizes)
	}
	_, err = collectPages(0, func(int32, string) ([]int, string, error) { return []int{1}, "same", nil })
	if err == nil || !strings.Contains(err.Error(), "same page token") {
		t.Errorf("a looping server: %v", err)
	}
}

func TestLabelArgs(t *testing.T) {
	changes, err := parseLabelArgs([]string{"a=1", "b-", "c="})
	if err != nil {
		t.Fatal(err)
	}
	out, changed, warns, err := applyLabels(map[string]string{"b": "x", "keep": "y"}, changes, false)
	if err != nil || !changed || len(warns) != 0 {
		t.Fatalf("apply: %v %v %v", changed, warns, err)
	}
	if fmt.Sprint(out) != "map[a:1 c: keep:y]" {
		t.Errorf("labels %v", out)
	}
	if _, _, _, err := applyLabels(map[string]string{"a": "0"}, changes[:1], false); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("change without overwrite: %v", err)
	}
	if _, changed, _, err := applyLabels(map[string]string{"a": "1"}, changes[:1], false); err != nil || changed {
		t.Errorf("same value: changed %v, %v", changed, err)
	}
	_, _, warns, _ = applyLabels(nil, []labelChange{{key: "gone", remove: true}}, false)
	if len(warns) != 1 || !strings.Contains(warns[0], `"gone"`) {
		t.Errorf("warnings %v", warns)
	}
	for _, bad := range [][]string{{"x"}, {"-"}, {"=v"}, {"a=1", "a-"}} {
		if _, err := parseLabelArgs(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSplitDocumentsAndStrictDecode(t *testing.T) {
	docs := splitDocuments([]byte("---\n# only a comment\n---\nmetadata: {name: a}\n--- # second\nmetadata: {name: b}\n---\n"))
	if len(docs) != 2 {
		t.Fatalf("%d documents: %q", len(docs), docs)
	}
	a := &v1.Agent{}
	if err := decodeStrict([]byte(`{"metadata": {"name": "a", "resource_version": "1"}, "spec": {"env": {"A": "b"}, "personality": {"name": "p", "config": {"any": {"thing": 1}}}}}`), a); err != nil {
		t.Fatalf("snake_case names and Struct contents must be accepted: %v", err)
	}
	if a.GetSpec().GetPersonality().GetConfig().GetFields()["any"] == nil || a.GetMetadata().GetResourceVersion() != "1" {
		t.Errorf("decoded %v", a)
	}
	err := decodeStrict([]byte("spec:\n  resources: {cpu: 1, tierBytes: {gpu: 1}}\n  searchSpace: {parameters: [{name: x, int: {min: 1, maks: 2}}]}\n"), &v1.Agent{})
	if err == nil || !strings.Contains(err.Error(), `"spec.resources.cpu" (did you mean "cpuMillis"?)`) || !strings.Contains(err.Error(), `"spec.searchSpace.parameters[0].int.maks" (did you mean "max"?)`) {
		t.Errorf("unknown fields: %v", err)
	}
	if err := decodeStrict([]byte("- a\n- b\n"), &v1.Agent{}); err == nil || !strings.Contains(err.Error(), "a list") {
		t.Errorf("a list: %v", err)
	}
}

func TestResolveTarget(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "cfg"), "HOME": dir}
	resolve := func(args ...string) (target, error) {
		root, o := buildRoot(strings.NewReader(""), io.Discard, io.Discard, func(k string) string { return vars[k] })
		if err := root.PersistentFlags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return o.resolveTarget()
	}
	tg, err := resolve("--data-dir", "/d")
	if err != nil || !tg.local || tg.dataDir != "/d" {
		t.Fatalf("no config: %+v %v", tg, err)
	}
	tokenFile := filepath.Join(dir, "tok")
	writeTestFile(t, tokenFile, "  from-file\n")
	writeTestFile(t, filepath.Join(dir, "cfg", "stratoswarm", "config.yaml"), fmt.Sprintf(`current-context: dev
contexts:
- name: dev
  server: 10.0.0.1:7700
  token-file: %s
- name: inline
  server: 10.0.0.2:7700
  token: inline-tok
- name: lab
  local: true
  data-dir: ~/lab
`, tokenFile))
	cases := []struct {
		args               []string
		env                map[string]string
		server, token, dir string
	}{
		{nil, nil, "10.0.0.1:7700", "from-file", ""},
		{[]string{"--context", "inline"}, nil, "10.0.0.2:7700", "inline-tok", ""},
		{[]string{"--context", "inline", "--token", "flag"}, nil, "10.0.0.2:7700", "flag", ""},
		{[]string{"--context", "lab"}, nil, "", "", filepath.Join(dir, "lab")},
		{[]string{"--context", "lab", "--data-dir", "/x"}, nil, "", "", "/x"},
		{[]string{"--server", "s:1"}, nil, "s:1", "from-file", ""},
		{nil, map[string]string{"SWARM_SERVER": "e:1", "SWARM_TOKEN": "etok"}, "e:1", "etok", ""},
		{[]string{"--server", "s:1", "--token", "t"}, map[string]string{"SWARM_SERVER": "e:1", "SWARM_TOKEN": "etok"}, "s:1", "t", ""},
		{[]string{"--local", "--data-dir", "/l"}, map[string]string{"SWARM_SERVER": "e:1"}, "", "", "/l"},
	}
	for _, c := range cases {
		for k, v := range c.env {
			vars[k] = v
		}
		tg, err := resolve(c.args...)
		for k := range c.env {
			delete(vars, k)
		}
		if err != nil {
			t.Errorf("%v %v: %v", c.args, c.env, err)
			continue
		}
		if tg.server != c.server || tg.token != c.token || tg.dataDir != c.dir || tg.local != (c.server == "") {
			t.Errorf("%v %v: got %+v, want server %q token %q dir %q", c.args, c.env, tg, c.server, c.token, c.dir)
		}
	}
	if _, err := resolve("--local", "--server", "a:1"); err == nil {
		t.Error("--local with --server accepted")
	}
	if _, err := resolve("--context", "ghost"); err == nil || !strings.Contains(err.Error(), "known contexts: dev, inline, lab") {
		t.Errorf("unknown context: %v", err)
	}
	if err := checkServerAddr("unix:///run/swarmd.sock"); err != nil {
		t.Errorf("unix socket refused: %v", err)
	}
}

func TestUpdatesRetryWhenAnotherWriterWins(t *testing.T) {
	e := newEnv(t)
	srv := startDaemon(t, e.dataDir)
	e.vars["SWARM_SERVER"] = srv.GRPCAddr()
	e.vars["SWARM_TOKEN"] = srv.Token()
	name := e.nodeName()

	_, o := buildRoot(strings.NewReader(""), io.Discard, io.Discard, func(k string) string { return e.vars[k] })
	c, err := o.connect(false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calls := 0
	n, changed, err := modifyNode(context.Background(), c, name, func(n *v1.Node) (bool, error) {
		calls++
		if calls == 1 {
			// another writer changes the node between our read and write
			e.ok("node", "label", name, "other=1")
		}
		if n.Metadata.Labels == nil {
			n.Metadata.Labels = map[string]string{}
		}
		n.Metadata.Labels["mine"] = "1"
		return true, nil
	})
	if err != nil || !changed {
		t.Fatalf("modifyNode: changed %v, %v", changed, err)
	}
	if calls != 2 {
		t.Errorf("mutate ran %d times, want 2 (one ABORTED write, one retry)", calls)
	}
	if l := n.GetMetadata().GetLabels(); l["mine"] != "1" || l["other"] != "1" {
		t.Errorf("labels %v: an update was lost", l)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
