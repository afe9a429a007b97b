package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/providers"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Provider
	}{
		{"no id", config.Provider{Type: "oidc", Issuer: "https://idp.example.com", ClientID: "c"}},
		{"no client id", config.Provider{ID: "x", Type: "oidc", Issuer: "https://idp.example.com"}},
		{"wrong type", config.Provider{ID: "x", Type: "github", Issuer: "https://idp.example.com", ClientID: "c"}},
		{"no issuer", config.Provider{ID: "x", Type: "oidc", ClientID: "c"}},
		{"issuer not a URL", config.Provider{ID: "x", Type: "oidc", Issuer: "idp.example.com", ClientID: "c"}},
		{"issuer with query", config.Provider{ID: "x", Type: "oidc", Issuer: "https://idp.example.com?a=b", ClientID: "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(t.Context(), tt.cfg, Options{}); err == nil {
				t.Fatal("New succeeded, want a configuration error")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	_, p := setup(t, nil, nil)
	if p.DisplayName() != "corp" || p.ID() != "corp" {
		t.Errorf("ID/DisplayName = %q/%q", p.ID(), p.DisplayName())
	}
	if !slices.Equal(p.scopes, []string{"openid", "email", "profile"}) || p.groupsClaim != "groups" {
		t.Errorf("scopes %v groups claim %q", p.scopes, p.groupsClaim)
	}
	_, p = setup(t, nil, func(c *config.Provider, _ *Options) { c.Name = "Corporate SSO"; c.Scopes = []string{"email"} })
	if p.DisplayName() != "Corporate SSO" || !slices.Equal(p.scopes, []string{"openid", "email"}) {
		t.Errorf("DisplayName %q scopes %v", p.DisplayName(), p.scopes)
	}
}

func TestAuthCodeURL(t *testing.T) {
	_, p := setup(t, nil, func(c *config.Provider, _ *Options) { c.Prompt = "select_account" })
	f := newFlow()
	u, err := url.Parse(p.AuthCodeURL(f.state, f.nonce, f.verifier, redirectURI))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(f.verifier))
	want := map[string]string{
		"response_type":         "code",
		"client_id":             "gatehouse",
		"redirect_uri":          redirectURI,
		"scope":                 "openid email profile",
		"state":                 f.state,
		"nonce":                 f.nonce,
		"code_challenge_method": "S256",
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		"prompt":                "select_account",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Has("code_verifier") || q.Has("hd") || strings.Contains(u.String(), f.verifier) {
		t.Errorf("auth URL leaks the verifier or carries hd: %s", u)
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("challenge %q is not 43 characters", q.Get("code_challenge"))
	}

	for name, fl := range map[string]flow{
		"no state":       {nonce: f.nonce, verifier: f.verifier},
		"no nonce":       {state: f.state, verifier: f.verifier},
		"short verifier": {state: f.state, nonce: f.nonce, verifier: "abc"},
	} {
		if got := p.AuthCodeURL(fl.state, fl.nonce, fl.verifier, redirectURI); got != "" {
			t.Errorf("%s: AuthCodeURL = %q, want \"\"", name, got)
		}
	}
}

// TestPKCEAppendixB checks RFC 7636 Appendix B's vector through AuthCodeURL.
func TestPKCEAppendixB(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := oauth2.S256ChallengeFromVerifier(verifier); got != challenge {
		t.Fatalf("S256(%q) = %q, want %q", verifier, got, challenge)
	}
	_, p := setup(t, nil, nil)
	u, _ := url.Parse(p.AuthCodeURL("s", "n", verifier, redirectURI))
	if got := u.Query().Get("code_challenge"); got != challenge {
		t.Fatalf("code_challenge = %q, want %q", got, challenge)
	}
}

func TestGoogleAuthCodeURLHints(t *testing.T) {
	_, p := setup(t, nil, func(c *config.Provider, _ *Options) {
		c.Type, c.HostedDomain, c.Prompt = TypeGoogle, "example.com", "consent"
	})
	f := newFlow()
	u, _ := url.Parse(p.AuthCodeURL(f.state, f.nonce, f.verifier, redirectURI))
	if u.Query().Get("hd") != "example.com" || u.Query().Get("prompt") != "consent" {
		t.Fatalf("hd/prompt missing: %s", u)
	}
}

func TestGoogleDefaultIssuer(t *testing.T) {
	ctx := t.Context()
	// Discovery fails (no network); New must still succeed.
	offline := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("offline")
	})}
	p, err := New(ctx, config.Provider{ID: "google", Type: TypeGoogle, ClientID: "c"},
		Options{HTTPClient: offline, RetryMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if p.IssuerURL() != GoogleIssuer {
		t.Fatalf("issuer = %q", p.IssuerURL())
	}
}

func TestDiscoveryRetriedUntilReady(t *testing.T) {
	idp := testidp.New(t, testidp.WithRedirectURI(redirectURI))
	idp.SetFaults(testidp.Faults{DiscoveryDown: true})
	p, err := New(t.Context(), config.Provider{ID: "corp", Issuer: idp.Issuer(), ClientID: idp.ClientID(),
		ClientSecret: idp.ClientSecret()}, Options{HTTPClient: idp.Client(), RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("New must not fail when discovery is down: %v", err)
	}
	if err := p.Ready(); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Ready = %v, want ErrUnavailable", err)
	}
	f := newFlow()
	if u := p.AuthCodeURL(f.state, f.nonce, f.verifier, redirectURI); u != "" {
		t.Fatalf("AuthCodeURL before ready = %q", u)
	}
	if _, _, err := p.Exchange(t.Context(), "code", f.verifier, f.nonce, redirectURI); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Exchange before ready = %v, want ErrUnavailable", err)
	}
	if _, _, err := p.Refresh(t.Context(), &oauth2.Token{RefreshToken: "r"}); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Refresh before ready = %v, want ErrUnavailable", err)
	}

	idp.SetFaults(testidp.Faults{})
	waitReady(t, p)
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready after recovery = %v", err)
	}
	mustLogin(t, idp, p)
}

// TestDiscoveryIssuerMismatch: a discovery document naming another issuer is
// refused (OIDC Discovery §4.3, ASVS 10.5.3) and the provider stays unready.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	idp := testidp.New(t)
	idp.SetFaults(testidp.Faults{DiscoveryIssuer: "https://evil.example.com"})
	p, err := New(t.Context(), config.Provider{ID: "corp", Issuer: idp.Issuer(), ClientID: "gatehouse"},
		Options{HTTPClient: idp.Client(), RetryMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Ready(); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Ready = %v, want ErrUnavailable", err)
	}
}

func TestAuthStyleFromDiscovery(t *testing.T) {
	for _, methods := range [][]string{{"client_secret_basic"}, {"client_secret_post"}} {
		t.Run(methods[0], func(t *testing.T) {
			idp, p := setup(t, []testidp.Option{testidp.WithAuthMethods(methods...)}, nil)
			mustLogin(t, idp, p)
			if n := idp.TokenRequests(); n != 1 {
				t.Fatalf("token requests = %d, want 1 (the code must be sent once)", n)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
