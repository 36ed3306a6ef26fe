package registry

import (
	"bytes"
	"testing"
)

func TestSignAndVerify(t *testing.T) {
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	module := []byte("\x00asm\x01\x00\x00\x00 pretend module")
	sig, err := ParseSignature(Sign(priv, module))
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(pub, Digest(module), sig) {
		t.Fatal("a fresh signature does not verify")
	}
	tampered := bytes.Clone(module)
	tampered[len(tampered)-1] ^= 1
	if Verify(pub, Digest(tampered), sig) {
		t.Fatal("a tampered module verifies")
	}
	_, otherPub, _ := GenerateKey()
	other, _ := ParsePublicKey(otherPub)
	if Verify(other, Digest(module), sig) {
		t.Fatal("another key verifies the signature")
	}
	if len(KeyID(pub)) != 16 || KeyID(pub) == KeyID(other) {
		t.Fatalf("key ids %s %s", KeyID(pub), KeyID(other))
	}
	if _, err := ParseSignature([]byte("not base64!")); err == nil {
		t.Fatal("garbage signature parsed")
	}
	if _, err := ParsePublicKey(privPEM); err == nil {
		t.Fatal("a private key parsed as a public key")
	}
	if _, err := ParsePrivateKey(pubPEM); err == nil {
		t.Fatal("a public key parsed as a private key")
	}
}
