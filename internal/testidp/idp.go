// Package testidp is an in-process OpenID Connect provider for tests. It runs
// on httptest, signs real JWTs with go-jose, enforces PKCE (S256 only),
// single-use codes and client authentication, and can be told to misbehave
// (wrong nonce, wrong audience, alg none, unknown key, revoked refresh
// tokens, discovery outage, ...) so that relying-party code can prove it
// refuses each fault.
//
// It is test infrastructure: it trusts its caller, auto-approves every
// authorization request as the currently configured user, and keeps all state
// in memory. All methods are safe for concurrent use.
package testidp

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// Claims describe the user the IdP logs in. Extra is merged into the ID token
// and userinfo last, so it can override any standard claim (for example
// Extra: {"email_verified": "true"} to send the string form).
type Claims struct {
	Subject           string
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Name              string
	Groups            []string
	HostedDomain      string // Google's "hd" claim
	Extra             map[string]any
}

// Faults are misbehaviour switches. The zero value is a correct IdP.
type Faults struct {
	WrongNonce          bool   // ID token nonce differs from the one requested
	OmitNonce           bool   // ID token has no nonce claim
	WrongAudience       bool   // aud = "other-client" only
	ExtraAudience       bool   // aud = [client_id, "untrusted-client"]
	AZP                 string // azp claim value; "" omits the claim
	Expired             bool   // exp ten minutes in the past
	IssuedInFuture      bool   // iat one hour in the future
	AlgNone             bool   // unsigned token, header alg "none"
	HS256WithPublicKey  bool   // HMAC-SHA256 keyed with the public key's PEM bytes
	UnknownKID          bool   // signed with a key that is not in the JWKS
	IssuerTrailingSlash bool   // iss claim = issuer + "/"
	OmitIDToken         bool   // token responses carry no id_token
	EmailOnlyInUserinfo bool   // ID token without email/email_verified; userinfo has them
	UserinfoWrongSub    bool   // userinfo answers with a different sub
	RefreshNewSubject   bool   // refreshed ID tokens carry a different sub
	DiscoveryDown       bool   // discovery answers 500
	JWKSDown            bool   // the JWKS endpoint answers 503
	TokenDown           bool   // the token endpoint answers 503 (counted as a token request)
	DiscoveryIssuer     string // discovery document advertises this issuer instead
}

// IDP is a running test identity provider.
type IDP struct {
	srv          *httptest.Server
	clientID     string
	clientSecret string
	redirectURIs []string
	alg          string
	advertised   []string
	authMethods  []string
	now          func() time.Time
	ttl          time.Duration
	useTLS       bool

	mu            sync.Mutex
	user          Claims
	faults        Faults
	keys          *keyring
	codes         map[string]*grant
	refresh       map[string]*grant
	access        map[string]*grant
	lastAuthorize url.Values
	tokenRequests int
	userinfoCalls int
}

// grant is what an authorization code, refresh or access token stands for.
type grant struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	user        Claims
	expires     time.Time
}

// Option configures New.
type Option func(*IDP)

// WithClient sets the one registered client (default "gatehouse" /
// "gatehouse-secret").
func WithClient(id, secret string) Option {
	return func(i *IDP) { i.clientID, i.clientSecret = id, secret }
}

// WithRedirectURI registers redirect URIs. When none are registered any
// redirect_uri is accepted at /authorize, but /token still requires the same
// value that /authorize saw.
func WithRedirectURI(uris ...string) Option {
	return func(i *IDP) { i.redirectURIs = append(i.redirectURIs, uris...) }
}

// WithES256 signs with an ECDSA P-256 key instead of RSA (RS256).
func WithES256() Option { return func(i *IDP) { i.alg = "ES256" } }

// WithAdvertisedAlgs overrides id_token_signing_alg_values_supported in the
// discovery document (default: the signing algorithm).
func WithAdvertisedAlgs(algs ...string) Option {
	return func(i *IDP) { i.advertised = algs }
}

// WithAuthMethods overrides token_endpoint_auth_methods_supported (default
// client_secret_basic and client_secret_post; both are always accepted).
func WithAuthMethods(methods ...string) Option {
	return func(i *IDP) { i.authMethods = methods }
}

// WithClock sets the clock used for iat/exp and code expiry.
func WithClock(now func() time.Time) Option { return func(i *IDP) { i.now = now } }

// WithTokenTTL sets the lifetime of access and ID tokens (default 1h).
func WithTokenTTL(d time.Duration) Option { return func(i *IDP) { i.ttl = d } }

// WithTLS serves over HTTPS; use Client() to trust the certificate.
func WithTLS() Option { return func(i *IDP) { i.useTLS = true } }

// DefaultUser is the user an IDP logs in until SetUser is called.
func DefaultUser() Claims {
	return Claims{
		Subject:           "user-0001",
		Email:             "alice@example.com",
		EmailVerified:     true,
		PreferredUsername: "alice",
		Name:              "Alice Example",
		Groups:            []string{"dev"},
	}
}

// New starts an IDP and closes it when the test ends.
func New(t testing.TB, opts ...Option) *IDP {
	t.Helper()
	i := &IDP{
		clientID:     "gatehouse",
		clientSecret: "gatehouse-secret",
		alg:          "RS256",
		authMethods:  []string{"client_secret_basic", "client_secret_post"},
		now:          time.Now,
		ttl:          time.Hour,
		user:         DefaultUser(),
		codes:        map[string]*grant{},
		refresh:      map[string]*grant{},
		access:       map[string]*grant{},
	}
	for _, o := range opts {
		o(i)
	}
	keys, err := newKeyring(i.alg)
	if err != nil {
		t.Fatalf("testidp: %v", err)
	}
	i.keys = keys
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /jwks", i.jwks)
	mux.HandleFunc("GET /authorize", i.authorize)
	mux.HandleFunc("POST /token", i.token)
	mux.HandleFunc("GET /userinfo", i.userinfo)
	mux.HandleFunc("POST /userinfo", i.userinfo)
	if i.useTLS {
		i.srv = httptest.NewTLSServer(mux)
	} else {
		i.srv = httptest.NewServer(mux)
	}
	t.Cleanup(i.srv.Close)
	return i
}

// URL is the server's base URL.
func (i *IDP) URL() string { return i.srv.URL }

// Issuer is the issuer identifier (equal to URL, no trailing slash).
func (i *IDP) Issuer() string { return i.srv.URL }

// ClientID is the registered client's ID.
func (i *IDP) ClientID() string { return i.clientID }

// ClientSecret is the registered client's secret.
func (i *IDP) ClientSecret() string { return i.clientSecret }

// Client is an HTTP client that trusts the server (needed WithTLS).
func (i *IDP) Client() *http.Client { return i.srv.Client() }

// SetUser changes the user that /authorize logs in from now on.
func (i *IDP) SetUser(c Claims) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.user = cloneClaims(c)
}

// User returns the currently configured user.
func (i *IDP) User() Claims {
	i.mu.Lock()
	defer i.mu.Unlock()
	return cloneClaims(i.user)
}

// SetFaults replaces the misbehaviour switches; SetFaults(Faults{}) heals.
func (i *IDP) SetFaults(f Faults) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.faults = f
}

// RotateKey makes a fresh key the signing key and removes the old one from
// the JWKS, so tokens signed before the rotation no longer verify once a
// client refetches the key set.
func (i *IDP) RotateKey() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.keys.rotate(); err != nil {
		panic("testidp: rotate key: " + err.Error())
	}
}

// RevokeRefreshTokens revokes every refresh token issued so far; refreshing
// with one then fails with 400 invalid_grant.
func (i *IDP) RevokeRefreshTokens() {
	i.mu.Lock()
	defer i.mu.Unlock()
	clear(i.refresh)
}

// TokenRequests counts requests to the token endpoint (any outcome).
func (i *IDP) TokenRequests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.tokenRequests
}

// UserinfoRequests counts requests to the userinfo endpoint.
func (i *IDP) UserinfoRequests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.userinfoCalls
}

// LastAuthorize returns the query of the most recent /authorize request.
func (i *IDP) LastAuthorize() url.Values {
	i.mu.Lock()
	defer i.mu.Unlock()
	v := url.Values{}
	for k, vs := range i.lastAuthorize {
		v[k] = slices.Clone(vs)
	}
	return v
}

// Authorize plays the browser: it GETs authURL (which must point at this
// IdP's /authorize) without following redirects and returns the redirect
// target, normally redirect_uri?code=...&state=...&iss=....
func (i *IDP) Authorize(authURL string) (*url.URL, error) {
	c := *i.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, &StatusError{Code: resp.StatusCode}
	}
	return resp.Location()
}

// StatusError is returned by Authorize when /authorize did not redirect.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return "testidp: authorize answered " + http.StatusText(e.Code)
}

func (i *IDP) validRedirect(uri string) bool {
	if len(i.redirectURIs) == 0 {
		u, err := url.Parse(uri)
		return err == nil && u.IsAbs() && u.Fragment == ""
	}
	return slices.Contains(i.redirectURIs, uri)
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func cloneClaims(c Claims) Claims {
	c.Groups = slices.Clone(c.Groups)
	if c.Extra != nil {
		extra := make(map[string]any, len(c.Extra))
		for k, v := range c.Extra {
			extra[k] = v
		}
		c.Extra = extra
	}
	return c
}
