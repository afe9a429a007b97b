package oidc

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/providers"
)

func TestExchangeHappyPath(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []testidp.Option
	}{
		{"RS256", nil},
		{"ES256", []testidp.Option{testidp.WithES256()}},
		{"disallowed algs advertised", []testidp.Option{testidp.WithAdvertisedAlgs("none", "HS256", "RS256")}},
		{"only HS256 advertised falls back to RS256", []testidp.Option{testidp.WithAdvertisedAlgs("HS256")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setup(t, tt.opts, nil)
			start := time.Now()
			id, tok := mustLogin(t, idp, p)
			want := testidp.DefaultUser()
			if id.Provider != "corp" || id.Subject != want.Subject || id.Email != want.Email || !id.EmailVerified ||
				id.PreferredUsername != want.PreferredUsername || id.Name != want.Name || !slices.Equal(id.Groups, want.Groups) {
				t.Errorf("identity = %+v", id)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || !id.Expiry.Equal(tok.Expiry) || id.Expiry.Before(start.Add(50*time.Minute)) {
				t.Errorf("token %+v, expiry %v", tok, id.Expiry)
			}
			if n := idp.UserinfoRequests(); n != 0 {
				t.Errorf("userinfo called %d times although the ID token had an email", n)
			}
		})
	}
}

// TestExchangeRejectsBadIDTokens: each ID-token fault fails with
// ErrInvalidToken (OIDC Core §3.1.3.7, RFC 9700 §4.5.3.2, ASVS 9.1, 10.5).
func TestExchangeRejectsBadIDTokens(t *testing.T) {
	tests := []struct {
		name   string
		faults testidp.Faults
	}{
		{"wrong nonce", testidp.Faults{WrongNonce: true}},
		{"missing nonce", testidp.Faults{OmitNonce: true}},
		{"wrong audience", testidp.Faults{WrongAudience: true}},
		{"extra audience without azp", testidp.Faults{ExtraAudience: true}},
		{"extra audience with azp", testidp.Faults{ExtraAudience: true, AZP: "gatehouse"}},
		{"extra audience with foreign azp", testidp.Faults{ExtraAudience: true, AZP: "untrusted-client"}},
		{"foreign azp", testidp.Faults{AZP: "other-client"}},
		{"expired", testidp.Faults{Expired: true}},
		{"issued in the future", testidp.Faults{IssuedInFuture: true}},
		{"alg none", testidp.Faults{AlgNone: true}},
		{"HS256 keyed with the public key", testidp.Faults{HS256WithPublicKey: true}},
		{"unknown kid", testidp.Faults{UnknownKID: true}},
		{"issuer with trailing slash", testidp.Faults{IssuerTrailingSlash: true}},
		{"no id_token", testidp.Faults{OmitIDToken: true}},
		{"userinfo sub differs", testidp.Faults{EmailOnlyInUserinfo: true, UserinfoWrongSub: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setup(t, nil, nil)
			idp.SetFaults(tt.faults)
			id, tok, err := login(t, idp, p)
			t.Log(err)
			if !errors.Is(err, providers.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if id != nil || tok != nil {
				t.Fatalf("identity %+v / token returned with an error", id)
			}
		})
	}
}

func TestExchangeTrustedExtraAudience(t *testing.T) {
	idp, p := setup(t, nil, func(_ *config.Provider, o *Options) { o.TrustedAudiences = []string{"untrusted-client"} })
	idp.SetFaults(testidp.Faults{ExtraAudience: true, AZP: "gatehouse"})
	mustLogin(t, idp, p)
	idp.SetFaults(testidp.Faults{ExtraAudience: true}) // azp still required
	if _, _, err := login(t, idp, p); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
}

func TestExchangeUsesInjectedClock(t *testing.T) {
	idp, p := setup(t, nil, func(_ *config.Provider, o *Options) {
		o.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	})
	if _, _, err := login(t, idp, p); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken for a token expired by the injected clock", err)
	}
}

// TestExchangeCodeAndPKCE: the IdP's invalid_grant (wrong verifier, reused
// code, wrong redirect URI) surfaces as ErrInvalidToken.
func TestExchangeCodeAndPKCE(t *testing.T) {
	idp, p := setup(t, nil, nil)
	ctx := t.Context()

	f := newFlow()
	code := authorize(t, idp, p, f)
	if _, _, err := p.Exchange(ctx, code, newFlow().verifier, f.nonce, redirectURI); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("wrong verifier: err = %v", err)
	}

	f = newFlow()
	code = authorize(t, idp, p, f)
	if _, _, err := p.Exchange(ctx, code, f.verifier, f.nonce, redirectURI); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Exchange(ctx, code, f.verifier, f.nonce, redirectURI); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("reused code: err = %v", err)
	}

	f = newFlow()
	code = authorize(t, idp, p, f)
	if _, _, err := p.Exchange(ctx, code, f.verifier, f.nonce, "https://other.example.com/cb"); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("other redirect_uri: err = %v", err)
	}

	f = newFlow()
	code = authorize(t, idp, p, f)
	if _, _, err := p.Exchange(ctx, code, f.verifier, "", redirectURI); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("empty nonce: err = %v", err)
	}
}

func TestExchangeKeyRotation(t *testing.T) {
	idp, p := setup(t, nil, nil)
	mustLogin(t, idp, p)
	idp.RotateKey()
	mustLogin(t, idp, p) // new kid: the key set is refetched
}

func TestClaimsMapping(t *testing.T) {
	tests := []struct {
		name        string
		user        testidp.Claims
		groupsClaim string
		wantEmail   string
		wantGroups  []string
	}{
		{"unverified email dropped", testidp.Claims{Subject: "s", Email: "eve@example.com"}, "", "", nil},
		{"email_verified as string", testidp.Claims{Subject: "s", Email: "a@example.com",
			Extra: map[string]any{"email_verified": "true"}}, "", "a@example.com", nil},
		{"email_verified odd string", testidp.Claims{Subject: "s", Email: "a@example.com",
			Extra: map[string]any{"email_verified": "yes"}}, "", "", nil},
		{"groups as single string", testidp.Claims{Subject: "s", Extra: map[string]any{"groups": "ops"}}, "", "", []string{"ops"}},
		{"groups with non-strings", testidp.Claims{Subject: "s", Extra: map[string]any{"groups": []any{"a", 1, true, "b"}}},
			"", "", []string{"a", "b"}},
		{"groups of wrong type", testidp.Claims{Subject: "s", Extra: map[string]any{"groups": map[string]any{"a": 1}}}, "", "", nil},
		{"custom groups claim", testidp.Claims{Subject: "s", Groups: []string{"ignored"},
			Extra: map[string]any{"roles": []string{"admin"}}}, "roles", "", []string{"admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setup(t, nil, func(c *config.Provider, _ *Options) { c.GroupsClaim = tt.groupsClaim })
			idp.SetUser(tt.user)
			id, _ := mustLogin(t, idp, p)
			if id.Email != tt.wantEmail || id.EmailVerified != (tt.wantEmail != "") || !slices.Equal(id.Groups, tt.wantGroups) {
				t.Fatalf("email %q verified %v groups %v; want %q %v", id.Email, id.EmailVerified, id.Groups, tt.wantEmail, tt.wantGroups)
			}
		})
	}
}

func TestUserinfoFallback(t *testing.T) {
	idp, p := setup(t, nil, nil)
	idp.SetFaults(testidp.Faults{EmailOnlyInUserinfo: true})
	id, _ := mustLogin(t, idp, p)
	if id.Email != "alice@example.com" || !id.EmailVerified {
		t.Fatalf("email from userinfo = %q verified %v", id.Email, id.EmailVerified)
	}
	if n := idp.UserinfoRequests(); n != 1 {
		t.Fatalf("userinfo requests = %d, want 1", n)
	}

	u := testidp.DefaultUser()
	u.EmailVerified = false
	idp.SetUser(u)
	id, _ = mustLogin(t, idp, p)
	if id.Email != "" || id.EmailVerified {
		t.Fatalf("unverified userinfo email kept: %+v", id)
	}
}

func TestGoogle(t *testing.T) {
	tests := []struct {
		name    string
		hd      string // configured hosted_domain
		user    testidp.Claims
		wantErr error
	}{
		{"hd matches", "example.com", testidp.Claims{Subject: "g1", Email: "a@example.com", EmailVerified: true, HostedDomain: "example.com"}, nil},
		{"hd differs", "example.com", testidp.Claims{Subject: "g1", Email: "a@evil.com", EmailVerified: true, HostedDomain: "evil.com"}, providers.ErrDenied},
		{"hd missing", "example.com", testidp.Claims{Subject: "g1", Email: "a@gmail.com", EmailVerified: true}, providers.ErrDenied},
		{"no hd configured", "", testidp.Claims{Subject: "g1", Email: "a@gmail.com", EmailVerified: true}, nil},
		{"unverified email", "", testidp.Claims{Subject: "g1", Email: "a@gmail.com"}, providers.ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setup(t, nil, func(c *config.Provider, _ *Options) { c.Type, c.HostedDomain = TypeGoogle, tt.hd })
			idp.SetUser(tt.user)
			id, _, err := login(t, idp, p)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && id.Email != tt.user.Email {
				t.Fatalf("email = %q", id.Email)
			}
		})
	}
}
