package bearer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

func TestLeeway(t *testing.T) {
	e := setup(t, nil, nil)
	now := e.clock.Now()
	tests := []struct {
		name  string
		claim string
		at    time.Time
		ok    bool
	}{
		{"exp 30s ago", "exp", now.Add(-30 * time.Second), true},
		{"exp 61s ago", "exp", now.Add(-61 * time.Second), false},
		{"nbf in 30s", "nbf", now.Add(30 * time.Second), true},
		{"nbf in 61s", "nbf", now.Add(61 * time.Second), false},
		{"iat in 30s", "iat", now.Add(30 * time.Second), true},
		{"iat in 61s", "iat", now.Add(61 * time.Second), false},
		{"fractional exp", "exp", now.Add(time.Hour + time.Second/2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.claims()
			c[tt.claim] = float64(tt.at.UnixNano()) / 1e9
			_, err := e.v.Verify(t.Context(), e.idp.Sign(c))
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify: %v (want ok=%v)", err, tt.ok)
			}
		})
	}
}

// TestKeyFits is the key-level guard against algorithm confusion, which
// holds even if the algorithm allowlist were wrong.
func TestKeyFits(t *testing.T) {
	rsaPub := rsaKey(t).Public()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name string
		key  jose.JSONWebKey
		alg  string
		want bool
	}{
		{"RSA for RS256", jose.JSONWebKey{Key: rsaPub}, "RS256", true},
		{"RSA for PS256", jose.JSONWebKey{Key: rsaPub}, "PS256", true},
		{"RSA for HS256", jose.JSONWebKey{Key: rsaPub}, "HS256", false},
		{"RSA for ES256", jose.JSONWebKey{Key: rsaPub}, "ES256", false},
		{"RSA declared ES256", jose.JSONWebKey{Key: rsaPub, Algorithm: "RS512"}, "RS256", false},
		{"RSA for encryption", jose.JSONWebKey{Key: rsaPub, Use: "enc"}, "RS256", false},
		{"P-256 for ES256", jose.JSONWebKey{Key: &p256.PublicKey}, "ES256", true},
		{"P-384 for ES256", jose.JSONWebKey{Key: &p384.PublicKey}, "ES256", false},
		{"P-384 for ES384", jose.JSONWebKey{Key: &p384.PublicKey}, "ES384", true},
		{"Ed25519 for EdDSA", jose.JSONWebKey{Key: edPub}, "EdDSA", true},
		{"Ed25519 for ES256", jose.JSONWebKey{Key: edPub}, "ES256", false},
		{"bytes for HS256", jose.JSONWebKey{Key: []byte("secret")}, "HS256", false},
		{"anything for none", jose.JSONWebKey{Key: rsaPub}, "none", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyFits(tt.key, tt.alg); got != tt.want {
				t.Errorf("keyFits = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCache(t *testing.T) {
	e := setup(t, nil, nil)
	tok := e.idp.MintIDToken(testidp.DefaultUser())
	first, err := e.v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	first.Groups[0], first.Roles = "mutated", []string{"admin"}
	if e.v.cache.len() != 1 {
		t.Fatalf("cache holds %d entries, want 1", e.v.cache.len())
	}
	second, err := e.v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if second.Groups[0] != "dev" || len(second.Roles) != 0 {
		t.Errorf("cached identity was changed through a returned copy: %+v", second)
	}
	e.clock.Advance(time.Hour) // exp: the entry is dead, the leeway still admits the token
	if _, ok := e.v.cache.get(keyOf(tok), e.clock.Now()); ok {
		t.Error("cache entry outlived exp")
	}
	e.clock.Advance(DefaultLeeway + time.Second)
	if _, err := e.v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired token: %v, want ErrInvalidToken", err)
	}
}

func TestCacheBounded(t *testing.T) {
	e := setup(t, nil, func(_ *env, _ *config.BearerIssuer, o *Options) { o.CacheSize = 64 })
	errs := make(chan error, 300)
	for i := range 300 {
		c := e.claims()
		c["sub"] = fmt.Sprint("user-", i)
		tok := e.idp.Sign(c)
		go func() {
			_, err := e.v.Verify(t.Context(), tok)
			errs <- err
		}()
	}
	for range 300 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := e.v.cache.len(); n > 64 || n == 0 {
		t.Errorf("cache holds %d entries, want 1..64", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	e := setup(t, nil, func(_ *env, _ *config.BearerIssuer, o *Options) { o.CacheSize = -1 })
	if e.v.cache != nil {
		t.Fatal("cache enabled with CacheSize -1")
	}
	if _, err := e.v.Verify(t.Context(), e.idp.MintIDToken(testidp.DefaultUser())); err != nil {
		t.Fatal(err)
	}
}
