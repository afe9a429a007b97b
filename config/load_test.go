package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExampleConfig(t *testing.T) {
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatalf("Load(config.example.yaml):\n%v", err)
	}
	if got, want := c.Providers[0].UsersFile, filepath.Join("..", "examples", "users.yaml"); got != want {
		t.Errorf("users_file = %q, want %q (resolved against the config's directory)", got, want)
	}
	if _, err := os.Stat(c.Providers[0].UsersFile); err != nil {
		t.Errorf("example users file: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, base+`  - {id: corp-sso, type: oidc, issuer: https://idp.example.com, client_id: x}
  - {id: google, type: google, client_id: x, client_secret: y}
  - {id: github, type: github, client_id: x, client_secret: y}
server:
  public_url: https://Auth.Example.com/
  trusted_proxies: [10.0.0.1, "::1", 192.168.1.7/24]
bearer:
  issuers: [{issuer: https://idp.example.com, audiences: [a]}]
upstreams: [{url: "http://127.0.0.1:8080"}]
rules: [{allow: authenticated}]
`)
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Server.Listen, "127.0.0.1:4180"},
		{"public_url trailing slash stripped", c.Server.PublicURL, "https://Auth.Example.com"},
		{"prefix", c.Server.Prefix, "/oauth2"},
		{"app_name", c.Server.AppName, "Gatehouse"},
		{"read_header_timeout", c.Server.ReadHeaderTimeout, 10 * time.Second},
		{"read_timeout", c.Server.ReadTimeout, 30 * time.Second},
		{"idle_timeout", c.Server.IdleTimeout, 5 * time.Minute},
		{"upstream_timeout", c.Server.UpstreamTimeout, 60 * time.Second},
		{"shutdown_timeout", c.Server.ShutdownTimeout, 20 * time.Second},
		{"max_header_bytes", c.Server.MaxHeaderBytes, 65536},
		{"trusted prefixes", len(c.Server.TrustedPrefixes), 3},
		{"ipv4 single", c.Server.TrustedPrefixes[0].String(), "10.0.0.1/32"},
		{"ipv6 single", c.Server.TrustedPrefixes[1].String(), "::1/128"},
		{"cidr masked", c.Server.TrustedPrefixes[2].String(), "192.168.1.0/24"},
		{"store", c.Session.Store, "cookie"},
		{"cookie name", c.Session.Cookie.Name, "_gatehouse"},
		{"same_site", c.Session.Cookie.SameSite, "lax"},
		{"secure", c.Session.Cookie.SecureOrDefault(), true},
		{"lifetime", c.Session.Lifetime, 168 * time.Hour},
		{"refresh_before", c.Session.Refresh, 5 * time.Minute},
		{"local name", c.Providers[0].Name, "Local"},
		{"local totp", c.Providers[0].TOTP, "optional"},
		{"oidc name", c.Providers[1].Name, "Corp Sso"},
		{"oidc scopes", c.Providers[1].Scopes, []string{"openid", "email", "profile"}},
		{"oidc groups_claim", c.Providers[1].GroupsClaim, "groups"},
		{"google issuer", c.Providers[2].Issuer, "https://accounts.google.com"},
		{"google scopes", c.Providers[2].Scopes, []string{"openid", "email", "profile"}},
		{"github name", c.Providers[3].Name, "GitHub"},
		{"github scopes", c.Providers[3].Scopes, []string{"read:user", "user:email", "read:org"}},
		{"github auth_url", c.Providers[3].AuthURL, "https://github.com/login/oauth/authorize"},
		{"github token_url", c.Providers[3].TokenURL, "https://github.com/login/oauth/access_token"},
		{"github api_url", c.Providers[3].APIURL, "https://api.github.com"},
		{"bearer algorithms", c.Bearer.Issuers[0].Algorithms, []string{"RS256", "ES256"}},
		{"upstream path", c.Upstreams[0].Path, "/"},
		{"rule name", c.Rules[0].Name, "rule[0]"},
		{"default", c.Default, "deny"},
		{"assertion ttl", c.Assertion.TTL, 5 * time.Minute},
		{"log level", c.Log.Level, "info"},
		{"log format", c.Log.Format, "json"},
		{"max_failures", c.Login.MaxFailures, 5},
		{"window", c.Login.Window, 15 * time.Minute},
		{"lockout", c.Login.Lockout, 15 * time.Minute},
		{"max_concurrent", c.Login.MaxConcurrent, 2 * runtime.NumCPU()},
		{"source", c.Source, "test.yaml"},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if !equal(ck.got, ck.want) {
				t.Errorf("got %v, want %v", ck.got, ck.want)
			}
		})
	}
}

// TestZeroMeansDefault pins what config.example.yaml promises: an explicit 0
// takes the default wherever the default is not 0, so "refresh_before: 0s"
// is 5m, never "refresh only once expired"; local_cache is the one key whose
// 0s means something else (the cache off).
func TestZeroMeansDefault(t *testing.T) {
	const session = "session:\n  secrets: [\"" + secret32 + "\"]\n"
	const providers = "providers: [{id: l, type: local, users_file: u}]\n"
	tests := []struct {
		name string
		src  string
		got  func(*Config) any
		want any
	}{
		{"session.refresh_before", session + "  refresh_before: 0s\n" + providers,
			func(c *Config) any { return c.Session.Refresh }, DefaultRefreshBefore},
		{"session.lifetime", session + "  lifetime: 0s\n" + providers,
			func(c *Config) any { return c.Session.Lifetime }, DefaultLifetime},
		{"server.read_timeout", base + "server:\n  read_timeout: 0s\n",
			func(c *Config) any { return c.Server.ReadTimeout }, DefaultReadTimeout},
		{"server.max_header_bytes", base + "server:\n  max_header_bytes: 0\n",
			func(c *Config) any { return c.Server.MaxHeaderBytes }, DefaultMaxHeaderBytes},
		{"assertion.ttl", base + "assertion:\n  ttl: 0s\n",
			func(c *Config) any { return c.Assertion.TTL }, DefaultAssertionTTL},
		{"login.window", base + "login:\n  window: 0s\n",
			func(c *Config) any { return c.Login.Window }, DefaultLoginWindow},
		{"session.redis.local_cache is the exception", session + "  store: redis\n  redis: {url: \"redis://127.0.0.1:6379\", local_cache: 0s}\n" + providers,
			func(c *Config) any { return c.Session.Redis.LocalCacheOrDefault() }, time.Duration(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(mustParse(t, tt.src)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && slices.Equal(as, bs)
	}
	return a == b
}

func TestNormalisesHosts(t *testing.T) {
	c := mustParse(t, base+`server:
  allowed_redirect_domains: [.Example.COM]
upstreams: [{host: App.Example.com, url: "http://127.0.0.1"}]
rules: [{host: "*.Example.com", allow: {domains: [Example.ORG]}}]
`)
	if got := c.Server.AllowedRedirectDomains[0]; got != ".example.com" {
		t.Errorf("allowed_redirect_domains[0] = %q", got)
	}
	if got := c.Upstreams[0].Host; got != "app.example.com" {
		t.Errorf("upstream host = %q", got)
	}
	if got := c.Rules[0].Host; got != "*.example.com" {
		t.Errorf("rule host = %q", got)
	}
	if got := c.Rules[0].Allow.Domains[0]; got != "example.org" {
		t.Errorf("allow domain = %q", got)
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level key", base + "sever:\n  listen: :80\n",
			[]string{`test.yaml:5: sever: unknown key (did you mean "server"?)`}},
		{"unknown nested key", base + "server:\n  listen: 127.0.0.1:4180\n  listn: :80\n",
			[]string{`test.yaml:7: server.listn: unknown key (did you mean "listen"?)`}},
		{"unknown provider key", "session:\n  secrets: [\"" + secret32 + "\"]\nproviders:\n  - id: x\n    type: local\n    users_file: u\n    client_secrt: s\n",
			[]string{"test.yaml:7: providers[0].client_secrt: unknown key"}},
		{"bad duration", base + "assertion:\n  ttl: soon\n",
			[]string{`test.yaml:6: assertion.ttl: invalid duration "soon"`}},
		{"duration without unit", base + "login:\n  window: 900\n",
			[]string{`test.yaml:6: login.window: invalid duration "900"`}},
		{"bad bool", base + "assertion:\n  disabled: maybe\n",
			[]string{`test.yaml:6: assertion.disabled: must be true or false, not "maybe"`}},
		{"bad int", base + "server:\n  max_header_bytes: lots\n",
			[]string{`test.yaml:6: server.max_header_bytes: must be an integer, not "lots"`}},
		{"list expected", base + "server:\n  trusted_proxies: 10.0.0.0/8\n",
			[]string{"test.yaml:6: server.trusted_proxies: must be a list, not a single value"}},
		{"mapping expected", base + "server: [a, b]\n",
			[]string{"test.yaml:5: server: must be a mapping, not a list"}},
		{"string expected", base + "default: {a: b}\n",
			[]string{"test.yaml:5: default: must be a string, not a mapping"}},
		{"bad list item keeps later indices", "session:\n  secrets: [[a], short]\nproviders: [{id: l, type: local, users_file: u}, x, {id: y, type: local}]\n",
			[]string{"test.yaml:2: session.secrets[0]: must be a string, not a list",
				"test.yaml:2: session.secrets[1]: secret must be at least 32 bytes",
				"test.yaml:3: providers[1]: must be a mapping, not a single value",
				"test.yaml:3: providers[2].type: only one local provider is allowed (also providers[0])",
				"test.yaml:3: providers[2].users_file: is required"}},
		{"duplicate key", base + "default: deny\ndefault: authenticated\n",
			[]string{"test.yaml:6: default: duplicate key (first given on line 5)"}},
		{"syntax error", base + "server:\n  listen: [\n",
			[]string{"test.yaml:"}},
		{"not a mapping", "- a\n- b\n",
			[]string{"test.yaml:1: the configuration must be a YAML mapping"}},
		{"two documents", base + "---\ndefault: deny\n",
			[]string{"test.yaml:5: the file must hold a single YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, problemsOf(t, tt.src, noEnv), tt.want...)
		})
	}
}

func TestMergeKeys(t *testing.T) {
	c := mustParse(t, base+`rules:
  - &common {prefix: /a, methods: [GET], allow: public}
  - <<: *common
    prefix: /b
`)
	if got := c.Rules[1]; got.Prefix != "/b" || !slices.Equal(got.Methods, []string{"GET"}) || !got.Allow.Public {
		t.Errorf("merged rule = %+v", got)
	}
	ps := problemsOf(t, base+"x: &x {bogus: 1}\n", noEnv)
	wantProblems(t, ps, "test.yaml:5: x: unknown key")
	ps = problemsOf(t, base+"rules:\n  - <<: {bogus: 1}\n    allow: public\n", noEnv)
	wantProblems(t, ps, "test.yaml:6: rules[0].bogus: unknown key")
	// An anchor defined under an unknown key (docker-compose's x- keys) is
	// reported as that key, not also as an "unknown anchor" without a line.
	ps = problemsOf(t, base+"x-common: &c {allow: public}\nrules:\n  - {<<: *c, name: a, prefix: /}\n", noEnv)
	wantProblems(t, ps, "test.yaml:5: x-common: unknown key")
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("client", "client-secret-value\n")
	write("session", secret32+"-from-file\r\n")
	write("short", "short\n")
	write("redis", "redis-pw\n")
	write("empty", "\n")
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	load := func(t *testing.T, src string) (*Config, error) {
		t.Helper()
		write("gatehouse.yaml", src)
		return Load(cfgPath)
	}
	const head = "server: {public_url: https://a.example.com}\n"

	t.Run("read and trimmed", func(t *testing.T) {
		c, err := load(t, head+`session:
  store: redis
  secrets: ["`+secret32+`"]
  secret_files: [session]
  redis: {url: "redis://127.0.0.1:6379", password_file: redis}
providers:
  - {id: gh, type: github, client_id: x, client_secret_file: client}
  - {id: local, type: local, users_file: users.yaml}
`)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Providers[0].ClientSecret; got != "client-secret-value" {
			t.Errorf("client secret = %q", got)
		}
		if got := c.Session.Secrets; len(got) != 2 || got[1] != secret32+"-from-file" {
			t.Errorf("secrets = %q", got)
		}
		if got := c.Session.Redis.Password; got != "redis-pw" {
			t.Errorf("redis password = %q", got)
		}
		if got, want := c.Providers[1].UsersFile, filepath.Join(dir, "users.yaml"); got != want {
			t.Errorf("users_file = %q, want %q", got, want)
		}
	})
	t.Run("problems", func(t *testing.T) {
		_, err := load(t, head+`session:
  secret_files:
    - short
    - missing
  redis: {password: x, password_file: redis}
providers:
  - {id: gh, type: github, client_id: x, client_secret: y, client_secret_file: client}
  - {id: gh2, type: github, client_id: x, client_secret_file: empty}
`)
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatalf("want Problems, got %v", err)
		}
		f := cfgPath + ":"
		wantProblems(t, ps,
			f+"4: session.secret_files[0]: secret must be at least 32 bytes",
			f+"5: session.secret_files[1]: cannot read secret file",
			f+"6: session.redis.password_file: set password or password_file, not both",
			f+"8: providers[0].client_secret_file: set client_secret or client_secret_file, not both",
			f+"9: providers[1].client_secret_file: secret file "+filepath.Join(dir, "empty")+" is empty",
		)
	})
}

// An alias bomb ("billion laughs": each anchor a list of nine aliases of the
// one before) stands for 9^7 values here in a few lines, and for billions
// with a few more. yaml.v3 bounds the
// expansion when it decodes, but the walk that checks the tree first follows
// aliases itself; it must give up with a problem, not expand them all.
func TestAliasBombIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "x0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("rules: [{name: r, prefix: /, allow: *a6}]\n")
	ps := problemsOf(t, b.String(), noEnv)
	if !slices.ContainsFunc(ps, func(p Problem) bool { return strings.Contains(p.Message, "alias bomb") }) {
		t.Fatalf("want an alias bomb problem, got:\n%v", ps)
	}

	// The bound leaves ordinary reuse alone: an anchored rule merged into
	// many others.
	b.Reset()
	b.WriteString(base + "rules:\n  - &r {name: r0, prefix: /p0, allow: {groups: [a, b, c]}}\n")
	for i := 1; i < 2000; i++ {
		fmt.Fprintf(&b, "  - {<<: *r, name: r%d, prefix: /p%d}\n", i, i)
	}
	if c := mustParse(t, b.String()); len(c.Rules) != 2000 {
		t.Fatalf("got %d rules, want 2000", len(c.Rules))
	}
}
