// Package proxy is gatehouse's HTTP surface: the sign-in endpoints, the
// forward-auth endpoint, and the reverse proxy that passes allowed requests to
// upstreams with identity headers. Authorization itself lives in package
// policy; this package only turns a policy.Decision into a response.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/forwarded"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/bearer"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/csrf"
	"github.com/gatehouse-dev/gatehouse/lockout"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/providers"
	"github.com/gatehouse-dev/gatehouse/redirect"
	"github.com/gatehouse-dev/gatehouse/session"
)

// Options are the parts a Gateway is built from. Everything is passed in; the
// Gateway keeps no package-level state.
type Options struct {
	Config      *config.Config
	Sessions    session.Store
	LoginStates *session.LoginStates
	Providers   []providers.Provider            // redirect logins, in button order
	Local       providers.PasswordAuthenticator // nil when there is no local login
	Logger      *slog.Logger
	Now         func() time.Time
	// ReadyChecks run on /ready besides provider readiness (e.g. Redis ping).
	ReadyChecks []func(context.Context) error
	// Bearer verifies Authorization: Bearer JWTs of API clients; nil when
	// no bearer issuer is configured (the header is then left for the upstream).
	Bearer *bearer.Verifier
	// Assertion signs X-Gatehouse-Assertion; nil disables it.
	Assertion *assertion.Signer
	// Metrics records Prometheus series; nil records nothing.
	Metrics *metrics.Metrics
	// Limiter counts failed local logins per account and per client IP and
	// locks them out; nil disables the limits (tests only).
	Limiter *lockout.Limiter
	// Hashing bounds concurrent password hashing so a burst of logins
	// cannot starve proxied traffic; nil means unbounded.
	Hashing *lockout.Hashing
	// TunnelChecks, when set, replaces the ticker (every
	// tunnelCheckInterval) on which each open WebSocket tunnel checks that
	// its session still exists and is still allowed (tests).
	TunnelChecks <-chan time.Time
	// Upstream, when set, replaces the configured upstreams with one handler
	// (the demo's built-in echo app). Identity headers are set on the request
	// before it is called, exactly as for a proxied request.
	Upstream http.Handler
}

// Gateway is the whole HTTP surface as one http.Handler.
type Gateway struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	state    atomic.Pointer[state]
	csrf     *csrf.Guard
	handler  http.Handler
	provByID map[string]providers.Provider
	draining atomic.Bool
	flights  flights
	ids      *requestIDs
	attrsLog attrsLogger // the logger's handler, when it can write the access line directly
}

// state is everything a config reload replaces at once.
type state struct {
	cfg       *config.Config
	policy    *policy.Policy
	redirects *redirect.Validator
	upstreams *upstreams
	trusted   *forwarded.Trusted
	derived   *deriveCache // identities derived under this state's rules
	prefix    string
	public    publicURL
}

// New builds a Gateway. It validates nothing that config.Validate already
// did, but fails on anything it cannot construct (bad upstream URL, rules).
func New(opts Options) (*Gateway, error) {
	if opts.Config == nil || opts.Sessions == nil || opts.LoginStates == nil {
		return nil, errors.New("proxy: config, sessions and login states are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	guard, err := newCSRF(opts.Config)
	if err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, log: opts.Logger, now: opts.Now, csrf: guard, provByID: map[string]providers.Provider{}, ids: newRequestIDs()}
	g.attrsLog, _ = opts.Logger.Handler().(attrsLogger)
	for _, p := range opts.Providers {
		g.provByID[p.ID()] = p
	}
	if err := g.Reload(opts.Config); err != nil {
		return nil, err
	}
	g.handler = g.routes()
	return g, nil
}

// Reload swaps in a new configuration's rules, roles, upstreams, trusted
// proxies and redirect allowlist atomically; requests in flight finish with
// the old ones. Every other setting keeps its running value until a restart
// (config.Reloadable), and a changed one is logged as waiting for it.
func (g *Gateway) Reload(cfg *config.Config) error {
	if running := g.state.Load(); running != nil {
		merged, restart := config.Reloadable(running.cfg, cfg)
		if len(restart) > 0 {
			g.log.Warn("config reload: these settings changed but need a restart; they keep their running values until then",
				"keys", restart)
		}
		cfg = merged
	}
	st, err := buildState(cfg, g.opts.Upstream)
	if err != nil {
		return err
	}
	g.state.Store(st)
	return nil
}

func buildState(cfg *config.Config, demoUpstream http.Handler) (*state, error) {
	pol, err := policy.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("proxy: rules: %w", err)
	}
	pub, err := parsePublicURL(cfg.Server.PublicURL, cfg.Server.Listen)
	if err != nil {
		return nil, err
	}
	ups, err := newUpstreams(cfg, demoUpstream)
	if err != nil {
		return nil, err
	}
	return &state{
		cfg:       cfg,
		policy:    pol,
		redirects: redirect.New(pub.String(), cfg.Server.AllowedRedirectDomains),
		upstreams: ups,
		trusted:   forwarded.New(cfg.Server.TrustedPrefixes),
		derived:   newDeriveCache(pol),
		prefix:    cfg.Server.Prefix,
		public:    pub,
	}, nil
}

// Drain makes /ready fail so load balancers stop sending new requests; used
// at the start of a graceful shutdown.
func (g *Gateway) Drain() { g.draining.Store(true) }

// ConnContext is for http.Server.ConnContext: each client connection gets
// the session store's per-connection memo (session.WithConnMemo), so the
// requests of a keep-alive connection that repeat its Cookie header skip
// finding and looking up the session again.
func (g *Gateway) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return session.WithConnMemo(ctx)
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.handler.ServeHTTP(w, r)
}
