package registry

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// EvidenceCanary is the evidence kind Reject records against the version.
const EvidenceCanary = "canary"

// Reject marks a version that passed its gates (Candidate or Retired) as
// Rejected for reason, e.g. because its canary was rolled back, so that it
// can no longer be opened or promoted; the reason is shown with the
// version and recorded as negative evidence. Rejecting a version that is
// already Rejected changes nothing. The default version cannot be
// rejected (promote or roll back to another first), nor a version whose
// gates are still running.
func (r *Registry) Reject(ctx context.Context, name, version, reason string) (*v1.Plugin, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, fmt.Errorf("registry: reject %s %s: say why it is rejected; the reason is shown with the version", name, version)
	}
	var ev *v1.Evidence
	out, err := r.plugins.Modify(ctx, name, nil, func(p *v1.Plugin) error {
		v := findVersion(p, version)
		if v == nil {
			return fmt.Errorf("%w: %s has no version %q", store.ErrNotFound, name, version)
		}
		switch v.GetState() {
		case StateCandidate, StateRetired:
		case StateRejected:
			return nil
		case StateDefault:
			return fmt.Errorf("%w: %s %s is the default and cannot be rejected; promote another version (or roll back) first", ErrState, name, version)
		default:
			return fmt.Errorf("%w: %s %s is %s; wait for its gates to finish before rejecting it", ErrState, name, version, v.GetState())
		}
		v.State, v.Reason = StateRejected, reason
		ev = &v1.Evidence{Time: timestamppb.New(r.now()), Kind: EvidenceCanary, Positive: false, Weight: 1, Detail: reason}
		v.Evidence = append(v.Evidence, ev)
		if n := len(v.Evidence); n > maxEvidence {
			v.Evidence = v.Evidence[n-maxEvidence:]
		}
		return nil
	})
	if err == nil {
		r.evidence(name+"@"+version, ev)
	}
	return out, err
}
