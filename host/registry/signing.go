package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// A plugin signature is a detached ed25519 signature over a domain string
// and the module's SHA-256, so a signature made for anything else never
// verifies as one over a plugin:
//
//	"stratoswarm-plugin-v1\n" + hex(sha256(module)) + "\n"
//
// Signature files hold the signature in standard base64 on one line. Keys
// are PEM: PKCS#8 for private keys, PKIX for public keys (openssl reads
// both).
const signatureDomain = "stratoswarm-plugin-v1\n"

// Digest is the hex SHA-256 of a module.
func Digest(module []byte) string {
	sum := sha256.Sum256(module)
	return hex.EncodeToString(sum[:])
}

func signedMessage(digest string) []byte {
	return []byte(signatureDomain + digest + "\n")
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

// GenerateKey makes a signing key pair as PEM.
func GenerateKey() (privPEM, pubPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}

// ParsePrivateKey reads a PEM PKCS#8 ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM private key (want a 'PRIVATE KEY' block from 'swarmctl plugin keygen')")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ed25519", k)
	}
	return priv, nil
}

// ParsePublicKey reads a PEM PKIX ed25519 public key, or a raw 32-byte key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if len(data) == ed25519.PublicKeySize {
		return ed25519.PublicKey(data), nil
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key (want a 'PUBLIC KEY' block from 'swarmctl plugin keygen')")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want ed25519", k)
	}
	return pub, nil
}

// Sign returns the signature file contents for module.
func Sign(priv ed25519.PrivateKey, module []byte) []byte {
	sig := ed25519.Sign(priv, signedMessage(Digest(module)))
	return []byte(base64.StdEncoding.EncodeToString(sig) + "\n")
}

// ParseSignature reads a signature file.
func ParseSignature(data []byte) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("signature is not %d bytes of base64 (as 'swarmctl plugin sign' writes)", ed25519.SignatureSize)
	}
	return sig, nil
}

// Verify reports whether sig is pub's signature of the module with digest.
func Verify(pub ed25519.PublicKey, digest string, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, signedMessage(digest), sig)
}
