package oidc

import (
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

const redirectURI = "https://gw.example.com/oauth2/callback"

// setup starts a test IdP and a Provider configured for it; mod may adjust
// the provider config and options.
func setup(t *testing.T, idpOpts []testidp.Option, mod func(*config.Provider, *Options)) (*testidp.IDP, *Provider) {
	t.Helper()
	idp := testidp.New(t, append([]testidp.Option{testidp.WithRedirectURI(redirectURI)}, idpOpts...)...)
	cfg := config.Provider{
		ID:           "corp",
		Type:         TypeOIDC,
		Issuer:       idp.Issuer(),
		ClientID:     idp.ClientID(),
		ClientSecret: idp.ClientSecret(),
	}
	opts := Options{HTTPClient: idp.Client(), RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg, &opts)
	}
	p, err := New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return idp, p
}

// flow is one login transaction's secrets.
type flow struct{ state, nonce, verifier string }

func newFlow() flow {
	return flow{state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), verifier: oauth2.GenerateVerifier()}
}

// authorize runs AuthCodeURL and the IdP's /authorize, checks the callback's
// state and iss, and returns the code.
func authorize(t *testing.T, idp *testidp.IDP, p *Provider, f flow) string {
	t.Helper()
	u := p.AuthCodeURL(f.state, f.nonce, f.verifier, redirectURI)
	if u == "" {
		t.Fatalf("AuthCodeURL returned \"\" (Ready: %v)", p.Ready())
	}
	cb, err := idp.Authorize(u)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	q := cb.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorize error: %s %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		t.Fatalf("state = %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("iss") != p.IssuerURL() {
		t.Fatalf("iss = %q, want %q", q.Get("iss"), p.IssuerURL())
	}
	return q.Get("code")
}

// login runs a whole login through Exchange.
func login(t *testing.T, idp *testidp.IDP, p *Provider) (*identity.Identity, *oauth2.Token, error) {
	t.Helper()
	f := newFlow()
	code := authorize(t, idp, p, f)
	return p.Exchange(t.Context(), code, f.verifier, f.nonce, redirectURI)
}

// mustLogin is login that must succeed.
func mustLogin(t *testing.T, idp *testidp.IDP, p *Provider) (*identity.Identity, *oauth2.Token) {
	t.Helper()
	id, tok, err := login(t, idp, p)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return id, tok
}

// waitReady blocks until discovery succeeded or the deadline passes.
func waitReady(t *testing.T, p *Provider) {
	t.Helper()
	select {
	case <-p.ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("provider not ready: %v", p.Ready())
	}
}
