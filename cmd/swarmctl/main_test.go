package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
)

// env is a test's environment: its own config and home directories and a
// local-mode data dir, so nothing touches the real ~/.config or
// ~/.local/share.
type env struct {
	t       *testing.T
	vars    map[string]string
	dataDir string
	stdin   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{
		t: t,
		vars: map[string]string{
			"XDG_CONFIG_HOME": filepath.Join(root, "config"),
			"HOME":            filepath.Join(root, "home"),
		},
		dataDir: filepath.Join(root, "data"),
	}
	return e
}

// result is what one swarmctl run printed and its exit code.
type result struct {
	out, err string
	code     int
}

// runRaw executes swarmctl in-process with args as given (no --data-dir).
func (e *env) runRaw(ctx context.Context, args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(strings.NewReader(e.stdin), &out, &errOut, func(k string) string { return e.vars[k] })
	code := execute(ctx, root, args)
	return result{out: out.String(), err: errOut.String(), code: code}
}

// run executes swarmctl with --data-dir set to the test's data dir.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runRaw(context.Background(), append([]string{"--data-dir", e.dataDir}, args...)...)
}

// ok runs and fails the test unless the exit code is 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("swarmctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// fail runs and fails the test unless the exit code is 1; it returns stderr.
func (e *env) fail(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 1 {
		e.t.Fatalf("swarmctl %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	if !strings.HasPrefix(r.err, "Error: ") {
		e.t.Fatalf("swarmctl %s: stderr %q does not start with \"Error: \"", strings.Join(args, " "), r.err)
	}
	return r.err
}

// writeFile writes a file under the test's temp dir.
func (e *env) writeFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// nodeName is the local node's name, read back through swarmctl.
func (e *env) nodeName() string {
	e.t.Helper()
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("node", "ls", "-o", "json")), &list); err != nil {
		e.t.Fatal(err)
	}
	if len(list.Items) != 1 {
		e.t.Fatalf("want 1 node, got %d", len(list.Items))
	}
	n := &v1.Node{}
	if err := protojson.Unmarshal(list.Items[0], n); err != nil {
		e.t.Fatal(err)
	}
	return n.GetMetadata().GetName()
}

// getNode reads a node as JSON through swarmctl.
func (e *env) getNode(name string) *v1.Node {
	e.t.Helper()
	n := &v1.Node{}
	if err := protojson.Unmarshal([]byte(e.ok("node", "describe", name, "-o", "json")), n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

const solverYAML = `# an agent
metadata:
  name: solver
  labels: {team: research}
spec:
  role: solver
  image: ghcr.io/example/solver:1.0
  resources: {cpuMillis: 2000, memoryBytes: 1073741824}
  searchSpace:
    parameters:
    - name: temperature
      float: {min: 0.1, max: 2}
    - name: depth
      int: {min: 1, max: 8}
    - name: model
      categorical: {choices: [small, large]}
    - name: verbose
      bool: {}
    - name: plan
      sequence: {choices: [think, act], minLength: 1, maxLength: 4}
    - name: prompt
      text: {maxLength: 2000}
    - name: heuristic
      code: {language: python, maxLength: 4000}
  genome: {temperature: 0.7}
`

func TestClusterStatusInEveryFormat(t *testing.T) {
	e := newEnv(t)
	table := e.ok("cluster", "status")
	for _, want := range []string{"Version:", "Store:", filepath.Join(e.dataDir, "store"), "Schema:", "Revision:", "Nodes:", "Ready", "Features:", "AVAILABLE"} {
		if !strings.Contains(table, want) {
			t.Errorf("table output lacks %q:\n%s", want, table)
		}
	}

	check := func(format string, st *v1.ClusterStatus) {
		t.Helper()
		if got, want := st.GetStore().GetPath(), filepath.Join(e.dataDir, "store"); got != want {
			t.Errorf("%s: store path %q, want %q", format, got, want)
		}
		if st.GetStore().GetSchemaVersion() < 1 {
			t.Errorf("%s: schema version %d", format, st.GetStore().GetSchemaVersion())
		}
		if len(st.GetNodes()) != 1 || !st.GetNodes()[0].GetReady() {
			t.Errorf("%s: want one ready node, got %v", format, st.GetNodes())
		}
		if st.GetVersion().GetApiVersion() != "stratoswarm.v1alpha1" {
			t.Errorf("%s: api version %q", format, st.GetVersion().GetApiVersion())
		}
		if len(st.GetFeatures()) == 0 {
			t.Errorf("%s: no features", format)
		}
	}

	js := e.ok("cluster", "status", "-o", "json")
	st := &v1.ClusterStatus{}
	if err := protojson.Unmarshal([]byte(js), st); err != nil {
		t.Fatalf("json output does not parse as ClusterStatus: %v\n%s", err, js)
	}
	if !strings.Contains(js, `"schemaVersion"`) || !strings.Contains(js, "\n  ") {
		t.Errorf("json output is not multiline lowerCamel:\n%s", js)
	}
	check("json", st)

	y := e.ok("cluster", "status", "-o", "yaml")
	if strings.HasPrefix(strings.TrimSpace(y), "{") {
		t.Fatalf("yaml output looks like JSON:\n%s", y)
	}
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatalf("yaml output does not parse: %v\n%s", err, y)
	}
	st = &v1.ClusterStatus{}
	if err := protojson.Unmarshal(j, st); err != nil {
		t.Fatalf("yaml output is not a ClusterStatus: %v\n%s", err, y)
	}
	check("yaml", st)
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	out := e.ok("version", "--client")
	if !strings.Contains(out, "Client Version: ") || strings.Contains(out, "Server Version") {
		t.Errorf("version --client output:\n%s", out)
	}
	if _, err := os.Stat(e.dataDir); !os.IsNotExist(err) {
		t.Errorf("version --client touched the data dir (stat: %v)", err)
	}
	out = e.ok("version")
	if !strings.Contains(out, "Client Version: ") || !strings.Contains(out, "Server Version: ") {
		t.Errorf("version output:\n%s", out)
	}
	var v struct {
		Client map[string]any `json:"clientVersion"`
		Server map[string]any `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(e.ok("version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Client["apiVersion"] != "stratoswarm.v1alpha1" || v.Server["apiVersion"] != "stratoswarm.v1alpha1" {
		t.Errorf("version json: %+v", v)
	}
}

// createdAgent parses `agent create -o json`.
func createdAgent(t *testing.T, out string) *v1.Agent {
	t.Helper()
	a := &v1.Agent{}
	if err := protojson.Unmarshal([]byte(out), a); err != nil {
		t.Fatalf("agent create -o json: %v\n%s", err, out)
	}
	return a
}

func TestAgentCreateIsIdempotentAndListed(t *testing.T) {
	e := newEnv(t)
	file := e.writeFile("solver.yaml", solverYAML)

	first := createdAgent(t, e.ok("agent", "create", "-f", file, "-o", "json"))
	second := createdAgent(t, e.ok("agent", "create", "-f", file, "-o", "json"))
	if first.GetMetadata().GetUid() == "" || first.GetMetadata().GetUid() != second.GetMetadata().GetUid() {
		t.Fatalf("uids differ or are empty: %q then %q", first.GetMetadata().GetUid(), second.GetMetadata().GetUid())
	}
	if got := e.ok("agent", "create", "-f", file); got != "agent/solver unchanged\n" {
		t.Errorf("third create says %q", got)
	}
	if msg := e.fail("agent", "logs", "solver"); !strings.Contains(msg, "FAILED_PRECONDITION") || !strings.Contains(msg, "runs no version yet") {
		t.Errorf("logs of an agent without replicas: %s", msg)
	}
	if msg := e.fail("agent", "logs", "solver", "--tail", "-1"); !strings.Contains(msg, "--tail must not be negative") {
		t.Errorf("logs --tail -1: %s", msg)
	}
	solverDesc := strings.Join(strings.Fields(e.ok("agent", "describe", "solver")), " ")
	for _, want := range []string{"Identity: spiffe://stratoswarm.local/agent/solver", "Certificate: serial " + first.GetStatus().GetCertificateSerial() + ", valid until"} {
		if !strings.Contains(solverDesc, want) {
			t.Errorf("agent describe lacks %q:\n%s", want, solverDesc)
		}
	}
	// the same request id with the same file is also the same agent
	third := createdAgent(t, e.ok("agent", "create", "-f", file, "--request-id", "deploy-1", "-o", "json"))
	if third.GetMetadata().GetUid() != first.GetMetadata().GetUid() {
		t.Errorf("create with a request id made a new agent")
	}

	// JSON on standard input is accepted too
	e.stdin = `{"metadata": {"name": "planner"}, "spec": {"role": "planner", "command": ["python", "plan.py"]}}`
	if got := e.ok("agent", "create", "-f", "-"); got != "agent/planner created\n" {
		t.Errorf("create from stdin says %q", got)
	}
	e.stdin = ""

	table := e.ok("agent", "ls")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rows:\n%s", table)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "NAME ROLE IMAGE/COMMAND PHASE AGE" {
		t.Errorf("header %q", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) < 5 || f[0] != "planner" || f[1] != "planner" || f[2] != "python" || f[3] != "plan.py" {
		t.Errorf("planner row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) != 5 || f[0] != "solver" || f[1] != "solver" || f[2] != "ghcr.io/example/solver:1.0" || f[3] != "Registered" {
		t.Errorf("solver row %q", lines[2])
	}

	// selector, limit and names
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("agent", "ls", "-l", "team=research", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0]["metadata"].(map[string]any)["name"] != "solver" {
		t.Errorf("-l team=research: %v", list.Items)
	}
	if err := yaml.Unmarshal([]byte(e.ok("agent", "ls", "--limit", "1", "-o", "yaml")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("--limit 1 listed %d", len(list.Items))
	}

	desc := e.ok("agent", "describe", "solver")
	for _, want := range []string{"Name:", "solver", "team=research", "Role:", "ghcr.io/example/solver:1.0", "temperature", "float", "[0.1, 2]", "[1, 8]", "small | large", "true | false", "think | act, length 1-4", "up to 2000 characters", "python, up to 4000 characters", `{"temperature":0.7}`, "Phase:", "Registered"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}

	// rm: every name is tried, failures are named and make the exit code 1
	r := e.run("agent", "rm", "planner", "ghost")
	if r.code != 1 || !strings.Contains(r.out, "agent/planner deleted") || !strings.Contains(r.err, `Error: agent "ghost": NOT_FOUND`) {
		t.Errorf("rm planner ghost: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	e.ok("agent", "rm", "ghost", "--ignore-not-found")
	if out := e.ok("agent", "ls", "-o", "json"); strings.Contains(out, "planner") || !strings.Contains(out, "solver") {
		t.Errorf("after rm planner:\n%s", out)
	}
	e.fail("agent", "describe", "planner")
}

func TestAgentCreateRefusesUnknownFields(t *testing.T) {
	e := newEnv(t)
	file := e.writeFile("bad.yaml", `metadata:
  name: solver
  lables: {team: research}
spec:
  role: solver
  imagee: ghcr.io/example/solver:1.0
  resources: {cpuMillis: 1}
  searchSpace:
    parameters:
    - name: t
      flaot: {min: 0, max: 1}
`)
	msg := e.fail("agent", "create", "-f", file)
	for _, want := range []string{file, `"metadata.lables"`, `did you mean "labels"`, `"spec.imagee"`, `did you mean "image"`, `"spec.searchSpace.parameters[0].flaot"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "cpuMillis") {
		t.Errorf("a known field was reported: %s", msg)
	}
	// nothing was created
	if r := e.run("agent", "ls"); r.code != 0 || r.out != "" || !strings.Contains(r.err, "No agents found") {
		t.Errorf("agent ls after a refused create: %+v", r)
	}

	e.stdin = `{"metadata": {"name": "x"}, "spec": {"role": 5}}`
	if msg := e.fail("agent", "create", "-f", "-"); !strings.Contains(msg, "standard input") || !strings.Contains(msg, "role") {
		t.Errorf("wrong type: %s", msg)
	}
	e.stdin = `metadata: {name: Bad_Name}
spec: {image: x}
`
	// the server's field violation is shown
	if msg := e.fail("agent", "create", "-f", "-"); !strings.Contains(msg, "INVALID_ARGUMENT") || !strings.Contains(msg, "agent.metadata.name") {
		t.Errorf("invalid name: %s", msg)
	}
	e.stdin = ""
	if msg := e.fail("agent", "create"); !strings.Contains(msg, "-f FILE") {
		t.Errorf("create without -f: %s", msg)
	}
	if msg := e.fail("agent", "create", "-f", filepath.Join(t.TempDir(), "missing.yaml")); !strings.Contains(msg, "missing.yaml") {
		t.Errorf("missing file: %s", msg)
	}
}

func TestAgentListPagesThroughEverything(t *testing.T) {
	e := newEnv(t)
	const n = 130
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\nmetadata: {name: a%03d}\nspec: {role: worker, command: [run, \"%d\"]}\n", i, i)
	}
	file := e.writeFile("many.yaml", b.String())
	out := e.ok("agent", "create", "-f", file)
	if got := strings.Count(out, " created\n"); got != n {
		t.Fatalf("created %d of %d:\n%s", got, n, out)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.ok("agent", "ls", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != n {
		t.Fatalf("listed %d of %d", len(list.Items), n)
	}
	if last := list.Items[n-1]["metadata"].(map[string]any)["name"]; last != fmt.Sprintf("a%03d", n-1) {
		t.Errorf("last item %v", last)
	}
	if err := json.Unmarshal([]byte(e.ok("agent", "ls", "--limit", "105", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 105 {
		t.Errorf("--limit 105 listed %d", len(list.Items))
	}
	if msg := e.fail("agent", "ls", "--limit", "-1"); !strings.Contains(msg, "--limit") {
		t.Errorf("negative limit: %s", msg)
	}
}

func TestNodeLabelAndCordonRoundTrip(t *testing.T) {
	e := newEnv(t)
	name := e.nodeName()

	if got := e.ok("node", "label", name, "zone=a", "tier=gpu"); got != "node/"+name+" labeled\n" {
		t.Errorf("label: %q", got)
	}
	if l := e.getNode(name).GetMetadata().GetLabels(); l["zone"] != "a" || l["tier"] != "gpu" {
		t.Fatalf("labels after label: %v", l)
	}
	if out := e.ok("node", "ls", "-l", "zone=a"); !strings.Contains(out, name) {
		t.Errorf("-l zone=a does not list the node:\n%s", out)
	}
	if r := e.run("node", "ls", "-l", "zone=b"); r.code != 0 || strings.Contains(r.out, name) {
		t.Errorf("-l zone=b lists the node: %+v", r)
	}

	msg := e.fail("node", "label", name, "zone=b")
	if !strings.Contains(msg, "--overwrite") || !strings.Contains(msg, `"zone" already has a value (a)`) {
		t.Errorf("change without --overwrite: %s", msg)
	}
	if l := e.getNode(name).GetMetadata().GetLabels(); l["zone"] != "a" {
		t.Fatalf("a refused change was written: %v", l)
	}
	e.ok("node", "label", name, "zone=b", "--overwrite")
	if l := e.getNode(name).GetMetadata().GetLabels(); l["zone"] != "b" {
		t.Fatalf("labels after --overwrite: %v", l)
	}
	if got := e.ok("node", "label", name, "zone=b"); got != "node/"+name+" not labeled\n" {
		t.Errorf("same value: %q", got)
	}
	r := e.run("node", "label", name, "zone-", "ghost-")
	if r.code != 0 || !strings.Contains(r.err, `label "ghost" not found`) {
		t.Errorf("remove: %+v", r)
	}
	if l := e.getNode(name).GetMetadata().GetLabels(); len(l) != 1 || l["tier"] != "gpu" {
		t.Fatalf("labels after removal: %v", l)
	}
	for _, bad := range [][]string{{"node", "label", name}, {"node", "label", name, "novalue"}, {"node", "label", name, "=x"}, {"node", "label", name, "a=1", "a=2"}} {
		e.fail(bad...)
	}
	// the server validates label syntax and names the field
	if msg := e.fail("node", "label", name, "bad key=x"); !strings.Contains(msg, "INVALID_ARGUMENT") || !strings.Contains(msg, "labels") {
		t.Errorf("bad label key: %s", msg)
	}

	if got := e.ok("node", "cordon", name); got != "node/"+name+" cordoned\n" {
		t.Errorf("cordon: %q", got)
	}
	if !e.getNode(name).GetSpec().GetUnschedulable() {
		t.Fatal("cordon did not set spec.unschedulable")
	}
	if out := e.ok("node", "ls"); !strings.Contains(out, "Ready,SchedulingDisabled") {
		t.Errorf("ls after cordon:\n%s", out)
	}
	if got := e.ok("node", "cordon", name); got != "node/"+name+" already cordoned\n" {
		t.Errorf("second cordon: %q", got)
	}
	if got := e.ok("node", "uncordon", name); got != "node/"+name+" uncordoned\n" {
		t.Errorf("uncordon: %q", got)
	}
	n := e.getNode(name)
	if n.GetSpec().GetUnschedulable() || n.GetMetadata().GetLabels()["tier"] != "gpu" {
		t.Fatalf("after uncordon: %v", n)
	}
	if out := e.ok("node", "ls"); strings.Contains(out, "SchedulingDisabled") {
		t.Errorf("ls after uncordon:\n%s", out)
	}
	desc := e.ok("node", "describe", name)
	for _, want := range []string{"Name:", name, "tier=gpu", "Unschedulable:", "false", "Kernel:", "Conditions:", "Features:"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	if msg := e.fail("node", "describe", "no-such-node"); !strings.HasPrefix(msg, "Error: NOT_FOUND: ") {
		t.Errorf("describe missing node: %s", msg)
	}
}

func TestContexts(t *testing.T) {
	e := newEnv(t)
	cfgPath := filepath.Join(e.vars["XDG_CONFIG_HOME"], "stratoswarm", "config.yaml")
	if r := e.run("config", "get-contexts"); r.code != 0 || r.out != "" || !strings.Contains(r.err, "No contexts") {
		t.Errorf("get-contexts without a file: %+v", r)
	}

	tokenFile := e.writeFile("token", "secret\n")
	if got := e.ok("config", "set-context", "remote", "--server", "127.0.0.1:1", "--token-file", tokenFile); got != "Context \"remote\" created.\n" {
		t.Errorf("set-context: %q", got)
	}
	otherDir := filepath.Join(t.TempDir(), "other")
	e.ok("config", "set-context", "scratch", "--local", "--data-dir", otherDir)
	if got := e.ok("config", "set-context", "remote", "--token", "inline-secret"); got != "Context \"remote\" modified.\n" {
		t.Errorf("set-context again: %q", got)
	}
	st, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, want 0600", st.Mode().Perm())
	}

	table := e.ok("config", "get-contexts")
	if strings.Contains(table, "*") {
		t.Errorf("a context is current before use-context:\n%s", table)
	}
	if strings.Contains(table, "inline-secret") {
		t.Errorf("get-contexts shows a token:\n%s", table)
	}
	if got := e.ok("config", "use-context", "scratch"); got != "Switched to context \"scratch\".\n" {
		t.Errorf("use-context: %q", got)
	}
	var scratchRow, remoteRow string
	for _, l := range strings.Split(e.ok("config", "get-contexts"), "\n") {
		switch {
		case strings.Contains(l, "scratch"):
			scratchRow = l
		case strings.Contains(l, "remote"):
			remoteRow = l
		}
	}
	if !strings.HasPrefix(scratchRow, "*") || strings.HasPrefix(remoteRow, "*") || !strings.Contains(remoteRow, "127.0.0.1:1") || !strings.Contains(remoteRow, "inline") {
		t.Errorf("get-contexts rows: %q, %q", scratchRow, remoteRow)
	}

	view := e.ok("config", "view")
	if strings.Contains(view, "inline-secret") || !strings.Contains(view, "REDACTED") || !strings.Contains(view, "current-context: scratch") {
		t.Errorf("config view:\n%s", view)
	}
	if raw := e.ok("config", "view", "--raw"); !strings.Contains(raw, "inline-secret") {
		t.Errorf("config view --raw:\n%s", raw)
	}

	// the current context is local mode on its own data dir: no --data-dir
	js := e.runRaw(context.Background(), "cluster", "status", "-o", "json")
	if js.code != 0 {
		t.Fatalf("cluster status through context: %+v", js)
	}
	cs := &v1.ClusterStatus{}
	if err := protojson.Unmarshal([]byte(js.out), cs); err != nil {
		t.Fatal(err)
	}
	if got := cs.GetStore().GetPath(); got != filepath.Join(otherDir, "store") {
		t.Errorf("context scratch used store %q, want one in %s", got, otherDir)
	}
	// --local overrides the context
	js = e.run("--local", "cluster", "status", "-o", "json")
	if js.code != 0 || !strings.Contains(js.out, filepath.Join(e.dataDir, "store")) {
		t.Errorf("--local did not use --data-dir: %+v", js)
	}

	msg := e.fail("config", "use-context", "nope")
	if !strings.Contains(msg, `context "nope" not found`) || !strings.Contains(msg, "remote, scratch") {
		t.Errorf("use-context nope: %s", msg)
	}

	r := e.run("config", "delete-context", "scratch")
	if r.code != 0 || !strings.Contains(r.err, "current context") {
		t.Errorf("delete-context: %+v", r)
	}
	table = e.ok("config", "get-contexts")
	if strings.Contains(table, "scratch") || !strings.Contains(table, "remote") {
		t.Errorf("get-contexts after delete:\n%s", table)
	}
	if view := e.ok("config", "view"); strings.Contains(view, "current-context") {
		t.Errorf("current-context survived its deletion:\n%s", view)
	}
	e.fail("config", "delete-context", "scratch")
	e.fail("config", "set-context", "x", "--server", "a:1", "--local")
	e.fail("config", "set-context", "x", "--token", "a", "--token-file", "b")
}

func TestUnknownContextIsAClearError(t *testing.T) {
	e := newEnv(t)
	msg := e.fail("--context", "nope", "node", "ls")
	if !strings.Contains(msg, `context "nope" not found`) || !strings.Contains(msg, "set-context") {
		t.Errorf("--context nope without a file: %s", msg)
	}
	e.ok("config", "set-context", "dev", "--server", "127.0.0.1:1")
	msg = e.fail("--context", "nope", "node", "ls")
	if !strings.Contains(msg, `context "nope" not found`) || !strings.Contains(msg, "known contexts: dev") {
		t.Errorf("--context nope: %s", msg)
	}
	if _, err := os.Stat(e.dataDir); !os.IsNotExist(err) {
		t.Errorf("an unknown context fell back to local mode (stat: %v)", err)
	}
}

func TestConfigFileIsParsedStrictly(t *testing.T) {
	e := newEnv(t)
	bad := e.writeFile("config.yaml", "current-context: dev\ncontexts:\n- name: dev\n  servr: 127.0.0.1:7700\n")
	msg := e.fail("--config", bad, "node", "ls")
	if !strings.Contains(msg, `unknown key "servr"`) || !strings.Contains(msg, bad) {
		t.Errorf("unknown key: %s", msg)
	}
	e.vars["SWARMCTL_CONFIG"] = e.writeFile("c2.yaml", "contexts:\n- name: a\n  local: maybe\n")
	if msg := e.fail("config", "get-contexts"); !strings.Contains(msg, "local") || !strings.Contains(msg, "wrong type") {
		t.Errorf("wrong type via SWARMCTL_CONFIG: %s", msg)
	}
	e.vars["SWARMCTL_CONFIG"] = e.writeFile("c3.yaml", "contexts:\n- name: a\n- name: a\n")
	if msg := e.fail("config", "get-contexts"); !strings.Contains(msg, "duplicate") {
		t.Errorf("duplicate: %s", msg)
	}
}

func TestInvalidOutputFormat(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{{"-o", "xml", "node", "ls"}, {"cluster", "status", "--output=wide"}} {
		msg := e.fail(args...)
		if !strings.Contains(msg, "table, json, yaml") || !strings.Contains(msg, "-o/--output") {
			t.Errorf("%v: %s", args, msg)
		}
	}
	if _, err := os.Stat(e.dataDir); !os.IsNotExist(err) {
		t.Errorf("an invalid -o still started local mode (stat: %v)", err)
	}
	if msg := e.fail("node", "bogus"); !strings.Contains(msg, `unknown command "bogus" for "swarmctl node"`) || !strings.Contains(msg, "--help") {
		t.Errorf("unknown subcommand: %s", msg)
	}
	if out := e.ok("node"); !strings.Contains(out, "Available Commands") {
		t.Errorf("node without a subcommand:\n%s", out)
	}
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out := e.ok("completion", shell)
		if !strings.Contains(out, "swarmctl") || len(out) < 500 {
			t.Errorf("completion %s: %d bytes", shell, len(out))
		}
	}
	if out := e.ok("completion", "bash"); !strings.Contains(out, "bash completion") || !strings.Contains(out, "__start_swarmctl") {
		t.Errorf("completion bash is not a bash completion script")
	}

	name := e.nodeName()
	out := e.ok("__complete", "node", "describe", "")
	if !strings.Contains(out, name+"\n") || !strings.Contains(out, ":4") {
		t.Errorf("node names: %q", out)
	}
	e.ok("agent", "create", "-f", e.writeFile("a.yaml", solverYAML))
	if out := e.ok("__complete", "agent", "rm", "so"); !strings.HasPrefix(out, "solver\n") {
		t.Errorf("agent names: %q", out)
	}
	if out := e.ok("__complete", "agent", "rm", "solver", ""); strings.Contains(out, "solver") {
		t.Errorf("a name already given is offered again: %q", out)
	}
	if out := e.ok("__complete", "-o", ""); !strings.Contains(out, "table\njson\nyaml\n") {
		t.Errorf("-o values: %q", out)
	}
	// no server: silent, no names
	r := e.runRaw(context.Background(), "__complete", "--server", "127.0.0.1:1", "node", "describe", "")
	if r.code != 0 || strings.Contains(r.out, name) || strings.Contains(r.err, "Error") {
		t.Errorf("completion without a server: %+v", r)
	}
}

// startDaemon runs a swarmd in the test process, as a second program
// would, on dir; it stops at the end of the test.
func startDaemon(t *testing.T, dir string) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func TestRemoteServerTokensAndLockedDataDir(t *testing.T) {
	e := newEnv(t)
	srv := startDaemon(t, e.dataDir)

	// local mode on a data dir a daemon holds says how to reach it
	msg := e.fail("node", "ls")
	if !strings.Contains(msg, "lock") || !strings.Contains(msg, "a swarmd is running on this data dir: use --server 127.0.0.1:7700 --token $(cat "+filepath.Join(e.dataDir, "token")+")") {
		t.Errorf("locked data dir: %s", msg)
	}

	if out := e.ok("--server", srv.GRPCAddr(), "--token", srv.Token(), "cluster", "status"); !strings.Contains(out, filepath.Join(e.dataDir, "store")) {
		t.Errorf("remote cluster status:\n%s", out)
	}
	// environment variables
	e.vars["SWARM_SERVER"] = srv.GRPCAddr()
	e.vars["SWARM_TOKEN"] = srv.Token()
	if out := e.ok("node", "ls"); !strings.Contains(out, "Ready") {
		t.Errorf("remote node ls via env:\n%s", out)
	}
	delete(e.vars, "SWARM_TOKEN")
	msg = e.fail("node", "ls")
	if !strings.HasPrefix(msg, "Error: UNAUTHENTICATED: ") || !strings.Contains(msg, "--token") {
		t.Errorf("no token: %s", msg)
	}
	if msg := e.fail("--token", "wrong", "node", "ls"); !strings.HasPrefix(msg, "Error: UNAUTHENTICATED: ") {
		t.Errorf("wrong token: %s", msg)
	}
	delete(e.vars, "SWARM_SERVER")

	// a context with a token file
	e.ok("config", "set-context", "dev", "--server", srv.GRPCAddr(), "--token-file", filepath.Join(e.dataDir, "token"))
	e.ok("config", "use-context", "dev")
	if out := e.ok("version"); !strings.Contains(out, "Server Version: ") {
		t.Errorf("version through context:\n%s", out)
	}
	// --server takes the token from the context when none is given
	if out := e.ok("--server", srv.GRPCAddr(), "node", "ls"); !strings.Contains(out, "Ready") {
		t.Errorf("--server with the context's token:\n%s", out)
	}

	// an address nobody listens on
	closed := e.fail("--server", "127.0.0.1:1", "--token", "x", "node", "ls")
	if !strings.HasPrefix(closed, "Error: UNAVAILABLE: ") {
		t.Errorf("closed port: %s", closed)
	}
	if r := e.run("--server", "127.0.0.1:1", "--token", "x", "version"); r.code != 0 || !strings.Contains(r.out, "Client Version") || !strings.Contains(r.err, "warning") {
		t.Errorf("version without a server: %+v", r)
	}
	if msg := e.fail("--server", "http://127.0.0.1:7700", "node", "ls"); !strings.Contains(msg, "host:port") {
		t.Errorf("URL as server: %s", msg)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until buf contains want; it fails after a generous bound.
func waitFor(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatchPrintsRowsAsEventsArrive(t *testing.T) {
	e := newEnv(t)
	srv := startDaemon(t, e.dataDir)
	e.vars["SWARM_SERVER"] = srv.GRPCAddr()
	e.vars["SWARM_TOKEN"] = srv.Token()
	name := e.nodeName()

	watch := func(args ...string) (*syncBuffer, func() (int, string)) {
		ctx, cancel := context.WithCancel(context.Background())
		out, errOut := &syncBuffer{}, &syncBuffer{}
		root := newRootCmd(strings.NewReader(""), out, errOut, func(k string) string { return e.vars[k] })
		done := make(chan int, 1)
		go func() { done <- execute(ctx, root, args) }()
		return out, func() (int, string) {
			cancel()
			return <-done, errOut.String()
		}
	}

	nodes, stopNodes := watch("node", "ls", "-w")
	waitFor(t, nodes, "ADDED")
	e.ok("node", "label", name, "watched=yes")
	waitFor(t, nodes, "MODIFIED")
	if code, errs := stopNodes(); code != 0 {
		t.Fatalf("node watch exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(nodes.String()), "\n")
	if len(lines) < 3 || strings.Join(strings.Fields(lines[0]), " ") != "EVENT NAME STATUS CPUS MEMORY KERNEL AGE" {
		t.Fatalf("node watch output:\n%s", nodes.String())
	}
	if f := strings.Fields(lines[1]); f[0] != "ADDED" || f[1] != name {
		t.Errorf("first row %q", lines[1])
	}
	if i := strings.Index(lines[2], name); i != strings.Index(lines[1], name) {
		t.Errorf("rows are not aligned:\n%s", nodes.String())
	}

	e.ok("agent", "create", "-f", e.writeFile("a.yaml", solverYAML))
	agents, stopAgents := watch("agent", "ls", "-w", "-o", "json", "-l", "team=research")
	// once the existing agent is printed, the stream is live
	waitFor(t, agents, `"ADDED"`)
	e.stdin = "metadata: {name: other}\nspec: {image: x}\n"
	e.ok("agent", "create", "-f", "-")
	e.ok("agent", "rm", "other", "solver")
	waitFor(t, agents, `"DELETED"`)
	if code, errs := stopAgents(); code != 0 {
		t.Fatalf("agent watch exit %d: %s", code, errs)
	}
	dec := json.NewDecoder(strings.NewReader(agents.String()))
	var types []string
	for {
		var ev struct {
			Type   string         `json:"type"`
			Object map[string]any `json:"object"`
		}
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("watch json: %v\n%s", err, agents.String())
		}
		if n := ev.Object["metadata"].(map[string]any)["name"]; n != "solver" {
			t.Errorf("the selector let %v through", n)
		}
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "ADDED,DELETED" {
		t.Errorf("agent events %v", types)
	}
}
