package proxy_test

import (
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
