// Package identity is the daemon's certificate authority: it gives every
// agent a SPIFFE ID, spiffe://<trust domain>/agent/<name>, and an X.509-SVID
// for it (a certificate with that ID as its URI SAN, on a key pair made for
// the agent), signed by a CA key that lives in the daemon's data directory.
//
// The CA is a self-signed ECDSA P-256 root made on first start (ca.crt,
// ca.key, mode 0600). Agents' certificates are short-lived and are reissued
// rather than revoked; verifying one needs only Bundle (go-spiffe's
// x509svid.Verify does it).
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultTrustDomain is the trust domain when the configuration names
// none.
const DefaultTrustDomain = "stratoswarm.local"

// caLifetime is how long the root is valid.
const caLifetime = 10 * 365 * 24 * time.Hour

// CA issues SVIDs for one trust domain.
type CA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	now  func() time.Time
}

// Open loads the CA kept in dir, or makes one there, for trustDomain. now
// is the clock (time.Now when nil).
func Open(dir, trustDomain string, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return nil, fmt.Errorf("trust domain %q: %w (use a DNS-like name such as %s)", trustDomain, err, DefaultTrustDomain)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity directory: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	ca := &CA{td: td, now: now}
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		if err := ca.load(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf("the CA in %s: %w (move ca.crt and ca.key away to make a new CA; agents then need new certificates)", dir, err)
		}
		if got := ca.cert.URIs; len(got) != 1 || got[0].String() != td.IDString() {
			return nil, fmt.Errorf("the CA in %s is for %v, not trust domain %s: start with that trust domain or another data directory", dir, got, td)
		}
		return ca, nil
	case errors.Is(cerr, os.ErrNotExist) && errors.Is(kerr, os.ErrNotExist):
		if err := ca.create(); err != nil {
			return nil, err
		}
		if err := writePEMs(certPath, keyPath, ca.cert.Raw, ca.key); err != nil {
			return nil, fmt.Errorf("save the CA: %w", err)
		}
		return ca, nil
	default:
		return nil, fmt.Errorf("the CA in %s is incomplete (ca.crt: %v, ca.key: %v): restore both files or remove both", dir, cerr, kerr)
	}
}

func (c *CA) load(certPEM, keyPEM []byte) error {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return errors.New("ca.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return fmt.Errorf("ca.crt: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return errors.New("ca.key holds no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return fmt.Errorf("ca.key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return errors.New("ca.key does not match ca.crt")
	}
	c.cert, c.key = cert, key
	return nil
}

func (c *CA) create() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	now := c.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Stratoswarm"}, CommonName: "Stratoswarm CA " + c.td.Name()},
		URIs:                  []*url.URL{c.td.ID().URL()},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	c.cert, c.key = cert, key
	return nil
}

// TrustDomain is the CA's trust domain.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// Bundle is what verifies the CA's SVIDs: its root certificate.
func (c *CA) Bundle() []*x509.Certificate { return []*x509.Certificate{c.cert} }

// BundlePEM is Bundle in PEM.
func (c *CA) BundlePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// AgentID is the SPIFFE ID of the agent called name.
func (c *CA) AgentID(name string) (spiffeid.ID, error) {
	id, err := spiffeid.FromSegments(c.td, "agent", name)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("agent %q: no SPIFFE ID: %w", name, err)
	}
	return id, nil
}

// SVID is an issued identity: the certificate and the private key of its
// holder, both PEM.
type SVID struct {
	ID       spiffeid.ID
	CertPEM  []byte
	KeyPEM   []byte
	Serial   string
	NotAfter time.Time
}

// Issue makes a key pair for id and a certificate for it valid for ttl.
func (c *CA) Issue(id spiffeid.ID, ttl time.Duration) (SVID, error) {
	if !id.MemberOf(c.td) {
		return SVID{}, fmt.Errorf("issue %s: not in trust domain %s", id, c.td)
	}
	if ttl <= 0 {
		return SVID{}, fmt.Errorf("issue %s: lifetime %v must be positive", id, ttl)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return SVID{}, fmt.Errorf("issue %s: key: %w", id, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return SVID{}, err
	}
	now := c.now()
	notAfter := now.Add(ttl)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Stratoswarm"}},
		URIs:         []*url.URL{id.URL()},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return SVID{}, fmt.Errorf("issue %s: %w", id, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return SVID{}, err
	}
	return SVID{
		ID:       id,
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Serial:   serial.Text(16),
		NotAfter: notAfter,
	}, nil
}

// WriteFiles writes s into dir as svid.crt, svid.key (0600) and the trust
// bundle as bundle.crt, what an agent's containers mount.
func (s SVID) WriteFiles(dir string, bundlePEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"svid.crt": s.CertPEM, "svid.key": s.KeyPEM, "bundle.crt": bundlePEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func writePEMs(certPath, keyPath string, certDER []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o600)
}
