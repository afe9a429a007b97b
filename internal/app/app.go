// Package app wires a gatehouse from its config: providers, the session
// store, the limiter, the bearer verifier, the assertion signer, metrics and
// the Gateway, plus the process logger. `gatehouse serve` and `demo` use it,
// and so does bench/cmd/benchprof, so what is profiled is what ships.
package app

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/bearer"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/jsonlog"
	"github.com/gatehouse-dev/gatehouse/lockout"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/providers"
	"github.com/gatehouse-dev/gatehouse/providers/github"
	"github.com/gatehouse-dev/gatehouse/providers/local"
	"github.com/gatehouse-dev/gatehouse/providers/oidc"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/session"
)

// App is a wired gatehouse: the Gateway and what must be closed after it.
type App struct {
	Gateway *proxy.Gateway
	Metrics *metrics.Metrics
	Local   *local.Provider   // nil without a local provider
	Signer  *assertion.Signer // nil when the assertion is disabled
	closers []func() error
}

// Close releases what Build opened (the Redis client).
func (a *App) Close() {
	for _, c := range a.closers {
		_ = c()
	}
}

// Server is the http.Server in front of a's Gateway, as `gatehouse serve`
// runs it: the configured timeouts and header limit, the per-connection
// session memo (Gateway.ConnContext), and net/http's own errors logged at
// warn.
func (a *App) Server(cfg *config.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           a.Gateway,
		ConnContext:       a.Gateway.ConnContext,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// NewLogger builds the process logger from the log section. Records are
// batched (see bufferedLog); call the returned close function before exit.
// JSON lines are written by internal/jsonlog, byte for byte what
// slog.JSONHandler writes, at a third of the cost for the access line.
func NewLogger(cfg config.Log, w io.Writer) (*slog.Logger, func()) {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.Level))
	buf := newBufferedLog(w, 200*time.Millisecond)
	opts := &slog.HandlerOptions{Level: level}
	closeFn := func() { _ = buf.Close() }
	if strings.EqualFold(cfg.Format, "text") {
		return slog.New(slog.NewTextHandler(buf, opts)), closeFn
	}
	return slog.New(jsonlog.New(buf, opts)), closeFn
}

// Options are what Build takes besides the config.
type Options struct {
	// Upstream, when non-nil, replaces the configured upstreams (the demo).
	Upstream http.Handler
	// Version is reported by the build-info metric.
	Version string
}

// Build wires providers, the session store and the Gateway from cfg.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger, o Options) (*App, error) {
	a := &App{}
	httpClient := &http.Client{Timeout: 15 * time.Second}
	var redirectProviders []providers.Provider
	var localAuth providers.PasswordAuthenticator
	for _, pc := range cfg.Providers {
		switch pc.Type {
		case "oidc", "google":
			p, err := oidc.New(ctx, pc, oidc.Options{Logger: log, HTTPClient: httpClient})
			if err != nil {
				return nil, fmt.Errorf("provider %q: %w", pc.ID, err)
			}
			redirectProviders = append(redirectProviders, p)
		case "github":
			p, err := github.New(pc, github.Options{Logger: log, HTTPClient: httpClient})
			if err != nil {
				return nil, fmt.Errorf("provider %q: %w", pc.ID, err)
			}
			redirectProviders = append(redirectProviders, p)
		case "local":
			if localAuth != nil {
				return nil, fmt.Errorf("provider %q: only one local provider is supported", pc.ID)
			}
			p, err := local.New(pc, local.Options{Logger: log})
			if err != nil {
				return nil, fmt.Errorf("provider %q: %w", pc.ID, err)
			}
			localAuth = p
			a.Local = p
		default:
			return nil, fmt.Errorf("provider %q: type %q is not supported yet", pc.ID, pc.Type)
		}
	}

	sopts := session.Options{Logger: log}
	var store session.Store
	var readyChecks []func(context.Context) error
	limiterOpts := lockout.Options{Logger: log, HashKey: lockoutKey(cfg)}
	var limiter *lockout.Limiter
	switch cfg.Session.Store {
	case "redis":
		// go-redis logs to stderr in plain text by default, between the JSON
		// lines and whatever log.level says.
		redis.SetLogger(redisLogger{log})
		client, err := session.NewRedisClient(cfg.Session.Redis)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		if err := checkRedisCredentials(ctx, client); err != nil {
			client.Close()
			return nil, err
		}
		rs, err := session.NewRedisStore(client, cfg.Session, sopts)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		a.closers = append(a.closers, rs.Close, client.Close) // the store's subscriber before its client
		store = rs
		readyChecks = append(readyChecks, rs.Ping)
		// Login failures are counted in Redis too, so every replica shares them.
		if limiter, err = lockout.NewRedis(client, cfg.Login, limiterOpts); err != nil {
			return nil, fmt.Errorf("login limits: %w", err)
		}
		// And used one-time codes, so a code accepted at one replica is
		// refused at the others.
		if a.Local != nil {
			a.Local.ShareUsedCodes(local.NewRedisSteps(client, limiterOpts.HashKey))
		}
	default:
		cs, err := session.NewCookieStore(cfg.Session, sopts)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		store = cs
	}
	if limiter == nil {
		var err error
		if limiter, err = lockout.NewMemory(cfg.Login, limiterOpts); err != nil {
			return nil, fmt.Errorf("login limits: %w", err)
		}
	}
	states, err := session.NewLoginStates(cfg.Session, sopts)
	if err != nil {
		return nil, fmt.Errorf("login state: %w", err)
	}
	var verifier *bearer.Verifier
	if len(cfg.Bearer.Issuers) > 0 {
		v, err := bearer.New(ctx, cfg.Bearer.Issuers, bearer.Options{HTTPClient: httpClient, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("bearer: %w", err)
		}
		verifier = v
		readyChecks = append(readyChecks, v.Ready)
	}
	var signer *assertion.Signer
	if !cfg.Assertion.Disabled {
		issuer := cfg.Server.PublicURL
		if issuer == "" {
			issuer = "http://" + cfg.Server.Listen
		}
		s, err := assertion.New(cfg.Assertion, issuer, assertion.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("assertion: %w", err)
		}
		signer = s
		a.Signer = s
	}
	a.Metrics = metrics.New()
	a.Metrics.SetBuildInfo(o.Version)
	gw, err := proxy.New(proxy.Options{
		Metrics:     a.Metrics,
		Config:      cfg,
		Sessions:    store,
		LoginStates: states,
		Providers:   redirectProviders,
		Local:       localAuth,
		Logger:      log,
		ReadyChecks: readyChecks,
		Upstream:    o.Upstream,
		Limiter:     limiter,
		Bearer:      verifier,
		Assertion:   signer,
		Hashing:     lockout.NewHashing(cfg.Login.MaxConcurrent),
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Gateway = gw
	return a, nil
}

// redisLogger sends go-redis's own messages (connection pool trouble) to
// gatehouse's log as warnings.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

// checkRedisCredentials fails start-up when Redis refuses gatehouse's
// credentials: unlike an outage, which gatehouse rides out (503 until Redis
// answers), that never heals by itself, and serving would only answer 503
// with the cause buried in per-request errors. An unreachable Redis is not
// an error here.
func checkRedisCredentials(ctx context.Context, client redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := client.Ping(ctx).Err()
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, refusal := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password"} {
		if strings.HasPrefix(msg, refusal) {
			return fmt.Errorf("session store: Redis refused gatehouse's credentials (check session.redis.username, password or password_file, and the user in url): %s", msg)
		}
	}
	return nil
}

// lockoutKey keys the hashes of usernames and IPs in the limiter's Redis key
// names, so a Redis dump cannot be reversed by hashing likely names.
func lockoutKey(cfg *config.Config) []byte {
	if len(cfg.Session.Secrets) == 0 {
		return nil
	}
	sum := sha256.Sum256([]byte("gatehouse lockout keys v1\x00" + cfg.Session.Secrets[0]))
	return sum[:]
}
