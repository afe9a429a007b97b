package github

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/providers"
)

const redirectURI = "https://gw.example.com/oauth2/callback"

// setup starts a fake GitHub and a Provider for it (GitHub Enterprise style
// URLs); mod may adjust the config.
func setup(t *testing.T, mod func(*config.Provider)) (*fakeGitHub, *Provider) {
	t.Helper()
	f := newFakeGitHub(t)
	cfg := config.Provider{
		ID:           "github",
		Type:         Type,
		ClientID:     f.clientID,
		ClientSecret: f.clientSecret,
		AuthURL:      f.srv.URL + "/login/oauth/authorize",
		TokenURL:     f.srv.URL + "/login/oauth/access_token",
		APIURL:       f.srv.URL + "/api/v3",
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg, Options{HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f, p
}

type flow struct{ state, nonce, verifier string }

func newFlow() flow {
	return flow{state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), verifier: oauth2.GenerateVerifier()}
}

// authorize plays the browser at the fake's authorize endpoint and returns
// the code from the callback, after checking the state came back.
func authorize(t *testing.T, f *fakeGitHub, p *Provider, fl flow) string {
	t.Helper()
	u := p.AuthCodeURL(fl.state, fl.nonce, fl.verifier, redirectURI)
	if u == "" {
		t.Fatal("AuthCodeURL returned \"\"")
	}
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	cb, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authorize answered %d (%v)", resp.StatusCode, err)
	}
	if got := cb.Query().Get("state"); got != fl.state {
		t.Fatalf("state = %q, want %q", got, fl.state)
	}
	return cb.Query().Get("code")
}

// login runs a whole login through Exchange; on error it checks that no
// identity or token came back with it.
func login(t *testing.T, f *fakeGitHub, p *Provider) (*identity.Identity, error) {
	t.Helper()
	fl := newFlow()
	code := authorize(t, f, p, fl)
	id, tok, err := p.Exchange(t.Context(), code, fl.verifier, fl.nonce, redirectURI)
	if err != nil && (id != nil || tok != nil) {
		t.Fatalf("Exchange returned an identity or token with error %v: %+v", err, id)
	}
	if err == nil && (tok == nil || !strings.HasPrefix(tok.AccessToken, "gho_")) {
		t.Fatalf("token = %+v", tok)
	}
	return id, err
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := config.Provider{ID: "gh", Type: Type, ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name string
		mod  func(*config.Provider)
	}{
		{"no id", func(c *config.Provider) { c.ID = "" }},
		{"no client id", func(c *config.Provider) { c.ClientID = "" }},
		{"wrong type", func(c *config.Provider) { c.Type = "oidc" }},
		{"api url not http", func(c *config.Provider) { c.APIURL = "ftp://ghe.example.com/api/v3" }},
		{"api url without host", func(c *config.Provider) { c.APIURL = "/api/v3" }},
		{"api url with credentials", func(c *config.Provider) { c.APIURL = "https://u:p@ghe.example.com/api/v3" }},
		{"token url with query", func(c *config.Provider) { c.TokenURL = "https://ghe.example.com/token?x=1" }},
		{"auth url not a URL", func(c *config.Provider) { c.AuthURL = "https://ghe example com" }},
		{"team without org", func(c *config.Provider) { c.Teams = []string{"ops"} }},
		{"team with empty slug", func(c *config.Provider) { c.Teams = []string{"acme/"} }},
		{"org with slash", func(c *config.Provider) { c.Orgs = []string{"acme/ops"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			if _, err := New(cfg, Options{}); err == nil {
				t.Fatal("New succeeded, want a configuration error")
			}
		})
	}
	if _, err := New(ok, Options{}); err != nil {
		t.Fatalf("New(valid): %v", err)
	}
}

func TestDefaults(t *testing.T) {
	p, err := New(config.Provider{ID: "gh", ClientID: "c", ClientSecret: "s"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID() != "gh" || p.DisplayName() != "gh" {
		t.Errorf("ID/DisplayName = %q/%q", p.ID(), p.DisplayName())
	}
	if p.oauth.Endpoint.AuthURL != config.DefaultGitHubAuthURL || p.oauth.Endpoint.TokenURL != config.DefaultGitHubTokenURL ||
		p.api.String() != config.DefaultGitHubAPIURL {
		t.Errorf("endpoints %+v api %s", p.oauth.Endpoint, p.api)
	}
	if !slices.Equal(p.oauth.Scopes, []string{"read:user", "user:email", "read:org"}) {
		t.Errorf("scopes %v", p.oauth.Scopes)
	}
	p, err = New(config.Provider{ID: "gh", Name: "GitHub", ClientID: "c", APIURL: "https://ghe.example.com/api/v3/"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DisplayName() != "GitHub" || p.endpoint("/user", nil).String() != "https://ghe.example.com/api/v3/user" {
		t.Errorf("DisplayName %q, /user at %s", p.DisplayName(), p.endpoint("/user", nil))
	}
}

func TestAuthCodeURL(t *testing.T) {
	f, p := setup(t, func(c *config.Provider) { c.Scopes = []string{"read:user", "user:email"} })
	fl := newFlow()
	u, err := url.Parse(p.AuthCodeURL(fl.state, fl.nonce, fl.verifier, redirectURI))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != f.srv.URL+"/login/oauth/authorize" {
		t.Errorf("endpoint = %s", got)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(fl.verifier))
	want := map[string]string{
		"response_type":         "code",
		"client_id":             f.clientID,
		"redirect_uri":          redirectURI,
		"scope":                 "read:user user:email",
		"state":                 fl.state,
		"code_challenge_method": "S256",
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Has("nonce") || q.Has("code_verifier") || strings.Contains(u.String(), fl.verifier) ||
		strings.Contains(u.String(), f.clientSecret) {
		t.Errorf("auth URL carries the nonce, the verifier or the secret: %s", u)
	}
	for name, args := range map[string][2]string{
		"no state":       {"", fl.verifier},
		"short verifier": {fl.state, "short"},
		"no verifier":    {fl.state, ""},
	} {
		if got := p.AuthCodeURL(args[0], fl.nonce, args[1], redirectURI); got != "" {
			t.Errorf("%s: AuthCodeURL = %q, want \"\"", name, got)
		}
	}
}

func TestLoginRestrictions(t *testing.T) {
	allGroups := []string{"Acme", "globex", "initech", "Acme/ops", "acme/dev", "globex/infra"}
	tests := []struct {
		name    string
		orgs    []string
		teams   []string
		rootAPI bool // api_url at the server root, api.github.com style
		wantErr error
	}{
		{name: "no restriction", wantErr: nil},
		{name: "allowed org, case-insensitive", orgs: []string{"ACME"}},
		{name: "allowed org on the second page", orgs: []string{"initech"}},
		{name: "allowed team", teams: []string{"acme/ops"}},
		{name: "allowed team on the second page", teams: []string{"Globex/Infra"}},
		{name: "org or team: team suffices", orgs: []string{"umbrella"}, teams: []string{"acme/dev"}},
		{name: "org or team: org suffices", orgs: []string{"globex"}, teams: []string{"umbrella/ops"}},
		{name: "api at the root", orgs: []string{"acme"}, rootAPI: true},
		{name: "other org", orgs: []string{"umbrella"}, wantErr: providers.ErrDenied},
		{name: "other team in a member org", teams: []string{"acme/admins"}, wantErr: providers.ErrDenied},
		{name: "team name is not an org", orgs: []string{"ops"}, wantErr: providers.ErrDenied},
		{name: "neither", orgs: []string{"umbrella"}, teams: []string{"umbrella/ops"}, wantErr: providers.ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := setup(t, func(c *config.Provider) {
				c.Orgs, c.Teams = tt.orgs, tt.teams
				if tt.rootAPI {
					c.APIURL = strings.TrimSuffix(c.APIURL, "/api/v3")
				}
			})
			id, err := login(t, f, p)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := identity.Identity{Provider: "github", Subject: "4242", User: "Octo-Cat", PreferredUsername: "Octo-Cat",
				Name: "Octo Cat", Email: "octo@acme.example", EmailVerified: true}
			got := *id
			got.Groups = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("identity = %+v, want %+v", got, want)
			}
			if !slices.Equal(id.Groups, allGroups) {
				t.Errorf("groups = %q, want %q", id.Groups, allGroups)
			}
		})
	}
}

// TestSubjectIsTheNumericID: a renamed account whose old login was taken by
// someone else must not become the other person.
func TestSubjectIsTheNumericID(t *testing.T) {
	f, p := setup(t, nil)
	first, err := login(t, f, p)
	if err != nil {
		t.Fatal(err)
	}
	u := defaultUser()
	u.ID = 999
	f.setUser(u) // same login, different account
	second, err := login(t, f, p)
	if err != nil {
		t.Fatal(err)
	}
	if first.Subject != "4242" || second.Subject != "999" || first.User != second.User {
		t.Fatalf("subjects %q and %q for login %q", first.Subject, second.Subject, first.User)
	}
}

func TestEmail(t *testing.T) {
	tests := []struct {
		name   string
		emails []ghEmail
		want   string
	}{
		{"primary and verified", []ghEmail{{"a@x.example", false, true}, {"b@x.example", true, true}}, "b@x.example"},
		{"primary unverified, another verified", []ghEmail{{"a@x.example", true, false}, {"b@x.example", false, true}}, ""},
		{"verified but none primary", []ghEmail{{"a@x.example", false, true}}, ""},
		{"no emails", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := setup(t, nil)
			u := defaultUser()
			u.Emails = tt.emails
			f.setUser(u)
			id, err := login(t, f, p)
			if err != nil {
				t.Fatal(err)
			}
			if id.Email != tt.want || id.EmailVerified != (tt.want != "") || id.EmailDomain() != domainOf(tt.want) {
				t.Fatalf("email = %q verified %v, want %q", id.Email, id.EmailVerified, tt.want)
			}
		})
	}
}

func domainOf(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}
