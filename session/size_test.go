package session_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// cookieBudget is the most a typical OIDC session may take on the wire as
// "name=value": well inside one cookie, leaving room for the upstream's own.
const cookieBudget = 1200

// typicalOIDC is a typical OIDC login: UUID subject, verified email, five
// groups, a 40-byte refresh token, no access or ID token kept.
func typicalOIDC(now time.Time) *session.Session {
	return &session.Session{
		Identity: &identity.Identity{
			Provider:          "corp",
			Subject:           "5f0c8c1e-8d3a-4b7e-9f2a-1c6d7e8f9a0b",
			Email:             "alice.example@example.com",
			EmailVerified:     true,
			PreferredUsername: "alice",
			Name:              "Alice Example",
			Groups:            []string{"engineering", "platform-team", "oncall", "k8s-admins", "vpn-users"},
			Expiry:            now.Add(168 * time.Hour).UTC().Truncate(time.Second),
		},
		Tokens: session.Tokens{
			RefreshToken: "rt_0123456789abcdefghijklmnopqrstuvwxyzA", // 40 bytes
			Expiry:       now.Add(time.Hour).UTC().Truncate(time.Second),
		},
	}
}

// TestCookieSize asserts the size budget of a typical session cookie. Size is
// deterministic (unlike timings), so it is a test, not a benchmark.
func TestCookieSize(t *testing.T) {
	if n := len(typicalOIDC(time.Now()).Tokens.RefreshToken); n != 40 {
		t.Fatalf("refresh token is %d bytes, want 40", n)
	}
	// With an idle timeout the cookie also carries last-seen: the larger variant.
	for name, idle := range map[string]time.Duration{"no idle timeout": 0, "idle timeout": 30 * time.Minute} {
		c := testConfig()
		c.IdleTimeout = idle
		st := newCookieStore(t, c, time.Now)
		rec := httptest.NewRecorder()
		if err := st.Save(rec, sessiontest.WithCookie(""), typicalOIDC(time.Now())); err != nil {
			t.Fatal(err)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: %d cookies", name, len(cookies))
		}
		size := len(cookies[0].Name) + 1 + len(cookies[0].Value)
		t.Logf("%s: typical OIDC session cookie is %d bytes (name=value), budget %d", name, size, cookieBudget)
		if size > cookieBudget {
			t.Errorf("%s: cookie is %d bytes, budget %d", name, size, cookieBudget)
		}
	}
}

func BenchmarkCookieEncode(b *testing.B) {
	st := newCookieStore(b, testConfig(), time.Now)
	r := sessiontest.WithCookie("")
	s := typicalOIDC(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		c := *s
		if err := st.Save(httptest.NewRecorder(), r, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCookieDecode(b *testing.B) {
	st := newCookieStore(b, testConfig(), time.Now)
	var j sessiontest.Jar
	sessiontest.Save(b, st, &j, typicalOIDC(time.Now()))
	header := j.Request("/").Header.Get("Cookie")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(sessiontest.WithCookie(header)); err != nil {
			b.Fatal(err)
		}
	}
}
