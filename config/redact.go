package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// redactedMark replaces every secret in output.
const redactedMark = "REDACTED"

// Redacted returns a copy of c in which session secrets, client secrets,
// the Redis password and any password inside the Redis URL read "REDACTED".
// Secret-bearing parts are copied; other slices and maps are shared with c,
// so treat the copy as read-only like c itself.
func (c *Config) Redacted() *Config {
	if c == nil {
		return nil
	}
	r := *c
	r.Session = c.Session.redacted()
	if c.Providers != nil {
		r.Providers = make([]Provider, len(c.Providers))
		for i, p := range c.Providers {
			r.Providers[i] = p.redacted()
		}
	}
	return &r
}

func (s Session) redacted() Session {
	if s.Secrets != nil {
		secrets := make([]string, len(s.Secrets))
		for i := range secrets {
			secrets[i] = redactedMark
		}
		s.Secrets = secrets
	}
	s.Redis = s.Redis.redacted()
	return s
}

func (p Provider) redacted() Provider {
	p.ClientSecret = mark(p.ClientSecret)
	return p
}

func (r Redis) redacted() Redis {
	r.Password = mark(r.Password)
	r.URL = redactURL(r.URL)
	return r
}

func mark(secret string) string {
	if secret == "" {
		return ""
	}
	return redactedMark
}

// redactURL hides the password in a URL's user information.
func redactURL(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return redactedMark
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redactedMark)
		}
	}
	return u.String()
}

// LogValue logs a summary of c with every secret redacted.
func (c Config) LogValue() slog.Value {
	providers := make([]slog.Attr, len(c.Providers))
	for i, p := range c.Providers {
		providers[i] = slog.Any(fmt.Sprint(i), p)
	}
	return slog.GroupValue(
		slog.String("source", c.Source),
		slog.Group("server",
			slog.String("listen", c.Server.Listen),
			slog.String("public_url", c.Server.PublicURL),
			slog.String("prefix", c.Server.Prefix),
			slog.Any("trusted_proxies", c.Server.TrustedProxies),
		),
		slog.Any("session", c.Session),
		slog.Attr{Key: "providers", Value: slog.GroupValue(providers...)},
		slog.Int("bearer_issuers", len(c.Bearer.Issuers)),
		slog.Int("roles", len(c.Roles)),
		slog.Int("upstreams", len(c.Upstreams)),
		slog.Int("rules", len(c.Rules)),
		slog.String("default", c.Default),
	)
}

// LogValue logs s with its secrets redacted (only their number is shown).
func (s Session) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("store", s.Store),
		slog.Int("secrets", len(s.Secrets)),
		slog.Group("cookie",
			slog.String("name", s.Cookie.Name),
			slog.String("domain", s.Cookie.Domain),
			slog.Bool("secure", s.Cookie.SecureOrDefault()),
			slog.String("same_site", s.Cookie.SameSite),
		),
		slog.Duration("lifetime", s.Lifetime),
		slog.Duration("idle_timeout", s.IdleTimeout),
		slog.Duration("refresh_before", s.Refresh),
	}
	if s.Store == "redis" {
		attrs = append(attrs, slog.Any("redis", s.Redis))
	}
	return slog.GroupValue(attrs...)
}

// LogValue logs p with its client secret redacted.
func (p Provider) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", p.ID),
		slog.String("type", p.Type),
		slog.String("name", p.Name),
		slog.String("issuer", p.Issuer),
		slog.String("client_id", p.ClientID),
		slog.String("client_secret", mark(p.ClientSecret)),
		slog.Any("scopes", p.Scopes),
	)
}

// LogValue logs r with its password (also one inside the URL) redacted.
func (r Redis) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(r.URL)),
		slog.Any("addrs", r.Addrs),
		slog.String("master_name", r.MasterName),
		slog.String("username", r.Username),
		slog.String("password", mark(r.Password)),
		slog.Int("db", r.DB),
	)
}

// Method-less copies, so that formatting a redacted value does not recurse.
type (
	plainSession  Session
	plainProvider Provider
	plainRedis    Redis
)

// String formats s for %v and %+v with its secrets redacted.
func (s Session) String() string { return fmt.Sprintf("%+v", plainSession(s.redacted())) }

// GoString formats s for %#v with its secrets redacted.
func (s Session) GoString() string { return fmt.Sprintf("%#v", plainSession(s.redacted())) }

// MarshalJSON encodes s with its secrets redacted; it is for logs and
// debugging output, not for round trips.
func (s Session) MarshalJSON() ([]byte, error) { return json.Marshal(plainSession(s.redacted())) }

// String formats p for %v and %+v with its client secret redacted.
func (p Provider) String() string { return fmt.Sprintf("%+v", plainProvider(p.redacted())) }

// GoString formats p for %#v with its client secret redacted.
func (p Provider) GoString() string { return fmt.Sprintf("%#v", plainProvider(p.redacted())) }

// MarshalJSON encodes p with its client secret redacted.
func (p Provider) MarshalJSON() ([]byte, error) { return json.Marshal(plainProvider(p.redacted())) }

// String formats r for %v and %+v with its password redacted.
func (r Redis) String() string { return fmt.Sprintf("%+v", plainRedis(r.redacted())) }

// GoString formats r for %#v with its password redacted.
func (r Redis) GoString() string { return fmt.Sprintf("%#v", plainRedis(r.redacted())) }

// MarshalJSON encodes r with its password redacted.
func (r Redis) MarshalJSON() ([]byte, error) { return json.Marshal(plainRedis(r.redacted())) }
