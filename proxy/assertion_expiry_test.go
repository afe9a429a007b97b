package proxy_test

import (
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
