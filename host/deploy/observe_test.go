package deploy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// TestObserveReplicas: Deployed lists what runs, Stats reads a replica's
// container (state and usage), and SocketTransport reaches its /metrics by
// its socket; after the replica is stopped Stats says it exited.
func TestObserveReplicas(t *testing.T) {
	d, _, rt := setup(t)
	ctx := context.Background()
	rs, err := d.Deploy(ctx, solverVersion("v1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Deployed(); !slices.Equal(got, []AgentVersion{{"tspsolver", "v1"}}) {
		t.Errorf("Deployed() = %v", got)
	}
	r := rs[0]
	tr := &SocketTransport{}
	host := tr.Register(r)
	if host != "tspsolver.v1.0.replica" {
		t.Errorf("host name %q", host)
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Get("http://" + host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "tspsolver_requests_total") {
		t.Errorf("/metrics through the socket: %s %.300s", resp.Status, b)
	}
	if _, err := client.Get("http://other.replica/metrics"); err == nil || !strings.Contains(err.Error(), "no replica is registered as other.replica") {
		t.Errorf("an unknown host: %v", err)
	}
	st, err := d.Stats(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != container.Running || st.Usage == nil || st.Usage.MemoryBytes <= 0 || st.UsageErr != nil {
		t.Errorf("running replica: %+v (usage %+v)", st, st.Usage)
	}
	if err := rt.Stop(ctx, r.Container, 0); err != nil {
		t.Fatal(err)
	}
	st, err = d.Stats(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != container.Exited || st.Usage != nil || !errors.Is(st.UsageErr, container.ErrNotRunning) {
		t.Errorf("stopped replica: %+v", st)
	}
	tr.Unregister(r)
	if _, err := client.Get("http://" + host + "/metrics"); err == nil {
		t.Error("an unregistered replica is still reached")
	}
	if err := d.Remove(ctx, "tspsolver", "v1"); err != nil {
		t.Fatal(err)
	}
	if got := d.Deployed(); len(got) != 0 {
		t.Errorf("Deployed() after removal = %v", got)
	}
}
