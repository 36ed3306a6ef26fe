package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, file string, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("swarmd", pflag.ContinueOnError)
	BindFlags(fs, Default())
	if file != "" {
		p := filepath.Join(t.TempDir(), "swarmd.yaml")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs, func(k string) string { return env[k] })
}

func TestPrecedenceFlagsEnvFileDefaults(t *testing.T) {
	file := "data-dir: /from/file\ngrpc-addr: 127.0.0.1:1\nhttp-addr: 127.0.0.1:2\nshutdown-timeout: 5s\nwatch-history: 7\n"
	env := map[string]string{"SWARMD_GRPC_ADDR": "127.0.0.1:3", "SWARMD_HTTP_ADDR": "127.0.0.1:4"}
	cfg, err := load(t, file, env, "--http-addr", "127.0.0.1:5")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/file" || cfg.GRPCAddr != "127.0.0.1:3" || cfg.HTTPAddr != "127.0.0.1:5" {
		t.Fatalf("precedence: %+v", cfg)
	}
	if time.Duration(cfg.ShutdownTimeout) != 5*time.Second || cfg.WatchHistory != 7 || cfg.LogLevel != "info" {
		t.Fatalf("file values and defaults: %+v", cfg)
	}
	cfg, err = load(t, "", map[string]string{"SWARMD_CONFIG": writeTemp(t, "log-level: debug\n")})
	if err != nil || cfg.LogLevel != "debug" {
		t.Fatalf("SWARMD_CONFIG: %+v %v", cfg, err)
	}
}

func writeTemp(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cases := []struct {
		file, want string
	}{
		{"data-dir: /x\ngrcp-addr: 1\n", `unknown key "grcp-addr"`},
		{"watch-history: lots\n", `key "watch-history": wrong type`},
		{"grpc-addr: [1, 2]\n", `key "grpc-addr": wrong type`},
		{"shutdown-timeout: soon\n", `key "shutdown-timeout"`},
		{"log-level: loud\n", "log-level"},
		{"watch-history: 0\n", "watch-history"},
		{"data-dir: [unclosed\n", "invalid YAML"},
	}
	for _, c := range cases {
		_, err := load(t, c.file, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: got %v, want an error containing %q", c.file, err, c.want)
		}
	}
	if _, err := load(t, "", map[string]string{"SWARMD_WATCH_HISTORY": "x"}); err == nil || !strings.Contains(err.Error(), "SWARMD_WATCH_HISTORY") {
		t.Errorf("bad env value: %v", err)
	}
	if _, err := load(t, "", nil, "--config", "/does/not/exist.yaml"); err == nil || !strings.Contains(err.Error(), "exist.yaml") {
		t.Errorf("missing config file: %v", err)
	}
}

func TestDefaultDataDirFollowsXDG(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if d := DefaultDataDir(); d != "/xdg/stratoswarm" {
		t.Fatalf("with XDG_DATA_HOME: %s", d)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d := DefaultDataDir(); d != "/home/u/.local/share/stratoswarm" {
		t.Fatalf("without XDG_DATA_HOME: %s", d)
	}
}

func TestPluginSettings(t *testing.T) {
	cfg, err := load(t, "plugin-grants: [log, llm]\nallow-unsigned-plugins: true\n", nil)
	if err != nil || len(cfg.PluginGrants) != 2 || cfg.PluginGrants[1] != "llm" || !cfg.AllowUnsignedPlugins {
		t.Fatalf("from file: %+v %v", cfg, err)
	}
	cfg, err = load(t, "", map[string]string{"SWARMD_PLUGIN_GRANTS": "log,clock"}, "--allow-unsigned-plugins")
	if err != nil || len(cfg.PluginGrants) != 2 || !cfg.AllowUnsignedPlugins {
		t.Fatalf("env and flag: %+v %v", cfg, err)
	}
	if _, err := load(t, "plugin-grants: [root]\n", nil); err == nil || !strings.Contains(err.Error(), `plugin-grants: "root"`) {
		t.Fatalf("unknown grant: %v", err)
	}
	if _, err := load(t, "allow-unsigned-plugins: maybe\n", nil); err == nil || !strings.Contains(err.Error(), "allow-unsigned-plugins") {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestContainerdSettings(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || cfg.ContainerdAddress != "" || cfg.ContainerdNamespace != "stratoswarm" {
		t.Fatalf("defaults: %q %q %v", cfg.ContainerdAddress, cfg.ContainerdNamespace, err)
	}
	cfg, err = load(t, "containerd-address: /file.sock\ncontainerd-namespace: filens\n",
		map[string]string{"SWARMD_CONTAINERD_ADDRESS": "/env.sock"}, "--containerd-namespace", "flagns")
	if err != nil || cfg.ContainerdAddress != "/env.sock" || cfg.ContainerdNamespace != "flagns" {
		t.Fatalf("precedence: %q %q %v", cfg.ContainerdAddress, cfg.ContainerdNamespace, err)
	}
	if _, err := load(t, "containerd-address: /x.sock\ncontainerd-namespace: \"\"\n", nil); err == nil || !strings.Contains(err.Error(), "containerd-namespace") {
		t.Fatalf("empty namespace: %v", err)
	}
}

func TestContainerRuntimeSettings(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || cfg.ContainerRuntime != "native" || cfg.NativeInit != "" {
		t.Fatalf("defaults: %q %q %v", cfg.ContainerRuntime, cfg.NativeInit, err)
	}
	cfg, err = load(t, "native-init: /file/swarm-init\ncontainer-runtime: native\n",
		map[string]string{"SWARMD_NATIVE_INIT": "/env/swarm-init", "SWARMD_CONTAINERD_ADDRESS": "/c.sock"}, "--container-runtime", "containerd")
	if err != nil || cfg.NativeInit != "/env/swarm-init" || cfg.ContainerRuntime != "containerd" {
		t.Fatalf("precedence: %q %q %v", cfg.NativeInit, cfg.ContainerRuntime, err)
	}
	for _, c := range []struct{ file, want string }{
		{"container-runtime: docker\n", `container-runtime: "docker" is not one of native, containerd`},
		{"container-runtime: \"\"\n", `container-runtime: "" is not one of native, containerd`},
		{"container-runtime: containerd\n", "container-runtime: containerd needs containerd-address"},
		{"native-init: [a]\n", `key "native-init": wrong type`},
	} {
		if _, err := load(t, c.file, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.file, err, c.want)
		}
	}
}

func TestEvalSettings(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || cfg.EvalMemory != 512<<20 || cfg.EvalCPUs != 1 || cfg.EvalPids != 128 || cfg.EvalRuntime != "native" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	cfg, err = load(t, "eval-memory: 1Gi\neval-cpus: 0.5\neval-pids: 64\neval-runtime: process\n", nil)
	if err != nil || cfg.EvalMemory != 1<<30 || cfg.EvalCPUs != 0.5 || cfg.EvalPids != 64 || cfg.EvalRuntime != "process" {
		t.Fatalf("from file: %+v %v", cfg, err)
	}
	cfg, err = load(t, "eval-memory: 1048576\n", map[string]string{"SWARMD_EVAL_MEMORY": "256Mi", "SWARMD_EVAL_CPUS": "2"}, "--eval-cpus", "0.25", "--eval-pids", "0")
	if err != nil || cfg.EvalMemory != 256<<20 || cfg.EvalCPUs != 0.25 || cfg.EvalPids != 0 {
		t.Fatalf("precedence: %+v %v", cfg, err)
	}
	if cfg, err := load(t, "eval-memory: 1048576\n", nil); err != nil || cfg.EvalMemory != 1<<20 {
		t.Fatalf("a plain number: %+v %v", cfg, err)
	}
	if cfg, err := load(t, "", nil, "--eval-memory", "0"); err != nil || cfg.EvalMemory != 0 {
		t.Fatalf("0 is no limit: %+v %v", cfg, err)
	}
	cfg, err = load(t, "containerd-address: /c.sock\neval-runtime: containerd\n", nil)
	if err != nil || cfg.EvalRuntime != "containerd" {
		t.Fatalf("containerd: %+v %v", cfg, err)
	}
	for _, c := range []struct {
		file string
		env  map[string]string
		want string
	}{
		{"eval-memory: lots\n", nil, `key "eval-memory": want a byte quantity`},
		{"eval-memory: -1Mi\n", nil, `key "eval-memory"`},
		{"eval-cpus: many\n", nil, `key "eval-cpus": wrong type`},
		{"eval-cpus: -1\n", nil, "eval-cpus: -1 must be 0 (no limit) or a number of cores of at least 0.01"},
		{"eval-cpus: 0.001\n", nil, "eval-cpus: 0.001 must be"},
		{"eval-pids: -1\n", nil, "eval-pids: -1 must not be negative"},
		{"eval-runtime: docker\n", nil, `eval-runtime: "docker" is not one of native, containerd, process`},
		{"eval-runtime: containerd\n", nil, "eval-runtime: containerd needs containerd-address"},
		{"", map[string]string{"SWARMD_EVAL_MEMORY": "64Xi"}, "SWARMD_EVAL_MEMORY: want a byte quantity"},
		{"", map[string]string{"SWARMD_EVAL_CPUS": "NaN"}, "eval-cpus: NaN must be"},
		{"", map[string]string{"SWARMD_EVAL_CPUS": "half"}, "SWARMD_EVAL_CPUS: want a number of cores"},
	} {
		if _, err := load(t, c.file, c.env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: got %v, want an error containing %q", c.file, c.env, err, c.want)
		}
	}
	if got := Quantity(512 << 20).String(); got != "512Mi" {
		t.Errorf("512Mi prints as %q", got)
	}
	if got := Quantity(1000).String(); got != "1000" {
		t.Errorf("1000 prints as %q", got)
	}
}
