package oidc

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// setupGoogle is a type google provider with Google's presets, its issuer
// pointed at the test IdP (Google itself cannot be reached from tests).
func setupGoogle(t *testing.T, hostedDomain, prompt string) (*testidp.IDP, *Provider) {
	t.Helper()
	return setup(t, nil, func(c *config.Provider, _ *Options) {
		c.ID, c.Type, c.HostedDomain, c.Prompt = "google", TypeGoogle, hostedDomain, prompt
	})
}

func workspaceUser(hd string) testidp.Claims {
	return testidp.Claims{Subject: "108234567890123456789", Email: "alice@example.com", EmailVerified: true,
		Name: "Alice Example", HostedDomain: hd}
}

func TestGoogleAuthCodeURLPresets(t *testing.T) {
	tests := []struct {
		name, hd, prompt string
		want             url.Values // parameters that must be present
		absent           []string
	}{
		{"hosted domain and account chooser", "example.com", "select_account",
			url.Values{"hd": {"example.com"}, "prompt": {"select_account"}}, nil},
		{"account chooser only", "", "select_account", url.Values{"prompt": {"select_account"}}, []string{"hd"}},
		{"nothing configured", "", "", nil, []string{"hd", "prompt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setupGoogle(t, tt.hd, tt.prompt)
			if !slices.Equal(p.scopes, []string{"openid", "email", "profile"}) {
				t.Errorf("scopes = %v", p.scopes)
			}
			authorize(t, idp, p, newFlow()) // the IdP must receive them too
			for _, q := range []url.Values{mustQuery(t, p), idp.LastAuthorize()} {
				for k, v := range tt.want {
					if !slices.Equal(q[k], v) {
						t.Errorf("%s = %q, want %q", k, q[k], v)
					}
				}
				for _, k := range tt.absent {
					if q.Has(k) {
						t.Errorf("%s = %q, want absent", k, q[k])
					}
				}
			}
		})
	}
}

func mustQuery(t *testing.T, p *Provider) url.Values {
	t.Helper()
	f := newFlow()
	u, err := url.Parse(p.AuthCodeURL(f.state, f.nonce, f.verifier, redirectURI))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestGoogleHostedDomain: the hd parameter is only a hint, so the hd claim of
// the verified ID token decides.
func TestGoogleHostedDomain(t *testing.T) {
	withExtra := func(c testidp.Claims, k string, v any) testidp.Claims {
		c.Extra = map[string]any{k: v}
		return c
	}
	secondary := workspaceUser("example.com")
	secondary.Email = "alice@example.org" // a Workspace secondary domain
	tests := []struct {
		name    string
		user    testidp.Claims
		wantErr error
	}{
		{"hd matches", workspaceUser("example.com"), nil},
		{"hd matches, other case", workspaceUser("Example.COM"), nil},
		{"hd matches, email in a secondary domain", secondary, nil},
		{"hd missing (consumer account)", workspaceUser(""), providers.ErrDenied},
		{"hd of another domain", workspaceUser("evil.example"), providers.ErrDenied},
		{"hd a subdomain", workspaceUser("sub.example.com"), providers.ErrDenied},
		{"hd with the domain as prefix", workspaceUser("example.com.evil.example"), providers.ErrDenied},
		{"hd not a string", withExtra(workspaceUser(""), "hd", []string{"example.com"}), providers.ErrDenied},
		{"hd empty string", withExtra(workspaceUser(""), "hd", ""), providers.ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setupGoogle(t, "example.com", "select_account")
			idp.SetUser(tt.user)
			id, tok, err := login(t, idp, p)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := idp.LastAuthorize().Get("hd"); got != "example.com" {
				t.Fatalf("the hd hint was not sent: %q", got)
			}
			if err != nil {
				if id != nil || tok != nil {
					t.Fatalf("identity or token returned with %v", err)
				}
				return
			}
			if id.Provider != "google" || id.Subject != tt.user.Subject || id.Email != tt.user.Email || !id.EmailVerified {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

// TestGoogleHintRemoved: a user who deletes hd from the authorization URL
// can pick a consumer account; the missing claim still keeps them out.
func TestGoogleHintRemoved(t *testing.T) {
	idp, p := setupGoogle(t, "example.com", "")
	idp.SetUser(workspaceUser(""))
	f := newFlow()
	u, err := url.Parse(p.AuthCodeURL(f.state, f.nonce, f.verifier, redirectURI))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("hd")
	u.RawQuery = q.Encode()
	cb, err := idp.Authorize(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if idp.LastAuthorize().Has("hd") {
		t.Fatal("hint still sent")
	}
	id, _, err := p.Exchange(t.Context(), cb.Query().Get("code"), f.verifier, f.nonce, redirectURI)
	if !errors.Is(err, providers.ErrDenied) || id != nil {
		t.Fatalf("Exchange = %+v, %v; want ErrDenied", id, err)
	}
}

// TestGoogleEmailVerification: only verified addresses are accepted; a
// Google login whose email is unverified is refused as a whole (so no
// session exists without an email), while generic OIDC keeps the login and
// drops the address.
func TestGoogleEmailVerification(t *testing.T) {
	unverified := func(v any) testidp.Claims {
		c := workspaceUser("example.com")
		c.EmailVerified = false
		if v != nil {
			c.Extra = map[string]any{"email_verified": v}
		}
		return c
	}
	noEmail := workspaceUser("example.com")
	noEmail.Email = ""
	tests := []struct {
		name      string
		typ       string
		user      testidp.Claims
		wantErr   error
		wantEmail string
	}{
		{"google verified", TypeGoogle, workspaceUser("example.com"), nil, "alice@example.com"},
		{"google verified as a string", TypeGoogle, unverified("true"), nil, "alice@example.com"},
		{"google unverified", TypeGoogle, unverified(nil), providers.ErrDenied, ""},
		{"google unverified as a string", TypeGoogle, unverified("false"), providers.ErrDenied, ""},
		{"google email_verified not a boolean", TypeGoogle, unverified(1), providers.ErrDenied, ""},
		{"google without email", TypeGoogle, noEmail, providers.ErrDenied, ""},
		{"generic oidc unverified: no email", TypeOIDC, unverified(nil), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp, p := setup(t, nil, func(c *config.Provider, _ *Options) { c.Type = tt.typ })
			idp.SetUser(tt.user)
			id, _, err := login(t, idp, p)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if id.Email != tt.wantEmail || id.EmailVerified != (tt.wantEmail != "") {
				t.Fatalf("email = %q verified %v, want %q", id.Email, id.EmailVerified, tt.wantEmail)
			}
			if tt.wantEmail == "" && id.EmailDomain() != "" {
				t.Fatalf("EmailDomain = %q for an unverified address", id.EmailDomain())
			}
		})
	}
}
