package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "file:line: key: message" prefixes, in line order
	}{
		{"listen not host:port", base + "server:\n  listen: localhost\n",
			[]string{"test.yaml:6: server.listen: must be host:port"}},
		{"listen bad port", base + "server:\n  listen: 127.0.0.1:http\n",
			[]string{`test.yaml:6: server.listen: port "http"`}},
		{"metrics same as listen", base + "server:\n  listen: 127.0.0.1:4180\n  metrics_listen: 127.0.0.1:4180\n",
			[]string{"test.yaml:7: server.metrics_listen: must differ"}},
		{"no public_url on all interfaces", base + "server:\n  listen: :4180\n",
			[]string{`test.yaml:5: server.public_url: is required when server.listen (":4180") is not a loopback address`}},
		{"no public_url on a routable address", base + "server:\n  listen: 192.0.2.7:4180\n",
			[]string{"test.yaml:5: server.public_url: is required when server.listen"}},
		{"public_url with path", base + "server:\n  public_url: https://auth.example.com/gate\n",
			[]string{"test.yaml:6: server.public_url: must not have a path"}},
		{"public_url with query", base + "server:\n  public_url: https://auth.example.com/?a=b\n",
			[]string{"test.yaml:6: server.public_url: must not have a query"}},
		{"public_url not http", base + "server:\n  public_url: ftp://auth.example.com\n",
			[]string{"test.yaml:6: server.public_url: must be an absolute http(s) URL"}},
		{"public_url relative", base + "server:\n  public_url: auth.example.com\n",
			[]string{"test.yaml:6: server.public_url: must be an absolute"}},
		{"prefix without slash", base + "server:\n  prefix: oauth2\n",
			[]string{"test.yaml:6: server.prefix: must start with /"}},
		{"prefix trailing slash", base + "server:\n  prefix: /oauth2/\n",
			[]string{"test.yaml:6: server.prefix: must not end with /"}},
		{"trusted proxy", base + "server:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.300]\n",
			[]string{"test.yaml:6: server.trusted_proxies[1]: "}},
		{"redirect domain with scheme", base + "server:\n  allowed_redirect_domains:\n    - .example.com\n    - https://x.example.com\n",
			[]string{"test.yaml:8: server.allowed_redirect_domains[1]: "}},
		{"redirect domain with port", base + "server:\n  allowed_redirect_domains: [x.example.com:443]\n",
			[]string{`test.yaml:6: server.allowed_redirect_domains[0]: "x.example.com:443" must be a host name such as app.example.com, or .example.com for example.com and its subdomains`}},
		{"tls cert without key", base + "server:\n  tls_cert_file: cert.pem\n",
			[]string{"test.yaml:5: server.tls_key_file: is required"}},
		{"negative timeout", base + "server:\n  read_timeout: -1s\n",
			[]string{"test.yaml:6: server.read_timeout: must be a positive duration"}},
		{"negative shutdown delay", base + "server:\n  shutdown_delay: -5s\n",
			[]string{"test.yaml:6: server.shutdown_delay: must not be negative"}},
		{"max header bytes", base + "server:\n  max_header_bytes: -1\n",
			[]string{"test.yaml:6: server.max_header_bytes: must be positive"}},
		{"logo url", base + "server:\n  logo_url: https://evil.example/logo.png\n",
			[]string{"test.yaml:6: server.logo_url: "}},
		{"logo url backslash host", base + "server:\n  logo_url: '/\\evil.example/logo.png'\n",
			[]string{"test.yaml:6: server.logo_url: "}},

		{"store", "session:\n  store: memcached\n  secrets: [\"" + secret32 + "\"]\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:2: session.store: must be one of cookie, redis"}},
		{"no secrets", "session:\n  store: cookie\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:1: session.secrets: at least one secret is required"}},
		{"short secret", "session:\n  secrets:\n    - " + secret32 + "\n    - tooshort\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:4: session.secrets[1]: secret must be at least 32 bytes"}},
		{"same_site none needs secure", "session:\n  secrets: [\"" + secret32 + "\"]\n  cookie: {secure: false, same_site: none}\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:3: session.cookie.same_site: none requires session.cookie.secure: true"}},
		{"same_site upper case", "session:\n  secrets: [\"" + secret32 + "\"]\n  cookie:\n    same_site: Lax\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:4: session.cookie.same_site: must be one of lax, strict, none"}},
		{"cookie name", "session:\n  secrets: [\"" + secret32 + "\"]\n  cookie:\n    name: my cookie\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:4: session.cookie.name: must be a cookie name token"}},
		{"cookie domain", "session:\n  secrets: [\"" + secret32 + "\"]\n  cookie:\n    domain: https://example.com\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:4: session.cookie.domain: must be a host name"}},
		{"negative lifetime", "session:\n  secrets: [\"" + secret32 + "\"]\n  lifetime: -1h\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:3: session.lifetime: must be a positive duration"}},
		{"negative refresh", "session:\n  secrets: [\"" + secret32 + "\"]\n  refresh_before: -1m\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:3: session.refresh_before: must not be negative"}},
		{"redis without url", "session:\n  store: redis\n  secrets: [\"" + secret32 + "\"]\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:1: session.redis.url: session.redis needs url"}},
		{"cluster with db", "session:\n  store: redis\n  secrets: [\"" + secret32 + "\"]\n  redis:\n    addrs: [10.0.0.1:6379, 10.0.0.2:6379]\n    db: 2\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:6: session.redis.db: must be 0 when addrs lists several servers without master_name"}},
		{"redis url scheme", "session:\n  store: redis\n  secrets: [\"" + secret32 + "\"]\n  redis:\n    url: http://:pw@127.0.0.1:6379\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:5: session.redis.url: must be a redis:// or rediss:// URL"}},
		// go-redis refuses these at start-up, so check must too.
		{"redis url db", "session:\n  store: redis\n  secrets: [\"" + secret32 + "\"]\n  redis:\n    url: redis://:s3cret-pw@127.0.0.1:6379/sessions\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{`test.yaml:5: session.redis.url: invalid database number: "sessions"`}},
		{"redis url option", "session:\n  store: redis\n  secrets: [\"" + secret32 + "\"]\n  redis:\n    url: redis://:s3cret-pw@127.0.0.1:6379/0?timeout=5s\nproviders: [{id: l, type: local, users_file: u}]\n",
			[]string{"test.yaml:5: session.redis.url: unexpected option: timeout"}},

		{"no providers", "session:\n  secrets: [\"" + secret32 + "\"]\n",
			[]string{"test.yaml:1: providers: at least one provider"}},
		{"bad provider id", "session:\n  secrets: [\"" + secret32 + "\"]\nproviders:\n  - {id: Corp, type: local, users_file: u}\n",
			[]string{`test.yaml:4: providers[0].id: "Corp" must match`}},
		{"duplicate provider id", base + "  - id: local\n    type: local\n    users_file: u2\n",
			[]string{`test.yaml:5: providers[1].id: duplicate id "local" (also providers[0])`,
				"test.yaml:6: providers[1].type: only one local provider is allowed (also providers[0])"}},
		{"two local providers", base + "  - {id: other, type: oidc, issuer: https://idp.example.com, client_id: x}\n  - id: local2\n    type: local\n    users_file: u2\n" + "server: {public_url: https://a.example.com}\n",
			[]string{"test.yaml:7: providers[2].type: only one local provider is allowed (also providers[0])"}},
		{"missing provider type", base + "  - id: other\n",
			[]string{"test.yaml:5: providers[1].type: is required"}},
		{"unknown provider type", base + "  - id: other\n    type: saml\n",
			[]string{"test.yaml:6: providers[1].type: must be one of oidc, google, github, local"}},
		{"oidc needs public_url", base + "  - {id: corp, type: oidc, issuer: https://idp.example.com, client_id: gh}\n",
			[]string{"test.yaml:1: server.public_url: is required when an oidc"}},
		{"oidc issuer not a URL", "server: {public_url: https://a.example.com}\n" + base + "  - id: corp\n    type: oidc\n    issuer: idp.example.com\n    client_id: gh\n",
			[]string{"test.yaml:8: providers[1].issuer: must be an absolute http:// or https:// URL"}},
		{"google without secret", "server: {public_url: https://a.example.com}\n" + base + "  - {id: google, type: google, client_id: x}\n",
			[]string{"test.yaml:6: providers[1].client_secret: is required (or client_secret_file)"}},
		{"github team format", "server: {public_url: https://a.example.com}\n" + base + "  - id: github\n    type: github\n    client_id: x\n    client_secret: y\n    teams: [acme]\n",
			[]string{`test.yaml:10: providers[1].teams[0]: "acme" must be org/team-slug`}},
		{"github api_url", "server: {public_url: https://a.example.com}\n" + base + "  - id: github\n    type: github\n    client_id: x\n    client_secret: y\n    api_url: api.github.com\n",
			[]string{"test.yaml:10: providers[1].api_url: must be an absolute"}},
		{"local without users_file", "session:\n  secrets: [\"" + secret32 + "\"]\nproviders:\n  - {id: local2, type: local}\n",
			[]string{"test.yaml:4: providers[0].users_file: is required for local providers"}},
		{"local totp", "session:\n  secrets: [\"" + secret32 + "\"]\nproviders:\n  - {id: local2, type: local, users_file: u, totp: sometimes}\n",
			[]string{"test.yaml:4: providers[0].totp: must be one of required, optional, off"}},
		{"orgs on oidc", "server: {public_url: https://a.example.com}\n" + base + "  - id: corp\n    type: oidc\n    issuer: https://idp.example.com\n    client_id: gh\n    orgs: [acme]\n",
			[]string{"test.yaml:10: providers[1].orgs: applies only to github providers"}},
		{"oidc scopes without openid", "server: {public_url: https://a.example.com}\n" + base + "  - {id: corp, type: oidc, issuer: https://idp.example.com, client_id: gh, scopes: [email]}\n",
			[]string{"test.yaml:6: providers[1].scopes: must include openid"}},

		{"bearer without audiences", base + "bearer:\n  issuers:\n    - issuer: https://idp.example.com\n",
			[]string{"test.yaml:7: bearer.issuers[0].audiences: at least one audience is required"}},
		{"bearer HS256", base + "bearer:\n  issuers:\n    - issuer: https://idp.example.com\n      audiences: [a]\n      algorithms: [RS256, HS256]\n",
			[]string{`test.yaml:9: bearer.issuers[0].algorithms[1]: "HS256" is not allowed`}},
		{"bearer none", base + "bearer:\n  issuers:\n    - issuer: https://idp.example.com\n      audiences: [a]\n      algorithms:\n        - none\n",
			[]string{`test.yaml:10: bearer.issuers[0].algorithms[0]: "none" is not allowed`}},
		{"bearer alone is enough", "session:\n  secrets: [\"" + secret32 + "\"]\nbearer:\n  issuers:\n    - {issuer: https://idp.example.com, audiences: [a], jwks_url: ftp://x}\n",
			[]string{"test.yaml:5: bearer.issuers[0].jwks_url: must be an absolute"}},

		{"role without criteria", base + "roles:\n  admin: {}\n",
			[]string{"test.yaml:6: roles.admin: needs at least one of"}},
		{"role unknown provider", base + "roles:\n  admin:\n    providers: [corp]\n",
			[]string{`test.yaml:7: roles.admin.providers[0]: provider "corp" is not defined`}},
		{"role email", base + "roles:\n  admin:\n    emails: [alice]\n",
			[]string{`test.yaml:7: roles.admin.emails[0]: "alice" is not an email address`}},

		{"path and prefix", base + "rules:\n  - path: /a\n    prefix: /b\n    allow: public\n",
			[]string{"test.yaml:7: rules[0].prefix: set at most one of path, prefix and regex"}},
		{"path without slash", base + "rules:\n  - {path: a, allow: public}\n",
			[]string{"test.yaml:6: rules[0].path: must start with /"}},
		{"prefix without slash", base + "rules:\n  - {prefix: admin/, allow: public}\n",
			[]string{"test.yaml:6: rules[0].prefix: must start with /"}},
		{"bad regex", base + "rules:\n  - {allow: public}\n  - regex: '^/api/(v1'\n    allow: public\n",
			[]string{"test.yaml:7: rules[1].regex: does not compile"}},
		{"non-RE2 regex", base + "rules:\n  - regex: '^/(?!admin)'\n    allow: public\n",
			[]string{"test.yaml:6: rules[0].regex: does not compile"}},
		{"lower-case method", base + "rules:\n  - methods: [GET, get]\n    allow: public\n",
			[]string{`test.yaml:6: rules[0].methods[1]: "get" must be upper case ("GET")`}},
		{"wildcard method", base + "rules:\n  - methods: ['*']\n    allow: public\n",
			[]string{"test.yaml:6: rules[0].methods[0]: leave methods out"}},
		{"bad host", base + "rules:\n  - host: https://app.example.com\n    allow: public\n",
			[]string{"test.yaml:6: rules[0].host: "}},
		{"allow and deny", base + "rules:\n  - prefix: /\n    allow: public\n    deny: true\n",
			[]string{"test.yaml:8: rules[0].deny: set either allow or deny: true, not both"}},
		{"neither allow nor deny", base + "rules:\n  - prefix: /\n    name: x\n",
			[]string{"test.yaml:6: rules[0].allow: is required"}},
		{"allow unknown role", base + "rules:\n  - prefix: /\n    allow:\n      roles: [admin]\n",
			[]string{`test.yaml:8: rules[0].allow.roles[0]: role "admin" is not defined under roles`}},
		{"allow bad scalar", base + "rules:\n  - prefix: /\n    allow: everyone\n",
			[]string{`test.yaml:7: rules[0].allow: must be "public", "authenticated" or a mapping, not "everyone"`}},
		{"allow unknown key", base + "rules:\n  - prefix: /\n    allow:\n      roles: []\n      team: [x]\n",
			[]string{"test.yaml:9: rules[0].allow.team: unknown key"}},
		{"allow empty mapping", base + "rules:\n  - prefix: /\n    allow: {}\n",
			[]string{"test.yaml:7: rules[0].allow: a mapping needs at least one of"}},
		{"allow list not a list", base + "rules:\n  - prefix: /\n    allow: {groups: ops}\n",
			[]string{"test.yaml:7: rules[0].allow.groups: must be a list of strings"}},
		{"duplicate rule names", base + "rules:\n  - {name: a, allow: public}\n  - {name: a, allow: public}\n",
			[]string{`test.yaml:7: rules[1].name: duplicate rule name "a"`}},

		{"default", base + "default: allow\n",
			[]string{"test.yaml:5: default: must be one of deny, authenticated"}},
		{"upstream url", base + "upstreams:\n  - url: ftp://127.0.0.1\n",
			[]string{"test.yaml:6: upstreams[0].url: must be an absolute http:// or https:// URL"}},
		{"upstream path", base + "upstreams:\n  - url: http://127.0.0.1\n    path: api\n",
			[]string{"test.yaml:7: upstreams[0].path: must start with /"}},
		{"upstream negative timeout", base + "upstreams:\n  - url: http://127.0.0.1\n    timeout: -1s\n",
			[]string{"test.yaml:7: upstreams[0].timeout: must not be negative"}},
		{"upstream negative flush_interval", base + "upstreams:\n  - url: http://127.0.0.1\n    flush_interval: -1ns\n",
			[]string{"test.yaml:7: upstreams[0].flush_interval: must not be negative"}},
		{"upstream url missing", base + "upstreams:\n  - path: /api\n",
			[]string{"test.yaml:6: upstreams[0].url: is required"}},
		{"log level", base + "log: {level: verbose}\n",
			[]string{"test.yaml:5: log.level: must be one of debug, info, warn, error"}},
		{"log format", base + "log:\n  format: xml\n",
			[]string{"test.yaml:6: log.format: must be one of json, text"}},
		{"assertion ttl too long", base + "assertion:\n  ttl: 2h\n",
			[]string{"test.yaml:6: assertion.ttl: must be at most 1h"}},
		{"login numbers", base + "login:\n  max_failures: -1\n  max_concurrent: -2\n",
			[]string{"test.yaml:6: login.max_failures: must be positive", "test.yaml:7: login.max_concurrent: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, problemsOf(t, tt.src, noEnv), tt.want...)
		})
	}
}

func TestOIDCMissingKeysUseParentLine(t *testing.T) {
	src := "server: {public_url: https://a.example.com}\n" + base + "  - id: corp\n    type: oidc\n"
	ps := problemsOf(t, src, noEnv)
	wantProblems(t, ps,
		"test.yaml:6: providers[1].issuer: is required for oidc providers",
		"test.yaml:6: providers[1].client_id: is required")
}

func TestSecretNeverPrinted(t *testing.T) {
	const short = "hunter2-very-secret"
	src := "session:\n  secrets: [" + short + "]\nproviders: [{id: l, type: local, users_file: u}]\n"
	ps := problemsOf(t, src, noEnv)
	wantProblems(t, ps, "test.yaml:2: session.secrets[0]: secret must be at least 32 bytes long")
	if strings.Contains(ps.Error(), short) {
		t.Errorf("problem text contains the secret: %s", ps.Error())
	}
}

func TestManyProblemsReportedTogether(t *testing.T) {
	src := `server:
  listen: nowhere
  prefix: oauth2/
session:
  secrets: [short]
  cookie: {same_site: sideways}
  lifetime: soon
providers:
  - {id: Bad!, type: local, users_file: u}
  - id: gh
    type: github
rules:
  - regex: '(['
    methods: [get]
    allow: public
    deny: true
  - prefix: /x
    colour: blue
default: maybe
`
	ps := problemsOf(t, src, noEnv)
	wantProblems(t, ps,
		"test.yaml:1: server.public_url: is required", // missing: reported at its parent
		"test.yaml:2: server.listen: ",
		"test.yaml:3: server.prefix: must start with /",
		"test.yaml:5: session.secrets[0]: ",
		"test.yaml:6: session.cookie.same_site: ",
		"test.yaml:7: session.lifetime: invalid duration \"soon\"",
		"test.yaml:9: providers[0].id: ",
		"test.yaml:10: providers[1].client_id: is required",
		"test.yaml:10: providers[1].client_secret: is required",
		"test.yaml:13: rules[0].regex: ",
		"test.yaml:14: rules[0].methods[0]: ",
		"test.yaml:16: rules[0].deny: ",
		"test.yaml:17: rules[1].allow: is required",
		"test.yaml:18: rules[1].colour: unknown key",
		"test.yaml:19: default: ",
	)
}

func TestCompleteCodeBuilt(t *testing.T) {
	c := &Config{
		Session:   Session{Secrets: []string{secret32}},
		Providers: []Provider{{ID: "local", Type: "local", UsersFile: "users.yaml"}},
		Rules: []Rule{
			{Path: "/healthz", Allow: Allow{Public: true}},
			{Host: "App.Example.COM", Prefix: "/", Allow: Allow{Roles: []string{"admin"}}},
		},
		Server: Server{TrustedProxies: []string{"10.1.2.3", "fd00::/8"}},
	}
	err := c.Complete()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Complete: want Problems, got %v", err)
	}
	wantProblems(t, ps, `rules[1].allow.roles[0]: role "admin" is not defined`)

	c.Roles = map[string]RoleSpec{"admin": {Groups: []string{"ops"}}}
	if err := c.Complete(); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if got := c.Rules[1].Host; got != "app.example.com" {
		t.Errorf("host = %q, want lower-cased", got)
	}
	if got := c.Server.TrustedPrefixes; len(got) != 2 || got[0].String() != "10.1.2.3/32" || got[1].String() != "fd00::/8" {
		t.Errorf("TrustedPrefixes = %v", got)
	}
}

// TestRedisDBAccepted covers the neighbours of the cluster-with-db problem:
// Sentinel and a single server both have numbered databases, and a cluster
// with db 0 is fine, so none of these may be refused.
func TestRedisDBAccepted(t *testing.T) {
	tests := []struct {
		name  string
		redis string
	}{
		{"sentinel with db", "{addrs: [10.0.0.1:26379, 10.0.0.2:26379], master_name: mymaster, db: 2}"},
		{"single addr with db", "{addrs: [10.0.0.1:6379], db: 2}"},
		{"cluster with db 0", "{addrs: [10.0.0.1:6379, 10.0.0.2:6379], db: 0}"},
		{"url with db", "{url: \"redis://10.0.0.1:6379\", db: 2}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, "session:\n  store: redis\n  secrets: [\""+secret32+"\"]\n  redis: "+tt.redis+"\nproviders: [{id: l, type: local, users_file: u}]\n")
		})
	}
}
