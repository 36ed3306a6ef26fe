package deploy

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestExitsListReplicasThatStopped: a replica whose container exits while
// its version is deployed is listed, with its exit; a removed version's
// replicas are not.
func TestExitsListReplicasThatStopped(t *testing.T) {
	d, _, rt := setup(t)
	ctx := context.Background()
	rs, err := d.Deploy(ctx, solverVersion("v1", 2))
	if err != nil {
		t.Fatal(err)
	}
	if ex, err := d.Exits(ctx); err != nil || len(ex) != 0 {
		t.Fatalf("exits of running replicas: %v %v", ex, err)
	}
	if err := rt.Stop(ctx, rs[1].Container, time.Second); err != nil {
		t.Fatal(err)
	}
	ex, err := d.Exits(ctx)
	if err != nil || len(ex) != 1 {
		t.Fatalf("exits: %v %v", ex, err)
	}
	e := ex[0]
	if e.Agent != "tspsolver" || e.Version != "v1" || e.Replica != 1 || e.Container != rs[1].Container || e.OOMKilled || e.ExitCode == 0 && e.ExitedAt.IsZero() {
		t.Fatalf("exit %+v", e)
	}
	if !strings.Contains(e.String(), "replica "+rs[1].Container+" of tspsolver@v1 exited with code") {
		t.Errorf("String: %s", e)
	}
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
	if ex, err := d.Exits(ctx); err != nil || len(ex) != 0 {
		t.Fatalf("exits after removal: %v %v", ex, err)
	}
}
