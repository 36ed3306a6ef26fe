package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// TestAgentsGetIdentities: a created agent has its SPIFFE ID and an
// X.509-SVID from the daemon's CA (files mode 0600 under the data
// directory) that verifies against the CA's bundle; a retried create does
// not issue again; delete removes the key pair.
func TestAgentsGetIdentities(t *testing.T) {
	dir := t.TempDir()
	d := start(t, dir)
	agents := v1.NewAgentServiceClient(d.conn)
	ctx := d.ctx()
	mk := &v1.Agent{Metadata: &v1.ObjectMeta{Name: "tspsolver"}, Spec: &v1.AgentSpec{Image: "scratch", Role: "solver"}}
	a, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk, RequestId: "id-1"})
	if err != nil {
		t.Fatal(err)
	}
	const want = "spiffe://stratoswarm.local/agent/tspsolver"
	if a.GetStatus().GetIdentity() != want || a.GetStatus().GetCertificateSerial() == "" || a.GetStatus().GetCertificateNotAfter() == nil {
		t.Fatalf("status %v, want identity %s with its certificate", a.GetStatus(), want)
	}
	files := filepath.Join(dir, "identity", "agents", "tspsolver")
	for _, f := range []string{"svid.crt", "svid.key", "bundle.crt"} {
		fi, err := os.Stat(filepath.Join(files, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v (mode %v), want mode 0600", f, err, fi.Mode())
		}
	}
	svid, err := x509svid.Load(filepath.Join(files, "svid.crt"), filepath.Join(files, "svid.key"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString("stratoswarm.local"), filepath.Join(dir, "identity", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := x509svid.Verify(svid.Certificates, bundle)
	if err != nil || id.String() != want {
		t.Fatalf("verify the agent's SVID: %s, %v", id, err)
	}
	if got := svid.Certificates[0].SerialNumber.Text(16); got != a.GetStatus().GetCertificateSerial() {
		t.Errorf("status serial %s, certificate serial %s", a.GetStatus().GetCertificateSerial(), got)
	}
	again, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: mk, RequestId: "id-1"})
	if err != nil || again.GetStatus().GetCertificateSerial() != a.GetStatus().GetCertificateSerial() {
		t.Fatalf("a retried create: %v, %v; want the same certificate", again.GetStatus(), err)
	}
	if cur, _ := x509svid.Load(filepath.Join(files, "svid.crt"), filepath.Join(files, "svid.key")); cur == nil || cur.Certificates[0].SerialNumber.Cmp(svid.Certificates[0].SerialNumber) != 0 {
		t.Error("a retried create replaced the agent's key pair")
	}
	if _, err := agents.DeleteAgent(ctx, &v1.DeleteAgentRequest{Name: "tspsolver"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(files); !os.IsNotExist(err) {
		t.Errorf("the deleted agent's identity files remain: %v", err)
	}
}
