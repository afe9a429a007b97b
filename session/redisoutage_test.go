package session_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// TestRedisOutage: with Redis down, a valid cookie loads as ErrUnavailable
// (not ErrNoSession: the caller must keep the cookie and answer 503), Save
// writes no cookie, forged tickets are still rejected locally, and after a
// restart on the same address the store recovers by itself (A117, A119, A121).
func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	srv := testpeers.StartRedis(t)
	c := redisClient(t, srv.Addr)
	st := newRedisStore(t, c, time.Now)
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, sessiontest.Sample(time.Now()))

	srv.Stop()
	s, err := st.Load(j.Request("/"))
	if s != nil || !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("Load with Redis down = %v, %v; want ErrUnavailable", s, err)
	}
	if err := st.Ping(ctx); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Ping with Redis down = %v", err)
	}
	rec := httptest.NewRecorder()
	if err := st.Save(rec, j.Request("/"), sessiontest.Sample(time.Now())); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Save with Redis down = %v", err)
	}
	if h := sessiontest.SetCookies(rec); len(h) != 0 {
		t.Errorf("failed Save wrote cookies: %q", h)
	}
	name := st.Name()
	if _, err := st.Load(sessiontest.WithCookie(name + "=forged")); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("forged ticket with Redis down = %v, want ErrInvalid without a round trip", err)
	}
	rec = httptest.NewRecorder()
	if err := st.Clear(rec, j.Request("/")); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Clear with Redis down = %v, want ErrUnavailable (not revoked)", err)
	}
	// The session is still live in Redis: the browser keeps its cookie so
	// that signing out again, once Redis is back, revokes it.
	if raw := strings.Join(sessiontest.SetCookies(rec), ""); raw != "" {
		t.Errorf("Clear with Redis down expired the cookie of a session it could not revoke: %q", raw)
	}

	srv.Start()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
	// The restarted server has no data (no persistence): the old session is
	// gone, which is a normal ErrNoSession, and new sessions work.
	if _, err := st.Load(j.Request("/")); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Load after restart = %v, want ErrNoSession", err)
	}
	var k sessiontest.Jar
	sessiontest.Save(t, st, &k, sessiontest.Sample(time.Now()))
	if _, err := st.Load(k.Request("/")); err != nil {
		t.Errorf("Load of a new session after restart: %v", err)
	}
}

func TestNewRedisClient(t *testing.T) {
	addr := testpeers.Redis(t)
	good := []config.Redis{
		{URL: "redis://" + addr + "/0"},
		{URL: "redis://" + addr, DB: 2},
		{Addrs: []string{addr}},
	}
	for _, cfg := range good {
		c, err := session.NewRedisClient(cfg)
		if err != nil {
			t.Fatalf("NewRedisClient(%+v): %v", cfg, err)
		}
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Errorf("Ping via %+v: %v", cfg, err)
		}
		c.Close()
	}
	bad := map[string]config.Redis{
		"neither":               {},
		"both":                  {URL: "redis://" + addr, Addrs: []string{addr}},
		"bad url":               {URL: "redis://:hunter2secret@host:notaport/0"},
		"bad scheme":            {URL: "http://:hunter2secret@host/0"},
		"unread password_file":  {URL: "redis://" + addr, PasswordFile: "/run/secrets/redis"},
		"cluster with non-0 db": {Addrs: []string{"a:1", "b:2"}, DB: 3},
	}
	for name, cfg := range bad {
		_, err := session.NewRedisClient(cfg)
		if err == nil {
			t.Errorf("%s: NewRedisClient succeeded", name)
		} else if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("%s: error leaks the password: %v", name, err)
		}
	}
	if _, err := session.NewRedisStore(nil, testConfig(), session.Options{}); err == nil {
		t.Error("NewRedisStore(nil) succeeded")
	}
}
