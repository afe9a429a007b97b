package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MinSecretBytes is the shortest session secret accepted.
const MinSecretBytes = 32

// Validate reports every problem with c, each with its YAML path and, for a
// Config from Parse, its file and line. It expects defaults to have been
// applied (SetDefaults). Validate performs no I/O, reads no environment and
// does not modify c; in particular it does not read *_file secrets (only
// Parse and Load do), so a Config built in code must carry its secrets
// inline. It returns nil when c is valid.
func (c *Config) Validate() Problems {
	v := &checker{c: c}
	v.server()
	v.session()
	v.providers()
	v.bearer()
	v.roles()
	v.rules()
	v.upstreams()
	v.rest()
	if len(v.ps) == 0 {
		return nil
	}
	return v.ps
}

// Complete prepares a Config built in code as Parse prepares a file: it
// applies defaults, validates, and when c is valid normalises it (lower-cases
// host names, strips public_url's trailing slash, fills
// Server.TrustedPrefixes). It returns Problems, or nil.
func (c *Config) Complete() error {
	c.SetDefaults()
	if ps := c.Validate(); len(ps) > 0 {
		return ps
	}
	c.normalize()
	return nil
}

// checker collects problems.
type checker struct {
	c  *Config
	ps Problems
}

func (v *checker) add(key, format string, args ...any) {
	v.ps = append(v.ps, v.c.problem(key, fmt.Sprintf(format, args...)))
}

func (v *checker) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be a positive duration")
	}
}

func (v *checker) nonNegative(key string, d time.Duration) {
	if d < 0 {
		v.add(key, "must not be negative")
	}
}

func (v *checker) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.add(key, "must be one of %s, not %q", strings.Join(allowed, ", "), val)
}

func (v *checker) server() {
	s := v.c.Server
	if s.Listen == "" {
		v.add("server.listen", "is required (host:port, such as 127.0.0.1:4180)")
	} else if err := checkListen(s.Listen); err != nil {
		v.add("server.listen", "%v", err)
	}
	if s.MetricsListen != "" {
		if err := checkListen(s.MetricsListen); err != nil {
			v.add("server.metrics_listen", "%v", err)
		} else if s.MetricsListen == s.Listen {
			v.add("server.metrics_listen", "must differ from server.listen")
		}
	}
	if s.PublicURL != "" {
		v.publicURL(s.PublicURL)
	} else if v.needsPublicURL() {
		v.add("server.public_url", "is required when an oidc, google or github provider is configured (its callback lives under it)")
	} else if !loopbackListen(s.Listen) {
		v.add("server.public_url", "is required when server.listen (%q) is not a loopback address: sign-in redirects and the identity assertion's issuer name the address users reach gatehouse at", s.Listen)
	}
	switch p := s.Prefix; {
	case !strings.HasPrefix(p, "/"):
		v.add("server.prefix", "must start with / (such as /oauth2)")
	case strings.HasSuffix(p, "/"):
		v.add("server.prefix", "must not end with /")
	case path.Clean(p) != p || strings.ContainsAny(p, "?#%\\ \t"):
		v.add("server.prefix", "must be a clean path such as /oauth2")
	}
	for i, tp := range s.TrustedProxies {
		if _, err := parseProxy(tp); err != nil {
			v.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not an IP address or CIDR (such as 10.0.0.0/8)", tp)
		}
	}
	for i, d := range s.AllowedRedirectDomains {
		if !validHostname(strings.TrimPrefix(d, ".")) {
			v.add(fmt.Sprintf("server.allowed_redirect_domains[%d]", i),
				"%q must be a host name such as app.example.com, or .example.com for example.com and its subdomains (no scheme, port or path)", d)
		}
	}
	// Browsers read "/\host" as "//host": another site, as "//host" is.
	if l := s.LogoURL; l != "" && !(strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//") && !strings.HasPrefix(l, "/\\")) && !strings.HasPrefix(l, "data:image/") {
		v.add("server.logo_url", "must be a same-origin path (such as /static/logo.svg) or a data:image/ URL")
	}
	if s.TLSCertFile != "" && s.TLSKeyFile == "" {
		v.add("server.tls_key_file", "is required when server.tls_cert_file is set")
	}
	if s.TLSKeyFile != "" && s.TLSCertFile == "" {
		v.add("server.tls_cert_file", "is required when server.tls_key_file is set")
	}
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.upstream_timeout", s.UpstreamTimeout)
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	// serve skips a delay that is not positive, so a negative one would
	// silently mean none.
	v.nonNegative("server.shutdown_delay", s.ShutdownDelay)
	if s.MaxHeaderBytes <= 0 {
		v.add("server.max_header_bytes", "must be positive")
	}
}

func (v *checker) publicURL(s string) {
	const key = "server.public_url"
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.add(key, "is not a valid URL: %v", urlCause(err))
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(key, "must be an absolute http(s) URL such as https://auth.example.com")
	case u.Hostname() == "":
		v.add(key, "must include a host")
	case u.User != nil:
		v.add(key, "must not contain user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		v.add(key, "must not have a query or fragment")
	case u.Path != "" && u.Path != "/":
		v.add(key, "must not have a path (gatehouse's endpoints live under server.prefix)")
	}
}

// loopbackListen reports whether listen binds only a loopback address, where
// http://<listen> is what a local browser uses: gatehouse then stands in for
// a missing public_url with it (the demo). An unparsable listen address is
// reported under its own key.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (v *checker) needsPublicURL() bool {
	for _, p := range v.c.Providers {
		if p.Type == "oidc" || p.Type == "google" || p.Type == "github" {
			return true
		}
	}
	return false
}

func (v *checker) session() {
	s := v.c.Session
	v.oneOf("session.store", s.Store, "cookie", "redis")
	if len(s.Secrets) == 0 {
		v.add("session.secrets", "at least one secret is required (session.secrets or session.secret_files), each at least %d bytes", MinSecretBytes)
	}
	for i, sec := range s.Secrets {
		if len(sec) < MinSecretBytes {
			v.add(fmt.Sprintf("session.secrets[%d]", i), "secret must be at least %d bytes long (got %d); generate one with: openssl rand -base64 48", MinSecretBytes, len(sec))
		}
	}
	c := s.Cookie
	switch {
	case c.Name == "":
		v.add("session.cookie.name", "is required")
	case !isToken(c.Name):
		v.add("session.cookie.name", "must be a cookie name token (letters, digits and !#$%%&'*+-.^_`|~)")
	case strings.HasPrefix(c.Name, "__Host-") || strings.HasPrefix(c.Name, "__Secure-"):
		v.add("session.cookie.name", "must not start with __Host- or __Secure-; gatehouse adds the prefix itself when the cookie is secure")
	}
	if c.Domain != "" && !validHostname(strings.TrimPrefix(c.Domain, ".")) {
		v.add("session.cookie.domain", "must be a host name such as example.com (or empty for a host-only cookie)")
	}
	v.oneOf("session.cookie.same_site", c.SameSite, "lax", "strict", "none")
	if c.SameSite == "none" && !c.SecureOrDefault() {
		v.add("session.cookie.same_site", "none requires session.cookie.secure: true")
	}
	v.positive("session.lifetime", s.Lifetime)
	v.nonNegative("session.idle_timeout", s.IdleTimeout)
	v.nonNegative("session.refresh_before", s.Refresh)
	if s.Store == "redis" {
		v.redis(s.Redis)
	}
}

// maxRedisLocalCache caps session.redis.local_cache: longer would let a
// session deleted from Redis by hand (not through gatehouse) live on for
// too long, for no measurable gain in speed.
const maxRedisLocalCache = time.Minute

func (v *checker) redis(r Redis) {
	switch {
	case r.URL == "" && len(r.Addrs) == 0:
		v.add("session.redis.url", "session.redis needs url (or addrs for sentinel/cluster) when session.store is redis")
	case r.URL != "" && len(r.Addrs) > 0:
		v.add("session.redis.addrs", "set either url or addrs, not both")
	}
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		switch {
		case err != nil:
			v.add("session.redis.url", "is not a valid URL") // the cause may quote the password
		case u.Scheme != "redis" && u.Scheme != "rediss":
			v.add("session.redis.url", "must be a redis:// or rediss:// URL")
		case u.Host == "":
			v.add("session.redis.url", "must include a host")
		default:
			// What session.NewRedisClient does at start-up: go-redis refuses
			// a database path that is not a number and unknown ?options.
			// Its messages quote the path or the option, never the userinfo.
			if _, err := redis.ParseURL(r.URL); err != nil {
				v.add("session.redis.url", "%s", strings.TrimPrefix(urlCause(err).Error(), "redis: "))
			}
		}
		if r.MasterName != "" {
			v.add("session.redis.master_name", "applies only with addrs (sentinel)")
		}
	}
	for i, a := range r.Addrs {
		if err := checkListen(a); err != nil {
			v.add(fmt.Sprintf("session.redis.addrs[%d]", i), "%v", err)
		}
	}
	if r.DB < 0 {
		v.add("session.redis.db", "must not be negative")
	} else if r.DB != 0 && r.URL == "" && len(r.Addrs) > 1 && r.MasterName == "" {
		// Several addrs without master_name make a Redis Cluster client, and
		// a cluster has database 0 only; session.NewRedisClient refuses it
		// at start-up, which is too late for gatehouse check.
		v.add("session.redis.db", "must be 0 when addrs lists several servers without master_name (that is a Redis Cluster, which has database 0 only); set master_name for Sentinel")
	}
	if lc := r.LocalCacheOrDefault(); lc < 0 {
		v.add("session.redis.local_cache", "must not be negative (0s turns the local session cache off)")
	} else if lc > maxRedisLocalCache {
		v.add("session.redis.local_cache", "must be at most %v: it bounds how long a replica may miss a change made to Redis outside gatehouse (0s turns the cache off)", maxRedisLocalCache)
	}
}

// rest checks the small top-level sections.
func (v *checker) rest() {
	c := v.c
	v.oneOf("default", c.Default, "deny", "authenticated")
	if !c.Assertion.Disabled {
		v.positive("assertion.ttl", c.Assertion.TTL)
		if c.Assertion.TTL > time.Hour {
			v.add("assertion.ttl", "must be at most 1h (assertions are meant to be short-lived)")
		}
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "text")
	if c.Login.MaxFailures <= 0 {
		v.add("login.max_failures", "must be positive")
	}
	v.positive("login.window", c.Login.Window)
	v.positive("login.lockout", c.Login.Lockout)
	if c.Login.MaxConcurrent <= 0 {
		v.add("login.max_concurrent", "must be positive")
	}
}
