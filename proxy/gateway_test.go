package proxy_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

func TestAnonymousBrowserIsSentToSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp := e.get(e.client(), "/app/page?x=1", "Accept", "text/html")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/oauth2/sign_in" || loc.Query().Get("rd") != "/app/page?x=1" {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
}

func TestAnonymousAPIGetsJSON401(t *testing.T) {
	e := newEnv(t, envOptions{})
	for name, hdr := range map[string][]string{
		"accept json": {"Accept", "application/json"},
		"xhr":         {"X-Requested-With", "XMLHttpRequest"},
	} {
		t.Run(name, func(t *testing.T) {
			resp := e.get(e.client(), "/api/x", hdr...)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if resp.Header.Get("Location") != "" {
				t.Fatal("401 carries a Location")
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			var out struct {
				Error  string
				Status int
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != 401 {
				t.Fatalf("body: %+v %v", out, err)
			}
		})
	}
}

func TestLocalLoginReachesUpstreamWithIdentity(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	resp := e.localLogin(c, "carol", carolPassword, "/dashboard")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login status %d, want 303: %s", resp.StatusCode, body(t, resp))
	}
	if got := resp.Header.Get("Location"); got != "/dashboard" {
		t.Fatalf("Location %q", got)
	}
	got := echoed(t, e.get(c, "/dashboard"))
	if got.Headers["X-Forwarded-Email"][0] != "carol@example.com" || got.Headers["X-Forwarded-User"][0] != "carol" || got.Headers["X-Forwarded-Groups"][0] != "ops" {
		t.Fatalf("identity headers: %v", got.Headers)
	}
	for _, c := range got.Headers["Cookie"] {
		if strings.Contains(c, "_gatehouse") {
			t.Fatalf("gateway cookie reached the upstream: %q", c)
		}
	}
}

func TestLocalLoginFailureLooksTheSame(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "carol", "nope"},
		{"unknown user", "mallory", "nope"},
		{"password with trailing space", "carol", carolPassword + " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.localLogin(e.client(), tc.user, tc.password, "/")
			b := body(t, resp)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "Invalid username or password.") {
				t.Fatalf("status %d body %s", resp.StatusCode, b)
			}
			for _, c := range resp.Cookies() {
				if c.Name == "_gatehouse" && c.MaxAge >= 0 {
					t.Fatal("failed login set a session cookie")
				}
			}
		})
	}
}

func TestLocalLoginRequiresCSRFToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.get(c, "/oauth2/sign_in") // sets the CSRF cookie
	for _, tc := range []struct {
		name   string
		token  func(real string) string
		header [2]string
	}{
		{"missing token", func(string) string { return "" }, [2]string{}},
		{"wrong token", func(string) string { return "AAAA" }, [2]string{}},
		{"cross origin", func(real string) string { return real }, [2]string{"Sec-Fetch-Site", "cross-site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := csrfRe.FindStringSubmatch(body(t, e.get(c, "/oauth2/sign_in")))
			form := url.Values{"csrf": {tc.token(m[1])}, "username": {"carol"}, "password": {carolPassword}}
			req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_in"), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.header[0] != "" {
				req.Header.Set(tc.header[0], tc.header[1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
		})
	}
}

func TestOIDCLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	cb := e.oidcLogin(c, "/after?q=1")
	if cb.StatusCode != http.StatusFound || cb.Header.Get("Location") != "/after?q=1" {
		t.Fatalf("callback: %d %q %s", cb.StatusCode, cb.Header.Get("Location"), body(t, cb))
	}
	if cb.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatal("callback without Referrer-Policy: no-referrer")
	}
	got := echoed(t, e.get(c, "/after?q=1"))
	if got.Headers["X-Forwarded-Email"][0] != "alice@example.com" || got.Headers["X-Forwarded-Preferred-Username"][0] != "alice" || got.Headers["X-Forwarded-Groups"][0] != "dev" {
		t.Fatalf("identity headers: %v", got.Headers)
	}
}

func TestOIDCLoginRejectsHostileTokens(t *testing.T) {
	cases := map[string]testidp.Faults{
		"wrong nonce":             {WrongNonce: true},
		"no nonce":                {OmitNonce: true},
		"wrong audience":          {WrongAudience: true},
		"extra audience":          {ExtraAudience: true},
		"expired":                 {Expired: true},
		"alg none":                {AlgNone: true},
		"hs256 with public key":   {HS256WithPublicKey: true},
		"unknown kid":             {UnknownKID: true},
		"issuer trailing slash":   {IssuerTrailingSlash: true},
		"no id token":             {OmitIDToken: true},
		"userinfo for other user": {EmailOnlyInUserinfo: true, UserinfoWrongSub: true},
	}
	for name, faults := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.idp.SetFaults(faults)
			c := e.client()
			cb := e.oidcLogin(c, "/")
			if cb.StatusCode < 400 || cb.StatusCode >= 500 {
				t.Fatalf("callback status %d, want 4xx", cb.StatusCode)
			}
			b := body(t, cb)
			if strings.Contains(b, "nonce") || strings.Contains(b, "oidc:") || strings.Contains(b, "providers:") {
				t.Fatalf("error page leaks internals: %s", b)
			}
			if resp := e.get(c, "/", "Accept", "application/json"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after failed login: status %d, want 401 (no session)", resp.StatusCode)
			}
		})
	}
}

func TestCallbackStateIsSingleUse(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	start := e.get(c, "/oauth2/start?provider=idp&rd=/")
	cbURL, err := e.idp.Authorize(start.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.get(c, cbURL.String()); r.StatusCode != http.StatusFound {
		t.Fatalf("first callback %d", r.StatusCode)
	}
	if r := e.get(c, cbURL.String()); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed callback %d, want 400", r.StatusCode)
	}
	// A callback in a browser that never started the login is refused too.
	if r := e.get(e.client(), cbURL.String()); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign-browser callback %d, want 400", r.StatusCode)
	}
}

func TestCallbackRejectsMixUp(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	start := e.get(c, "/oauth2/start?provider=idp&rd=/")
	cbURL, err := e.idp.Authorize(start.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := cbURL.Query()
	q.Set("iss", "https://evil.example")
	cbURL.RawQuery = q.Encode()
	if r := e.get(c, cbURL.String()); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback with foreign iss: %d, want 400", r.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.localLogin(c, "carol", carolPassword, "/")
	if r := e.get(c, "/", "Accept", "application/json"); r.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", r.StatusCode)
	}
	// GET only shows the confirmation page.
	page := e.get(c, "/oauth2/sign_out")
	m := csrfRe.FindStringSubmatch(body(t, page))
	if m == nil {
		t.Fatal("no CSRF token on sign-out page")
	}
	if r := e.get(c, "/", "Accept", "application/json"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET sign_out ended the session: %d", r.StatusCode)
	}
	form := url.Values{"csrf": {m[1]}}
	req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_out"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("sign out: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if expiredSession(resp) == nil {
		t.Fatalf("session cookie not expired: %v", resp.Header["Set-Cookie"])
	}
	if r := e.get(c, "/", "Accept", "application/json"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign out: %d, want 401", r.StatusCode)
	}
}

func TestUserinfoNeverShowsTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	resp := e.get(c, "/oauth2/userinfo")
	b := body(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(b, "alice@example.com") {
		t.Fatalf("userinfo %d %s", resp.StatusCode, b)
	}
	for _, bad := range []string{"token", "eyJ"} {
		if strings.Contains(b, bad) {
			t.Fatalf("userinfo contains %q: %s", bad, b)
		}
	}
	if r := e.get(e.client(), "/oauth2/userinfo"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous userinfo %d", r.StatusCode)
	}
}
