package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeCert(t *testing.T, dir string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "gatehouse.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"gatehouse.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func serialOf(t *testing.T, c *certReloader) int64 {
	t.Helper()
	cert, err := c.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	c, err := newCertReloader(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	c.interval = 0
	var logs strings.Builder
	c.log = slog.New(slog.NewTextHandler(&logs, nil))
	if s := serialOf(t, c); s != 1 {
		t.Fatalf("serial %d", s)
	}
	writeCert(t, dir, 2)
	// Make sure the stamp changes even on coarse file systems.
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(filepath.Join(dir, "tls.crt"), later, later)
	if s := serialOf(t, c); s != 2 {
		t.Fatalf("after renewal: serial %d, want 2", s)
	}
	// A broken pair keeps the last good certificate.
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := serialOf(t, c); s != 2 {
		t.Fatalf("after a broken renewal: serial %d, want 2", s)
	}
	serialOf(t, c) // the same broken files again: not logged twice
	if got := logs.String(); strings.Count(got, "TLS certificate reloaded") != 1 || strings.Count(got, "TLS certificate reload failed") != 1 {
		t.Fatalf("want one line for the renewal and one for the broken pair:\n%s", got)
	}
}
