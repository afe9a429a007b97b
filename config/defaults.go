package config

import (
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Default values, applied by SetDefaults to zero-valued fields.
const (
	DefaultListen            = "127.0.0.1:4180"
	DefaultPrefix            = "/oauth2"
	DefaultAppName           = "Gatehouse"
	DefaultCookieName        = "_gatehouse"
	DefaultGroupsClaim       = "groups"
	DefaultGoogleIssuer      = "https://accounts.google.com"
	DefaultGitHubAuthURL     = "https://github.com/login/oauth/authorize"
	DefaultGitHubTokenURL    = "https://github.com/login/oauth/access_token"
	DefaultGitHubAPIURL      = "https://api.github.com"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultUpstreamTimeout   = 60 * time.Second
	DefaultShutdownTimeout   = 20 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultLifetime          = 168 * time.Hour
	DefaultRefreshBefore     = 5 * time.Minute
	DefaultAssertionTTL      = 5 * time.Minute
	DefaultMaxFailures       = 5
	DefaultLoginWindow       = 15 * time.Minute
	DefaultLockout           = 15 * time.Minute
	// DefaultRedisLocalCache bounds how long a replica may reuse a session
	// read from Redis (session.redis.local_cache); see Redis.LocalCache.
	DefaultRedisLocalCache = 2 * time.Second
)

// SetDefaults fills every unset (zero) field that has a default. Parse calls
// it; call it yourself on a Config built in code (or use Complete). It reads
// no files and no environment. Cookie.Secure is left nil, which
// Cookie.SecureOrDefault treats as true.
func (c *Config) SetDefaults() {
	s := &c.Server
	setString(&s.Listen, DefaultListen)
	setString(&s.Prefix, DefaultPrefix)
	setString(&s.AppName, DefaultAppName)
	setDuration(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDuration(&s.ReadTimeout, DefaultReadTimeout)
	setDuration(&s.IdleTimeout, DefaultIdleTimeout)
	setDuration(&s.UpstreamTimeout, DefaultUpstreamTimeout)
	setDuration(&s.ShutdownTimeout, DefaultShutdownTimeout)
	if s.MaxHeaderBytes == 0 {
		s.MaxHeaderBytes = DefaultMaxHeaderBytes
	}

	ss := &c.Session
	setString(&ss.Store, "cookie")
	setString(&ss.Cookie.Name, DefaultCookieName)
	setString(&ss.Cookie.SameSite, "lax")
	setDuration(&ss.Lifetime, DefaultLifetime)
	setDuration(&ss.Refresh, DefaultRefreshBefore)

	for i := range c.Providers {
		c.Providers[i].setDefaults()
	}
	for i := range c.Bearer.Issuers {
		b := &c.Bearer.Issuers[i]
		if len(b.Algorithms) == 0 {
			b.Algorithms = []string{"RS256", "ES256"}
		}
		setString(&b.GroupsClaim, DefaultGroupsClaim)
	}
	for i := range c.Upstreams {
		setString(&c.Upstreams[i].Path, "/")
	}
	for i := range c.Rules {
		setString(&c.Rules[i].Name, fmt.Sprintf("rule[%d]", i))
	}
	setString(&c.Default, "deny")
	setDuration(&c.Assertion.TTL, DefaultAssertionTTL)
	setString(&c.Log.Level, "info")
	setString(&c.Log.Format, "json")

	l := &c.Login
	if l.MaxFailures == 0 {
		l.MaxFailures = DefaultMaxFailures
	}
	setDuration(&l.Window, DefaultLoginWindow)
	setDuration(&l.Lockout, DefaultLockout)
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = 2 * runtime.NumCPU()
	}
}

// setDefaults fills a provider's defaults, which depend on its type.
func (p *Provider) setDefaults() {
	setString(&p.Name, DefaultProviderName(p.ID, p.Type))
	switch p.Type {
	case "oidc", "google":
		setString(&p.GroupsClaim, DefaultGroupsClaim)
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"openid", "email", "profile"}
		}
		if p.Type == "google" {
			setString(&p.Issuer, DefaultGoogleIssuer)
		}
	case "github":
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"read:user", "user:email", "read:org"}
		}
		setString(&p.AuthURL, DefaultGitHubAuthURL)
		setString(&p.TokenURL, DefaultGitHubTokenURL)
		setString(&p.APIURL, DefaultGitHubAPIURL)
	case "local":
		setString(&p.TOTP, "optional")
	}
}

// DefaultProviderName is a provider's name when the config gives none: its id
// title-cased for its button ("corp-sso" becomes "Corp Sso"; the id "github"
// of a github provider becomes "GitHub").
func DefaultProviderName(id, typ string) string {
	if id == "github" && typ == "github" {
		return "GitHub"
	}
	words := strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' })
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(words, " ")
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDuration(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}
