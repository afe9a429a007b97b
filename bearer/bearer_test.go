package bearer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

func TestVerifyValid(t *testing.T) {
	tests := []struct {
		name    string
		idpOpts []testidp.Option
		mutate  func(*env, *config.BearerIssuer, *Options)
		user    testidp.Claims
		check   func(t *testing.T, e *env, got identityView)
	}{
		{
			name: "RS256 default user",
			user: testidp.DefaultUser(),
			check: func(t *testing.T, e *env, got identityView) {
				want := identityView{
					Provider: "bearer:" + e.idp.Issuer(), Subject: "user-0001", Email: "alice@example.com",
					EmailVerified: true, PreferredUsername: "alice", Name: "Alice Example",
					Groups: "dev", Expiry: e.clock.Now().Add(time.Hour),
				}
				if got != want {
					t.Errorf("identity\n got %+v\nwant %+v", got, want)
				}
			},
		},
		{
			name:    "ES256",
			idpOpts: []testidp.Option{testidp.WithES256()},
			user:    testidp.DefaultUser(),
			check: func(t *testing.T, _ *env, got identityView) {
				if got.Subject != "user-0001" || got.Email != "alice@example.com" {
					t.Errorf("identity %+v", got)
				}
			},
		},
		{
			name: "unverified email is dropped",
			user: testidp.Claims{Subject: "u2", Email: "bob@example.com", EmailVerified: false},
			check: func(t *testing.T, _ *env, got identityView) {
				if got.Email != "" || got.EmailVerified {
					t.Errorf("email %q verified %v, want none", got.Email, got.EmailVerified)
				}
			},
		},
		{
			name: "email_verified as the string true",
			user: testidp.Claims{Subject: "u3", Email: "c@example.com", Extra: map[string]any{"email_verified": "true"}},
			check: func(t *testing.T, _ *env, got identityView) {
				if got.Email != "c@example.com" || !got.EmailVerified {
					t.Errorf("email %q verified %v", got.Email, got.EmailVerified)
				}
			},
		},
		{
			name: "configured groups claim and provider id",
			mutate: func(_ *env, c *config.BearerIssuer, o *Options) {
				c.GroupsClaim = "roles"
				o.ProviderIDs = map[string]string{c.Issuer: "corp"}
			},
			user: testidp.Claims{Subject: "u4", Groups: []string{"ignored"}, Extra: map[string]any{"roles": []any{"ops", 7, "", "dev"}}},
			check: func(t *testing.T, _ *env, got identityView) {
				if got.Groups != "ops,dev" || got.Provider != "corp" {
					t.Errorf("groups %q provider %q", got.Groups, got.Provider)
				}
			},
		},
		{
			name:   "one of several audiences",
			mutate: func(_ *env, c *config.BearerIssuer, _ *Options) { c.Audiences = []string{"api", c.Audiences[0]} },
			user:   testidp.DefaultUser(),
			check:  func(*testing.T, *env, identityView) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.idpOpts, tt.mutate)
			id, err := e.v.Verify(t.Context(), e.idp.MintIDToken(tt.user))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.check(t, e, view(id))
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	e := setup(t, nil, nil)
	attacker := rsaKey(t)
	jkuHits := &hits{}
	jku := httptest.NewServer(jkuHits)
	t.Cleanup(jku.Close)
	other := testidp.New(t, testidp.WithClock(e.clock.Now)) // same kid "key-1", different key
	with := func(mod func(c map[string]any)) string {
		c := e.claims()
		mod(c)
		return e.idp.Sign(c)
	}
	fault := func(f testidp.Faults) string {
		e.idp.SetFaults(f)
		defer e.idp.SetFaults(testidp.Faults{})
		return e.idp.MintIDToken(testidp.DefaultUser())
	}
	now := e.clock.Now()
	enc := base64.RawURLEncoding
	tests := []struct {
		name string
		raw  string
	}{
		{"alg none", fault(testidp.Faults{AlgNone: true})},
		{"HS256 keyed with the public key", fault(testidp.Faults{HS256WithPublicKey: true})},
		{"wrong audience", fault(testidp.Faults{WrongAudience: true})},
		{"expired", fault(testidp.Faults{Expired: true})},
		{"issued in the future", fault(testidp.Faults{IssuedInFuture: true})},
		{"unknown kid", fault(testidp.Faults{UnknownKID: true})},
		{"issuer with trailing slash", fault(testidp.Faults{IssuerTrailingSlash: true})},
		{"nbf in the future", with(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() })},
		{"expired beyond leeway", with(func(c map[string]any) { c["exp"] = now.Add(-61 * time.Second).Unix() })},
		{"no exp", with(func(c map[string]any) { delete(c, "exp") })},
		{"exp as a string", with(func(c map[string]any) { c["exp"] = "tomorrow" })},
		{"no sub", with(func(c map[string]any) { delete(c, "sub") })},
		{"no aud", with(func(c map[string]any) { delete(c, "aud") })},
		{"audience list without ours", with(func(c map[string]any) { c["aud"] = []string{"a", "b"} })},
		{"unknown issuer", with(func(c map[string]any) { c["iss"] = "https://evil.example.com" })},
		{"iss claim name in upper case", with(func(c map[string]any) { c["ISS"] = c["iss"]; delete(c, "iss") })},
		{"issuer differs in case", with(func(c map[string]any) { c["iss"] = strings.ToUpper(e.idp.Issuer()) })},
		{"signed by another IdP under our kid", other.Sign(e.claims())},
		{"embedded jwk header", signWith(t, attacker, jose.RS256, map[jose.HeaderKey]any{
			"kid": "key-1", "jwk": jose.JSONWebKey{Key: attacker.Public(), KeyID: "key-1"}}, e.claims())},
		{"jku header to attacker JWKS", signWith(t, attacker, jose.RS256, map[jose.HeaderKey]any{
			"kid": "attacker", "jku": jku.URL + "/jwks"}, e.claims())},
		{"x5u header", signWith(t, attacker, jose.RS256, map[jose.HeaderKey]any{"x5u": jku.URL + "/cert"}, e.claims())},
		{"tampered payload", tamper(e.idp.Sign(e.claims()), e.claims())},
		{"empty", ""},
		{"opaque token", "2YotnFZFEjr1zCsicMWpAA"},
		{"three garbage segments", "a.b.c"},
		{"header not JSON", enc.EncodeToString([]byte("nope")) + ".e30.c2ln"},
		{"payload not JSON", enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte("x")) + ".c2ln"},
		{"JWE shape", "a.b.c.d.e"},
		{"oversized", strings.Repeat("a", MaxTokenBytes) + ".b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := e.v.Verify(t.Context(), tt.raw)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", id, err)
			}
			t.Logf("rejected: %v", err)
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("error %v also wraps ErrUnavailable", err)
			}
		})
	}
	if n := jkuHits.n.Load(); n != 0 {
		t.Errorf("the jku/x5u server was asked %d times", n)
	}
}

func TestAlgorithmAllowlist(t *testing.T) {
	e := setup(t, nil, func(_ *env, c *config.BearerIssuer, _ *Options) { c.Algorithms = []string{"ES256"} })
	if _, err := e.v.Verify(t.Context(), e.idp.MintIDToken(testidp.DefaultUser())); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("RS256 token for an ES256-only issuer: %v, want ErrInvalidToken", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := config.BearerIssuer{Issuer: "https://idp.example.com", Audiences: []string{"api"}}
	tests := []struct {
		name   string
		mutate func(*config.BearerIssuer)
	}{
		{"HS256", func(c *config.BearerIssuer) { c.Algorithms = []string{"RS256", "HS256"} }},
		{"none", func(c *config.BearerIssuer) { c.Algorithms = []string{"none"} }},
		{"no audience", func(c *config.BearerIssuer) { c.Audiences = nil }},
		{"empty audience", func(c *config.BearerIssuer) { c.Audiences = []string{""} }},
		{"issuer not a URL", func(c *config.BearerIssuer) { c.Issuer = "idp.example.com" }},
		{"jwks_url not http", func(c *config.BearerIssuer) { c.JWKSURL = "file:///etc/jwks.json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			if _, err := New(t.Context(), []config.BearerIssuer{c}, Options{}); err == nil {
				t.Fatal("New succeeded, want a configuration error")
			}
		})
	}
	if _, err := New(t.Context(), []config.BearerIssuer{ok, ok}, Options{}); err == nil {
		t.Error("duplicate issuers accepted")
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name, header string
		want         string
		ok           bool
	}{
		{"bearer", "Bearer abc.def.ghi", "abc.def.ghi", true},
		{"scheme case", "bEaReR tok", "tok", true},
		{"extra spaces", "Bearer   tok  ", "tok", true},
		{"empty token", "Bearer ", "", true},
		{"basic", "Basic dXNlcjpwYXNz", "", false},
		{"no space", "Bearertok", "", false},
		{"none", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, ok := FromRequest(r)
			if got != tt.want || ok != tt.ok {
				t.Errorf("FromRequest = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// identityView is a comparable rendering of an Identity.
type identityView struct {
	Provider, Subject, Email, PreferredUsername, Name, Groups string
	EmailVerified                                             bool
	Expiry                                                    time.Time
}

func view(id *identity.Identity) identityView {
	return identityView{
		Provider: id.Provider, Subject: id.Subject, Email: id.Email, PreferredUsername: id.PreferredUsername,
		Name: id.Name, Groups: strings.Join(id.Groups, ","), EmailVerified: id.EmailVerified, Expiry: id.Expiry,
	}
}

// tamper swaps a token's payload for claims naming another subject,
// keeping header and signature.
func tamper(raw string, claims map[string]any) string {
	claims["sub"] = "admin"
	payload, _ := json.Marshal(claims)
	parts := strings.Split(raw, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
