package proxy_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestMetricsAfterLoginAndRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	for i := 0; i < 3; i++ {
		echoed(t, e.get(c, "/x"))
	}
	e.localLogin(e.client(), "carol", "wrong password", "/")
	e.get(e.client(), "/y", "Accept", "application/json")
	page := body(t, e.get(c, "/metrics"))
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",route="proxy"} 3`,
		`gatehouse_http_requests_total{code="401",route="proxy"} 1`,
		`gatehouse_logins_total{outcome="success",provider="idp"} 1`,
		`gatehouse_logins_total{outcome="failure",provider="local"} 1`,
		`gatehouse_decisions_total{result="allow",rule="signed-in"} 3`,
		`gatehouse_decisions_total{result="login",rule="signed-in"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="proxy"} 4`,
		`go_goroutines`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// SECURITY.md A151: a login the identity provider refuses (the user
// declined consent, or the provider denied them: ?error=access_denied on the
// callback) is a login failure like any other: a warn line with the
// request id, the provider and its error code, and a failure in
// gatehouse_logins_total. It used to leave only the generic 403 line and
// no count. The provider's error_description is never shown on the page.
func TestProviderRefusedLoginIsLoggedAndCounted(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	start := e.get(c, "/oauth2/start?provider=idp&rd=%2F")
	state := mustURL(start.Header.Get("Location")).Query().Get("state")
	// RFC 9207: the provider names itself in error answers too. An error
	// answer naming another issuer (a mix-up) is refused before it is
	// counted against this provider.
	c2 := e.client()
	mixStart := e.get(c2, "/oauth2/start?provider=idp&rd=%2F")
	mixState := mustURL(mixStart.Header.Get("Location")).Query().Get("state")
	if mix := e.get(c2, "/oauth2/callback?state="+urlEscape(mixState)+"&iss="+urlEscape("https://evil.example")+"&error=access_denied"); mix.StatusCode != http.StatusBadRequest {
		t.Fatalf("error answer from another issuer: status %d, want 400", mix.StatusCode)
	}
	resp := e.get(c, "/oauth2/callback?state="+urlEscape(state)+"&iss="+urlEscape(e.idp.Issuer())+"&error=access_denied&error_description="+urlEscape("<script>alert(1)</script>"))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("callback with error: status %d, want 403", resp.StatusCode)
	}
	if b := body(t, resp); strings.Contains(b, "<script>") || strings.Contains(b, "alert(1)") {
		t.Fatalf("the provider's error_description reached the page: %s", b)
	}
	rid := resp.Header.Get("X-Request-Id")
	found := false
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN","msg":"login failed"`) && strings.Contains(line, `"request_id":"`+rid+`"`) &&
			strings.Contains(line, `"provider":"idp"`) && strings.Contains(line, "access_denied") {
			found = true
		}
	}
	if !found {
		t.Errorf("no login-failed line for request %s:\n%s", rid, e.logs.String())
	}
	if page := body(t, e.get(c, "/metrics")); !strings.Contains(page, `gatehouse_logins_total{outcome="failure",provider="idp"} 1`) {
		t.Errorf("the refused login was not counted")
	}
}

// SECURITY.md A151: a session cookie that fails its signature is a security
// event, logged at info (the default level) with the request id, without
// the cookie's value; the request is anonymous.
func TestTamperedSessionCookieIsLogged(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	var tampered []string
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		if strings.HasPrefix(ck.Name, e.cfg.Session.Cookie.Name) && !strings.Contains(ck.Name, "csrf") {
			v := []byte(ck.Value)
			v[len(v)/2] ^= 1
			tampered = append(tampered, ck.Name+"="+string(v))
		}
	}
	if len(tampered) == 0 {
		t.Fatal("no session cookie after login")
	}
	resp := e.get(&http.Client{}, "/", "Accept", "application/json", "Cookie", strings.Join(tampered, "; "))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered cookie: status %d, want 401", resp.StatusCode)
	}
	rid := resp.Header.Get("X-Request-Id")
	found := false
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"level":"INFO","msg":"session cookie rejected"`) && strings.Contains(line, `"request_id":"`+rid+`"`) {
			found = true
			for _, ck := range tampered {
				if _, value, _ := strings.Cut(ck, "="); strings.Contains(line, value) {
					t.Errorf("the log line carries the cookie's value: %s", line)
				}
			}
		}
	}
	if !found {
		t.Errorf("no session-cookie-rejected line for request %s:\n%s", rid, e.logs.String())
	}
}
