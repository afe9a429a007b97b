// Package oidc is the OpenID Connect login provider, used for generic OIDC
// issuers and (with presets) for Google. Discovery and ID-token verification
// are go-oidc's; the authorization-code exchange, PKCE and refresh are
// x/oauth2's; this package adds what those leave to the caller: the nonce
// check, the azp check for multi-audience tokens, the algorithm allowlist,
// Google's hosted-domain rule, and the mapping of claims to an Identity.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// Provider types handled by this package.
const (
	TypeOIDC   = "oidc"
	TypeGoogle = "google"
	// GoogleIssuer is the default issuer for type google.
	GoogleIssuer = "https://accounts.google.com"
)

// allowedAlgs are the only ID-token signature algorithms ever accepted:
// asymmetric ones. "none" and HS* never are, whatever discovery says.
var allowedAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512,
	gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512,
	gooidc.EdDSA,
}

const (
	discoveryTimeout = 30 * time.Second
	// maxIssuedAtSkew bounds how far in the future an ID token's iat may be.
	maxIssuedAtSkew = 5 * time.Minute
)

// Options are the dependencies of a Provider.
type Options struct {
	// HTTPClient is used for discovery, JWKS, token and userinfo requests
	// (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Now is the clock for ID-token expiry checks (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// TrustedAudiences are audiences besides client_id that an ID token may
	// also carry (OIDC Core §3.1.3.7 step 3); default none, so any extra
	// audience is refused. azp must still equal client_id.
	TrustedAudiences []string
	// RetryMin and RetryMax bound the exponential backoff between discovery
	// attempts after a failed start-up discovery (defaults 1s and 2m).
	RetryMin, RetryMax time.Duration
}

// Provider is an OIDC relying party for one issuer and client. It is safe for
// concurrent use.
type Provider struct {
	id, name, typ, issuer  string
	clientID, clientSecret string
	scopes                 []string
	groupsClaim            string
	trustedAud             []string
	hostedDomain, prompt   string
	client                 *http.Client
	now                    func() time.Time
	log                    *slog.Logger

	mu      sync.RWMutex
	disc    *discovered // nil until discovery succeeds
	discErr error
	ready   chan struct{} // closed when disc is set
}

// discovered is what discovery yields; immutable once built.
type discovered struct {
	op       *gooidc.Provider
	endpoint oauth2.Endpoint
	verifier *gooidc.IDTokenVerifier
	userinfo bool
	issParam bool // authorization_response_iss_parameter_supported (RFC 9207)
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
	_ providers.Issuer    = (*Provider)(nil)
	_ providers.Readier   = (*Provider)(nil)
)

// New builds a Provider for cfg (type oidc or google) and runs discovery.
// A failed discovery does not fail New: it is retried in the background with
// capped exponential backoff until ctx is done, and Ready reports the last
// error meanwhile. go-oidc refuses a discovery document whose issuer differs
// from the configured one (OIDC Discovery §4.3); that refusal is kept.
// New fails only on configuration errors.
func New(ctx context.Context, cfg config.Provider, opts Options) (*Provider, error) {
	p := &Provider{
		id:           cfg.ID,
		name:         cfg.Name,
		typ:          cfg.Type,
		issuer:       cfg.Issuer,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		scopes:       slices.Clone(cfg.Scopes),
		groupsClaim:  cfg.GroupsClaim,
		hostedDomain: cfg.HostedDomain,
		prompt:       cfg.Prompt,
		trustedAud:   slices.Clone(opts.TrustedAudiences),
		client:       opts.HTTPClient,
		now:          opts.Now,
		log:          opts.Logger,
		ready:        make(chan struct{}),
	}
	switch p.typ {
	case "", TypeOIDC:
		p.typ = TypeOIDC
	case TypeGoogle:
		if p.issuer == "" {
			p.issuer = GoogleIssuer
		}
	default:
		return nil, fmt.Errorf("oidc: provider %q: unsupported type %q", cfg.ID, cfg.Type)
	}
	if p.id == "" {
		return nil, errors.New("oidc: provider id is empty")
	}
	if p.clientID == "" {
		return nil, fmt.Errorf("oidc: provider %q: client_id is empty", p.id)
	}
	if u, err := url.Parse(p.issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: provider %q: issuer %q is not an http(s) URL without query or fragment", p.id, p.issuer)
	}
	if len(p.scopes) == 0 {
		p.scopes = []string{gooidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(p.scopes, gooidc.ScopeOpenID) {
		p.scopes = append([]string{gooidc.ScopeOpenID}, p.scopes...)
	}
	if p.groupsClaim == "" {
		p.groupsClaim = "groups"
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 30 * time.Second}
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if err := p.discover(ctx); err != nil {
		p.log.Warn("oidc discovery failed; retrying in the background",
			"provider", p.id, "issuer", p.issuer, "err", err)
		retryMin, retryMax := opts.RetryMin, opts.RetryMax
		if retryMin <= 0 {
			retryMin = time.Second
		}
		if retryMax < retryMin {
			retryMax = max(2*time.Minute, retryMin)
		}
		go p.retry(ctx, retryMin, retryMax)
	}
	return p, nil
}

// discover fetches the discovery document and builds the verifier.
func (p *Provider) discover(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, p.client), discoveryTimeout)
	defer cancel()
	d, err := p.fetch(dctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.discErr = fmt.Errorf("oidc: provider %q: discovery: %w", p.id, err)
		return p.discErr
	}
	if p.disc == nil {
		close(p.ready)
	}
	p.disc, p.discErr = d, nil
	return nil
}

func (p *Provider) fetch(ctx context.Context) (*discovered, error) {
	op, err := gooidc.NewProvider(ctx, p.issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		JWKSURI     string   `json:"jwks_uri"`
		IssParam    bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := op.Claims(&meta); err != nil {
		return nil, err
	}
	ep := op.Endpoint()
	if ep.AuthURL == "" || ep.TokenURL == "" || meta.JWKSURI == "" {
		return nil, errors.New("discovery document lacks authorization_endpoint, token_endpoint or jwks_uri")
	}
	ep.AuthStyle = p.authStyle(meta.AuthMethods)
	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(allowedAlgs, a) && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{gooidc.RS256} // the OIDC default
	}
	verifier := op.Verifier(&gooidc.Config{ClientID: p.clientID, SupportedSigningAlgs: algs, Now: p.now})
	return &discovered{op: op, endpoint: ep, verifier: verifier, userinfo: op.UserInfoEndpoint() != "", issParam: meta.IssParam}, nil
}

// authStyle picks client authentication from discovery, so the code is never
// sent twice (x/oauth2's auto-detection retries with the other style).
func (p *Provider) authStyle(methods []string) oauth2.AuthStyle {
	switch {
	case p.clientSecret == "":
		return oauth2.AuthStyleInParams // public client: client_id in the body
	case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}

func (p *Provider) retry(ctx context.Context, retryMin, retryMax time.Duration) {
	delay := retryMin
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.discover(ctx)
		if err == nil {
			p.log.Info("oidc discovery succeeded", "provider", p.id, "issuer", p.issuer)
			return
		}
		delay = min(2*delay, retryMax)
		jittered := delay - time.Duration(rand.Int64N(int64(delay)/5+1))
		p.log.Warn("oidc discovery failed", "provider", p.id, "issuer", p.issuer, "err", err, "retry_in", jittered)
		t.Reset(jittered)
	}
}

// Ready returns nil once discovery has succeeded; before that, the last
// discovery error, wrapping providers.ErrUnavailable.
func (p *Provider) Ready() error {
	_, err := p.current()
	return err
}

func (p *Provider) current() (*discovered, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.disc != nil {
		return p.disc, nil
	}
	cause := p.discErr
	if cause == nil {
		cause = errors.New("discovery has not completed")
	}
	return nil, fmt.Errorf("%w: %w", providers.ErrUnavailable, cause)
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

// IssuerURL is the configured issuer, for checking RFC 9207's iss parameter.
func (p *Provider) IssuerURL() string { return p.issuer }

// IssuerParameterRequired reports whether the provider's discovery document
// promises the iss parameter on every authorization response (RFC 9207
// §2.4: a client must then refuse a response without it).
func (p *Provider) IssuerParameterRequired() bool {
	d, err := p.current()
	return err == nil && d.issParam
}

func (p *Provider) oauthConfig(d *discovered, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.clientID,
		ClientSecret: p.clientSecret,
		Endpoint:     d.endpoint,
		RedirectURL:  redirectURI,
		Scopes:       p.scopes,
	}
}

// AuthCodeURL returns the authorization URL carrying state, nonce, the S256
// challenge of pkceVerifier, redirect_uri and the scopes (plus hd and prompt
// where configured). It returns "" — which callers must treat as "provider
// unavailable" — before discovery has succeeded (see Ready) or when state,
// nonce or a 43–128 character verifier is missing.
func (p *Provider) AuthCodeURL(state, nonce, pkceVerifier, redirectURI string) string {
	d, err := p.current()
	if err != nil || state == "" || nonce == "" || len(pkceVerifier) < 43 || len(pkceVerifier) > 128 {
		return ""
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkceVerifier), gooidc.Nonce(nonce)}
	if p.typ == TypeGoogle && p.hostedDomain != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", p.hostedDomain))
	}
	if p.prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p.prompt))
	}
	return p.oauthConfig(d, redirectURI).AuthCodeURL(state, opts...)
}
