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
	resp := e.get(c, "/oauth2/callback?state="+urlEscape(state)+"&error=access_denied&error_description="+urlEscape("<script>alert(1)</script>"))
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
