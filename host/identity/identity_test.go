package identity

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func TestIssuedSVIDVerifies(t *testing.T) {
	dir := t.TempDir()
	ca, err := Open(dir, "swarm.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.AgentID("tspsolver")
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != "spiffe://swarm.test/agent/tspsolver" {
		t.Fatalf("ID %s", id)
	}
	s, err := ca.Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svid, err := x509svid.Parse(s.CertPEM, s.KeyPEM)
	if err != nil {
		t.Fatalf("go-spiffe refuses the SVID: %v", err)
	}
	if svid.ID != id {
		t.Errorf("SVID ID %s, want %s", svid.ID, id)
	}
	bundle := x509bundle.FromX509Authorities(ca.TrustDomain(), ca.Bundle())
	got, _, err := x509svid.Verify(svid.Certificates, bundle)
	if err != nil || got != id {
		t.Fatalf("Verify = %s, %v; want %s", got, err, id)
	}
	// Another CA of the same trust domain does not vouch for it.
	other, err := Open(t.TempDir(), "swarm.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, x509bundle.FromX509Authorities(other.TrustDomain(), other.Bundle())); err == nil {
		t.Error("an SVID verified against another CA's bundle")
	}
	// Expired: verification at a time past NotAfter fails.
	if _, _, err := x509svid.Verify(svid.Certificates, bundle, x509svid.WithTime(s.NotAfter.Add(time.Minute))); err == nil {
		t.Error("an expired SVID verified")
	}
	// Two agents get different keys and serials.
	s2, err := ca.Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Serial == s.Serial || string(s2.KeyPEM) == string(s.KeyPEM) {
		t.Error("two issues share a serial or a key")
	}
}

func TestCAPersistsAndChecks(t *testing.T) {
	dir := t.TempDir()
	ca, err := Open(dir, "swarm.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir, "swarm.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.BundlePEM()) != string(ca.BundlePEM()) {
		t.Error("reopening made a new CA")
	}
	for _, name := range []string{"ca.key", "ca.crt"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode().Perm())
		}
	}
	if _, err := Open(dir, "elsewhere.test", nil); err == nil || !strings.Contains(err.Error(), "not trust domain") {
		t.Errorf("another trust domain on the same CA: %v", err)
	}
	if _, err := Open(t.TempDir(), "Not A Domain!", nil); err == nil || !strings.Contains(err.Error(), "trust domain") {
		t.Errorf("a bad trust domain: %v", err)
	}
	// Half a CA is refused, not replaced.
	half := t.TempDir()
	if err := os.WriteFile(filepath.Join(half, "ca.crt"), ca.BundlePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(half, "swarm.test", nil); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("a CA without its key: %v", err)
	}
	// A key that is not the certificate's.
	otherDir := t.TempDir()
	if _, err := Open(otherDir, "swarm.test", nil); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(otherDir, "ca.key"))
	if err := os.WriteFile(filepath.Join(half, "ca.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(half, "swarm.test", nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("a mismatched key: %v", err)
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	ca, err := Open(t.TempDir(), "swarm.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.AgentID("bad name/with slash"); err == nil {
		t.Error("an agent name with a slash and a space got an ID")
	}
	foreign := spiffeid.RequireFromString("spiffe://other.test/agent/x")
	if _, err := ca.Issue(foreign, time.Hour); err == nil || !strings.Contains(err.Error(), "not in trust domain") {
		t.Errorf("issue for another trust domain: %v", err)
	}
	id, _ := ca.AgentID("x")
	if _, err := ca.Issue(id, 0); err == nil {
		t.Error("a zero lifetime was accepted")
	}
}

func TestWriteFiles(t *testing.T) {
	ca, err := Open(t.TempDir(), "swarm.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ca.AgentID("a")
	s, err := ca.Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "a")
	if err := s.WriteFiles(dir, ca.BundlePEM()); err != nil {
		t.Fatal(err)
	}
	loaded, err := x509svid.Load(filepath.Join(dir, "svid.crt"), filepath.Join(dir, "svid.key"))
	if err != nil || loaded.ID != id {
		t.Fatalf("load the written SVID: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "bundle.crt"))
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("bundle.crt holds no PEM")
	}
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
}
