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

// A token endpoint that keeps failing keeps the session, retrying, for an
// hour from the first failed refresh; then the session ends. An endpoint
// that recovers within the hour refreshes it as usual, and a user coming
// back long after the token expired is not signed out by one failure.
func TestRefreshOutageIsBounded(t *testing.T) {
	for _, mode := range []string{"cookie", "redis"} {
		t.Run(mode, func(t *testing.T) {
			e, clock, c := refreshEnv(t, mode)
			e.idp.SetFaults(testidp.Faults{TokenDown: true})
			status := func() int {
				resp := e.get(c, "/", "Accept", "application/json")
				return resp.StatusCode
			}
			// Due (tokens live 10 minutes): the first failure keeps the
			// session, and so does every retry (at most once a minute)
			// within the hour.
			clock.Advance(6 * time.Minute)
			if s := status(); s != http.StatusOK {
				t.Fatalf("first failed refresh: status %d, want 200 (kept)", s)
			}
			before := e.idp.TokenRequests()
			clock.Advance(59 * time.Minute)
			if s := status(); s != http.StatusOK {
				t.Fatalf("59 minutes into the outage: status %d, want 200 (kept)", s)
			}
			if n := e.idp.TokenRequests(); n != before+1 {
				t.Fatalf("token requests %d, want %d (one retry)", n, before+1)
			}
			clock.Advance(2 * time.Minute)
			saved := c.Jar.Cookies(mustURL(e.srv.URL)) // a copy of the cookie, kept by a thief or a script
			resp := e.get(c, "/", "Accept", "application/json")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("61 minutes into the outage: status %d, want 401", resp.StatusCode)
			}
			// Replayed later, the copy does not start a fresh hour.
			clock.Advance(5 * time.Minute)
			replay, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
			replay.Header.Set("Accept", "application/json")
			for _, ck := range saved {
				replay.AddCookie(ck)
			}
			if resp, err := http.DefaultClient.Do(replay); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("the ended session's cookie replayed: status %d, want 401", resp.StatusCode)
			}
			if mode == "cookie" && expiredSession(resp) == nil {
				t.Fatalf("session cookie not cleared: %v", resp.Header["Set-Cookie"])
			}
			if s := status(); s != http.StatusUnauthorized {
				t.Fatalf("after the session ended: status %d, want 401", s)
			}
		})
	}
	t.Run("idle user comes back during an outage", func(t *testing.T) {
		e, clock, c := refreshEnv(t, "cookie")
		clock.Advance(3 * time.Hour) // the token expired long ago
		e.idp.SetFaults(testidp.Faults{TokenDown: true})
		if g := groupsSeen(t, e, c); g != "dev" {
			t.Fatalf("first request back, refresh failing: groups %q, want dev (kept)", g)
		}
		clock.Advance(61 * time.Minute)
		if resp := e.get(c, "/", "Accept", "application/json"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("an hour into the outage: status %d, want 401", resp.StatusCode)
		}
	})
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
		// A later outage starts a new hour: the earlier failures are forgotten.
		e.idp.SetFaults(testidp.Faults{TokenDown: true})
		clock.Advance(50 * time.Minute)
		if g := groupsSeen(t, e, c); g != "dev,ops" {
			t.Fatalf("second outage, first failure: groups %q, want dev,ops (kept)", g)
		}
		clock.Advance(30 * time.Minute)
		if g := groupsSeen(t, e, c); g != "dev,ops" {
			t.Fatalf("second outage, 30 minutes in: groups %q, want dev,ops (kept)", g)
		}
	})
}
