package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A081: the OAuth redirect_uri comes from public_url, never from Host.
func TestStartIgnoresHostHeader(t *testing.T) {
	e := newEnv(t, envOptions{})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	resp := rawGet(t, addr, "/oauth2/start?provider=idp&rd=/", [][2]string{{"Host", "evil.example"}})
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusFound {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if got := loc.Query().Get("redirect_uri"); got != e.srv.URL+"/oauth2/callback" {
			t.Fatalf("redirect_uri %q built from the Host header", got)
		}
	}
}

// A089: a health-check User-Agent never authenticates anything.
func TestHealthCheckUserAgentIsNotAuthentication(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	for _, path := range []string{"/app", "/oauth2/auth"} {
		resp := e.get(e.client(), path, "User-Agent", "GoogleHC/1.0", "Accept", "application/json",
			"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/app")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a health-check UA: %d, want 401", path, resp.StatusCode)
		}
	}
	if r := e.get(e.client(), "/ping", "User-Agent", "GoogleHC/1.0"); r.StatusCode != http.StatusOK {
		t.Errorf("/ping: %d", r.StatusCode)
	}
}

// A025 / ASVS 7.2.4: a login always issues a new session value, even when
// the browser already holds one (planted or old).
func TestLoginIssuesNewSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	before := cookieValue(c, e, "_gatehouse")
	e.localLogin(c, "carol", carolPassword, "/")
	after := cookieValue(c, e, "_gatehouse")
	if before == "" || after == "" || before == after {
		t.Fatal("the second login kept the session cookie value")
	}
	if got := echoed(t, e.get(c, "/")); got.Headers["X-Forwarded-User"][0] != "carol" {
		t.Fatalf("after the second login: %v", got.Headers["X-Forwarded-User"])
	}
}

func cookieValue(c *http.Client, e *env, name string) string {
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// A111: sign-out clears cookies and asks the browser to drop them.
func TestSignOutClearsSiteData(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	resp := e.signOut(c)
	if got := resp.Header.Get("Clear-Site-Data"); got != `"cookies"` {
		t.Fatalf("Clear-Site-Data %q", got)
	}
}

// HSTS is sent on gatehouse's pages when its public URL is https.
func TestHSTSWhenPublicURLIsHTTPS(t *testing.T) {
	e := newEnv(t, envOptions{})
	if h := e.get(e.client(), "/oauth2/sign_in").Header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS over plain http: %q", h)
	}
	cfg := *e.cfg
	cfg.Server.PublicURL = "https://auth.example.com" // needs a restart: a new gateway
	rec := httptest.NewRecorder()
	e.build(&cfg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://auth.example.com/oauth2/sign_in", nil))
	if h := rec.Header().Get("Strict-Transport-Security"); rec.Code != http.StatusOK || !strings.HasPrefix(h, "max-age=31536000") {
		t.Fatalf("HSTS with an https public URL: %d %q", rec.Code, h)
	}
}

// With pass_id_token, Authorization is gatehouse's alone: a client's own
// header never reaches the upstream, whatever the session holds.
func TestPassIDTokenUpstreamNeverGetsClientAuthorization(t *testing.T) {
	e0 := newEnv(t, envOptions{})
	up := "  - {path: /, url: \"" + e0.upstream.URL + "\", pass_id_token: true}\n"
	e := newEnv(t, envOptions{upstreams: up, rules: "  - {name: health, path: /healthz, allow: public}\n  - {name: all, prefix: /, allow: authenticated}\n"})
	forged := "Bearer forged.id.token"
	if got := echoed(t, e.get(e.client(), "/healthz", "Authorization", forged)); len(got.Headers["Authorization"]) != 0 {
		t.Fatalf("anonymous: upstream got Authorization %v", got.Headers["Authorization"])
	}
	c := e.client()
	e.localLogin(c, "carol", carolPassword, "/") // local sessions hold no ID token
	if got := echoed(t, e.get(c, "/x", "Authorization", forged)); len(got.Headers["Authorization"]) != 0 {
		t.Fatalf("local session: upstream got Authorization %v", got.Headers["Authorization"])
	}
	c2 := e.client()
	e.oidcLogin(c2, "/")
	got := echoed(t, e.get(c2, "/x", "Authorization", forged))
	if v := got.Headers["Authorization"]; len(v) != 1 || !strings.HasPrefix(v[0], "Bearer eyJ") {
		t.Fatalf("OIDC session: upstream got Authorization %v, want gatehouse's ID token", v)
	}
}

// Path and method overrides never reach the upstream in proxy mode, not even
// from a trusted proxy: the rules judged the real request line.
func TestRequestOverridesNeverReachUpstream(t *testing.T) {
	for _, trusted := range []string{"[]", "[127.0.0.1/32]"} {
		e := newEnv(t, envOptions{trusted: trusted, rules: "  - {name: admin, prefix: /admin, deny: true}\n  - {name: public, prefix: /, allow: public}\n"})
		got := echoed(t, e.get(e.client(), "/public", "X-Rewrite-URL", "/admin/delete", "X-Original-URL", "/admin/x",
			"X-Original-Method", "DELETE", "X-Forwarded-Uri", "/admin/y", "X-Forwarded-Method", "DELETE"))
		for _, h := range []string{"X-Rewrite-Url", "X-Original-Url", "X-Original-Method", "X-Forwarded-Uri", "X-Forwarded-Method"} {
			if v := got.Headers[h]; len(v) != 0 {
				t.Errorf("trusted_proxies %s: upstream got %s: %v", trusted, h, v)
			}
		}
	}
}

// SECURITY.md A025: GET sign_in with a valid session clears it (an expired
// cookie, Max-Age < 0) and still renders the page.
func TestSignInPageEndsAnExistingSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.localLogin(c, "carol", carolPassword, "/")
	if r := e.get(c, "/x", "Accept", "application/json"); r.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", r.StatusCode)
	}
	resp := e.get(c, "/oauth2/sign_in")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: %d", resp.StatusCode)
	}
	if ck := expiredSession(resp); ck == nil || ck.Value != "" {
		t.Fatalf("session cookie not cleared: %v", resp.Header["Set-Cookie"])
	}
	if r := e.get(c, "/x", "Accept", "application/json"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the sign-in page: %d, want 401", r.StatusCode)
	}
}
