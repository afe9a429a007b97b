package hotpath_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/jsonlog"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/session"
)

const secret = "hotpath-benchmark-secret-0123456789abcdef"

// body is the upstream's 100-byte answer, as in bench/cmd/benchpeer.
var body = []byte(strings.Repeat("x", 99) + "\n")

func upstream(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// gatewayConfig is bench/run.sh's config: one local provider, cookie
// sessions over plain HTTP, everything needs a login.
func gatewayConfig(tb testing.TB, upstreamURL string) *config.Config {
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	y := `
server:
  listen: 127.0.0.1:4180
  public_url: http://127.0.0.1:4180
  trusted_proxies: [127.0.0.1/32]
session:
  secrets: ["` + secret + `"]
  cookie: {secure: false}
providers:
  - {id: local, type: local, users_file: users.yaml, totp: "off"}
upstreams:
  - {path: /, url: "` + upstreamURL + `"}
rules:
  - {name: everyone, prefix: /, allow: authenticated}
default: deny
`
	cfg, err := config.Parse([]byte(y), filepath.Join(dir, "gatehouse.yaml"))
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

// loggers: gatehouse as shipped (the JSON access line at info, encoded by
// internal/jsonlog as `gatehouse serve` does; here into io.Discard, so the
// batched write(2) is not counted) and with logging off.
var loggers = []struct {
	name string
	new  func() *slog.Logger
}{
	{"log=json", func() *slog.Logger { return slog.New(jsonlog.New(io.Discard, nil)) }},
	{"log=off", func() *slog.Logger { return slog.New(slog.DiscardHandler) }},
}

func newGateway(tb testing.TB, cfg *config.Config, log *slog.Logger) (*proxy.Gateway, *session.CookieStore) {
	store, err := session.NewCookieStore(cfg.Session, session.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	states, err := session.NewLoginStates(cfg.Session, session.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	// The identity assertion is on by default, so it is part of the path.
	signer, err := assertion.New(cfg.Assertion, cfg.Server.PublicURL, assertion.Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	gw, err := proxy.New(proxy.Options{Config: cfg, Sessions: store, LoginStates: states, Logger: log, Assertion: signer})
	if err != nil {
		tb.Fatal(err)
	}
	return gw, store
}

// typicalCookie is the Cookie header of a typical OIDC-like session: email,
// five groups (the bench login's shape).
func typicalCookie(tb testing.TB, store *session.CookieStore) string {
	// As a login makes it: whole seconds, the identity expiring with the
	// session (an older session's identity takes a per-request copy).
	now := time.Now().Truncate(time.Second)
	s := &session.Session{
		Identity: &identity.Identity{
			Provider: "local", Subject: "bench", User: "bench", Email: "bench.user@example.com", EmailVerified: true,
			Groups: []string{"engineering", "platform-team", "oncall", "k8s-admins", "vpn-users"},
			Expiry: now.Add(168 * time.Hour),
		},
		CreatedAt: now, ExpiresAt: now.Add(168 * time.Hour),
	}
	rec := httptest.NewRecorder()
	if err := store.Save(rec, httptest.NewRequest(http.MethodGet, "/", nil), s); err != nil {
		tb.Fatal(err)
	}
	var parts []string
	for _, c := range rec.Result().Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// request is what wrk sends: from 127.0.0.1 with the session cookie and,
// for forward-auth, the ingress's X-Forwarded-* headers. conn is the
// context of the connection it arrives on (see onConnection).
func request(conn context.Context, target, cookie string, forwardAuth bool) *http.Request {
	r := httptest.NewRequestWithContext(conn, http.MethodGet, target, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("User-Agent", "wrk")
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	if forwardAuth {
		r.Header.Set("X-Forwarded-Method", "GET")
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "app.example.com")
		r.Header.Set("X-Forwarded-Uri", "/app/page?x=1")
	}
	return r
}

// onConnection is the context http.Server gives the requests of one
// connection to gw (its ConnContext): requests made with it are a
// keep-alive connection's, as wrk's are.
func onConnection(gw *proxy.Gateway) context.Context {
	return gw.ConnContext(context.Background(), nil)
}

func serve(b *testing.B, h http.Handler, mk func() *http.Request, want int) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, mk())
		if rec.Code != want {
			b.Fatalf("status %d, want %d", rec.Code, want)
		}
	}
}

// BenchmarkProxy is one authenticated proxied request (cookie session)
// through gatehouse, and through the bare tuned ReverseProxy of bench/run.sh,
// each request on the same keep-alive connection.
func BenchmarkProxy(b *testing.B) {
	up := upstream(b)
	cfg := gatewayConfig(b, up.URL)
	_, cookieStore := newGateway(b, cfg, loggers[1].new())
	cookie := typicalCookie(b, cookieStore) // the same request for every target
	b.Run("bare", func(b *testing.B) {
		target, _ := url.Parse(up.URL)
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		rp := &httputil.ReverseProxy{Transport: t, Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		}}
		serve(b, rp, func() *http.Request {
			return request(context.Background(), "http://127.0.0.1:4180/app/page", cookie, false)
		}, http.StatusOK)
	})
	for _, l := range loggers {
		b.Run("gatehouse/"+l.name, func(b *testing.B) {
			gw, _ := newGateway(b, cfg, l.new())
			conn := onConnection(gw)
			serve(b, gw, func() *http.Request { return request(conn, "http://127.0.0.1:4180/app/page", cookie, false) }, http.StatusOK)
		})
	}
}

// BenchmarkForwardAuth is one forward-auth answer with a valid cookie, and
// the bare 202 handler, each request on the same keep-alive connection.
func BenchmarkForwardAuth(b *testing.B) {
	cfg := gatewayConfig(b, "http://127.0.0.1:1")
	_, cookieStore := newGateway(b, cfg, loggers[1].new())
	cookie := typicalCookie(b, cookieStore)
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
		serve(b, h, func() *http.Request {
			return request(context.Background(), "http://127.0.0.1:4180/oauth2/auth", cookie, true)
		}, http.StatusAccepted)
	})
	for _, l := range loggers {
		b.Run("gatehouse/"+l.name, func(b *testing.B) {
			gw, _ := newGateway(b, cfg, l.new())
			conn := onConnection(gw)
			serve(b, gw, func() *http.Request { return request(conn, "http://127.0.0.1:4180/oauth2/auth", cookie, true) }, http.StatusAccepted)
		})
	}
}

// BenchmarkAnonymous is the redirect to sign-in for a request without a session.
func BenchmarkAnonymous(b *testing.B) {
	cfg := gatewayConfig(b, "http://127.0.0.1:1")
	gw, _ := newGateway(b, cfg, loggers[0].new())
	conn := onConnection(gw)
	serve(b, gw, func() *http.Request { return request(conn, "http://127.0.0.1:4180/app/page", "", false) }, http.StatusFound)
}

// BenchmarkCookieLoad is the session decode alone: parse the Cookie header,
// verify the MAC, decrypt, unmarshal the JSON.
func BenchmarkCookieLoad(b *testing.B) {
	cfg := gatewayConfig(b, "http://127.0.0.1:1")
	_, store := newGateway(b, cfg, loggers[1].new())
	r := request(context.Background(), "http://127.0.0.1:4180/app/page", typicalCookie(b, store), false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := store.Load(r); err != nil {
			b.Fatal(err)
		}
	}
}
