package session_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

func redisClient(t testing.TB, addr string) redis.UniversalClient {
	t.Helper()
	c, err := session.NewRedisClient(config.Redis{URL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newRedisStore(t testing.TB, c redis.UniversalClient, now func() time.Time, secrets ...string) *session.RedisStore {
	t.Helper()
	cfg := testConfig(secrets...)
	cfg.Store = "redis"
	st, err := session.NewRedisStore(c, cfg, session.Options{Now: now})
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestRedisStoreConformance(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	sessiontest.Run(t, func(t *testing.T, now func() time.Time, secrets ...string) session.Store {
		return newRedisStore(t, c, now, secrets...)
	})
}

// TestRedisDumpLeaksNothing: after logins, every key name and value in Redis
// is free of emails, names, groups, subjects and tokens (A123).
func TestRedisDumpLeaksNothing(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var jars [3]sessiontest.Jar
	for i := range jars {
		sessiontest.Save(t, st, &jars[i], sessiontest.Sample(time.Now()))
	}
	s := sessiontest.Sample(time.Now())
	secrets := append([]string{s.Identity.Subject, s.Identity.Email, "alice", "Alice", "example.com",
		s.Tokens.AccessToken, s.Tokens.RefreshToken, s.Tokens.IDToken}, s.Identity.Groups...)

	var keys []string
	iter := c.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 7 { // 3 sessions + 3 metadata + 1 user index
		t.Fatalf("only %d keys in Redis: %q", len(keys), keys)
	}
	var dump strings.Builder
	for _, k := range keys {
		dump.WriteString(k + "\n")
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			dump.WriteString(c.Get(ctx, k).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				dump.WriteString(f + "=" + v + "\n")
			}
		case "set":
			dump.WriteString(strings.Join(c.SMembers(ctx, k).Val(), "\n"))
		default:
			t.Errorf("unexpected key %s of type %s", k, typ)
		}
		if !strings.HasPrefix(k, "gatehouse:") {
			t.Errorf("key %q outside the gatehouse: namespace", k)
		}
	}
	for _, sec := range secrets {
		if strings.Contains(dump.String(), sec) {
			t.Errorf("Redis dump contains %q", sec)
		}
	}
	for i := range jars {
		v, _ := jars[i].Get(st.Name())
		if strings.Contains(dump.String(), v) {
			t.Error("Redis dump contains a ticket cookie")
		}
	}
}

// TestRedisRevocation: after Clear, a copy of the cookie taken before
// sign-out no longer loads.
func TestRedisRevocation(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, sessiontest.Sample(time.Now()))
	stolen := j.Request("/").Header.Get("Cookie")
	if err := st.Clear(httptest.NewRecorder(), j.Request("/")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(sessiontest.WithCookie(stolen)); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("copied cookie after Clear: %v, want ErrNoSession", err)
	}
}

func TestRedisRevokeAndListUser(t *testing.T) {
	ctx := context.Background()
	clk := sessiontest.NewClock(time.Now())
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, clk.Now)
	var alice [3]sessiontest.Jar
	for i := range alice {
		sessiontest.Save(t, st, &alice[i], sessiontest.Sample(clk.Now()))
		clk.Advance(time.Minute)
	}
	var bob sessiontest.Jar
	b := sessiontest.Sample(clk.Now())
	b.Identity = &identity.Identity{Provider: "corp", Subject: "bob-1", Email: "bob@example.com"}
	sessiontest.Save(t, st, &bob, b)

	list, err := st.ListUser(ctx, "corp", "248289761001")
	if err != nil || len(list) != 3 {
		t.Fatalf("ListUser = %+v, %v; want 3 sessions", list, err)
	}
	for i, info := range list {
		if info.Handle == "" || !info.Expires.After(info.Created) ||
			(i > 0 && info.Created.Before(list[i-1].Created)) {
			t.Errorf("session info %d: %+v", i, info)
		}
	}
	if list, _ := st.ListUser(ctx, "other", "248289761001"); len(list) != 0 {
		t.Errorf("same subject at another provider lists %d sessions", len(list))
	}

	n, err := st.RevokeUser(ctx, "corp", "248289761001")
	if err != nil || n != 3 {
		t.Fatalf("RevokeUser = %d, %v; want 3", n, err)
	}
	for i := range alice {
		if _, err := st.Load(alice[i].Request("/")); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("alice session %d after RevokeUser: %v", i, err)
		}
	}
	if _, err := st.Load(bob.Request("/")); err != nil {
		t.Errorf("bob's session was revoked too: %v", err)
	}
	if list, err := st.ListUser(ctx, "corp", "248289761001"); err != nil || len(list) != 0 {
		t.Errorf("ListUser after revoke = %+v, %v", list, err)
	}
	if n, err := st.RevokeUser(ctx, "corp", "nobody"); err != nil || n != 0 {
		t.Errorf("RevokeUser of nobody = %d, %v", n, err)
	}
}

// TestRedisListUserDropsStale: index entries whose session has gone are
// pruned and not listed.
func TestRedisListUserDropsStale(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var a, b sessiontest.Jar
	sessiontest.Save(t, st, &a, sessiontest.Sample(time.Now()))
	sessiontest.Save(t, st, &b, sessiontest.Sample(time.Now()))
	metas := c.Keys(ctx, "gatehouse:m:*").Val()
	if len(metas) != 2 {
		t.Fatalf("metadata keys: %q", metas)
	}
	c.Del(ctx, metas[0]) // as if it had expired
	list, err := st.ListUser(ctx, "corp", "248289761001")
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUser = %+v, %v; want 1", list, err)
	}
	email := sessiontest.Sample(time.Now()).Identity.Email
	if list, err := st.ListEmail(ctx, strings.ToUpper(email)); err != nil || len(list) != 1 {
		t.Fatalf("ListEmail = %+v, %v; want 1", list, err)
	}
	// Both indexes (by user and by email) were pruned.
	users := c.Keys(ctx, "gatehouse:u:*").Val()
	if len(users) != 2 || c.SCard(ctx, users[0]).Val() != 1 || c.SCard(ctx, users[1]).Val() != 1 {
		t.Errorf("stale index entry kept: %q", users)
	}
}

func TestRedisTTLAndInPlace(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var j sessiontest.Jar
	s := sessiontest.Sample(time.Now())
	s.ExpiresAt = time.Now().Add(time.Hour)
	sessiontest.Save(t, st, &j, s)
	keys := c.Keys(ctx, "gatehouse:s:*").Val()
	if len(keys) != 1 {
		t.Fatalf("session keys: %q", keys)
	}
	if ttl := c.TTL(ctx, keys[0]).Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL = %v, want about 1h", ttl)
	}
	for _, k := range c.Keys(ctx, "gatehouse:[mu]:*").Val() {
		if ttl := c.TTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("%s has no TTL (%v)", k, ttl)
		}
	}

	loaded, err := st.Load(j.Request("/"))
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.Save(t, st, &j, loaded)
	if got := c.Keys(ctx, "gatehouse:s:*").Val(); len(got) != 1 || got[0] != keys[0] || loaded.ID != s.ID {
		t.Errorf("rewrite in place made keys %q (was %q), ID %q → %q", got, keys, s.ID, loaded.ID)
	}
	// A session that kept its ID but not its key, saved without our ticket,
	// gets a fresh ticket rather than clobbering the stored one.
	copied := &session.Session{Identity: loaded.Identity, ID: loaded.ID}
	var other sessiontest.Jar
	sessiontest.Save(t, st, &other, copied)
	if copied.ID == loaded.ID {
		t.Error("Save without the ticket key reused the ID")
	}
	if _, err := st.Load(j.Request("/")); err != nil {
		t.Errorf("original session broken: %v", err)
	}
}

// TestRedisWrongValue: a value that does not decrypt under the ticket's key
// (swapped in from another session) is ErrInvalid.
func TestRedisWrongValue(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var a sessiontest.Jar
	sessiontest.Save(t, st, &a, sessiontest.Sample(time.Now()))
	keyA := c.Keys(ctx, "gatehouse:s:*").Val()[0]
	var b sessiontest.Jar
	sessiontest.Save(t, st, &b, sessiontest.Sample(time.Now()))
	for _, k := range c.Keys(ctx, "gatehouse:s:*").Val() {
		if k != keyA {
			c.Set(ctx, keyA, c.Get(ctx, k).Val(), time.Hour)
		}
	}
	if _, err := st.Load(a.Request("/")); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("swapped value: %v, want ErrInvalid", err)
	}
}

// TestRedisReloginDeletesOld: a new login on a browser that held a session
// deletes the old one server-side, so a copy of the old cookie stops working.
func TestRedisReloginDeletesOld(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, sessiontest.Sample(time.Now()))
	old := j.Request("/").Header.Get("Cookie")
	sessiontest.Save(t, st, &j, sessiontest.Sample(time.Now()))
	if _, err := st.Load(sessiontest.WithCookie(old)); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("old cookie after re-login: %v, want ErrNoSession", err)
	}
	if _, err := st.Load(j.Request("/")); err != nil {
		t.Errorf("new session: %v", err)
	}
}

// TestRedisNoResurrection: a session revoked while a request holds it (say,
// during a token refresh) is not recreated by that request's Save.
func TestRedisNoResurrection(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t, testpeers.Redis(t))
	st := newRedisStore(t, c, time.Now)
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, sessiontest.Sample(time.Now()))
	loaded, err := st.Load(j.Request("/"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.RevokeUser(ctx, "corp", "248289761001"); err != nil || n != 1 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	rec := httptest.NewRecorder()
	if err := st.Save(rec, j.Request("/"), loaded); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Save of a revoked session = %v, want ErrNoSession", err)
	}
	if _, err := st.Load(j.Request("/")); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("revoked session came back: %v", err)
	}
	if list, _ := st.ListUser(ctx, "corp", "248289761001"); len(list) != 0 {
		t.Errorf("ListUser after revoke lists %+v", list)
	}
	if h := sessiontest.SetCookies(rec); len(h) != 0 {
		t.Errorf("failed Save wrote cookies: %q", h)
	}
}
