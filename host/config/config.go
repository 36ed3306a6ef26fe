// Package config holds swarmd's settings and loads them from defaults, a
// YAML file, the environment and command-line flags, in that order of
// increasing precedence.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/stratoswarm/stratoswarm/host/quantity"
)

// Config is swarmd's configuration. The YAML keys, flag names and
// environment variables (SWARMD_ plus the key in upper snake case) share
// one spelling.
type Config struct {
	// DataDir holds the store, the token, the lock and the native
	// runtime's containers and images (native/).
	DataDir string `json:"data-dir"`
	// CacheDir holds caches that can be rebuilt, such as compiled plugins;
	// swarmds on one host may share it.
	CacheDir string `json:"cache-dir"`
	// GRPCAddr is the gRPC listen address.
	GRPCAddr string `json:"grpc-addr"`
	// HTTPAddr is the REST, /healthz and /metrics listen address; empty
	// disables the HTTP listener.
	HTTPAddr string `json:"http-addr"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log-level"`
	// LogFormat is text or json.
	LogFormat string `json:"log-format"`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM.
	ShutdownTimeout Duration `json:"shutdown-timeout"`
	// WatchHistory is how many resource versions of change history are
	// kept so that watches can resume.
	WatchHistory int64 `json:"watch-history"`
	// NodeName names this node; the default is the hostname.
	NodeName string `json:"node-name"`
	// PluginGrants are the capabilities plugins may use (sdk-wasm/ABI.md §4).
	PluginGrants []string `json:"plugin-grants"`
	// AllowUnsignedPlugins is the development switch: accept plugins that
	// are unsigned or whose signature does not verify.
	AllowUnsignedPlugins bool `json:"allow-unsigned-plugins"`
	// MaxPluginBytes bounds an uploaded plugin module.
	MaxPluginBytes int64 `json:"max-plugin-bytes"`
	// TSPSolver is the tspsolver example agent's binary, run once per
	// evaluation by the tsplib suites; empty finds "tspsolver" beside the
	// running binary, then on PATH.
	TSPSolver string `json:"tspsolver"`
	// LLMEndpoint is an OpenAI-compatible API's base URL for plugins with
	// the llm capability; empty: no LLM.
	LLMEndpoint string `json:"llm-endpoint"`
	// LLMModel is the model used when a plugin's request names none.
	LLMModel string `json:"llm-model"`
	// LLMAPIKeyFile holds the API key (read at start; the key itself is
	// never a flag, so it stays out of process listings).
	LLMAPIKeyFile string `json:"llm-api-key-file"`
	// NativeInit is the swarm-init binary the native runtime starts each
	// container with; empty: swarm-init beside the running binary, then on
	// PATH.
	NativeInit string `json:"native-init"`
	// ContainerRuntime runs the containers whose spec names no runtime:
	// "native" or "containerd".
	ContainerRuntime string `json:"container-runtime"`
	// ContainerdAddress is the containerd socket that runs containers with
	// runtime "containerd"; empty: no containerd runtime.
	ContainerdAddress string `json:"containerd-address"`
	// ContainerdNamespace is the containerd namespace swarmd's containers
	// live in.
	ContainerdNamespace string `json:"containerd-namespace"`
	// TrustDomain is the SPIFFE trust domain of the agents' identities:
	// spiffe://<trust-domain>/agent/<name>.
	TrustDomain string `json:"trust-domain"`
	// SVIDTTL is how long an agent's certificate is valid.
	SVIDTTL Duration `json:"svid-ttl"`
	// TrustThreshold is the trust gate of evolutions (and canaries) whose
	// spec gives none: a candidate whose trust lower bound is below it is
	// never a parent, an evolution's best or promoted. 0 turns it off.
	TrustThreshold float64 `json:"trust-threshold"`
	// EvalMemory is the memory limit of each candidate evaluation of a
	// process-based suite (tsplib) unless the evolution sets its own
	// (spec.candidate_resources); 0: no limit.
	EvalMemory Quantity `json:"eval-memory"`
	// EvalCPUs is the CPU quota, in cores, of each candidate evaluation
	// unless the evolution sets its own; 0: no limit.
	EvalCPUs float64 `json:"eval-cpus"`
	// EvalPids caps the processes of each candidate evaluation unless the
	// evolution sets its own; 0: no limit.
	EvalPids int64 `json:"eval-pids"`
	// EvalRuntime runs the candidates of process-based suites: "native" or
	// "containerd" (a container per evaluation, with the limits above), or
	// "process" (a plain child process: no isolation, no limits).
	EvalRuntime string `json:"eval-runtime"`
	// TelemetryScrapeInterval is how often swarmd reads the telemetry of
	// every running agent replica: its /metrics, its container's usage and
	// the mesh's counters.
	TelemetryScrapeInterval Duration `json:"telemetry-scrape-interval"`
}

// ContainerRuntimes are the values container-runtime may take.
func ContainerRuntimes() []string { return []string{"native", "containerd"} }

// EvalRuntimes are the values eval-runtime may take.
func EvalRuntimes() []string { return []string{"native", "containerd", "process"} }

// DefaultTelemetryScrapeInterval is telemetry-scrape-interval's default.
const DefaultTelemetryScrapeInterval = 5 * time.Second

// Bounds of telemetry-scrape-interval: reads more often than the minimum
// cost more than they tell; past the maximum the 15-minute window holds
// too few samples to summarise.
const (
	MinTelemetryScrapeInterval = 100 * time.Millisecond
	MaxTelemetryScrapeInterval = 5 * time.Minute
)

// DefaultTrustThreshold is trust-threshold's default: with the beta scorer's
// 5% lower bound, a candidate whose one task succeeded (0.224) or that
// passed two of three (0.25) is admitted, one that failed its task (0.025)
// or two of three (0.098) is not (docs/RATIONALE.md).
const DefaultTrustThreshold = 0.2

// minEvalCPUs is the smallest CPU quota the kernel enforces.
const minEvalCPUs = 0.01

// PluginCapabilities are the capabilities a grant may name.
var PluginCapabilities = []string{"log", "clock", "random", "metrics", "llm", "wasi"}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// UnmarshalJSON reads a duration string such as "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("want a duration string such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"30s\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// Quantity is a byte count written as bytes or with a unit ("512Mi",
// "1Gi", "500M"; see host/quantity), or as a plain number; "0" is zero.
type Quantity int64

// UnmarshalJSON reads a quantity string such as "512Mi", or a number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	s := string(b)
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	n, err := parseQuantity(s)
	if err != nil {
		return fmt.Errorf("want a byte quantity such as 512Mi or 1Gi: %w", err)
	}
	*q = Quantity(n)
	return nil
}

// MarshalJSON writes the quantity as a number of bytes.
func (q Quantity) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(int64(q), 10)), nil
}

// String writes the quantity in the largest binary unit it is a whole
// number of ("512Mi"), else in bytes.
func (q Quantity) String() string {
	n := int64(q)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n > 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseQuantity reads a byte quantity; "0" is zero (no limit).
func parseQuantity(s string) (int64, error) {
	if strings.TrimSpace(s) == "0" {
		return 0, nil
	}
	return quantity.ParseBytes(s)
}

// Default returns the built-in configuration.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		DataDir:         DefaultDataDir(),
		CacheDir:        DefaultCacheDir(),
		GRPCAddr:        "127.0.0.1:7700",
		HTTPAddr:        "127.0.0.1:7701",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: Duration(30 * time.Second),
		TrustDomain:     "stratoswarm.local",
		SVIDTTL:         Duration(24 * time.Hour),
		TrustThreshold:  DefaultTrustThreshold,
		WatchHistory:    100000,
		NodeName:        strings.ToLower(host),
		PluginGrants:    []string{"log", "clock", "random", "metrics"},
		MaxPluginBytes:  64 << 20,

		ContainerRuntime:    "native",
		ContainerdNamespace: "stratoswarm",

		EvalMemory:  512 << 20,
		EvalCPUs:    1,
		EvalPids:    128,
		EvalRuntime: "native",

		TelemetryScrapeInterval: Duration(DefaultTelemetryScrapeInterval),
	}
}

// DefaultDataDir is $XDG_DATA_HOME/stratoswarm, else
// ~/.local/share/stratoswarm.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "stratoswarm")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "stratoswarm")
	}
	return filepath.Join(home, ".local", "share", "stratoswarm")
}

// DefaultCacheDir is $XDG_CACHE_HOME/stratoswarm, else
// ~/.cache/stratoswarm.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "stratoswarm")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "stratoswarm-cache")
	}
	return filepath.Join(home, ".cache", "stratoswarm")
}

// Validate checks the values that cannot be checked by type alone.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: must not be empty"))
	}
	if c.GRPCAddr == "" {
		errs = append(errs, errors.New("grpc-addr: must not be empty"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log-format: %q is not one of text, json", c.LogFormat))
	}
	if c.TrustDomain == "" {
		errs = append(errs, errors.New("trust-domain: must not be empty (e.g. stratoswarm.local)"))
	}
	if c.SVIDTTL <= 0 {
		errs = append(errs, fmt.Errorf("svid-ttl: %v must be positive (e.g. 24h)", time.Duration(c.SVIDTTL)))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("shutdown-timeout: must not be negative"))
	}
	for _, g := range c.PluginGrants {
		if !slices.Contains(PluginCapabilities, g) {
			errs = append(errs, fmt.Errorf("plugin-grants: %q is not one of %s", g, strings.Join(PluginCapabilities, ", ")))
		}
	}
	if c.MaxPluginBytes < 1<<10 || c.MaxPluginBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("max-plugin-bytes: %d is outside 1 KiB to 1 GiB", c.MaxPluginBytes))
	}
	if math.IsNaN(c.TrustThreshold) || c.TrustThreshold < 0 || c.TrustThreshold > 1 {
		errs = append(errs, fmt.Errorf("trust-threshold: %v is outside [0, 1]: give a trust lower bound such as 0.2 (0: no gate)", c.TrustThreshold))
	}
	if c.ContainerdAddress != "" && c.ContainerdNamespace == "" {
		errs = append(errs, errors.New("containerd-namespace: must not be empty when containerd-address is set"))
	}
	if !slices.Contains(ContainerRuntimes(), c.ContainerRuntime) {
		errs = append(errs, fmt.Errorf("container-runtime: %q is not one of %s", c.ContainerRuntime, strings.Join(ContainerRuntimes(), ", ")))
	} else if c.ContainerRuntime == "containerd" && c.ContainerdAddress == "" {
		errs = append(errs, errors.New("container-runtime: containerd needs containerd-address set to a containerd socket; or choose native"))
	}
	if c.EvalMemory < 0 {
		errs = append(errs, fmt.Errorf("eval-memory: %d must not be negative (0 means no limit)", c.EvalMemory))
	}
	if math.IsNaN(c.EvalCPUs) || math.IsInf(c.EvalCPUs, 0) || c.EvalCPUs < 0 || (c.EvalCPUs > 0 && c.EvalCPUs < minEvalCPUs) {
		errs = append(errs, fmt.Errorf("eval-cpus: %v must be 0 (no limit) or a number of cores of at least %v, such as 0.5 or 2", c.EvalCPUs, minEvalCPUs))
	}
	if c.EvalPids < 0 {
		errs = append(errs, fmt.Errorf("eval-pids: %d must not be negative (0 means no limit)", c.EvalPids))
	}
	if !slices.Contains(EvalRuntimes(), c.EvalRuntime) {
		errs = append(errs, fmt.Errorf("eval-runtime: %q is not one of %s", c.EvalRuntime, strings.Join(EvalRuntimes(), ", ")))
	} else if c.EvalRuntime == "containerd" && c.ContainerdAddress == "" {
		errs = append(errs, errors.New("eval-runtime: containerd needs containerd-address set to a containerd socket; or choose native or process"))
	}
	if d := time.Duration(c.TelemetryScrapeInterval); d < MinTelemetryScrapeInterval || d > MaxTelemetryScrapeInterval {
		errs = append(errs, fmt.Errorf("telemetry-scrape-interval: %v is outside %v to %v (default %v; at most 12s for anomaly events on scraped series)", d, MinTelemetryScrapeInterval, MaxTelemetryScrapeInterval, DefaultTelemetryScrapeInterval))
	}
	if c.WatchHistory < 1 {
		errs = append(errs, fmt.Errorf("watch-history: %d must be at least 1", c.WatchHistory))
	}
	return errors.Join(errs...)
}

// ParseFile reads a YAML config file over base. Unknown keys and values of
// the wrong type are errors that name the key.
func ParseFile(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("read config file: %w", err)
	}
	cfg, err := Parse(data, base)
	if err != nil {
		return base, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads YAML config text over base.
func Parse(data []byte, base Config) (Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return base, nil
	}
	cfg := base
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return base, explainYAML(err, data)
	}
	return cfg, nil
}

// explainYAML rewrites encoding/json's wording, which sigs.k8s.io/yaml
// passes through, into one that names the key.
func explainYAML(err error, data []byte) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	if k, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s (known keys: %s)", k, strings.Join(Keys(), ", "))
	}
	// "json: cannot unmarshal string into Go struct field Config.watch-history of type int64"
	if i := strings.Index(msg, "Go struct field Config."); i >= 0 {
		rest := msg[i+len("Go struct field Config."):]
		key, typ, _ := strings.Cut(rest, " of type ")
		what := strings.TrimPrefix(msg[:i], "json: cannot unmarshal ")
		what = strings.TrimSuffix(strings.TrimSpace(what), " into")
		return fmt.Errorf("key %q: wrong type: got %s, want %s", key, what, typ)
	}
	// errors from Duration.UnmarshalJSON and Quantity.UnmarshalJSON
	// arrive without the key name: find the duration key whose value does
	// not parse (Quantity has one key)
	if strings.Contains(msg, "duration string") {
		return fmt.Errorf("key %q: %s", badDurationKey(data), msg)
	}
	if strings.Contains(msg, "byte quantity") {
		return fmt.Errorf("key %q: %s", "eval-memory", msg)
	}
	return fmt.Errorf("invalid YAML: %s", msg)
}

// durationKeys are the keys of type Duration.
var durationKeys = []string{"shutdown-timeout", "svid-ttl", "telemetry-scrape-interval"}

// badDurationKey names the first duration key in the YAML data whose value
// is not a duration string.
func badDurationKey(data []byte) string {
	var m map[string]any
	if yaml.Unmarshal(data, &m) == nil {
		for _, k := range durationKeys {
			v, ok := m[k]
			if !ok {
				continue
			}
			if s, isString := v.(string); !isString {
				return k
			} else if _, err := time.ParseDuration(s); err != nil {
				return k
			}
		}
	}
	return strings.Join(durationKeys, " or ")
}

// Keys lists the configuration keys.
func Keys() []string {
	return []string{"data-dir", "cache-dir", "grpc-addr", "http-addr", "log-level", "log-format", "shutdown-timeout", "watch-history", "node-name", "trust-threshold",
		"plugin-grants", "allow-unsigned-plugins", "max-plugin-bytes", "tspsolver", "llm-endpoint", "llm-model", "llm-api-key-file",
		"native-init", "container-runtime", "containerd-address", "containerd-namespace", "eval-memory", "eval-cpus", "eval-pids", "eval-runtime", "trust-domain", "svid-ttl", "telemetry-scrape-interval"}
}

// envName is the environment variable for a key: SWARMD_DATA_DIR.
func envName(key string) string {
	return "SWARMD_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// BindFlags declares a flag for every key on fs, with defaults from d.
func BindFlags(fs *pflag.FlagSet, d Config) {
	fs.String("config", "", "YAML config file (env SWARMD_CONFIG)")
	fs.String("data-dir", d.DataDir, "directory for the store, the token and the lock")
	fs.String("cache-dir", d.CacheDir, "directory for rebuildable caches (compiled plugins)")
	fs.String("grpc-addr", d.GRPCAddr, "gRPC listen address")
	fs.String("http-addr", d.HTTPAddr, "REST, /healthz and /metrics listen address (empty disables)")
	fs.String("log-level", d.LogLevel, "debug, info, warn or error")
	fs.String("log-format", d.LogFormat, "text or json")
	fs.Duration("shutdown-timeout", time.Duration(d.ShutdownTimeout), "how long a graceful shutdown may take")
	fs.String("trust-domain", d.TrustDomain, "SPIFFE trust domain of the agents' identities (spiffe://TRUST-DOMAIN/agent/NAME)")
	fs.Duration("svid-ttl", time.Duration(d.SVIDTTL), "how long an agent's certificate is valid")
	fs.Float64("trust-threshold", d.TrustThreshold, "trust lower bound a candidate needs to be a parent, an evolution's best or promoted, when its spec gives none (0: no gate)")
	fs.Int64("watch-history", d.WatchHistory, "resource versions of change history kept for watch resumption")
	fs.String("node-name", d.NodeName, "this node's name")
	fs.StringSlice("plugin-grants", d.PluginGrants, "capabilities plugins may use: "+strings.Join(PluginCapabilities, ","))
	fs.Bool("allow-unsigned-plugins", d.AllowUnsignedPlugins, "DEVELOPMENT ONLY: accept unsigned plugins and plugins whose signature does not verify")
	fs.Int64("max-plugin-bytes", d.MaxPluginBytes, "largest plugin module an upload may carry")
	fs.String("tspsolver", d.TSPSolver, "the tspsolver binary the tsplib suites run (default: beside this binary, then PATH)")
	fs.String("llm-endpoint", d.LLMEndpoint, "OpenAI-compatible API base URL for plugins granted llm (empty: none)")
	fs.String("llm-model", d.LLMModel, "model used when a plugin's request names none")
	fs.String("llm-api-key-file", d.LLMAPIKeyFile, "file holding the LLM API key")
	fs.String("native-init", d.NativeInit, "the swarm-init binary native containers start with (default: beside this binary, then PATH; make build puts it in bin/)")
	fs.String("container-runtime", d.ContainerRuntime, "runtime of containers whose spec names none: "+strings.Join(ContainerRuntimes(), ", "))
	fs.String("containerd-address", d.ContainerdAddress, "containerd socket for containers with runtime containerd (empty: none; hack/containerd.sh start DIR prints one)")
	fs.String("containerd-namespace", d.ContainerdNamespace, "containerd namespace swarmd's containers live in")
	fs.String("eval-memory", d.EvalMemory.String(), "memory limit of each candidate evaluation of a process-based suite, bytes or 512Mi, 1Gi (0: none; an evolution's candidate_resources override it)")
	fs.Float64("eval-cpus", d.EvalCPUs, "CPU quota in cores of each candidate evaluation (0: none)")
	fs.Int64("eval-pids", d.EvalPids, "most processes of each candidate evaluation (0: no limit)")
	fs.Duration("telemetry-scrape-interval", time.Duration(d.TelemetryScrapeInterval), "how often swarmd reads every agent replica's /metrics, container usage and mesh counters")
	fs.String("eval-runtime", d.EvalRuntime, "how process-based suites run candidates: "+strings.Join(EvalRuntimes(), ", ")+" (process: unconfined, no limits)")
}

// Load builds the configuration: defaults, then the config file (from
// --config or SWARMD_CONFIG), then SWARMD_* environment variables, then the
// flags that were set on fs. getenv is os.Getenv outside tests.
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	cfg := Default()
	path, _ := fs.GetString("config")
	if path == "" {
		path = getenv("SWARMD_CONFIG")
	}
	if path != "" {
		var err error
		if cfg, err = ParseFile(path, cfg); err != nil {
			return cfg, err
		}
	}
	for _, key := range Keys() {
		v := getenv(envName(key))
		if fl := fs.Lookup(key); fl != nil && fl.Changed {
			v = fl.Value.String()
		} else if v == "" {
			continue
		}
		if err := cfg.set(key, v); err != nil {
			src := "--" + key
			if fl := fs.Lookup(key); fl == nil || !fl.Changed {
				src = envName(key)
			}
			return cfg, fmt.Errorf("%s: %w", src, err)
		}
	}
	return cfg, cfg.Validate()
}

// set assigns one key from its string form.
func (c *Config) set(key, v string) error {
	switch key {
	case "data-dir":
		c.DataDir = v
	case "cache-dir":
		c.CacheDir = v
	case "grpc-addr":
		c.GRPCAddr = v
	case "http-addr":
		c.HTTPAddr = v
	case "log-level":
		c.LogLevel = v
	case "log-format":
		c.LogFormat = v
	case "node-name":
		c.NodeName = v
	case "shutdown-timeout":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 30s: %w", err)
		}
		c.ShutdownTimeout = Duration(d)
	case "watch-history":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		c.WatchHistory = n
	case "plugin-grants":
		c.PluginGrants = nil
		for g := range strings.SplitSeq(strings.Trim(v, "[]"), ",") {
			if g = strings.TrimSpace(g); g != "" {
				c.PluginGrants = append(c.PluginGrants, g)
			}
		}
	case "allow-unsigned-plugins":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		c.AllowUnsignedPlugins = b
	case "max-plugin-bytes":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		c.MaxPluginBytes = n
	case "tspsolver":
		c.TSPSolver = v
	case "llm-endpoint":
		c.LLMEndpoint = v
	case "llm-model":
		c.LLMModel = v
	case "llm-api-key-file":
		c.LLMAPIKeyFile = v
	case "native-init":
		c.NativeInit = v
	case "container-runtime":
		c.ContainerRuntime = v
	case "containerd-address":
		c.ContainerdAddress = v
	case "containerd-namespace":
		c.ContainerdNamespace = v
	case "trust-domain":
		c.TrustDomain = v
	case "svid-ttl":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 24h, got %q", v)
		}
		c.SVIDTTL = Duration(d)
	case "trust-threshold":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a number in [0, 1] such as 0.2, got %q", v)
		}
		c.TrustThreshold = f
	case "eval-memory":
		n, err := parseQuantity(v)
		if err != nil {
			return fmt.Errorf("want a byte quantity such as 512Mi or 1Gi: %w", err)
		}
		c.EvalMemory = Quantity(n)
	case "eval-cpus":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a number of cores such as 0.5 or 2, got %q", v)
		}
		c.EvalCPUs = f
	case "eval-pids":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		c.EvalPids = n
	case "eval-runtime":
		c.EvalRuntime = v
	case "telemetry-scrape-interval":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 5s, got %q", v)
		}
		c.TelemetryScrapeInterval = Duration(d)
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	return nil
}
