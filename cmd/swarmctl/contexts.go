package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// clientConfig is swarmctl's config file: named contexts, each a way to
// reach a swarm, and the one used by default.
type clientConfig struct {
	CurrentContext string          `json:"current-context,omitempty" yaml:"current-context,omitempty"`
	Contexts       []clientContext `json:"contexts" yaml:"contexts"`
}

// clientContext is one way to reach a swarm: a server address with a token,
// or local mode on a data directory.
type clientContext struct {
	Name      string `json:"name" yaml:"name"`
	Server    string `json:"server,omitempty" yaml:"server,omitempty"`
	Token     string `json:"token,omitempty" yaml:"token,omitempty"`
	TokenFile string `json:"token-file,omitempty" yaml:"token-file,omitempty"`
	Local     bool   `json:"local,omitempty" yaml:"local,omitempty"`
	DataDir   string `json:"data-dir,omitempty" yaml:"data-dir,omitempty"`
}

// contextKeys and fileKeys are the keys the config file knows, for errors.
const (
	fileKeys    = "current-context, contexts"
	contextKeys = "name, server, token, token-file, local, data-dir"
)

// configFilePath is where the config file lives: --config, SWARMCTL_CONFIG,
// $XDG_CONFIG_HOME/stratoswarm/config.yaml, ~/.config/stratoswarm/config.yaml.
func (o *options) configFilePath() (string, error) {
	if o.configPath != "" {
		return o.configPath, nil
	}
	if p := o.getenv("SWARMCTL_CONFIG"); p != "" {
		return p, nil
	}
	if d := o.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "stratoswarm", "config.yaml"), nil
	}
	home := o.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("cannot find the config file: set --config or SWARMCTL_CONFIG: %w", err)
		}
	}
	return filepath.Join(home, ".config", "stratoswarm", "config.yaml"), nil
}

// loadConfig reads the config file. A missing file is an empty config and
// exists is false.
func (o *options) loadConfig() (cfg *clientConfig, path string, exists bool, err error) {
	path, err = o.configFilePath()
	if err != nil {
		return nil, "", false, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &clientConfig{}, path, false, nil
	}
	if err != nil {
		return nil, path, false, fmt.Errorf("read config file: %w", err)
	}
	cfg, err = parseClientConfig(data)
	if err != nil {
		return nil, path, true, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, path, true, nil
}

// parseClientConfig reads config file text strictly: unknown keys, wrong
// types, unnamed and duplicate contexts are errors.
func parseClientConfig(data []byte) (*clientConfig, error) {
	cfg := &clientConfig{}
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, explainConfigYAML(err)
	}
	seen := map[string]bool{}
	for i, c := range cfg.Contexts {
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("contexts[%d]: name must not be empty", i)
		case seen[c.Name]:
			return nil, fmt.Errorf("contexts[%d]: duplicate context name %q", i, c.Name)
		case c.Local && c.Server != "":
			return nil, fmt.Errorf("context %q: server and local exclude each other", c.Name)
		case c.Token != "" && c.TokenFile != "":
			return nil, fmt.Errorf("context %q: token and token-file exclude each other", c.Name)
		}
		seen[c.Name] = true
	}
	return cfg, nil
}

// explainConfigYAML rewrites the JSON decoder's wording into one that names
// the key.
func explainConfigYAML(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	if k, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s (known keys: %s; in a context: %s)", k, fileKeys, contextKeys)
	}
	// json: cannot unmarshal string into Go struct field clientContext.contexts.local of type bool
	if i := strings.Index(msg, "Go struct field "); i >= 0 {
		rest := msg[i+len("Go struct field "):]
		field, typ, _ := strings.Cut(rest, " of type ")
		if _, after, ok := strings.Cut(field, "."); ok {
			field = after
		}
		what := strings.TrimPrefix(msg[:i], "json: cannot unmarshal ")
		what = strings.TrimSuffix(strings.TrimSpace(what), " into")
		return fmt.Errorf("key %q: wrong type: got %s, want %s", field, what, typ)
	}
	return fmt.Errorf("invalid YAML: %s", msg)
}

// saveConfig writes the config file atomically with mode 0600, creating its
// directory with mode 0700.
func saveConfig(path string, cfg *clientConfig) error {
	data, err := cfg.marshalYAML()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	return nil
}

// marshalYAML writes the config in field order (name first), indented by
// two spaces.
func (c *clientConfig) marshalYAML() ([]byte, error) {
	if c.Contexts == nil {
		c.Contexts = []clientContext{}
	}
	var buf bytes.Buffer
	enc := yamlv3.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// find returns the context called name.
func (c *clientConfig) find(name string) (*clientContext, bool) {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i], true
		}
	}
	return nil, false
}

// names lists the contexts' names in file order.
func (c *clientConfig) names() []string {
	out := make([]string, 0, len(c.Contexts))
	for _, x := range c.Contexts {
		out = append(out, x.Name)
	}
	return out
}

// notFound is the error for a context that does not exist.
func (c *clientConfig) notFound(name, path string) error {
	known := "none; create one with swarmctl config set-context"
	if len(c.Contexts) > 0 {
		known = strings.Join(c.names(), ", ")
	}
	return fmt.Errorf("context %q not found in %s (known contexts: %s)", name, path, known)
}

// expandHome turns a leading ~/ into the home directory.
func (o *options) expandHome(p string) string {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p
	}
	home := o.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return p
	}
	return filepath.Join(home, rest)
}
