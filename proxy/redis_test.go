package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

func TestRedisOutageFailsClosedAndRecovers(t *testing.T) {
	rs := testpeers.StartRedis(t)
	e := newEnv(t, envOptions{redis: rs.Addr})
	c := e.client()
	e.oidcLogin(c, "/")
	if got := echoed(t, e.get(c, "/")); got.Headers["X-Forwarded-Email"][0] != "alice@example.com" {
		t.Fatal("not signed in")
	}
	rs.StopKeepingData()

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, e.url("/form"), strings.NewReader("a=1"))
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s with Redis down: %d, want 503", method, resp.StatusCode)
		}
		if !strings.Contains(b, "session store is unavailable") || strings.Contains(b, rs.Addr) {
			t.Fatalf("503 page: %s", b)
		}
		for _, ck := range resp.Cookies() {
			if strings.HasPrefix(ck.Name, "_gatehouse") && ck.MaxAge < 0 {
				t.Fatal("the session cookie was cleared during an outage")
			}
		}
	}
	// Forward-auth never answers 2xx on an error path.
	if r := e.get(c, "/oauth2/auth"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("forward-auth with Redis down: %d", r.StatusCode)
	}
	if r := e.get(c, "/ready"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/ready with Redis down: %d", r.StatusCode)
	}
	if r := e.get(c, "/ping"); r.StatusCode != http.StatusOK {
		t.Fatalf("/ping with Redis down: %d", r.StatusCode)
	}

	rs.Start()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequest(http.MethodGet, e.url("/"), nil)
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not recover after Redis came back: %d", resp.StatusCode)
		}
		<-tick.C
	}
	if r := e.get(c, "/ready"); r.StatusCode != http.StatusOK {
		t.Fatalf("/ready after recovery: %d", r.StatusCode)
	}
}

func TestRedisSignOutRevokesCopiedCookie(t *testing.T) {
	e := newEnv(t, envOptions{redis: testpeers.Redis(t)})
	c := e.client()
	e.oidcLogin(c, "/")
	copied := c.Jar.Cookies(mustURL(e.srv.URL))

	e.signOut(c)

	req, _ := http.NewRequest(http.MethodGet, e.url("/"), nil)
	req.Header.Set("Accept", "application/json")
	for _, ck := range copied {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a copy of the signed-out cookie still works: %d", resp.StatusCode)
	}
}
