package registry

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// Version states.
const (
	StateValidating   = "Validating"
	StateBenchmarking = "Benchmarking"
	StateCandidate    = "Candidate"
	StateRejected     = "Rejected"
	StateDefault      = "Default"
	StateRetired      = "Retired"
)

// Store kinds.
const (
	KindPlugins    = "plugins"
	KindKeys       = "trustedkeys"
	KindOperations = "operations"
)

// EvidenceSignature is the kind of the evidence an upload records: its
// signature verified against a trusted key (positive) or it was accepted
// unsigned (negative).
const EvidenceSignature = "signature"

// maxEvidence is how many evidence records a version keeps (newest).
const maxEvidence = 50

// Errors callers tell apart.
var (
	// ErrUnsigned: no signature and unsigned modules are not allowed.
	ErrUnsigned = errors.New("plugin is not signed")
	// ErrBadSignature: the signature does not verify against a trusted key.
	ErrBadSignature = errors.New("plugin signature does not verify")
	// ErrRevokedKey: the module is signed by a revoked key.
	ErrRevokedKey = errors.New("plugin is signed by a revoked key")
	// ErrTooLarge: the module is over the size limit.
	ErrTooLarge = errors.New("plugin module is too large")
	// ErrBadKey: a public key that cannot be parsed.
	ErrBadKey = errors.New("invalid public key")
	// ErrState: the operation does not fit the version's state.
	ErrState = errors.New("plugin version is in the wrong state")
)

// Options configure a Registry.
type Options struct {
	Store *store.Store
	// BlobDir holds modules as <sha256>.wasm.
	BlobDir string
	Host    *plugin.Host
	// Grants are the capabilities the operator allows plugins to use.
	Grants []string
	// AllowUnsigned is the development switch: accept unsigned modules
	// and modules whose signature does not verify.
	AllowUnsigned bool
	// MaxModuleBytes bounds an uploaded module (default 64 MiB).
	MaxModuleBytes int64
	Logger         *slog.Logger
	// OnEvidence, if set, receives every evidence record appended to a
	// plugin version (gates, failures, signatures, rejections), with the
	// version's id NAME@VERSION, after it is stored: swarmd appends them to
	// its trust log. It must not block.
	OnEvidence func(pluginID string, e *v1.Evidence)
}

// Registry is the plugin registry. Its methods are safe for concurrent use.
type Registry struct {
	opts    Options
	plugins *store.Repository[*v1.Plugin]
	keys    *store.Repository[*v1.TrustedKey]
	ops     *store.Repository[*v1.Operation]
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	loaded  map[string]*plugin.Plugin // by name@version
	wg      sync.WaitGroup
	stop    context.CancelFunc
	stopped context.Context
}

// New opens the registry over the store.
func New(opts Options) (*Registry, error) {
	if opts.MaxModuleBytes <= 0 {
		opts.MaxModuleBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.BlobDir, 0o700); err != nil {
		return nil, fmt.Errorf("create plugin blob dir: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{
		opts:    opts,
		plugins: store.NewRepository[*v1.Plugin](opts.Store, KindPlugins, true),
		keys:    store.NewRepository[*v1.TrustedKey](opts.Store, KindKeys, true),
		ops:     store.NewRepository[*v1.Operation](opts.Store, KindOperations, true),
		log:     opts.Logger,
		now:     time.Now,
		loaded:  map[string]*plugin.Plugin{},
		stop:    cancel,
		stopped: ctx,
	}, nil
}

// Plugins is the repository of Plugin records (for reads and watches).
func (r *Registry) Plugins() *store.Repository[*v1.Plugin] { return r.plugins }

// Keys is the repository of trusted keys.
func (r *Registry) Keys() *store.Repository[*v1.TrustedKey] { return r.keys }

// Close stops the gates in flight (they resume at the next start) and
// closes loaded plugins.
func (r *Registry) Close(ctx context.Context) {
	r.stop()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, p := range r.loaded {
		p.Close(ctx)
		delete(r.loaded, id)
	}
}

// Upload checks a manifest, signature and module, stores the module by
// its digest and starts the lifecycle gates for the new version. It
// returns the Operation that tracks the gates. A problem with the manifest,
// the signature or the size is returned at once and stores nothing.
func (r *Registry) Upload(ctx context.Context, manifest, signature, module []byte, requestID string) (*v1.Operation, error) {
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	if int64(len(module)) > r.opts.MaxModuleBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrTooLarge, len(module), r.opts.MaxModuleBytes)
	}
	if len(module) == 0 {
		return nil, errors.New("plugin module is empty")
	}
	digest := Digest(module)
	signer, err := r.checkSignature(ctx, digest, signature)
	if err != nil {
		return nil, err
	}
	opName := "upload-" + m.Name + "-" + strings.NewReplacer(".", "-", "+", "-").Replace(m.Version)
	if requestID != "" {
		if op, err := r.ops.Get(ctx, opName); err == nil && op.GetMetadata().GetAnnotations()["request-id"] == requestID {
			return op, nil
		}
	}
	if err := r.writeBlob(digest, module); err != nil {
		return nil, err
	}
	sig := &v1.Evidence{Time: timestamppb.New(r.now()), Kind: EvidenceSignature, Positive: signer != "", Weight: 1,
		Detail: "signed by trusted key " + signer}
	if signer == "" {
		sig.Detail = "unsigned (or not verified), accepted because allow-unsigned-plugins is on"
	}
	version := &v1.PluginVersion{
		Version:    m.Version,
		Sha256:     digest,
		AbiVersion: int32(m.ABI),
		SizeBytes:  int64(len(module)),
		Manifest:   manifestProto(m),
		SignedBy:   signer,
		State:      StateValidating,
		UploadTime: timestamppb.New(r.now()),
		Evidence:   []*v1.Evidence{sig},
	}
	added := false
	_, err = r.plugins.Modify(ctx, m.Name, newPlugin(m.Kind), func(p *v1.Plugin) error {
		if want := kindName(p.GetSpec().GetKind()); want != m.Kind {
			return fmt.Errorf("%w: plugin %q is a %s plugin; this manifest says %s", store.ErrAlreadyExists, m.Name, want, m.Kind)
		}
		if v := findVersion(p, m.Version); v != nil {
			if v.GetSha256() == digest {
				return nil // the same upload again: idempotent
			}
			return fmt.Errorf("%w: %s %s was uploaded before with another module (sha256 %s); versions are immutable: bump the version", store.ErrAlreadyExists, m.Name, m.Version, v.GetSha256()[:12])
		}
		p.Status.Versions = append(p.Status.Versions, version)
		sortVersions(p)
		added = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if added {
		r.evidence(m.Name+"@"+m.Version, sig)
	}
	op, err := r.ops.Modify(ctx, opName, func() *v1.Operation {
		return &v1.Operation{Metadata: &v1.ObjectMeta{}, Kind: "UploadPlugin", Target: "plugins/" + m.Name}
	}, func(op *v1.Operation) error {
		if op.Metadata.Annotations == nil {
			op.Metadata.Annotations = map[string]string{}
		}
		op.Metadata.Annotations["request-id"] = requestID
		op.Metadata.Annotations["plugin-version"] = m.Version
		if !op.GetDone() {
			op.Message = "validating " + m.Name + " " + m.Version
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !op.GetDone() {
		r.startGates(m.Name, m.Version, opName)
	}
	return op, nil
}

// checkSignature verifies signature against the trusted keys and returns
// the signer's key id ("" when unsigned and allowed).
func (r *Registry) checkSignature(ctx context.Context, digest string, signature []byte) (string, error) {
	if len(signature) == 0 {
		if r.opts.AllowUnsigned {
			r.log.Warn("accepting an UNSIGNED plugin (--allow-unsigned-plugins is on; development only)", "sha256", digest)
			return "", nil
		}
		return "", fmt.Errorf("%w: sign it with 'swarmctl plugin sign' and a key the operator added with 'swarmctl plugin key add', or start swarmd with --allow-unsigned-plugins for development", ErrUnsigned)
	}
	sig, err := ParseSignature(signature)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	var revoked string
	for k, err := range r.keys.All(ctx) {
		if err != nil {
			return "", err
		}
		if !Verify(ed25519.PublicKey(k.GetPublicKey()), digest, sig) {
			continue
		}
		if k.GetRevoked() {
			revoked = k.GetKeyId()
			continue
		}
		return k.GetKeyId(), nil
	}
	if revoked != "" {
		return "", fmt.Errorf("%w: key %s was revoked; sign with a trusted key", ErrRevokedKey, revoked)
	}
	if r.opts.AllowUnsigned {
		r.log.Warn("accepting a plugin whose signature does not verify (--allow-unsigned-plugins is on; development only)", "sha256", digest)
		return "", nil
	}
	return "", fmt.Errorf("%w: it does not verify against any trusted key; the module changed after signing, or its key is not trusted (add it with 'swarmctl plugin key add')", ErrBadSignature)
}

// writeBlob stores a module under its digest, atomically and synced.
func (r *Registry) writeBlob(digest string, module []byte) error {
	path := r.blobPath(digest)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(r.opts.BlobDir, ".upload-*")
	if err != nil {
		return fmt.Errorf("store plugin module: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(module); err != nil {
		tmp.Close()
		return fmt.Errorf("store plugin module: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("store plugin module: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store plugin module: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store plugin module: %w", err)
	}
	return nil
}

func (r *Registry) blobPath(digest string) string {
	return filepath.Join(r.opts.BlobDir, digest+".wasm")
}

// readBlob reads a module and checks it still has its digest.
func (r *Registry) readBlob(digest string) ([]byte, error) {
	b, err := os.ReadFile(r.blobPath(digest))
	if err != nil {
		return nil, fmt.Errorf("read plugin module %s: %w", digest, err)
	}
	if Digest(b) != digest {
		return nil, fmt.Errorf("plugin module %s on disk does not match its digest: the blob store was modified", digest)
	}
	return b, nil
}

// Promote makes version the default of name.
func (r *Registry) Promote(ctx context.Context, name, version string) (*v1.Plugin, error) {
	return r.plugins.Modify(ctx, name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, version)
		if v == nil {
			return fmt.Errorf("%w: %s has no version %s", store.ErrNotFound, name, version)
		}
		switch v.GetState() {
		case StateCandidate, StateRetired:
		case StateDefault:
			return fmt.Errorf("%w: %s %s is already the default", ErrState, name, version)
		default:
			return fmt.Errorf("%w: %s %s is %s; only a Candidate (or a Retired version) can be promoted", ErrState, name, version, v.GetState())
		}
		if cur := findVersion(p, p.GetSpec().GetDefaultVersion()); cur != nil {
			cur.State = StateRetired
			p.Status.PreviousDefault = cur.GetVersion()
		}
		v.State = StateDefault
		p.Spec.DefaultVersion = version
		return nil
	})
}

// Rollback makes the previous default the default again.
func (r *Registry) Rollback(ctx context.Context, name string) (*v1.Plugin, error) {
	return r.plugins.Modify(ctx, name, nil, func(p *v1.Plugin) error {
		prev := findVersion(p, p.GetStatus().GetPreviousDefault())
		if prev == nil {
			return fmt.Errorf("%w: %s has no previous default to roll back to", ErrState, name)
		}
		if cur := findVersion(p, p.GetSpec().GetDefaultVersion()); cur != nil {
			cur.State = StateCandidate
			cur.Reason = "rolled back at " + r.now().UTC().Format(time.RFC3339)
		}
		prev.State = StateDefault
		p.Spec.DefaultVersion = prev.GetVersion()
		p.Status.PreviousDefault = ""
		return nil
	})
}

// Delete removes one version of name, or the whole plugin when version is
// empty. The default version cannot be removed while others remain.
func (r *Registry) Delete(ctx context.Context, name, version string) (*v1.Plugin, error) {
	if version == "" {
		p, err := r.plugins.Delete(ctx, name, "")
		if err == nil {
			for _, v := range p.GetStatus().GetVersions() {
				r.dropBlobIfUnused(ctx, v.GetSha256())
			}
		}
		return p, err
	}
	var digest string
	p, err := r.plugins.Modify(ctx, name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, version)
		if v == nil {
			return fmt.Errorf("%w: %s has no version %s", store.ErrNotFound, name, version)
		}
		if v.GetState() == StateDefault && len(p.GetStatus().GetVersions()) > 1 {
			return fmt.Errorf("%w: %s %s is the default; promote another version first", ErrState, name, version)
		}
		if v.GetBuiltin() {
			return fmt.Errorf("%w: %s %s is built in and cannot be removed", ErrState, name, version)
		}
		digest = v.GetSha256()
		var keep []*v1.PluginVersion
		for _, x := range p.Status.Versions {
			if x.GetVersion() != version {
				keep = append(keep, x)
			}
		}
		p.Status.Versions = keep
		if p.Spec.DefaultVersion == version {
			p.Spec.DefaultVersion = ""
		}
		if p.Status.PreviousDefault == version {
			p.Status.PreviousDefault = ""
		}
		return nil
	})
	if err == nil {
		r.dropBlobIfUnused(ctx, digest)
	}
	return p, err
}

// dropBlobIfUnused removes a module no version refers to any more.
func (r *Registry) dropBlobIfUnused(ctx context.Context, digest string) {
	for p, err := range r.plugins.All(ctx) {
		if err != nil {
			return
		}
		for _, v := range p.GetStatus().GetVersions() {
			if v.GetSha256() == digest {
				return
			}
		}
	}
	_ = os.Remove(r.blobPath(digest))
}

// AddKey trusts an ed25519 public key for plugin signatures.
func (r *Registry) AddKey(ctx context.Context, pub []byte, comment string) (*v1.TrustedKey, error) {
	key, err := ParsePublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	id := KeyID(key)
	k, _, err := r.keys.Create(ctx, &v1.TrustedKey{
		Metadata:  &v1.ObjectMeta{Name: id, Annotations: map[string]string{"comment": comment}},
		PublicKey: key,
		KeyId:     id,
	}, "")
	if errors.Is(err, store.ErrAlreadyExists) {
		return r.keys.Get(ctx, id)
	}
	return k, err
}

// RevokeKey stops trusting a key; modules it signed can no longer be
// uploaded (versions already uploaded stay).
func (r *Registry) RevokeKey(ctx context.Context, id string) (*v1.TrustedKey, error) {
	return r.keys.Modify(ctx, id, nil, func(k *v1.TrustedKey) error {
		if !k.GetRevoked() {
			k.Revoked = true
			k.RevokeTime = timestamppb.New(r.now())
		}
		return nil
	})
}

// evidence hands a stored record to Options.OnEvidence (nil: none).
func (r *Registry) evidence(id string, e *v1.Evidence) {
	if e != nil && r.opts.OnEvidence != nil {
		r.opts.OnEvidence(id, e)
	}
}

// RecordEvidence appends evidence to a plugin version; id is name@version.
// It implements plugin.EvidenceSink.
func (r *Registry) RecordEvidence(id string, e plugin.Evidence) {
	name, version, ok := strings.Cut(id, "@")
	if !ok {
		return
	}
	var ev *v1.Evidence
	_, err := r.plugins.Modify(context.Background(), name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, version)
		if v == nil {
			return store.ErrNotFound
		}
		ev = &v1.Evidence{Time: timestamppb.New(e.Time), Kind: e.Kind, Positive: e.Positive, Weight: 1, Detail: e.Detail}
		v.Evidence = append(v.Evidence, ev)
		if n := len(v.Evidence); n > maxEvidence {
			v.Evidence = v.Evidence[n-maxEvidence:]
		}
		if !e.Positive {
			if v.Scores == nil {
				v.Scores = map[string]float64{}
			}
			v.Scores["failures"]++
		}
		return nil
	})
	if err != nil {
		r.log.Warn("record plugin evidence", "plugin", id, "err", err)
		return
	}
	r.evidence(id, ev)
}

func newPlugin(kind string) func() *v1.Plugin {
	return func() *v1.Plugin {
		return &v1.Plugin{Metadata: &v1.ObjectMeta{}, Spec: &v1.PluginSpec{Kind: kindProto(kind)}, Status: &v1.PluginStatus{}}
	}
}

func findVersion(p *v1.Plugin, version string) *v1.PluginVersion {
	if version == "" {
		return nil
	}
	for _, v := range p.GetStatus().GetVersions() {
		if v.GetVersion() == version {
			return v
		}
	}
	return nil
}

func sortVersions(p *v1.Plugin) {
	sort.Slice(p.Status.Versions, func(i, j int) bool {
		return semver.Compare("v"+p.Status.Versions[i].GetVersion(), "v"+p.Status.Versions[j].GetVersion()) < 0
	})
}

func kindProto(k string) v1.PluginKind {
	switch k {
	case KindStrategy:
		return v1.PluginKind_STRATEGY
	case KindTrust:
		return v1.PluginKind_TRUST
	case KindPersonality:
		return v1.PluginKind_PERSONALITY
	}
	return v1.PluginKind_PLUGIN_KIND_UNSPECIFIED
}

func kindName(k v1.PluginKind) string {
	switch k {
	case v1.PluginKind_STRATEGY:
		return KindStrategy
	case v1.PluginKind_TRUST:
		return KindTrust
	case v1.PluginKind_PERSONALITY:
		return KindPersonality
	}
	return ""
}

func manifestProto(m Manifest) *v1.PluginManifest {
	return &v1.PluginManifest{
		Name: m.Name, Version: m.Version, Kind: kindProto(m.Kind), AbiVersion: int32(m.ABI),
		Capabilities: m.Capabilities, OptionalCapabilities: m.OptionalCapabilities, Description: m.Description, Author: m.Author,
		Limits: &v1.PluginLimits{MemoryBytes: m.Limits.MemoryBytes, CallTimeoutMillis: m.Limits.CallTimeoutMillis, MaxOutputBytes: m.Limits.MaxOutputBytes},
	}
}

func manifestFrom(p *v1.PluginManifest) Manifest {
	return Manifest{
		Name: p.GetName(), Version: p.GetVersion(), Kind: kindName(p.GetKind()), ABI: int(p.GetAbiVersion()),
		Capabilities: p.GetCapabilities(), OptionalCapabilities: p.GetOptionalCapabilities(), Description: p.GetDescription(), Author: p.GetAuthor(),
		Limits: Limits{MemoryBytes: p.GetLimits().GetMemoryBytes(), CallTimeoutMillis: p.GetLimits().GetCallTimeoutMillis(), MaxOutputBytes: p.GetLimits().GetMaxOutputBytes()},
	}
}

// finishOperation marks an operation done with a result or an error.
func (r *Registry) finishOperation(ctx context.Context, name string, result *v1.Plugin, failure error) {
	_, err := r.ops.Modify(ctx, name, nil, func(op *v1.Operation) error {
		op.Done = true
		op.Progress = 1
		if failure != nil {
			op.Message = failure.Error()
			op.Result = &v1.Operation_Error{Error: &v1.OperationError{Code: 3, Message: failure.Error()}}
			return nil
		}
		any, err := anypb.New(result)
		if err != nil {
			return err
		}
		op.Message = "done"
		op.Result = &v1.Operation_Response{Response: any}
		return nil
	})
	if err != nil {
		r.log.Warn("finish operation", "operation", name, "err", err)
	}
}
