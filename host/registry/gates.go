package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// startGates runs the lifecycle gates of name@version in the background.
func (r *Registry) startGates(name, version, opName string) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.runGates(r.stopped, name, version, opName)
	}()
}

// runGates validates and benchmarks one version and records the outcome:
// Candidate with its scores, or Rejected with the reason. If swarmd stops
// midway, the version keeps its Validating or Benchmarking state and
// Resume runs the gates again at the next start.
func (r *Registry) runGates(ctx context.Context, name, version, opName string) {
	p, err := r.plugins.Get(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("plugin gates", "plugin", name, "err", err)
		}
		return
	}
	v := findVersion(p, version)
	if v == nil {
		return
	}
	m := manifestFrom(v.GetManifest())
	scores, gateErr := r.gates(ctx, p, v, m, func(state, msg string) {
		r.setState(ctx, name, version, state, "")
		r.progress(ctx, opName, msg)
	})
	if ctx.Err() != nil {
		return // stopping: resume at the next start
	}
	state, reason := StateCandidate, ""
	if gateErr != nil {
		state, reason = StateRejected, gateErr.Error()
	}
	var ev *v1.Evidence
	out, err := r.plugins.Modify(ctx, name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, version)
		if v == nil {
			return store.ErrNotFound
		}
		if v.Scores == nil {
			v.Scores = map[string]float64{}
		}
		for k, x := range scores {
			v.Scores[k] = x
		}
		v.State, v.Reason = state, reason
		kind := "benchmark"
		if gateErr != nil {
			kind = "rejected"
		}
		ev = &v1.Evidence{Time: timestamppb.New(r.now()), Kind: kind, Positive: gateErr == nil, Weight: 1, Detail: gateSummary(scores, reason)}
		v.Evidence = append(v.Evidence, ev)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("record plugin gates", "plugin", name, "version", version, "err", err)
		}
		return
	}
	r.evidence(name+"@"+version, ev)
	if opName != "" {
		r.finishOperation(ctx, opName, out, nil)
	}
	r.log.Info("plugin gates done", "plugin", name, "version", version, "state", state, "reason", reason)
}

func gateSummary(scores map[string]float64, reason string) string {
	if reason != "" {
		return reason
	}
	var parts []string
	for k, v := range scores {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, v))
	}
	return strings.Join(parts, " ")
}

// gates is the pure sequence: grants, validation, then the smoke benchmark
// against the current default.
func (r *Registry) gates(ctx context.Context, p *v1.Plugin, v *v1.PluginVersion, m Manifest, step func(state, msg string)) (map[string]float64, error) {
	for _, c := range m.Capabilities {
		if !contains(r.opts.Grants, c) {
			return nil, fmt.Errorf("capability %q is not granted by the operator (grants: %s); ask the operator to add it with --plugin-grants", c, strings.Join(r.opts.Grants, ","))
		}
	}
	module, err := r.readBlob(v.GetSha256())
	if err != nil {
		return nil, err
	}
	step(StateValidating, "validating the module")
	granted, optional := r.grantsFor(m)
	if _, err := r.opts.Host.Validate(ctx, module, plugin.Kind(m.Kind), granted, limits(m), optional...); err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	step(StateBenchmarking, "benchmarking on the "+m.Kind+" smoke workload")
	id := m.Name + "@" + m.Version
	scores, err := r.smoke(ctx, id, module, m)
	if err != nil {
		return scores, fmt.Errorf("benchmark: %w", err)
	}
	if def := findVersion(p, p.GetSpec().GetDefaultVersion()); def != nil && def.GetVersion() != v.GetVersion() {
		for k, x := range def.GetScores() {
			if strings.HasPrefix(k, "smoke_") {
				scores["default_"+k] = x
			}
		}
	}
	return scores, nil
}

func (r *Registry) setState(ctx context.Context, name, version, state, reason string) {
	_, _ = r.plugins.Modify(ctx, name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, version)
		if v == nil || v.State == state {
			return errUnchanged
		}
		v.State, v.Reason = state, reason
		return nil
	})
}

func (r *Registry) progress(ctx context.Context, opName, msg string) {
	if opName == "" {
		return
	}
	_, _ = r.ops.Modify(ctx, opName, nil, func(op *v1.Operation) error {
		op.Message = msg
		op.Progress += 0.4
		return nil
	})
}

// Resume restarts the gates of uploaded versions a previous run left
// unfinished. Built-in versions are left to InstallBuiltins.
func (r *Registry) Resume(ctx context.Context) error {
	for p, err := range r.plugins.All(ctx) {
		if err != nil {
			return err
		}
		for _, v := range p.GetStatus().GetVersions() {
			if !v.GetBuiltin() && unfinished(v) {
				op := "upload-" + p.GetMetadata().GetName() + "-" + strings.NewReplacer(".", "-", "+", "-").Replace(v.GetVersion())
				if _, err := r.ops.Get(ctx, op); err != nil {
					op = ""
				}
				r.log.Info("resuming plugin gates", "plugin", p.GetMetadata().GetName(), "version", v.GetVersion())
				r.startGates(p.GetMetadata().GetName(), v.GetVersion(), op)
			}
		}
	}
	return nil
}

// Wait blocks until the gates in flight are done (for tests and shutdown).
func (r *Registry) Wait() { r.wg.Wait() }

// InstallBuiltins registers the built-in plugins found in fsys as pairs
// <base>.wasm and <base>.yaml. A built-in is trusted without a signature,
// still validated and benchmarked (synchronously, so a caller that waits
// for InstallBuiltins sees them gated), and becomes the default of its
// name if the name has none. It is idempotent: a built-in already gated is
// left alone, one a previous run left half-gated is gated again.
func (r *Registry) InstallBuiltins(ctx context.Context, fsys fs.FS) error {
	manifests, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return err
	}
	for _, mf := range manifests {
		if err := r.installBuiltin(ctx, fsys, mf); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) installBuiltin(ctx context.Context, fsys fs.FS, mf string) error {
	raw, err := fs.ReadFile(fsys, mf)
	if err != nil {
		return err
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return fmt.Errorf("built-in %s: %w", mf, err)
	}
	module, err := fs.ReadFile(fsys, path.Clean(strings.TrimSuffix(mf, ".yaml")+".wasm"))
	if err != nil {
		return fmt.Errorf("built-in %s: %w", mf, err)
	}
	digest := Digest(module)
	if err := r.writeBlob(digest, module); err != nil {
		return err
	}
	var gate bool
	_, err = r.plugins.Modify(ctx, m.Name, newPlugin(m.Kind), func(p *v1.Plugin) error {
		if v := findVersion(p, m.Version); v != nil {
			if v.GetSha256() != digest {
				return fmt.Errorf("built-in %s %s differs from the stored one (sha256 %s); bump its version", m.Name, m.Version, v.GetSha256()[:12])
			}
			gate = unfinished(v)
			return errUnchanged
		}
		gate = true
		p.Status.Versions = append(p.Status.Versions, &v1.PluginVersion{
			Version: m.Version, Sha256: digest, AbiVersion: int32(m.ABI), SizeBytes: int64(len(module)),
			Manifest: manifestProto(m), State: StateValidating, UploadTime: timestamppb.New(r.now()), Builtin: true,
		})
		sortVersions(p)
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	if gate {
		r.runGates(ctx, m.Name, m.Version, "")
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	// A built-in that passed becomes the default when there is none.
	_, err = r.plugins.Modify(ctx, m.Name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, m.Version)
		if p.GetSpec().GetDefaultVersion() != "" || v == nil || v.GetState() != StateCandidate {
			return errUnchanged
		}
		v.State = StateDefault
		p.Spec.DefaultVersion = m.Version
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	return nil
}

// errUnchanged aborts a Modify that has nothing to write.
var errUnchanged = errors.New("unchanged")

// unfinished reports whether v's gates were started but not finished.
func unfinished(v *v1.PluginVersion) bool {
	return v.GetState() == StateValidating || v.GetState() == StateBenchmarking
}

// grantsFor returns what a manifest gets: its required capabilities (the
// gates checked they are granted) plus the optional ones the operator
// grants (llm only when this swarmd has an LLM), and all optional ones for
// linking stubs.
func (r *Registry) grantsFor(m Manifest) (granted, optional []plugin.Capability) {
	granted = capabilities(m.Capabilities)
	for _, c := range m.OptionalCapabilities {
		if contains(r.opts.Grants, c) && (c != string(plugin.CapLLM) || r.opts.Host.HasLLM()) {
			granted = append(granted, plugin.Capability(c))
		}
	}
	return granted, capabilities(m.OptionalCapabilities)
}

func capabilities(cs []string) []plugin.Capability {
	out := make([]plugin.Capability, len(cs))
	for i, c := range cs {
		out[i] = plugin.Capability(c)
	}
	return out
}

func limits(m Manifest) plugin.Limits {
	return plugin.Limits{
		MemoryBytes:    m.Limits.MemoryBytes,
		CallTimeout:    time.Duration(m.Limits.CallTimeoutMillis) * time.Millisecond,
		MaxOutputBytes: m.Limits.MaxOutputBytes,
	}
}
