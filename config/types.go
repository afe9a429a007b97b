// Package config is gatehouse's configuration: the YAML schema, defaults,
// ${ENV} interpolation, *_file secrets, and validation that reports every
// problem with its file, line and key. A Config is parsed once, validated, and
// then treated as immutable; only this package reads environment variables and
// secret files.
package config

import (
	"net/netip"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Server    Server              `yaml:"server"`
	Session   Session             `yaml:"session"`
	Providers []Provider          `yaml:"providers"`
	Bearer    Bearer              `yaml:"bearer"`
	Roles     map[string]RoleSpec `yaml:"roles"`
	Upstreams []Upstream          `yaml:"upstreams"`
	Rules     []Rule              `yaml:"rules"`
	Default   string              `yaml:"default"` // deny | authenticated
	// CaseSensitivePaths makes rule paths, prefixes and regexes match the
	// request path's case exactly. By default they ignore ASCII case, since
	// many upstreams (IIS, Windows file systems, some frameworks' routers)
	// serve /ADMIN/x as /admin/x (SECURITY.md A075); and then a path with
	// a segment ending in a dot or space, which Windows drops, is refused
	// when the rules would judge it differently without them.
	CaseSensitivePaths bool      `yaml:"case_sensitive_paths"`
	Assertion          Assertion `yaml:"assertion"`
	Log                Log       `yaml:"log"`
	Login              Login     `yaml:"login"`

	// Source is the file the config was read from ("" when built in code).
	Source string `yaml:"-"`

	// src maps YAML paths to lines of Source; filled by Parse, nil when built in code.
	src *sourceMap
}

// Server is the listener and the public face of gatehouse.
type Server struct {
	Listen    string `yaml:"listen"`     // default 127.0.0.1:4180
	PublicURL string `yaml:"public_url"` // scheme://host[:port] users reach gatehouse at; callbacks live under it
	Prefix    string `yaml:"prefix"`     // endpoint prefix, default /oauth2
	// TrustedProxies are the peers (CIDRs or single IPs) whose X-Forwarded-*,
	// X-Original-* and X-Request-Id headers are believed; the client address
	// comes from X-Forwarded-For. Gatehouse never reads X-Real-IP: like the
	// other forwarding headers it reaches upstreams only from these peers.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AllowedRedirectDomains are hosts that rd may point at, on the scheme's
	// default port: "app.example.com" matches only itself; ".example.com"
	// matches example.com itself and its subdomains on a label boundary
	// (never evilexample.com).
	AllowedRedirectDomains []string `yaml:"allowed_redirect_domains"`
	MetricsListen          string   `yaml:"metrics_listen"` // optional separate /metrics listener
	AppName                string   `yaml:"app_name"`       // shown on gatehouse's pages
	LogoURL                string   `yaml:"logo_url"`       // optional, same-origin path or data: URL

	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`

	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // default 10s
	ReadTimeout       time.Duration `yaml:"read_timeout"`        // default 30s
	IdleTimeout       time.Duration `yaml:"idle_timeout"`        // default 5m
	UpstreamTimeout   time.Duration `yaml:"upstream_timeout"`    // response-header timeout, default 60s
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`    // default 20s
	// ShutdownDelay is how long /ready fails before the listener closes on
	// SIGTERM, so load balancers stop sending first (Kubernetes: ~5s).
	ShutdownDelay  time.Duration `yaml:"shutdown_delay"`
	MaxHeaderBytes int           `yaml:"max_header_bytes"` // default 64 KiB

	// Parsed forms, filled by Load.
	TrustedPrefixes []netip.Prefix `yaml:"-"`
}

// Session says where sessions are kept and how their cookie looks.
type Session struct {
	Store       string        `yaml:"store"` // cookie | redis
	Secrets     []string      `yaml:"secrets"`
	SecretFiles []string      `yaml:"secret_files"` // appended to Secrets, in order
	Cookie      Cookie        `yaml:"cookie"`
	Lifetime    time.Duration `yaml:"lifetime"`     // absolute lifetime, default 168h
	IdleTimeout time.Duration `yaml:"idle_timeout"` // 0 = none
	// Refresh is how long before provider tokens expire they are refreshed
	// (default 5m). A refresh needs a lead time, so 0 has no meaning of its
	// own and, as for the other durations with a default, means the default.
	Refresh time.Duration `yaml:"refresh_before"`
	Redis   Redis         `yaml:"redis"`
}

// Cookie shapes the session cookie.
type Cookie struct {
	Name     string `yaml:"name"`      // default _gatehouse; __Host-/__Secure- prefix added when secure
	Domain   string `yaml:"domain"`    // "" = host-only
	Secure   *bool  `yaml:"secure"`    // default true
	SameSite string `yaml:"same_site"` // lax | strict | none, default lax
}

// SecureOrDefault reports whether cookies carry the Secure attribute.
func (c Cookie) SecureOrDefault() bool { return c.Secure == nil || *c.Secure }

// Redis locates the Redis server(s) for session.store: redis.
type Redis struct {
	URL          string   `yaml:"url"`           // redis:// or rediss://
	Addrs        []string `yaml:"addrs"`         // sentinel or cluster seeds
	MasterName   string   `yaml:"master_name"`   // sentinel
	Username     string   `yaml:"username"`      //
	Password     string   `yaml:"password"`      //
	PasswordFile string   `yaml:"password_file"` //
	DB           int      `yaml:"db"`
	// LocalCache is how long a replica may answer from its own memory a
	// session it read from Redis, instead of a GET per request (nil: the
	// default, 2s; 0: a GET on every request). Every gatehouse write to a
	// session is announced to all replicas, which drop their copy at once, and
	// the cache is off whenever that announcement channel is down, so this is
	// only the bound for changes made to Redis behind gatehouse's back.
	LocalCache *time.Duration `yaml:"local_cache"`
}

// LocalCacheOrDefault is LocalCache, or DefaultRedisLocalCache when unset.
func (r Redis) LocalCacheOrDefault() time.Duration {
	if r.LocalCache == nil {
		return DefaultRedisLocalCache
	}
	return *r.LocalCache
}

// Provider is one way to log in.
type Provider struct {
	ID               string   `yaml:"id"`
	Type             string   `yaml:"type"` // oidc | google | github | local
	Name             string   `yaml:"name"` // button label, default from ID/type
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	GroupsClaim      string   `yaml:"groups_claim"` // default groups
	// Google
	HostedDomain string `yaml:"hosted_domain"`
	Prompt       string `yaml:"prompt"`
	// GitHub (and GitHub Enterprise)
	Orgs     []string `yaml:"orgs"`
	Teams    []string `yaml:"teams"`
	AuthURL  string   `yaml:"auth_url"`
	TokenURL string   `yaml:"token_url"`
	APIURL   string   `yaml:"api_url"`
	// local
	UsersFile string `yaml:"users_file"`
	TOTP      string `yaml:"totp"` // required | optional | off, default optional
}

// Bearer configures API clients that send Authorization: Bearer <JWT>.
type Bearer struct {
	Issuers []BearerIssuer `yaml:"issuers"`
}

// BearerIssuer is one trusted JWT issuer.
type BearerIssuer struct {
	Issuer      string   `yaml:"issuer"`
	Audiences   []string `yaml:"audiences"`
	JWKSURL     string   `yaml:"jwks_url"`   // default from discovery
	Algorithms  []string `yaml:"algorithms"` // default RS256, ES256
	GroupsClaim string   `yaml:"groups_claim"`
}

// RoleSpec derives a role from the identity: any one listed criterion grants it.
type RoleSpec struct {
	Emails    []string `yaml:"emails"`
	Groups    []string `yaml:"groups"`
	Domains   []string `yaml:"domains"`
	Users     []string `yaml:"users"`
	Providers []string `yaml:"providers"`
}

// Upstream is where proxy mode sends a request. Host comes before path:
// upstreams with an exact host are tried first, then *.example.com wildcards
// (the longest suffix first; never the bare example.com), then those without
// a host; within each, the longest path prefix first. The first whose host
// and path both match is used.
type Upstream struct {
	Host            string        `yaml:"host"` // "" = any host
	Path            string        `yaml:"path"` // path prefix, default /
	URL             string        `yaml:"url"`
	StripPrefix     bool          `yaml:"strip_prefix"`
	PassAccessToken bool          `yaml:"pass_access_token"` // X-Forwarded-Access-Token
	PassIDToken     bool          `yaml:"pass_id_token"`     // Authorization: Bearer <id token>
	PreserveHost    bool          `yaml:"preserve_host"`     // send the client's Host instead of the upstream's
	FlushInterval   time.Duration `yaml:"flush_interval"`
	// Timeout is how long to wait for the upstream's response headers
	// (default server.upstream_timeout); a slow upstream gets a 504.
	Timeout time.Duration `yaml:"timeout"`
}

// Rule is one authorization rule; the first that matches decides.
type Rule struct {
	Name    string   `yaml:"name"`
	Host    string   `yaml:"host"`   // exact or *.example.com; case-insensitive
	Path    string   `yaml:"path"`   // exact path
	Prefix  string   `yaml:"prefix"` // segment-aware prefix
	Regex   string   `yaml:"regex"`  // RE2 on the normalised path
	Methods []string `yaml:"methods"`
	Allow   Allow    `yaml:"allow"`
	Deny    bool     `yaml:"deny"`
}

// Allow says who a rule lets in. In YAML it is the string "public" or
// "authenticated", or a mapping whose lists are alternatives: any one listed
// criterion suffices. MFA, when true, is required in addition.
type Allow struct {
	Public        bool
	Authenticated bool
	Roles         []string
	Groups        []string
	Emails        []string
	Domains       []string
	Users         []string
	Providers     []string
	MFA           bool
	set           bool
}

// IsSet reports whether allow was given at all: in YAML, or, for an Allow
// built in code, by setting any of its fields.
func (a Allow) IsSet() bool {
	return a.set || a.Public || a.Authenticated || a.MFA || len(a.Roles) > 0 || len(a.Groups) > 0 ||
		len(a.Emails) > 0 || len(a.Domains) > 0 || len(a.Users) > 0 || len(a.Providers) > 0
}

// Assertion configures the signed identity JWT sent to upstreams.
type Assertion struct {
	Disabled bool          `yaml:"disabled"`
	KeyFile  string        `yaml:"key_file"` // PEM EC P-256 private key; generated in memory when empty
	TTL      time.Duration `yaml:"ttl"`      // default 5m
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error, default info
	Format string `yaml:"format"` // json | text, default json
}

// Login limits password guessing on the local login form.
type Login struct {
	// MaxFailures is how many failed logins (a wrong password or a wrong
	// one-time code) a username may have within Window before it is locked
	// out, default 5. A client IP (IPv6: its /64) is locked after 4× as many
	// failures, so that one address trying many usernames is caught too.
	MaxFailures   int           `yaml:"max_failures"`
	Window        time.Duration `yaml:"window"`         // default 15m
	Lockout       time.Duration `yaml:"lockout"`        // default 15m
	MaxConcurrent int           `yaml:"max_concurrent"` // concurrent password hashes, default 2×CPU
}
