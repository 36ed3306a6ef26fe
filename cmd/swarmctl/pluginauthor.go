package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/stratoswarm/stratoswarm/host/registry"
)

// sdkModule is the module path of the Go plugin SDK.
const sdkModule = "github.com/stratoswarm/stratoswarm/sdk-wasm"

// pluginKinds are the kinds plugin init can start, in help order.
func pluginKinds() []string {
	return []string{registry.KindStrategy, registry.KindTrust, registry.KindPersonality}
}

// pluginProject is what the templates of plugin init are filled with.
type pluginProject struct {
	Name      string
	Kind      string
	SDKDir    string
	GoVersion string
}

// projectFiles are the files plugin init writes, in the order it lists
// them.
var projectFiles = []string{"go.mod", "plugin.yaml", "main.go", "main_test.go"}

// newPluginInitCmd is `swarmctl plugin init`.
func newPluginInitCmd(o *options) *cobra.Command {
	var kind, name, sdkDir string
	cmd := &cobra.Command{
		Use:   "init DIR --kind strategy|trust|personality [--name NAME] [--sdk PATH]",
		Short: "Start a Go plugin project that builds as it is",
		Long: `Write a ready-to-build Go plugin project to DIR (created if needed):

  go.mod        module NAME, requiring the Go plugin SDK
                (` + sdkModule + `), replaced by the SDK directory
  plugin.yaml   the manifest: name, version 0.1.0, kind, abi 1, limits
  main.go       a working plugin of the kind, on the SDK's plain Go types:
                strategy     a random search that remembers its best candidate
                trust        a Beta-posterior score of the evidence
                personality  more caution at low trust
  main_test.go  native tests of it (go test, no Wasm needed)

NAME defaults to DIR's base name; it must be a valid plugin name (lowercase
letters, digits and '-', starting with a letter).

The SDK is not published as a module: plugin init points go.mod at the
sdk-wasm directory of a Stratoswarm checkout, given by --sdk or the
SWARM_SDK environment variable. Files that exist are not overwritten.

Next: swarmctl plugin build DIR.`,
		Example: `  export SWARM_SDK=~/src/stratoswarm/sdk-wasm
  swarmctl plugin init hello --kind trust
  swarmctl plugin init ./strategies/annealer --kind strategy --name sa-annealer`,
		Args: exactArgs(1, "DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if kind == "" {
				return usagef("plugin init needs --kind: one of %s", strings.Join(pluginKinds(), ", "))
			}
			if !contains(pluginKinds(), kind) {
				return usagef("--kind %q: want one of %s", kind, strings.Join(pluginKinds(), ", "))
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if name == "" {
				name = strings.ToLower(filepath.Base(abs))
			}
			check := registry.Manifest{Name: name, Version: "0.1.0", Kind: kind, ABI: 1}
			if err := check.Check(); err != nil {
				if !cmd.Flags().Changed("name") {
					return usagef("%q (the base name of DIR) is not a valid plugin name; pick one with --name: %v", name, err)
				}
				return usagef("--name: %v", err)
			}
			if sdkDir == "" {
				sdkDir = o.getenv("SWARM_SDK")
			}
			if sdkDir == "" {
				return usagef("plugin init needs the Go plugin SDK: --sdk PATH or SWARM_SDK, the sdk-wasm directory of a Stratoswarm checkout (the SDK module is not published)")
			}
			sdkDir, goVersion, err := checkSDKDir(o.expandHome(sdkDir))
			if err != nil {
				return err
			}
			p := pluginProject{Name: name, Kind: kind, SDKDir: sdkDir, GoVersion: goVersion}
			for _, f := range projectFiles {
				if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
					return fmt.Errorf("%s exists: plugin init does not overwrite files; pick an empty DIR", filepath.Join(dir, f))
				}
			}
			files, err := renderProject(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, f := range projectFiles {
				if err := os.WriteFile(filepath.Join(dir, f), files[f], 0o644); err != nil {
					return err
				}
			}
			if o.output != outputTable {
				b, err := json.Marshal(map[string]any{"name": name, "kind": kind, "dir": dir, "sdk": sdkDir, "files": projectFiles})
				if err != nil {
					return err
				}
				return writeStructured(o.out, o.output, b)
			}
			fmt.Fprintf(o.out, "Created %s plugin %s in %s:\n", kind, name, dir)
			for _, f := range projectFiles {
				fmt.Fprintf(o.out, "  %s\n", filepath.Join(dir, f))
			}
			fmt.Fprintf(o.out, "Next: swarmctl plugin build %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "what the plugin does: "+strings.Join(pluginKinds(), ", "))
	cmd.Flags().StringVar(&name, "name", "", "plugin name (default: DIR's base name)")
	cmd.Flags().StringVar(&sdkDir, "sdk", "", "the sdk-wasm directory of a Stratoswarm checkout (env SWARM_SDK)")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(pluginKinds(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("sdk")
	return cmd
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// goDirective matches go.mod's go line.
var goDirective = regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`)

// checkSDKDir checks that dir holds the SDK module and returns it as an
// absolute path with the go version its go.mod asks for.
func checkSDKDir(dir string) (abs, goVersion string, err error) {
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return "", "", fmt.Errorf("SDK directory %s: %w (want the sdk-wasm directory of a Stratoswarm checkout)", abs, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	module := ""
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			module = strings.Trim(f[1], `"`)
			break
		}
	}
	if module != sdkModule {
		return "", "", fmt.Errorf("SDK directory %s holds module %q, not %s (want the sdk-wasm directory of a Stratoswarm checkout)", abs, module, sdkModule)
	}
	goVersion = "1.26.0"
	if m := goDirective.FindSubmatch(data); m != nil {
		goVersion = string(m[1])
	}
	return abs, goVersion, nil
}

// renderProject fills the templates of a project. They use [[ ]] as
// delimiters, since Go composite literals are full of {{ }}.
func renderProject(p pluginProject) (map[string][]byte, error) {
	sources := map[string]string{
		"go.mod":       goModTemplate,
		"plugin.yaml":  manifestTemplate,
		"main.go":      mainTemplates[p.Kind],
		"main_test.go": testTemplates[p.Kind],
	}
	out := map[string][]byte{}
	for _, f := range projectFiles {
		t, err := template.New(f).Delims("[[", "]]").Parse(sources[f])
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", f, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, p); err != nil {
			return nil, fmt.Errorf("template %s: %w", f, err)
		}
		src := b.Bytes()
		if strings.HasSuffix(f, ".go") {
			if src, err = format.Source(src); err != nil {
				return nil, fmt.Errorf("template %s: %w", f, err)
			}
		}
		out[f] = src
	}
	return out, nil
}

// newPluginBuildCmd is `swarmctl plugin build`.
func newPluginBuildCmd(o *options) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build [DIR] [-o FILE.wasm]",
		Short: "Compile a Go plugin project to a Wasm module",
		Long: `Compile the Go plugin project in DIR (default: the current directory) to a
WebAssembly reactor module with the Go toolchain on PATH:

  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o FILE.wasm .

The go tool's output is shown as it comes. FILE.wasm defaults to NAME.wasm in
DIR, NAME being the name in DIR/plugin.yaml (else DIR's base name). The
result is checked to be a WebAssembly module. On this command -o/--output
names the module file, as in go build, instead of the output format.

Next: swarmctl plugin sign FILE.wasm --key NAME.key.`,
		Example: `  swarmctl plugin build hello
  swarmctl plugin build . -o dist/hello.wasm`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("plugin build takes at most one DIR, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			st, err := os.Stat(dir)
			if err != nil {
				return err
			}
			if !st.IsDir() {
				return usagef("%s is not a directory: plugin build takes the directory of a Go plugin project (from swarmctl plugin init)", dir)
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
				return fmt.Errorf("%s has no go.mod: plugin build takes the directory of a Go plugin project (start one with swarmctl plugin init %s --kind KIND)", dir, dir)
			}
			absDir, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			name := filepath.Base(absDir)
			if data, err := os.ReadFile(filepath.Join(dir, "plugin.yaml")); err == nil {
				m, err := registry.ParseManifest(data)
				if err != nil {
					fmt.Fprintf(o.errOut, "warning: %s: %v\n", filepath.Join(dir, "plugin.yaml"), err)
				}
				if m.Name != "" {
					name = m.Name
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if out == "" {
				out = filepath.Join(dir, name+".wasm")
			}
			absOut, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			goTool, err := exec.LookPath("go")
			if err != nil {
				return fmt.Errorf("plugin build needs the Go toolchain on PATH (Go 1.24 or newer, for wasip1 reactors): %w", err)
			}
			goArgs := []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", absOut, "."}
			fmt.Fprintf(o.errOut, "+ cd %s && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o %s .\n", dir, absOut)
			gb := exec.CommandContext(cmd.Context(), goTool, goArgs...)
			gb.Dir = absDir
			gb.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			gb.Stdout, gb.Stderr = o.errOut, o.errOut
			if err := gb.Run(); err != nil {
				return fmt.Errorf("go build in %s failed: %w", dir, err)
			}
			module, err := readModule(absOut)
			if err != nil {
				return fmt.Errorf("go build wrote %s, but: %w", out, err)
			}
			fmt.Fprintf(o.out, "Built %s (%s, sha256 %s)\n", out, humanBytes(int64(len(module))), registry.Digest(module)[:12])
			return nil
		},
	}
	// -o names the module here, as in go build; it shadows the global
	// -o/--output, which build does not use
	cmd.Flags().StringVarP(&out, "output", "o", "", "module file to write (default DIR/NAME.wasm)")
	_ = cmd.MarkFlagFilename("output", "wasm")
	return cmd
}

// goModTemplate is go.mod of a new plugin project.
const goModTemplate = `module [[.Name]]

go [[.GoVersion]]

require ` + sdkModule + ` v0.0.0

// The SDK is not published as a module: build against a Stratoswarm checkout.
replace ` + sdkModule + ` => [[.SDKDir]]
`

// manifestTemplate is plugin.yaml of a new plugin project.
const manifestTemplate = `# plugin.yaml: what swarmd needs to know about the module.
# Reference: docs/dev/extensions.md. Bump version for every upload.
name: [[.Name]]
version: 0.1.0
kind: [[.Kind]]
abi: 1
description: A [[.Kind]] plugin made with swarmctl plugin init.
# Host functions the plugin may call, granted by the operator's policy:
# log, clock, random, metrics, llm, wasi. This one needs none.
capabilities: []
limits:
  memory_bytes: 67108864     # 64 MiB per instance
  call_timeout_millis: 2000  # per call
  max_output_bytes: 4194304  # 4 MiB per response
`
