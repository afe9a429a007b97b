// Package github is the GitHub (and GitHub Enterprise) login provider. GitHub
// is OAuth2-only: there is no ID token, so the identity comes from the REST
// API (/user, /user/emails, /user/orgs, /user/teams) called with the access
// token obtained through x/oauth2's authorization-code exchange with PKCE.
//
// Security contracts:
//   - The login transaction is protected by state (checked by the caller) and
//     PKCE (S256; GitHub verifies code_verifier). GitHub has no ID token, so
//     the nonce the caller passes is not sent and not checked.
//   - Subject is GitHub's numeric user id, which is never reassigned; the
//     login (which can be renamed and then claimed by someone else) is only
//     the display user name.
//   - Email is set only from the address GitHub marks primary and verified.
//   - An identity is returned only when every API call (every page) succeeded;
//     any failure returns an error and no identity, never a partial one.
//   - The access token is sent only to api_url: API redirects are not
//     followed, and pagination links to another scheme, host or path are
//     refused (an error, not a truncated list).
//
// Groups are the organisation logins from /user/orgs and "org/team-slug" for
// each team from /user/teams, spelled as GitHub returns them (rules match
// groups exactly); the orgs/teams restrictions compare case-insensitively.
// An organisation with OAuth app access restrictions may have to approve the
// app before GitHub shows its memberships and teams to it; until then its
// members are refused by an orgs/teams restriction.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// Type is the config provider type handled by this package.
const Type = "github"

// ErrAPI is wrapped by errors for GitHub API answers that are neither a
// success nor a recognised outage: an unexpected status, a malformed or
// oversized body, a pagination link outside api_url, or too many pages.
var ErrAPI = errors.New("github: unexpected API response")

// defaultScopes are requested when the config lists none: the profile, the
// email addresses, and organisation and team memberships.
var defaultScopes = []string{"read:user", "user:email", "read:org"}

// Options are the dependencies of a Provider.
type Options struct {
	// HTTPClient is used for the token endpoint and the REST API (default: a
	// client with a 30s timeout). Its redirects are never followed for API
	// calls.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Provider logs users in with GitHub. It holds no mutable state and is safe
// for concurrent use.
type Provider struct {
	id, name string
	oauth    oauth2.Config // RedirectURL is set per call on a copy
	api      *url.URL      // API base, without a trailing slash
	orgs     []string      // lower-cased
	teams    []string      // lower-cased "org/team-slug"
	// tokenClient asks the token endpoint for JSON; apiClient never
	// follows redirects, so the token goes only where api_url says.
	tokenClient, apiClient *http.Client
	log                    *slog.Logger
}

var _ providers.Provider = (*Provider)(nil)

// New builds a Provider for cfg (type github). Empty auth_url, token_url
// and api_url default to github.com's; GitHub Enterprise sets all three
// (api_url is then https://HOST/api/v3). Empty scopes default to read:user,
// user:email and read:org (needed for private memberships and teams).
//
// Restrictions: when orgs is set the user must belong to one of them; when
// teams ("org/team-slug") is set the user must belong to one of them; when
// both are set, belonging to a listed org or to a listed team suffices
// (they are alternatives, like every allow list in gatehouse). Comparisons
// are case-insensitive. New fails only on configuration errors.
func New(cfg config.Provider, opts Options) (*Provider, error) {
	if cfg.Type != "" && cfg.Type != Type {
		return nil, fmt.Errorf("github: provider %q: unsupported type %q", cfg.ID, cfg.Type)
	}
	if cfg.ID == "" {
		return nil, errors.New("github: provider id is empty")
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("github: provider %q: client_id is empty", cfg.ID)
	}
	p := &Provider{id: cfg.ID, name: cfg.Name, log: opts.Logger}
	urls := []struct {
		key      string
		val, def string
	}{
		{"auth_url", cfg.AuthURL, config.DefaultGitHubAuthURL},
		{"token_url", cfg.TokenURL, config.DefaultGitHubTokenURL},
		{"api_url", cfg.APIURL, config.DefaultGitHubAPIURL},
	}
	parsed := make([]*url.URL, len(urls))
	for i, u := range urls {
		if u.val == "" {
			u.val = u.def
		}
		pu, err := url.Parse(u.val)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.User != nil ||
			pu.RawQuery != "" || pu.Fragment != "" {
			return nil, fmt.Errorf("github: provider %q: %s %q is not an http(s) URL without credentials, query or fragment", p.id, u.key, u.val)
		}
		parsed[i] = pu
	}
	p.api = parsed[2]
	p.api.Path = strings.TrimRight(p.api.Path, "/")
	p.api.RawPath = ""
	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = slices.Clone(defaultScopes)
	}
	p.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  parsed[0].String(),
			TokenURL: parsed[1].String(),
			// GitHub documents client_id and client_secret as body
			// parameters; a fixed style also means the code is sent once.
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: scopes,
	}
	for _, o := range cfg.Orgs {
		if o == "" || strings.Contains(o, "/") {
			return nil, fmt.Errorf("github: provider %q: org %q is not an organisation login", p.id, o)
		}
		p.orgs = append(p.orgs, strings.ToLower(o))
	}
	for _, t := range cfg.Teams {
		org, team, ok := strings.Cut(t, "/")
		if !ok || org == "" || team == "" || strings.Contains(team, "/") {
			return nil, fmt.Errorf("github: provider %q: team %q is not org/team-slug", p.id, t)
		}
		p.teams = append(p.teams, strings.ToLower(t))
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	p.tokenClient = withAcceptJSON(client)
	api := *client
	api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.apiClient = &api
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// ID is the configured provider ID.
func (p *Provider) ID() string { return p.id }

// DisplayName is the configured name, or the ID.
func (p *Provider) DisplayName() string {
	if p.name != "" {
		return p.name
	}
	return p.id
}

// AuthCodeURL returns GitHub's authorization URL with client_id,
// redirect_uri, the scopes, state and the S256 challenge of pkceVerifier.
// nonce is ignored: GitHub is OAuth2-only and has no ID token to carry it;
// state (checked by the caller) and PKCE protect the flow. It returns "",
// which callers must treat as "provider unavailable", when state or a
// 43–128 character verifier is missing.
func (p *Provider) AuthCodeURL(state, _ /* nonce */, pkceVerifier, redirectURI string) string {
	if state == "" || !validVerifier(pkceVerifier) {
		return ""
	}
	c := p.oauth
	c.RedirectURL = redirectURI
	return c.AuthCodeURL(state, oauth2.S256ChallengeOption(pkceVerifier))
}

// Exchange redeems code with the PKCE verifier at the token endpoint
// (x/oauth2) and builds the identity from the REST API. nonce is ignored (see
// AuthCodeURL). Errors: a code, verifier or client the token endpoint
// refuses — including GitHub's HTTP 200 answers carrying
// error=bad_verification_code — wrap providers.ErrInvalidToken; a user
// outside the configured orgs/teams wraps providers.ErrDenied; an
// unreachable GitHub, a 5xx or a rate limit wraps providers.ErrUnavailable;
// other unexpected API answers wrap ErrAPI. On error the identity and token
// are nil.
func (p *Provider) Exchange(ctx context.Context, code, pkceVerifier, _ /* nonce */, redirectURI string) (*identity.Identity, *oauth2.Token, error) {
	if code == "" || !validVerifier(pkceVerifier) {
		return nil, nil, fmt.Errorf("%w: github %q: exchange without a code or PKCE verifier", providers.ErrInvalidToken, p.id)
	}
	c := p.oauth
	c.RedirectURL = redirectURI
	tctx := context.WithValue(ctx, oauth2.HTTPClient, p.tokenClient)
	tok, err := c.Exchange(tctx, code, oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		return nil, nil, p.tokenError(err)
	}
	id, err := p.identify(ctx, tok.AccessToken)
	if err != nil {
		return nil, nil, err
	}
	id.Expiry = tok.Expiry // zero for OAuth app tokens, which do not expire
	return id, tok, nil
}

// tokenError classifies a token-endpoint failure.
func (p *Provider) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Transport failures, and 2xx bodies x/oauth2 could not use.
		return fmt.Errorf("%w: github %q: token endpoint: %w", providers.ErrUnavailable, p.id, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		return fmt.Errorf("%w: github %q: token endpoint answered %d", providers.ErrUnavailable, p.id, status)
	case re.ErrorCode != "" || (status >= 400 && status < 500):
		// GitHub answers 200 with error=bad_verification_code (also
		// incorrect_client_credentials, redirect_uri_mismatch, ...).
		return fmt.Errorf("%w: github %q: token endpoint refused the code: %d %q", providers.ErrInvalidToken, p.id, status, re.ErrorCode)
	}
	return fmt.Errorf("%w: github %q: token endpoint answered %d", providers.ErrUnavailable, p.id, status)
}

// withAcceptJSON is client with Accept: application/json on every request,
// so GitHub's token endpoint answers JSON instead of a form-encoded body.
func withAcceptJSON(client *http.Client) *http.Client {
	c := *client
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = acceptJSON{next: next}
	return &c
}

type acceptJSON struct{ next http.RoundTripper }

func (a acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "application/json")
	return a.next.RoundTrip(r)
}

// validVerifier checks RFC 7636 §4.1's length; the characters are the
// caller's (oauth2.GenerateVerifier) business.
func validVerifier(v string) bool { return len(v) >= 43 && len(v) <= 128 }
