package registry

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// ErrNotUsable: the version exists but its gates have not passed.
var ErrNotUsable = errors.New("plugin version is not usable")

// Open returns the loaded plugin name@version (the default version when
// version is empty) and the version it resolved to. Versions that passed
// their gates (Candidate, Default, Retired) can be opened; one plugin per
// version is loaded for the daemon's life and shared, so callers must not
// Close it. want, if set, is the kind the caller needs.
func (r *Registry) Open(ctx context.Context, name, version string, want plugin.Kind) (*plugin.Plugin, string, error) {
	p, err := r.plugins.Get(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, "", fmt.Errorf("%w: no plugin %q (swarmctl plugin ls lists them)", store.ErrNotFound, name)
		}
		return nil, "", err
	}
	if want != "" && kindName(p.GetSpec().GetKind()) != string(want) {
		return nil, "", fmt.Errorf("%w: plugin %s is a %s plugin, not a %s plugin", ErrNotUsable, name, kindName(p.GetSpec().GetKind()), want)
	}
	if version == "" {
		version = p.GetSpec().GetDefaultVersion()
		if version == "" {
			return nil, "", fmt.Errorf("%w: plugin %s has no default version: name one (%s@VERSION) or promote one", ErrNotUsable, name, name)
		}
	}
	v := findVersion(p, version)
	if v == nil {
		return nil, "", fmt.Errorf("%w: plugin %s has no version %s", store.ErrNotFound, name, version)
	}
	switch v.GetState() {
	case StateCandidate, StateDefault, StateRetired:
	default:
		return nil, "", fmt.Errorf("%w: %s %s is %s%s", ErrNotUsable, name, version, v.GetState(), reasonSuffix(v))
	}
	id := name + "@" + version
	r.mu.Lock()
	defer r.mu.Unlock()
	if lp, ok := r.loaded[id]; ok {
		return lp, version, nil
	}
	module, err := r.readBlob(v.GetSha256())
	if err != nil {
		return nil, "", err
	}
	m := manifestFrom(v.GetManifest())
	granted, optional := r.grantsFor(m)
	lp, err := r.opts.Host.Load(ctx, module, plugin.Config{
		ID: id, Kind: plugin.Kind(m.Kind), Capabilities: granted, Optional: optional, Limits: limits(m),
	})
	if err != nil {
		return nil, "", fmt.Errorf("load %s: %w", id, err)
	}
	r.loaded[id] = lp
	return lp, version, nil
}

func reasonSuffix(v *v1.PluginVersion) string {
	if v.GetReason() == "" {
		return ""
	}
	return ": " + v.GetReason()
}
