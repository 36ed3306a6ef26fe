// Package registry keeps uploaded Wasm plugins: their manifests, their
// content-addressed modules, the keys the operator trusts to sign them, and
// the lifecycle of each version from upload through validation and
// benchmarking to candidate, default or rejected.
package registry

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
	"sigs.k8s.io/yaml"
)

// Kinds of plugin.
const (
	KindStrategy    = "strategy"
	KindTrust       = "trust"
	KindPersonality = "personality"
)

// Capabilities a manifest may ask for (sdk-wasm/ABI.md §4).
var knownCapabilities = []string{"log", "clock", "random", "metrics", "llm", "wasi"}

// Manifest is plugin.yaml.
type Manifest struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Kind         string   `json:"kind"`
	ABI          int      `json:"abi"`
	Capabilities []string `json:"capabilities,omitempty"`
	// OptionalCapabilities are used when granted; without them the plugin
	// still runs (their host functions refuse).
	OptionalCapabilities []string `json:"optional_capabilities,omitempty"`
	Limits               Limits   `json:"limits,omitempty"`
	Description          string   `json:"description,omitempty"`
	Author               string   `json:"author,omitempty"`
}

// Limits bound a plugin's instances and calls; zero means the default.
type Limits struct {
	MemoryBytes       int64 `json:"memory_bytes,omitempty"`
	CallTimeoutMillis int64 `json:"call_timeout_millis,omitempty"`
	MaxOutputBytes    int64 `json:"max_output_bytes,omitempty"`
}

// Manifest limits: the defaults and the sane ranges.
const (
	DefaultMemoryBytes    = 64 << 20
	DefaultCallTimeoutMS  = 2000
	DefaultMaxOutputBytes = 4 << 20
	maxManifestBytes      = 64 << 10
)

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ErrManifest marks every manifest problem.
var ErrManifest = errors.New("invalid plugin manifest")

// ParseManifest reads and checks plugin.yaml. Errors name the key.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	if len(data) > maxManifestBytes {
		return m, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrManifest, len(data), maxManifestBytes)
	}
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		msg := strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: ")
		msg = strings.ReplaceAll(msg, "json: ", "")
		msg = strings.ReplaceAll(msg, "Go struct field Manifest.", "key ")
		msg = strings.ReplaceAll(msg, "Go struct field Limits.", "key limits.")
		return m, fmt.Errorf("%w: %s", ErrManifest, msg)
	}
	return m.withDefaults(), m.Check()
}

func (m Manifest) withDefaults() Manifest {
	if m.Limits.MemoryBytes == 0 {
		m.Limits.MemoryBytes = DefaultMemoryBytes
	}
	if m.Limits.CallTimeoutMillis == 0 {
		m.Limits.CallTimeoutMillis = DefaultCallTimeoutMS
	}
	if m.Limits.MaxOutputBytes == 0 {
		m.Limits.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return m
}

// Check validates every field and names the first one that is wrong.
func (m Manifest) Check() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: key %q: %s", ErrManifest, key, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(m.Name) {
		return bad("name", "%q must be 1-63 lowercase letters, digits or '-', starting with a letter", m.Name)
	}
	if !isFullSemver(m.Version) {
		return bad("version", "%q is not a semantic version such as 1.2.0", m.Version)
	}
	switch m.Kind {
	case KindStrategy, KindTrust, KindPersonality:
	default:
		return bad("kind", "%q is not one of strategy, trust, personality", m.Kind)
	}
	if m.ABI != 1 {
		return bad("abi", "ABI version %d is not supported; this swarmd supports 1", m.ABI)
	}
	seen := map[string]bool{}
	for _, l := range []struct {
		key  string
		list []string
	}{{"capabilities", m.Capabilities}, {"optional_capabilities", m.OptionalCapabilities}} {
		key := l.key
		for _, c := range l.list {
			if !contains(knownCapabilities, c) {
				return bad(key, "%q is not one of %s", c, strings.Join(knownCapabilities, ", "))
			}
			if seen[c] {
				return bad(key, "%q is listed twice (a capability is either required or optional)", c)
			}
			seen[c] = true
		}
	}
	l := m.Limits
	if l.MemoryBytes != 0 && (l.MemoryBytes < 1<<20 || l.MemoryBytes > 4<<30) {
		return bad("limits.memory_bytes", "%d is outside 1 MiB to 4 GiB", l.MemoryBytes)
	}
	if l.CallTimeoutMillis != 0 && (l.CallTimeoutMillis < 1 || l.CallTimeoutMillis > 600000) {
		return bad("limits.call_timeout_millis", "%d is outside 1 to 600000", l.CallTimeoutMillis)
	}
	if l.MaxOutputBytes != 0 && (l.MaxOutputBytes < 1<<10 || l.MaxOutputBytes > 64<<20) {
		return bad("limits.max_output_bytes", "%d is outside 1 KiB to 64 MiB", l.MaxOutputBytes)
	}
	if len(m.Description) > 4096 {
		return bad("description", "must be at most 4096 characters")
	}
	if len(m.Author) > 256 {
		return bad("author", "must be at most 256 characters")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isFullSemver reports whether v is MAJOR.MINOR.PATCH with optional
// pre-release and build parts, and no leading "v". semver.IsValid alone
// accepts the shorthands "1" and "1.2", which would make two spellings of
// one version.
func isFullSemver(v string) bool {
	if strings.HasPrefix(v, "v") || !semver.IsValid("v"+v) {
		return false
	}
	core := v
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	return strings.Count(core, ".") == 2
}
