package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func loginStatus(t *testing.T, e *env, user, password string) int {
	t.Helper()
	resp := e.localLogin(e.client(), user, password, "/")
	b := body(t, resp)
	if resp.StatusCode == http.StatusUnauthorized && !strings.Contains(b, "Invalid username or password.") {
		t.Fatalf("401 without the one failure message: %s", b)
	}
	return resp.StatusCode
}

func TestLockoutPerAccountWithAlternateIdentifiers(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, envOptions{now: clock.Now})
	// Five failures under different spellings of one account.
	for _, user := range []string{"carol", "CAROL", " Carol ", "carol@example.com", "CAROL@EXAMPLE.COM"} {
		if s := loginStatus(t, e, user, "wrong password"); s != http.StatusUnauthorized {
			t.Fatalf("%q: %d", user, s)
		}
	}
	// Now even the right password is refused, and it looks the same.
	if s := loginStatus(t, e, "carol", carolPassword); s != http.StatusUnauthorized {
		t.Fatalf("locked account: %d, want 401", s)
	}
	if !strings.Contains(e.logs.String(), `"reason":"user locked"`) {
		t.Fatal("the log does not say the account is locked")
	}
	clock.Advance(16 * time.Minute)
	if s := loginStatus(t, e, "carol", carolPassword); s != http.StatusSeeOther {
		t.Fatalf("after the lockout: %d, want 303", s)
	}
}

func TestLockoutSuccessResets(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := 0; i < 4; i++ {
		loginStatus(t, e, "carol", "wrong password")
	}
	if s := loginStatus(t, e, "carol", carolPassword); s != http.StatusSeeOther {
		t.Fatalf("4 failures then the right password: %d", s)
	}
	loginStatus(t, e, "carol", "wrong password")
	if s := loginStatus(t, e, "carol", carolPassword); s != http.StatusSeeOther {
		t.Fatalf("a success reset the count; one more failure must not lock: %d", s)
	}
}

func TestPasswordSprayingLocksTheIP(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := 0; i < 20; i++ {
		loginStatus(t, e, fmt.Sprintf("user%d", i), "Winter2026!")
	}
	if s := loginStatus(t, e, "carol", carolPassword); s != http.StatusUnauthorized {
		t.Fatalf("after spraying 20 accounts from one IP: %d, want 401", s)
	}
	if !strings.Contains(e.logs.String(), `"reason":"ip locked"`) {
		t.Fatal("the log does not say the IP is locked")
	}
}

func TestSpoofedForwardedForDoesNotEvadeIPLimit(t *testing.T) {
	e := newEnv(t, envOptions{}) // no trusted proxies: X-Forwarded-For is ignored
	for i := 0; i < 20; i++ {
		c := e.client()
		page := e.get(c, "/oauth2/sign_in")
		m := csrfRe.FindStringSubmatch(body(t, page))
		req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_in"), strings.NewReader(fmt.Sprintf("csrf=%s&username=u%d&password=x", m[1], i)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))
		req.Header.Set("X-Real-IP", fmt.Sprintf("10.0.1.%d", i))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if s := loginStatus(t, e, "carol", carolPassword); s != http.StatusUnauthorized {
		t.Fatalf("rotating X-Forwarded-For evaded the IP limit: %d", s)
	}
}

func TestOversizedLoginInputRefusedBeforeHashing(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	m := csrfRe.FindStringSubmatch(body(t, e.get(c, "/oauth2/sign_in")))
	for name, tc := range map[string]struct {
		form string
		want int
	}{
		"2 KiB password": {"csrf=" + m[1] + "&username=carol&password=" + strings.Repeat("a", 2048), http.StatusBadRequest},
		"1 MiB body":     {"csrf=" + m[1] + "&username=" + strings.Repeat("a", 1<<20), http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_in"), strings.NewReader(tc.form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, tc.want)
		}
	}
}
