package bearer

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// TestRotation: a token under a new kid makes the verifier refetch the
// JWKS (once the rate limit allows) and then verify; the old key stops
// working once it left the JWKS, cache or not.
func TestRotation(t *testing.T) {
	e := setup(t, nil, nil)
	old := e.idp.MintIDToken(testidp.DefaultUser())
	if _, err := e.v.Verify(t.Context(), old); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	e.idp.RotateKey()
	fresh := e.idp.MintIDToken(testidp.DefaultUser())
	if _, err := e.v.Verify(t.Context(), fresh); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("new kid within MinRefetchInterval of the start fetch: %v, want ErrInvalidToken", err)
	}
	if n := e.http.count("/jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (rate-limited)", n)
	}
	e.clock.Advance(DefaultMinRefetchInterval)
	if _, err := e.v.Verify(t.Context(), fresh); err != nil {
		t.Fatalf("after rotation and refetch: %v", err)
	}
	if n := e.http.count("/jwks"); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
	if _, err := e.v.Verify(t.Context(), old); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token under the removed key (was cached): %v, want ErrInvalidToken", err)
	}
	if n := e.http.count("/.well-known/openid-configuration"); n != 1 {
		t.Errorf("discovery fetched %d times, want once", n)
	}
}

// TestKeyMaxAge: a key set older than KeyMaxAge is refreshed on use, so a
// key the IdP withdrew stops verifying even without an unknown kid.
func TestKeyMaxAge(t *testing.T) {
	e := setup(t, []testidp.Option{testidp.WithTokenTTL(24 * time.Hour)}, nil)
	tok := e.idp.MintIDToken(testidp.DefaultUser())
	if _, err := e.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	e.idp.RotateKey()
	e.clock.Advance(DefaultKeyMaxAge - time.Second)
	if _, err := e.v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("young key set: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("withdrawn key after KeyMaxAge: %v, want ErrInvalidToken", err)
	}
	if n := e.http.count("/jwks"); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

// TestRefetchRateLimit floods the verifier with random kids, concurrently:
// the IdP sees at most one JWKS request per MinRefetchInterval.
func TestRefetchRateLimit(t *testing.T) {
	e := setup(t, nil, nil)
	key := rsaKey(t)
	flood := func() {
		errs := make(chan error, 50)
		for i := range 50 {
			go func() {
				raw := signWith(t, key, jose.RS256, map[jose.HeaderKey]any{"kid": fmt.Sprint("random-", i)}, e.claims())
				_, err := e.v.Verify(t.Context(), raw)
				errs <- err
			}()
		}
		for range 50 {
			if err := <-errs; !errors.Is(err, ErrInvalidToken) {
				t.Errorf("random kid: %v, want ErrInvalidToken", err)
			}
		}
	}
	flood()
	if n := e.http.count("/jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times within the interval, want 1 (the start)", n)
	}
	e.clock.Advance(DefaultMinRefetchInterval)
	flood()
	if n := e.http.count("/jwks"); n != 2 {
		t.Fatalf("JWKS fetched %d times after one interval, want 2", n)
	}
}

// TestIssuerDownAtStart: New succeeds while the issuer is down or
// misconfigured; Verify says ErrUnavailable (without asking the IdP more
// than once per interval) until the IdP heals and the interval passed.
func TestIssuerDownAtStart(t *testing.T) {
	tests := []struct {
		name   string
		down   testidp.Faults
		mutate func(e *env, c *config.BearerIssuer)
	}{
		{name: "discovery answers 500", down: testidp.Faults{DiscoveryDown: true}},
		{name: "discovery names another issuer", down: testidp.Faults{DiscoveryIssuer: "https://elsewhere.example.com"}},
		{name: "discovery issuer has a trailing slash", down: testidp.Faults{DiscoveryIssuer: "ISSUER/"}},
		{name: "jwks_url unreachable", mutate: func(e *env, c *config.BearerIssuer) { c.JWKSURL = e.idp.URL() + "/no-such-jwks" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, nil, func(e *env, c *config.BearerIssuer, _ *Options) {
				f := tt.down
				if f.DiscoveryIssuer == "ISSUER/" {
					f.DiscoveryIssuer = e.idp.Issuer() + "/"
				}
				e.idp.SetFaults(f)
				if tt.mutate != nil {
					tt.mutate(e, c)
				}
			})
			tok := e.idp.MintIDToken(testidp.DefaultUser())
			e.idp.SetFaults(testidp.Faults{}) // heals the IdP; the verifier must not notice before the interval
			for range 3 {
				if _, err := e.v.Verify(t.Context(), tok); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
					t.Fatalf("Verify while down: %v, want ErrUnavailable only", err)
				}
			}
			if err := e.v.Ready(t.Context()); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Ready while down: %v, want ErrUnavailable", err)
			}
			requests := e.http.count("/.well-known/openid-configuration") + e.http.count("/no-such-jwks")
			if requests != 1 {
				t.Fatalf("IdP asked %d times within the interval, want 1", requests)
			}
			if tt.mutate != nil {
				return // a wrong jwks_url does not heal
			}
			e.clock.Advance(DefaultMinRefetchInterval)
			if _, err := e.v.Verify(t.Context(), tok); err != nil {
				t.Fatalf("Verify after the IdP came back: %v", err)
			}
			if err := e.v.Ready(t.Context()); err != nil {
				t.Fatalf("Ready after recovery: %v", err)
			}
		})
	}
}

// TestReadyHeals: a readiness probe loads keys that failed at start, so an
// instance without traffic still becomes ready.
func TestReadyHeals(t *testing.T) {
	e := setup(t, nil, func(e *env, _ *config.BearerIssuer, _ *Options) { e.idp.SetFaults(testidp.Faults{DiscoveryDown: true}) })
	e.idp.SetFaults(testidp.Faults{})
	e.clock.Advance(DefaultMinRefetchInterval)
	if err := e.v.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if n := e.http.count("/jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func TestJWKSURLSkipsDiscovery(t *testing.T) {
	e := setup(t, nil, func(e *env, c *config.BearerIssuer, _ *Options) {
		e.idp.SetFaults(testidp.Faults{DiscoveryDown: true})
		c.JWKSURL = e.idp.URL() + "/jwks"
	})
	if _, err := e.v.Verify(t.Context(), e.idp.MintIDToken(testidp.DefaultUser())); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if n := e.http.count("/.well-known/openid-configuration"); n != 0 {
		t.Errorf("discovery asked %d times, want 0", n)
	}
}

// TestWeakRSAKeySkipped: an RSA key under 2048 bits in the JWKS never
// verifies (RFC 7518 §3.3: "a key of size 2048 bits or larger MUST be
// used"; Go itself still accepts 1024), while a 2048-bit key beside it does.
func TestWeakRSAKeySkipped(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	strong := rsaKey(t)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: weak.Public(), KeyID: "weak", Algorithm: "RS256", Use: "sig"},
		{Key: strong.Public(), KeyID: "strong", Algorithm: "RS256", Use: "sig"},
	}}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(jwks.Close)
	e := setup(t, nil, func(_ *env, c *config.BearerIssuer, _ *Options) { c.JWKSURL = jwks.URL })
	for _, tc := range []struct {
		kid string
		key *rsa.PrivateKey
		ok  bool
	}{{"weak", weak, false}, {"", weak, false}, {"strong", strong, true}} {
		tok := signWith(t, tc.key, jose.RS256, map[jose.HeaderKey]any{"kid": tc.kid}, e.claims())
		_, err := e.v.Verify(t.Context(), tok)
		switch {
		case tc.ok && err != nil:
			t.Errorf("kid %q: %v", tc.kid, err)
		case !tc.ok && !errors.Is(err, ErrInvalidToken):
			t.Errorf("kid %q, %d-bit key: %v, want ErrInvalidToken", tc.kid, tc.key.N.BitLen(), err)
		}
	}
}
