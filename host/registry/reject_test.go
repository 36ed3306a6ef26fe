package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// TestRejectStopsAVersionForGood: a rejected Candidate can no longer be
// opened or promoted, keeps the reason and the evidence, and rejecting it
// again changes nothing; the default and unknown versions are refused.
func TestRejectStopsAVersionForGood(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	manifest, module := builtin(t, "strategy-random")
	f.upload(t, manifest, module)
	m, _ := ParseManifest(manifest)
	if _, err := f.reg.Promote(ctx, m.Name, m.Version); err != nil {
		t.Fatal(err)
	}
	f.upload(t, withVersion(manifest, "9.1.0"), module)
	if _, _, err := f.reg.Open(ctx, m.Name, "9.1.0", plugin.KindStrategy); err != nil {
		t.Fatalf("the candidate does not open before the rejection: %v", err)
	}

	if _, err := f.reg.Reject(ctx, m.Name, "9.1.0", " "); err == nil || !strings.Contains(err.Error(), "say why") {
		t.Fatalf("reject without a reason: %v", err)
	}
	why := "its canary was rolled back: strategy_failures High"
	p, err := f.reg.Reject(ctx, m.Name, "9.1.0", why)
	if err != nil {
		t.Fatal(err)
	}
	v := findVersion(p, "9.1.0")
	if v.GetState() != StateRejected || v.GetReason() != why {
		t.Fatalf("after reject: %s %q", v.GetState(), v.GetReason())
	}
	last := v.GetEvidence()[len(v.GetEvidence())-1]
	if last.GetKind() != EvidenceCanary || last.GetPositive() || last.GetDetail() != why {
		t.Fatalf("evidence %v", last)
	}
	if _, _, err := f.reg.Open(ctx, m.Name, "9.1.0", plugin.KindStrategy); !errors.Is(err, ErrNotUsable) || !strings.Contains(err.Error(), why) {
		t.Fatalf("opening a rejected version: %v", err)
	}
	if _, err := f.reg.Promote(ctx, m.Name, "9.1.0"); !errors.Is(err, ErrState) {
		t.Fatalf("promoting a rejected version: %v", err)
	}
	// Again: nothing changes, the first reason stays.
	p, err = f.reg.Reject(ctx, m.Name, "9.1.0", "another reason")
	if err != nil || findVersion(p, "9.1.0").GetReason() != why {
		t.Fatalf("second reject: %v %v", findVersion(p, "9.1.0"), err)
	}
	if _, err := f.reg.Reject(ctx, m.Name, m.Version, why); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "is the default") {
		t.Fatalf("rejecting the default: %v", err)
	}
	if _, err := f.reg.Reject(ctx, m.Name, "9.7.0", why); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejecting an unknown version: %v", err)
	}
	if _, _, err := f.reg.Open(ctx, m.Name, "", plugin.KindStrategy); err != nil {
		t.Fatalf("the default no longer opens: %v", err)
	}
}
