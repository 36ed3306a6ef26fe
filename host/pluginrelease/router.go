// Package pluginrelease releases a new version of a strategy plugin
// through a canary, the way host/release releases an agent version: the
// canary version runs a share of the new evolutions beside the default
// version, the outcomes of both are judged by the canary judge, and the
// canary is promoted to default or rolled back and rejected.
//
// Three parts:
//
//   - Router (an evolve.Router) puts each new evolution whose strategy
//     reference names no version on an arm of the plugin's running canary,
//     by a hash of the evolution's name: "canary" (the canary version),
//     "baseline" (the default version, judged against the canary) or
//     "live" (the default version, not judged). The engine keeps the arm
//     for the evolution's life.
//   - Recorder (an evolve.Outcomes) records routed evolutions' outcomes
//     into a telemetry hub: each strategy call's latency and failure, each
//     generation's best-score gain per evaluation, one series per plugin
//     version and arm (SeriesFor).
//   - Env (a canary.Env) runs one plugin canary: Start registers it with
//     the Router, SetWeights sets the arms' shares, Collect reads the
//     baseline's and the canary's samples back from the hub, Promote makes
//     the canary version the default, Rollback stops routing and rejects
//     the canary version in the registry.
//
// docs/guides/canary.md ("Plugin canaries") describes the rules.
package pluginrelease

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/stratoswarm/stratoswarm/host/canary"
	"github.com/stratoswarm/stratoswarm/host/evolve"
)

// The arms an evolution can be routed to.
const (
	// ArmCanary runs the canary version; its outcomes are the experiment.
	ArmCanary = "canary"
	// ArmBaseline runs the default version beside the canary, started at
	// the same time and with the same share; its outcomes are the control.
	ArmBaseline = "baseline"
	// ArmLive runs the default version and is not judged: the evolutions
	// that started during the canary outside both shares.
	ArmLive = "live"
)

// buckets is the resolution of the arm assignment: a share of 1 % is 100
// buckets.
const buckets = 10_000

// Canary is one plugin canary as the Router sees it: the plugin, its
// default (baseline) version, the canary version and the arms' shares of
// new evolutions in percent (the live arm has the rest).
type Canary struct {
	Plugin   string `json:"plugin"`
	Default  string `json:"default"`
	Version  string `json:"version"`
	Baseline int    `json:"baseline"`
	Canary   int    `json:"canary"`
}

// Router assigns new evolutions to the arms of plugin canaries, at most
// one canary per plugin. It implements evolve.Router; its methods are safe
// for concurrent use.
type Router struct {
	mu       sync.RWMutex
	canaries map[string]Canary // by plugin
}

var _ evolve.Router = (*Router)(nil)

// NewRouter returns a router with no canary.
func NewRouter() *Router { return &Router{canaries: map[string]Canary{}} }

// Start registers a canary of plugin from defaultVersion to canaryVersion,
// with no share yet: until SetShares every new evolution is routed to the
// live arm. It refuses a second canary of the same plugin.
func (r *Router) Start(plugin, defaultVersion, canaryVersion string) error {
	switch {
	case plugin == "" || defaultVersion == "" || canaryVersion == "":
		return fmt.Errorf("pluginrelease: a canary needs a plugin, its default version and a canary version (got %q, %q, %q)", plugin, defaultVersion, canaryVersion)
	case defaultVersion == canaryVersion:
		return fmt.Errorf("pluginrelease: the canary version %s of plugin %s is its default version; canary another version", canaryVersion, plugin)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.canaries[plugin]; ok {
		if c.Default == defaultVersion && c.Version == canaryVersion {
			return nil
		}
		return fmt.Errorf("pluginrelease: plugin %s already has a canary running (version %s against %s); promote or roll it back before starting another", plugin, c.Version, c.Default)
	}
	r.canaries[plugin] = Canary{Plugin: plugin, Default: defaultVersion, Version: canaryVersion}
	return nil
}

// SetShares sets the shares of new evolutions, in percent, that the
// baseline and the canary of plugin's canary canaryVersion get; each is
// from 0 to canary.MaxStepWeight.
func (r *Router) SetShares(plugin, canaryVersion string, baseline, canaryShare int) error {
	if baseline < 0 || baseline > canary.MaxStepWeight || canaryShare < 0 || canaryShare > canary.MaxStepWeight {
		return fmt.Errorf("pluginrelease: shares baseline %d%%, canary %d%% for plugin %s: each must be from 0 to %d%%", baseline, canaryShare, plugin, canary.MaxStepWeight)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.canaries[plugin]
	if !ok || c.Version != canaryVersion {
		return fmt.Errorf("pluginrelease: plugin %s has no running canary of version %s; start it first", plugin, canaryVersion)
	}
	c.Baseline, c.Canary = baseline, canaryShare
	r.canaries[plugin] = c
	return nil
}

// Stop ends plugin's canary of canaryVersion: new evolutions are no longer
// routed (evolutions already routed keep their arm). It reports whether
// that canary was running; a canary of another version is left alone.
func (r *Router) Stop(plugin, canaryVersion string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.canaries[plugin]
	if !ok || c.Version != canaryVersion {
		return false
	}
	delete(r.canaries, plugin)
	return true
}

// Get returns plugin's running canary.
func (r *Router) Get(plugin string) (Canary, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.canaries[plugin]
	return c, ok
}

// List returns the running canaries, by plugin name.
func (r *Router) List() []Canary {
	r.mu.RLock()
	out := make([]Canary, 0, len(r.canaries))
	for _, c := range r.canaries {
		out = append(out, c)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Plugin < out[j].Plugin })
	return out
}

// Route implements evolve.Router: while plugin has a canary running, the
// evolution goes to the arm Assign gives, with the canary version for the
// canary arm and the default version for the others. Without a canary it
// is not routed (ok false).
func (r *Router) Route(evolution, plugin string) (version, arm string, ok bool) {
	c, running := r.Get(plugin)
	if !running {
		return "", "", false
	}
	arm = Assign(c, evolution)
	if arm == ArmCanary {
		return c.Version, arm, true
	}
	return c.Default, arm, true
}

// Assign is the arm of evolution in canary c, a pure function of the
// plugin, the canary version and the evolution's name: a SHA-256 of them
// picks one of 10,000 buckets; buckets [0, 100·Canary) are the canary,
// [5000, 5000 + 100·Baseline) the baseline, the rest live. Both shares are
// at most 50 %, so the arms never overlap, and as the shares step up an
// evolution that would have been on the canary (or baseline) arm stays on
// it.
func Assign(c Canary, evolution string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{c.Plugin, c.Version, evolution}, "\x00")))
	b := int(binary.BigEndian.Uint64(h[:8]) % buckets)
	switch {
	case b < c.Canary*buckets/100:
		return ArmCanary
	case b >= buckets/2 && b < buckets/2+c.Baseline*buckets/100:
		return ArmBaseline
	}
	return ArmLive
}
