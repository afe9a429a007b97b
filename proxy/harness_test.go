package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/bearer"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/echo"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/lockout"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/providers"
	"github.com/gatehouse-dev/gatehouse/providers/local"
	"github.com/gatehouse-dev/gatehouse/providers/oidc"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/session"
)

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// Local test users; passwords are hashed once per test binary.
const (
	carolPassword = "correct horse battery staple"
)

var (
	hashOnce  sync.Once
	carolHash string
)

func carolPasswordHash(t testing.TB) string {
	hashOnce.Do(func() {
		h, err := local.HashPassword(carolPassword)
		if err != nil {
			panic(err)
		}
		carolHash = h
	})
	return carolHash
}

// env is a running gateway in front of an echo upstream, with a test IdP.
type env struct {
	t        *testing.T
	gw       *proxy.Gateway
	srv      *httptest.Server
	upstream *httptest.Server
	idp      *testidp.IDP
	logs     *syncBuffer
	cfg      *config.Config
	opts     envOptions
}

func (o envOptions) sessionYAML() string {
	out := o.session
	if o.redis != "" {
		out += "\n  store: redis\n  redis: {url: \"redis://" + o.redis + "/0\"}"
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envOptions tweak the generated config.
type envOptions struct {
	rules     string // YAML list body for rules; default: everything needs sign-in
	extra     string // more top-level YAML (roles, …)
	upstreams string // YAML list body; default: the echo upstream at /
	trusted   string // trusted_proxies list
	upstream  http.Handler
	session   string // extra YAML lines under session:
	now       func() time.Time
	idpOpts   []testidp.Option
	redis     string // address of a redis-server: use the Redis store
	bearer    bool   // accept bearer JWTs from the test IdP
	// tunnelChecks, when set, drives open WebSocket tunnels' session checks.
	tunnelChecks chan time.Time
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}}
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	up := o.upstream
	if up == nil {
		up = echo.Handler()
	}
	e.upstream = httptest.NewServer(up)
	t.Cleanup(e.upstream.Close)
	e.idp = testidp.New(t, append([]testidp.Option{testidp.WithRedirectURI(e.srv.URL + "/oauth2/callback")}, o.idpOpts...)...)
	e.opts = o

	dir := t.TempDir()
	users := fmt.Sprintf("users:\n  - username: carol\n    email: carol@example.com\n    groups: [ops]\n    password: %q\n", carolPasswordHash(t))
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.rules == "" {
		o.rules = "  - {name: health, path: /healthz, allow: public}\n  - {name: signed-in, prefix: /, allow: authenticated}\n"
	}
	if o.upstreams == "" {
		o.upstreams = fmt.Sprintf("  - {path: /, url: %q}\n", e.upstream.URL)
	}
	if o.trusted == "" {
		o.trusted = "[]"
	}
	raw := fmt.Sprintf(`
server:
  public_url: %q
  trusted_proxies: %s
session:
  secrets: [%q]
  cookie: {secure: false}
%s
providers:
  - {id: idp, type: oidc, name: Test IdP, issuer: %q, client_id: %q, client_secret: %q}
  - {id: local, type: local, users_file: users.yaml, totp: "off"}
upstreams:
%s
rules:
%s
%s
`, e.srv.URL, o.trusted, testSecret, o.sessionYAML(), e.idp.Issuer(), e.idp.ClientID(), e.idp.ClientSecret(), o.upstreams, o.rules, o.extra)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, raw)
	}
	e.cfg = cfg
	e.gw = e.build(cfg)
	mu.Lock()
	handler = e.gw
	mu.Unlock()
	return e
}

func (e *env) build(cfg *config.Config) *proxy.Gateway {
	t := e.t
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var redirectProviders []providers.Provider
	var localAuth providers.PasswordAuthenticator
	for _, pc := range cfg.Providers {
		switch pc.Type {
		case "oidc":
			p, err := oidc.New(ctx, pc, oidc.Options{Logger: log, HTTPClient: e.idp.Client(), Now: e.opts.now})
			if err != nil {
				t.Fatal(err)
			}
			waitReady(t, p)
			redirectProviders = append(redirectProviders, p)
		case "local":
			p, err := local.New(pc, local.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			localAuth = p
		}
	}
	sopts := session.Options{Logger: log, Now: e.opts.now}
	var store session.Store
	var ready []func(context.Context) error
	if cfg.Session.Store == "redis" {
		client, err := session.NewRedisClient(cfg.Session.Redis)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		rs, err := session.NewRedisStore(client, cfg.Session, sopts)
		if err != nil {
			t.Fatal(err)
		}
		store, ready = rs, append(ready, rs.Ping)
	} else {
		cs, err := session.NewCookieStore(cfg.Session, sopts)
		if err != nil {
			t.Fatal(err)
		}
		store = cs
	}
	states, err := session.NewLoginStates(cfg.Session, sopts)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := assertion.New(cfg.Assertion, e.srv.URL, assertion.Options{Now: e.opts.now})
	if err != nil {
		t.Fatal(err)
	}
	var verifier *bearer.Verifier
	if e.opts.bearer {
		verifier, err = bearer.New(ctx, []config.BearerIssuer{{Issuer: e.idp.Issuer(), Audiences: []string{e.idp.ClientID()}, Algorithms: []string{"RS256", "ES256"}, GroupsClaim: "groups"}},
			bearer.Options{HTTPClient: e.idp.Client(), Logger: log, Now: e.opts.now})
		if err != nil {
			t.Fatal(err)
		}
	}
	limiter, err := lockout.NewMemory(cfg.Login, lockout.Options{Now: e.opts.now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := proxy.New(proxy.Options{Config: cfg, Sessions: store, LoginStates: states, Providers: redirectProviders, Local: localAuth, Logger: log, Now: e.opts.now, ReadyChecks: ready,
		Limiter: limiter, Hashing: lockout.NewHashing(cfg.Login.MaxConcurrent), Assertion: signer, Bearer: verifier, Metrics: metrics.New(),
		TunnelChecks: e.opts.tunnelChecks})
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func waitReady(t *testing.T, p providers.Provider) {
	t.Helper()
	r, ok := p.(providers.Readier)
	if !ok {
		return
	}
	if err := r.Ready(); err != nil {
		t.Fatalf("provider %s not ready: %v", p.ID(), err)
	}
}

// client is a browser-like client: a cookie jar, no automatic redirects.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) get(c *http.Client, path string, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// signOut signs c out the way the sign-out page's form does (POST with its
// CSRF token) and returns the answer, its body closed.
func (e *env) signOut(c *http.Client) *http.Response {
	e.t.Helper()
	m := csrfRe.FindStringSubmatch(body(e.t, e.get(c, "/oauth2/sign_out")))
	if m == nil {
		e.t.Fatal("the sign-out page has no CSRF token")
	}
	req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_out"), strings.NewReader("csrf="+m[1]))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (e *env) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return e.srv.URL + path
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// localLogin signs c in as carol through the local form and returns the final response.
func (e *env) localLogin(c *http.Client, user, password, rd string) *http.Response {
	e.t.Helper()
	page := e.get(c, "/oauth2/sign_in?rd="+url.QueryEscape(rd))
	m := csrfRe.FindStringSubmatch(body(e.t, page))
	if m == nil {
		e.t.Fatal("sign-in page has no CSRF token")
	}
	form := url.Values{"csrf": {m[1]}, "username": {user}, "password": {password}, "rd": {rd}}
	req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_in"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// oidcLogin runs start → IdP authorize → callback and returns the callback's response.
func (e *env) oidcLogin(c *http.Client, rd string) *http.Response {
	e.t.Helper()
	start := e.get(c, "/oauth2/start?provider=idp&rd="+url.QueryEscape(rd))
	if start.StatusCode != http.StatusFound {
		e.t.Fatalf("start: status %d", start.StatusCode)
	}
	cb, err := e.idp.Authorize(start.Header.Get("Location"))
	if err != nil {
		e.t.Fatalf("authorize: %v", err)
	}
	return e.get(c, cb.String())
}

// echoed decodes what the echo upstream received.
func echoed(t *testing.T, r *http.Response) echo.Request {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 from upstream; body: %s", r.StatusCode, body(t, r))
	}
	var got echo.Request
	if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func urlEscape(s string) string { return url.QueryEscape(s) }

// expiredSession returns the Set-Cookie of resp that expires gatehouse's
// session cookie (_gatehouse, Max-Age < 0), or nil.
func expiredSession(resp *http.Response) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == "_gatehouse" && ck.MaxAge < 0 {
			return ck
		}
	}
	return nil
}
