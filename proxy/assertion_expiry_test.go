package proxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// The assertion lives as long as the session, not as the access token the
// session started with: with refreshes that bring no new ID token (the
// identity stays), the upstream still gets X-Gatehouse-Assertion long after
// the first token expired. It was dropped once that token's expiry passed.
func TestAssertionOutlivesTheFirstAccessToken(t *testing.T) {
	e, clock, c := refreshEnv(t, "cookie") // 10-minute tokens
	e.idp.SetFaults(testidp.Faults{OmitIDToken: true})
	for _, step := range []time.Duration{11 * time.Minute, 30 * time.Minute} {
		clock.Advance(step)
		got := echoed(t, e.get(c, "/", "Accept", "application/json"))
		if v := got.Headers["X-Gatehouse-Assertion"]; len(v) != 1 || v[0] == "" {
			t.Fatalf("after %v more: assertion %v (user %v)", step, v, got.Headers["X-Forwarded-User"])
		}
	}
}

// SECURITY.md: the IdP's keys unreachable is 503, not an invalid token. A
// refresh that cannot verify the new ID token because the JWKS is down (the
// IdP rotated its key) keeps the session; a new sign-in answers 503. Both
// treated the outage as a forged token: the refresh signed the user out and
// the sign-in said the answer could not be verified.
func TestJWKSDownIsUnavailableNotInvalid(t *testing.T) {
	e, clock, c := refreshEnv(t, "cookie") // 10-minute tokens
	e.idp.RotateKey()
	e.idp.SetFaults(testidp.Faults{JWKSDown: true})
	clock.Advance(6 * time.Minute) // inside refresh_before: this request refreshes
	if resp := e.get(c, "/", "Accept", "application/json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed-in request while the JWKS is down: %d, want 200 (session kept)", resp.StatusCode)
	}
	if n := e.idp.TokenRequests(); n != 2 {
		t.Fatalf("token requests: %d, want the login's and one refresh", n)
	}
	resp := e.oidcLogin(e.client(), "/")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("sign-in while the JWKS is down: %d, want 503", resp.StatusCode)
	}
}
