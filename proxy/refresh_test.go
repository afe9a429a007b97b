package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testclock"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// newFakeClock is kept by name because proxy/lockout_test.go uses it too.
func newFakeClock() *testclock.Clock { return testclock.New(time.Now()) }

// refreshEnv is a gateway keeping sessions in store ("cookie" or "redis")
// with an IdP issuing 10-minute tokens, both on the clock returned, and a
// client logged in to it.
func refreshEnv(t *testing.T, store string) (*env, *testclock.Clock, *http.Client) {
	t.Helper()
	redisAddr := ""
	if store == "redis" {
		redisAddr = testpeers.Redis(t)
	}
	clock := newFakeClock()
	e := newEnv(t, envOptions{now: clock.Now, redis: redisAddr, idpOpts: []testidp.Option{testidp.WithTokenTTL(10 * time.Minute), testidp.WithClock(clock.Now)}})
	c := e.client()
	e.oidcLogin(c, "/")
	return e, clock, c
}

func groupsSeen(t *testing.T, e *env, c *http.Client) string {
	t.Helper()
	resp := e.get(c, "/", "Accept", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Log(e.logs.String())
	}
	got := echoed(t, resp)
	return strings.Join(got.Headers["X-Forwarded-Groups"], ",")
}

func TestRefresh(t *testing.T) {
	for _, mode := range []string{"cookie", "redis"} {
		t.Run(mode, func(t *testing.T) {
			e, clock, c := refreshEnv(t, mode)
			if n := e.idp.TokenRequests(); n != 1 {
				t.Fatalf("token requests after login: %d", n)
			}
			if g := groupsSeen(t, e, c); g != "dev" {
				t.Fatalf("groups %q", g)
			}
			// Not yet due: no refresh.
			clock.Advance(4 * time.Minute)
			groupsSeen(t, e, c)
			if n := e.idp.TokenRequests(); n != 1 {
				t.Fatalf("refreshed too early: %d token requests", n)
			}
			// Group membership changes at the IdP; inside refresh_before the
			// next request refreshes and sees it.
			u := e.idp.User()
			u.Groups = []string{"dev", "ops"}
			e.idp.SetUser(u)
			clock.Advance(2 * time.Minute)
			if g := groupsSeen(t, e, c); g != "dev,ops" {
				t.Fatalf("groups after refresh %q", g)
			}
			if n := e.idp.TokenRequests(); n != 2 {
				t.Fatalf("token requests after refresh: %d, want 2", n)
			}
			// The rotated refresh token was kept: the next refresh works too.
			clock.Advance(6 * time.Minute)
			groupsSeen(t, e, c)
			if n := e.idp.TokenRequests(); n != 3 {
				t.Fatalf("token requests after second refresh: %d, want 3", n)
			}
		})
	}
}

func TestRefreshBurstRefreshesOnce(t *testing.T) {
	for _, mode := range []string{"cookie", "redis"} {
		t.Run(mode, func(t *testing.T) {
			e, clock, c := refreshEnv(t, mode)
			targets := []string{e.srv.URL}
			if mode == "redis" {
				// A second replica sharing Redis and the IdP.
				second := httptest.NewServer(e.build(e.cfg))
				t.Cleanup(second.Close)
				targets = append(targets, second.URL)
			}
			clock.Advance(6 * time.Minute)
			cookies := c.Jar.Cookies(mustURL(e.srv.URL))
			var wg sync.WaitGroup
			errs := make(chan string, 40)
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func(target string) {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodGet, target+"/", nil)
					req.Header.Set("Accept", "application/json")
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err.Error()
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						errs <- resp.Status
					}
				}(targets[i%len(targets)])
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Errorf("request in the burst failed: %s", e)
			}
			if n := e.idp.TokenRequests(); n != 2 {
				t.Fatalf("token requests: %d, want 2 (login + one refresh)", n)
			}
		})
	}
}

func TestFatalRefreshEndsSession(t *testing.T) {
	e, clock, c := refreshEnv(t, "cookie")
	e.idp.RevokeRefreshTokens()
	clock.Advance(6 * time.Minute)
	resp := e.get(c, "/", "Accept", "application/json")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401 after invalid_grant", resp.StatusCode)
	}
	if expiredSession(resp) == nil {
		t.Fatalf("session cookie not cleared: %v", resp.Header["Set-Cookie"])
	}
}

// A token endpoint that keeps failing keeps the session, retrying, until
// the access token has been expired for an hour; then the session ends. An
// endpoint that recovers within the hour refreshes it as usual.
func TestRefreshOutageIsBounded(t *testing.T) {
	for _, mode := range []string{"cookie", "redis"} {
		t.Run(mode, func(t *testing.T) {
			e, clock, c := refreshEnv(t, mode)
			e.idp.SetFaults(testidp.Faults{TokenDown: true})
			status := func() int {
				resp := e.get(c, "/", "Accept", "application/json")
				return resp.StatusCode
			}
			// Due (tokens live 10 minutes), then expired: kept while within
			// the hour, trying again at most once a minute.
			clock.Advance(6 * time.Minute)
			if s := status(); s != http.StatusOK {
				t.Fatalf("first failed refresh: status %d, want 200 (kept)", s)
			}
			before := e.idp.TokenRequests()
			clock.Advance(63 * time.Minute) // 59 minutes past the token's expiry
			if s := status(); s != http.StatusOK {
				t.Fatalf("59 minutes past expiry: status %d, want 200 (kept)", s)
			}
			if n := e.idp.TokenRequests(); n != before+1 {
				t.Fatalf("token requests %d, want %d (one retry)", n, before+1)
			}
			clock.Advance(2 * time.Minute)
			resp := e.get(c, "/", "Accept", "application/json")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("61 minutes past expiry: status %d, want 401", resp.StatusCode)
			}
			if mode == "cookie" && expiredSession(resp) == nil {
				t.Fatalf("session cookie not cleared: %v", resp.Header["Set-Cookie"])
			}
			if s := status(); s != http.StatusUnauthorized {
				t.Fatalf("after the session ended: status %d, want 401", s)
			}
		})
	}
	t.Run("recovers within the grace", func(t *testing.T) {
		e, clock, c := refreshEnv(t, "cookie")
		e.idp.SetFaults(testidp.Faults{TokenDown: true})
		clock.Advance(30 * time.Minute)
		if g := groupsSeen(t, e, c); g != "dev" {
			t.Fatalf("groups during the outage %q", g)
		}
		e.idp.SetFaults(testidp.Faults{})
		u := e.idp.User()
		u.Groups = []string{"dev", "ops"}
		e.idp.SetUser(u)
		clock.Advance(2 * time.Minute)
		if g := groupsSeen(t, e, c); g != "dev,ops" {
			t.Fatalf("groups after the endpoint recovered %q, want dev,ops (refreshed)", g)
		}
	})
}
