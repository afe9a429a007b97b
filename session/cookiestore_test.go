package session_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

const testSecret = "session-test-secret-0123456789abcdef"

func testConfig(secrets ...string) config.Session {
	if len(secrets) == 0 {
		secrets = []string{testSecret}
	}
	return config.Session{
		Store:    "cookie",
		Secrets:  secrets,
		Cookie:   config.Cookie{Name: "_gatehouse", SameSite: "lax"},
		Lifetime: 168 * time.Hour,
	}
}

func newCookieStore(t testing.TB, cfg config.Session, now func() time.Time) *session.CookieStore {
	t.Helper()
	st, err := session.NewCookieStore(cfg, session.Options{Now: now})
	if err != nil {
		t.Fatalf("NewCookieStore: %v", err)
	}
	return st
}

func TestCookieStoreConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T, now func() time.Time, secrets ...string) session.Store {
		return newCookieStore(t, testConfig(secrets...), now)
	})
}

func TestCookieName(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		c    config.Cookie
		want string
	}{
		{"default secure host-only", config.Cookie{}, "__Host-_gatehouse"},
		{"secure with domain", config.Cookie{Name: "sid", Domain: "example.com", Secure: &yes}, "__Secure-sid"},
		{"not secure", config.Cookie{Name: "sid", Secure: &no}, "sid"},
		{"already __Host-", config.Cookie{Name: "__Host-sid"}, "__Host-sid"},
		{"already __Secure- host-only kept", config.Cookie{Name: "__Secure-sid"}, "__Secure-sid"},
		{"odd case prefix canonicalised", config.Cookie{Name: "__HOST-sid"}, "__Host-sid"},
		{"__Host- with domain downgraded", config.Cookie{Name: "__Host-sid", Domain: "example.com"}, "__Secure-sid"},
		{"prefix without secure dropped", config.Cookie{Name: "__Secure-sid", Secure: &no}, "sid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := session.CookieName(tt.c); got != tt.want {
				t.Errorf("CookieName(%+v) = %q, want %q", tt.c, got, tt.want)
			}
		})
	}
}

func TestNewCookieStoreRejects(t *testing.T) {
	no := false
	tests := []struct {
		name string
		mod  func(*config.Session)
	}{
		{"no secret", func(c *config.Session) { c.Secrets = nil }},
		{"short secret", func(c *config.Session) { c.Secrets = []string{"short"} }},
		{"unread secret_files", func(c *config.Session) { c.Secrets, c.SecretFiles = nil, []string{"/run/s"} }},
		{"same_site none without secure", func(c *config.Session) { c.Cookie.SameSite, c.Cookie.Secure = "none", &no }},
		{"bad same_site", func(c *config.Session) { c.Cookie.SameSite = "sometimes" }},
		{"negative idle", func(c *config.Session) { c.IdleTimeout = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mod(&cfg)
			if _, err := session.NewCookieStore(cfg, session.Options{}); err == nil {
				t.Error("NewCookieStore succeeded")
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	cfg := testConfig()
	cfg.Cookie.Domain = "example.com"
	cfg.Cookie.SameSite = "strict"
	st := newCookieStore(t, cfg, time.Now)
	rec := httptest.NewRecorder()
	if err := st.Save(rec, sessiontest.WithCookie(""), sessiontest.Sample(time.Now())); err != nil {
		t.Fatal(err)
	}
	raw := sessiontest.SetCookies(rec)
	if len(raw) != 1 {
		t.Fatalf("Set-Cookie = %q", raw)
	}
	for _, want := range []string{"__Secure-_gatehouse=", "Path=/", "Domain=example.com", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=604800"} {
		if !strings.Contains(raw[0], want) {
			t.Errorf("Set-Cookie %q lacks %q", raw[0], want)
		}
	}
}

// bigSession has n groups of 40 characters each.
func bigSession(n int) *session.Session {
	s := sessiontest.Sample(time.Now())
	s.Identity.Groups = nil
	for i := range n {
		s.Identity.Groups = append(s.Identity.Groups, fmt.Sprintf("group-%04d-abcdefghijklmnopqrstuvwxyz0123", i))
	}
	return s
}

func TestChunking(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	st := newCookieStore(t, testConfig(), clk.Now)
	var j sessiontest.Jar
	rec := sessiontest.Save(t, st, &j, bigSession(150))
	names := j.Names()
	if len(names) < 2 || names[0] != "__Host-_gatehouse_0" {
		t.Fatalf("expected chunks, jar holds %v", names)
	}
	for _, c := range rec.Result().Cookies() {
		if len(c.Name)+len(c.Value) > 4000 {
			t.Errorf("chunk %s is %d bytes", c.Name, len(c.Name)+len(c.Value))
		}
	}
	got, err := st.Load(j.Request("/"))
	if err != nil || len(got.Identity.Groups) != 150 {
		t.Fatalf("Load chunked: %v (groups %d)", err, len(got.Identity.Groups))
	}

	t.Run("missing chunk", func(t *testing.T) {
		v, _ := j.Get("__Host-_gatehouse_0")
		_, err := st.Load(sessiontest.WithCookie("__Host-_gatehouse_0=" + v))
		if !errors.Is(err, session.ErrInvalid) {
			t.Errorf("Load with chunk 1 missing = %v, want ErrInvalid", err)
		}
	})
	t.Run("chunks swapped", func(t *testing.T) {
		v0, _ := j.Get("__Host-_gatehouse_0")
		v1, _ := j.Get("__Host-_gatehouse_1")
		h := "__Host-_gatehouse_0=" + v1 + "; __Host-_gatehouse_1=" + v0
		if _, err := st.Load(sessiontest.WithCookie(h)); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("Load with swapped chunks = %v, want ErrInvalid", err)
		}
	})
	t.Run("smaller session expires stale chunks", func(t *testing.T) {
		rec := sessiontest.Save(t, st, &j, sessiontest.Sample(clk.Now()))
		if got := j.Names(); len(got) != 1 || got[0] != "__Host-_gatehouse" {
			t.Errorf("after a small save the jar holds %v; Set-Cookie %q", got, sessiontest.SetCookies(rec))
		}
		if _, err := st.Load(j.Request("/")); err != nil {
			t.Errorf("Load: %v", err)
		}
	})
	t.Run("clear expires every chunk", func(t *testing.T) {
		sessiontest.Save(t, st, &j, bigSession(150))
		held := j.Names()
		rec := httptest.NewRecorder()
		if err := st.Clear(rec, j.Request("/")); err != nil {
			t.Fatal(err)
		}
		raw := strings.Join(sessiontest.SetCookies(rec), "\n")
		for _, n := range append(held, "__Host-_gatehouse") {
			if !strings.Contains(raw, n+"=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax") {
				t.Errorf("Clear did not expire %s identically:\n%s", n, raw)
			}
		}
		j.Update(rec)
		if n := j.Names(); len(n) != 0 {
			t.Errorf("jar still holds %v", n)
		}
	})
}

// TestTooLarge: a session that needs more than 8 cookies fails loudly and
// writes nothing; groups are never silently dropped (A129).
func TestTooLarge(t *testing.T) {
	st := newCookieStore(t, testConfig(), time.Now)
	rec := httptest.NewRecorder()
	err := st.Save(rec, sessiontest.WithCookie(""), bigSession(1000))
	if !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Save of 1000 groups = %v, want ErrTooLarge", err)
	}
	if h := sessiontest.SetCookies(rec); len(h) != 0 {
		t.Errorf("ErrTooLarge still wrote %d cookies", len(h))
	}
}

// TestForeignValue: a genuine value of another gatehouse cookie (the login
// state, sealed by the same secret) does not open as a session.
func TestForeignValue(t *testing.T) {
	st := newCookieStore(t, testConfig(), time.Now)
	ls, err := session.NewLoginStates(testConfig(), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := ls.Put(rec, sessiontest.WithCookie(""), &session.LoginState{State: "abc", Provider: "corp"}); err != nil {
		t.Fatal(err)
	}
	v := rec.Result().Cookies()[0].Value
	if _, err := st.Load(sessiontest.WithCookie(st.Name() + "=" + v)); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("login-state value under the session name: %v, want ErrInvalid", err)
	}
}

func TestLifetimeCap(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	cfg := testConfig()
	cfg.Lifetime = 2 * time.Hour
	st := newCookieStore(t, cfg, clk.Now)
	var j sessiontest.Jar
	s := sessiontest.Sample(clk.Now())
	s.ExpiresAt = clk.Now().Add(30 * 24 * time.Hour)
	sessiontest.Save(t, st, &j, s)
	if limit := s.CreatedAt.Add(2 * time.Hour); s.ExpiresAt.After(limit) {
		t.Errorf("ExpiresAt %v beyond the absolute lifetime %v", s.ExpiresAt, limit)
	}
	// A store whose lifetime shrank rejects sessions older than it allows.
	clk.Advance(90 * time.Minute)
	cfg.Lifetime = time.Hour
	if _, err := newCookieStore(t, cfg, clk.Now).Load(j.Request("/")); !errors.Is(err, session.ErrExpired) {
		t.Errorf("Load under a shorter lifetime = %v, want ErrExpired", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	cfg := testConfig()
	cfg.IdleTimeout = 30 * time.Minute
	st := newCookieStore(t, cfg, clk.Now)
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, sessiontest.Sample(clk.Now()))

	clk.Advance(time.Minute)
	s, err := st.Load(j.Request("/"))
	if err != nil || s.Reissue {
		t.Fatalf("Load after 1m: %v (Reissue %v), want no reissue yet", err, s != nil && s.Reissue)
	}
	clk.Advance(4 * time.Minute)
	s, err = st.Load(j.Request("/"))
	if err != nil || !s.Reissue {
		t.Fatalf("Load after 5m: %v, want Reissue to move the idle clock", err)
	}
	sessiontest.Save(t, st, &j, s)
	clk.Advance(29 * time.Minute) // 34m since login, 29m since last activity
	if _, err := st.Load(j.Request("/")); err != nil {
		t.Fatalf("Load 29m after activity: %v", err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := st.Load(j.Request("/")); !errors.Is(err, session.ErrExpired) {
		t.Errorf("Load 31m idle = %v, want ErrExpired", err)
	}
}

// TestNoIdleTracking: without an idle timeout the cookie carries no
// last-seen time, so it stays byte-stable across requests.
func TestNoIdleTracking(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	st := newCookieStore(t, testConfig(), clk.Now)
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, sessiontest.Sample(clk.Now()))
	clk.Advance(100 * time.Hour)
	s, err := st.Load(j.Request("/"))
	if err != nil || s.Reissue || !s.LastSeen.IsZero() {
		t.Fatalf("Load: %+v, %v", s, err)
	}
}
