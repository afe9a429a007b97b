package assertion

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	oidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

func TestClaims(t *testing.T) {
	c := newClock()
	now := c.Now()
	tests := []struct {
		name string
		id   func() *identity.Identity
		want map[string]any // besides iss, aud, iat, jti
	}{
		{
			name: "full identity",
			id:   alice,
			want: map[string]any{"sub": "u-1", "idp": "corp", "user": "alice", "email": "alice@example.com",
				"groups": []any{"dev", "ops"}, "roles": []any{"admin"}, "exp": float64(now.Add(DefaultTTL).Unix())},
		},
		{
			name: "unverified email is left out, empty lists are arrays",
			id: func() *identity.Identity {
				return &identity.Identity{Provider: "gh", Subject: "42", Email: "x@example.com"}
			},
			want: map[string]any{"sub": "42", "idp": "gh", "user": "x@example.com",
				"groups": []any{}, "roles": []any{}, "exp": float64(now.Add(DefaultTTL).Unix())},
		},
		{
			name: "exp capped at the identity's expiry",
			id: func() *identity.Identity {
				id := alice()
				id.Expiry = now.Add(2*time.Minute + 500*time.Millisecond)
				return id
			},
			want: map[string]any{"sub": "u-1", "idp": "corp", "user": "alice", "email": "alice@example.com",
				"groups": []any{"dev", "ops"}, "roles": []any{"admin"}, "exp": float64(now.Add(2 * time.Minute).Unix())},
		},
	}
	s := newSigner(t, config.Assertion{}, Options{Now: c.Now})
	up := &upstream{t: t, url: serveJWKS(t, s), now: c.Now}
	up.refresh()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Sign(tt.id(), "app.example.com")
			if err != nil {
				t.Fatal(err)
			}
			got, err := up.verify(tok, "app.example.com")
			if err != nil {
				t.Fatalf("upstream verification: %v", err)
			}
			if got["iss"] != testIssuer || got["aud"] != "app.example.com" || got["iat"] != float64(now.Unix()) {
				t.Errorf("iss/aud/iat = %v/%v/%v", got["iss"], got["aud"], got["iat"])
			}
			if jti, _ := got["jti"].(string); len(jti) < 22 {
				t.Errorf("jti %q is not 128 random bits", jti)
			}
			for _, k := range []string{"iss", "aud", "iat", "jti"} {
				delete(got, k)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("claims\n got %v\nwant %v", got, tt.want)
			}
		})
	}
	if _, err := up.verify(mustSign(t, s, alice(), "other.example.com"), "app.example.com"); err == nil {
		t.Error("a token for another upstream verified")
	}
	a, b := mustSign(t, s, alice(), "app.example.com"), mustSign(t, s, alice(), "app.example.com")
	if a == b {
		t.Error("two Sign calls gave the same token (jti not random?)")
	}
}

func TestJWKSContent(t *testing.T) {
	s := newSigner(t, config.Assertion{}, Options{})
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != s.KeyID() {
		t.Errorf("JWK %v", k)
	}
	if _, private := k["d"]; private {
		t.Fatal("JWKS leaks the private key")
	}
	header, _, _ := strings.Cut(mustSign(t, s, alice(), "app"), ".")
	if want := jsonB64(t, map[string]string{"alg": "ES256", "kid": s.KeyID(), "typ": "JWT"}); header != want {
		t.Errorf("JOSE header %s, want %s", header, want)
	}
}

func TestSignRejects(t *testing.T) {
	c := newClock()
	s := newSigner(t, config.Assertion{}, Options{Now: c.Now})
	expired := alice()
	expired.Expiry = c.Now()
	tests := []struct {
		name     string
		id       *identity.Identity
		audience string
	}{
		{"nil identity", nil, "app"},
		{"no subject", &identity.Identity{Provider: "corp"}, "app"},
		{"no audience", alice(), ""},
		{"expired identity", expired, "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Sign(tt.id, tt.audience); !errors.Is(err, ErrInvalidIdentity) {
				t.Errorf("Sign: %v, want ErrInvalidIdentity", err)
			}
			if _, err := s.For(tt.id, tt.audience, "session"); !errors.Is(err, ErrInvalidIdentity) {
				t.Errorf("For: %v, want ErrInvalidIdentity", err)
			}
		})
	}
	if _, err := New(config.Assertion{}, "", Options{}); err == nil {
		t.Error("New without an issuer succeeded")
	}
}

// TestRotation: after one rotation both keys are published and tokens
// signed before it still verify; after a second, the first key is gone.
func TestRotation(t *testing.T) {
	c := newClock()
	s := newSigner(t, config.Assertion{}, Options{Now: c.Now})
	up := &upstream{t: t, url: serveJWKS(t, s), now: c.Now}
	before := mustSign(t, s, alice(), "app")
	kid1 := s.KeyID()
	if err := s.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	after := mustSign(t, s, alice(), "app")
	if s.KeyID() == kid1 {
		t.Fatal("kid unchanged by Rotate")
	}
	up.refresh()
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := up.verify(tok, "app"); err != nil {
			t.Errorf("token signed %s the rotation: %v", name, err)
		}
	}
	if err := s.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	up.refresh()
	if len(up.keys.Keys) != 2 {
		t.Errorf("JWKS has %d keys, want current and previous", len(up.keys.Keys))
	}
	if _, err := up.verify(before, "app"); err == nil {
		t.Error("a token under the key two rotations ago still verifies")
	}
	if _, err := up.verify(after, "app"); err != nil {
		t.Errorf("token under the previous key: %v", err)
	}
}

func mustSign(t testing.TB, s *Signer, id *identity.Identity, aud string) string {
	t.Helper()
	tok, err := s.Sign(id, aud)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGoOIDCUpstream: an upstream using go-oidc's RemoteKeySet (which
// refetches jwks.json on an unknown kid) keeps verifying across rotations.
func TestGoOIDCUpstream(t *testing.T) {
	s := newSigner(t, config.Assertion{}, Options{})
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.JWKS())
	}))
	t.Cleanup(srv.Close)
	v := oidc.NewVerifier(testIssuer, oidc.NewRemoteKeySet(t.Context(), srv.URL+"/oauth2/jwks.json"),
		&oidc.Config{ClientID: "app.example.com", SupportedSigningAlgs: []string{oidc.ES256}})
	before := mustSign(t, s, alice(), "app.example.com")
	if _, err := v.Verify(t.Context(), before); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	if err := s.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	rotatedAt := fetches.Load()
	after := mustSign(t, s, alice(), "app.example.com")
	// verify retries only while go-oidc has not fetched the key set since the
	// rotation: RemoteKeySet can hand a caller the result of the fetch that
	// was finishing when it asked (its in-flight fetch is released just
	// after its result), which then lacks the new key; its next miss fetches.
	verify := func(raw string) (*oidc.IDToken, error) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			tok, err := v.Verify(t.Context(), raw)
			if err == nil || fetches.Load() > rotatedAt || time.Now().After(deadline) {
				return tok, err
			}
		}
	}
	for name, tok := range map[string]string{"new key": after, "previous key": before} {
		tok, err := verify(tok)
		if err != nil {
			t.Fatalf("%s after rotation: %v", name, err)
		}
		var c struct {
			Email  string   `json:"email"`
			Groups []string `json:"groups"`
		}
		if err := tok.Claims(&c); err != nil || tok.Subject != "u-1" || c.Email != "alice@example.com" || len(c.Groups) != 2 {
			t.Errorf("%s: sub %q claims %+v err %v", name, tok.Subject, c, err)
		}
	}
	if _, err := v.Verify(t.Context(), mustSign(t, s, alice(), "other.example.com")); err == nil {
		t.Error("go-oidc accepted a token for another audience")
	}
}

// TestRetiredKeyUnpublished: once every token the previous key signed has
// expired, the key leaves jwks.json, so an assertion forged with a retired
// (say, leaked) key no longer verifies at an upstream that follows the
// README, even right after it refetched the key set.
func TestRetiredKeyUnpublished(t *testing.T) {
	c := newClock()
	s := newSigner(t, config.Assertion{}, Options{Now: c.Now})
	up := &upstream{t: t, url: serveJWKS(t, s), now: c.Now}
	leaked, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(leaked); err != nil {
		t.Fatal(err)
	}
	signedBefore := mustSign(t, s, alice(), "app")
	if err := s.Rotate(nil); err != nil { // retire the leaked key
		t.Fatal(err)
	}
	// The attacker's signer holds the retired key.
	forger := newSigner(t, config.Assertion{}, Options{Now: c.Now})
	if err := forger.Rotate(leaked); err != nil {
		t.Fatal(err)
	}

	c.Advance(DefaultTTL) // tokens signed before the rotation may still be valid
	up.refresh()
	if len(up.keys.Keys) != 2 {
		t.Fatalf("JWKS has %d keys within the grace period, want current and previous", len(up.keys.Keys))
	}
	if _, err := up.verify(signedBefore, "app"); err != nil {
		t.Errorf("token signed before the rotation, within its lifetime: %v", err)
	}

	c.Advance(RetiredKeyGrace + time.Second)
	up.refresh()
	if len(up.keys.Keys) != 1 || up.keys.Keys[0].KeyID != s.KeyID() {
		t.Fatalf("JWKS after every token of the retired key expired: %d keys, want only the current one", len(up.keys.Keys))
	}
	forged := mustSign(t, forger, &identity.Identity{Provider: "corp", Subject: "admin", Roles: []string{"admin"}}, "app")
	if _, err := up.verify(forged, "app"); err == nil {
		t.Error("an assertion signed with the retired key verifies")
	}
	if _, err := up.verify(mustSign(t, s, alice(), "app"), "app"); err != nil {
		t.Errorf("current key: %v", err)
	}
}
