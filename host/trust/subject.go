package trust

import (
	"fmt"
	"strings"
	"unicode"
)

// SubjectKind says what a Subject is.
type SubjectKind string

// The kinds of subject evidence is kept about.
const (
	// SubjectAgent is an agent version.
	SubjectAgent SubjectKind = "agent"
	// SubjectPlugin is a plugin version (a strategy, trust or personality plugin).
	SubjectPlugin SubjectKind = "plugin"
)

// maxNameLen bounds a subject's name and version.
const maxNameLen = 253

// Subject is the version of an agent or plugin that evidence is about. Its
// string form, "agent/NAME@VERSION" or "plugin/NAME@VERSION", is its id in
// call records, in a scorer's config.subject and in keys.
type Subject struct {
	Kind    SubjectKind
	Name    string
	Version string
}

// String returns "KIND/NAME@VERSION".
func (s Subject) String() string { return string(s.Kind) + "/" + s.Name + "@" + s.Version }

// Validate reports what is wrong with s: an unknown kind, or a name or
// version that is empty, too long, or holds '/', '@', spaces or control
// characters.
func (s Subject) Validate() error {
	if s.Kind != SubjectAgent && s.Kind != SubjectPlugin {
		return fmt.Errorf("trust subject %q: kind %q is unknown: use %q or %q", s.String(), s.Kind, SubjectAgent, SubjectPlugin)
	}
	for _, f := range []struct{ what, v string }{{"name", s.Name}, {"version", s.Version}} {
		if err := checkPart(f.v); err != nil {
			return fmt.Errorf("trust subject %q: %s %w", s.String(), f.what, err)
		}
	}
	return nil
}

func checkPart(v string) error {
	if v == "" {
		return fmt.Errorf("is empty: name the version of the agent or plugin the evidence is about")
	}
	if len(v) > maxNameLen {
		return fmt.Errorf("is %d bytes long: at most %d", len(v), maxNameLen)
	}
	if i := strings.IndexFunc(v, func(r rune) bool {
		return r == '/' || r == '@' || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar
	}); i >= 0 {
		return fmt.Errorf("%q holds %q at byte %d: '/', '@', spaces and control characters are not allowed", v, v[i:i+1], i)
	}
	return nil
}

// ParseSubject reads "KIND/NAME@VERSION", e.g. "agent/tsp@1.2.0", and
// validates it.
func ParseSubject(id string) (Subject, error) {
	kind, rest, ok1 := strings.Cut(id, "/")
	name, version, ok2 := strings.Cut(rest, "@")
	if !ok1 || !ok2 {
		return Subject{}, fmt.Errorf("trust subject %q: want KIND/NAME@VERSION, e.g. agent/tsp@1.2.0 or plugin/beta@1.0.0", id)
	}
	s := Subject{Kind: SubjectKind(kind), Name: name, Version: version}
	return s, s.Validate()
}

// PluginSubject returns the subject of a loaded plugin from its host id
// "NAME@VERSION" (plugin.Config.ID, as the registry sets it).
func PluginSubject(pluginID string) (Subject, error) {
	name, version, ok := strings.Cut(pluginID, "@")
	if !ok {
		return Subject{}, fmt.Errorf("plugin id %q: want NAME@VERSION (the registry names loaded plugins so)", pluginID)
	}
	s := Subject{Kind: SubjectPlugin, Name: name, Version: version}
	return s, s.Validate()
}
