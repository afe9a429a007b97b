package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestKeyFile(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	pkcs8 := func(k any) []byte { der, _ := x509.MarshalPKCS8PrivateKey(k); return der }
	sec1P224, _ := x509.MarshalECPrivateKey(p224)
	params := pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	generated, err := NewKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pem     []byte
		wantAlg string // "" = New must fail
	}{
		{"SEC 1 EC PRIVATE KEY", pemOf("EC PRIVATE KEY", sec1), "ES256"},
		{"openssl ecparam output", append(params, pemOf("EC PRIVATE KEY", sec1)...), "ES256"},
		{"PKCS 8 P-256", pemOf("PRIVATE KEY", pkcs8(p256)), "ES256"},
		{"NewKeyPEM", generated, "ES256"},
		{"PKCS 8 Ed25519", pemOf("PRIVATE KEY", pkcs8(ed)), "EdDSA"},
		{"PKCS 1 RSA", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), "RS256"},
		{"RSA under 2048 bits", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024)), ""},
		{"P-224", pemOf("EC PRIVATE KEY", sec1P224), ""},
		{"public key only", pemOf("PUBLIC KEY", pkcs8(p256)), ""},
		{"not PEM", []byte("hello"), ""},
		{"corrupt DER", pemOf("EC PRIVATE KEY", []byte{1, 2, 3}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(config.Assertion{KeyFile: writeFile(t, tt.pem)}, testIssuer, Options{})
			if tt.wantAlg == "" {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if alg := s.state.Load().alg; string(alg) != tt.wantAlg {
				t.Errorf("alg %s, want %s", alg, tt.wantAlg)
			}
			up := &upstream{t: t, url: serveJWKS(t, s), now: s.now}
			up.refresh()
			if _, err := up.verify(mustSign(t, s, alice(), "app"), "app"); err != nil {
				t.Errorf("upstream verification: %v", err)
			}
		})
	}
	if _, err := New(config.Assertion{KeyFile: "/nonexistent/key.pem"}, testIssuer, Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing key file: %v", err)
	}
}

// TestKeyID: kid is the RFC 7638 thumbprint, so every replica loading the
// same key_file publishes the same kid.
func TestKeyID(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	path := writeFile(t, pemOf("EC PRIVATE KEY", der))
	a := newSigner(t, config.Assertion{KeyFile: path}, Options{})
	b := newSigner(t, config.Assertion{KeyFile: path}, Options{})
	enc := base64.RawURLEncoding
	canonical := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`,
		enc.EncodeToString(key.X.FillBytes(make([]byte, 32))), enc.EncodeToString(key.Y.FillBytes(make([]byte, 32))))
	sum := sha256.Sum256([]byte(canonical))
	if want := enc.EncodeToString(sum[:]); a.KeyID() != want || b.KeyID() != want {
		t.Errorf("kid %s / %s, want RFC 7638 thumbprint %s", a.KeyID(), b.KeyID(), want)
	}
}

func TestReload(t *testing.T) {
	first, _ := NewKeyPEM()
	second, _ := NewKeyPEM()
	path := writeFile(t, first)
	c := newClock()
	s := newSigner(t, config.Assertion{KeyFile: path}, Options{Now: c.Now})
	up := &upstream{t: t, url: serveJWKS(t, s), now: c.Now}
	old := mustSign(t, s, alice(), "app")
	kid1 := s.KeyID()

	if err := s.Reload(); err != nil || s.KeyID() != kid1 || len(s.state.Load().jwks) == 0 || s.state.Load().prev != nil {
		t.Fatalf("Reload of an unchanged file: err %v, kid %s (was %s), prev %v", err, s.KeyID(), kid1, s.state.Load().prev)
	}
	rewrite(t, path, second)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.KeyID() == kid1 {
		t.Fatal("Reload of a new key kept the old kid")
	}
	up.refresh()
	if _, err := up.verify(old, "app"); err != nil {
		t.Errorf("token under the key before Reload: %v", err)
	}
	if _, err := up.verify(mustSign(t, s, alice(), "app"), "app"); err != nil {
		t.Errorf("token under the reloaded key: %v", err)
	}
	kid2 := s.KeyID()
	rewrite(t, path, []byte("garbage"))
	if err := s.Reload(); err == nil || s.KeyID() != kid2 {
		t.Errorf("Reload of a broken file: err %v, kid %s (want %s kept)", err, s.KeyID(), kid2)
	}
	generated := newSigner(t, config.Assertion{}, Options{})
	if kid := generated.KeyID(); generated.Reload() != nil || generated.KeyID() != kid {
		t.Error("Reload without a key_file changed something")
	}
}

func TestRotateToCurrentKeyIsNoop(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	s := newSigner(t, config.Assertion{KeyFile: writeFile(t, pemOf("PRIVATE KEY", der))}, Options{})
	if err := s.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	st := s.state.Load()
	if err := s.Rotate(key); err != nil { // back to the first key: a real rotation
		t.Fatal(err)
	}
	if err := s.Rotate(key); err != nil {
		t.Fatal(err)
	}
	if now := s.state.Load(); now.gen != st.gen+1 || now.prev.KeyID != st.kid {
		t.Errorf("rotating to the current key moved the state: gen %d→%d, prev %s", st.gen, now.gen, now.prev.KeyID)
	}
	for _, bad := range []crypto.Signer{&rsa.PrivateKey{}, &ecdsa.PrivateKey{}, ed25519.PrivateKey{1}} {
		if err := s.Rotate(bad); err == nil {
			t.Errorf("Rotate accepted an unusable %T", bad)
		}
	}
}
